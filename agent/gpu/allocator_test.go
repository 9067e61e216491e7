//go:build cgo

package gpu

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/algos-dev/algos/api"
)

func mustAllocate(t *testing.T, a *Allocator, r Request) *Grant {
	t.Helper()
	g, err := a.Allocate(r)
	if err != nil {
		t.Fatalf("Allocate(%v): %v", r, err)
	}
	return g
}

func wantInsufficient(t *testing.T, a *Allocator, r Request, impossible bool) *InsufficientError {
	t.Helper()
	g, err := a.Allocate(r)
	var ie *InsufficientError
	if !errors.As(err, &ie) || ie.Impossible != impossible {
		t.Fatalf("Allocate(%v) = %v, %v; want *InsufficientError with Impossible %v", r, g, err, impossible)
	}
	return ie
}

func TestAllocateWholeGPUs(t *testing.T) {
	t.Parallel()
	inv := newMachine(t).inventory(t)
	a := NewAllocator(inv)
	g2 := mustAllocate(t, a, Request{GPUs: 2})
	if !g2.Exclusive || len(g2.UUIDs) != 2 || g2.UUIDs[0] != inv.Devices[0].UUID || g2.UUIDs[1] != inv.Devices[1].UUID {
		t.Fatalf("grant %+v; want GPUs 0 and 1, exclusive", g2)
	}
	want := strings.Join(g2.UUIDs, ",")
	if env := g2.Env(); !slices.Equal(env, []string{"CUDA_VISIBLE_DEVICES=" + want, "NVIDIA_VISIBLE_DEVICES=" + want}) {
		t.Errorf("Env() = %q", env)
	}
	g6 := mustAllocate(t, a, Request{GPUs: 6})
	ie := wantInsufficient(t, a, Request{GPUs: 1}, false)
	if ie.FreeGPUs != 0 || ie.Units != 8 || ie.LargestFreeMiB != 0 {
		t.Errorf("InsufficientError %+v; want 0 of 8 free", ie)
	}
	wantInsufficient(t, a, Request{MemMiB: 1}, false) // exclusive GPUs take no share
	g2.Release()
	g2.Release() // idempotent
	g := mustAllocate(t, a, Request{GPUs: 2})
	if !slices.Equal(g.UUIDs, []string{inv.Devices[0].UUID, inv.Devices[1].UUID}) {
		t.Errorf("after release got %v; want GPUs 0 and 1 again", g.UUIDs)
	}
	wantInsufficient(t, a, Request{GPUs: 1}, false)
	g6.Release()
	mustAllocate(t, a, Request{GPUs: 6})
}

func TestAllocateImpossibleAndInvalid(t *testing.T) {
	t.Parallel()
	a := NewAllocator(newMachine(t).inventory(t))
	wantInsufficient(t, a, Request{GPUs: 9}, true)
	wantInsufficient(t, a, Request{MemMiB: 90000}, true)
	wantInsufficient(t, a, Request{GPUs: 2, MemMiB: 90000}, true)
	for _, r := range []Request{{}, {GPUs: -1}, {MemMiB: -5}} {
		if _, err := a.Allocate(r); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("Allocate(%+v) = %v; want ErrInvalidRequest", r, err)
		}
	}
	if _, err := NewAllocator(Inventory{}).Allocate(Request{GPUs: 1}); !errors.Is(err, ErrNoGPU) {
		t.Errorf("no GPUs: %v; want ErrNoGPU", err)
	}
	if r := RequestFor(api.Resources{GPUs: 1, GPUMemMiB: 512}); !r.Shared() || r.LimitMiB() != 512 {
		t.Errorf("RequestFor: %+v", r)
	}
}

// TestAllocateShareBestFit: shares pack onto the GPU they fit most tightly, and whole GPUs stay
// free for whole-GPU requests.
func TestAllocateShareBestFit(t *testing.T) {
	t.Parallel()
	inv := newMachine(t).inventory(t)
	a := NewAllocator(inv)
	gpu0, gpu1 := inv.Devices[0].UUID, inv.Devices[1].UUID
	var grants []*Grant
	for _, step := range []struct {
		mib  int
		want string
	}{
		{30000, gpu0}, {30000, gpu0}, {20000, gpu0}, // 80000 of 81920 MiB
		{5000, gpu1},  // 1920 left on GPU 0: too little
		{1000, gpu0},  // fits GPU 0 most tightly (920 left) rather than GPU 1
		{76000, gpu1}, // 76920 left on GPU 1
	} {
		g := mustAllocate(t, a, Request{MemMiB: step.mib})
		if g.Exclusive || !slices.Equal(g.UUIDs, []string{step.want}) {
			t.Fatalf("share of %d MiB went to %v; want %s", step.mib, g.UUIDs, step.want)
		}
		grants = append(grants, g)
	}
	if ie := wantInsufficient(t, a, Request{GPUs: 7}, false); ie.FreeGPUs != 6 || ie.LargestFreeMiB != 81920 {
		t.Errorf("InsufficientError %+v; want 6 GPUs free, 81920 MiB free on one", ie)
	}
	mustAllocate(t, a, Request{GPUs: 6}).Release()
	grants[0].Release()
	if g := mustAllocate(t, a, Request{MemMiB: 29000}); g.UUIDs[0] != gpu0 {
		t.Errorf("after a release the 29000 MiB share went to %v; want GPU 0", g.UUIDs)
	}
}

func TestAllocateMIG(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	var small []string
	for i := range 8 {
		small = append(small, m.enableMIG(t, i, nvml.GPU_INSTANCE_PROFILE_1_SLICE, 7)...)
	}
	a := NewAllocator(m.inventory(t))
	if a.Units() != 56 {
		t.Fatalf("%d units; want 56 MIG devices", a.Units())
	}
	g := mustAllocate(t, a, Request{GPUs: 1})
	if g.UUIDs[0] != small[0] || !strings.HasPrefix(g.Env()[0], "CUDA_VISIBLE_DEVICES=MIG-") {
		t.Errorf("whole grant %v, env %q; want the first MIG device by its MIG UUID", g.UUIDs, g.Env())
	}
	wantInsufficient(t, a, Request{GPUs: 2}, true) // a CUDA process uses one MIG device at most
	s1 := mustAllocate(t, a, Request{MemMiB: 6000})
	s2 := mustAllocate(t, a, Request{MemMiB: 4000})
	if s1.UUIDs[0] != small[1] || s2.UUIDs[0] != small[1] {
		t.Errorf("shares went to %v and %v; want both on MIG device %s", s1.UUIDs, s2.UUIDs, small[1])
	}
	wantInsufficient(t, a, Request{MemMiB: 20000}, true) // larger than any MIG device
}

func TestAllocateMixedMIG(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	migs := m.enableMIG(t, 0, nvml.GPU_INSTANCE_PROFILE_3_SLICE, 2)
	inv := m.inventory(t)
	a := NewAllocator(inv)
	if g := mustAllocate(t, a, Request{GPUs: 1}); g.UUIDs[0] != inv.Devices[1].UUID {
		t.Errorf("whole grant %v; want the first full GPU, not a MIG device", g.UUIDs)
	}
	if g := mustAllocate(t, a, Request{MemMiB: 30000}); g.UUIDs[0] != migs[0] {
		t.Errorf("30000 MiB share went to %v; want the 3g.40gb MIG device %s", g.UUIDs, migs[0])
	}
	if g := mustAllocate(t, a, Request{GPUs: 6}); slices.Contains(g.UUIDs, migs[1]) {
		t.Errorf("6 whole GPUs %v include a MIG device", g.UUIDs)
	}
	if g := mustAllocate(t, a, Request{GPUs: 1}); g.UUIDs[0] != migs[1] {
		t.Errorf("last whole grant %v; want the free MIG device", g.UUIDs)
	}
}

// TestAllocateConcurrent grants and releases from many goroutines and checks, under the race
// detector, that no unit is ever over-granted.
func TestAllocateConcurrent(t *testing.T) {
	t.Parallel()
	inv := newMachine(t).inventory(t)
	a := NewAllocator(inv)
	var mu sync.Mutex
	held := map[string]struct{ whole, shares, mib int }{}
	var wg sync.WaitGroup
	var failures sync.Map
	for w := range 32 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for range 300 {
				r := Request{MemMiB: 1 + rng.IntN(40000)}
				if rng.IntN(3) == 0 {
					r = Request{GPUs: 1 + rng.IntN(3)}
				}
				g, err := a.Allocate(r)
				var ie *InsufficientError
				if errors.As(err, &ie) {
					continue
				}
				if err != nil {
					failures.Store(err.Error(), true)
					return
				}
				mu.Lock()
				for _, u := range g.UUIDs {
					h := held[u]
					if g.Exclusive {
						h.whole++
					} else {
						h.shares++
						h.mib += r.MemMiB
					}
					if h.whole > 1 || (h.whole == 1 && h.shares > 0) || h.mib > 81920 {
						failures.Store(fmt.Sprintf("unit %s over-granted: %+v", u, h), true)
					}
					held[u] = h
				}
				mu.Unlock()
				runtime.Gosched() // hold the grant a moment
				mu.Lock()
				for _, u := range g.UUIDs {
					h := held[u]
					if g.Exclusive {
						h.whole--
					} else {
						h.shares--
						h.mib -= r.MemMiB
					}
					held[u] = h
				}
				mu.Unlock()
				g.Release()
			}
		})
	}
	wg.Wait()
	failures.Range(func(k, _ any) bool { t.Error(k); return true })
	mustAllocate(t, a, Request{GPUs: 8}) // everything came back
}
