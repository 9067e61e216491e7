package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"
)

// leases is a Spec.Acquire that records what the pool did with the leases it handed out.
type leases struct {
	mu       sync.Mutex
	fail     func(n int) error // the n-th acquire (from 0) fails with this when non-nil
	acquired []string          // worker IDs
	started  map[string]int    // worker ID → pid
	released map[string]int    // worker ID → Release calls
}

func newLeases() *leases { return &leases{started: map[string]int{}, released: map[string]int{}} }

func (l *leases) acquire(ctx context.Context, id string) (*Lease, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.acquired)
	l.acquired = append(l.acquired, id)
	if l.fail != nil {
		if err := l.fail(n); err != nil {
			return nil, err
		}
	}
	return &Lease{
		Env:     []string{"LEASE=" + id},
		Started: func(pid int) { l.mu.Lock(); l.started[id] = pid; l.mu.Unlock() },
		Release: func() { l.mu.Lock(); l.released[id]++; l.mu.Unlock() },
	}, nil
}

func (l *leases) snapshot() (acquired []string, started, released map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	started, released = map[string]int{}, map[string]int{}
	for k, v := range l.started {
		started[k] = v
	}
	for k, v := range l.released {
		released[k] = v
	}
	return append([]string(nil), l.acquired...), started, released
}

// Each worker process gets its own lease: its Env, Started with its pid, and one Release once
// it has exited.
func TestAcquirePerWorker(t *testing.T) {
	t.Parallel()
	p := newTestPool(t, PoolConfig{})
	l := newLeases()
	spec := testSpec(t)
	spec.MaxInstances = 2
	spec.Acquire = l.acquire
	var wg sync.WaitGroup
	envs := make([]string, 2)
	ids := make([]string, 2)
	for i := range 2 {
		wg.Go(func() {
			invoke(t, p, spec, op("sleep", "seconds", 0.3), CallOptions{}) // keeps the worker busy
			res := invoke(t, p, spec, op("env", "name", "LEASE"), CallOptions{})
			result(t, res, &envs[i])
			ids[i] = res.WorkerID
		})
	}
	wg.Wait()
	acquired, started, released := l.snapshot()
	if len(acquired) != 2 || len(started) != 2 || len(released) != 0 {
		t.Fatalf("acquired %v, started %v, released %v; want 2 acquired and started, none released", acquired, started, released)
	}
	for i := range 2 {
		if envs[i] != ids[i] {
			t.Errorf("worker %s saw LEASE=%q; want its own ID", ids[i], envs[i])
		}
	}
	pid, _, id := pids(t, p, spec)
	if started[id] != pid {
		t.Errorf("Started(%d) for %s; want its pid %d", started[id], id, pid)
	}
	p.stop()
	_, _, released = l.snapshot()
	if released[acquired[0]] != 1 || released[acquired[1]] != 1 {
		t.Errorf("released %v after Run; want each lease once", released)
	}
}

var errNoDevice = errors.New("no device free")

// A failed acquire fails the waiting call with an *AcquireError that wraps Acquire's error,
// and starts no process; a later call acquires again.
func TestAcquireFailure(t *testing.T) {
	t.Parallel()
	p := newTestPool(t, PoolConfig{})
	l := newLeases()
	l.fail = func(n int) error {
		if n == 0 {
			return errNoDevice
		}
		return nil
	}
	spec := testSpec(t)
	spec.Acquire = l.acquire
	_, err := p.Invoke(ctxTimeout(t, 20*time.Second), spec, req(t, op("echo", "value", 1)), CallOptions{})
	var ae *AcquireError
	if !errors.As(err, &ae) || !errors.Is(err, errNoDevice) || !errors.Is(err, ErrAcquireFailed) {
		t.Fatalf("Invoke: %v; want an *AcquireError wrapping errNoDevice", err)
	}
	if _, started, released := l.snapshot(); len(started) != 0 || len(released) != 0 {
		t.Errorf("started %v, released %v after a failed acquire; want none", started, released)
	}
	if s := statsOf(p, spec.Key); s.Workers != 0 || s.Queued != 0 {
		t.Errorf("stats %+v; want nothing left", s)
	}
	invoke(t, p, spec, op("echo", "value", 2), CallOptions{})
}

// A failed acquire leaves the waiting call to a worker of the Key that is already there.
func TestAcquireFailureWaitsForOtherWorker(t *testing.T) {
	t.Parallel()
	p := newTestPool(t, PoolConfig{})
	l := newLeases()
	l.fail = func(n int) error {
		if n > 0 {
			return errNoDevice
		}
		return nil
	}
	spec := testSpec(t)
	spec.MaxInstances = 2
	spec.Acquire = l.acquire
	first := invoke(t, p, spec, op("echo", "value", 0), CallOptions{})
	busy := make(chan struct{})
	go func() {
		defer close(busy)
		invoke(t, p, spec, op("sleep", "seconds", 0.5), CallOptions{})
	}()
	eventually(t, 5*time.Second, "first worker busy", func() bool { return statsOf(p, spec.Key).Busy == 1 })
	res := invoke(t, p, spec, op("echo", "value", 1), CallOptions{}) // starts a second worker, whose acquire fails
	<-busy
	if res.WorkerID != first.WorkerID {
		t.Errorf("call served by %s; want the first worker %s", res.WorkerID, first.WorkerID)
	}
	if acquired, _, _ := l.snapshot(); len(acquired) != 2 {
		t.Errorf("acquired %v; want a second, failed, acquire", acquired)
	}
}

var errOverShare = errors.New("over its share")

// Kill ends a busy worker at once; its call fails with the cause and a *DiedError; the next
// call gets a new worker.
func TestKillBusyWorker(t *testing.T) {
	t.Parallel()
	p := newTestPool(t, PoolConfig{StopGrace: 20 * time.Second}) // a SIGTERM would not do
	l := newLeases()
	spec := testSpec(t)
	spec.Acquire = l.acquire
	pid, child, id := pids(t, p, spec)
	go func() {
		eventually(t, 5*time.Second, "worker busy", func() bool { return statsOf(p, spec.Key).Busy == 1 })
		if !p.Kill(id, fmt.Errorf("test: %w", errOverShare)) {
			t.Error("Kill of a busy worker: false")
		}
	}()
	_, err := p.Invoke(ctxTimeout(t, 20*time.Second), spec, req(t, op("sleep", "seconds", 30)), CallOptions{})
	var de *DiedError
	if !errors.Is(err, errOverShare) || !errors.As(err, &de) || de.Signal != syscall.SIGKILL || errors.Is(err, ErrClosed) {
		t.Fatalf("Invoke: %v; want errOverShare with a *DiedError by SIGKILL", err)
	}
	eventually(t, 5*time.Second, "worker and child gone", func() bool { return !alive(pid) && !alive(child) })
	eventually(t, 5*time.Second, "lease released", func() bool { _, _, r := l.snapshot(); return r[id] == 1 })
	if p.Kill(id, errOverShare) || p.Kill("w999", nil) {
		t.Error("Kill of a gone or unknown worker: true")
	}
	if res := invoke(t, p, spec, op("echo", "value", 1), CallOptions{}); res.WorkerID == id {
		t.Errorf("killed worker %s served again", id)
	}
}

// Kill of an idle worker just removes it.
func TestKillIdleWorker(t *testing.T) {
	t.Parallel()
	p := newTestPool(t, PoolConfig{})
	spec := testSpec(t)
	pid, _, id := pids(t, p, spec)
	if !p.Kill(id, nil) {
		t.Fatal("Kill of an idle worker: false")
	}
	eventually(t, 5*time.Second, "idle worker gone", func() bool { return !alive(pid) && statsOf(p, spec.Key).Workers == 0 })
	if res := invoke(t, p, spec, op("echo", "value", 1), CallOptions{}); res.WorkerID == id || !res.ColdStart {
		t.Errorf("call after Kill on %s (cold %v); want a new worker", res.WorkerID, res.ColdStart)
	}
}

// Kill of a starting worker fails the calls waiting on it with the cause and a *StartError.
func TestKillStartingWorker(t *testing.T) {
	t.Parallel()
	p := newTestPool(t, PoolConfig{})
	l := newLeases()
	spec := testSpec(t, "slow-load", "30")
	spec.Acquire = l.acquire
	go func() {
		eventually(t, 10*time.Second, "worker spawned", func() bool { _, s, _ := l.snapshot(); return len(s) == 1 })
		acquired, _, _ := l.snapshot()
		p.Kill(acquired[0], errOverShare)
	}()
	_, err := p.Invoke(ctxTimeout(t, 20*time.Second), spec, req(t, op("echo", "value", 1)), CallOptions{})
	var se *StartError
	if !errors.Is(err, errOverShare) || !errors.As(err, &se) || se.Signal != syscall.SIGKILL {
		t.Fatalf("Invoke: %v; want errOverShare with a *StartError by SIGKILL", err)
	}
	eventually(t, 5*time.Second, "lease released", func() bool { _, _, r := l.snapshot(); return len(r) == 1 })
}
