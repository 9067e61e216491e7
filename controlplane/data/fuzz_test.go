package data

import (
	"strings"
	"testing"
)

// FuzzParseEscapedPath: a Data API path never panics the parser, and every path it accepts is
// contained: no empty, "." or ".." segment, no NUL,
// and it prints back to a URI that parses to the same reference.
func FuzzParseEscapedPath(f *testing.F) {
	for _, s := range []string{"demo/col/a.txt", "demo/col/dir/", ".my/col/x", "demo/col/%2e%2e/x", "demo/col/a%252Fb", "demo//x", "demo/col/../x",
		"demo/col/%00", "demo", "demo/", "/abs", "demo/col/é", "demo/col/" + strings.Repeat("a", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, escaped string) {
		ref, err := ParseEscapedPath(escaped)
		if err != nil {
			return
		}
		check := func(what, s string) {
			if s == "." || s == ".." || strings.ContainsRune(s, 0) {
				t.Fatalf("%s %q accepted from %q", what, s, escaped)
			}
		}
		check("owner", ref.Owner)
		check("collection", ref.Collection)
		if ref.Path != "" {
			if strings.HasPrefix(ref.Path, "/") || strings.HasSuffix(ref.Path, "/") || strings.Contains(ref.Path, "//") {
				t.Fatalf("path %q from %q is not clean", ref.Path, escaped)
			}
			for _, seg := range strings.Split(ref.Path, "/") {
				check("path segment", seg)
			}
		}
		again, err := ParseURI(ref.String())
		if err != nil {
			t.Fatalf("%q parsed to %+v, whose URI %q does not parse: %v", escaped, ref, ref.String(), err)
		}
		if again.Owner != ref.Owner || again.Collection != ref.Collection || again.Path != ref.Path {
			t.Fatalf("%q → %+v → %q → %+v", escaped, ref, ref.String(), again)
		}
	})
}
