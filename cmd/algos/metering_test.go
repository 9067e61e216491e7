//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/store"
)

// meteredAccount creates an account with a key (that may call any algorithm) and returns the
// key's secret and a client with it.
func meteredAccount(t *testing.T, e *env, name string) (string, *api.Client) {
	t.Helper()
	ctx := context.Background()
	if err := e.srv.Store.CreateAccount(ctx, store.Account{Name: name, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	k, err := e.srv.Keys.Create(ctx, name, api.CreateKey{Name: "metered"})
	if err != nil {
		t.Fatal(err)
	}
	return k.Secret, api.NewClient(e.srv.URL, k.Secret)
}

// setPrice sets an algorithm's royalty per call.
func setPrice(t *testing.T, e *env, name string, price float64) {
	t.Helper()
	if _, err := e.client.UpdateAlgorithm(context.Background(), "demo", name, api.CreateAlgorithm{Name: name, Settings: api.Manifest{Price: price}}); err != nil {
		t.Fatal(err)
	}
}

func setBilling(t *testing.T, e *env, account string, b api.Billing) {
	t.Helper()
	if _, err := e.client.SetBilling(context.Background(), account, b); err != nil {
		t.Fatal(err)
	}
}

// errorType is the error_type of an error envelope.
func errorType(t *testing.T, r reply) string {
	t.Helper()
	var env api.ErrorEnvelope
	if err := json.Unmarshal(r.body, &env); err != nil {
		t.Fatalf("not an error envelope: %s", clip(r.body))
	}
	return env.Error.ErrorType
}

// checkBill checks that usage totals are what the records add up to: each call's compute
// seconds (1 credit each) plus royalty.
func checkBill(t *testing.T, what string, u api.Usage, rs []api.CallRecord) {
	t.Helper()
	var compute int64
	var royalties float64
	for _, r := range rs {
		royalties += r.Royalty
		if r.ComputeSeconds < 1 {
			t.Errorf("%s: record %s billed %d s, want at least 1", what, r.ID, r.ComputeSeconds)
		}
		if r.DurationSeconds < 1 && r.ComputeSeconds != 1 {
			t.Errorf("%s: a call of %.3f s billed %d s, want 1", what, r.DurationSeconds, r.ComputeSeconds)
		}
		compute += r.ComputeSeconds
	}
	if u.Total.Calls != int64(len(rs)) || u.Total.ComputeSeconds != compute || u.Total.ComputeCredits != float64(compute) ||
		u.Total.Royalties != royalties || u.Total.Credits != float64(compute)+royalties {
		t.Errorf("%s: usage totals %+v; the %d records add up to %d s, %v royalties", what, u.Total, len(rs), compute, royalties)
	}
}

// TestMetering: every call — and every call made from inside an algorithm — is one record,
// charged to the original caller at its compute seconds rounded up plus the author's royalty;
// the author sees its earnings; an account out of credits gets 402 for a direct call and for a
// call from inside an algorithm; a key over its rate limit gets 429 with Retry-After.
func TestMetering(t *testing.T) {
	t.Parallel()
	e := startEnv(t, "")
	ctx := context.Background()
	e.publishDir(e.client, "demo", "toolbox", filepath.Join("testdata", "algos", "toolbox"), api.PublishOptions{})
	for _, name := range []string{"a", "b"} {
		e.publishDir(e.client, "demo", name, filepath.Join("testdata", "algos", "caller"), api.PublishOptions{})
	}
	const pipe = `{"op":"pipe","path":["demo/b"],"data":"payload"}`
	// Warm the workers (demo, the author, is unlimited and pays no royalty to itself).
	e.call("demo/toolbox", `{"op":"echo","value":"warm"}`).expect(t, 200)
	e.call("demo/a", pipe).expect(t, 200, `"payload"`)
	setPrice(t, e, "toolbox", 0.5)

	secret, alice := meteredAccount(t, e, "alice")
	setBilling(t, e, "alice", api.Billing{Credits: ptrTo(100.0)})
	as := func(path, input string) reply {
		return e.do(http.MethodPost, "/v1/algo/"+path, secret, "application/json", []byte(input))
	}
	const n = 5
	for i := range n {
		as("demo/toolbox", `{"op":"echo","value":"`+strconv.Itoa(i)+`"}`).expect(t, 200)
	}
	as("demo/toolbox", `{"op":"fail","why":"test"}`).expect(t, 400, "AlgorithmError")
	as("demo/a", pipe).expect(t, 200, `"payload"`)

	// N calls → N records, with the right account, version, parent and outcome.
	rs, err := alice.UsageCalls(ctx, api.UsageQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != n+3 {
		t.Fatalf("%d call records for %d calls: %+v", len(rs), n+3, rs)
	}
	count := map[string]int{}
	for _, r := range rs {
		key := r.Version + " parent=" + r.Parent + " outcome=" + r.Outcome
		count[key]++
		if r.Account != "alice" || r.Author != "demo" || r.NodeID == "" || r.BytesIn == 0 || r.BytesOut == 0 {
			t.Errorf("record %+v: want account alice, author demo, a node and bytes", r)
		}
		wantRoyalty := 0.0
		if r.Version == "demo/toolbox/1.0.0" && r.Outcome == "" {
			wantRoyalty = 0.5
		}
		if r.Royalty != wantRoyalty || r.ComputeCredits != float64(r.ComputeSeconds) || r.Credits != r.ComputeCredits+r.Royalty {
			t.Errorf("record %+v: want a royalty of %v and 1 credit per billed second", r, wantRoyalty)
		}
	}
	for key, want := range map[string]int{
		"demo/toolbox/1.0.0 parent= outcome=":               n,
		"demo/toolbox/1.0.0 parent= outcome=AlgorithmError": 1,
		"demo/a/1.0.0 parent= outcome=":                     1,
		"demo/b/1.0.0 parent=demo/a/1.0.0 outcome=":         1, // the child call, charged to alice
	} {
		if count[key] != want {
			t.Errorf("%d records of %q, want %d (all: %v)", count[key], key, want, count)
		}
	}
	// A warm echo takes milliseconds and is billed one second.
	short := 0
	for _, r := range rs {
		if r.DurationSeconds < 0.1 {
			short++
			if r.ComputeSeconds != 1 {
				t.Errorf("a call of %.3f s billed %d s, want 1", r.DurationSeconds, r.ComputeSeconds)
			}
		}
	}
	if short == 0 {
		t.Errorf("no call took under 100 ms: %+v", rs)
	}
	u, err := alice.Usage(ctx, api.UsageQuery{Bucket: "hour"})
	if err != nil {
		t.Fatal(err)
	}
	checkBill(t, "alice", u, rs)
	if u.Total.Errors != 1 || u.Total.Royalties != n*0.5 {
		t.Errorf("alice's usage %+v: want 1 error and %v in royalties", u.Total, n*0.5)
	}
	b, err := alice.Billing(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if *b.Credits != 100-u.Total.Credits || *b.Available != *b.Credits {
		t.Errorf("alice's balance %+v, want 100 - %v", b, u.Total.Credits)
	}
	// The author's earnings: alice's royalties (demo's own calls pay none).
	earned, err := e.client.Usage(ctx, api.UsageQuery{As: api.AsAuthor})
	if err != nil {
		t.Fatal(err)
	}
	if earned.Total.Royalties != n*0.5 || earned.Total.Calls < int64(n+3) {
		t.Errorf("demo's earnings %+v, want %v in royalties", earned.Total, n*0.5)
	}
	// Accounts see their own usage only.
	e.do(http.MethodGet, "/v1/usage?account=demo", secret, "", nil).expect(t, 403)
	e.do(http.MethodPut, "/v1/accounts/alice/billing", secret, "application/json", []byte(`{"credits":1e6}`)).expect(t, 403)

	// Out of credits inside: with 1 credit, demo/a (1 s at least) runs and its call of demo/b
	// is refused; the outer call answers 402 with the child's error.
	setBilling(t, e, "alice", api.Billing{Credits: ptrTo(1.0)})
	r := as("demo/a", pipe)
	r.expect(t, 402, "credits")
	if typ := errorType(t, r); typ != api.ErrTypePaymentRequired {
		t.Fatalf("a child call out of credits: error_type %s, want %s", typ, api.ErrTypePaymentRequired)
	}
	// And for direct calls: the balance is spent.
	for _, path := range []string{"demo/a", "demo/toolbox"} {
		r := as(path, pipe)
		r.expect(t, 402, "add credits")
		if typ := errorType(t, r); typ != api.ErrTypePaymentRequired {
			t.Fatalf("a call out of credits: error_type %s", typ)
		}
	}
	rs, err = alice.UsageCalls(ctx, api.UsageQuery{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Version != "demo/a/1.0.0" || rs[0].Outcome != api.ErrTypePaymentRequired {
		t.Errorf("the newest record %+v: want demo/a's call, failed for want of credits (refused calls are not records)", rs)
	}
	if b, _ := alice.Billing(ctx, "alice"); *b.Credits != 1-rs[0].Credits {
		t.Errorf("alice's balance %v, want 1 - %v", *b.Credits, rs[0].Credits)
	}
	if _, err := e.client.AddCredits(ctx, "alice", 10); err != nil {
		t.Fatal(err)
	}
	as("demo/toolbox", `{"op":"echo","value":"again"}`).expect(t, 200)

	// Rate limit: one call per 10 s for each of alice's keys.
	setBilling(t, e, "alice", api.Billing{KeyRatePerSecond: 0.1, KeyBurst: 1})
	as("demo/toolbox", `{"op":"echo","value":"1"}`).expect(t, 200)
	r = as("demo/toolbox", `{"op":"echo","value":"2"}`)
	r.expect(t, 429, "limit")
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 || s > 10 {
		t.Errorf("Retry-After %q, want 1 to 10 seconds", r.header.Get("Retry-After"))
	}
	if typ := errorType(t, r); typ != api.ErrTypeRateLimit {
		t.Errorf("error_type %s, want %s", typ, api.ErrTypeRateLimit)
	}
	// Another account is not limited by alice's limits.
	e.call("demo/toolbox", `{"op":"echo","value":"free"}`).expect(t, 200)
	e.call("demo/toolbox", `{"op":"echo","value":"free"}`).expect(t, 200)
}

func ptrTo[T any](v T) *T { return &v }

// TestMeteringAcrossRestart: calls run from several clients while the control plane stops
// gracefully and starts again on the same data directory; an asynchronous call is cut off by
// the stop and resumed after it. Every answered call is one record, the asynchronous one
// exactly once, and the totals and the balance are exact.
func TestMeteringAcrossRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := startEnv(t, dir)
	ctx := context.Background()
	e.publishDir(e.client, "demo", "toolbox", filepath.Join("testdata", "algos", "toolbox"), api.PublishOptions{})
	setPrice(t, e, "toolbox", 0.5)
	secret, _ := meteredAccount(t, e, "alice")
	setBilling(t, e, "alice", api.Billing{Credits: ptrTo(1000.0)})
	body := []byte(`{"op":"echo","value":"x"}`)
	e.do(http.MethodPost, "/v1/algo/demo/toolbox", secret, "application/json", body).expect(t, 200)
	answered := int64(1)

	// Clients call until the control plane goes away.
	var wg sync.WaitGroup
	var ok, other atomic.Int64
	var calling atomic.Int64
	url := e.srv.URL + "/v1/algo/demo/toolbox"
	for range 3 {
		wg.Go(func() {
			c := &http.Client{Timeout: 30 * time.Second}
			// At most 400 calls (600 credits): how many fit before the stop depends on the
			// machine's speed, and the balance and the listing below must hold them all.
			for calling.Load() < 400 {
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("Authorization", "Simple "+secret)
				req.Header.Set("Content-Type", "application/json")
				resp, err := c.Do(req)
				if err != nil {
					return // stopped
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					ok.Add(1)
				} else {
					other.Add(1)
				}
				calling.Add(1)
			}
		})
	}
	waitFor(t, 20*time.Second, "calls before the restart", func() bool { return calling.Load() >= 20 })
	pending := asyncID(t, e.do(http.MethodPost, "/v1/algo/demo/toolbox?output=void", secret, "application/json", []byte(`{"op":"sleep","seconds":2}`)))
	time.Sleep(300 * time.Millisecond) // the async call is running
	e.stop()
	wg.Wait()
	if other.Load() != 0 {
		t.Fatalf("%d calls answered other than 200 around the stop", other.Load())
	}
	answered += ok.Load()
	t.Logf("%d calls answered before the restart", answered)

	e2 := startEnv(t, dir)
	for range 5 {
		e2.do(http.MethodPost, "/v1/algo/demo/toolbox", secret, "application/json", body).expect(t, 200)
		answered++
	}
	alice := api.NewClient(e2.srv.URL, secret)
	waitFor(t, 30*time.Second, "the resumed async call", func() bool {
		r, done, err := alice.GetRequest(ctx, pending)
		return err == nil && done && string(r.Result) == `"slept"`
	})
	answered++ // the async call, run once to its end

	u, err := alice.Usage(ctx, api.UsageQuery{})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := alice.UsageCalls(ctx, api.UsageQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if u.Total.Calls != answered || int64(len(rs)) != answered || u.Total.Errors != 0 {
		t.Fatalf("%d calls answered; usage counts %d (%d errors), %d records", answered, u.Total.Calls, u.Total.Errors, len(rs))
	}
	checkBill(t, "alice across the restart", u, rs)
	if u.Total.Royalties != float64(answered)*0.5 {
		t.Errorf("royalties %v, want %v", u.Total.Royalties, float64(answered)*0.5)
	}
	b, err := alice.Billing(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if *b.Credits != 1000-u.Total.Credits {
		t.Errorf("alice's balance %v, want 1000 - %v", *b.Credits, u.Total.Credits)
	}
	earned, err := e2.client.Usage(ctx, api.UsageQuery{As: api.AsAuthor})
	if err != nil {
		t.Fatal(err)
	}
	if earned.Total.Royalties != u.Total.Royalties {
		t.Errorf("demo earned %v, alice paid %v in royalties", earned.Total.Royalties, u.Total.Royalties)
	}
}
