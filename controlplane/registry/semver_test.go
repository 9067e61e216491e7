package registry

import (
	"errors"
	"testing"

	"github.com/Masterminds/semver/v3"
)

func versions(ss ...string) []*semver.Version {
	out := make([]*semver.Version, len(ss))
	for i, s := range ss {
		out[i] = semver.MustParse(s)
	}
	sortVersions(out)
	return out
}

func TestResolveSpec(t *testing.T) {
	t.Parallel()
	vs := versions("0.9.0", "1.0.0", "1.2.0", "1.2.3", "1.10.0", "2.0.0", "3.0.0-rc.1")
	private := map[string]bool{"1.10.0": true}
	tests := []struct {
		spec, want string // want "" = nothing matches
		owner      bool
	}{
		{"", "2.0.0", false},
		{"latest", "2.0.0", false},
		{"*", "2.0.0", false},
		{"1.2.3", "1.2.3", false},
		{"1.2.*", "1.2.3", false},
		{"1.2.x", "1.2.3", false},
		{"1.*", "1.2.3", false}, // 1.10.0 is private
		{"1.*", "1.10.0", true}, // … except to its owner
		{"1.10.0", "", false},
		{"1.10.0", "1.10.0", true},
		{"0.*", "0.9.0", false},
		{"4.*", "", false},
		{"1.3.*", "", false},
		{"3.0.0-rc.1", "3.0.0-rc.1", false}, // prereleases only by exact version
		{"3.*", "", false},
	}
	for _, tc := range tests {
		spec, err := parseSpec(tc.spec)
		if err != nil {
			t.Fatalf("parse %q: %v", tc.spec, err)
		}
		i := spec.pick(vs, func(i int) bool { return tc.owner || !private[vs[i].String()] })
		got := ""
		if i >= 0 {
			got = vs[i].String()
		}
		if got != tc.want {
			t.Errorf("%q (owner %v): got %q, want %q", tc.spec, tc.owner, got, tc.want)
		}
	}
}

func TestParseSpecRejects(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"1", "1.2", "1.2.3.4", "a.b.*", "1.*.*", "01.2.3", "v1.2.3", "1.02.*", "-1.*", ".*"} {
		if _, err := parseSpec(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("parseSpec(%q) = %v, want ErrInvalid", s, err)
		}
	}
}

func TestNextVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		existing       []string
		bump, explicit string
		want           string
		wantErr        error
	}{
		{nil, "", "", "1.0.0", nil},
		{nil, "patch", "", "1.0.0", nil},
		{nil, "", "0.1.0", "0.1.0", nil},
		{[]string{"1.0.0"}, "", "", "1.1.0", nil},
		{[]string{"1.0.0"}, "minor", "", "1.1.0", nil},
		{[]string{"1.0.0", "1.4.2"}, "patch", "", "1.4.3", nil},
		{[]string{"1.4.2", "1.0.0"}, "major", "", "2.0.0", nil},
		{[]string{"2.0.0"}, "", "1.5.0", "1.5.0", nil},
		{[]string{"2.0.0"}, "", "2.0.0", "", ErrConflict},
		{[]string{"2.0.0"}, "huge", "", "", ErrInvalid},
		{nil, "huge", "", "", ErrInvalid},
		{nil, "", "1.2", "", ErrInvalid},
	}
	for _, tc := range tests {
		got, err := nextVersion(versions(tc.existing...), tc.bump, tc.explicit)
		if tc.wantErr != nil {
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("%v %q %q: err %v, want %v", tc.existing, tc.bump, tc.explicit, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("%v %q %q: got %v %v, want %s", tc.existing, tc.bump, tc.explicit, got, err, tc.want)
		}
	}
}
