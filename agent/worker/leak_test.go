package worker

import (
	"bytes"
	"context"
	"runtime/pprof"
	"testing"
	"time"
)

// TestNoGoroutineLeft runs before the parallel tests (it does not call t.Parallel), so the
// only goroutines of this package are its own pool's.
func TestNoGoroutineLeft(t *testing.T) {
	p := newTestPool(t, PoolConfig{})
	spec := testSpec(t)
	spec.MaxInstances = 2
	invoke(t, p, spec, op("echo", "value", 1), CallOptions{CaptureLog: true})
	invoke(t, p, spec, op("respond-exit"), CallOptions{})
	p.Invoke(ctxTimeout(t, 20*time.Second), spec, req(t, op("crash")), CallOptions{})
	p.Invoke(ctxTimeout(t, 200*time.Millisecond), spec, req(t, op("sleep", "seconds", 10)), CallOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p.Invoke(ctx, spec, req(t, op("echo")), CallOptions{})
	invoke(t, p, spec, op("echo", "value", 2), CallOptions{})
	p.stop()

	var stacks bytes.Buffer
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		stacks.Reset()
		pprof.Lookup("goroutine").WriteTo(&stacks, 1)
		if !bytes.Contains(stacks.Bytes(), []byte("agent/worker.(*")) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines of the pool left after Run returned:\n%s", stacks.String())
		}
	}
}
