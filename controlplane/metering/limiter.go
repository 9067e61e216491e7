package metering

import (
	"math"
	"time"
)

// limit is one token bucket's settings: rate tokens per second, at most burst of them. A rate
// of 0 is no limit.
type limit struct {
	name  string
	scope string
	rate  float64
	burst int
}

// bucket is a token bucket's state.
type bucket struct {
	tokens float64
	last   time.Time
	rate   float64
	burst  float64
}

// limiter holds the token buckets of keys and accounts. It is not safe for concurrent use: the
// Meter guards it.
type limiter struct {
	buckets map[string]*bucket
}

func newLimiter() *limiter { return &limiter{buckets: map[string]*bucket{}} }

// refill brings b to now under the limit's current settings.
func (b *bucket) refill(now time.Time, l limit) {
	b.rate, b.burst = l.rate, float64(max(l.burst, 1))
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(b.burst, b.tokens+el*b.rate)
	}
	b.last = now
}

// take takes one token from every limited bucket, or none when one of them is empty: then it
// answers the RateLimitError of the bucket that waits longest.
func (l *limiter) take(now time.Time, ls ...limit) *RateLimitError {
	var refused *RateLimitError
	bs := make([]*bucket, len(ls))
	for i, lim := range ls {
		if lim.rate <= 0 {
			continue
		}
		b := l.buckets[lim.name]
		if b == nil {
			b = &bucket{tokens: float64(max(lim.burst, 1)), last: now}
			l.buckets[lim.name] = b
		}
		b.refill(now, lim)
		bs[i] = b
		if b.tokens < 1 {
			wait := time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
			if refused == nil || wait > refused.RetryAfter {
				refused = &RateLimitError{Scope: lim.scope, Rate: lim.rate, Burst: int(b.burst), RetryAfter: wait}
			}
		}
	}
	if refused != nil {
		return refused
	}
	for _, b := range bs {
		if b != nil {
			b.tokens--
		}
	}
	return nil
}

// prune forgets the buckets that have refilled completely: a full bucket is the same as none.
func (l *limiter) prune(now time.Time) {
	for name, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*b.rate >= b.burst {
			delete(l.buckets, name)
		}
	}
}
