package autoscaler

import "time"

// window is a sliding window of fixed-width time buckets holding observations. A bucket's
// value is the mean of the observations that fell in it; the window's average is the mean of
// the bucket values over a span, skipping buckets with no observation, so that the result does
// not depend on how often the caller observes (observing zeros is how demand falls).
type window struct {
	width int64     // bucket width, ns
	sum   []float64 // per slot: sum of observations
	n     []int     // per slot: number of observations
	idx   []int64   // per slot: the bucket number it holds
}

// newWindow returns a window able to average over spans up to span.
func newWindow(span, width time.Duration) *window {
	size := int((span+width-1)/width) + 1
	return &window{
		width: int64(width),
		sum:   make([]float64, size),
		n:     make([]int, size),
		idx:   make([]int64, size),
	}
}

// bucket is the number of the bucket holding t.
func (w *window) bucket(t time.Time) int64 {
	ns := t.UnixNano()
	b := ns / w.width
	if ns%w.width < 0 {
		b--
	}
	return b
}

func (w *window) slot(b int64) int {
	s := int(b % int64(len(w.idx)))
	if s < 0 {
		s += len(w.idx)
	}
	return s
}

// add records an observation at t. One older than what the slot now holds is dropped.
func (w *window) add(t time.Time, v float64) {
	b := w.bucket(t)
	s := w.slot(b)
	switch {
	case w.n[s] > 0 && w.idx[s] > b:
		return
	case w.n[s] == 0 || w.idx[s] != b:
		w.idx[s], w.sum[s], w.n[s] = b, 0, 0
	}
	w.sum[s] += v
	w.n[s]++
}

// average is the mean bucket value over the span ending at now (its bucket included), or 0
// when no bucket in the span has an observation.
func (w *window) average(now time.Time, span time.Duration) float64 {
	k := int64((span + time.Duration(w.width) - 1) / time.Duration(w.width))
	if k > int64(len(w.idx)) {
		k = int64(len(w.idx))
	}
	end := w.bucket(now)
	total, count := 0.0, 0
	for b := end - k + 1; b <= end; b++ {
		s := w.slot(b)
		if w.n[s] > 0 && w.idx[s] == b {
			total += w.sum[s] / float64(w.n[s])
			count++
		}
	}
	if count == 0 {
		return 0
	}
	return total / float64(count)
}
