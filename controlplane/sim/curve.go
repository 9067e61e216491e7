package sim

import (
	"math"
	"math/rand/v2"
	"time"
)

// daySeconds is the length of a simulated day in seconds.
const daySeconds = 86400.0

// Curve is an algorithm's daily call rate: a base rate all day long plus a Gaussian bump
// (the lunchtime rush) centred on PeakAt local time, the same every day. Local time is UTC
// plus UTCOffset; the simulation starts at midnight UTC.
type Curve struct {
	// Base is the rate, in calls/s, outside the rush.
	Base float64
	// Peak is the rate at the top of the bump, base included.
	Peak float64
	// Width is the bump's standard deviation.
	Width time.Duration
	// PeakAt is the local time of day of the peak, e.g. 12h30m.
	PeakAt time.Duration
	// UTCOffset is the algorithm's time zone: local time = UTC + UTCOffset.
	UTCOffset time.Duration
}

// LunchCurve returns the curve with the given daily average, peak and base rates (calls/s,
// base < average < peak) and a peak at peakAt local time: the bump's width is what makes the
// 24-hour average come out at average.
func LunchCurve(average, peak, base float64, peakAt, utcOffset time.Duration) Curve {
	sigma := 0.0
	if peak > base && average > base {
		sigma = (average - base) * daySeconds / ((peak - base) * math.Sqrt(2*math.Pi))
	}
	return Curve{
		Base:      base,
		Peak:      peak,
		Width:     time.Duration(sigma * float64(time.Second)),
		PeakAt:    peakAt,
		UTCOffset: utcOffset,
	}
}

// Rate returns the call rate, in calls/s, at t seconds after the simulation's start.
func (c Curve) Rate(t float64) float64 {
	sigma := c.Width.Seconds()
	if sigma <= 0 || c.Peak <= c.Base {
		return max(c.Base, 0)
	}
	// Distance to the nearest peak, in seconds; the neighbouring days' bumps are added so that
	// the curve is periodic whatever the width.
	x := math.Mod(t+c.UTCOffset.Seconds()-c.PeakAt.Seconds(), daySeconds)
	if x < 0 {
		x += daySeconds
	}
	if x >= daySeconds/2 {
		x -= daySeconds
	}
	bump := 0.0
	for k := -1.0; k <= 1; k++ {
		d := (x + k*daySeconds) / sigma
		bump += math.Exp(-d * d / 2)
	}
	return c.Base + (c.Peak-c.Base)*bump
}

// Average returns the curve's mean rate over a day, in calls/s.
func (c Curve) Average() float64 {
	sigma := c.Width.Seconds()
	if sigma <= 0 || c.Peak <= c.Base {
		return max(c.Base, 0)
	}
	return c.Base + (c.Peak-c.Base)*sigma*math.Sqrt(2*math.Pi)/daySeconds
}

// MaxRate returns the highest rate of the curve over a day (sampled every 10 s).
func (c Curve) MaxRate() float64 {
	m := 0.0
	for t := 0.0; t < daySeconds; t += 10 {
		m = max(m, c.Rate(t))
	}
	return m
}

// arrivals generates one algorithm's Poisson arrivals following its curve, the rate held
// constant over each simulated second (taken at the second's middle). Each second restarts
// the exponential draw at its beginning, which memorylessness makes exact.
type arrivals struct {
	rng     *rand.Rand
	curve   Curve
	t       float64 // the last arrival, or the start of the current second
	stepEnd float64 // the end of the current second
	rate    float64 // the current second's rate
	end     float64 // no arrivals at or after end
}

func newArrivals(c Curve, seed uint64, stream int, end float64) *arrivals {
	return &arrivals{
		rng:   rand.New(rand.NewPCG(seed, uint64(stream)*0x9E3779B97F4A7C15+1)),
		curve: c,
		end:   end,
	}
}

// next returns the time of the next arrival, or +Inf when there is none before the end.
func (a *arrivals) next() float64 {
	for {
		if a.rate > 0 {
			a.t += a.rng.ExpFloat64() / a.rate
			if a.t < a.stepEnd {
				return a.t
			}
		}
		a.t = a.stepEnd
		if a.t >= a.end {
			return math.Inf(1)
		}
		a.stepEnd = a.t + 1
		a.rate = a.curve.Rate(a.t + 0.5)
	}
}
