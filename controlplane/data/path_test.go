package data

import (
	"errors"
	"strings"
	"testing"
)

func TestParseEscapedPath(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 200)
	ok := []struct {
		in   string
		want Ref
	}{
		{"alice", Ref{Owner: "alice"}},
		{"alice/", Ref{Owner: "alice"}},
		{".my/photos", Ref{Owner: ".my", Collection: "photos"}},
		{"alice/photos/", Ref{Owner: "alice", Collection: "photos"}},
		{"alice/photos/a%20b/c.txt", Ref{Owner: "alice", Collection: "photos", Path: "a b/c.txt"}},
		{"alice/photos/dir/", Ref{Owner: "alice", Collection: "photos", Path: "dir", Dir: true}},
		{"alice/photos/%E2%9C%93..%2e", Ref{Owner: "alice", Collection: "photos", Path: "✓..."}},
		{"alice/photos/..a/.b", Ref{Owner: "alice", Collection: "photos", Path: "..a/.b"}},
		{"alice/photos/100%25", Ref{Owner: "alice", Collection: "photos", Path: "100%"}},
	}
	for _, tc := range ok {
		got, err := ParseEscapedPath(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseEscapedPath(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	bad := []string{
		"",                                            // no owner
		"/etc/passwd",                                 // absolute
		"alice/photos/../bob",                         // dot-dot
		"alice/photos/a/..",                           // dot-dot last
		"alice/photos/%2e%2e/x",                       // encoded dot-dot
		"alice/photos/%2E%2e/x",                       // mixed case
		"alice/photos/.%2E",                           // half encoded
		"alice/photos/%252e%252e/x",                   // double-encoded dot-dot
		"alice/photos/%252E%252E",                     // double-encoded, upper case
		"alice/photos/a%252Fb",                        // double-encoded slash
		"alice/photos/a%2Fb",                          // encoded slash inside a name
		"alice/photos/a%5Cb",                          // backslash
		"alice/photos/a%00b",                          // NUL
		"alice/photos/a%0Ab",                          // newline
		"alice/photos/a%7Fb",                          // DEL
		"alice/photos/a%2500b",                        // double-encoded NUL
		"alice/photos/a//b",                           // empty segment
		"alice/photos//etc/passwd",                    // absolute path inside
		"alice/photos/./x",                            // dot
		"alice/photos/%ZZ",                            // bad escape
		"alice/photos/.algos-folder",                  // reserved
		"alice/photos/" + long + long,                 // segment over 255 bytes
		"alice/photos/" + strings.Repeat(long+"/", 6), // over 1024 bytes
		"alice/..",                                    // collection dot-dot
		"..",                                          // owner dot-dot
		"%2e%2e/photos",                               // encoded owner dot-dot
		".algo/x/../y",                                // dot-dot in an algorithm's own space
		"Al ice/photos",                               // owner name
		"alice/9photos",                               // collection name
		"alice/pho%2Ftos",                             // collection with a slash
	}
	for _, in := range bad {
		if r, err := ParseEscapedPath(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseEscapedPath(%q) = %+v, %v; want ErrInvalid", in, r, err)
		}
	}
}

func TestParseURI(t *testing.T) {
	t.Parallel()
	r, err := ParseURI("data://.my/c/a b/%2e%2e")
	if err != nil || r != (Ref{Owner: ".my", Collection: "c", Path: "a b/%2e%2e"}) {
		t.Errorf("ParseURI: %+v, %v (a data URI is not percent-decoded)", r, err)
	}
	if r.String() != "data://.my/c/a b/%2e%2e" || r.Base() != "%2e%2e" {
		t.Errorf("String %q, Base %q", r.String(), r.Base())
	}
	if r, err := ParseURI("alice/c/dir/"); err != nil || !r.Dir || r.Path != "dir" || r.String() != "data://alice/c/dir/" {
		t.Errorf("ParseURI without scheme, folder: %+v, %v", r, err)
	}
	for _, in := range []string{"data://alice/c/../x", "data:///etc/passwd", "s3://bucket/x", "data://alice/c/a\x00", "data://alice/c/a\\b", "data://alice/c//x"} {
		if _, err := ParseURI(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseURI(%q): %v, want ErrInvalid", in, err)
		}
	}
}
