package scheduler

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// cpuNode is a CPU node with the given allocations.
func cpuNode(id string, cpu float64, mem int, allocs ...Allocation) Node {
	return Node{ID: id, Pool: "cpu", CPU: cpu, MemoryMiB: mem, Allocations: allocs}
}

// gpuNode is a node with n GPUs of memMiB each, UUIDs "<id>-gpu<i>".
func gpuNode(id string, n, memMiB int, allocs ...Allocation) Node {
	node := Node{ID: id, Pool: "gpu", CPU: 32, MemoryMiB: 256 << 10, Allocations: allocs}
	for i := range n {
		node.GPUs = append(node.GPUs, GPU{UUID: fmt.Sprintf("%s-gpu%d", id, i), Model: "H100", MemoryMiB: memMiB})
	}
	return node
}

func other(cpu float64, mem int) Allocation {
	return Allocation{Version: "other", CPU: cpu, MemoryMiB: mem}
}

// nodesOf lists the node of each placement.
func nodesOf(p Plan) []string {
	out := make([]string, len(p.Placements))
	for i, pl := range p.Placements {
		out[i] = pl.NodeID
	}
	return out
}

func TestPlaceNodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		nodes []Node
		req   Request
		want  []string
	}{
		{
			name:  "fits by cpu",
			nodes: []Node{cpuNode("a", 1, 8192), cpuNode("b", 4, 8192)},
			req:   Request{Version: "v", CPU: 2, MemoryMiB: 1024},
			want:  []string{"b"},
		},
		{
			name:  "fits by memory",
			nodes: []Node{cpuNode("a", 8, 1024), cpuNode("b", 8, 8192)},
			req:   Request{Version: "v", CPU: 1, MemoryMiB: 2048},
			want:  []string{"b"},
		},
		{
			name:  "binpack prefers the most allocated node",
			nodes: []Node{cpuNode("a", 8, 8192), cpuNode("b", 8, 8192, other(4, 4096)), cpuNode("c", 8, 8192, other(1, 1024))},
			req:   Request{Version: "v", CPU: 1, MemoryMiB: 1024},
			want:  []string{"b"},
		},
		{
			name:  "binpack prefers the smaller of two empty nodes",
			nodes: []Node{cpuNode("a", 16, 16384), cpuNode("b", 4, 4096)},
			req:   Request{Version: "v", CPU: 1, MemoryMiB: 1024},
			want:  []string{"b"},
		},
		{
			name:  "no new node opened to spread",
			nodes: []Node{cpuNode("a", 8, 8192), cpuNode("b", 8, 8192, other(1, 1024))},
			req:   Request{Version: "v", CPU: 1, MemoryMiB: 1024, Count: 3},
			want:  []string{"b", "b", "b"},
		},
		{
			name:  "empty cluster fills one node first",
			nodes: []Node{cpuNode("b", 8, 8192), cpuNode("a", 8, 8192)},
			req:   Request{Version: "v", CPU: 4, MemoryMiB: 1024, Count: 3},
			want:  []string{"a", "a", "b"},
		},
		{
			name: "spread over opened nodes that fit equally well",
			nodes: []Node{cpuNode("a", 8, 8192, other(1, 1024)), cpuNode("b", 8, 8192, other(1, 1024)),
				cpuNode("c", 8, 8192)},
			req:  Request{Version: "v", CPU: 1, MemoryMiB: 1024, Count: 4},
			want: []string{"a", "b", "a", "b"},
		},
		{
			name: "spread over opened nodes of different fill",
			nodes: []Node{cpuNode("a", 8, 8192, other(1, 1024)), cpuNode("b", 8, 8192, other(6, 6144)),
				cpuNode("c", 8, 8192, Allocation{Version: "v", CPU: 1, MemoryMiB: 1024})},
			req:  Request{Version: "v", CPU: 1, MemoryMiB: 1024, Count: 2},
			want: []string{"b", "a"},
		},
		{
			name:  "cpu work kept off a fuller gpu node while a cpu node fits",
			nodes: []Node{gpuNode("g", 1, 81920, other(16, 1024)), cpuNode("c", 4, 8192)},
			req:   Request{Version: "v", CPU: 1, MemoryMiB: 1024, Count: 4},
			want:  []string{"c", "c", "c", "c"},
		},
		{
			name:  "gpu node is the last resort for cpu work",
			nodes: []Node{gpuNode("g", 1, 81920), cpuNode("c", 2, 8192)},
			req:   Request{Version: "v", CPU: 1, MemoryMiB: 1024, Count: 3},
			want:  []string{"c", "c", "g"},
		},
		{
			name:  "pool restriction",
			nodes: []Node{cpuNode("a", 8, 8192, other(4, 1024)), {ID: "b", Pool: "batch", CPU: 8, MemoryMiB: 8192}},
			req:   Request{Version: "v", CPU: 1, MemoryMiB: 1024, Pool: "batch"},
			want:  []string{"b"},
		},
		{
			name: "label selector",
			nodes: []Node{cpuNode("a", 8, 8192, other(4, 1024)),
				{ID: "b", Pool: "cpu", CPU: 8, MemoryMiB: 8192, Labels: map[string]string{"zone": "eu"}}},
			req:  Request{Version: "v", CPU: 1, MemoryMiB: 1024, Selector: map[string]string{"zone": "eu"}},
			want: []string{"b"},
		},
		{
			name: "draining nodes skipped",
			nodes: []Node{{ID: "a", Pool: "cpu", CPU: 8, MemoryMiB: 8192, Draining: true, Allocations: []Allocation{other(6, 1024)}},
				cpuNode("b", 8, 8192)},
			req:  Request{Version: "v", CPU: 1, MemoryMiB: 1024, Count: 2},
			want: []string{"b", "b"},
		},
		{
			name:  "gpu work only on gpu nodes",
			nodes: []Node{cpuNode("a", 64, 1<<20), gpuNode("g", 1, 81920)},
			req:   Request{Version: "v", CPU: 1, MemoryMiB: 1024, GPUs: 1},
			want:  []string{"g"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			plan, err := Place(View{Nodes: tt.nodes}, tt.req)
			if err != nil {
				t.Fatalf("Place: %v", err)
			}
			if got := nodesOf(plan); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("nodes = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPlaceGPUPacking(t *testing.T) {
	t.Parallel()
	// Eight small models (distinct versions), placed one after the other, share one card.
	view := View{Nodes: []Node{gpuNode("g", 2, 81920)}}
	for i := range 8 {
		small := Request{Version: fmt.Sprintf("small%d", i), CPU: 1, MemoryMiB: 1024, GPUMemMiB: 10240}
		plan, err := Place(view, small)
		if err != nil {
			t.Fatalf("Place small %d: %v", i, err)
		}
		a := plan.Placements[0].Allocation
		if a.SharedGPU != "g-gpu0" || a.GPUMemMiB != 10240 || len(a.GPUs) != 0 {
			t.Errorf("small %d: allocation %+v, want a 10240 MiB share of g-gpu0", i, a)
		}
		view = view.Apply(plan)
	}

	// The card is full: a ninth small model opens the second GPU.
	plan9, err := Place(view, Request{Version: "small", CPU: 1, MemoryMiB: 1024, GPUMemMiB: 10240})
	if err != nil || plan9.Placements[0].Allocation.SharedGPU != "g-gpu1" {
		t.Fatalf("ninth small model: %+v, %v; want a share of g-gpu1", plan9, err)
	}

	// A whole-GPU request gets the untouched GPU, exclusively.
	whole, err := Place(view, Request{Version: "big", CPU: 1, MemoryMiB: 1024, GPUs: 1})
	if err != nil {
		t.Fatalf("Place whole: %v", err)
	}
	if got := whole.Placements[0].Allocation.GPUs; !reflect.DeepEqual(got, []string{"g-gpu1"}) {
		t.Fatalf("whole GPU = %v, want [g-gpu1]", got)
	}
	view = view.Apply(whole)

	// Now neither a share nor another whole GPU fits, and the reasons say so.
	for _, req := range []Request{
		{Version: "small", GPUMemMiB: 1024},
		{Version: "big", GPUs: 1},
	} {
		_, err := Place(view, req)
		var ue *UnplaceableError
		if !errors.As(err, &ue) {
			t.Fatalf("%+v: err = %v, want *UnplaceableError", req, err)
		}
		want := ReasonGPUMemory
		if req.GPUs > 0 {
			want = ReasonGPUCount
		}
		if ue.Nodes["g"] != want {
			t.Errorf("%+v: reason %q, want %q", req, ue.Nodes["g"], want)
		}
	}
}

func TestPlaceGPUBestFit(t *testing.T) {
	t.Parallel()
	// gpu0 has 50 GiB free, gpu1 30 GiB, gpu2 80 GiB: a 20 GiB share fits gpu1 most tightly.
	node := gpuNode("g", 3, 81920,
		Allocation{Version: "x", SharedGPU: "g-gpu0", GPUMemMiB: 30720},
		Allocation{Version: "y", SharedGPU: "g-gpu1", GPUMemMiB: 51200})
	plan, err := Place(View{Nodes: []Node{node}}, Request{Version: "v", GPUMemMiB: 20480})
	if err != nil {
		t.Fatal(err)
	}
	if got := plan.Placements[0].Allocation.SharedGPU; got != "g-gpu1" {
		t.Errorf("shared GPU = %s, want g-gpu1", got)
	}
	// A share goes to the node whose GPUs are fuller (binpack on GPU memory).
	empty := gpuNode("e", 1, 81920)
	plan, err = Place(View{Nodes: []Node{empty, node}}, Request{Version: "v", GPUMemMiB: 20480})
	if err != nil || plan.Placements[0].NodeID != "g" {
		t.Errorf("plan %+v, err %v; want node g", plan, err)
	}
	// A whole GPU with a minimum memory skips the smaller card.
	mixed := Node{ID: "m", CPU: 8, MemoryMiB: 8192, GPUs: []GPU{
		{UUID: "small", Model: "L4", MemoryMiB: 24576}, {UUID: "large", Model: "H100", MemoryMiB: 81920}}}
	plan, err = Place(View{Nodes: []Node{mixed}}, Request{Version: "v", GPUs: 1, GPUMemMiB: 40960})
	if err != nil || !reflect.DeepEqual(plan.Placements[0].Allocation.GPUs, []string{"large"}) {
		t.Errorf("plan %+v, err %v; want GPU large", plan, err)
	}
	// Without a minimum, the smallest card is used so that the large one stays free.
	plan, err = Place(View{Nodes: []Node{mixed}}, Request{Version: "v", GPUs: 1})
	if err != nil || !reflect.DeepEqual(plan.Placements[0].Allocation.GPUs, []string{"small"}) {
		t.Errorf("plan %+v, err %v; want GPU small", plan, err)
	}
	// A model restriction.
	plan, err = Place(View{Nodes: []Node{mixed}}, Request{Version: "v", GPUs: 1, GPUModel: "h100"})
	if err != nil || !reflect.DeepEqual(plan.Placements[0].Allocation.GPUs, []string{"large"}) {
		t.Errorf("plan %+v, err %v; want GPU large", plan, err)
	}
}

func TestPlaceUnplaceable(t *testing.T) {
	t.Parallel()
	nodes := []Node{
		{ID: "pool", Pool: "other", CPU: 64, MemoryMiB: 1 << 20},
		{ID: "drain", Pool: "p", CPU: 64, MemoryMiB: 1 << 20, Draining: true},
		{ID: "cpu", Pool: "p", CPU: 1, MemoryMiB: 1 << 20},
		{ID: "mem", Pool: "p", CPU: 64, MemoryMiB: 512},
		{ID: "nogpu", Pool: "p", CPU: 64, MemoryMiB: 1 << 20},
		{ID: "model", Pool: "p", CPU: 64, MemoryMiB: 1 << 20, GPUs: []GPU{{UUID: "l4", Model: "L4", MemoryMiB: 24576}}},
		{ID: "gpumem", Pool: "p", CPU: 64, MemoryMiB: 1 << 20, GPUs: []GPU{{UUID: "a", Model: "H100", MemoryMiB: 81920}},
			Allocations: []Allocation{{Version: "x", SharedGPU: "a", GPUMemMiB: 81920}}},
		{ID: "label", Pool: "p", CPU: 64, MemoryMiB: 1 << 20, Labels: map[string]string{"zone": "us"}},
	}
	req := Request{Version: "v", CPU: 2, MemoryMiB: 1024, GPUMemMiB: 1024, GPUModel: "H100", Pool: "p",
		Selector: map[string]string{"zone": "us"}, Count: 2}
	nodes[1].Labels = map[string]string{"zone": "us"}
	for i := 2; i < len(nodes)-1; i++ {
		nodes[i].Labels = map[string]string{"zone": "us"}
	}
	nodes[len(nodes)-1].Labels = map[string]string{"zone": "eu"}

	plan, err := Place(View{Nodes: nodes}, req)
	if len(plan.Placements) != 0 {
		t.Errorf("placements = %v, want none", plan.Placements)
	}
	var ue *UnplaceableError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v, want *UnplaceableError", err)
	}
	want := map[string]Reason{
		"pool": ReasonPool, "drain": ReasonDraining, "cpu": ReasonCPU, "mem": ReasonMemory,
		"nogpu": ReasonGPUCount, "model": ReasonGPUModel, "gpumem": ReasonGPUMemory, "label": ReasonLabels,
	}
	if !reflect.DeepEqual(ue.Nodes, want) {
		t.Errorf("reasons = %v, want %v", ue.Nodes, want)
	}
	if ue.Unplaced != 2 || ue.Placed != 0 || ue.NoSuchPool {
		t.Errorf("error = %+v", ue)
	}
	if msg := err.Error(); !strings.Contains(msg, "cpu=1") || !strings.Contains(msg, "draining=1") {
		t.Errorf("message %q lacks per-reason counts", msg)
	}
}

func TestPlaceErrors(t *testing.T) {
	t.Parallel()
	two := []Node{cpuNode("a", 2, 8192)}
	tests := []struct {
		name       string
		nodes      []Node
		req        Request
		placed     int
		unplaced   int
		noSuchPool bool
		reason     map[string]Reason
	}{
		{"partial placement", two, Request{Version: "v", CPU: 1, Count: 3}, 2, 1, false, map[string]Reason{"a": ReasonCPU}},
		{"no such pool", two, Request{Version: "v", Pool: "gone"}, 0, 1, true, map[string]Reason{"a": ReasonPool}},
		{"no nodes", nil, Request{Version: "v"}, 0, 1, false, map[string]Reason{}},
		{"gpu nodes forbidden for cpu work", []Node{gpuNode("g", 1, 81920)},
			Request{Version: "v", CPU: 1, NoGPUNodes: true}, 0, 1, false, map[string]Reason{"g": ReasonGPUNode}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			plan, err := Place(View{Nodes: tt.nodes}, tt.req)
			var ue *UnplaceableError
			if !errors.As(err, &ue) {
				t.Fatalf("err = %v, want *UnplaceableError", err)
			}
			if len(plan.Placements) != tt.placed || ue.Placed != tt.placed || ue.Unplaced != tt.unplaced ||
				ue.NoSuchPool != tt.noSuchPool || !reflect.DeepEqual(ue.Nodes, tt.reason) {
				t.Errorf("plan %d placements, error %+v", len(plan.Placements), ue)
			}
			if ue.Error() == "" {
				t.Error("empty message")
			}
		})
	}
	if _, err := Place(View{Nodes: two}, Request{Version: "v", CPU: -1}); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("negative CPU: err = %v, want ErrInvalidRequest", err)
	}
}

func TestPlaceDeterministic(t *testing.T) {
	t.Parallel()
	nodes := []Node{cpuNode("c", 8, 8192), cpuNode("a", 8, 8192), cpuNode("b", 8, 8192),
		gpuNode("g", 2, 81920), cpuNode("d", 8, 8192, other(2, 2048))}
	req := Request{Version: "v", CPU: 3, MemoryMiB: 1024, Count: 6}
	first, err := Place(View{Nodes: nodes}, req)
	if err != nil {
		t.Fatal(err)
	}
	reversed := make([]Node, len(nodes))
	for i, n := range nodes {
		reversed[len(nodes)-1-i] = n
	}
	for i := range 5 {
		again, err := Place(View{Nodes: reversed}, req)
		if err != nil || !reflect.DeepEqual(again, first) {
			t.Fatalf("run %d: %v, %v; want %v", i, nodesOf(again), err, nodesOf(first))
		}
	}
	if got, want := nodesOf(first), []string{"d", "d", "a", "a", "b", "b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("nodes = %v, want %v", got, want)
	}
}

func TestApplyLeavesViewUnchanged(t *testing.T) {
	t.Parallel()
	view := View{Nodes: []Node{cpuNode("a", 4, 4096, other(1, 1024))}}
	plan, err := Place(view, Request{Version: "v", CPU: 1, Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	next := view.Apply(plan)
	if len(view.Nodes[0].Allocations) != 1 || len(next.Nodes[0].Allocations) != 3 {
		t.Errorf("allocations before %d, after %d; want 1, 3", len(view.Nodes[0].Allocations), len(next.Nodes[0].Allocations))
	}
	if got := plan.Nodes(); got["a"] != 2 {
		t.Errorf("Plan.Nodes = %v", got)
	}
}
