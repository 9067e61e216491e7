package pool

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/fleet"
	"github.com/algos-dev/algos/controlplane/store/sqlite"
)

// TestDemandGrowsOnePoolOfItsKind: a call for any pool grows one memberless pool of its kind —
// never a GPU pool for CPU work — and another only after the first had time to boot a node; a
// call for a named pool grows that pool.
func TestDemandGrowsOnePoolOfItsKind(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fl, err := fleet.New(ctx, fleet.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	r, err := New(Config{Store: st, Fleet: fl, UserData: func(string, string, string) (string, error) { return "", nil },
		BootTimeout: time.Minute, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	cpu := api.PoolSpec{Cloud: "aws", MaxSize: 4}
	gpu := api.PoolSpec{Cloud: "aws", GPUType: "H100", GPUCount: 8, MaxSize: 4}

	r.Demand("", false)
	if r.wants("gpus", gpu, 30*time.Second) {
		t.Fatal("a GPU pool grew for CPU work")
	}
	if !r.wants("cpus-a", cpu, 30*time.Second) {
		t.Fatal("no CPU pool grew for a CPU call")
	}
	if r.wants("cpus-b", cpu, 30*time.Second) {
		t.Fatal("a second CPU pool grew for the same waiting call")
	}
	now = now.Add(2 * time.Minute) // the first pool had its boot time; the call still waits
	r.Demand("", false)
	if !r.wants("cpus-b", cpu, 30*time.Second) {
		t.Fatal("no other pool took the call after the first pool's boot time")
	}

	r.Demand("", true)
	if !r.wants("gpus", gpu, 30*time.Second) {
		t.Fatal("no GPU pool grew for a GPU call")
	}
	r.Demand("named", false)
	if !r.wants("named", gpu, 30*time.Second) {
		t.Fatal("the named pool did not grow")
	}
	now = now.Add(time.Minute)
	if r.wants("named", gpu, 30*time.Second) {
		t.Fatal("a demand older than its window still counts")
	}
}
