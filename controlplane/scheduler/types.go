// Package scheduler places workers on nodes. It is pure logic over a read-only View of the
// cluster, as Nomad's scheduler package is: it decides where workers go and returns a Plan; it
// does no I/O, reads no clock and starts no goroutines, so the control plane and the simulator
// drive the same code and tests need no servers.
//
// Placement rules, in order of precedence for each worker:
//
//   - a node must fit the request: pool, label selector, not draining, CPU, memory, whole GPUs
//     (exclusive) or a share of one GPU's memory (several small models on one card);
//   - CPU-only work goes to a GPU node only when no CPU node fits it (never, with NoGPUNodes);
//   - a node that already runs workers is preferred to an empty one (keep nodes few);
//   - among those, the node with the fewest replicas of the same version (spread);
//   - then the node that is fullest after the placement (binpack score, as Nomad's);
//   - ties are broken by node ID, so the same view and request always give the same plan.
package scheduler

// GPU is one accelerator of a node.
type GPU struct {
	UUID      string
	Model     string // e.g. "NVIDIA H100 80GB HBM3"
	MemoryMiB int
}

// Allocation is one worker already placed on a node, and what it holds there.
type Allocation struct {
	Worker    string // worker ID; informative only
	Version   string // version ID
	CPU       float64
	MemoryMiB int
	// GPUs are the UUIDs of the GPUs the worker holds whole (exclusively).
	GPUs []string
	// SharedGPU is the UUID of the GPU whose memory the worker shares with others, and
	// GPUMemMiB the share it declared; empty when it holds no share.
	SharedGPU string
	GPUMemMiB int
}

// Node is a node as the scheduler sees it: its capacity and what is placed on it.
type Node struct {
	ID        string
	Pool      string
	CPU       float64 // cores allocatable to workers
	MemoryMiB int     // allocatable to workers
	GPUs      []GPU
	// Draining nodes take no new placements.
	Draining    bool
	Labels      map[string]string
	Allocations []Allocation
}

// HasGPUs reports whether the node has at least one GPU.
func (n Node) HasGPUs() bool { return len(n.GPUs) > 0 }

// View is the read-only state the scheduler places against. Place never modifies it.
type View struct {
	Nodes []Node
}

// Apply returns a copy of the view with the plan's allocations added to their nodes, as the
// state will be once the plan is carried out; the receiver is not modified. The simulator uses
// it to advance its state.
func (v View) Apply(p Plan) View {
	out := View{Nodes: make([]Node, len(v.Nodes))}
	index := make(map[string]int, len(v.Nodes))
	for i, n := range v.Nodes {
		n.Allocations = append([]Allocation(nil), n.Allocations...)
		out.Nodes[i] = n
		index[n.ID] = i
	}
	for _, pl := range p.Placements {
		if i, ok := index[pl.NodeID]; ok {
			out.Nodes[i].Allocations = append(out.Nodes[i].Allocations, pl.Allocation)
		}
	}
	return out
}

// Request asks for Count workers of one version, each needing the given resources.
//
// GPU needs take one of two forms: GPUs > 0 asks for that many whole GPUs held exclusively
// (each with at least GPUMemMiB of memory when GPUMemMiB is set); GPUs == 0 with GPUMemMiB > 0
// asks for a share of one GPU's memory, which other shares may use too. A request with neither
// is CPU-only work.
type Request struct {
	Version   string
	CPU       float64
	MemoryMiB int
	GPUs      int
	GPUMemMiB int
	// GPUModel, when set, restricts GPUs to this model (compared case-insensitively).
	GPUModel string
	// Pool, when set, restricts placement to the nodes of this pool.
	Pool string
	// Selector, when set, restricts placement to nodes carrying all these labels.
	Selector map[string]string
	// NoGPUNodes forbids GPU nodes for CPU-only work even as a last resort.
	NoGPUNodes bool
	// Count is the number of workers to place; zero or less places one.
	Count int
}

// NeedsGPU reports whether the request needs whole GPUs or a GPU memory share.
func (r Request) NeedsGPU() bool { return r.GPUs > 0 || r.GPUMemMiB > 0 }

// SharesGPU reports whether the request asks for a share of one GPU's memory.
func (r Request) SharesGPU() bool { return r.GPUs <= 0 && r.GPUMemMiB > 0 }

// count is the number of workers the request asks for.
func (r Request) count() int {
	if r.Count <= 0 {
		return 1
	}
	return r.Count
}

// Placement is one worker's place: the node and the allocation to record there (with the
// GPUs or GPU share chosen).
type Placement struct {
	NodeID     string
	Allocation Allocation
}

// Plan is the outcome of Place: one Placement per worker placed, in placement order.
type Plan struct {
	Placements []Placement
}

// Nodes returns how many workers the plan puts on each node.
func (p Plan) Nodes() map[string]int {
	m := make(map[string]int)
	for _, pl := range p.Placements {
		m[pl.NodeID]++
	}
	return m
}
