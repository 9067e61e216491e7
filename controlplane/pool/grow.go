package pool

import (
	"context"
	"encoding/json"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/clouds"
	"github.com/algos-dev/algos/controlplane/scheduler"
)

// needTTL: a need not renewed this long is forgotten (the autoscaler renews it every tick).
const needTTL = 30 * time.Second

type need struct {
	nodes int
	at    time.Time
}

// Need records that the worker autoscaler wants n more nodes in pool than are ready now, for
// workers that fit no ready node (0 takes the need back). The pool's next reconcile grows it,
// within max_size, by what its booting nodes do not already cover. It never blocks.
func (r *Reconciler) Need(pool string, n int) {
	r.demandMu.Lock()
	if r.needs == nil {
		r.needs = map[string]need{}
	}
	old := r.needs[pool].nodes
	if n <= 0 {
		delete(r.needs, pool)
	} else {
		r.needs[pool] = need{nodes: n, at: r.cfg.Now()}
	}
	r.demandMu.Unlock()
	if n > old {
		r.Trigger()
	}
}

// needOf returns the fresh need of a pool.
func (r *Reconciler) needOf(pool string) int {
	r.demandMu.Lock()
	defer r.demandMu.Unlock()
	nd, ok := r.needs[pool]
	if !ok || r.cfg.Now().Sub(nd.at) > needTTL {
		return 0
	}
	return nd.nodes
}

// Options returns the autoscaled pools (min_size < max_size) as the scheduler chooses among
// them when a worker fits no node: each pool's instance type (from its cloud's catalogue, or
// else from one of its nodes), its size and its maximum.
func (r *Reconciler) Options(ctx context.Context) ([]scheduler.PoolOption, error) {
	ps, err := r.cfg.Store.ListPools(ctx)
	if err != nil {
		return nil, err
	}
	var out []scheduler.PoolOption
	for _, p := range ps {
		var spec api.PoolSpec
		if p.Deleting || json.Unmarshal(p.Spec, &spec) != nil || spec.MinSize >= spec.MaxSize {
			continue
		}
		t, ok := r.poolType(ctx, p.Name, p.Cloud, spec)
		if !ok {
			continue
		}
		out = append(out, scheduler.PoolOption{Name: p.Name, Cloud: p.Cloud, Type: t, Size: spec.DesiredSize, MaxSize: spec.MaxSize})
	}
	return out, nil
}

// poolType describes one node of a pool: what one of its nodes reported (the capacity workers
// really get: a node's memory is less than its type's nominal size), else the cloud's instance
// type, else nothing (the pool cannot be chosen yet). Preferring the reported capacity stops a
// pool from growing, node after node, for a worker that the catalogue says fits and no node of
// the pool can take.
func (r *Reconciler) poolType(ctx context.Context, pool, cloud string, spec api.PoolSpec) (scheduler.InstanceType, bool) {
	for _, n := range r.cfg.Fleet.Nodes() {
		if n.Pool != pool {
			continue
		}
		out := scheduler.InstanceType{Name: spec.InstanceType, VCPU: n.Capacity.CPU, MemoryMiB: n.Capacity.MemoryMiB, GPUs: n.Capacity.GPUs}
		for _, g := range n.GPUs() {
			out.GPUModel, out.GPUMemMiB = g.Model, max(out.GPUMemMiB, g.MemoryMiB)
		}
		if t, ok := r.catalogueType(ctx, cloud, spec); ok {
			out.PricePerHour = t.PricePerHour
		}
		return out, true
	}
	return r.catalogueType(ctx, cloud, spec)
}

// catalogueType is the pool's instance type as its cloud lists it.
func (r *Reconciler) catalogueType(ctx context.Context, cloud string, spec api.PoolSpec) (scheduler.InstanceType, bool) {
	g, err := r.driver(ctx, cloud, spec.Account)
	if err != nil {
		return scheduler.InstanceType{}, false
	}
	it, ok := g.(clouds.InstanceTypes)
	if !ok {
		return scheduler.InstanceType{}, false
	}
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	ts, err := it.InstanceTypes(tctx)
	cancel()
	if err != nil {
		return scheduler.InstanceType{}, false
	}
	for _, t := range ts {
		if t.Name == spec.InstanceType || (spec.InstanceType == "" && len(ts) == 1) {
			out := scheduler.InstanceType{Name: t.Name, VCPU: float64(t.VCPU), MemoryMiB: t.MemoryMiB, PricePerHour: t.PricePerHour}
			for _, g := range t.GPUs {
				out.GPUs += g.Count
				out.GPUModel = g.Model
				out.GPUMemMiB = g.MemoryMiB
			}
			return out, true
		}
	}
	return scheduler.InstanceType{}, false
}
