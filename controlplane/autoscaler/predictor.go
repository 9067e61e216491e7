package autoscaler

import "time"

// Defaults of NewPredictor.
const (
	DefaultPredictorBucket = 5 * time.Minute
	DefaultPredictorDays   = 7
)

const day = 24 * time.Hour

// Predictor forecasts one version's call rate from its history: calls counted in fixed buckets
// (5 minutes by default) over the last days (7 by default). The rate expected at a time is
// the weighted average of the same bucket on the previous days that are in the history, the
// most recent day weighing most (weights days, days-1, …, 1). Buckets are aligned on UTC
// days. It is pure: times are passed in.
type Predictor struct {
	width  int64 // bucket width, ns
	perDay int64 // buckets per day
	days   int
	counts []float64
	idx    []int64
	first  int64 // first bucket recorded
	last   int64 // latest bucket recorded
	any    bool  // something was recorded
}

// NewPredictor returns a predictor with the given bucket width and days of history. A zero
// (or negative) argument takes its default, as does a width that does not divide a day.
func NewPredictor(bucket time.Duration, days int) *Predictor {
	if bucket <= 0 || day%bucket != 0 {
		bucket = DefaultPredictorBucket
	}
	if days <= 0 {
		days = DefaultPredictorDays
	}
	perDay := int64(day / bucket)
	size := (int64(days) + 1) * perDay
	return &Predictor{
		width:  int64(bucket),
		perDay: perDay,
		days:   days,
		counts: make([]float64, size),
		idx:    make([]int64, size),
	}
}

func (p *Predictor) bucket(t time.Time) int64 {
	ns := t.UnixNano()
	b := ns / p.width
	if ns%p.width < 0 {
		b--
	}
	return b
}

func (p *Predictor) slot(b int64) int {
	s := int(b % int64(len(p.idx)))
	if s < 0 {
		s += len(p.idx)
	}
	return s
}

// Record counts calls arriving at at. Calls older than the history kept are dropped.
func (p *Predictor) Record(at time.Time, calls float64) {
	if calls <= 0 {
		return
	}
	b := p.bucket(at)
	if p.any && b <= p.last-int64(len(p.idx)) {
		return
	}
	s := p.slot(b)
	if p.idx[s] != b {
		p.idx[s], p.counts[s] = b, 0
	}
	p.counts[s] += calls
	if !p.any || b < p.first {
		p.first = b
	}
	if !p.any || b > p.last {
		p.last = b
	}
	p.any = true
}

// count is the calls recorded in bucket b (0 when none were).
func (p *Predictor) count(b int64) float64 {
	s := p.slot(b)
	if p.idx[s] != b {
		return 0
	}
	return p.counts[s]
}

// Rate returns the calls per second expected in the bucket holding at, and whether any
// previous day's history covers it: false (and 0) on the first day, before any history.
// Only past days are used: a bucket at or after the latest recorded one does not count.
func (p *Predictor) Rate(at time.Time) (float64, bool) {
	if !p.any {
		return 0, false
	}
	b := p.bucket(at)
	sum, weights := 0.0, 0.0
	for k := 1; k <= p.days; k++ {
		past := b - int64(k)*p.perDay
		if past < p.first || past >= p.last || past <= p.last-int64(len(p.idx)) {
			continue
		}
		w := float64(p.days - k + 1)
		sum += w * p.count(past)
		weights += w
	}
	if weights == 0 {
		return 0, false
	}
	seconds := float64(p.width) / float64(time.Second)
	return sum / weights / seconds, true
}

// Peak returns the highest rate expected from now to now+lead (every bucket in between), and
// whether history covers any of it. Use a lead of at least the node boot time plus the worker
// start time, so that capacity is ready when the peak comes and kept until it has passed.
func (p *Predictor) Peak(now time.Time, lead time.Duration) (float64, bool) {
	if lead < 0 {
		lead = 0
	}
	peak, ok := 0.0, false
	end := now.Add(lead)
	for t := now; ; t = t.Add(time.Duration(p.width)) {
		if t.After(end) {
			t = end
		}
		if r, has := p.Rate(t); has {
			ok = true
			peak = max(peak, r)
		}
		if !t.Before(end) {
			break
		}
	}
	return peak, ok
}

// Concurrency is the concurrency a call rate brings at a service time (Little's law): the
// predicted concurrency to pass to Version.Decide.
func Concurrency(rate float64, service time.Duration) float64 {
	return rate * service.Seconds()
}
