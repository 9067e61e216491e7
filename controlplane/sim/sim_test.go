package sim

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

const hour = 3600.0

// small is a scaled-down two-algorithm scenario (a tenth of SeeFood each, six hours apart),
// quick enough to run every strategy twice under the race detector.
func small() Config {
	return Config{Name: "small", Tenants: []Tenant{
		{Name: "a", Curve: LunchCurve(2.1, 14, 0.5, 12*time.Hour+30*time.Minute, 0)},
		{Name: "b", Curve: LunchCurve(2.1, 14, 0.5, 12*time.Hour+30*time.Minute, -6*time.Hour)},
	}}
}

func TestCurveCalibration(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name          string
		c             Curve
		average, peak float64
	}{
		{"seefood", SeeFood().Tenants[0].Curve, 21, 140},
		{"multitenant", MultiTenant().Tenants[3].Curve, 10.5, 70},
	} {
		sum := 0.0
		for s := 0.0; s < daySeconds; s++ {
			sum += tt.c.Rate(s + 0.5)
		}
		if got := sum / daySeconds; math.Abs(got-tt.average) > 1e-3 {
			t.Errorf("%s: 24 h average %.4f calls/s, want %.1f", tt.name, got, tt.average)
		}
		if got := tt.c.Average(); math.Abs(got-tt.average) > 1e-9 {
			t.Errorf("%s: Average() = %v, want %v", tt.name, got, tt.average)
		}
		if got := tt.c.MaxRate(); math.Abs(got-tt.peak) > 0.01*tt.peak {
			t.Errorf("%s: peak %.2f calls/s, want ≈ %.0f", tt.name, got, tt.peak)
		}
	}
	// The peak is at 12:30 local: 03:30 UTC in Tokyo (UTC+9).
	tokyo := MultiTenant().Tenants[3].Curve
	if r := tokyo.Rate(3.5 * hour); math.Abs(r-70) > 0.01 {
		t.Errorf("Tokyo at 03:30 UTC: %.2f calls/s, want 70", r)
	}
}

func TestDeterminism(t *testing.T) {
	t.Parallel()
	a, err := Compare(small(), Strategies()...)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Compare(small(), Strategies()...)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("same seed, different figures:\n%+v\n%+v", a.Results, b.Results)
	}
	var ta, tb bytes.Buffer
	if err := a.WriteTable(&ta); err != nil {
		t.Fatal(err)
	}
	if err := b.WriteTable(&tb); err != nil {
		t.Fatal(err)
	}
	if ta.String() != tb.String() {
		t.Fatal("same seed, different tables")
	}
	c := small()
	c.Seed = 7
	other, err := Run(c, Fixed{})
	if err != nil {
		t.Fatal(err)
	}
	if other.Calls == a.Results[0].Calls {
		t.Errorf("seeds 0 and 7 drew the same %d calls", other.Calls)
	}
}

// TestSeeFoodFixed replays SeeFood's two days on 40 machines: nothing is dropped, and the
// lower bound (busy machine-seconds over the day) is the calls times the service time, and
// the curve's average load.
func TestSeeFoodFixed(t *testing.T) {
	t.Parallel()
	cfg := SeeFood()
	r, err := Run(cfg, Fixed{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Dropped != 0 {
		t.Errorf("fixed for peak dropped %d calls", r.Dropped)
	}
	if r.AvgMachines != 40 || r.PeakMachines != 40 || math.Abs(r.CostPerMonth-25920) > 1e-6 {
		t.Errorf("fixed for peak: %.2f machines (peak %d), $%.0f/month; want 40, 40, $25,920",
			r.AvgMachines, r.PeakMachines, r.CostPerMonth)
	}
	s := DefaultService.Seconds()
	want := float64(r.Calls) * s
	if rel := math.Abs(r.BusyMachineSeconds-want) / want; rel > 1e-3 {
		t.Errorf("busy %.0f machine-s, calls × service %.0f: off by %.3f%%", r.BusyMachineSeconds, want, 100*rel)
	}
	if avg := cfg.Tenants[0].Curve.Average() * s; math.Abs(r.LowerBound-avg)/avg > 0.01 {
		t.Errorf("lower bound %.3f machines, want ≈ %.3f (21 calls/s × 0.285 s)", r.LowerBound, avg)
	}
	if calls := float64(r.Calls); math.Abs(calls-21*daySeconds)/(21*daySeconds) > 0.01 {
		t.Errorf("%0.f calls on day 2, want ≈ %.0f", calls, 21*daySeconds)
	}
}

func TestFiguresSane(t *testing.T) {
	t.Parallel()
	rep, err := Compare(small(), Strategies()...)
	if err != nil {
		t.Fatal(err)
	}
	lb := rep.LowerBound()
	if lb <= 0 {
		t.Fatalf("lower bound %v", lb)
	}
	for _, r := range rep.Results {
		if r.AvgMachines < lb {
			t.Errorf("%s: %.3f machines, under the lower bound %.3f", r.Strategy, r.AvgMachines, lb)
		}
		if float64(r.PeakMachines) < r.AvgMachines-1e-9 {
			t.Errorf("%s: peak %d machines under the average %.3f", r.Strategy, r.PeakMachines, r.AvgMachines)
		}
		if math.Abs(r.MachineHours-r.AvgMachines*r.Window.Hours()) > 1e-6 {
			t.Errorf("%s: %.3f machine-hours, %.3f machines over %v", r.Strategy, r.MachineHours, r.AvgMachines, r.Window)
		}
		if math.Abs(r.CostPerMonth-r.AvgMachines*DefaultMachineMonth) > 1e-6 {
			t.Errorf("%s: $%.2f/month for %.3f machines", r.Strategy, r.CostPerMonth, r.AvgMachines)
		}
		if r.Calls != rep.Results[0].Calls {
			t.Errorf("%s replayed %d calls, %s %d: not the same trace", r.Strategy, r.Calls, rep.Results[0].Strategy, rep.Results[0].Calls)
		}
		if r.P50 < DefaultService-time.Millisecond || r.P99 < r.P50 {
			t.Errorf("%s: p50 %v, p99 %v", r.Strategy, r.P50, r.P99)
		}
		if r.Over1s > r.Calls || r.Dropped > r.Calls || r.Over1s < 0 {
			t.Errorf("%s: %d over 1 s, %d dropped of %d", r.Strategy, r.Over1s, r.Dropped, r.Calls)
		}
		if r.Dropped != 0 {
			t.Errorf("%s dropped %d calls on a light trace", r.Strategy, r.Dropped)
		}
	}
	var m bytes.Buffer
	if err := rep.WriteMetrics(&m); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"small_algos_machines=", "small_lower_bound_machines=", "small_ratio=",
		"small_p99_s=", "small_dropped=", "small_fixed_machines=", "small_reactive_machines="} {
		if !strings.Contains(m.String(), "METRIC "+name) {
			t.Errorf("no METRIC %s in\n%s", name, m.String())
		}
	}
}

// probe wraps a strategy and records, at chosen ticks, the first algorithm's workers and the
// machines.
type probe struct {
	Strategy
	at      []float64
	workers map[float64]int
	nodes   map[float64]int
}

func newProbe(s Strategy, at ...float64) *probe {
	return &probe{Strategy: s, at: at, workers: map[float64]int{}, nodes: map[float64]int{}}
}

func (p *probe) newRun(e *engine) runner { return &probeRun{runner: p.Strategy.newRun(e), p: p} }

type probeRun struct {
	runner
	p *probe
}

func (r *probeRun) tick(e *engine) {
	r.runner.tick(e)
	for _, a := range r.p.at {
		if a == e.now {
			r.p.workers[a], r.p.nodes[a] = e.tenants[0].workers, len(e.nodes)
		}
	}
}

// TestScaleToZeroAndPrewarm replays a synthetic lunch trace (no calls at night, a sharp rush
// to 40 calls/s at noon) for two days: algos scales to zero, machines included, at night, and on day 2 it
// pre-warms before the peak, so its p99 over the day-2 rush beats reactive VM autoscaling's.
func TestScaleToZeroAndPrewarm(t *testing.T) {
	t.Parallel()
	cfg := Config{
		Name: "lunch",
		Tenants: []Tenant{{Name: "lunch", Curve: Curve{
			Peak: 40, Width: 15 * time.Minute, PeakAt: 12 * time.Hour,
		}}},
		From: 24*time.Hour + 10*time.Hour,
		To:   24*time.Hour + 14*time.Hour,
	}
	const before = 11*hour + 30*60 // half an hour before the peak
	night1, night2, day2 := 3*hour, daySeconds+3*hour, daySeconds+before
	pa := newProbe(DefaultAlgos(), night1, night2, day2)
	noPrewarm := DefaultAlgos()
	noPrewarm.Prewarm = false
	pn := newProbe(noPrewarm, day2)
	pr := newProbe(Reactive{}, night2)
	algos, err := Run(cfg, pa)
	if err != nil {
		t.Fatal(err)
	}
	cold, err := Run(cfg, pn)
	if err != nil {
		t.Fatal(err)
	}
	reactive, err := Run(cfg, pr)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []float64{night1, night2} {
		if pa.workers[at] != 0 || pa.nodes[at] != 0 {
			t.Errorf("algos at %s: %d workers on %d machines, want 0 and 0", clock(at), pa.workers[at], pa.nodes[at])
		}
	}
	if pr.nodes[night2] < 1 {
		t.Errorf("reactive at %s: %d machines, want at least 1 (no scale to zero)", clock(night2), pr.nodes[night2])
	}
	// Half an hour before the peak, the pre-warmed workers already carry the load expected 5
	// minutes later.
	curve := cfg.Tenants[0].Curve
	need := ceil(curve.Rate(day2+5*60) * DefaultService.Seconds())
	if pa.workers[day2] < need {
		t.Errorf("30 min before the day-2 peak: %d workers, want ≥ %d (pre-warmed)", pa.workers[day2], need)
	}
	t.Logf("day-2 rush: algos p99 %v (%.2f machines), without pre-warm %v (%.2f), reactive %v (%.2f)",
		algos.P99, algos.AvgMachines, cold.P99, cold.AvgMachines, reactive.P99, reactive.AvgMachines)
	if algos.P99 >= reactive.P99 || algos.P99 >= cold.P99 || algos.P99 > time.Second {
		t.Errorf("day-2 rush p99: algos %v, without pre-warm %v, reactive %v; want algos below both and under 1 s",
			algos.P99, cold.P99, reactive.P99)
	}
	if algos.Dropped != 0 {
		t.Errorf("algos dropped %d calls", algos.Dropped)
	}
}

func TestHistQuantiles(t *testing.T) {
	t.Parallel()
	h := newHist()
	for i := range 100 {
		h.add(0.285 + float64(i)*0.01)
	}
	h.add(50)
	if got := h.quantile(0.5); math.Abs(got-0.785) > 2e-4 {
		t.Errorf("p50 %v, want 0.785", got)
	}
	if got := h.quantile(1); math.Abs(got-50) > 0.1 {
		t.Errorf("max %v, want 50", got)
	}
	if got := newHist().quantile(0.99); got != 0 {
		t.Errorf("empty p99 %v", got)
	}
	if got := h.quantile(0.01); got != 0.285 {
		t.Errorf("p1 %v, want exactly 0.285", got)
	}
}

func TestDollars(t *testing.T) {
	t.Parallel()
	for v, want := range map[float64]string{25920: "$25,920", 648: "$648", 1234567: "$1,234,567", 0: "$0"} {
		if got := dollars(v); got != want {
			t.Errorf("dollars(%v) = %q, want %q", v, got, want)
		}
	}
}
