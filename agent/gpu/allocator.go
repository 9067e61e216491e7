package gpu

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/algos-dev/algos/api"
)

// Request is what one worker asks for. Memory is per GPU throughout.
//
//   - GPUs ≥ 1, MemMiB = 0: that many whole GPUs, exclusively. One GPU may be a MIG device
//     (GPUs not in MIG mode go first); several are always GPUs not in MIG mode, since a CUDA
//     process uses one MIG device at most.
//   - GPUs = 0 or 1, MemMiB > 0: a share of MemMiB on one GPU or MIG device, which other
//     shares may use too as long as the declared shares fit its memory.
//   - GPUs ≥ 2, MemMiB > 0: that many whole GPUs, each of at least MemMiB.
type Request struct {
	GPUs   int
	MemMiB int
}

// RequestFor reads a version's Resources.
func RequestFor(r api.Resources) Request { return Request{GPUs: r.GPUs, MemMiB: r.GPUMemMiB} }

// Zero reports a request for no GPU at all.
func (r Request) Zero() bool { return r.GPUs <= 0 && r.MemMiB <= 0 }

// Shared reports whether the request is a memory share of one GPU.
func (r Request) Shared() bool { return r.MemMiB > 0 && r.GPUs <= 1 }

// LimitMiB is the GPU memory the worker's process tree may hold in all (0: no limit).
func (r Request) LimitMiB() int { return r.MemMiB * max(r.GPUs, 1) }

func (r Request) String() string {
	switch {
	case r.Shared():
		return fmt.Sprintf("a %d MiB share of a GPU", r.MemMiB)
	case r.MemMiB > 0:
		return fmt.Sprintf("%d whole GPU(s) of at least %d MiB", r.GPUs, r.MemMiB)
	default:
		return fmt.Sprintf("%d whole GPU(s)", r.GPUs)
	}
}

func (r Request) validate() error {
	if r.GPUs < 0 || r.MemMiB < 0 {
		return fmt.Errorf("%w: GPUs and MemMiB must not be negative", ErrInvalidRequest)
	}
	if r.Zero() {
		return fmt.Errorf("%w: asks for no GPU", ErrInvalidRequest)
	}
	return nil
}

// Grant is what one worker was granted. Release it when the worker's process has exited.
type Grant struct {
	// UUIDs are the granted GPUs or MIG device: what CUDA_VISIBLE_DEVICES names.
	UUIDs []string
	// Request is what was asked for.
	Request Request
	// Exclusive: whole GPUs; otherwise a share of Request.MemMiB on UUIDs[0].
	Exclusive bool

	a       *Allocator
	units   []*unitState
	release sync.Once
}

// Env is what the worker's environment gets: CUDA_VISIBLE_DEVICES (read by the CUDA driver) and
// NVIDIA_VISIBLE_DEVICES (read by the NVIDIA container runtime), both the granted UUIDs.
func (g *Grant) Env() []string {
	v := strings.Join(g.UUIDs, ",")
	return []string{"CUDA_VISIBLE_DEVICES=" + v, "NVIDIA_VISIBLE_DEVICES=" + v}
}

// Release gives the grant back. Idempotent; safe concurrently.
func (g *Grant) Release() {
	g.release.Do(func() {
		g.a.mu.Lock()
		defer g.a.mu.Unlock()
		for _, u := range g.units {
			if g.Exclusive {
				u.exclusive = false
			} else {
				u.sharedMiB -= g.Request.MemMiB
				u.shares--
			}
		}
	})
}

// Allocator grants the units of an inventory (GPUs not in MIG mode, MIG devices) to workers:
// whole units exclusively, or memory shares of one unit by best fit, so that shares pack onto
// few GPUs and whole GPUs stay free. It accounts for declared memory, not measured memory: the
// Sampler enforces the declarations. Safe for concurrent use.
type Allocator struct {
	mu    sync.Mutex
	units []*unitState
}

type unitState struct {
	Unit
	index     int
	exclusive bool
	sharedMiB int // sum of the shares on it
	shares    int
}

// NewAllocator returns an allocator of inv's units. The inventory is fixed: a node whose MIG
// layout changes restarts its agent.
func NewAllocator(inv Inventory) *Allocator {
	a := &Allocator{}
	for i, u := range inv.Units() {
		a.units = append(a.units, &unitState{Unit: u, index: i})
	}
	return a
}

// Units counts the units the allocator grants.
func (a *Allocator) Units() int { return len(a.units) }

// Allocate grants r now or fails at once; it never waits. Errors: ErrNoGPU (the node has no
// GPU), *InsufficientError (not now, or never when Impossible), ErrInvalidRequest. Safe for
// concurrent use.
func (a *Allocator) Allocate(r Request) (*Grant, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	if len(a.units) == 0 {
		return nil, ErrNoGPU
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.Shared() {
		return a.shareLocked(r)
	}
	return a.wholeLocked(r)
}

func (a *Allocator) wholeLocked(r Request) (*Grant, error) {
	eligible := func(u *unitState) bool {
		return u.MemoryMiB >= r.MemMiB && (r.GPUs == 1 || !u.MIG)
	}
	var free []*unitState
	n := 0
	for _, u := range a.units {
		if !eligible(u) {
			continue
		}
		n++
		if !u.exclusive && u.shares == 0 {
			free = append(free, u)
		}
	}
	if len(free) < r.GPUs {
		return nil, a.insufficientLocked(r, n < r.GPUs)
	}
	// Full GPUs first, then MIG devices, largest first; index order within.
	slices.SortStableFunc(free, func(x, y *unitState) int {
		if x.MIG != y.MIG {
			if x.MIG {
				return 1
			}
			return -1
		}
		return cmp.Compare(y.MemoryMiB, x.MemoryMiB)
	})
	g := &Grant{Request: r, Exclusive: true, a: a, units: free[:r.GPUs]}
	slices.SortFunc(g.units, func(x, y *unitState) int { return cmp.Compare(x.index, y.index) })
	for _, u := range g.units {
		u.exclusive = true
		g.UUIDs = append(g.UUIDs, u.UUID)
	}
	return g, nil
}

// shareLocked picks the unit whose free declared memory is the least that still holds r.
func (a *Allocator) shareLocked(r Request) (*Grant, error) {
	var best *unitState
	possible := false
	for _, u := range a.units {
		if u.MemoryMiB < r.MemMiB {
			continue
		}
		possible = true
		left := u.MemoryMiB - u.sharedMiB - r.MemMiB
		if u.exclusive || left < 0 {
			continue
		}
		if best == nil || left < best.MemoryMiB-best.sharedMiB-r.MemMiB {
			best = u
		}
	}
	if best == nil {
		return nil, a.insufficientLocked(r, !possible)
	}
	best.sharedMiB += r.MemMiB
	best.shares++
	return &Grant{UUIDs: []string{best.UUID}, Request: r, a: a, units: []*unitState{best}}, nil
}

func (a *Allocator) insufficientLocked(r Request, impossible bool) *InsufficientError {
	e := &InsufficientError{Request: r, Impossible: impossible, Units: len(a.units)}
	for _, u := range a.units {
		if u.exclusive {
			continue
		}
		if u.shares == 0 {
			e.FreeGPUs++
		}
		e.LargestFreeMiB = max(e.LargestFreeMiB, u.MemoryMiB-u.sharedMiB)
	}
	return e
}
