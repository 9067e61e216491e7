package scheduler

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// eps absorbs floating-point error when comparing CPU amounts.
const eps = 1e-9

// Place chooses a node for each of the request's Count workers, following the rules in the
// package documentation. Workers are placed one at a time, each seeing the ones placed before
// it. When a worker fits no node, Place stops and returns the plan so far together with an
// *UnplaceableError saying why each node refused (the remaining workers, identical, would fit
// nowhere either). The view is not modified.
func Place(view View, req Request) (Plan, error) {
	if req.CPU < 0 || req.MemoryMiB < 0 || req.GPUs < 0 || req.GPUMemMiB < 0 {
		return Plan{}, fmt.Errorf("%w: negative resources for %q", ErrInvalidRequest, req.Version)
	}
	states := make([]*nodeState, len(view.Nodes))
	for i := range view.Nodes {
		states[i] = newNodeState(&view.Nodes[i], req.Version)
	}
	// A fixed order makes the reasons and tie-breaks independent of the view's order.
	sort.Slice(states, func(i, j int) bool { return states[i].node.ID < states[j].node.ID })

	var plan Plan
	want := req.count()
	for len(plan.Placements) < want {
		best, bestFit := -1, fit{}
		reasons := make(map[string]Reason)
		for i, s := range states {
			f := s.fit(req)
			if f.reason != "" {
				reasons[s.node.ID] = f.reason
				continue
			}
			if best < 0 || better(req, s, f, states[best], bestFit) {
				best, bestFit = i, f
			}
		}
		if best < 0 {
			return plan, &UnplaceableError{
				Request:    req,
				Placed:     len(plan.Placements),
				Unplaced:   want - len(plan.Placements),
				NoSuchPool: req.Pool != "" && !hasPool(view, req.Pool),
				Nodes:      reasons,
			}
		}
		s := states[best]
		a := Allocation{
			Version:   req.Version,
			CPU:       req.CPU,
			MemoryMiB: req.MemoryMiB,
			GPUs:      bestFit.gpus,
			SharedGPU: bestFit.shared,
		}
		if bestFit.shared != "" {
			a.GPUMemMiB = req.GPUMemMiB
		}
		s.add(a)
		plan.Placements = append(plan.Placements, Placement{NodeID: s.node.ID, Allocation: a})
	}
	return plan, nil
}

func hasPool(v View, pool string) bool {
	for _, n := range v.Nodes {
		if n.Pool == pool {
			return true
		}
	}
	return false
}

// nodeState is a node's usage while a plan is being built.
type nodeState struct {
	node      *Node
	cpu       float64        // allocated cores
	mem       int            // allocated MiB
	exclusive map[string]int // GPU UUID -> workers holding it whole
	shared    map[string]int // GPU UUID -> MiB of memory shares
	workers   int            // allocations of any version
	version   string         // the version being placed
	replicas  int            // allocations of that version
}

func newNodeState(n *Node, version string) *nodeState {
	s := &nodeState{node: n, version: version, exclusive: make(map[string]int), shared: make(map[string]int)}
	for _, a := range n.Allocations {
		s.add(a)
	}
	return s
}

func (s *nodeState) add(a Allocation) {
	s.cpu += a.CPU
	s.mem += a.MemoryMiB
	for _, u := range a.GPUs {
		s.exclusive[u]++
	}
	if a.SharedGPU != "" {
		s.shared[a.SharedGPU] += a.GPUMemMiB
	}
	s.workers++
	if a.Version == s.version {
		s.replicas++
	}
}

// fit is the outcome of checking one node for one worker: a reason it cannot, or the GPUs it
// would get and its binpack score.
type fit struct {
	reason Reason
	gpus   []string // whole GPUs chosen
	shared string   // GPU chosen for a memory share
	score  float64  // binpack score after placement, 0 (empty) to 1 (full)
}

// fit checks the node for one worker of req; the first failing rule gives the reason.
func (s *nodeState) fit(req Request) fit {
	n := s.node
	switch {
	case req.Pool != "" && n.Pool != req.Pool:
		return fit{reason: ReasonPool}
	case !hasLabels(n.Labels, req.Selector):
		return fit{reason: ReasonLabels}
	case n.Draining:
		return fit{reason: ReasonDraining}
	case !req.NeedsGPU() && n.HasGPUs() && req.NoGPUNodes:
		return fit{reason: ReasonGPUNode}
	case n.CPU-s.cpu < req.CPU-eps:
		return fit{reason: ReasonCPU}
	case n.MemoryMiB-s.mem < req.MemoryMiB:
		return fit{reason: ReasonMemory}
	}
	var f fit
	switch {
	case req.GPUs > 0:
		f.gpus, f.reason = s.wholeGPUs(req)
	case req.SharesGPU():
		f.shared, f.reason = s.shareGPU(req)
	}
	if f.reason == "" {
		f.score = s.score(req, f)
	}
	return f
}

func hasLabels(labels, selector map[string]string) bool {
	for k, v := range selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func modelOK(g GPU, model string) bool { return model == "" || strings.EqualFold(g.Model, model) }

// wholeGPUs picks req.GPUs free GPUs (no exclusive holder and no share), smallest sufficient
// memory first so that large cards stay free for large models.
func (s *nodeState) wholeGPUs(req Request) ([]string, Reason) {
	var free []GPU
	models := 0
	for _, g := range s.node.GPUs {
		if !modelOK(g, req.GPUModel) {
			continue
		}
		models++
		if s.exclusive[g.UUID] == 0 && s.shared[g.UUID] == 0 && g.MemoryMiB >= req.GPUMemMiB {
			free = append(free, g)
		}
	}
	switch {
	case len(free) >= req.GPUs:
	case len(s.node.GPUs) > 0 && models == 0:
		return nil, ReasonGPUModel
	default:
		return nil, ReasonGPUCount
	}
	sort.Slice(free, func(i, j int) bool {
		if free[i].MemoryMiB != free[j].MemoryMiB {
			return free[i].MemoryMiB < free[j].MemoryMiB
		}
		return free[i].UUID < free[j].UUID
	})
	uuids := make([]string, req.GPUs)
	for i := range uuids {
		uuids[i] = free[i].UUID
	}
	return uuids, ""
}

// shareGPU picks the GPU whose free memory fits the share most tightly (best fit), so that
// small models fill one card before opening the next.
func (s *nodeState) shareGPU(req Request) (string, Reason) {
	best, bestLeft := "", math.MaxInt
	models := 0
	for _, g := range s.node.GPUs {
		if !modelOK(g, req.GPUModel) {
			continue
		}
		models++
		if s.exclusive[g.UUID] > 0 {
			continue
		}
		left := g.MemoryMiB - s.shared[g.UUID] - req.GPUMemMiB
		if left < 0 {
			continue
		}
		if left < bestLeft || (left == bestLeft && g.UUID < best) {
			best, bestLeft = g.UUID, left
		}
	}
	switch {
	case best != "":
		return best, ""
	case len(s.node.GPUs) == 0:
		return "", ReasonGPUCount
	case models == 0:
		return "", ReasonGPUModel
	default:
		return "", ReasonGPUMemory
	}
}

// score is Nomad's binpack score: for each dimension d with free fraction f after placement,
// (10 - 10^f) / 9, averaged; 1 is a full node, 0 an empty one. GPU memory is a dimension only
// for GPU work, so CPU work does not prefer nodes for their busy GPUs.
func (s *nodeState) score(req Request, f fit) float64 {
	sum, dims := 0.0, 0
	add := func(used, total float64) {
		if total <= 0 {
			return
		}
		free := math.Min(1, math.Max(0, 1-used/total))
		sum += (10 - math.Pow(10, free)) / 9
		dims++
	}
	add(s.cpu+req.CPU, s.node.CPU)
	add(float64(s.mem+req.MemoryMiB), float64(s.node.MemoryMiB))
	if req.NeedsGPU() {
		used, total := 0, 0
		whole := make(map[string]bool, len(f.gpus))
		for _, u := range f.gpus {
			whole[u] = true
		}
		for _, g := range s.node.GPUs {
			total += g.MemoryMiB
			switch {
			case s.exclusive[g.UUID] > 0 || whole[g.UUID]:
				used += g.MemoryMiB
			default:
				used += s.shared[g.UUID]
				if g.UUID == f.shared {
					used += req.GPUMemMiB
				}
			}
		}
		add(float64(used), float64(total))
	}
	if dims == 0 {
		return 0
	}
	return sum / float64(dims)
}

// better reports whether node a (fit fa) is a better place than node b (fit fb) for one worker
// of req. States are visited in ID order, so on a full tie the earlier (lower) ID is kept.
func better(req Request, a *nodeState, fa fit, b *nodeState, fb fit) bool {
	// CPU work: a GPU node only as a last resort.
	if !req.NeedsGPU() {
		if ga, gb := a.node.HasGPUs(), b.node.HasGPUs(); ga != gb {
			return !ga
		}
	}
	// Keep nodes few: an opened node before an empty one.
	if oa, ob := a.workers > 0, b.workers > 0; oa != ob {
		return oa
	}
	// Spread replicas of one version over the opened nodes.
	if a.replicas != b.replicas {
		return a.replicas < b.replicas
	}
	// Binpack: the fullest node after placement.
	if math.Abs(fa.score-fb.score) > eps {
		return fa.score > fb.score
	}
	return a.node.ID < b.node.ID
}
