// Package autoscaler decides how many workers each algorithm version should have, and which
// nodes a pool can give back, in Knative's style. It is pure: state machines fed with
// observations and the time, which the caller passes in. It reads no clock, does no I/O and
// starts no goroutines, so the control plane and the simulator (on a simulated clock) drive
// the same code.
//
//   - Version: concurrency-based worker autoscaling with stable and panic windows, keep-warm,
//     a maximum, rate limits, scale to zero after an idle timeout and scale from zero.
//   - Predictor: the call rate expected a lead time ahead, from the same time of day on the
//     previous days, so that workers (and their nodes) are warm before a recurring peak.
//   - NodesToRemove and Drain: which empty nodes a pool gives back, and when a draining node
//     may go.
package autoscaler

import (
	"math"
	"time"
)

// Defaults applied by Config.WithDefaults to zero fields.
const (
	DefaultTarget           = 1.0
	DefaultStableWindow     = 60 * time.Second
	DefaultPanicWindow      = 6 * time.Second
	DefaultPanicThreshold   = 2.0
	DefaultMaxScaleUpRate   = 1000.0
	DefaultMaxScaleDownRate = 2.0
)

// bucketWidth is the granularity of the concurrency windows.
const bucketWidth = time.Second

// Config tunes the autoscaling of one version. Zero fields take the defaults above.
type Config struct {
	// Target is the concurrency (calls in flight, queued included) per worker aimed at.
	Target float64
	// StableWindow and PanicWindow are the spans over which concurrency is averaged.
	StableWindow, PanicWindow time.Duration
	// PanicThreshold: panic when the panic window's desired workers reach this multiple of
	// the current workers.
	PanicThreshold float64
	// MinInstances workers are kept warm whatever the demand; MaxInstances, when positive,
	// caps the workers.
	MinInstances, MaxInstances int
	// IdleTimeout: with MinInstances == 0, the workers scale to zero once no call has been
	// in flight for this long. Zero takes the stable window; negative means at once.
	IdleTimeout time.Duration
	// MaxScaleUpRate caps one decision at ceil(rate × current) workers; MaxScaleDownRate
	// floors it at floor(current / rate). A down rate below 1 takes the default.
	MaxScaleUpRate, MaxScaleDownRate float64
	// Predictive makes the predicted concurrency passed to Decide a floor of the desired
	// workers (pre-warming); without it the prediction is ignored.
	Predictive bool
}

// WithDefaults returns the config with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Target <= 0 {
		c.Target = DefaultTarget
	}
	if c.StableWindow <= 0 {
		c.StableWindow = DefaultStableWindow
	}
	if c.PanicWindow <= 0 {
		c.PanicWindow = DefaultPanicWindow
	}
	if c.PanicWindow > c.StableWindow {
		c.PanicWindow = c.StableWindow
	}
	if c.PanicThreshold <= 0 {
		c.PanicThreshold = DefaultPanicThreshold
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = c.StableWindow
	}
	if c.MaxScaleUpRate <= 0 {
		c.MaxScaleUpRate = DefaultMaxScaleUpRate
	}
	if c.MaxScaleDownRate < 1 {
		c.MaxScaleDownRate = DefaultMaxScaleDownRate
	}
	if c.MinInstances < 0 {
		c.MinInstances = 0
	}
	if c.MaxInstances > 0 && c.MinInstances > c.MaxInstances {
		c.MinInstances = c.MaxInstances
	}
	return c
}

// Workers returns the workers needed to carry a concurrency at the target, ceil(c / target):
// the number Decide aims at, and the way to turn a predicted rate × service time into workers.
func (c Config) Workers(concurrency float64) int {
	c = c.WithDefaults()
	return ceil(concurrency / c.Target)
}

// ceil rounds up, forgiving floating-point noise (2.0000000001 is 2).
func ceil(x float64) int {
	if x <= 0 {
		return 0
	}
	return int(math.Ceil(x - 1e-9))
}
