package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/algos-dev/algos/controlplane/store"
)

// The usage part of the contract, beyond the interface's comments: ListCalls is newest first;
// a record keeps every field (durations to the nanosecond); UsageBuckets starts a bucket at the
// whole hour or day in UTC; from is inclusive and to exclusive.

func newCall(id, account, version string, started int) store.CallRecord {
	return store.CallRecord{
		ID: id, At: at(started), Account: account, KeyID: "k-" + account, VersionID: version, Author: "demo",
		NodeID: "n1", Duration: 12*time.Millisecond + 345*time.Nanosecond, ColdStart: 3 * time.Millisecond,
		ComputeSeconds: 1, GPUSeconds: 0, BytesIn: 40, BytesOut: 61, ComputeMicro: 1_000_000, RoyaltyMicro: 250_000,
	}
}

func newBilling(account string, credits int64) store.Billing {
	return store.Billing{Account: account, CreditsMicro: &credits, RatePerSecond: 2.5, Burst: 5, KeyRatePerSecond: 1, KeyBurst: 2, UpdatedAt: at(0)}
}

func usageTests() []test {
	return []test{
		{"RecordsRoundTrip", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			a := newCall("c1", "alice", "demo/a/1.0.0", 0)
			b := newCall("c2", "alice", "demo/b/1.0.0", 1)
			b.Parent, b.Outcome, b.NodeID, b.GPUSeconds, b.RoyaltyMicro = "demo/a/1.0.0", "AlgorithmError", "", 3, 0
			c := newCall("c3", "bob", "demo/a/1.0.0", 1)
			n, err := s.AddCalls(ctx, []store.CallRecord{a, b, c})
			must(t, "AddCalls", err)
			if n != 3 {
				t.Errorf("AddCalls: %d new, want 3", n)
			}
			got, err := s.ListCalls(ctx, store.CallFilter{Account: "alice"})
			must(t, "ListCalls", err)
			equal(t, "ListCalls alice (newest first)", got, []store.CallRecord{b, a})
			got, err = s.ListCalls(ctx, store.CallFilter{Author: "demo", Limit: 2})
			must(t, "ListCalls author", err)
			equal(t, "ListCalls as author, limit 2 (equal times: last stored first)", got, []store.CallRecord{c, b})
			got, err = s.ListCalls(ctx, store.CallFilter{Account: "alice", From: at(1), To: at(2)})
			must(t, "ListCalls window", err)
			equal(t, "ListCalls [from, to)", got, []store.CallRecord{b})
			got, err = s.ListCalls(ctx, store.CallFilter{Account: "carol"})
			must(t, "ListCalls carol", err)
			if len(got) != 0 {
				t.Errorf("ListCalls of an account without calls: %v", got)
			}
		}},
		{"AddCallsIdempotentAndCharges", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			for _, name := range []string{"alice", "bob"} {
				must(t, "CreateAccount", s.CreateAccount(ctx, store.Account{Name: name, CreatedAt: at(0)}))
			}
			must(t, "PutBilling", s.PutBilling(ctx, newBilling("alice", 10_000_000)))
			unlimited := newBilling("bob", 0)
			unlimited.CreditsMicro = nil
			must(t, "PutBilling", s.PutBilling(ctx, unlimited))
			batch := []store.CallRecord{newCall("c1", "alice", "demo/a/1.0.0", 0), newCall("c2", "alice", "demo/a/1.0.0", 1), newCall("c3", "bob", "demo/a/1.0.0", 2)}
			n, err := s.AddCalls(ctx, batch)
			must(t, "AddCalls", err)
			// A retried batch (its first commit's answer lost) with one new record.
			n2, err := s.AddCalls(ctx, append(batch, newCall("c4", "alice", "demo/a/1.0.0", 3)))
			must(t, "AddCalls again", err)
			if n != 3 || n2 != 1 {
				t.Errorf("AddCalls: %d then %d new, want 3 then 1", n, n2)
			}
			all, err := s.ListCalls(ctx, store.CallFilter{})
			must(t, "ListCalls", err)
			if len(all) != 4 {
				t.Errorf("ListCalls: %d records, want 4", len(all))
			}
			b, err := s.GetBilling(ctx, "alice")
			must(t, "GetBilling", err)
			want := newBilling("alice", 10_000_000-3*1_250_000)
			equal(t, "alice's billing after 3 calls of 1.25 credits (each charged once)", b, want)
			b, err = s.GetBilling(ctx, "bob")
			must(t, "GetBilling", err)
			equal(t, "bob's billing (unlimited: nothing taken)", b, unlimited)
			n, err = s.AddCalls(ctx, nil)
			if err != nil || n != 0 {
				t.Errorf("AddCalls(nil) = %d, %v", n, err)
			}
		}},
		{"ChargesGoBelowZero", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			must(t, "CreateAccount", s.CreateAccount(ctx, store.Account{Name: "alice", CreatedAt: at(0)}))
			must(t, "PutBilling", s.PutBilling(ctx, newBilling("alice", 1_000_000)))
			c := newCall("c1", "alice", "demo/a/1.0.0", 0)
			c.ComputeMicro = 3_000_000
			_, err := s.AddCalls(ctx, []store.CallRecord{c})
			must(t, "AddCalls", err)
			b, err := s.GetBilling(ctx, "alice")
			must(t, "GetBilling", err)
			if b.CreditsMicro == nil || *b.CreditsMicro != -2_250_000 {
				t.Errorf("balance %v, want -2250000 (a charge is never refused)", fmtPtr64(b.CreditsMicro))
			}
		}},
		{"Buckets", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			h := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
			mk := func(id, account, version string, started time.Time, outcome string) store.CallRecord {
				c := newCall(id, account, version, 0)
				c.At, c.Outcome = started, outcome
				return c
			}
			rs := []store.CallRecord{
				mk("c1", "alice", "demo/a/1.0.0", h.Add(5*time.Minute), ""),
				mk("c2", "alice", "demo/a/1.0.0", h.Add(59*time.Minute+59*time.Second), "AlgorithmError"),
				mk("c3", "alice", "demo/b/1.0.0", h.Add(10*time.Minute), ""),
				mk("c4", "alice", "demo/a/1.0.0", h.Add(time.Hour), ""),
				mk("c5", "alice", "demo/a/1.0.0", h.Add(13*time.Hour), ""),
				mk("c6", "bob", "demo/a/1.0.0", h.Add(time.Minute), ""),
			}
			rs[2].Author = "carol"
			_, err := s.AddCalls(ctx, rs)
			must(t, "AddCalls", err)
			row := func(bucket time.Time, version string, calls, errs int64) store.UsageRow {
				return store.UsageRow{Bucket: bucket, VersionID: version, Calls: calls, Errors: errs,
					Duration: time.Duration(calls) * rs[0].Duration, ComputeSeconds: calls, BytesIn: 40 * calls, BytesOut: 61 * calls,
					ComputeMicro: calls * 1_000_000, RoyaltyMicro: calls * 250_000}
			}
			got, err := s.UsageBuckets(ctx, store.CallFilter{Account: "alice"}, store.BucketHour)
			must(t, "UsageBuckets hour", err)
			equal(t, "alice by hour", got, []store.UsageRow{
				row(h, "demo/a/1.0.0", 2, 1), row(h, "demo/b/1.0.0", 1, 0),
				row(h.Add(time.Hour), "demo/a/1.0.0", 1, 0), row(h.Add(13*time.Hour), "demo/a/1.0.0", 1, 0),
			})
			day := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
			got, err = s.UsageBuckets(ctx, store.CallFilter{Account: "alice", From: h, To: h.Add(13 * time.Hour)}, store.BucketDay)
			must(t, "UsageBuckets day", err)
			equal(t, "alice by day, [from, to)", got, []store.UsageRow{row(day, "demo/a/1.0.0", 3, 1), row(day, "demo/b/1.0.0", 1, 0)})
			got, err = s.UsageBuckets(ctx, store.CallFilter{Author: "demo"}, store.BucketDay)
			must(t, "UsageBuckets author", err)
			equal(t, "demo as author, by day", got, []store.UsageRow{row(day, "demo/a/1.0.0", 5, 1)})
			got, err = s.UsageBuckets(ctx, store.CallFilter{Account: "carol"}, store.BucketDay)
			must(t, "UsageBuckets carol", err)
			if len(got) != 0 {
				t.Errorf("UsageBuckets of an account without calls: %v", got)
			}
			if _, err := s.UsageBuckets(ctx, store.CallFilter{}, "week"); err == nil {
				t.Error("UsageBuckets with bucket week succeeded, want an error")
			}
		}},
		{"Billing", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			_, err := s.GetBilling(ctx, "alice")
			wantErr(t, "GetBilling before any", err, store.ErrNotFound)
			wantErr(t, "PutBilling of an unknown account", s.PutBilling(ctx, newBilling("nobody", 1)), store.ErrNotFound)
			for _, name := range []string{"bob", "alice"} {
				must(t, "CreateAccount", s.CreateAccount(ctx, store.Account{Name: name, CreatedAt: at(0)}))
			}
			a := newBilling("alice", 5_000_000)
			must(t, "PutBilling", s.PutBilling(ctx, a))
			b := newBilling("bob", 0)
			b.CreditsMicro, b.RatePerSecond, b.Burst, b.KeyRatePerSecond, b.KeyBurst = nil, 0, 0, 0, 0
			must(t, "PutBilling", s.PutBilling(ctx, b))
			all, err := s.ListBilling(ctx)
			must(t, "ListBilling", err)
			equal(t, "ListBilling (by account)", all, []store.Billing{a, b})

			a.CreditsMicro, a.RatePerSecond, a.UpdatedAt = ptr(int64(7)), 100, at(1)
			must(t, "PutBilling replace", s.PutBilling(ctx, a))
			got, err := s.GetBilling(ctx, "alice")
			must(t, "GetBilling", err)
			equal(t, "GetBilling after replace", got, a)

			got, err = s.AddCredits(ctx, "alice", 3_000_000, at(2))
			must(t, "AddCredits", err)
			a.CreditsMicro, a.UpdatedAt = ptr(int64(3_000_007)), at(2)
			equal(t, "AddCredits", got, a)
			got, err = s.AddCredits(ctx, "alice", -4_000_000, at(3))
			must(t, "AddCredits negative", err)
			if *got.CreditsMicro != -999_993 {
				t.Errorf("AddCredits negative: %d, want -999993", *got.CreditsMicro)
			}
			_, err = s.AddCredits(ctx, "bob", 1, at(4))
			wantErr(t, "AddCredits to an unlimited account", err, store.ErrConflict)
			_, err = s.AddCredits(ctx, "carol", 1, at(4))
			wantErr(t, "AddCredits to an account without billing", err, store.ErrNotFound)
		}},
		{"ConcurrentCharges", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			must(t, "CreateAccount", s.CreateAccount(ctx, store.Account{Name: "alice", CreatedAt: at(0)}))
			must(t, "PutBilling", s.PutBilling(ctx, newBilling("alice", 100_000_000)))
			const n = 20
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					c := newCall(fmt.Sprint("c", i), "alice", "demo/a/1.0.0", i)
					if _, err := s.AddCalls(ctx, []store.CallRecord{c}); err != nil {
						t.Error(err)
					}
					if _, err := s.AddCredits(ctx, "alice", 1, at(i)); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			b, err := s.GetBilling(ctx, "alice")
			must(t, "GetBilling", err)
			if want := int64(100_000_000 - n*1_250_000 + n); b.CreditsMicro == nil || *b.CreditsMicro != want {
				t.Errorf("balance after %d concurrent charges and top-ups: %s, want %d", n, fmtPtr64(b.CreditsMicro), want)
			}
		}},
	}
}

func fmtPtr64(p *int64) string {
	if p == nil {
		return "unlimited"
	}
	return fmt.Sprint(*p)
}
