package worker

import (
	"context"
	"slices"
	"sync"
)

// Lease is what Spec.Acquire reserved for one worker process.
type Lease struct {
	// Env is added to the worker's environment (after Spec.Env; a later entry wins).
	Env []string
	// Started, when set, is called once with the process's ID as soon as it runs (before its
	// load step ends), from the worker's goroutine.
	Started func(pid int)
	// Release, when set, is called once when the process has exited and been reaped, or when
	// it could not be started; before the pool starts another worker in its place.
	Release func()
}

// Kill kills a worker's process group at once (SIGKILL) and makes what waits on the worker
// fail with cause (ErrKilled when nil): the call running on it gets cause joined with its
// *DiedError, the calls waiting for it to start get cause joined with the *StartError, so that
// errors.Is(err, cause) and errors.As on cause's type hold. An idle worker just goes. It
// reports whether a live worker of that ID was found (false when it is unknown, gone, or
// already killed). Does not wait for the exit. Safe for concurrent use.
func (p *Pool) Kill(workerID string, cause error) bool {
	if cause == nil {
		cause = ErrKilled
	}
	p.mu.Lock()
	var w *worker
	for _, ks := range p.keys {
		for x := range ks.workers {
			if x.id == workerID {
				w = x
			}
		}
	}
	if w == nil || w.cause != nil {
		p.mu.Unlock()
		return false
	}
	w.cause = cause
	if w.state == stateIdle {
		if i := slices.Index(w.ks.idle, w); i >= 0 {
			w.ks.idle = slices.Delete(w.ks.idle, i, i+1)
		}
		w.state = stateStopping
	}
	if w.proc != nil { // SIGKILL before stopLocked lets runWorker send its SIGTERM
		w.proc.kill()
	} // else runWorker kills it as soon as it is spawned
	p.stopLocked(w)
	p.mu.Unlock()
	p.log.Info("killed worker", "worker_id", workerID, "cause", cause)
	return true
}

// acquireLease calls spec.Acquire for w (nil, nil without one). Its context ends when the pool
// stops w or after the Spec's StartTimeout.
func (p *Pool) acquireLease(w *worker, spec Spec) (*Lease, error) {
	if spec.Acquire == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), spec.StartTimeout)
	defer cancel()
	go func() {
		select {
		case <-w.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	lease, err := spec.Acquire(ctx, w.id)
	if err != nil {
		return nil, &AcquireError{WorkerID: w.id, Err: err}
	}
	var l Lease
	if lease != nil {
		l = *lease
	}
	rel := l.Release
	var once sync.Once
	l.Release = func() {
		once.Do(func() {
			if rel != nil {
				rel()
			}
		})
	}
	return &l, nil
}
