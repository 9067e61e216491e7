package autoscaler

import (
	"testing"
	"time"
)

// t0 is the start of every trace.
var t0 = time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)

// seg is a stretch of a trace: this many seconds at this concurrency.
type seg struct {
	secs     int
	inFlight float64
}

// step is one second of a replayed trace.
type step struct {
	d       Decision
	current int
}

// replay feeds the trace second by second (Observe then Decide) and returns each second's
// decision. With follow, the workers become the desired number at once (the instant-cloud
// model); otherwise current stays fixed.
func replay(cfg Config, trace []seg, current int, follow bool) []step {
	v := NewVersion(cfg)
	var out []step
	now := t0
	for _, s := range trace {
		for range s.secs {
			v.Observe(now, s.inFlight)
			d := v.Decide(now, current, 0)
			out = append(out, step{d: d, current: current})
			if follow {
				current = d.Desired
			}
			now = now.Add(time.Second)
		}
	}
	return out
}

func TestVersionTraces(t *testing.T) {
	t.Parallel()
	type check struct {
		at        int // second of the trace
		min, max  int // bounds on Desired there
		wantPanic *bool
	}
	yes, no := true, false
	tests := []struct {
		name    string
		cfg     Config
		trace   []seg
		current int
		follow  bool
		checks  []check
		// each second's Desired stays within [floor, ceiling] (ceiling 0: unchecked)
		floor, ceiling int
	}{
		{
			name:    "scale up on burst",
			trace:   []seg{{120, 2}, {60, 10}},
			current: 2, follow: true,
			checks: []check{
				{at: 119, min: 2, max: 2, wantPanic: &no},
				{at: 120, min: 4, max: 4, wantPanic: &yes}, // (5×2+10)/6 = 3.3 → 4 = 2 × 2: panic
				{at: 125, min: 10, max: 10, wantPanic: &yes},
				{at: 179, min: 10, max: 10},
			},
		},
		{
			name:    "panic mode entered and held without scale-down",
			trace:   []seg{{60, 1}, {10, 20}, {200, 1}},
			current: 1, follow: true,
			checks: []check{
				{at: 65, min: 20, max: 20, wantPanic: &yes},
				{at: 100, min: 20, max: 20, wantPanic: &yes}, // demand is back to 1, still 20
				{at: 119, min: 20, max: 20, wantPanic: &yes},
				{at: 120, min: 10, max: 10, wantPanic: &no}, // a stable window after the crossing at 60, halved
				{at: 269, min: 1, max: 1},
			},
		},
		{
			name:    "stable mode scales down, rate-limited",
			trace:   []seg{{60, 8}, {120, 1}},
			current: 8, follow: true,
			checks: []check{
				{at: 59, min: 8, max: 8, wantPanic: &no},
				{at: 179, min: 1, max: 1, wantPanic: &no},
			},
		},
		{
			name:    "scale to zero after idle",
			cfg:     Config{IdleTimeout: 5 * time.Minute},
			trace:   []seg{{60, 3}, {400, 0}},
			current: 3, follow: true,
			checks: []check{
				{at: 130, min: 1, max: 1}, // stable window empty of calls, not yet idle
				{at: 358, min: 1, max: 1}, // last call at 59: idle for 299 s
				{at: 359, min: 0, max: 0}, // idle for 300 s
				{at: 459, min: 0, max: 0},
			},
		},
		{
			name:    "keep-warm respected",
			cfg:     Config{MinInstances: 2, IdleTimeout: time.Second},
			trace:   []seg{{120, 0}, {30, 9}, {300, 0}},
			current: 0, follow: true,
			floor: 2,
			checks: []check{
				{at: 0, min: 2, max: 2},
				{at: 140, min: 9, max: 9},
				{at: 449, min: 2, max: 2},
			},
		},
		{
			name:    "max respected",
			cfg:     Config{MaxInstances: 5},
			trace:   []seg{{30, 1}, {60, 50}, {30, 1}},
			current: 1, follow: true,
			ceiling: 5,
			checks:  []check{{at: 40, min: 5, max: 5}},
		},
		{
			name:    "scale up rate limit",
			cfg:     Config{MaxScaleUpRate: 2},
			trace:   []seg{{60, 100}},
			current: 3,
			checks:  []check{{at: 59, min: 6, max: 6}}, // ceil(2 × 3)
		},
		{
			name:    "scale down rate limit",
			cfg:     Config{MaxScaleDownRate: 4},
			trace:   []seg{{60, 1}},
			current: 20,
			checks:  []check{{at: 59, min: 5, max: 5}}, // floor(20 / 4)
		},
		{
			name:    "scale up rate limit from zero counts one worker",
			cfg:     Config{MaxScaleUpRate: 3},
			trace:   []seg{{10, 0}, {1, 40}},
			current: 0,
			checks:  []check{{at: 10, min: 3, max: 3, wantPanic: &yes}},
		},
		{
			name:    "scale from zero: one call yields a worker at once",
			cfg:     Config{IdleTimeout: time.Minute},
			trace:   []seg{{600, 0}, {1, 1}},
			current: 0,
			checks:  []check{{at: 599, min: 0, max: 0}, {at: 600, min: 1, max: 1}},
		},
		{
			name:    "scale from zero: a burst yields many at once",
			trace:   []seg{{600, 0}, {1, 30}},
			current: 0,
			checks:  []check{{at: 600, min: 5, max: 5, wantPanic: &yes}}, // 30/6 over the panic window
		},
		{
			name:    "target concurrency per worker",
			cfg:     Config{Target: 4},
			trace:   []seg{{60, 10}},
			current: 3,
			checks:  []check{{at: 59, min: 3, max: 3}}, // ceil(10 / 4)
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			steps := replay(tt.cfg, tt.trace, tt.current, tt.follow)
			for _, c := range tt.checks {
				d := steps[c.at].d
				if d.Desired < c.min || d.Desired > c.max {
					t.Errorf("t=%ds: desired %d (current %d, stable %.2f, panic %.2f), want [%d, %d]",
						c.at, d.Desired, steps[c.at].current, d.StableAvg, d.PanicAvg, c.min, c.max)
				}
				if c.wantPanic != nil && d.Panic != *c.wantPanic {
					t.Errorf("t=%ds: panic %v, want %v", c.at, d.Panic, *c.wantPanic)
				}
			}
			for i, s := range steps {
				if s.d.Desired < tt.floor || (tt.ceiling > 0 && s.d.Desired > tt.ceiling) {
					t.Fatalf("t=%ds: desired %d outside [%d, %d]", i, s.d.Desired, tt.floor, tt.ceiling)
				}
			}
		})
	}
}

// TestPanicNeverScalesDown checks every second of a panic: desired never falls.
func TestPanicNeverScalesDown(t *testing.T) {
	t.Parallel()
	// Spiky demand: bursts of 30 every 20 s over a base of 2.
	var trace []seg
	trace = append(trace, seg{60, 2})
	for range 5 {
		trace = append(trace, seg{3, 30}, seg{17, 2})
	}
	trace = append(trace, seg{200, 2})
	steps := replay(Config{}, trace, 2, true)
	entered := false
	for i := 1; i < len(steps); i++ {
		d, prev := steps[i].d, steps[i-1].d
		if d.Panic {
			entered = true
		}
		if d.Panic && prev.Panic && d.Desired < prev.Desired {
			t.Fatalf("t=%ds: scaled down from %d to %d in panic", i, prev.Desired, d.Desired)
		}
	}
	if !entered {
		t.Fatal("panic never entered")
	}
	last := steps[len(steps)-1].d
	if last.Panic || last.Desired != 2 {
		t.Errorf("end: %+v, want stable at 2", last)
	}
}

func TestPredictedFloor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		cfg       Config
		current   int
		predicted float64
		want      int
	}{
		{"floor applied", Config{Predictive: true}, 1, 12, 12},
		{"floor with target", Config{Predictive: true, Target: 4}, 1, 12, 3},
		{"ignored unless predictive", Config{}, 1, 12, 1},
		{"bounded by max", Config{Predictive: true, MaxInstances: 8}, 1, 12, 8},
		{"bounded by up rate", Config{Predictive: true, MaxScaleUpRate: 2}, 3, 12, 6},
		{"no floor below demand", Config{Predictive: true}, 5, 2, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := NewVersion(tt.cfg)
			for i := range 60 {
				v.Observe(t0.Add(time.Duration(i)*time.Second), float64(tt.current))
			}
			now := t0.Add(59 * time.Second)
			if got := v.Decide(now, tt.current, tt.predicted).Desired; got != tt.want {
				t.Errorf("desired %d, want %d", got, tt.want)
			}
		})
	}
}

func TestDesiredWithoutObservations(t *testing.T) {
	t.Parallel()
	v := NewVersion(Config{})
	if got := v.Desired(t0, 0); got != 0 {
		t.Errorf("no workers, no calls: desired %d, want 0", got)
	}
	// Workers with no calls ever seen: kept until the idle timeout from the first decision.
	v = NewVersion(Config{IdleTimeout: time.Minute})
	if got := v.Desired(t0, 1); got != 1 {
		t.Errorf("at start: desired %d, want 1", got)
	}
	if got := v.Desired(t0.Add(time.Minute), 1); got != 0 {
		t.Errorf("after the idle timeout: desired %d, want 0", got)
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c := Config{MinInstances: 9, MaxInstances: 4, MaxScaleDownRate: 0.5}.WithDefaults()
	if c.Target != 1 || c.StableWindow != time.Minute || c.PanicWindow != 6*time.Second ||
		c.PanicThreshold != 2 || c.IdleTimeout != time.Minute || c.MaxScaleUpRate != 1000 ||
		c.MaxScaleDownRate != 2 || c.MinInstances != 4 {
		t.Errorf("defaults: %+v", c)
	}
	if got := (Config{Target: 0.5}).Workers(3); got != 6 {
		t.Errorf("Workers = %d, want 6", got)
	}
}
