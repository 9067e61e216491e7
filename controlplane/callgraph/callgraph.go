// Package callgraph records which algorithm versions call which (the talk's "Algorithm A always
// calls Algorithm B"): caller → callee edges with call counts and how many were served on the
// caller's node, plus each version's calls and time on nodes. The scheduler reads the callers
// of a version to place its workers next to them; `algos algo graph` shows the graph. It is
// kept in memory: a restart starts counting again.
package callgraph

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/algos-dev/algos/api"
)

// Graph is safe for concurrent use.
type Graph struct {
	mu       sync.Mutex
	edges    map[[2]string]*api.CallGraphEdge
	versions map[string]*api.CallGraphNode
	out, in  map[string]map[string]*api.CallGraphEdge // caller → callee → edge, callee → caller → edge
}

// New returns an empty graph.
func New() *Graph {
	return &Graph{edges: map[[2]string]*api.CallGraphEdge{}, versions: map[string]*api.CallGraphNode{},
		out: map[string]map[string]*api.CallGraphEdge{}, in: map[string]map[string]*api.CallGraphEdge{}}
}

// link indexes a new edge by caller and by callee.
func (g *Graph) link(e *api.CallGraphEdge) {
	if g.out[e.Caller] == nil {
		g.out[e.Caller] = map[string]*api.CallGraphEdge{}
	}
	g.out[e.Caller][e.Callee] = e
	if g.in[e.Callee] == nil {
		g.in[e.Callee] = map[string]*api.CallGraphEdge{}
	}
	g.in[e.Callee][e.Caller] = e
}

// maxEdges bounds memory: past it, new edges are not recorded (existing ones still count).
const maxEdges = 1 << 20

// Call records one completed call of version (caller "" for a call from outside), how long it
// spent on a node, and whether it ran on the caller's node.
func (g *Graph) Call(caller, version string, busy time.Duration, sameNode bool, at time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := g.versions[version]
	if n == nil {
		if len(g.versions) >= maxEdges {
			return
		}
		n = &api.CallGraphNode{Version: version}
		g.versions[version] = n
	}
	n.Calls++
	n.BusySeconds += busy.Seconds()
	if caller == "" {
		return
	}
	k := [2]string{caller, version}
	e := g.edges[k]
	if e == nil {
		if len(g.edges) >= maxEdges {
			return
		}
		e = &api.CallGraphEdge{Caller: caller, Callee: version}
		g.edges[k] = e
		g.link(e)
	}
	e.Calls++
	if sameNode {
		e.SameNode++
	}
	e.LastAt = at
}

// Callers returns the versions that have called version, most calls first.
func (g *Graph) Callers(version string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var es []*api.CallGraphEdge
	for _, e := range g.in[version] {
		es = append(es, e)
	}
	slices.SortFunc(es, func(a, b *api.CallGraphEdge) int {
		if a.Calls != b.Calls {
			return int(b.Calls - a.Calls)
		}
		return strings.Compare(a.Caller, b.Caller)
	})
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Caller
	}
	return out
}

// algorithmOf turns "owner/name/1.2.3" into "owner/name".
func algorithmOf(version string) string {
	a, _ := api.SplitVersionID(version)
	return a
}

// Of returns the graph around an algorithm (owner/name): every version reachable from its
// versions by calls (what it depends on), every version that calls into those, and the edges
// between them. resources, when not nil, fills each version's declared resources.
func (g *Graph) Of(algorithm string, resources func(version string) api.Resources) api.CallGraph {
	g.mu.Lock()
	defer g.mu.Unlock()
	in := map[string]bool{}
	var queue []string
	for v := range g.versions {
		if algorithmOf(v) == algorithm {
			in[v] = true
			queue = append(queue, v)
		}
	}
	for caller := range g.out { // a caller of the algorithm with no completed call yet
		if algorithmOf(caller) == algorithm && !in[caller] {
			in[caller] = true
			queue = append(queue, caller)
		}
	}
	// Downstream: what the algorithm calls, transitively (each edge followed once).
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for callee := range g.out[v] {
			if !in[callee] {
				in[callee] = true
				queue = append(queue, callee)
			}
		}
	}
	// Upstream: direct callers of any version in the graph.
	members := make([]string, 0, len(in))
	for v := range in {
		members = append(members, v)
	}
	for _, v := range members {
		for caller := range g.in[v] {
			in[caller] = true
		}
	}
	out := api.CallGraph{Algorithm: algorithm, Versions: []api.CallGraphNode{}, Edges: []api.CallGraphEdge{}}
	for v := range in {
		n := api.CallGraphNode{Version: v}
		if gn := g.versions[v]; gn != nil {
			n = *gn
		}
		if resources != nil {
			n.Resources = resources(v)
		}
		out.Versions = append(out.Versions, n)
	}
	for v := range in {
		for callee, e := range g.out[v] {
			if in[callee] {
				out.Edges = append(out.Edges, *e)
			}
		}
	}
	slices.SortFunc(out.Versions, func(a, b api.CallGraphNode) int { return strings.Compare(a.Version, b.Version) })
	slices.SortFunc(out.Edges, func(a, b api.CallGraphEdge) int {
		if c := strings.Compare(a.Caller, b.Caller); c != 0 {
			return c
		}
		return strings.Compare(a.Callee, b.Callee)
	})
	return out
}
