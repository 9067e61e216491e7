package connector

import (
	"errors"
	"strings"
	"testing"

	"github.com/algos-dev/algos/api"
)

func TestParseName(t *testing.T) {
	t.Parallel()
	good := map[string][2]string{
		"s3":            {"s3", "s3"},
		"s3+default":    {"s3", "s3"},
		"s3+lake":       {"s3+lake", "s3"},
		"gs+a-1":        {"gs+a-1", "gs"},
		"azure+archive": {"azure+archive", "azure"},
	}
	for in, want := range good {
		name, kind, err := ParseName(in)
		if err != nil || name != want[0] || kind != want[1] {
			t.Errorf("ParseName(%q) = %q, %q, %v; want %q, %q", in, name, kind, err, want[0], want[1])
		}
	}
	for _, in := range []string{"", "ftp", "blob", "data", "S3", "s3+", "s3+Lake", "s3+la_ke", "s3+-x", "s3+a+b", "s3+" + strings.Repeat("a", 64), "gcs"} {
		if _, _, err := ParseName(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseName(%q): %v, want ErrInvalid", in, err)
		}
	}
}

func TestParseEscapedPath(t *testing.T) {
	t.Parallel()
	good := map[string]Ref{
		"s3/bucket":                     {Name: "s3", Bucket: "bucket"},
		"s3/bucket/":                    {Name: "s3", Bucket: "bucket"},
		"s3+default/bucket/a/b.txt":     {Name: "s3", Bucket: "bucket", Path: "a/b.txt"},
		"s3+lake/my.bucket-1/a/b/":      {Name: "s3+lake", Bucket: "my.bucket-1", Path: "a/b", Dir: true},
		"gs/b_1/x%20y/%E2%9C%93":        {Name: "gs", Bucket: "b_1", Path: "x y/✓"},
		"azure/container/100%25":        {Name: "azure", Bucket: "container", Path: "100%"},
		"blob":                          {Name: "blob"},
		"blob/bucket/k":                 {Name: "blob", Path: "bucket/k"},
		"s3/bucket/..a/a..b/.hidden/b.": {Name: "s3", Bucket: "bucket", Path: "..a/a..b/.hidden/b."},
	}
	for in, want := range good {
		got, err := ParseEscapedPath(in)
		if err != nil || got != want {
			t.Errorf("ParseEscapedPath(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"no connector":           "",
		"absolute":               "/etc/passwd",
		"unknown kind":           "ftp/bucket/x",
		"missing bucket":         "s3",
		"empty bucket":           "s3//x",
		"bucket with capitals":   "s3/Bucket/x",
		"bucket dot-dot":         "s3/../x",
		"bucket encoded dot-dot": "s3/%2e%2e/x",
		"dot-dot":                "s3/bucket/a/../../other/x",
		"dot":                    "s3/bucket/a/./b",
		"encoded dot-dot":        "s3/bucket/%2e%2e/x",
		"mixed-case dot-dot":     "s3/bucket/%2E%2e/x",
		"half-encoded dot-dot":   "s3/bucket/.%2E/x",
		"double-encoded dot-dot": "s3/bucket/%252e%252e/x",
		"double-encoded slash":   "s3/bucket/a%252Fb",
		"encoded slash":          "s3/bucket/..%2F..%2Fetc",
		"NUL":                    "s3/bucket/f.txt%00.png",
		"control character":      "s3/bucket/a%0Db",
		"empty segment":          "s3/bucket/a//b",
		"absolute inside":        "s3/bucket//etc/passwd",
		"backslash":              "s3/bucket/..%5C..%5Cx",
		"bad escape":             "s3/bucket/%zz",
		"key over 1024 bytes":    "s3/bucket/" + strings.Repeat(strings.Repeat("n", 200)+"/", 6) + "x",
		"blob dot-dot":           "blob/../x",
	}
	for what, in := range bad {
		if got, err := ParseEscapedPath(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: ParseEscapedPath(%q) = %+v, %v; want ErrInvalid", what, in, got, err)
		}
	}
}

func TestRefString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ref  Ref
		want string
	}{
		{Ref{Name: "s3", Bucket: "b"}, "s3://b"},
		{Ref{Name: "s3+lake", Bucket: "b", Path: "a/c", Dir: true}, "s3+lake://b/a/c/"},
		{Ref{Name: "blob", Path: "x/y"}, "blob://x/y"},
	} {
		if got := tc.ref.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.ref, got, tc.want)
		}
	}
}

func TestWithin(t *testing.T) {
	t.Parallel()
	prefixes := []string{"reports", "exports/2025"}
	for _, tc := range []struct {
		key  string
		dir  bool
		want bool
	}{
		{"reports/a.csv", false, true},
		{"reports/x/y", true, true},
		{"reports", true, true},
		{"reports", false, false}, // a file named as the folder is not inside it
		{"reports-secret/a", false, false},
		{"reportsx", true, false},
		{"exports/2025/q1.csv", false, true},
		{"exports/2024/q1.csv", false, false},
		{"exports", true, false}, // the parent of an allowed folder lists other folders too
		{"", true, false},
	} {
		if got := within(prefixes, tc.key, tc.dir); got != tc.want {
			t.Errorf("within(%q, dir %v) = %v, want %v", tc.key, tc.dir, got, tc.want)
		}
	}
	if !within(nil, "", true) || !within(nil, "a/b", false) {
		t.Error("no prefixes must allow the whole bucket")
	}
}

func TestParseDefault(t *testing.T) {
	t.Parallel()
	good := map[string]defaultStore{
		"":                       {},
		"s3+lake":                {name: "s3+lake"},
		"s3+default":             {name: "s3"},
		"gs://bucket":            {name: "gs", bucket: "bucket"},
		"s3+lake://bucket/a/b/":  {name: "s3+lake", bucket: "bucket", prefix: "a/b"},
		"azure+x://container/p/": {name: "azure+x", bucket: "container", prefix: "p"},
	}
	for in, want := range good {
		if got, err := parseDefault(in); err != nil || got != want {
			t.Errorf("parseDefault(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"blob", "ftp+x", "s3://", "s3://B", "s3://bucket/../x", "s3://bucket//x"} {
		if _, err := parseDefault(in); err == nil {
			t.Errorf("parseDefault(%q) succeeded, want an error", in)
		}
	}
}

func TestPartSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		size int64
		want int
	}{
		{-1, minPartSize},
		{0, minPartSize},
		{1 << 30, minPartSize},
		{int64(minPartSize) * maxParts, minPartSize},
		{int64(minPartSize)*maxParts + 1, minPartSize + 1<<20},
		{1 << 40, 105 << 20},
	} {
		got := partSize(tc.size)
		if got != tc.want {
			t.Errorf("partSize(%d) = %d, want %d", tc.size, got, tc.want)
		}
		if tc.size > 0 && int64(got)*maxParts < tc.size {
			t.Errorf("partSize(%d) = %d: %d parts do not hold the file", tc.size, got, maxParts)
		}
	}
}

// TestConnectorPathRoundTrip: the Go client's paths parse back to the URI they came from.
func TestConnectorPathRoundTrip(t *testing.T) {
	t.Parallel()
	for _, uri := range []string{"s3://bucket/a/b.txt", "s3+lake://my.bucket/dir/", "gs://b_1/x y/✓", "azure://c1c/100%", "blob://bucket/k", "s3://bucket"} {
		p, err := api.ConnectorPath(uri)
		if err != nil || !strings.HasPrefix(p, Prefix) {
			t.Errorf("ConnectorPath(%q) = %q, %v", uri, p, err)
			continue
		}
		ref, err := ParseEscapedPath(strings.TrimPrefix(p, Prefix))
		if err != nil || ref.String() != uri {
			t.Errorf("ConnectorPath(%q) = %q, which parses to %q, %v", uri, p, ref.String(), err)
		}
	}
	for _, uri := range []string{"data://a/b/c", "bucket/key", "://x", "s3/x://y"} {
		if p, err := api.ConnectorPath(uri); err == nil {
			t.Errorf("ConnectorPath(%q) = %q, want an error", uri, p)
		}
	}
}
