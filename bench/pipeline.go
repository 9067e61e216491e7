package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"

	"github.com/algos-dev/algos/api"
)

// pipelineBench measures the talk's three-step pipeline (a caller and two steps, each step
// called from inside the caller's worker through its node's agent) with the steps served on
// the caller's node (co-located) and with the steps pinned to another node (pool "far"), and
// prints the latencies and their ratio. On one host both nodes are loopback processes, so the
// difference is what co-location saves in routing and worker placement, not network time.
func pipelineBench(ctx context.Context, c *api.Client, endpoint, key string, n int) error {
	if _, err := c.CreatePool(ctx, api.CreatePool{Name: "far", Spec: api.PoolSpec{Cloud: "local", InstanceType: "local", MinSize: 1, DesiredSize: 1, MaxSize: 1}}); err != nil {
		return err
	}
	mainV, err := publish(ctx, c, "bench/algorithms/pipe-main")
	if err != nil {
		return err
	}
	if _, err := c.UpdateAlgorithm(ctx, "demo", "bench-pipe-main", api.CreateAlgorithm{Name: "bench-pipe-main", Settings: api.Manifest{NodePool: "default"}}); err != nil {
		return err
	}
	near, err := publish(ctx, c, "bench/algorithms/pipe-step")
	if err != nil {
		return err
	}
	// The same step, published again under another name and pinned to the far pool.
	if _, err := c.CreateAlgorithm(ctx, "demo", api.CreateAlgorithm{Name: "bench-pipe-step-far", Settings: api.Manifest{NodePool: "far"}}); err != nil {
		return err
	}
	art, _, err := api.PackSource("bench/algorithms/pipe-step")
	if err != nil {
		return err
	}
	fv, err := c.PublishVersion(ctx, "demo", "bench-pipe-step-far", bytes.NewReader(art), api.PublishOptions{})
	if err != nil {
		return err
	}
	far := fv.Owner + "/" + fv.Name + "/" + fv.Version
	hc := &http.Client{Timeout: time.Minute}
	call := func(step string) (time.Duration, error) {
		in, _ := json.Marshal(map[string]any{"steps": []string{step, step}, "data": []int{1, 2, 3}})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/v1/algo/"+mainV, bytes.NewReader(in))
		req.Header.Set("Authorization", "Simple "+key)
		req.Header.Set("Content-Type", "application/json")
		start := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Contains(b, []byte("[3,4,5]")) {
			return 0, fmt.Errorf("pipeline call: %d %s", resp.StatusCode, b)
		}
		return time.Since(start), nil
	}
	// Warm both variants (far pool boot, worker starts), then measure them interleaved.
	deadline := time.Now().Add(2 * time.Minute)
	for _, s := range []string{near, far} {
		for {
			if _, err := call(s); err == nil {
				break
			} else if time.Now().After(deadline) {
				return err
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	var lat [2][]time.Duration
	for i := 0; i < n; i++ {
		for j, s := range []string{near, far} {
			d, err := call(s)
			if err != nil {
				return err
			}
			lat[j] = append(lat[j], d)
		}
	}
	p50 := func(ds []time.Duration) time.Duration {
		s := append([]time.Duration(nil), ds...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return s[len(s)/2]
	}
	co, cross := p50(lat[0]), p50(lat[1])
	metric("pipeline_colocated_p50_ms", ms(co))
	metric("pipeline_cross_node_p50_ms", ms(cross))
	metric("pipeline_colocated_speedup", float64(cross)/float64(co))
	g, err := c.CallGraph(ctx, "demo", "bench-pipe-main")
	if err != nil {
		return err
	}
	for _, e := range g.Edges {
		if e.Callee == near {
			metric("pipeline_colocated_same_node_ratio", float64(e.SameNode)/float64(max(e.Calls, 1)))
		}
		if e.Callee == far {
			metric("pipeline_cross_node_same_node_ratio", float64(e.SameNode)/float64(max(e.Calls, 1)))
		}
	}
	return nil
}
