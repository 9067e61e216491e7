package registry

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// versionSpec is a parsed version selector: exact "1.2.3", "1.2.*", "1.*", or latest.
type versionSpec struct {
	latest       bool
	major, minor int // minor < 0: any minor
	exact        *semver.Version
}

// parseSpec parses what may follow owner/name in a call path. "x" is accepted for "*".
func parseSpec(s string) (versionSpec, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "latest" || s == "*" {
		return versionSpec{latest: true}, nil
	}
	parts := strings.Split(s, ".")
	last := parts[len(parts)-1]
	if last == "*" || last == "x" {
		nums := parts[:len(parts)-1]
		if len(nums) < 1 || len(nums) > 2 {
			return versionSpec{}, fmt.Errorf("%w: version %q: use 1.2.3, 1.2.*, 1.* or latest", ErrInvalid, s)
		}
		vs := versionSpec{minor: -1}
		for i, n := range nums {
			v, err := strconv.Atoi(n)
			if err != nil || v < 0 || n == "" || (len(n) > 1 && n[0] == '0') {
				return versionSpec{}, fmt.Errorf("%w: version %q: use 1.2.3, 1.2.*, 1.* or latest", ErrInvalid, s)
			}
			if i == 0 {
				vs.major = v
			} else {
				vs.minor = v
			}
		}
		return vs, nil
	}
	v, err := semver.StrictNewVersion(s)
	if err != nil {
		return versionSpec{}, fmt.Errorf("%w: version %q: use 1.2.3, 1.2.*, 1.* or latest", ErrInvalid, s)
	}
	return versionSpec{exact: v}, nil
}

// match reports whether v is selected by the spec.
func (s versionSpec) match(v *semver.Version) bool {
	switch {
	case s.latest:
		return v.Prerelease() == ""
	case s.exact != nil:
		return v.Equal(s.exact)
	default:
		return v.Prerelease() == "" && int(v.Major()) == s.major && (s.minor < 0 || int(v.Minor()) == s.minor)
	}
}

// pick returns the index of the highest version in vs (sorted ascending) that the spec selects
// and that allowed accepts, or -1.
func (s versionSpec) pick(vs []*semver.Version, allowed func(i int) bool) int {
	for i := len(vs) - 1; i >= 0; i-- {
		if s.match(vs[i]) && allowed(i) {
			return i
		}
	}
	return -1
}

// parseExact parses a canonical semantic version for publishing.
func parseExact(s string) (*semver.Version, error) {
	v, err := semver.StrictNewVersion(strings.TrimPrefix(s, "v"))
	if err != nil {
		return nil, fmt.Errorf("%w: version %q is not a semantic version like 1.2.3: %v", ErrInvalid, s, err)
	}
	return v, nil
}

// nextVersion returns the version a publish creates: the explicit one when given (it must not
// exist yet), else the highest existing version bumped. The first version of an algorithm is
// 1.0.0 unless explicit.
func nextVersion(existing []*semver.Version, bump, explicit string) (*semver.Version, error) {
	if explicit != "" {
		v, err := parseExact(explicit)
		if err != nil {
			return nil, err
		}
		for _, e := range existing {
			if e.Equal(v) {
				return nil, fmt.Errorf("%w: version %s exists already; versions are immutable, publish a new one", ErrConflict, v)
			}
		}
		return v, nil
	}
	if len(existing) == 0 {
		if bump != "" && bump != "major" && bump != "minor" && bump != "patch" {
			return nil, fmt.Errorf("%w: bump %q: use major, minor or patch", ErrInvalid, bump)
		}
		return semver.MustParse("1.0.0"), nil
	}
	latest := existing[len(existing)-1]
	var v semver.Version
	switch bump {
	case "major":
		v = latest.IncMajor()
	case "", "minor":
		v = latest.IncMinor()
	case "patch":
		v = latest.IncPatch()
	default:
		return nil, fmt.Errorf("%w: bump %q: use major, minor or patch", ErrInvalid, bump)
	}
	return &v, nil
}

// sortVersions sorts ascending.
func sortVersions(vs []*semver.Version) {
	sort.Slice(vs, func(i, j int) bool { return vs[i].LessThan(vs[j]) })
}
