package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Stats is where the catalog reads how much each version is used. Implementations are safe for
// concurrent use.
type Stats interface {
	// Usage returns the usage of every version that has been called, by version ID
	// ("owner/name/1.2.3"). It may answer from a view some seconds old, and should not block
	// for long: every search reads it. The map is shared: callers must not modify it.
	Usage(ctx context.Context) (map[string]Usage, error)
}

// Usage is how much a version was called.
type Usage struct {
	Calls int64
	// Latency is the histogram of the calls' durations: cumulative counts by upper bound in
	// seconds, ascending (the last bound may be +Inf).
	Latency []Bucket
}

// Bucket is a cumulative histogram bucket: Count calls took at most UpperBound seconds.
type Bucket struct {
	UpperBound float64
	Count      uint64
}

// usageReader reads a usage map.
type usageReader map[string]Usage

// of returns the calls of versions together and their median duration in milliseconds,
// estimated from the merged histograms (nil without calls).
func (u usageReader) of(ids ...string) (int64, *float64) {
	var calls int64
	var merged []Bucket
	for _, id := range ids {
		s, ok := u[id]
		if !ok {
			continue
		}
		calls += s.Calls
		merged = mergeBuckets(merged, s.Latency)
	}
	p50, ok := quantile(0.5, merged)
	if !ok {
		return calls, nil
	}
	ms := math.Round(p50*1e6) / 1e3 // milliseconds, to the microsecond
	return calls, &ms
}

// mergeBuckets adds the cumulative histogram b to a (a histogram over the union of their
// bounds: a bound one lacks counts what that one counted at its next lower bound).
func mergeBuckets(a, b []Bucket) []Bucket {
	if len(a) == 0 {
		return b
	}
	if len(b) == 0 {
		return a
	}
	at := func(h []Bucket, bound float64) uint64 {
		i, found := slices.BinarySearchFunc(h, bound, func(x Bucket, t float64) int {
			switch {
			case x.UpperBound < t:
				return -1
			case x.UpperBound > t:
				return 1
			}
			return 0
		})
		switch {
		case found:
			return h[i].Count
		case i == 0:
			return 0
		}
		return h[i-1].Count
	}
	bounds := make([]float64, 0, len(a)+len(b))
	for _, x := range a {
		bounds = append(bounds, x.UpperBound)
	}
	for _, x := range b {
		bounds = append(bounds, x.UpperBound)
	}
	slices.Sort(bounds)
	bounds = slices.Compact(bounds)
	out := make([]Bucket, len(bounds))
	for i, bd := range bounds {
		out[i] = Bucket{bd, at(a, bd) + at(b, bd)}
	}
	return out
}

// quantile estimates the q-quantile of a cumulative histogram as Prometheus's
// histogram_quantile does: linear within the bucket that holds the rank, the lowest bucket
// starting at 0, and the highest finite bound when the rank falls in the +Inf bucket.
func quantile(q float64, h []Bucket) (float64, bool) {
	if len(h) == 0 || h[len(h)-1].Count == 0 {
		return 0, false
	}
	rank := q * float64(h[len(h)-1].Count)
	lower, below := 0.0, uint64(0)
	for _, b := range h {
		if float64(b.Count) >= rank {
			if math.IsInf(b.UpperBound, 1) {
				return lower, true
			}
			in := b.Count - below
			if in == 0 {
				return b.UpperBound, true
			}
			return lower + (b.UpperBound-lower)*(rank-float64(below))/float64(in), true
		}
		lower, below = b.UpperBound, b.Count
	}
	return lower, true
}

// Metric names MetricsStats reads (controlplane/metrics).
const (
	callsMetric    = "algos_calls_total"
	durationMetric = "algos_call_duration_seconds"
)

// MetricsStats reads usage from the control plane's Prometheus metrics (controlplane/metrics):
// calls per version from algos_calls_total, their durations from algos_call_duration_seconds.
// It scrapes the metrics handler in process, at most once per TTL; searches meanwhile read
// the last scrape. The counts are those since the control plane started.
type MetricsStats struct {
	handler http.Handler
	ttl     time.Duration

	cur        atomic.Pointer[scrape]
	refreshing sync.Mutex
}

type scrape struct {
	at    time.Time
	usage map[string]Usage
}

var _ Stats = (*MetricsStats)(nil)

// DefaultStatsTTL is how long MetricsStats serves a scrape.
const DefaultStatsTTL = 5 * time.Second

// NewMetricsStats reads usage from a metrics handler (metrics.Metrics.Handler()); ttl 0 means
// DefaultStatsTTL.
func NewMetricsStats(handler http.Handler, ttl time.Duration) *MetricsStats {
	if ttl <= 0 {
		ttl = DefaultStatsTTL
	}
	return &MetricsStats{handler: handler, ttl: ttl}
}

// Usage implements Stats. While one caller scrapes, the others get the previous scrape.
func (m *MetricsStats) Usage(ctx context.Context) (map[string]Usage, error) {
	cur := m.cur.Load()
	if cur != nil && time.Since(cur.at) < m.ttl {
		return cur.usage, nil
	}
	if cur != nil && !m.refreshing.TryLock() {
		return cur.usage, nil
	}
	if cur == nil {
		m.refreshing.Lock()
		if cur = m.cur.Load(); cur != nil { // scraped while this caller waited
			m.refreshing.Unlock()
			return cur.usage, nil
		}
	}
	defer m.refreshing.Unlock()
	usage, err := m.scrape(ctx)
	if err != nil {
		if cur != nil {
			return cur.usage, nil // keep serving the last one; the next call tries again
		}
		return nil, err
	}
	m.cur.Store(&scrape{at: time.Now(), usage: usage})
	return usage, nil
}

func (m *MetricsStats) scrape(ctx context.Context) (map[string]Usage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "/metrics?name[]="+callsMetric+"&name[]="+durationMetric, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeProtoDelim)))
	rec := &recorder{header: http.Header{}, code: http.StatusOK}
	m.handler.ServeHTTP(rec, req)
	if rec.code != http.StatusOK {
		return nil, fmt.Errorf("catalog: scrape the metrics: status %d", rec.code)
	}
	return readUsage(&rec.body, expfmt.ResponseFormat(rec.header))
}

// recorder is the http.ResponseWriter of an in-process scrape.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(code int)        { r.code = code }

// readUsage decodes metric families and sums them per version.
func readUsage(r io.Reader, format expfmt.Format) (map[string]Usage, error) {
	dec := expfmt.NewDecoder(r, format)
	usage := map[string]Usage{}
	for {
		var mf dto.MetricFamily
		err := dec.Decode(&mf)
		if errors.Is(err, io.EOF) {
			return usage, nil
		}
		if err != nil {
			return nil, fmt.Errorf("catalog: read the metrics: %w", err)
		}
		for _, met := range mf.GetMetric() {
			var alg, ver string
			for _, l := range met.GetLabel() {
				switch l.GetName() {
				case "algorithm":
					alg = l.GetValue()
				case "version":
					ver = l.GetValue()
				}
			}
			if alg == "" || ver == "" || strings.Count(alg, "/") != 1 {
				continue
			}
			id := alg + "/" + ver
			u := usage[id]
			switch mf.GetName() {
			case callsMetric:
				u.Calls += int64(met.GetCounter().GetValue())
			case durationMetric:
				h := met.GetHistogram()
				bs := make([]Bucket, 0, len(h.GetBucket())+1)
				for _, b := range h.GetBucket() {
					bs = append(bs, Bucket{b.GetUpperBound(), b.GetCumulativeCount()})
				}
				if len(bs) == 0 || !math.IsInf(bs[len(bs)-1].UpperBound, 1) {
					bs = append(bs, Bucket{math.Inf(1), h.GetSampleCount()})
				}
				u.Latency = mergeBuckets(u.Latency, bs)
			}
			usage[id] = u
		}
	}
}
