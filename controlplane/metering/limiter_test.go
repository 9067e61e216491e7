package metering

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	l := newLimiter()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	key := limit{name: "k:1", scope: "API key", rate: 1, burst: 2}
	acct := limit{name: "a:alice", scope: "account", rate: 10, burst: 3}
	for i := range 2 {
		if err := l.take(now, key, acct); err != nil {
			t.Fatalf("call %d within the burst: %v", i, err)
		}
	}
	err := l.take(now, key, acct)
	if err == nil || err.Scope != "API key" || err.RetryAfter != time.Second || err.RetryAfterSeconds() != 1 {
		t.Fatalf("third call at once: %+v, want the key's limit, retry after 1s", err)
	}
	// The refused call took no token from the account: one is left of its burst of 3.
	if err := l.take(now, limit{name: "k:2", scope: "API key", rate: 1, burst: 1}, acct); err != nil {
		t.Fatalf("another key of the account: %v", err)
	}
	if err := l.take(now, limit{name: "k:3", rate: 1, burst: 1, scope: "API key"}, acct); err == nil || err.Scope != "account" {
		t.Fatalf("a fourth call of the account: %+v, want the account's limit", err)
	}
	now = now.Add(500 * time.Millisecond)
	if err := l.take(now, key); err == nil || err.RetryAfter != 500*time.Millisecond || err.RetryAfterSeconds() != 1 {
		t.Fatalf("after 0.5s: %+v, want retry after 0.5s (Retry-After 1)", err)
	}
	now = now.Add(500 * time.Millisecond)
	if err := l.take(now, key); err != nil {
		t.Fatalf("after 1s: %v", err)
	}
	// No limit: never refused, and no bucket kept.
	for range 100 {
		if err := l.take(now, limit{name: "k:free"}); err != nil {
			t.Fatal(err)
		}
	}
	if l.buckets["k:free"] != nil {
		t.Error("a bucket was kept for an unlimited key")
	}
	// Buckets that refilled are forgotten; the others stay.
	l.prune(now)
	if l.buckets["k:1"] == nil {
		t.Error("prune dropped an empty bucket")
	}
	l.prune(now.Add(time.Minute))
	if len(l.buckets) != 0 {
		t.Errorf("prune after a minute left %d buckets", len(l.buckets))
	}
}

func TestBurstDefault(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rate  float64
		burst int
		want  int
	}{{0.5, 0, 1}, {1, 0, 1}, {2.5, 0, 3}, {100, 0, 100}, {1, 7, 7}} {
		if got := burst(tc.rate, tc.burst); got != tc.want {
			t.Errorf("burst(%g, %d) = %d, want %d", tc.rate, tc.burst, got, tc.want)
		}
	}
}
