package worker

import (
	"testing"
	"time"
)

// TestWarmFloor: Warm starts workers up to the floor without a call, the reaper keeps them past
// their idle timeout, never more than MaxInstances start, and lifting the floor lets them go.
func TestWarmFloor(t *testing.T) {
	t.Parallel()
	p := newTestPool(t, PoolConfig{ReapInterval: 50 * time.Millisecond})
	spec := testSpec(t)
	spec.IdleTimeout = 100 * time.Millisecond
	spec.MaxInstances = 3
	n, err := p.Warm(spec, 5)
	if err != nil || n != 3 {
		t.Fatalf("Warm(5) with MaxInstances 3 = %d, %v; want 3 started", n, err)
	}
	eventually(t, 10*time.Second, "three idle workers", func() bool {
		s := statsOf(p, spec.Key)
		return s.Workers == 3 && s.Idle == 3
	})
	time.Sleep(500 * time.Millisecond) // five idle timeouts
	if s := statsOf(p, spec.Key); s.Workers != 3 {
		t.Fatalf("workers under a floor of 5 after their idle timeout: %+v", s)
	}
	if n, _ := p.Warm(spec, 3); n != 0 {
		t.Fatalf("Warm again started %d workers; want 0", n)
	}
	res := invoke(t, p, spec, op("echo", "value", 1), CallOptions{})
	if res.ColdStart {
		t.Error("a call with warm workers was a cold start")
	}
	if _, err := p.Warm(spec, 1); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the floor lowered to 1", func() bool { return statsOf(p, spec.Key).Workers == 1 })
	time.Sleep(300 * time.Millisecond)
	if s := statsOf(p, spec.Key); s.Workers != 1 {
		t.Fatalf("workers under a floor of 1: %+v", s)
	}
	if got := p.Floors()[spec.Key]; got != 1 {
		t.Fatalf("Floors()[key] = %d; want 1", got)
	}
	if _, err := p.Warm(spec, 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "no workers once the floor is lifted", func() bool { return statsOf(p, spec.Key).Workers == 0 })
}

// TestWarmBacksOff: a version whose workers fail to start is not restarted at every Warm.
func TestWarmBacksOff(t *testing.T) {
	t.Parallel()
	p := newTestPool(t, PoolConfig{})
	spec := testSpec(t, "fail-load") // exits before PIPE_INIT_COMPLETE
	spec.MaxInstances = 2
	if n, err := p.Warm(spec, 2); err != nil || n != 2 {
		t.Fatalf("first Warm = %d, %v; want 2 started", n, err)
	}
	eventually(t, 10*time.Second, "the failed starts", func() bool { return statsOf(p, spec.Key).Workers == 0 })
	if n, _ := p.Warm(spec, 2); n != 0 {
		t.Fatalf("Warm right after failed starts started %d workers; want 0 (backing off)", n)
	}
}
