package sim

import (
	"fmt"
	"strconv"
	"time"

	"github.com/algos-dev/algos/controlplane/autoscaler"
	"github.com/algos-dev/algos/controlplane/scheduler"
)

// Algos is algos' own provisioning, driving the control plane's pure packages:
//
//   - every second, each algorithm's autoscaler.Version observes the calls in flight (served
//     and queued, averaged over the second) and decides the workers wanted — stable and panic
//     windows, a target concurrency per worker, scale to zero after the idle timeout — with,
//     when Prewarm is on, the concurrency an autoscaler.Predictor expects over the next Lead
//     (times 1 + Margin) as a floor;
//   - new workers are placed on machines that are up by scheduler.Place (a whole GPU each);
//     those that fit nowhere wait, and the pool grows (scheduler.Cheapest) by as many machines
//     as are not already booting for them; workers start on a machine as soon as it is up;
//   - workers no longer wanted go (those not started first, then idle ones, then busy ones
//     after their call), and machines empty for Cooldown are drained and removed
//     (autoscaler.NodesToRemove, autoscaler.Drain);
//   - calls wait in the bounded queue while capacity arrives.
//
// All algorithms share one pool of machines.
type Algos struct {
	// Autoscaler configures every algorithm's Version; Predictive is set from Prewarm.
	Autoscaler autoscaler.Config
	// Prewarm turns predictive pre-warm on.
	Prewarm bool
	// Lead is how far ahead the predictor looks (default the boot time plus the worker start
	// plus one predictor bucket); it is never less than the boot time plus the worker start.
	Lead time.Duration
	// Margin scales the predicted rate up by 1 + Margin, against Poisson noise around it.
	Margin float64
	// PredictorBucket and PredictorDays configure the Predictor (defaults 5 min, 7 days).
	PredictorBucket time.Duration
	PredictorDays   int
	// Cooldown is how long a machine stays empty before it is drained and removed (default
	// 5 min); MinNodes machines are always kept.
	Cooldown time.Duration
	MinNodes int
}

// DefaultAlgos is the algos strategy with the parameters tuned on SeeFood (see
// docs/economics.md): a target of 1.1 calls in flight (served or queued) per worker, a 5-minute
// stable window, panic only when the 12-second demand reaches 6× the workers, pre-warm
// looking 7 minutes ahead with a 10% margin, and a 1-minute cool-down for empty machines.
func DefaultAlgos() Algos {
	return Algos{
		Autoscaler: autoscaler.Config{
			Target:         1.1,
			StableWindow:   5 * time.Minute,
			PanicWindow:    12 * time.Second,
			PanicThreshold: 6,
		},
		Prewarm:  true,
		Lead:     7 * time.Minute,
		Margin:   0.1,
		Cooldown: time.Minute,
	}
}

// Name implements Strategy.
func (a Algos) Name() string {
	if a.Prewarm {
		return "algos"
	}
	return "algos (no pre-warm)"
}

func (a Algos) key() string {
	if a.Prewarm {
		return "algos"
	}
	return "algos_noprewarm"
}

// algosRun is an Algos strategy's state in one run.
type algosRun struct {
	p        Algos
	lead     time.Duration
	cooldown time.Duration
	vers     []*algoVersion
	pending  []*worker // workers waiting for a machine, oldest first
	pools    []scheduler.PoolOption
	drains   []*autoscaler.Drain
	byName   map[string]*node
}

// algoVersion is one algorithm's autoscaling state.
type algoVersion struct {
	v        *autoscaler.Version
	pred     *autoscaler.Predictor
	lastConc float64
	req      scheduler.Request
	workers  []*worker // live workers, oldest first (pruned as they go)
}

func (a Algos) newRun(e *engine) runner {
	r := &algosRun{p: a, lead: a.Lead, cooldown: a.Cooldown, byName: make(map[string]*node)}
	minLead := e.cfg.Boot + e.cfg.WorkerStart
	bucket := a.PredictorBucket
	if bucket <= 0 {
		bucket = autoscaler.DefaultPredictorBucket
	}
	if r.lead <= 0 {
		r.lead = minLead + bucket
	}
	r.lead = max(r.lead, minLead)
	if r.cooldown <= 0 {
		r.cooldown = 5 * time.Minute
	}
	cfg := a.Autoscaler
	cfg.Predictive = a.Prewarm
	for _, t := range e.tenants {
		r.vers = append(r.vers, &algoVersion{
			v:    autoscaler.NewVersion(cfg),
			pred: autoscaler.NewPredictor(bucket, a.PredictorDays),
			req: scheduler.Request{
				Version: t.spec.Name, Pool: poolName, CPU: workerCPU, MemoryMiB: workerMemMiB,
				GPUs: 1, GPUModel: gpuModel,
			},
		})
	}
	r.pools = []scheduler.PoolOption{{
		Name: poolName, Cloud: "sim", MaxSize: e.cfg.MaxNodes,
		Type: scheduler.InstanceType{
			Name: "gpu-1x", VCPU: nodeCPU, MemoryMiB: nodeMemMiB, GPUModel: gpuModel, GPUs: 1,
			GPUMemMiB: gpuMemMiB, PricePerHour: e.cfg.MachineMonth / hoursPerMonth,
		},
	}}
	for range a.MinNodes {
		r.launch(e)
	}
	return r
}

func (r *algosRun) tick(e *engine) {
	now := e.clock()
	for i, t := range e.tenants {
		av := r.vers[i]
		// The calls in flight, served and queued, averaged over the last second.
		conc := t.concArea - av.lastConc
		av.lastConc = t.concArea
		av.v.Observe(now, conc)
		predicted := 0.0
		if r.p.Prewarm {
			if rate, ok := av.pred.Peak(now, r.lead); ok {
				predicted = autoscaler.Concurrency(rate*(1+r.p.Margin), e.cfg.Service)
			}
		}
		d := av.v.Decide(now, t.workers, predicted)
		r.scale(e, t, av, d.Desired)
		if t.second > 0 {
			av.pred.Record(now.Add(-time.Second), float64(t.second))
		}
		t.second = 0
	}
	r.place(e)
	r.grow(e)
	r.shrink(e, now)
}

func (r *algosRun) nodeReady(e *engine, n *node) {
	r.byName[n.name] = n
	r.place(e)
}

// scale adds or removes workers of one algorithm to reach desired.
func (r *algosRun) scale(e *engine, t *tenant, av *algoVersion, desired int) {
	for t.workers < desired {
		w := e.newWorker(t)
		r.pending = append(r.pending, w)
		av.workers = append(av.workers, w)
	}
	if t.workers <= desired {
		return
	}
	// Prune the gone, then remove the cheapest to lose: not started, newest first, then
	// idle, then busy (after their call).
	live := av.workers[:0]
	for _, w := range av.workers {
		if w.state != gone {
			live = append(live, w)
		}
	}
	av.workers = live
	for t.workers > desired {
		var victim *worker
		for i := len(av.workers) - 1; i >= 0; i-- {
			w := av.workers[i]
			if w.state == gone || w.retiring {
				continue
			}
			// workerState orders them already: pending < starting < idle < busy.
			if victim == nil || w.state < victim.state {
				victim = w
			}
		}
		if victim == nil {
			return
		}
		e.removeWorker(victim)
	}
}

// place puts waiting workers on machines that are up, oldest first, through the scheduler.
func (r *algosRun) place(e *engine) {
	live := r.pending[:0]
	for _, w := range r.pending {
		if w.state == pending {
			live = append(live, w)
		}
	}
	r.pending = live
	if len(r.pending) == 0 {
		return
	}
	var view scheduler.View
	for _, n := range e.nodes {
		if n.ready && !n.gone {
			view.Nodes = append(view.Nodes, n.view())
		}
	}
	placed := 0
	for _, w := range r.pending {
		plan, err := scheduler.Place(view, r.vers[w.t.idx].req)
		if err != nil || len(plan.Placements) == 0 {
			break // the others, asking for the same resources, fit nowhere either
		}
		pl := plan.Placements[0]
		pl.Allocation.Worker = strconv.Itoa(w.id)
		e.startWorker(w, r.byName[pl.NodeID], pl.Allocation, e.cfg.WorkerStart.Seconds())
		view = view.Apply(plan)
		placed++
	}
	r.pending = r.pending[placed:]
}

// grow asks the cloud for the machines the waiting workers need beyond those booting.
func (r *algosRun) grow(e *engine) {
	booting := 0
	for _, n := range e.nodes {
		if !n.ready {
			booting++
		}
	}
	for need := len(r.pending) - booting; need > 0; need-- {
		if !r.launch(e) {
			return
		}
	}
}

// launch grows the cheapest pool fitting a worker by one machine; false when none can grow.
func (r *algosRun) launch(e *engine) bool {
	r.pools[0].Size = len(e.nodes)
	req := r.vers[0].req
	if _, err := scheduler.Cheapest(r.pools, req); err != nil {
		return false
	}
	e.launchNode(nil, e.cfg.Boot.Seconds())
	return true
}

// shrink drains the machines empty past the cool-down and removes the drained ones.
func (r *algosRun) shrink(e *engine, now time.Time) {
	cool := r.cooldown.Seconds()
	due := false
	for _, n := range e.nodes {
		if n.ready && !n.draining && n.emptySince >= 0 && e.now-n.emptySince >= cool {
			due = true
			break
		}
	}
	if due {
		states := make([]autoscaler.NodeState, 0, len(e.nodes))
		for _, n := range e.nodes {
			s := autoscaler.NodeState{ID: n.name, Workers: len(n.workers), InFlight: n.busy, Draining: n.draining}
			if n.ready && n.emptySince >= 0 {
				s.EmptySince = at(n.emptySince)
			}
			states = append(states, s)
		}
		for _, id := range autoscaler.NodesToRemove(states, now, r.cooldown, r.p.MinNodes) {
			n := r.byName[id]
			if n == nil {
				panic(fmt.Sprintf("sim: unknown node %q", id))
			}
			n.draining = true
			r.drains = append(r.drains, autoscaler.StartDrain(id, now))
		}
	}
	keep := r.drains[:0]
	for _, d := range r.drains {
		n := r.byName[d.NodeID]
		d.Observe(now, n.busy)
		if d.Removable() && len(n.workers) == 0 {
			e.removeNode(n)
			delete(r.byName, n.name)
			continue
		}
		keep = append(keep, d)
	}
	r.drains = keep
}
