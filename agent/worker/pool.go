package worker

import (
	"bytes"
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Pool keeps warm workers per Key and runs calls on them, one call per worker at a time.
// Invoke, Stats and Logs are safe for concurrent use; Run is called once.
type Pool struct {
	cfg PoolConfig
	log *slog.Logger
	wg  sync.WaitGroup // one per worker goroutine (runWorker)

	mu      sync.Mutex
	keys    map[string]*keyState
	seq     uint64
	running bool
	closed  bool
}

// keyState is the pool's state for one Key; guarded by Pool.mu.
type keyState struct {
	spec       Spec // the latest call's
	log        *logRing
	workers    map[*worker]struct{} // every live process, whatever its state
	idle       []*worker            // oldest first; taken from the end
	starting   int
	waiters    list.List // of *waiter, FIFO
	emptySince time.Time // when the Key last had no workers and no waiters
	floor      int       // workers kept whatever their idle time (Warm)
	// Start failures in a row and the last one's time: Warm backs off (a version that fails
	// to load must not be restarted at every heartbeat).
	failures int
	failedAt time.Time
}

type workerState int

const (
	stateStarting workerState = iota
	stateIdle
	stateBusy
	stateStopping // being stopped or killed; never reused
)

// worker is the pool's record of one worker; its fields are guarded by Pool.mu.
type worker struct {
	id        string
	ks        *keyState
	proc      *process // set once spawned
	state     workerState
	served    int // calls handed to it
	idleSince time.Time
	stopping  bool
	stop      chan struct{} // closed when the pool wants the worker gone
	cause     error         // why Kill killed it; nil otherwise
}

// waiter is a call waiting for a worker. Once done is closed, exactly one of w and err is set.
type waiter struct {
	elem *list.Element
	done chan struct{}
	w    *worker
	cold bool
	err  error
}

// NewPool validates cfg, applies its defaults and creates cfg.RunDir when missing. The pool
// serves Invoke at once; Run reaps idle workers and stops them all at the end.
func NewPool(cfg PoolConfig) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if err := os.MkdirAll(cfg.RunDir, 0o700); err != nil {
		return nil, fmt.Errorf("worker: create run directory: %w", err)
	}
	return &Pool{
		cfg:  cfg,
		log:  cfg.Logger.With("component", "worker_pool"),
		keys: make(map[string]*keyState),
	}, nil
}

// Run stops workers idle longer than their Spec.IdleTimeout, every ReapInterval, until ctx
// ends. Then it closes the pool (waiting and later calls get ErrClosed), stops every worker
// (SIGTERM to its process group, SIGKILL after StopGrace) and returns nil once all worker
// processes are reaped and the pool's goroutines have ended. Calls running on a worker then
// fail with an error that matches both ErrClosed and ErrWorkerDied. Blocks; call once.
func (p *Pool) Run(ctx context.Context) error {
	p.mu.Lock()
	if p.running || p.closed {
		p.mu.Unlock()
		return fmt.Errorf("%w: Run called twice", ErrClosed)
	}
	p.running = true
	p.mu.Unlock()

	t := time.NewTicker(p.cfg.ReapInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			p.shutdown()
			return nil
		case now := <-t.C:
			p.reap(now)
		}
	}
}

// Invoke runs one call: request is one protocol request line (a trailing newline is
// optional; a newline inside is ErrInvalidRequest). It blocks until the response came or the
// call failed; ctx bounds the wait for a worker, the worker's start and the call. Errors:
// ErrQueueFull at once when the queue is full; ErrTimeout (also context.DeadlineExceeded)
// or context.Canceled when ctx ended, in which case a worker running the call was killed;
// *DiedError; *StartError; ErrResponseTooLarge; ErrProtocol; ErrClosed; ErrInvalidSpec.
// Safe for concurrent use.
func (p *Pool) Invoke(ctx context.Context, spec Spec, request []byte, opts CallOptions) (*Result, error) {
	spec = spec.withDefaults()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	req, err := requestLine(request)
	if err != nil {
		return nil, err
	}
	w, cold, err := p.acquire(ctx, spec)
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil { // served and cancelled at once: do not spend the worker
		p.mu.Lock()
		w.served--
		p.availableLocked(w)
		p.mu.Unlock()
		return nil, ctxError(ctx, "waiting for a worker")
	}
	res, err := w.proc.call(ctx, req, opts.CaptureLog)
	stopped, cause := p.release(w)
	if err != nil {
		if errors.Is(err, ErrTimeout) || errors.Is(err, context.Canceled) {
			p.log.Info("call ended while running; worker killed", "worker_id", w.id, "key", spec.Key, "error", err)
		}
		switch {
		case cause != nil && errors.Is(err, ErrWorkerDied):
			err = fmt.Errorf("%w: %w", cause, err)
		case stopped && errors.Is(err, ErrWorkerDied):
			err = fmt.Errorf("%w: %w", ErrClosed, err)
		}
		return nil, err
	}
	return &Result{
		Response:     res.response,
		Log:          res.log,
		LogTruncated: res.logTruncated,
		ColdStart:    cold,
		WorkerID:     w.id,
		Duration:     res.duration,
	}, nil
}

// Stats returns the Keys that have workers or waiting calls, sorted by Key. Safe
// concurrently; does not block on calls.
func (p *Pool) Stats() []KeyStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []KeyStats
	for key, ks := range p.keys {
		if len(ks.workers) == 0 && ks.waiters.Len() == 0 {
			continue
		}
		s := KeyStats{Key: key, Workers: len(ks.workers), Starting: ks.starting, Queued: ks.waiters.Len()}
		for w := range ks.workers {
			switch w.state {
			case stateIdle:
				s.Idle++
			case stateBusy:
				s.Busy++
			}
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b KeyStats) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// Logs returns a copy of the Key's recent log (all its workers, interleaved by line; at most
// LogRingBytes), or nil for a Key the pool does not know (or forgot after LogRetention).
// Safe concurrently.
func (p *Pool) Logs(key string) []byte {
	p.mu.Lock()
	ks := p.keys[key]
	p.mu.Unlock()
	if ks == nil {
		return nil
	}
	return ks.log.Bytes()
}

func requestLine(b []byte) ([]byte, error) {
	b = bytes.TrimSuffix(b, []byte("\n"))
	switch {
	case len(b) == 0:
		return nil, fmt.Errorf("%w: empty", ErrInvalidRequest)
	case bytes.IndexByte(b, '\n') >= 0:
		return nil, fmt.Errorf("%w: raw newline inside the line", ErrInvalidRequest)
	}
	out := make([]byte, len(b)+1)
	copy(out, b)
	out[len(b)] = '\n'
	return out, nil
}

// acquire returns a worker reserved for the caller (state busy), starting one or queueing
// as the Spec allows, and whether the caller waited for a worker that serves its first call.
func (p *Pool) acquire(ctx context.Context, spec Spec) (*worker, bool, error) {
	if ctx.Err() != nil {
		return nil, false, ctxError(ctx, "waiting for a worker")
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, false, ErrClosed
	}
	ks := p.keyLocked(spec)
	for n := len(ks.idle); n > 0; n = len(ks.idle) {
		w := ks.idle[n-1]
		ks.idle[n-1] = nil
		ks.idle = ks.idle[:n-1]
		if !w.proc.usable() { // died while idle; runWorker removes it
			w.state = stateStopping
			continue
		}
		w.state = stateBusy
		w.served++
		p.mu.Unlock()
		return w, false, nil
	}
	if len(ks.workers) < spec.MaxInstances {
		p.startLocked(ks)
	} else if ks.waiters.Len()-ks.starting >= spec.QueueSize {
		n := ks.waiters.Len()
		p.mu.Unlock()
		return nil, false, fmt.Errorf("%w: %d calls wait for %d busy workers", ErrQueueFull, n, spec.MaxInstances)
	}
	wt := &waiter{done: make(chan struct{})}
	wt.elem = ks.waiters.PushBack(wt)
	p.mu.Unlock()

	select {
	case <-wt.done:
		return wt.w, wt.cold, wt.err
	case <-ctx.Done():
	}
	p.mu.Lock()
	select {
	case <-wt.done: // served or failed meanwhile: hand the worker on
		if wt.w != nil {
			wt.w.served--
			p.availableLocked(wt.w)
		}
	default:
		ks.waiters.Remove(wt.elem)
		p.markEmptyLocked(ks)
	}
	p.mu.Unlock()
	return nil, false, ctxError(ctx, "waiting for a worker")
}

// Warm keeps at least n workers of spec running: it starts workers (never more than
// spec.MaxInstances) until n exist, and the idle reaper leaves n of them running whatever their
// idle time. n = 0 takes the floor away (idle workers then go after their IdleTimeout). It
// returns the workers started. Safe for concurrent use.
func (p *Pool) Warm(spec Spec, n int) (int, error) {
	spec = spec.withDefaults()
	if err := spec.Validate(); err != nil {
		return 0, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, ErrClosed
	}
	ks := p.keys[spec.Key]
	if ks == nil && n <= 0 {
		return 0, nil
	}
	ks = p.keyLocked(spec)
	ks.floor = max(n, 0)
	if ks.failures > 0 && time.Since(ks.failedAt) < warmBackoff(ks.failures) {
		return 0, nil // calls still start workers (and report the failure); Warm waits
	}
	started := 0
	for p.liveLocked(ks) < min(ks.floor, spec.MaxInstances) {
		p.startLocked(ks)
		started++
	}
	return started, nil
}

// warmBackoff is how long Warm waits after failures start failures in a row: 2 s doubling up
// to 5 minutes.
func warmBackoff(failures int) time.Duration {
	return min(2*time.Second<<min(failures-1, 8), 5*time.Minute)
}

// Floors returns the Keys that have a warm floor, with the floor.
func (p *Pool) Floors() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for k, ks := range p.keys {
		if ks.floor > 0 {
			out[k] = ks.floor
		}
	}
	return out
}

// liveLocked counts the workers of ks that are not on their way out.
func (p *Pool) liveLocked(ks *keyState) int {
	n := 0
	for w := range ks.workers {
		if !w.stopping && w.state != stateStopping {
			n++
		}
	}
	return n
}

// release takes a worker back after a call: to the next waiter, to the idle list, or, when
// it is dead or being stopped, nowhere (runWorker removes it). It reports whether the pool
// had asked the worker to stop, and the cause given to Kill.
func (p *Pool) release(w *worker) (stopped bool, cause error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w.stopping || !w.proc.usable() {
		w.state = stateStopping
		return w.stopping, w.cause
	}
	p.availableLocked(w)
	return false, nil
}

// availableLocked gives a ready worker to the first waiter, or makes it idle.
func (p *Pool) availableLocked(w *worker) {
	ks := w.ks
	if w.stopping {
		w.state = stateStopping
		return
	}
	if e := ks.waiters.Front(); e != nil {
		wt := ks.waiters.Remove(e).(*waiter)
		wt.cold = w.served == 0
		w.served++
		w.state = stateBusy
		wt.w = w
		close(wt.done)
		return
	}
	w.state = stateIdle
	w.idleSince = time.Now()
	ks.idle = append(ks.idle, w)
}

func (p *Pool) keyLocked(spec Spec) *keyState {
	ks := p.keys[spec.Key]
	if ks == nil {
		ks = &keyState{log: newLogRing(p.cfg.LogRingBytes), workers: make(map[*worker]struct{})}
		p.keys[spec.Key] = ks
	}
	ks.spec = spec
	return ks
}

func (p *Pool) markEmptyLocked(ks *keyState) {
	if len(ks.workers) == 0 && ks.waiters.Len() == 0 {
		ks.emptySince = time.Now()
	}
}

// startLocked registers a new worker of ks as starting and starts it in the background.
func (p *Pool) startLocked(ks *keyState) {
	p.seq++
	w := &worker{id: fmt.Sprintf("w%d", p.seq), ks: ks, state: stateStarting, stop: make(chan struct{})}
	ks.workers[w] = struct{}{}
	ks.starting++
	p.wg.Add(1) // under mu while !closed: before shutdown's Wait
	go p.runWorker(w, ks.spec)
}

// stopLocked asks a worker to go: runWorker sends SIGTERM, then SIGKILL after StopGrace.
func (p *Pool) stopLocked(w *worker) {
	if !w.stopping {
		w.stopping = true
		close(w.stop)
	}
}

// runWorker owns one worker from spawn to reap: it waits for PIPE_INIT_COMPLETE (or a start
// failure), hands the worker to the pool, stops it when asked, and removes it once reaped.
func (p *Pool) runWorker(w *worker, spec Spec) {
	defer p.wg.Done()
	log := p.log.With("worker_id", w.id, "key", spec.Key)
	lease, err := p.acquireLease(w, spec)
	if err != nil {
		p.startFailed(w, log, err)
		return
	}
	release := func() {
		if lease != nil {
			lease.Release()
		}
	}
	if lease != nil && len(lease.Env) > 0 {
		spec.Env = append(slices.Clip(spec.Env), lease.Env...)
	}
	dir, err := os.MkdirTemp(p.cfg.RunDir, w.id+"-")
	if err != nil {
		release()
		p.startFailed(w, log, &StartError{WorkerID: w.id, ExitCode: -1, Err: err})
		return
	}
	proc, err := startProcess(procConfig{
		id: w.id, dir: dir, spec: spec, keyLog: w.ks.log, ringBytes: p.cfg.LogRingBytes,
		maxResponse: p.cfg.MaxResponseBytes, maxCallLog: p.cfg.MaxCallLogBytes,
		markerWait: p.cfg.MarkerWait, logger: log,
	})
	if err != nil {
		release()
		p.startFailed(w, log, &StartError{WorkerID: w.id, ExitCode: -1, Err: err})
		return
	}
	begun := time.Now()
	log.Debug("worker started", "pid", proc.pid)
	p.mu.Lock()
	w.proc = proc
	killed := w.cause != nil
	p.mu.Unlock()
	if killed { // Kill came while it was being spawned
		proc.kill()
	}
	if lease != nil && lease.Started != nil {
		lease.Started(proc.pid)
	}

	t := time.NewTimer(spec.StartTimeout)
	var serr *StartError
	select {
	case <-proc.ready:
	case <-proc.exited:
		// ready is closed before the log reader ends, so this check is final.
		select {
		case <-proc.ready:
		default:
			serr = proc.startError(false)
		}
	case <-t.C:
		proc.kill()
		<-proc.exited
		serr = proc.startError(true)
	case <-w.stop:
		p.terminate(proc)
		serr = proc.startError(false)
	}
	t.Stop()
	if serr != nil {
		release()
		p.startFailed(w, log, serr)
		return
	}
	log.Info("worker ready", "pid", proc.pid, "load_seconds", time.Since(begun).Seconds())
	p.mu.Lock()
	w.ks.starting--
	w.ks.failures = 0
	p.availableLocked(w)
	p.mu.Unlock()

	select {
	case <-proc.exited:
	case <-w.stop:
		p.terminate(proc)
	}
	log.Info("worker exited", "pid", proc.pid, "exit_code", proc.exitCode, "signal", sigName(proc.exitSig))
	release() // before a worker may start in its place
	p.mu.Lock()
	defer p.mu.Unlock()
	ks := w.ks
	delete(ks.workers, w)
	if i := slices.Index(ks.idle, w); i >= 0 {
		ks.idle = slices.Delete(ks.idle, i, i+1)
	}
	w.state = stateStopping
	// Calls still waiting need workers the exit may have made room for.
	if !p.closed {
		for need := ks.waiters.Len() - ks.starting; need > 0 && len(ks.workers) < ks.spec.MaxInstances; need-- {
			p.startLocked(ks)
		}
	}
	p.markEmptyLocked(ks)
}

// startFailed removes a worker that never became ready (serr is a *StartError or an
// *AcquireError) and fails every call waiting on its Key with serr, joined with the cause of a
// Kill: they would only start the same failing program again. After an *AcquireError, calls
// wait on when other workers of the Key remain: those may serve them.
func (p *Pool) startFailed(w *worker, log *slog.Logger, serr error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case w.cause != nil:
		serr = fmt.Errorf("%w: %w", w.cause, serr)
		log.Info("worker killed while starting", "error", serr)
	case w.stopping:
		log.Debug("worker stopped while starting", "error", serr)
	default:
		log.Warn("worker failed to start", "error", serr)
	}
	ks := w.ks
	delete(ks.workers, w)
	ks.starting--
	w.state = stateStopping
	if w.cause == nil && !w.stopping {
		ks.failures++
		ks.failedAt = time.Now()
	}
	if errors.Is(serr, ErrAcquireFailed) && len(ks.workers) > 0 {
		p.markEmptyLocked(ks)
		return
	}
	for e := ks.waiters.Front(); e != nil; e = e.Next() {
		wt := e.Value.(*waiter)
		wt.err = serr
		close(wt.done)
	}
	ks.waiters.Init()
	p.markEmptyLocked(ks)
}

// terminate sends SIGTERM to the worker's group, SIGKILL after StopGrace, and waits for exit.
func (p *Pool) terminate(proc *process) {
	proc.signal(syscall.SIGTERM)
	t := time.NewTimer(p.cfg.StopGrace)
	defer t.Stop()
	select {
	case <-proc.exited:
	case <-t.C:
		proc.kill()
		<-proc.exited
	}
}

// reap stops workers idle past their Key's IdleTimeout and forgets Keys empty past
// LogRetention.
func (p *Pool) reap(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for key, ks := range p.keys {
		if ks.waiters.Len() == 0 {
			keep := ks.idle[:0]
			live := p.liveLocked(ks)
			for _, w := range ks.idle { // oldest first
				if now.Sub(w.idleSince) >= ks.spec.IdleTimeout && live > ks.floor {
					live--
					w.state = stateStopping
					p.stopLocked(w)
					continue
				}
				keep = append(keep, w)
			}
			clear(ks.idle[len(keep):])
			ks.idle = keep
		}
		if len(ks.workers) == 0 && ks.waiters.Len() == 0 && ks.floor == 0 && now.Sub(ks.emptySince) >= p.cfg.LogRetention {
			delete(p.keys, key)
		}
	}
}

// shutdown closes the pool, fails waiting calls, stops every worker and waits for them.
func (p *Pool) shutdown() {
	p.mu.Lock()
	p.closed = true
	for _, ks := range p.keys {
		for e := ks.waiters.Front(); e != nil; e = e.Next() {
			wt := e.Value.(*waiter)
			wt.err = ErrClosed
			close(wt.done)
		}
		ks.waiters.Init()
		ks.idle = nil
		for w := range ks.workers {
			if w.state == stateIdle {
				w.state = stateStopping
			}
			p.stopLocked(w)
		}
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func sigName(s syscall.Signal) string {
	if s == 0 {
		return ""
	}
	return s.String()
}
