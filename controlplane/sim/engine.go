package sim

import (
	"fmt"
	"math"
	"time"

	"github.com/algos-dev/algos/controlplane/scheduler"
)

// epoch is the simulated clock's zero: a Monday, midnight UTC.
var epoch = time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)

// The machine every node is: one GPU, enough CPU and memory for one worker.
const (
	poolName      = "gpu"
	gpuModel      = "NVIDIA T4"
	gpuMemMiB     = 15360
	nodeCPU       = 8
	nodeMemMiB    = 30 << 10
	workerCPU     = 4
	workerMemMiB  = 12 << 10
	hoursPerMonth = 730.0
)

// workerState is where a worker is in its life.
type workerState int

const (
	pending  workerState = iota // wanted, waiting for a node
	starting                    // on a node, loading its model
	idle                        // ready, no call
	busy                        // serving a call
	gone                        // removed
)

// worker serves one algorithm's calls, one at a time, on one node's GPU.
type worker struct {
	id       int
	t        *tenant
	n        *node // nil while pending
	state    workerState
	retiring bool // finish the call in flight, then go
	alloc    scheduler.Allocation
}

// node is one GPU machine of the simulated cloud, billed from launch to removal.
type node struct {
	id         int
	name       string
	launched   float64
	ready      bool
	draining   bool
	gone       bool
	owner      *tenant // the algorithm whose VM image it runs (fixed and reactive); nil: shared
	workers    []*worker
	busy       int     // calls in flight on it
	emptySince float64 // when it last became empty; -1 while not empty or not ready
	retire     bool    // remove it once its workers are gone (fixed and reactive)
}

// inFlight is one call being served: its worker and when it completes.
type inFlight struct {
	w    *worker
	done float64
}

// tenant is one algorithm: its arrivals, queue, workers and figures.
type tenant struct {
	idx         int
	spec        Tenant
	arr         *arrivals
	nextArrival float64
	queue       fifo[float64]  // arrival times of the calls waiting for a worker
	serving     fifo[inFlight] // calls in service; service time is fixed, so in completion order
	idle        []*worker
	busy        int
	workers     int // current workers: pending, starting, idle and busy ones not retiring

	last     float64 // time of the last accounting
	busyArea float64 // ∫ busy workers dt since the start
	concArea float64 // ∫ (busy + queued) dt since the start
	second   int     // arrivals since the last tick

	calls, dropped, over1s int64
	busySeconds            float64 // busy worker-seconds inside the report window
	lat                    *hist
}

// account integrates the tenant's busy workers and concurrency up to now.
func (t *tenant) account(now float64) {
	if dt := now - t.last; dt > 0 {
		t.busyArea += float64(t.busy) * dt
		t.concArea += float64(t.busy+t.queue.len()) * dt
		t.last = now
	}
}

// timer is a scheduled engine event other than arrivals and completions: a worker or a node
// becoming ready.
type timer struct {
	at  float64
	seq uint64
	w   *worker // the worker that becomes ready, or nil
	n   *node   // the node that becomes ready (when w is nil)
}

// engine is the discrete-event simulation of one strategy over one scenario.
type engine struct {
	cfg      Config
	strat    Strategy
	runner   runner
	service  float64
	now      float64
	end      float64
	from, to float64 // the report window
	tenants  []*tenant
	nodes    []*node // live nodes, in launch order
	timers   []timer // a min-heap on (at, seq)
	seq      uint64
	nextID   int

	nodeSeconds float64 // machine-seconds inside the report window, of removed nodes
	peakNodes   int     // most live nodes at a tick inside the window
	launches    int     // nodes launched inside the window
}

func newEngine(cfg Config, s Strategy) *engine {
	cfg = cfg.WithDefaults()
	e := &engine{cfg: cfg, strat: s, service: cfg.Service.Seconds(), end: float64(cfg.Days) * daySeconds}
	e.from, e.to = cfg.window()
	for i, sp := range cfg.Tenants {
		t := &tenant{idx: i, spec: sp, arr: newArrivals(sp.Curve, cfg.Seed, i, e.end), lat: newHist()}
		t.nextArrival = t.arr.next()
		e.tenants = append(e.tenants, t)
	}
	return e
}

// clock is the simulated time now, for the autoscaler.
func (e *engine) clock() time.Time { return at(e.now) }

// at is the time t seconds after the simulation's start.
func at(t float64) time.Time { return epoch.Add(time.Duration(math.Round(t * 1e9))) }

// run replays the scenario and returns the figures over the report window.
func (e *engine) run() Result {
	e.runner = e.strat.newRun(e)
	nextTick := 0.0
	for {
		when, kind, who := nextTick, 0, -1
		if len(e.timers) > 0 && e.timers[0].at <= when {
			when, kind = e.timers[0].at, 1
		}
		for i, t := range e.tenants {
			if t.nextArrival <= when {
				when, kind, who = t.nextArrival, 2, i
			}
		}
		for i, t := range e.tenants {
			if t.serving.len() > 0 && t.serving.peek().done <= when {
				when, kind, who = t.serving.peek().done, 3, i
			}
		}
		if when >= e.end {
			break
		}
		e.now = when
		switch kind {
		case 0:
			for _, t := range e.tenants {
				t.account(e.now)
			}
			e.runner.tick(e)
			if e.now >= e.from && e.now < e.to {
				e.peakNodes = max(e.peakNodes, len(e.nodes))
			}
			nextTick++
		case 1:
			tm := e.popTimer()
			if tm.w != nil {
				e.workerReady(tm.w)
			} else {
				e.nodeReady(tm.n)
			}
		case 2:
			e.arrive(e.tenants[who])
		case 3:
			e.complete(e.tenants[who])
		}
	}
	e.now = e.end
	return e.finish()
}

// finish closes the books at the end of the run.
func (e *engine) finish() Result {
	for _, n := range e.nodes {
		e.nodeSeconds += e.overlap(n.launched, e.end)
	}
	for _, t := range e.tenants {
		t.account(e.end)
		// Calls still queued at the end: their latency is at least this.
		for i := range t.queue.len() {
			if a := t.queue.at(i); a >= e.from && a < e.to {
				t.record(e.end - a + e.service)
			}
		}
	}
	return e.result()
}

// overlap is the length of [a, b) inside the report window.
func (e *engine) overlap(a, b float64) float64 {
	return max(0, min(b, e.to)-max(a, e.from))
}

func (e *engine) pushTimer(tm timer) {
	e.seq++
	tm.seq = e.seq
	e.timers = append(e.timers, tm)
	h := e.timers
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !timerLess(h[i], h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (e *engine) popTimer() timer {
	h := e.timers
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && timerLess(h[l], h[m]) {
			m = l
		}
		if r < len(h) && timerLess(h[r], h[m]) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	e.timers = h
	return top
}

func timerLess(a, b timer) bool { return a.at < b.at || (a.at == b.at && a.seq < b.seq) }

// launchNode asks the cloud for a machine, up after delay seconds.
func (e *engine) launchNode(owner *tenant, delay float64) *node {
	e.nextID++
	n := &node{id: e.nextID, name: fmt.Sprintf("node-%05d", e.nextID), launched: e.now, owner: owner, emptySince: -1}
	e.nodes = append(e.nodes, n)
	if e.now >= e.from && e.now < e.to {
		e.launches++
	}
	e.pushTimer(timer{at: e.now + delay, n: n})
	return n
}

// removeNode gives a machine back to the cloud; it must have no workers.
func (e *engine) removeNode(n *node) {
	if n.gone {
		return
	}
	n.gone = true
	e.nodeSeconds += e.overlap(n.launched, e.now)
	for i, m := range e.nodes {
		if m == n {
			e.nodes = append(e.nodes[:i], e.nodes[i+1:]...)
			break
		}
	}
}

func (e *engine) nodeReady(n *node) {
	if n.gone {
		return
	}
	n.ready = true
	n.emptySince = e.now
	e.runner.nodeReady(e, n)
}

// view is the node as the scheduler sees it: one GPU, and its workers' allocations.
func (n *node) view() scheduler.Node {
	sn := scheduler.Node{
		ID: n.name, Pool: poolName, CPU: nodeCPU, MemoryMiB: nodeMemMiB, Draining: n.draining,
		GPUs: []scheduler.GPU{{UUID: n.name + "-gpu0", Model: gpuModel, MemoryMiB: gpuMemMiB}},
	}
	for _, w := range n.workers {
		sn.Allocations = append(sn.Allocations, w.alloc)
	}
	return sn
}

// newWorker adds a pending worker to the tenant.
func (e *engine) newWorker(t *tenant) *worker {
	e.nextID++
	t.workers++
	return &worker{id: e.nextID, t: t, state: pending}
}

// startWorker puts a pending worker on a node; it is ready after delay seconds.
func (e *engine) startWorker(w *worker, n *node, alloc scheduler.Allocation, delay float64) {
	w.n, w.alloc, w.state = n, alloc, starting
	n.workers = append(n.workers, w)
	n.emptySince = -1
	e.pushTimer(timer{at: e.now + delay, w: w})
}

func (e *engine) workerReady(w *worker) {
	if w.state != starting {
		return // removed while starting
	}
	w.state = idle
	e.serveNext(w)
}

// removeWorker takes one worker away: at once unless it is serving a call, which it finishes
// first (a drain never cuts a call).
func (e *engine) removeWorker(w *worker) {
	switch w.state {
	case gone:
		return
	case busy:
		if !w.retiring {
			w.retiring = true
			w.t.workers--
		}
		return
	case idle:
		t := w.t
		for i, x := range t.idle {
			if x == w {
				t.idle = append(t.idle[:i], t.idle[i+1:]...)
				break
			}
		}
	}
	w.t.workers--
	e.detach(w)
}

// detach removes a worker from its node, leaving the node empty if it was the last.
func (e *engine) detach(w *worker) {
	w.state = gone
	n := w.n
	if n == nil {
		return
	}
	for i, x := range n.workers {
		if x == w {
			n.workers = append(n.workers[:i], n.workers[i+1:]...)
			break
		}
	}
	if len(n.workers) == 0 && n.busy == 0 {
		n.emptySince = e.now
		if n.retire {
			e.removeNode(n)
		}
	}
}

// arrive handles the tenant's next arrival: served at once by an idle worker, queued, or
// dropped when the queue is full.
func (e *engine) arrive(t *tenant) {
	now := e.now
	t.nextArrival = t.arr.next()
	t.second++
	in := now >= e.from && now < e.to
	if in {
		t.calls++
	}
	t.account(now)
	if k := len(t.idle); k > 0 {
		w := t.idle[k-1]
		t.idle = t.idle[:k-1]
		e.serve(w, now)
		return
	}
	if t.queue.len() >= e.cfg.QueueLimit {
		if in {
			t.dropped++
		}
		return
	}
	t.queue.push(now)
}

// serve starts a call that arrived at arrived on an idle worker.
func (e *engine) serve(w *worker, arrived float64) {
	t := w.t
	w.state = busy
	t.busy++
	w.n.busy++
	if arrived >= e.from && arrived < e.to {
		t.record(e.now - arrived + e.service)
	}
	t.busySeconds += e.overlap(e.now, e.now+e.service)
	t.serving.push(inFlight{w: w, done: e.now + e.service})
}

// record counts one call's latency.
func (t *tenant) record(lat float64) {
	t.lat.add(lat)
	if lat > 1 {
		t.over1s++
	}
}

// complete ends the tenant's earliest call in service.
func (e *engine) complete(t *tenant) {
	c := t.serving.pop()
	w := c.w
	t.account(e.now)
	t.busy--
	w.n.busy--
	if w.retiring {
		e.detach(w)
		return
	}
	w.state = idle
	e.serveNext(w)
}

// serveNext gives an idle worker the oldest queued call, or parks it idle.
func (e *engine) serveNext(w *worker) {
	t := w.t
	if t.queue.len() > 0 {
		t.account(e.now)
		e.serve(w, t.queue.pop())
		return
	}
	t.idle = append(t.idle, w)
}

// fifo is a growable ring-less queue: a slice with a moving head, compacted as it drains.
type fifo[T any] struct {
	items []T
	head  int
}

func (q *fifo[T]) len() int   { return len(q.items) - q.head }
func (q *fifo[T]) push(v T)   { q.items = append(q.items, v) }
func (q *fifo[T]) peek() T    { return q.items[q.head] }
func (q *fifo[T]) at(i int) T { return q.items[q.head+i] }
func (q *fifo[T]) pop() (v T) {
	v = q.items[q.head]
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head >= 1024 && q.head*2 >= len(q.items) {
		n := copy(q.items, q.items[q.head:])
		q.items, q.head = q.items[:n], 0
	}
	return v
}
