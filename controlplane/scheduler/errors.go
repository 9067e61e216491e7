package scheduler

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Reason says why a node (or a pool) cannot take a worker.
type Reason string

// Reasons a node or pool refuses a worker, in the order they are checked.
const (
	ReasonPool      Reason = "pool"       // the node is not in the requested pool
	ReasonLabels    Reason = "labels"     // the node lacks a label of the selector
	ReasonDraining  Reason = "draining"   // the node is draining
	ReasonGPUNode   Reason = "gpu node"   // CPU-only work kept off a GPU node or pool
	ReasonCPU       Reason = "cpu"        // not enough free CPU
	ReasonMemory    Reason = "memory"     // not enough free memory
	ReasonGPUModel  Reason = "gpu model"  // no GPU of the requested model
	ReasonGPUCount  Reason = "gpu count"  // not enough free whole GPUs
	ReasonGPUMemory Reason = "gpu memory" // no GPU with enough free (or total) memory
	ReasonMaxSize   Reason = "max size"   // the pool is at its maximum size
)

// ErrInvalidRequest is returned (wrapped) for a request with negative resources.
var ErrInvalidRequest = errors.New("scheduler: invalid request")

// UnplaceableError reports workers that fit no node, and why each node refused. The plan
// returned with it holds the workers that were placed; the autoscaler turns the rest into
// "grow a pool" (see Cheapest).
type UnplaceableError struct {
	Request  Request
	Placed   int // workers placed before one fit nowhere
	Unplaced int // workers left without a node
	// NoSuchPool is set when the request names a pool that has no node in the view.
	NoSuchPool bool
	// Nodes holds, per node ID, why that node refused the first unplaced worker.
	Nodes map[string]Reason
}

// Error summarizes the refusal, counting nodes per reason.
func (e *UnplaceableError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "scheduler: %d of %d workers of %q fit no node", e.Unplaced, e.Placed+e.Unplaced, e.Request.Version)
	if e.NoSuchPool {
		fmt.Fprintf(&b, ": no such pool %q", e.Request.Pool)
	}
	if s := summarize(e.Nodes); s != "" {
		fmt.Fprintf(&b, " (%d nodes: %s)", len(e.Nodes), s)
	} else if !e.NoSuchPool {
		b.WriteString(" (no nodes)")
	}
	return b.String()
}

// Count returns how many nodes refused for reason r.
func (e *UnplaceableError) Count(r Reason) int { return countReason(e.Nodes, r) }

// NoPoolError reports that no pool can grow to take a worker, and why each pool was refused.
type NoPoolError struct {
	Request Request
	// Pools holds, per pool name, why that pool was not chosen.
	Pools map[string]Reason
}

// Error summarizes the refusal, counting pools per reason.
func (e *NoPoolError) Error() string {
	s := summarize(e.Pools)
	if s == "" {
		s = "no pools"
	}
	return fmt.Sprintf("scheduler: no pool can grow for %q (%s)", e.Request.Version, s)
}

// Count returns how many pools were refused for reason r.
func (e *NoPoolError) Count(r Reason) int { return countReason(e.Pools, r) }

func countReason(m map[string]Reason, r Reason) int {
	n := 0
	for _, v := range m {
		if v == r {
			n++
		}
	}
	return n
}

// summarize renders "cpu=2, draining=1" with reasons sorted by name.
func summarize(m map[string]Reason) string {
	counts := make(map[Reason]int)
	for _, r := range m {
		counts[r]++
	}
	keys := make([]string, 0, len(counts))
	for r := range counts {
		keys = append(keys, string(r))
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, counts[Reason(k)])
	}
	return strings.Join(parts, ", ")
}
