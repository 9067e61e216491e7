package fleet

import (
	"errors"
	"strings"
	"testing"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/store"
)

// TestIsolated: a pool's min_isolation refuses nodes whose sandbox is weaker, or that report
// none, and says why.
func TestIsolated(t *testing.T) {
	t.Parallel()
	pool := func(min string) store.Pool {
		return store.Pool{Name: "p", Spec: []byte(`{"cloud":"local","min_isolation":"` + min + `"}`)}
	}
	full := &api.SandboxInfo{Driver: "namespaces", Level: "full"}
	basic := &api.SandboxInfo{Driver: "basic", Level: "basic", Problems: []string{"user namespaces are disabled on this host"}}
	none := &api.SandboxInfo{Driver: "none", Level: "none"}
	for _, c := range []struct {
		min string
		sb  *api.SandboxInfo
		ok  bool
	}{
		{"", nil, true}, {"", none, true}, {"none", nil, true},
		{"basic", basic, true}, {"basic", full, true}, {"basic", none, false}, {"basic", nil, false},
		{"full", full, true}, {"full", basic, false}, {"full", nil, false},
	} {
		err := isolated(pool(c.min), c.sb)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrForbidden)) {
			t.Errorf("min %q, sandbox %+v: %v", c.min, c.sb, err)
		}
		if err != nil && c.sb == basic && !strings.Contains(err.Error(), "user namespaces are disabled") {
			t.Errorf("the refusal does not say what the host lacks: %v", err)
		}
	}
}
