package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestWarmReuse(t *testing.T) {
	t.Parallel()
	p := newTestPool(t, PoolConfig{})
	spec := testSpec(t)
	first := invoke(t, p, spec, op("echo", "value", "one"), CallOptions{})
	second := invoke(t, p, spec, op("echo", "value", "two"), CallOptions{})
	var v1, v2 string
	result(t, first, &v1)
	result(t, second, &v2)
	if v1 != "one" || v2 != "two" {
		t.Fatalf("results %q, %q", v1, v2)
	}
	if first.WorkerID != second.WorkerID {
		t.Errorf("worker not reused: %s then %s", first.WorkerID, second.WorkerID)
	}
	if !first.ColdStart || second.ColdStart {
		t.Errorf("ColdStart = %v, %v; want true, false", first.ColdStart, second.ColdStart)
	}
	if s := statsOf(p, spec.Key); s.Workers != 1 || s.Idle != 1 || s.Busy != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestMaxInstancesUnderConcurrency(t *testing.T) {
	t.Parallel()
	p := newTestPool(t, PoolConfig{})
	spec := testSpec(t)
	spec.MaxInstances = 2
	const calls = 6
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ids     = map[string]int{}
		maxSeen int
		done    = make(chan struct{})
	)
	go func() { // sample the pool while the calls run
		for {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
			s := statsOf(p, spec.Key)
			mu.Lock()
			maxSeen = max(maxSeen, s.Workers)
			mu.Unlock()
		}
	}()
	for range calls {
		wg.Go(func() {
			res, err := p.Invoke(ctxTimeout(t, 20*time.Second), spec, req(t, op("sleep", "seconds", 0.2)), CallOptions{})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			ids[res.WorkerID]++
			mu.Unlock()
		})
	}
	wg.Wait()
	close(done)
	mu.Lock()
	defer mu.Unlock()
	if len(ids) != 2 || maxSeen > 2 {
		t.Errorf("workers used %v, at most %d at once; want 2 and <= 2", ids, maxSeen)
	}
}

func TestQueue(t *testing.T) {
	t.Parallel()
	p := newTestPool(t, PoolConfig{})
	spec := testSpec(t)
	spec.QueueSize = 1
	busy := make(chan *Result, 1)
	go func() { busy <- invoke(t, p, spec, op("sleep", "seconds", 0.5), CallOptions{}) }()
	eventually(t, 10*time.Second, "first call busy", func() bool { return statsOf(p, spec.Key).Busy == 1 })

	queued := make(chan *Result, 1)
	go func() { queued <- invoke(t, p, spec, op("echo", "value", "queued"), CallOptions{}) }()
	eventually(t, 5*time.Second, "second call queued", func() bool { return statsOf(p, spec.Key).Queued == 1 })

	_, err := p.Invoke(ctxTimeout(t, 5*time.Second), spec, req(t, op("echo", "value", 3)), CallOptions{})
	if !errors.Is(err, ErrQueueFull) {
		t.Fatalf("third call: %v, want ErrQueueFull", err)
	}
	first, second := <-busy, <-queued
	var v string
	result(t, second, &v)
	if v != "queued" || second.WorkerID != first.WorkerID || second.ColdStart {
		t.Errorf("queued call: %q on %s (cold %v); want it served by %s", v, second.WorkerID, second.ColdStart, first.WorkerID)
	}
}

// A call whose deadline passes while it waits leaves the queue and reserves nothing.
func TestWaitEndsWithContext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		loadArgs []string
		busyFor  float64 // seconds a first call keeps the only worker busy; 0: none
	}{
		{name: "queued behind a busy worker", busyFor: 0.6},
		{name: "waiting for a slow start", loadArgs: []string{"slow-load", "0.6"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newTestPool(t, PoolConfig{})
			spec := testSpec(t, tc.loadArgs...)
			busy := make(chan *Result, 1)
			if tc.busyFor > 0 {
				go func() { busy <- invoke(t, p, spec, op("sleep", "seconds", tc.busyFor), CallOptions{}) }()
				eventually(t, 10*time.Second, "first call busy", func() bool { return statsOf(p, spec.Key).Busy == 1 })
			}
			_, err := p.Invoke(ctxTimeout(t, 100*time.Millisecond), spec, req(t, op("echo", "value", 1)), CallOptions{})
			if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("waiting call: %v, want ErrTimeout", err)
			}
			if s := statsOf(p, spec.Key); s.Queued != 0 {
				t.Errorf("after the deadline: %+v, want nothing queued", s)
			}
			if tc.busyFor > 0 {
				<-busy
			}
			eventually(t, 10*time.Second, "worker idle", func() bool {
				s := statsOf(p, spec.Key)
				return s.Idle == 1 && s.Busy == 0 && s.Workers == 1
			})
			invoke(t, p, spec, op("echo", "value", 2), CallOptions{})
		})
	}
}

// A call whose context ends while it runs kills its worker; the next call gets a new one.
func TestContextEndKillsWorker(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		ctx     func(t *testing.T) context.Context
		wantErr error
		notErr  error
	}{
		{
			name:    "deadline",
			ctx:     func(t *testing.T) context.Context { return ctxTimeout(t, 300*time.Millisecond) },
			wantErr: ErrTimeout,
		},
		{
			name: "caller went away",
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(300*time.Millisecond, cancel)
				t.Cleanup(cancel)
				return ctx
			},
			wantErr: context.Canceled,
			notErr:  ErrTimeout,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newTestPool(t, PoolConfig{})
			spec := testSpec(t)
			pid, child, id := pids(t, p, spec)
			_, err := p.Invoke(tc.ctx(t), spec, req(t, op("sleep", "seconds", 30)), CallOptions{})
			if !errors.Is(err, tc.wantErr) || (tc.notErr != nil && errors.Is(err, tc.notErr)) {
				t.Fatalf("Invoke: %v, want %v", err, tc.wantErr)
			}
			eventually(t, 5*time.Second, "worker and its child killed", func() bool { return !alive(pid) && !alive(child) })
			res := invoke(t, p, spec, op("echo", "value", "after"), CallOptions{})
			if res.WorkerID == id || !res.ColdStart {
				t.Errorf("next call on %s (cold %v); want a new worker, not %s", res.WorkerID, res.ColdStart, id)
			}
		})
	}
}

func TestWorkerDiesMidCall(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		call     map[string]any
		wantCode int
		wantSig  syscall.Signal
		wantLog  string
	}{
		{name: "exit", call: op("exit", "code", 7), wantCode: 7, wantLog: "exiting now"},
		{name: "crash", call: op("crash"), wantCode: -1, wantSig: syscall.SIGKILL, wantLog: "crashing now"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newTestPool(t, PoolConfig{})
			spec := testSpec(t)
			_, err := p.Invoke(ctxTimeout(t, 20*time.Second), spec, req(t, tc.call), CallOptions{})
			var de *DiedError
			if !errors.As(err, &de) || !errors.Is(err, ErrWorkerDied) {
				t.Fatalf("Invoke: %v, want *DiedError", err)
			}
			if de.ExitCode != tc.wantCode || de.Signal != tc.wantSig || !bytes.Contains(de.Log, []byte(tc.wantLog)) {
				t.Errorf("DiedError code %d signal %v log %q; want %d, %v, %q", de.ExitCode, de.Signal, de.Log, tc.wantCode, tc.wantSig, tc.wantLog)
			}
			res := invoke(t, p, spec, op("echo", "value", "again"), CallOptions{})
			if res.WorkerID == de.WorkerID {
				t.Errorf("dead worker %s reused", de.WorkerID)
			}
		})
	}
}

// A worker that writes its response and exits: the call has its response.
func TestResponseThenExit(t *testing.T) {
	t.Parallel()
	p := newTestPool(t, PoolConfig{})
	spec := testSpec(t)
	res := invoke(t, p, spec, op("respond-exit"), CallOptions{})
	var v string
	result(t, res, &v)
	if v != "bye" {
		t.Fatalf("result %q", v)
	}
	// The exit races with the worker's return to the idle list; a call that picks the worker
	// before its exit is seen gets a *DiedError, so wait for the pool to see it.
	eventually(t, 5*time.Second, "exited worker removed", func() bool { return statsOf(p, spec.Key).Workers == 0 })
	next := invoke(t, p, spec, op("echo", "value", 1), CallOptions{})
	if next.WorkerID == res.WorkerID {
		t.Errorf("exited worker %s reused", res.WorkerID)
	}
}

func TestStartFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		spec         func(t *testing.T) Spec
		wantTimedOut bool
		wantCode     int
		wantLog      string
		wantCause    error
	}{
		{
			name:     "load fails",
			spec:     func(t *testing.T) Spec { return testSpec(t, "fail-load", "0.5") },
			wantCode: 3, wantLog: "boom: load failed",
		},
		{
			name: "start timeout",
			spec: func(t *testing.T) Spec {
				s := testSpec(t, "slow-load", "30")
				s.StartTimeout = 700 * time.Millisecond
				return s
			},
			wantTimedOut: true, wantCode: -1, wantLog: "loading slow-load",
		},
		{
			name: "no such program",
			spec: func(t *testing.T) Spec {
				s := testSpec(t)
				s.Argv = []string{"/nonexistent/python3"}
				return s
			},
			wantCode: -1, wantCause: fs.ErrNotExist,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newTestPool(t, PoolConfig{})
			spec := tc.spec(t)
			const waiters = 3
			errs := make(chan error, waiters)
			for range waiters {
				go func() {
					_, err := p.Invoke(ctxTimeout(t, 20*time.Second), spec, req(t, op("echo")), CallOptions{})
					errs <- err
				}()
			}
			ids := map[string]bool{}
			for range waiters {
				err := <-errs
				var se *StartError
				if !errors.As(err, &se) || !errors.Is(err, ErrStartFailed) {
					t.Fatalf("Invoke: %v, want *StartError", err)
				}
				if se.TimedOut != tc.wantTimedOut || se.ExitCode != tc.wantCode || !bytes.Contains(se.Log, []byte(tc.wantLog)) {
					t.Errorf("StartError timed out %v code %d log %q; want %v, %d, %q", se.TimedOut, se.ExitCode, se.Log, tc.wantTimedOut, tc.wantCode, tc.wantLog)
				}
				if tc.wantCause != nil && !errors.Is(err, tc.wantCause) {
					t.Errorf("cause %v, want %v", err, tc.wantCause)
				}
				ids[se.WorkerID] = true
			}
			// The slow failures give all three calls time to queue on the one start.
			if tc.wantCause == nil && len(ids) != 1 {
				t.Errorf("start errors from workers %v; want all waiters failed by the one start", ids)
			}
			eventually(t, 5*time.Second, "no workers left", func() bool { return statsOf(p, spec.Key).Workers == 0 })
		})
	}
}

func TestIdleWorkersStopped(t *testing.T) {
	t.Parallel()
	p := newTestPool(t, PoolConfig{ReapInterval: 50 * time.Millisecond})
	spec := testSpec(t)
	spec.IdleTimeout = 200 * time.Millisecond
	pid, child, id := pids(t, p, spec)
	eventually(t, 5*time.Second, "idle worker stopped", func() bool {
		return statsOf(p, spec.Key).Workers == 0 && !alive(pid) && !alive(child)
	})
	res := invoke(t, p, spec, op("echo", "value", 1), CallOptions{})
	if res.WorkerID == id || !res.ColdStart {
		t.Errorf("call after scale to zero on %s (cold %v); want a new worker", res.WorkerID, res.ColdStart)
	}
	if logs := p.Logs(spec.Key); !bytes.Contains(logs, []byte("loading")) {
		t.Errorf("Logs(key) = %q; want the start log kept after the workers are gone", logs)
	}
}

func TestCallLogAttribution(t *testing.T) {
	t.Parallel()
	p := newTestPool(t, PoolConfig{MarkerWait: 300 * time.Millisecond})
	spec := testSpec(t)
	spec.MaxInstances = 2
	const lines = 200
	logs := make([][]byte, 2)
	var wg sync.WaitGroup
	for i, tag := range []string{"AAA", "BBB"} {
		wg.Go(func() {
			res, err := p.Invoke(ctxTimeout(t, 20*time.Second), spec, req(t, op("log", "tag", tag, "n", lines)), CallOptions{CaptureLog: true})
			if err != nil {
				t.Error(err)
				return
			}
			logs[i] = res.Log
		})
	}
	wg.Wait()
	for i, tag := range []string{"AAA", "BBB"} {
		var want strings.Builder
		for j := range lines {
			fmt.Fprintf(&want, "%s %d\n", tag, j)
		}
		fmt.Fprintf(&want, "%s err\n", tag)
		if string(logs[i]) != want.String() {
			t.Errorf("log of call %s = %.300q…; want exactly its %d lines", tag, logs[i], lines+1)
		}
	}

	res := invoke(t, p, spec, op("log", "tag", "CCC", "n", 1), CallOptions{})
	if res.Log != nil {
		t.Errorf("Log without CaptureLog = %q", res.Log)
	}
	res = invoke(t, p, spec, op("nomarker", "tag", "DDD"), CallOptions{CaptureLog: true})
	if string(res.Log) != "DDD\n" {
		t.Errorf("log of a call without marker = %q", res.Log)
	}
	keyLog := p.Logs(spec.Key)
	for _, want := range []string{"loading", "AAA 0", "BBB err", "CCC 0"} {
		if !bytes.Contains(keyLog, []byte(want)) {
			t.Errorf("Logs(key) lacks %q", want)
		}
	}
	for _, bad := range []string{initLine, callEndLine} {
		if bytes.Contains(keyLog, []byte(bad)) {
			t.Errorf("Logs(key) holds control line %q", bad)
		}
	}
}

func TestLargeOutput(t *testing.T) {
	t.Parallel()
	t.Run("5 MiB response", func(t *testing.T) {
		t.Parallel()
		p := newTestPool(t, PoolConfig{})
		spec := testSpec(t)
		res := invoke(t, p, spec, op("big", "size", 5<<20), CallOptions{})
		var v string
		result(t, res, &v)
		if len(v) != 5<<20 || strings.Trim(v, "x") != "" {
			t.Errorf("result of %d bytes, want 5 MiB of x", len(v))
		}
	})
	t.Run("5 MiB of log, capped capture", func(t *testing.T) {
		t.Parallel()
		p := newTestPool(t, PoolConfig{})
		spec := testSpec(t)
		res := invoke(t, p, spec, op("flood", "bytes", 5<<20), CallOptions{CaptureLog: true})
		if !res.LogTruncated || len(res.Log) > 1<<20+200 || !bytes.Contains(res.Log, []byte("truncated")) {
			t.Errorf("log of %d bytes, truncated %v; want 1 MiB, truncated and saying so", len(res.Log), res.LogTruncated)
		}
		if n := len(p.Logs(spec.Key)); n > 64<<10 {
			t.Errorf("Logs(key) holds %d bytes; want at most 64 KiB", n)
		}
	})
	t.Run("response over the cap", func(t *testing.T) {
		t.Parallel()
		p := newTestPool(t, PoolConfig{MaxResponseBytes: 1 << 20})
		spec := testSpec(t)
		_, err := p.Invoke(ctxTimeout(t, 20*time.Second), spec, req(t, op("big", "size", 2<<20)), CallOptions{})
		if !errors.Is(err, ErrResponseTooLarge) {
			t.Fatalf("Invoke: %v, want ErrResponseTooLarge", err)
		}
		invoke(t, p, spec, op("echo", "value", 1), CallOptions{})
	})
}

func TestRunStopsAllWorkers(t *testing.T) {
	t.Parallel()
	p := newTestPool(t, PoolConfig{StopGrace: 500 * time.Millisecond})
	spec := testSpec(t)
	spec.MaxInstances = 3
	var (
		mu  sync.Mutex
		all []int
		wg  sync.WaitGroup
	)
	for range 3 {
		wg.Go(func() {
			pid, child, _ := pids(t, p, spec)
			mu.Lock()
			all = append(all, pid, child)
			mu.Unlock()
		})
	}
	wg.Wait()
	running := make(chan error, 1)
	go func() {
		_, err := p.Invoke(ctxTimeout(t, 20*time.Second), spec, req(t, op("sleep", "seconds", 30)), CallOptions{})
		running <- err
	}()
	eventually(t, 10*time.Second, "a call running", func() bool { return statsOf(p, spec.Key).Busy == 1 })

	p.stop() // cancels Run, waits for it, checks the run directory is empty
	// The workers are reaped by Run; their children were SIGKILLed with the process group,
	// which the kernel delivers asynchronously: give it a moment.
	for _, pid := range all {
		eventually(t, 5*time.Second, fmt.Sprintf("pid %d gone after Run returned", pid), func() bool { return !alive(pid) })
	}
	if err := <-running; !errors.Is(err, ErrClosed) || !errors.Is(err, ErrWorkerDied) {
		t.Errorf("call running at shutdown: %v, want ErrClosed and ErrWorkerDied", err)
	}
	if _, err := p.Invoke(context.Background(), spec, req(t, op("echo")), CallOptions{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Invoke after Run: %v, want ErrClosed", err)
	}
	if s := p.Stats(); len(s) != 0 {
		t.Errorf("Stats after Run = %+v", s)
	}
}

func TestInvalidInput(t *testing.T) {
	t.Parallel()
	p := newTestPool(t, PoolConfig{})
	good := testSpec(t)
	tests := []struct {
		name    string
		spec    func() Spec
		request string
		wantErr error
	}{
		{name: "trailing newline accepted", spec: func() Spec { return good }, request: string(req(t, op("echo", "value", "nl"))) + "\n"},
		{name: "newline inside", spec: func() Spec { return good }, request: "{\"content_type\":\"text\",\n\"data\":\"x\"}", wantErr: ErrInvalidRequest},
		{name: "empty", spec: func() Spec { return good }, request: "\n", wantErr: ErrInvalidRequest},
		{name: "no key", spec: func() Spec { s := good; s.Key = ""; return s }, request: "{}", wantErr: ErrInvalidSpec},
		{name: "no argv", spec: func() Spec { s := good; s.Argv = nil; return s }, request: "{}", wantErr: ErrInvalidSpec},
		{name: "negative queue", spec: func() Spec { s := good; s.QueueSize = -1; return s }, request: "{}", wantErr: ErrInvalidSpec},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Invoke(ctxTimeout(t, 20*time.Second), tc.spec(), []byte(tc.request), CallOptions{})
			if tc.wantErr == nil && err != nil || !errors.Is(err, tc.wantErr) {
				t.Errorf("Invoke: %v, want %v", err, tc.wantErr)
			}
		})
	}
	if _, err := NewPool(PoolConfig{}); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("NewPool without RunDir: %v", err)
	}
}
