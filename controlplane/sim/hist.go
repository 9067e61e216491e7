package sim

// Latency histogram: 0.1 ms buckets up to 10 s, 100 ms buckets up to 1000 s, and one bucket
// for anything longer. Quantiles are read as the lower edge of their bucket.
const (
	finePerSec   = 1e4 // fine buckets per second
	fineLimit    = 10.0
	coarsePerSec = 10.0 // coarse buckets per second
	coarseLimit  = 1000.0
	fineN        = int(fineLimit * finePerSec)
	coarseN      = int((coarseLimit - fineLimit) * coarsePerSec)
)

// hist counts latencies.
type hist struct {
	fine   []uint64
	coarse []uint64
	over   uint64
	n      uint64
}

func newHist() *hist {
	return &hist{fine: make([]uint64, fineN), coarse: make([]uint64, coarseN)}
}

// add counts one latency, in seconds.
func (h *hist) add(s float64) {
	h.n++
	switch {
	case s < 0:
		h.fine[0]++
	case s < fineLimit:
		// The small epsilon keeps an exact 0.285 in the 0.2850 bucket despite rounding.
		h.fine[min(int(s*finePerSec+1e-6), fineN-1)]++
	case s < coarseLimit:
		h.coarse[min(int((s-fineLimit)*coarsePerSec), coarseN-1)]++
	default:
		h.over++
	}
}

// merge adds another histogram's counts to h.
func (h *hist) merge(o *hist) {
	for i, c := range o.fine {
		h.fine[i] += c
	}
	for i, c := range o.coarse {
		h.coarse[i] += c
	}
	h.over += o.over
	h.n += o.n
}

// quantile returns the q-quantile (0 < q ≤ 1) in seconds, 0 for an empty histogram.
func (h *hist) quantile(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.fine {
		if seen += c; seen >= rank {
			return float64(i) / finePerSec
		}
	}
	for i, c := range h.coarse {
		if seen += c; seen >= rank {
			return fineLimit + float64(i)/coarsePerSec
		}
	}
	return coarseLimit
}
