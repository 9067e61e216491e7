package metering

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/store"
)

// maxBuckets bounds the buckets one usage query may span.
const maxBuckets = 10_000

// filter checks a query, fills its defaults and returns the store's filter. q.Account is set.
func (m *Meter) filter(q *api.UsageQuery) (store.CallFilter, error) {
	if q.Bucket == "" {
		q.Bucket = string(store.BucketDay)
	}
	width := 24 * time.Hour
	switch store.UsageBucket(q.Bucket) {
	case store.BucketDay:
	case store.BucketHour:
		width = time.Hour
	default:
		return store.CallFilter{}, fmt.Errorf("%w: bucket=%q: use hour or day", ErrInvalid, q.Bucket)
	}
	if q.To.IsZero() {
		q.To = m.cfg.Now()
	}
	if q.From.IsZero() {
		q.From = q.To.Add(-30 * width)
		if width == time.Hour {
			q.From = q.To.Add(-24 * time.Hour)
		}
	}
	q.From, q.To = q.From.UTC(), q.To.UTC()
	if !q.From.Before(q.To) {
		return store.CallFilter{}, fmt.Errorf("%w: from (%s) must be before to (%s)", ErrInvalid, q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	if q.To.Sub(q.From)/width > maxBuckets {
		return store.CallFilter{}, fmt.Errorf("%w: from … to spans more than %d buckets of an %s: narrow it or use bucket=day", ErrInvalid, maxBuckets, q.Bucket)
	}
	f := store.CallFilter{From: q.From, To: q.To}
	switch q.As {
	case "", api.AsCaller:
		q.As, f.Account = api.AsCaller, q.Account
	case api.AsAuthor:
		f.Author = q.Account
	default:
		return store.CallFilter{}, fmt.Errorf("%w: as=%q: use caller or author", ErrInvalid, q.As)
	}
	return f, nil
}

// Usage sums an account's calls (as caller) or its algorithms' calls (as author) in time
// buckets, per version. It first writes this control plane's buffered records, so the calls it
// served are all counted.
func (m *Meter) Usage(ctx context.Context, q api.UsageQuery) (api.Usage, error) {
	f, err := m.filter(&q)
	if err != nil {
		return api.Usage{}, err
	}
	if err := m.flushNow(ctx); err != nil {
		return api.Usage{}, err
	}
	rows, err := m.cfg.Store.UsageBuckets(ctx, f, store.UsageBucket(q.Bucket))
	if err != nil {
		return api.Usage{}, err
	}
	out := api.Usage{Account: q.Account, As: q.As, Bucket: q.Bucket, From: q.From, To: q.To, Buckets: []api.UsageBucket{}}
	var total store.UsageRow
	var sums []store.UsageRow // per bucket, summed in micro-credits (exact) before converting
	for _, r := range rows {
		if n := len(out.Buckets); n == 0 || !out.Buckets[n-1].Start.Equal(r.Bucket) {
			out.Buckets = append(out.Buckets, api.UsageBucket{Start: r.Bucket, Versions: []api.UsageVersion{}})
			sums = append(sums, store.UsageRow{})
		}
		i := len(out.Buckets) - 1
		out.Buckets[i].Versions = append(out.Buckets[i].Versions, api.UsageVersion{Version: r.VersionID, UsageTotals: totals(r)})
		addRow(&sums[i], r)
		addRow(&total, r)
	}
	for i := range out.Buckets {
		out.Buckets[i].UsageTotals = totals(sums[i])
	}
	out.Total = totals(total)
	return out, nil
}

// flushNow writes the buffered records (not the reload).
func (m *Meter) flushNow(ctx context.Context) error {
	m.flushMu.Lock()
	defer m.flushMu.Unlock()
	if err := m.flushRecords(ctx); err != nil {
		return fmt.Errorf("write buffered call records: %w", err)
	}
	return nil
}

// addRow adds r to the running sum t.
func addRow(t *store.UsageRow, r store.UsageRow) {
	t.Calls += r.Calls
	t.Errors += r.Errors
	t.Duration += r.Duration
	t.ComputeSeconds += r.ComputeSeconds
	t.GPUSeconds += r.GPUSeconds
	t.BytesIn += r.BytesIn
	t.BytesOut += r.BytesOut
	t.ComputeMicro += r.ComputeMicro
	t.RoyaltyMicro += r.RoyaltyMicro
}

// totals is a sum as the API shows it.
func totals(r store.UsageRow) api.UsageTotals {
	return api.UsageTotals{Calls: r.Calls, Errors: r.Errors, DurationSeconds: r.Duration.Seconds(), ComputeSeconds: r.ComputeSeconds,
		GPUSeconds: r.GPUSeconds, BytesIn: r.BytesIn, BytesOut: r.BytesOut, ComputeCredits: float64(r.ComputeMicro) / Micro,
		Royalties: float64(r.RoyaltyMicro) / Micro, Credits: float64(r.ComputeMicro+r.RoyaltyMicro) / Micro}
}

// Calls returns an account's newest call records (as caller), or those of its algorithms (as
// author: without the callers' accounts and keys).
func (m *Meter) Calls(ctx context.Context, q api.UsageQuery) ([]api.CallRecord, error) {
	q.Bucket = ""
	f, err := m.filter(&q)
	if err != nil {
		return nil, err
	}
	switch {
	case q.Limit == 0:
		q.Limit = 100
	case q.Limit < 0 || q.Limit > 1000:
		return nil, fmt.Errorf("%w: limit=%d: give 1 to 1000", ErrInvalid, q.Limit)
	}
	f.Limit = q.Limit
	if err := m.flushNow(ctx); err != nil {
		return nil, err
	}
	rs, err := m.cfg.Store.ListCalls(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]api.CallRecord, 0, len(rs))
	for _, r := range rs {
		c := api.CallRecord{ID: r.ID, StartedAt: r.At, Account: r.Account, KeyID: r.KeyID, Version: r.VersionID, Author: r.Author,
			Parent: r.Parent, NodeID: r.NodeID, DurationSeconds: r.Duration.Seconds(), ColdStartSeconds: r.ColdStart.Seconds(),
			ComputeSeconds: r.ComputeSeconds, GPUSeconds: r.GPUSeconds, BytesIn: r.BytesIn, BytesOut: r.BytesOut, Outcome: r.Outcome,
			ComputeCredits: float64(r.ComputeMicro) / Micro, Royalty: float64(r.RoyaltyMicro) / Micro,
			Credits: float64(r.ComputeMicro+r.RoyaltyMicro) / Micro}
		if q.As == api.AsAuthor && r.Account != q.Account {
			c.Account, c.KeyID = "", ""
			// The calling version names its owner (and may be private): the author sees it
			// only when it is its own.
			if owner, _, _ := strings.Cut(r.Parent, "/"); owner != q.Account {
				c.Parent = ""
			}
		}
		out = append(out, c)
	}
	return out, nil
}
