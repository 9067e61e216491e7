package registry

import (
	"testing"

	"github.com/Masterminds/semver/v3"
)

// FuzzParseSpec: a version range from a call path never panics, and one it accepts picks
// only versions it matches.
func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"1.2.3", "1.2.*", "1.*", "latest", "", "*", "1.x", "1.2.3-beta.1", "01.2.3", "1..2", "1.2.3.4", "-1.*", "9999999999999999999.*", " 1.2.3 "} {
		f.Add(s)
	}
	all := []*semver.Version{semver.MustParse("0.1.0"), semver.MustParse("1.0.0"), semver.MustParse("1.2.0"), semver.MustParse("1.2.3"), semver.MustParse("2.0.0-rc.1"), semver.MustParse("2.0.0")}
	f.Fuzz(func(t *testing.T, s string) {
		vs, err := parseSpec(s)
		if err != nil {
			return
		}
		i := vs.pick(all, func(int) bool { return true })
		if i >= len(all) {
			t.Fatalf("pick(%q) = %d out of range", s, i)
		}
		if i >= 0 && !vs.latest && !vs.match(all[i]) {
			t.Fatalf("pick(%q) chose %s, which it does not match", s, all[i])
		}
	})
}
