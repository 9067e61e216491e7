package metering

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/auth"
	"github.com/algos-dev/algos/controlplane/invoke"
	"github.com/algos-dev/algos/controlplane/registry"
	"github.com/algos-dev/algos/controlplane/store"
	"github.com/algos-dev/algos/controlplane/store/sqlite"
)

// failing is the real store with writes that can be made to fail: before the transaction, or
// after it committed (the answer lost).
type failing struct {
	Store
	failBefore, failAfter atomic.Bool
}

func (f *failing) AddCalls(ctx context.Context, rs []store.CallRecord) (int, error) {
	if f.failBefore.Load() {
		return 0, errors.New("disk full")
	}
	n, err := f.Store.AddCalls(ctx, rs)
	if err == nil && f.failAfter.Load() {
		return 0, errors.New("connection reset after commit")
	}
	return n, err
}

func openStore(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "algos.db")
	}
	s, err := sqlite.Open(t.Context(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newMeter(t *testing.T, st Store, mod func(*Config)) *Meter {
	t.Helper()
	cfg := Config{Store: st, Logger: slog.New(slog.DiscardHandler), FlushInterval: time.Hour}
	if mod != nil {
		mod(&cfg)
	}
	m, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func createAccounts(t *testing.T, st Store, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := st.CreateAccount(t.Context(), store.Account{Name: n, CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
}

var (
	verA = &registry.Resolved{ID: "demo/a/1.0.0", Owner: "demo", Name: "a", Version: "1.0.0", Manifest: api.Manifest{Price: 0.5}}
	verB = &registry.Resolved{ID: "demo/b/1.0.0", Owner: "demo", Name: "b", Version: "1.0.0"}
)

// call admits and records one call the way invoke does; it returns Admit's error.
func call(m *Meter, p *auth.Principal, v *registry.Resolved, d time.Duration, outcome string) error {
	if err := m.Admit(p, v); err != nil {
		return err
	}
	m.Record(invoke.Usage{Principal: p, Version: v, NodeID: "n1", Start: time.Now(), Duration: d, BytesIn: 30, BytesOut: 70,
		Outcome: outcome, Ran: true, Admitted: true})
	return nil
}

func credit(c float64) *float64 { return &c }

func TestRecordsChargedToTheOriginalCaller(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := openStore(t, "")
	createAccounts(t, st, "demo", "alice")
	m := newMeter(t, st, nil)
	if _, err := m.SetBilling(ctx, "alice", api.Billing{Credits: credit(100)}); err != nil {
		t.Fatal(err)
	}
	alice := &auth.Principal{Account: "alice", KeyID: "k1"}
	// demo/a, called by alice, calls demo/b from inside with a per-call token.
	child := &auth.Principal{Account: "alice", KeyID: "k1", Calling: &auth.Calling{Chain: []string{"demo/a/1.0.0"}, Request: "req-1"}}
	const n = 5
	for i := range n {
		if err := call(m, alice, verA, 10*time.Millisecond, ""); err != nil {
			t.Fatal(err)
		}
		outcome := ""
		if i == 0 {
			outcome = api.ErrTypeAlgorithm
		}
		if err := call(m, child, verB, 1500*time.Millisecond, outcome); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	rs, err := st.ListCalls(ctx, store.CallFilter{Account: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2*n {
		t.Fatalf("%d records for %d calls", len(rs), 2*n)
	}
	var errs int
	for _, r := range rs {
		if r.Account != "alice" || r.KeyID != "k1" || r.Author != "demo" || r.NodeID != "n1" || r.BytesIn != 30 || r.BytesOut != 70 {
			t.Errorf("record %+v", r)
		}
		switch r.VersionID {
		case verA.ID:
			if r.Parent != "" || r.ComputeSeconds != 1 || r.ComputeMicro != Micro || r.RoyaltyMicro != Micro/2 {
				t.Errorf("direct call record %+v: want no parent, 1 s, 1 credit and a royalty of 0.5", r)
			}
		case verB.ID:
			if r.Parent != "demo/a/1.0.0" || r.ComputeSeconds != 2 || r.ComputeMicro != 2*Micro || r.RoyaltyMicro != 0 {
				t.Errorf("child call record %+v: want parent demo/a/1.0.0, 2 s, 2 credits", r)
			}
		}
		if r.Outcome != "" {
			errs++
		}
	}
	if errs != 1 {
		t.Errorf("%d records with an error, want 1", errs)
	}
	b, err := m.Billing(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	want := 100 - n*(1+0.5) - n*2.0
	if *b.Credits != want || *b.Available != want {
		t.Errorf("alice's balance %v (available %v), want %v", *b.Credits, *b.Available, want)
	}
	u, err := m.Usage(ctx, api.UsageQuery{Account: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if u.Total.Calls != 2*n || u.Total.Errors != 1 || u.Total.Credits != 100-want || u.Total.Royalties != n*0.5 || u.Total.ComputeSeconds != 3*n {
		t.Errorf("alice's usage totals %+v", u.Total)
	}
	perVersion := map[string]int64{}
	for _, b := range u.Buckets { // one, or two when the test ran across midnight UTC
		for _, v := range b.Versions {
			perVersion[v.Version] += v.Calls
		}
	}
	if perVersion[verA.ID] != n || perVersion[verB.ID] != n || len(perVersion) != 2 {
		t.Errorf("alice's calls per version %v, want %d of each", perVersion, n)
	}
	earned, err := m.Usage(ctx, api.UsageQuery{Account: "demo", As: api.AsAuthor, Bucket: "hour"})
	if err != nil {
		t.Fatal(err)
	}
	if earned.Total.Royalties != n*0.5 || earned.Total.Calls != 2*n {
		t.Errorf("demo's earnings %+v, want %v from %d calls", earned.Total, n*0.5, 2*n)
	}
	calls, err := m.Calls(ctx, api.UsageQuery{Account: "demo", As: api.AsAuthor, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 3 || calls[0].Account != "" || calls[0].KeyID != "" {
		t.Errorf("demo's call records as author: %+v (want 3, without the caller)", calls)
	}
}

func TestCreditsRunOut(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := openStore(t, "")
	createAccounts(t, st, "demo", "alice")
	m := newMeter(t, st, nil)
	if _, err := m.SetBilling(ctx, "alice", api.Billing{Credits: credit(3)}); err != nil {
		t.Fatal(err)
	}
	alice := &auth.Principal{Account: "alice", KeyID: "k1"}
	// verA costs at least 1.5 (1 s + 0.5 royalty): two calls, then 402.
	for i := range 2 {
		if err := call(m, alice, verA, time.Millisecond, ""); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if err := call(m, alice, verA, time.Millisecond, ""); !errors.Is(err, ErrPaymentRequired) {
		t.Fatalf("third call: %v, want ErrPaymentRequired", err)
	}
	// The author itself is unlimited.
	if err := call(m, &auth.Principal{Account: "demo"}, verA, time.Millisecond, ""); err != nil {
		t.Fatal(err)
	}
	// Calls in flight hold their least cost: with 1 credit, one call of verB at a time.
	if _, err := m.AddCredits(ctx, "alice", 1); err != nil {
		t.Fatal(err)
	}
	if err := m.Admit(alice, verB); err != nil {
		t.Fatal(err)
	}
	child := &auth.Principal{Account: "alice", KeyID: "k1", Calling: &auth.Calling{Chain: []string{"demo/b/1.0.0"}}}
	if err := m.Admit(child, verA); !errors.Is(err, ErrPaymentRequired) {
		t.Fatalf("a child call while the parent holds the last credit: %v, want ErrPaymentRequired", err)
	}
	m.Record(invoke.Usage{Principal: alice, Version: verB, Duration: 3 * time.Second, Ran: true, Admitted: true})
	b, err := m.Billing(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if *b.Available != -2 {
		t.Errorf("available after a 3 s call with 1 credit: %v, want -2 (a running call is never cut off)", *b.Available)
	}
	if err := m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if b, _ = m.Billing(ctx, "alice"); *b.Credits != -2 || *b.Available != -2 {
		t.Errorf("after the flush: %+v", b)
	}
	// Unlimited again.
	if _, err := m.SetBilling(ctx, "alice", api.Billing{}); err != nil {
		t.Fatal(err)
	}
	if err := call(m, alice, verA, time.Millisecond, ""); err != nil {
		t.Fatalf("an unlimited account: %v", err)
	}
	if _, err := m.AddCredits(ctx, "alice", 1); !errors.Is(err, ErrInvalid) {
		t.Errorf("AddCredits to an unlimited account: %v, want ErrInvalid", err)
	}
	if _, err := m.SetBilling(ctx, "nobody", api.Billing{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetBilling of an unknown account: %v, want ErrNotFound", err)
	}
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := openStore(t, "")
	createAccounts(t, st, "demo", "alice")
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	m := newMeter(t, st, func(c *Config) { c.Now = clock; c.Rate = 1000 })
	if _, err := m.SetBilling(ctx, "alice", api.Billing{KeyRatePerSecond: 1, KeyBurst: 2, RatePerSecond: 0.5, Burst: 3}); err != nil {
		t.Fatal(err)
	}
	k1 := &auth.Principal{Account: "alice", KeyID: "k1"}
	k2 := &auth.Principal{Account: "alice", KeyID: "k2"}
	for i := range 2 {
		if err := m.Admit(k1, verB); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	var rle *RateLimitError
	if err := m.Admit(k1, verB); !errors.As(err, &rle) || rle.Scope != "API key" || rle.RetryAfterSeconds() != 1 {
		t.Fatalf("third call of key 1: %v, want the key's limit", err)
	}
	if err := m.Admit(k2, verB); err != nil {
		t.Fatalf("key 2: %v", err)
	}
	if err := m.Admit(k2, verB); !errors.As(err, &rle) || rle.Scope != "account" || rle.RetryAfterSeconds() != 2 {
		t.Fatalf("fourth call of the account: %v, want the account's limit, retry after 2 s", err)
	}
	// Calls from inside algorithms are not rate limited.
	child := &auth.Principal{Account: "alice", KeyID: "k1", Calling: &auth.Calling{Chain: []string{"demo/a/1.0.0"}}}
	for range 10 {
		if err := m.Admit(child, verB); err != nil {
			t.Fatalf("a child call: %v", err)
		}
	}
	// Another account has the default (1000/s).
	for range 100 {
		if err := m.Admit(&auth.Principal{Account: "demo", KeyID: "k9"}, verB); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	now = now.Add(2 * time.Second)
	mu.Unlock()
	if err := m.Admit(k1, verB); err != nil {
		t.Fatalf("after 2 s: %v", err)
	}
}

func TestRestartKeepsTotals(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "algos.db")
	st := openStore(t, path)
	createAccounts(t, st, "demo", "alice")
	m := newMeter(t, st, nil)
	if _, err := m.SetBilling(ctx, "alice", api.Billing{Credits: credit(1000)}); err != nil {
		t.Fatal(err)
	}
	alice := &auth.Principal{Account: "alice", KeyID: "k1"}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 25 {
				if err := call(m, alice, verA, 10*time.Millisecond, ""); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := m.Close(ctx); err != nil { // a graceful stop
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st2 := openStore(t, path)
	m2 := newMeter(t, st2, nil)
	b, err := m2.Billing(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if *b.Credits != 1000-100*1.5 || *b.Available != *b.Credits {
		t.Fatalf("after the restart: %+v, want 850 credits", b)
	}
	for range 10 {
		if err := call(m2, alice, verA, 10*time.Millisecond, ""); err != nil {
			t.Fatal(err)
		}
	}
	u, err := m2.Usage(ctx, api.UsageQuery{Account: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if u.Total.Calls != 110 || u.Total.Credits != 110*1.5 || u.Total.ComputeSeconds != 110 {
		t.Errorf("usage across the restart: %+v, want 110 calls, 165 credits", u.Total)
	}
}

func TestFailedWritesAreRetried(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := &failing{Store: openStore(t, "")}
	createAccounts(t, st, "alice")
	m := newMeter(t, st, func(c *Config) { c.MaxBatch = 3 })
	if _, err := m.SetBilling(ctx, "alice", api.Billing{Credits: credit(100)}); err != nil {
		t.Fatal(err)
	}
	alice := &auth.Principal{Account: "alice", KeyID: "k1"}
	for range 7 {
		if err := call(m, alice, verB, time.Millisecond, ""); err != nil {
			t.Fatal(err)
		}
	}
	st.failBefore.Store(true)
	if err := m.Flush(ctx); err == nil {
		t.Fatal("Flush succeeded on a failing store")
	}
	if n := m.Buffered(); n != 7 {
		t.Fatalf("%d records buffered after a failed write, want 7", n)
	}
	st.failBefore.Store(false)
	st.failAfter.Store(true) // the first batch commits, its answer is lost
	if err := m.Flush(ctx); err == nil {
		t.Fatal("Flush succeeded with a lost answer")
	}
	st.failAfter.Store(false)
	if err := m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	rs, err := st.ListCalls(ctx, store.CallFilter{Account: "alice"})
	if err != nil || len(rs) != 7 {
		t.Fatalf("%d records after the retries (%v), want 7", len(rs), err)
	}
	b, err := m.Billing(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if *b.Credits != 93 || *b.Available != 93 {
		t.Errorf("balance after 7 calls of 1 credit, retried: %v (available %v), want 93: each charged once", *b.Credits, *b.Available)
	}
}

func TestBackPressure(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := &failing{Store: openStore(t, "")}
	m := newMeter(t, st, func(c *Config) { c.MaxBatch = 2; c.MaxBuffer = 2 })
	p := &auth.Principal{Account: "alice"}
	for range 2 {
		m.Record(invoke.Usage{Principal: p, Version: verB, Ran: true})
	}
	done := make(chan struct{})
	go func() {
		m.Record(invoke.Usage{Principal: p, Version: verB, Ran: true})
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("Record returned with the buffer full")
	case <-time.After(50 * time.Millisecond):
	}
	if err := m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Record still waits after a flush")
	}
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rs, err := st.ListCalls(ctx, store.CallFilter{})
	if err != nil || len(rs) != 3 {
		t.Fatalf("%d records (%v), want 3", len(rs), err)
	}
}

func TestRunFlushes(t *testing.T) {
	t.Parallel()
	st := openStore(t, "")
	m := newMeter(t, st, func(c *Config) { c.FlushInterval = 20 * time.Millisecond })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	for i := range 3 {
		m.Record(invoke.Usage{Principal: &auth.Principal{Account: fmt.Sprint("a", i)}, Version: verB, Ran: true})
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		rs, err := st.ListCalls(t.Context(), store.CallFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Run wrote %d of 3 records in 10 s", len(rs))
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestQueryValidation(t *testing.T) {
	t.Parallel()
	m := newMeter(t, openStore(t, ""), nil)
	now := time.Now()
	for _, q := range []api.UsageQuery{
		{Account: "a", Bucket: "week"},
		{Account: "a", As: "payer"},
		{Account: "a", From: now, To: now.Add(-time.Hour)},
		{Account: "a", Bucket: "hour", From: now.Add(-2 * 365 * 24 * time.Hour), To: now},
	} {
		if _, err := m.Usage(t.Context(), q); !errors.Is(err, ErrInvalid) {
			t.Errorf("Usage(%+v): %v, want ErrInvalid", q, err)
		}
	}
	if _, err := m.Calls(t.Context(), api.UsageQuery{Account: "a", Limit: 1001}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Calls with limit 1001: %v, want ErrInvalid", err)
	}
	for _, b := range []api.Billing{{RatePerSecond: -1}, {Burst: -1}, {Credits: credit(1e13)}} {
		if _, err := m.SetBilling(t.Context(), "a", b); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetBilling(%+v): %v, want ErrInvalid", b, err)
		}
	}
}
