package sim

import (
	"fmt"
	"math"
)

// Strategy provisions machines and workers for a scenario: Fixed, Reactive or Algos. A
// Strategy is a value; each run gets its own state from it, so one Strategy may be run many
// times, concurrently too.
type Strategy interface {
	// Name labels the strategy in reports.
	Name() string
	// key names the strategy in METRIC lines.
	key() string
	// newRun sets up the strategy's initial machines on the engine and returns its state.
	newRun(e *engine) runner
}

// runner is one run's strategy state. The engine calls tick every simulated second (after
// accounting) and nodeReady when a machine comes up.
type runner interface {
	tick(e *engine)
	nodeReady(e *engine, n *node)
}

// Fixed is capacity for the peak: each algorithm gets, from the start and for good, the
// machines its peak rate needs at the given utilisation (1: the bare peak, as the talk's 40
// machines for SeeFood), each machine running one worker of its algorithm.
type Fixed struct {
	// Utilisation is the load per machine at the peak (default 1).
	Utilisation float64
}

// Name implements Strategy.
func (Fixed) Name() string { return "fixed for peak" }

func (Fixed) key() string { return "fixed" }

func (f Fixed) newRun(e *engine) runner {
	u := f.Utilisation
	if u <= 0 {
		u = 1
	}
	for _, t := range e.tenants {
		n := ceil(t.spec.Curve.MaxRate() * e.service / u)
		for range min(max(n, 1), e.cfg.MaxNodes) {
			m := e.launchNode(t, 0)
			m.retire = true
		}
	}
	return fixedRun{}
}

// fixedRun is Fixed's (stateless) run.
type fixedRun struct{}

func (fixedRun) tick(*engine) {}

func (fixedRun) nodeReady(e *engine, n *node) { vmReady(e, n, 0) }

// vmReady starts the worker baked into an algorithm's VM image on a machine that came up.
func vmReady(e *engine, n *node, start float64) {
	w := e.newWorker(n.owner)
	e.startWorker(w, n, w.alloc, start)
}

// Reactive is VM autoscaling alone, as an AWS Auto Scaling group per algorithm with a
// target-tracking policy on utilisation (the GPU's busy fraction, the analogue of CPU
// utilisation): every Period it measures the average utilisation of the machines in service
// over the last period and computes desired = ceil(in service × utilisation / Target). It scales
// out when desired has exceeded the group's capacity (machines up or booting) for ScaleOut
// consecutive periods, to desired, and in when desired has stayed below capacity for ScaleIn
// consecutive periods, to the highest desired of those periods, removing booting machines
// first, then idle ones, then busy ones after their call. A new machine serves after the boot
// time plus the worker start (its model loading); it is not counted in the metric before. No
// scale to zero (at least Min machines), no prediction.
type Reactive struct {
	// Target utilisation (default 0.6).
	Target float64
	// Period of the metric and the evaluations, in seconds (default 60, CloudWatch's).
	Period int
	// ScaleOut and ScaleIn are the consecutive periods needed (defaults 3 and 15, the
	// datapoints of target tracking's high and low alarms).
	ScaleOut, ScaleIn int
	// Min machines per algorithm (default 1).
	Min int
}

// withDefaults fills Reactive's zero fields.
func (r Reactive) withDefaults() Reactive {
	if r.Target <= 0 {
		r.Target = 0.6
	}
	if r.Period <= 0 {
		r.Period = 60
	}
	if r.ScaleOut <= 0 {
		r.ScaleOut = 3
	}
	if r.ScaleIn <= 0 {
		r.ScaleIn = 15
	}
	if r.Min <= 0 {
		r.Min = 1
	}
	return r
}

// Name implements Strategy.
func (r Reactive) Name() string {
	return fmt.Sprintf("reactive VMs (%.0f%%)", 100*r.withDefaults().Target)
}

func (r Reactive) key() string { return fmt.Sprintf("reactive%.0f", 100*r.withDefaults().Target) }

// reactiveRun is a Reactive strategy's state in one run.
type reactiveRun struct {
	p      Reactive
	groups []*asg
}

// asg is one algorithm's Auto Scaling group.
type asg struct {
	t        *tenant
	nodes    []*node // machines not being removed, booting ones included
	lastBusy float64
	history  []int // desired at the last evaluations, newest last
}

func (r Reactive) newRun(e *engine) runner {
	s := &reactiveRun{p: r.withDefaults()}
	for _, t := range e.tenants {
		g := &asg{t: t}
		s.groups = append(s.groups, g)
		// Start sized for the first second's load, the machines already in service.
		n := max(s.p.Min, ceil(t.spec.Curve.Rate(0)*e.service/s.p.Target))
		for range n {
			m := e.launchNode(t, 0)
			m.retire = true
			g.nodes = append(g.nodes, m)
		}
	}
	return s
}

func (s *reactiveRun) nodeReady(e *engine, n *node) {
	start := e.cfg.WorkerStart.Seconds()
	if e.now == 0 {
		start = 0
	}
	vmReady(e, n, start)
}

func (s *reactiveRun) tick(e *engine) {
	if int64(e.now)%int64(s.p.Period) != 0 || e.now == 0 {
		return
	}
	for _, g := range s.groups {
		s.evaluate(e, g)
	}
}

// evaluate is one target-tracking evaluation of a group.
func (s *reactiveRun) evaluate(e *engine, g *asg) {
	busyAvg := (g.t.busyArea - g.lastBusy) / float64(s.p.Period)
	g.lastBusy = g.t.busyArea
	inService := 0
	for _, n := range g.nodes {
		for _, w := range n.workers {
			if w.state == idle || w.state == busy {
				inService++
			}
		}
	}
	if inService == 0 {
		return // no datapoint: nothing in service yet
	}
	util := min(busyAvg/float64(inService), 1)
	desired := ceil(float64(inService) * util / s.p.Target)
	desired = min(max(desired, s.p.Min), e.cfg.MaxNodes)
	g.history = append(g.history, desired)
	if len(g.history) > s.p.ScaleIn {
		g.history = g.history[1:]
	}
	capacity := len(g.nodes)
	if last := lastN(g.history, s.p.ScaleOut); last != nil && allOf(last, func(d int) bool { return d > capacity }) {
		for range desired - capacity {
			m := e.launchNode(g.t, e.cfg.Boot.Seconds())
			m.retire = true
			g.nodes = append(g.nodes, m)
		}
		g.history = g.history[:0]
		return
	}
	if last := lastN(g.history, s.p.ScaleIn); last != nil && allOf(last, func(d int) bool { return d < capacity }) {
		target := 0
		for _, d := range last {
			target = max(target, d)
		}
		s.shrink(e, g, capacity-target)
		g.history = g.history[:0]
	}
}

// shrink removes k machines from a group: booting first (newest first), then idle, then busy.
func (s *reactiveRun) shrink(e *engine, g *asg, k int) {
	rank := func(n *node) int {
		switch {
		case !n.ready || len(n.workers) == 0:
			return 0
		case n.workers[0].state == starting:
			return 1
		case n.busy == 0:
			return 2
		}
		return 3
	}
	for ; k > 0 && len(g.nodes) > 0; k-- {
		best := len(g.nodes) - 1
		for i := len(g.nodes) - 1; i >= 0; i-- {
			if rank(g.nodes[i]) < rank(g.nodes[best]) {
				best = i
			}
		}
		n := g.nodes[best]
		g.nodes = append(g.nodes[:best], g.nodes[best+1:]...)
		if len(n.workers) == 0 {
			e.removeNode(n) // still booting: the cloud stops it
			continue
		}
		for _, w := range append([]*worker(nil), n.workers...) {
			e.removeWorker(w) // the node goes with its last worker
		}
	}
}

func lastN(h []int, n int) []int {
	if len(h) < n {
		return nil
	}
	return h[len(h)-n:]
}

func allOf(xs []int, f func(int) bool) bool {
	for _, x := range xs {
		if !f(x) {
			return false
		}
	}
	return true
}

// ceil rounds up, forgiving floating-point noise.
func ceil(x float64) int {
	if x <= 0 {
		return 0
	}
	return int(math.Ceil(x - 1e-9))
}
