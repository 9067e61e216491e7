//go:build linux

package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/server"
)

// TestKeepWarmGrowsPool: a version asking for two warm workers, each needing a whole node's
// CPUs, in a pool at 0 nodes: without any call, the autoscaler places one worker per node,
// the pool grows to two nodes for them and both workers start and stay past their idle timeout;
// a call is served warm. Once min_instances goes back to 0, the workers go after their idle
// timeout, then the nodes.
func TestKeepWarmGrowsPool(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.Start(ctx, server.Config{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: testLogger(t), AgentBinary: algosBin, BootstrapAccount: "demo",
		PoolInterval: 200 * time.Millisecond, HeartbeatInterval: 300 * time.Millisecond, ScaleDownAfter: time.Second,
		ScaleInterval: 100 * time.Millisecond,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	e := &env{t: t, srv: s, client: api.NewClient(s.URL, s.Key), cancel: cancel}
	t.Cleanup(e.stop)
	bg := context.Background()
	types, err := e.client.InstanceTypes(bg, api.InstanceTypeFilter{Cloud: "local"})
	if err != nil || len(types) != 1 {
		t.Fatalf("local instance types: %+v %v", types, err)
	}
	cpus := float64(types[0].VCPU)
	if _, err := e.client.CreatePool(bg, api.CreatePool{Name: "elastic", Spec: api.PoolSpec{Cloud: "local", InstanceType: "local", MinSize: 0, DesiredSize: 0, MaxSize: 3}}); err != nil {
		t.Fatal(err)
	}
	settings := api.Manifest{NodePool: "elastic", Resources: api.Resources{CPU: cpus},
		Scaling: api.Scaling{MinInstances: 2, MaxInstances: 2, IdleTimeout: "1s"}}
	if _, err := e.client.CreateAlgorithm(bg, "demo", api.CreateAlgorithm{Name: "warm", Settings: settings}); err != nil {
		t.Fatal(err)
	}
	e.publishDir(e.client, "demo", "warm", filepath.Join("testdata", "algos", "idle"), api.PublishOptions{})

	workersOn := func() map[string]int {
		out := map[string]int{}
		for _, n := range e.srv.Fleet.ReadyNodes() {
			for _, w := range n.Workers() {
				if w.Version == "demo/warm/1.0.0" {
					out[n.ID] += w.Workers - w.Starting
				}
			}
		}
		return out
	}
	waitFor(t, 60*time.Second, "two nodes with one warm worker each, without a call", func() bool {
		w := workersOn()
		return len(w) == 2 && w[e.srv.Fleet.ReadyNodes()[0].ID] == 1 && w[e.srv.Fleet.ReadyNodes()[1].ID] == 1
	})
	time.Sleep(3 * time.Second) // three idle timeouts: the floor holds them
	if w := workersOn(); len(w) != 2 {
		t.Fatalf("warm workers after their idle timeout: %v", w)
	}
	if p, _ := e.client.GetPool(bg, "elastic"); p.Spec.DesiredSize != 2 {
		t.Fatalf("pool after placing two one-node workers: %+v", p.Spec)
	}
	r := e.do(http.MethodGet, "/metrics", e.srv.Key, "", nil)
	if !strings.Contains(string(r.body), `algos_workers_desired{algorithm="demo/warm",version="1.0.0"} 2`) {
		t.Fatalf("/metrics lacks the desired workers:\n%s", grepLines(string(r.body), "demo/warm"))
	}
	e.call("demo/warm", `1`).expect(t, 200, `"awake"`)

	settings.Scaling.MinInstances = 0
	if _, err := e.client.UpdateAlgorithm(bg, "demo", "warm", api.CreateAlgorithm{Name: "warm", Settings: settings}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "the workers, then the nodes, to go", func() bool {
		p, err := e.client.GetPool(bg, "elastic")
		return err == nil && p.Size == 0 && p.Spec.DesiredSize == 0
	})
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
