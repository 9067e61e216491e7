package router

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/fleet"
	"github.com/algos-dev/algos/controlplane/store"
	"github.com/algos-dev/algos/controlplane/store/sqlite"
)

// TestPickKeepsCPUWorkOffGPUNodes: GPU work goes only to nodes with GPUs; CPU work goes to a
// node without GPUs whenever one is ready, even a busier one, and to a GPU node only when no
// other is ready.
func TestPickKeepsCPUWorkOffGPUNodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	token, hash, err := fleet.NewJoinToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreatePool(ctx, store.Pool{Name: "mixed", Cloud: "local", JoinTokenHash: hash, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	fl, err := fleet.New(ctx, fleet.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	join := func(name string, c api.Capacity) *fleet.Node {
		reg, err := fl.Register(ctx, token, api.RegisterNode{InstanceID: name, Address: "http://127.0.0.1:1", Capacity: c,
			InvokeToken: fmt.Sprintf("%-16s", name)})
		if err != nil {
			t.Fatal(err)
		}
		n, err := fl.Authenticate(reg.NodeID, reg.Token)
		if err != nil {
			t.Fatal(err)
		}
		fl.Heartbeat(n, api.Heartbeat{InvokeToken: fmt.Sprintf("%-16s", name)})
		return n
	}
	gpuNode := join("gpu", api.Capacity{CPU: 96, GPUs: 8, GPUDevices: []api.GPUDevice{{UUID: "GPU-1", Model: "H100", MemoryMiB: 81559}}})
	r, err := New(Config{Fleet: fl})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := r.pick("o/cpu/1.0.0", "", false, ""); n != gpuNode {
		t.Fatalf("CPU work with only a GPU node ready: got %v, want the GPU node as a last resort", n)
	}
	cpuNode := join("cpu", api.Capacity{CPU: 4})
	r.loadOf(cpuNode.ID).total.Add(5) // busier than the GPU node
	if n, _ := r.pick("o/cpu/1.0.0", "", false, ""); n != cpuNode {
		t.Fatalf("CPU work: got node %v, want the CPU node", n.ID)
	}
	if n, _ := r.pick("o/gpu/1.0.0", "", true, ""); n != gpuNode {
		t.Fatalf("GPU work: got node %v, want the GPU node", n.ID)
	}
	gpuNode.SetDraining(true)
	if n, _ := r.pick("o/gpu/1.0.0", "", true, ""); n != nil {
		t.Fatalf("GPU work with the only GPU node draining: got %v, want none", n.ID)
	}
}
