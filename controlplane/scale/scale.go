// Package scale drives the pure autoscaler and scheduler with the live control plane: every
// tick it observes each version's calls in flight (from the router), decides the workers the
// version should have (controlplane/autoscaler: stable and panic windows, target concurrency,
// keep-warm, maximum, scale to zero, predictive pre-warm), places the missing ones on ready
// nodes (controlplane/scheduler: CPU, memory, GPUs, bin-packing, spread, CPU work off GPU
// nodes) and tells each node's agent, in its heartbeat reply, how many workers of each version
// to keep warm. Workers that fit no ready node make the cheapest matching pool grow.
//
// The agents still start a worker at once for a call that finds none free (the reactive path,
// milliseconds); what this adds is capacity held ahead of and during load: min_instances kept
// warm without calls, panic-mode pre-starts, workers retained over the stable window, and
// workers (and nodes) started before a peak that recurs at the same time of day.
package scale

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/autoscaler"
	"github.com/algos-dev/algos/controlplane/fleet"
	"github.com/algos-dev/algos/controlplane/registry"
	"github.com/algos-dev/algos/controlplane/router"
	"github.com/algos-dev/algos/controlplane/scheduler"
)

// Pools is what the controller needs of the pool reconciler.
type Pools interface {
	// Options returns the pools that may grow, as the scheduler chooses among them.
	Options(ctx context.Context) ([]scheduler.PoolOption, error)
	// Need records that n more nodes of a pool are wanted than are ready (0: none).
	Need(pool string, n int)
}

// Config configures a Controller.
type Config struct {
	Fleet    *fleet.Fleet
	Router   *router.Router
	Registry *registry.Registry
	Pools    Pools // optional: without it, pools do not grow for workers
	// Callers, when set, names the versions that call a version (the call graph): new workers
	// of a callee go to a node running one of its callers when one fits.
	Callers func(version string) []string
	Logger  *slog.Logger
	// Interval between decisions (default 1s).
	Interval time.Duration
	// KeepWarmEvery: how often the algorithms with min_instances are listed (default 30
	// Intervals).
	KeepWarmEvery time.Duration
	// Lead is how far ahead predictive pre-warming looks: at least a node's boot time plus a
	// worker's start (default 3m).
	Lead time.Duration
	// PredictorBucket and PredictorDays size each version's call history (default 5m, 3 days).
	PredictorBucket time.Duration
	PredictorDays   int
	// Forget: a version without calls, workers or keep-warm this long is forgotten (its call
	// history with it). Default PredictorDays days.
	Forget time.Duration
	Now    func() time.Time
}

// Controller is safe for concurrent use.
type Controller struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	versions map[string]*versionState
	keepWarm map[string]*registry.Resolved
	warmAt   time.Time
	status   map[string]Status
	needs    map[string]int // pool → nodes asked for at the last tick (to take the ask back)
}

type versionState struct {
	v          *registry.Resolved
	as         *autoscaler.Version
	cfg        autoscaler.Config
	idle       time.Duration // the version's idle timeout
	pred       *autoscaler.Predictor
	completed  int64
	busy       time.Duration
	service    time.Duration // mean time per call on a node (EWMA)
	lastActive time.Time     // last tick with a call in flight
	lastUsed   time.Time     // last tick with calls, workers or keep-warm
}

// Status is the autoscaler's latest decision for one version (for metrics and the API).
type Status struct {
	Version   string
	Desired   int
	Current   int // workers reported by the nodes, starting ones included
	InFlight  int
	Panic     bool
	Predicted int // workers the prediction asked for (0: none)
	Unplaced  int // desired workers that fit no ready node
}

// New returns a controller.
func New(cfg Config) (*Controller, error) {
	if cfg.Fleet == nil || cfg.Router == nil || cfg.Registry == nil {
		return nil, errors.New("scale: Fleet, Router and Registry are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.KeepWarmEvery <= 0 {
		cfg.KeepWarmEvery = 30 * cfg.Interval
	}
	if cfg.Lead <= 0 {
		cfg.Lead = 3 * time.Minute
	}
	if cfg.PredictorBucket <= 0 {
		cfg.PredictorBucket = 5 * time.Minute
	}
	if cfg.PredictorDays <= 0 {
		cfg.PredictorDays = 3
	}
	if cfg.Forget <= 0 {
		cfg.Forget = time.Duration(cfg.PredictorDays) * 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Controller{cfg: cfg, log: cfg.Logger.With("component", "scale"), versions: map[string]*versionState{}, status: map[string]Status{}}, nil
}

// Run decides every Interval until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if err := c.Tick(tctx); err != nil && ctx.Err() == nil {
				c.log.Warn("autoscaling pass failed", "err", err)
			}
			cancel()
		}
	}
}

// Statuses returns the latest decision per version, sorted by version.
func (c *Controller) Statuses() []Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := slices.Collect(maps.Values(c.status))
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out
}

// configOf turns a version's scaling settings into the autoscaler's configuration.
func configOf(m api.Manifest) (autoscaler.Config, time.Duration) {
	s := m.Scaling
	cfg := autoscaler.Config{
		Target:       float64(s.TargetConcurrency),
		MinInstances: s.MinInstances,
		MaxInstances: s.MaxInstances,
		Predictive:   s.PredictiveOn(),
	}
	idle, err := time.ParseDuration(s.IdleTimeout)
	if err != nil || idle <= 0 {
		idle = 5 * time.Minute // the agent's default
	}
	cfg.IdleTimeout = min(idle, autoscaler.DefaultStableWindow)
	return cfg, idle
}

// Tick takes one round of decisions at the controller's clock.
func (c *Controller) Tick(ctx context.Context) error {
	now := c.cfg.Now()
	if now.Sub(c.warmAt) >= c.cfg.KeepWarmEvery {
		vs, err := c.cfg.Registry.KeepWarm(ctx)
		if err != nil {
			return err
		}
		kw := make(map[string]*registry.Resolved, len(vs))
		for _, v := range vs {
			kw[v.ID] = v
		}
		c.mu.Lock()
		c.keepWarm, c.warmAt = kw, now
		c.mu.Unlock()
	}
	load := c.cfg.Router.Load()
	nodes := c.cfg.Fleet.ReadyNodes()
	current := map[string]int{}            // version → workers on ready nodes
	perNode := map[string]map[string]int{} // node → version → workers
	for _, n := range nodes {
		m := map[string]int{}
		for _, w := range n.Workers() {
			current[w.Version] += w.Workers
			m[w.Version] += w.Workers
		}
		perNode[n.ID] = m
	}

	c.mu.Lock()
	ids := map[string]bool{}
	for id := range load {
		ids[id] = true
	}
	for id := range c.keepWarm {
		ids[id] = true
	}
	for id := range current {
		ids[id] = true
	}
	for id := range c.versions {
		ids[id] = true
	}
	keepWarm := c.keepWarm
	c.mu.Unlock()

	// Resolve the versions (registry cache) and their resources, outside the lock.
	resolved := map[string]*registry.Resolved{}
	for id := range ids {
		if v := keepWarm[id]; v != nil {
			resolved[id] = v
			continue
		}
		v, err := c.cfg.Registry.VersionByID(ctx, id)
		if err != nil {
			continue // deleted: its workers go by their idle timeout
		}
		resolved[id] = v
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	desired := map[string]int{}
	statuses := map[string]Status{}
	for id, v := range resolved {
		st := c.versions[id]
		cfg, idle := configOf(v.Manifest)
		if st == nil || st.v.Digest != v.Digest || st.cfg != cfg {
			old := st
			st = &versionState{v: v, cfg: cfg, idle: idle, as: autoscaler.NewVersion(cfg), lastUsed: now}
			if old != nil && old.v.Digest == v.Digest {
				st.pred, st.completed, st.busy, st.service, st.lastActive = old.pred, old.completed, old.busy, old.service, old.lastActive
			}
			if cfg.Predictive && st.pred == nil {
				st.pred = autoscaler.NewPredictor(c.cfg.PredictorBucket, c.cfg.PredictorDays)
			}
			c.versions[id] = st
		}
		st.v, st.idle = v, idle
		l := load[id]
		if done := l.Completed - st.completed; done > 0 {
			busy := l.Busy - st.busy
			per := busy / time.Duration(done)
			if st.service == 0 {
				st.service = per
			} else {
				st.service = (st.service*4 + per) / 5
			}
			if st.pred != nil {
				st.pred.Record(now, float64(done))
			}
		}
		st.completed, st.busy = l.Completed, l.Busy
		st.as.Observe(now, float64(l.InFlight))
		if l.InFlight > 0 {
			st.lastActive = now
		}
		predicted := 0.0
		if st.pred != nil && st.service > 0 {
			if rate, ok := st.pred.Peak(now, c.cfg.Lead); ok {
				predicted = autoscaler.Concurrency(rate, st.service)
			}
		}
		d := st.as.Decide(now, current[id], predicted)
		want := d.Desired
		// A version idle for its idle timeout keeps only its min_instances: the stable
		// window must not hold workers that the version's own idle_timeout lets go.
		if l.InFlight == 0 && (st.lastActive.IsZero() || now.Sub(st.lastActive) >= st.idle) && d.Predicted == 0 {
			want = min(want, cfg.MinInstances)
		}
		desired[id] = want
		if want > 0 || current[id] > 0 || l.InFlight > 0 || keepWarm[id] != nil {
			st.lastUsed = now
		}
		statuses[id] = Status{Version: id, Desired: want, Current: current[id], InFlight: l.InFlight, Panic: d.Panic, Predicted: d.Predicted}
	}
	for id, st := range c.versions {
		if resolved[id] == nil || now.Sub(st.lastUsed) > c.cfg.Forget {
			delete(c.versions, id)
		}
	}

	floors, unplaced := c.place(nodes, perNode, resolved, desired, current)
	for id, n := range unplaced {
		s := statuses[id]
		s.Unplaced = n
		statuses[id] = s
	}
	c.status = statuses
	for _, n := range nodes {
		var orders []api.WarmOrder
		for id, k := range floors[n.ID] {
			if k > 0 {
				orders = append(orders, api.WarmOrder{Version: id, Digest: resolved[id].Digest, Workers: k})
			}
		}
		sort.Slice(orders, func(i, j int) bool { return orders[i].Version < orders[j].Version })
		n.SetWarm(orders)
	}
	if c.cfg.Pools != nil {
		c.grow(ctx, resolved, unplaced)
	}
	return nil
}

// Placement defaults for versions that declare no CPU or memory: a worker always takes some
// of a node, so that warm workers of undeclared size cannot pile up on one node without end
// (40 per CPU-bound 2-core node), yet small enough that idle workers of undeclared size do not
// make a pool grow.
const (
	defaultCPU       = 0.05
	defaultMemoryMiB = 128
)

// resourcesOf is what one worker of a version takes of a node, for placement.
func resourcesOf(v *registry.Resolved) api.Resources {
	r := v.Manifest.Resources
	if r.CPU <= 0 {
		r.CPU = defaultCPU
	}
	if r.MemoryMiB <= 0 {
		r.MemoryMiB = defaultMemoryMiB
	}
	return r
}

// request is the scheduler's request for workers of a version.
func request(v *registry.Resolved, count int) scheduler.Request {
	r := resourcesOf(v)
	return scheduler.Request{Version: v.ID, CPU: r.CPU, MemoryMiB: r.MemoryMiB, GPUs: r.GPUs, GPUMemMiB: r.GPUMemMiB,
		Pool: v.Manifest.NodePool, Count: count}
}

// view builds the scheduler's view of the ready nodes with the workers they report.
func view(nodes []*fleet.Node, perNode map[string]map[string]int, resolved map[string]*registry.Resolved) scheduler.View {
	var out scheduler.View
	for _, n := range nodes {
		sn := scheduler.Node{ID: n.ID, Pool: n.Pool, CPU: n.Capacity.CPU, MemoryMiB: n.Capacity.MemoryMiB, Draining: n.Draining()}
		for _, g := range n.GPUs() {
			sn.GPUs = append(sn.GPUs, scheduler.GPU{UUID: g.UUID, Model: g.Model, MemoryMiB: g.MemoryMiB})
		}
		gpu := 0
		for id, k := range perNode[n.ID] {
			v := resolved[id]
			if v == nil {
				continue
			}
			r := resourcesOf(v)
			for range k {
				a := scheduler.Allocation{Version: id, CPU: r.CPU, MemoryMiB: r.MemoryMiB, GPUMemMiB: r.GPUMemMiB}
				// The node knows which GPUs it granted; the view spreads them in order.
				for range r.GPUs {
					if gpu < len(sn.GPUs) {
						a.GPUs = append(a.GPUs, sn.GPUs[gpu].UUID)
						gpu++
					}
				}
				if r.GPUs == 0 && r.GPUMemMiB > 0 && len(sn.GPUs) > 0 {
					a.SharedGPU = sn.GPUs[len(sn.GPUs)-1].UUID
				}
				sn.Allocations = append(sn.Allocations, a)
			}
		}
		out.Nodes = append(out.Nodes, sn)
	}
	return out
}

// place turns the desired workers into per-node floors: a version keeps its workers where they
// run (up to its desired count, the nodes with the most first), and the workers it lacks are
// placed by the scheduler one at a time, never more than max_instances on one node. It returns
// the floors and, per version, the workers that fit no ready node.
func (c *Controller) place(nodes []*fleet.Node, perNode map[string]map[string]int, resolved map[string]*registry.Resolved, desired, current map[string]int) (map[string]map[string]int, map[string]int) {
	floors := map[string]map[string]int{}
	for _, n := range nodes {
		floors[n.ID] = map[string]int{}
	}
	unplaced := map[string]int{}
	v := view(nodes, perNode, resolved)
	ids := slices.Sorted(maps.Keys(desired))
	for _, id := range ids {
		want := desired[id]
		if want <= 0 {
			continue
		}
		// Keep existing workers, the fullest nodes first.
		var have []string
		for _, n := range nodes {
			if perNode[n.ID][id] > 0 {
				have = append(have, n.ID)
			}
		}
		sort.SliceStable(have, func(i, j int) bool { return perNode[have[i]][id] > perNode[have[j]][id] })
		left := want
		for _, nid := range have {
			k := min(perNode[nid][id], left)
			floors[nid][id] = k
			left -= k
		}
		if left <= 0 {
			continue
		}
		ver := resolved[id]
		maxPer := ver.Manifest.Scaling.MaxInstances
		for ; left > 0; left-- {
			vv := v
			if maxPer > 0 { // nodes at max_instances for this version take no more
				vv = scheduler.View{Nodes: slices.Clone(v.Nodes)}
				for i, n := range vv.Nodes {
					if max(perNode[n.ID][id], floors[n.ID][id]) >= maxPer {
						vv.Nodes[i].Draining = true
					}
				}
			}
			plan, err := c.placeNear(vv, perNode, request(ver, 1))
			if err != nil || len(plan.Placements) == 0 {
				unplaced[id] = left
				break
			}
			nid := plan.Placements[0].NodeID
			floors[nid][id]++
			v = v.Apply(plan)
		}
	}
	return floors, unplaced
}

// placeNear places one worker on a node that runs a caller of its version when one fits (the
// calls between them then stay on the node), else wherever the scheduler puts it.
func (c *Controller) placeNear(v scheduler.View, perNode map[string]map[string]int, req scheduler.Request) (scheduler.Plan, error) {
	if c.cfg.Callers != nil {
		if callers := c.cfg.Callers(req.Version); len(callers) > 0 {
			near := scheduler.View{Nodes: slices.Clone(v.Nodes)}
			found := false
			for i, n := range near.Nodes {
				runs := false
				for _, cv := range callers {
					if perNode[n.ID][cv] > 0 {
						runs = true
						break
					}
				}
				if runs && !n.Draining {
					found = true
				} else {
					near.Nodes[i].Draining = true
				}
			}
			if found {
				if plan, err := scheduler.Place(near, req); err == nil && len(plan.Placements) > 0 {
					return plan, nil
				}
			}
		}
	}
	return scheduler.Place(v, req)
}

// grow asks the cheapest matching pool for the nodes the unplaced workers need.
func (c *Controller) grow(ctx context.Context, resolved map[string]*registry.Resolved, unplaced map[string]int) {
	if len(unplaced) == 0 {
		// Every worker placed: nothing to read of the pools, only earlier asks to take back.
		for pool := range c.needs {
			c.cfg.Pools.Need(pool, 0)
		}
		c.needs = nil
		return
	}
	opts, err := c.cfg.Pools.Options(ctx)
	if err != nil {
		c.log.Warn("listing pools to grow failed", "err", err)
		return
	}
	need := map[string]int{}
	for id, k := range unplaced {
		ver := resolved[id]
		req := request(ver, k)
		p, err := scheduler.Cheapest(opts, req)
		if err != nil {
			continue // no pool can take it: the status says so (Unplaced)
		}
		per := perNode(p.Type, req)
		need[p.Name] += (k + per - 1) / per
	}
	for pool := range c.needs {
		if need[pool] == 0 {
			c.cfg.Pools.Need(pool, 0)
		}
	}
	for pool, n := range need {
		c.cfg.Pools.Need(pool, n)
	}
	c.needs = need
}

// perNode is how many workers of req one node of type t holds (at least 1).
func perNode(t scheduler.InstanceType, req scheduler.Request) int {
	n := 1 << 20
	if req.CPU > 0 && t.VCPU > 0 {
		n = min(n, int(t.VCPU/req.CPU))
	}
	if req.MemoryMiB > 0 && t.MemoryMiB > 0 {
		n = min(n, t.MemoryMiB/req.MemoryMiB)
	}
	if req.GPUs > 0 && t.GPUs > 0 {
		n = min(n, t.GPUs/req.GPUs)
	} else if req.GPUMemMiB > 0 && t.GPUMemMiB > 0 {
		n = min(n, t.GPUs*(t.GPUMemMiB/req.GPUMemMiB))
	}
	if req.Count > 0 {
		n = min(n, max(req.Count, 1))
	}
	return max(n, 1)
}
