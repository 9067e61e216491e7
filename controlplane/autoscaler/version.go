package autoscaler

import (
	"math"
	"time"
)

// Version is the autoscaling state machine of one algorithm version, as Knative's KPA. Feed it
// the observed concurrency with Observe and ask it for the workers wanted with Desired (or
// Decide). Decisions update its panic state, so call them in time order. It is not safe for
// concurrent use; the caller serializes.
type Version struct {
	cfg Config
	win *window

	started    time.Time // first Observe or Decide
	lastActive time.Time // last observation with calls in flight; zero if none yet
	last       float64   // the latest observation

	panicSince time.Time // the last time the panic threshold was crossed; zero: not in panic
	maxPanic   int       // the most workers wanted during this panic
}

// NewVersion returns the state machine of a version configured by cfg (defaults applied).
func NewVersion(cfg Config) *Version {
	cfg = cfg.WithDefaults()
	return &Version{cfg: cfg, win: newWindow(cfg.StableWindow, bucketWidth)}
}

// Config returns the version's configuration, defaults applied.
func (v *Version) Config() Config { return v.cfg }

// Observe records the calls in flight at now, summed over the version's workers, calls queued
// for a worker included. Call it regularly (e.g. every second), zeros included.
func (v *Version) Observe(now time.Time, inFlight float64) {
	if inFlight < 0 || math.IsNaN(inFlight) {
		inFlight = 0
	}
	v.start(now)
	v.win.add(now, inFlight)
	v.last = inFlight
	if inFlight > 0 && now.After(v.lastActive) {
		v.lastActive = now
	}
}

func (v *Version) start(now time.Time) {
	if v.started.IsZero() || now.Before(v.started) {
		v.started = now
	}
}

// InPanic reports whether the last decision was taken in panic mode.
func (v *Version) InPanic() bool { return !v.panicSince.IsZero() }

// Desired returns the workers the version should have at now, given its current workers
// (ready or starting). It is Decide without a prediction.
func (v *Version) Desired(now time.Time, current int) int {
	return v.Decide(now, current, 0).Desired
}

// Decision is the outcome of Decide, with the figures behind it (for metrics and the
// simulator).
type Decision struct {
	Desired   int
	StableAvg float64 // mean concurrency over the stable window
	PanicAvg  float64 // mean concurrency over the panic window
	Panic     bool    // decided in panic mode
	// Predicted is the floor from the predicted concurrency (0 when none applied).
	Predicted int
}

// Decide returns the workers the version should have at now, given its current workers (ready
// or starting) and, optionally, the concurrency predicted for the coming lead time (predicted
// rate × service time; see Predictor), used as a floor when the config is Predictive:
//
//   - stable mode: ceil(stable-window average / target);
//   - panic mode, entered when ceil(panic-window average / target) reaches PanicThreshold ×
//     current and left a stable window after that last happened: the panic-window figure,
//     never below the current workers nor below the most wanted since the panic began;
//   - the predicted floor, then the rate limits: at most ceil(MaxScaleUpRate × current) (1
//     counting for 0) and at least floor(current / MaxScaleDownRate);
//   - zero only when MinInstances is 0 and no call has been in flight for IdleTimeout;
//   - at least 1 when calls are waiting and there are no workers (scale from zero);
//   - finally MinInstances and MaxInstances, always.
func (v *Version) Decide(now time.Time, current int, predicted float64) Decision {
	v.start(now)
	c := v.cfg
	if current < 0 {
		current = 0
	}
	d := Decision{
		StableAvg: v.win.average(now, c.StableWindow),
		PanicAvg:  v.win.average(now, c.PanicWindow),
	}
	ready := max(current, 1)
	stable, panicked := ceil(d.StableAvg/c.Target), ceil(d.PanicAvg/c.Target)

	switch {
	case float64(panicked) >= c.PanicThreshold*float64(ready):
		if v.panicSince.IsZero() {
			v.maxPanic = 0
		}
		v.panicSince = now
	case v.InPanic() && now.Sub(v.panicSince) >= c.StableWindow:
		v.panicSince, v.maxPanic = time.Time{}, 0
	}

	want := stable
	if v.InPanic() {
		d.Panic = true
		want = max(panicked, v.maxPanic, current)
		v.maxPanic = want
	}

	if c.Predictive && predicted > 0 {
		d.Predicted = ceil(predicted / c.Target)
		want = max(want, d.Predicted)
	}

	want = min(want, int(math.Ceil(c.MaxScaleUpRate*float64(ready))))
	want = max(want, int(math.Floor(float64(current)/c.MaxScaleDownRate)))

	if want == 0 && current > 0 && !v.idle(now) {
		want = 1
	}
	if current == 0 && v.last > 0 {
		want = max(want, 1)
	}

	want = max(want, c.MinInstances)
	if c.MaxInstances > 0 {
		want = min(want, c.MaxInstances)
	}
	d.Desired = want
	return d
}

// idle reports whether no call has been in flight for the idle timeout (counted from the
// first observation when there never was one).
func (v *Version) idle(now time.Time) bool {
	since := v.lastActive
	if since.IsZero() {
		since = v.started
	}
	return now.Sub(since) >= v.cfg.IdleTimeout
}
