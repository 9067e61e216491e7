package autoscaler

import (
	"sort"
	"time"
)

// NodeState is what pool scale-down needs to know of one node of a pool.
type NodeState struct {
	ID       string
	Workers  int // workers placed on it, starting ones included
	InFlight int // calls in flight on it
	// EmptySince is when the node last became empty (no workers, no calls); zero when it is
	// not empty or the caller does not know since when.
	EmptySince time.Time
	// Draining nodes are already on their way out.
	Draining bool
}

// Empty reports whether the node has neither workers nor calls in flight.
func (n NodeState) Empty() bool { return n.Workers == 0 && n.InFlight == 0 }

// NodesToRemove returns the IDs of the nodes of one pool to drain and remove at now: empty
// nodes that have been empty for at least cooldown, as many as the pool can lose without going
// under minSize (nodes already draining count as gone). The longest-empty nodes come first and
// the most recently emptied last, so that a caller removing fewer takes the coldest; ties go
// to the lower ID.
func NodesToRemove(nodes []NodeState, now time.Time, cooldown time.Duration, minSize int) []string {
	staying := 0
	var cands []NodeState
	for _, n := range nodes {
		if n.Draining {
			continue
		}
		staying++
		if n.Empty() && !n.EmptySince.IsZero() && now.Sub(n.EmptySince) >= cooldown {
			cands = append(cands, n)
		}
	}
	budget := staying - max(minSize, 0)
	if budget <= 0 || len(cands) == 0 {
		return nil
	}
	sort.Slice(cands, func(i, j int) bool {
		if !cands[i].EmptySince.Equal(cands[j].EmptySince) {
			return cands[i].EmptySince.Before(cands[j].EmptySince)
		}
		return cands[i].ID < cands[j].ID
	})
	cands = cands[:min(budget, len(cands))]
	ids := make([]string, len(cands))
	for i, n := range cands {
		ids[i] = n.ID
	}
	return ids
}

// Drain is the removal of one node: from Start, the node takes no new placements (the caller
// marks it Draining in the scheduler's view), the calls in flight on it finish, and only when
// none remain is it Removable. A drain never cuts a call: there is no deadline here; a caller
// that wants one decides it itself.
type Drain struct {
	NodeID string
	Since  time.Time // when the drain started

	observed bool // at least one Observe since Since
	inFlight int  // the latest observation
}

// StartDrain begins draining a node at now.
func StartDrain(nodeID string, now time.Time) *Drain {
	return &Drain{NodeID: nodeID, Since: now}
}

// Observe records the calls in flight on the node at now.
func (d *Drain) Observe(now time.Time, inFlight int) {
	if now.Before(d.Since) {
		return
	}
	d.observed = true
	d.inFlight = inFlight
}

// InFlight is the latest observed number of calls in flight on the node.
func (d *Drain) InFlight() int { return d.inFlight }

// Removable reports whether the node may be removed: its in-flight calls, observed since the
// drain started, have reached 0.
func (d *Drain) Removable() bool { return d.observed && d.inFlight <= 0 }
