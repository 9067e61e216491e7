package autoscaler

import (
	"math"
	"testing"
	"time"
)

// lunch is a synthetic daily trace: 2 calls/s all day, 40 calls/s from 12:00 to 13:00 UTC.
func lunch(t time.Time) float64 {
	if h := t.UTC().Hour(); h == 12 {
		return 40
	}
	return 2
}

// TestPredictorPrewarmsDailyPeak replays two days of the lunch trace through a Version fed by
// a Predictor, one second at a time, with workers following the decision at once. On day 1
// there is no history and scaling is purely reactive; on day 2 the workers for the peak are
// wanted a lead time (node boot plus worker start) before it.
func TestPredictorPrewarmsDailyPeak(t *testing.T) {
	t.Parallel()
	const (
		service = 500 * time.Millisecond // 2 calls/s → concurrency 1; 40 calls/s → 20
		boot    = 2 * time.Minute
		lead    = boot + time.Minute
	)
	pred := NewPredictor(5*time.Minute, 7)
	predictive := NewVersion(Config{Predictive: true})
	reactive := NewVersion(Config{})
	desired := map[time.Duration][2]int{} // offset from t0 → {predictive, reactive}
	probe := map[time.Duration]bool{}
	for _, d := range []time.Duration{0, 24 * time.Hour} {
		for _, hm := range []time.Duration{11*time.Hour + 56*time.Minute, 11*time.Hour + 57*time.Minute,
			12*time.Hour - boot, 12 * time.Hour, 12*time.Hour + 30*time.Minute, 14*time.Hour + 30*time.Minute} {
			probe[d+hm] = true
		}
	}
	var firstDayHistory bool
	curP, curR := 1, 1
	for off := time.Duration(0); off < 48*time.Hour; off += time.Second {
		now := t0.Add(off)
		rate, ok := pred.Peak(now, lead)
		if ok && off < 23*time.Hour {
			firstDayHistory = true
		}
		inFlight := Concurrency(lunch(now), service)
		predictive.Observe(now, inFlight)
		reactive.Observe(now, inFlight)
		curP = predictive.Decide(now, curP, Concurrency(rate, service)).Desired
		curR = reactive.Desired(now, curR)
		pred.Record(now, lunch(now)) // the calls that arrived in this second
		if probe[off] {
			desired[off] = [2]int{curP, curR}
		}
	}
	if firstDayHistory {
		t.Error("predictor claimed history on day 1")
	}
	tests := []struct {
		at                   time.Duration
		predictive, reactive int
	}{
		// Day 1: no history, both reactive: 1 worker before the peak, 20 in it.
		{11*time.Hour + 57*time.Minute, 1, 1},
		{12*time.Hour - boot, 1, 1},
		{12*time.Hour + 30*time.Minute, 20, 20},
		// Day 2: the predictive version wants the peak's 20 workers a lead time ahead.
		{24*time.Hour + 11*time.Hour + 56*time.Minute, 1, 1},
		{24*time.Hour + 11*time.Hour + 57*time.Minute, 20, 1},
		{24*time.Hour + 12*time.Hour - boot, 20, 1},
		{24*time.Hour + 12*time.Hour, 20, 5}, // reactive: the first second of the peak, panic window (5×1+20)/6
		{24*time.Hour + 12*time.Hour + 30*time.Minute, 20, 20},
		// After the peak both scale back down.
		{24*time.Hour + 14*time.Hour + 30*time.Minute, 1, 1},
	}
	for _, tt := range tests {
		got := desired[tt.at]
		if got != [2]int{tt.predictive, tt.reactive} {
			t.Errorf("at %v: desired (predictive, reactive) = %v, want (%d, %d)", tt.at, got, tt.predictive, tt.reactive)
		}
	}
}

func TestPredictorRate(t *testing.T) {
	t.Parallel()
	bucket := 5 * time.Minute
	noon := t0.Add(12 * time.Hour)
	tests := []struct {
		name   string
		days   int
		record map[int]float64 // days before the target day → calls in the noon bucket
		want   float64         // calls per second
		ok     bool
	}{
		{"no history", 3, nil, 0, false},
		{"yesterday only", 3, map[int]float64{1: 600}, 2, true},
		{"weighted: yesterday counts most", 3, map[int]float64{1: 900, 2: 600, 3: 300},
			(3*900.0 + 2*600 + 1*300) / 6 / 300, true},
		{"days beyond the history ignored", 2, map[int]float64{1: 600, 2: 600, 3: 30000}, 2, true},
		{"a recorded day without calls counts as zero", 3, map[int]float64{1: 0, 2: 900}, 2 * 900.0 / 5 / 300, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := NewPredictor(bucket, tt.days)
			oldest := 0
			for k := range tt.record {
				oldest = max(oldest, k)
			}
			// Record the days in time order, a call a minute off the noon bucket so that each
			// day is in the history, then the day's noon calls.
			for k := oldest; k >= 1; k-- {
				day := noon.Add(-time.Duration(k) * 24 * time.Hour)
				p.Record(day.Add(-time.Hour), 1)
				p.Record(day, tt.record[k])
			}
			if oldest > 0 {
				p.Record(noon.Add(-time.Hour), 1) // today, before noon
			}
			got, ok := p.Rate(noon.Add(2 * time.Minute))
			if ok != tt.ok || math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("Rate = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestPredictorPeakAndDefaults(t *testing.T) {
	t.Parallel()
	p := NewPredictor(7*time.Minute, 0) // 7 min does not divide a day: 5 min
	if p.width != int64(DefaultPredictorBucket) || p.days != DefaultPredictorDays {
		t.Fatalf("defaults: width %v, days %d", time.Duration(p.width), p.days)
	}
	// Yesterday: 300 calls in the 12:00 bucket, 3000 in 12:10.
	y := t0
	p.Record(y.Add(11*time.Hour), 1)
	p.Record(y.Add(12*time.Hour), 300)
	p.Record(y.Add(12*time.Hour+10*time.Minute), 3000)
	p.Record(y.Add(24*time.Hour+11*time.Hour), 1) // today, 11:00
	now := y.Add(24*time.Hour + 12*time.Hour)
	if r, ok := p.Peak(now, 5*time.Minute); !ok || r != 1 {
		t.Errorf("Peak over 12:00-12:05 = %v, %v; want 1, true", r, ok)
	}
	if r, ok := p.Peak(now, 10*time.Minute); !ok || r != 10 {
		t.Errorf("Peak over 12:00-12:10 = %v, %v; want 10, true", r, ok)
	}
	if got := Concurrency(10, 285*time.Millisecond); math.Abs(got-2.85) > 1e-9 {
		t.Errorf("Concurrency = %v, want 2.85", got)
	}
}
