// Package metering meters calls and bills them in credits, as Algorithmia did: every call (and
// every call made from inside an algorithm) becomes a record — caller, version, node, duration,
// compute- and GPU-seconds, bytes in and out, outcome — charged to the original caller at its
// compute time rounded up to whole seconds plus the author's royalty (price_per_call). It also
// admits calls: per-key and per-account rate limits (token buckets) and credit balances.
//
// Nothing here is on the call's I/O path: admission and charges are decided in memory, and the
// records are written in batches by Run, every FlushInterval (1 s) and when a batch fills, and
// by Close at a graceful stop. A crash of the control plane loses the records of the calls that
// finished since the last flush (at most FlushInterval of them, or more while the store is
// failing), and with them their charges; nothing else.
package metering

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/algos-dev/algos/controlplane/auth"
	"github.com/algos-dev/algos/controlplane/invoke"
	"github.com/algos-dev/algos/controlplane/registry"
	"github.com/algos-dev/algos/controlplane/store"
)

// Store is what the Meter keeps its records and balances in.
type Store interface {
	store.UsageStore
	store.Accounts
}

// Config configures a Meter.
type Config struct {
	Store Store
	// Prices of compute (default DefaultPrices).
	Prices Prices
	// Rate and Burst limit the calls of an account without limits of its own; KeyRate and
	// KeyBurst those of each of its keys. Calls per second; 0: unlimited (the default). A burst
	// of 0 is the rate rounded up.
	Rate     float64
	Burst    int
	KeyRate  float64
	KeyBurst int
	// FlushInterval is how often buffered records are written (default 1 s); it bounds what a
	// crash loses.
	FlushInterval time.Duration
	// MaxBatch is the most records written in one transaction (default 1000); a full batch is
	// written at once.
	MaxBatch int
	// MaxBuffer is the most records held in memory (default 100,000): beyond it Record waits for
	// a flush (back-pressure) rather than lose records.
	MaxBuffer int
	Logger    *slog.Logger
	Now       func() time.Time
}

// Validate reports a configuration New would reject.
func (c Config) Validate() error {
	switch {
	case c.Store == nil:
		return errors.New("metering: Config.Store is required")
	case c.Prices.ComputeSecond < 0 || c.Prices.GPUSecond < 0:
		return errors.New("metering: prices must not be negative")
	case bad(c.Rate) || bad(c.KeyRate) || c.Burst < 0 || c.KeyBurst < 0:
		return errors.New("metering: rate limits must be finite and not negative")
	case c.FlushInterval < 0 || c.MaxBatch < 0 || c.MaxBuffer < 0:
		return errors.New("metering: FlushInterval, MaxBatch and MaxBuffer must not be negative")
	}
	return nil
}

func bad(f float64) bool { return f < 0 || math.IsNaN(f) || math.IsInf(f, 0) }

// account is what the Meter knows of one account.
type account struct {
	billing  *store.Billing // as last read or written; nil: none set (unlimited, default limits)
	pending  int64          // charges buffered here, not yet in the store
	reserved int64          // least costs of admitted calls still running
}

// limited reports whether the account has a balance, and what of it is available.
func (a *account) available() (int64, bool) {
	if a == nil || a.billing == nil || a.billing.CreditsMicro == nil {
		return 0, false
	}
	return *a.billing.CreditsMicro - a.pending - a.reserved, true
}

// Meter is safe for concurrent use.
type Meter struct {
	cfg Config
	log *slog.Logger

	flushMu sync.Mutex // one flush (or billing change) at a time

	mu       sync.Mutex
	room     *sync.Cond // the buffer drained
	buf      []store.CallRecord
	accounts map[string]*account
	lim      *limiter
	closed   bool
	kick     chan struct{} // a full batch waits
}

var _ invoke.Meter = (*Meter)(nil)

// New returns a Meter with every account's credits and limits loaded from the store.
func New(ctx context.Context, cfg Config) (*Meter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Prices == (Prices{}) {
		cfg.Prices = DefaultPrices
	}
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = time.Second
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = 1000
	}
	if cfg.MaxBuffer == 0 {
		cfg.MaxBuffer = 100_000
	}
	cfg.MaxBuffer = max(cfg.MaxBuffer, cfg.MaxBatch)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Meter{cfg: cfg, log: cfg.Logger.With("component", "metering"), accounts: map[string]*account{},
		lim: newLimiter(), kick: make(chan struct{}, 1)}
	m.room = sync.NewCond(&m.mu)
	if err := m.reload(ctx); err != nil {
		return nil, fmt.Errorf("metering: %w", err)
	}
	return m, nil
}

// burst is the effective burst of a rate: as set, else the rate rounded up.
func burst(rate float64, b int) int {
	if b > 0 {
		return b
	}
	return max(1, int(math.Ceil(rate)))
}

// limits are the account's and its keys' rate limits.
func (m *Meter) limits(b *store.Billing) (acct, key limit) {
	acct = limit{scope: "account", rate: m.cfg.Rate, burst: m.cfg.Burst}
	key = limit{scope: "API key", rate: m.cfg.KeyRate, burst: m.cfg.KeyBurst}
	if b != nil && b.RatePerSecond > 0 {
		acct.rate, acct.burst = b.RatePerSecond, b.Burst
	}
	if b != nil && b.KeyRatePerSecond > 0 {
		key.rate, key.burst = b.KeyRatePerSecond, b.KeyBurst
	}
	acct.burst, key.burst = burst(acct.rate, acct.burst), burst(key.rate, key.burst)
	return acct, key
}

// Admit implements invoke.Meter. A call from outside takes a token from its key's and its
// account's buckets; a call from inside an algorithm (p.Calling set) is not rate limited — its
// outermost call was — but pays like any other. An account with a balance must have the call's
// least cost available (balance less charges not yet stored and the least costs of its calls
// still running); the call then holds that much until its Record.
func (m *Meter) Admit(p *auth.Principal, v *registry.Resolved) error {
	now := m.cfg.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.account(p.Account)
	least := m.cfg.Prices.Least(p.Account, v)
	if avail, limited := a.available(); limited && avail < least {
		return fmt.Errorf("%w: account %s has %s credits available and a call of %s costs at least %s: ask an administrator to add credits",
			ErrPaymentRequired, p.Account, credits(avail), v.ID, credits(least))
	}
	if p.Calling == nil {
		var b *store.Billing
		if a != nil {
			b = a.billing
		}
		acct, key := m.limits(b)
		acct.name, key.name = "a:"+p.Account, "k:"+p.KeyID
		if p.KeyID == "" {
			key.rate = 0
		}
		if err := m.lim.take(now, acct, key); err != nil {
			return err
		}
	}
	// Reserved whether or not the account is limited now, and released by Record the same
	// way: a change of the account's billing while calls run then leaves the reservations
	// exact (no leak that would refuse calls, no credit spent twice).
	a.reserved += least
	return nil
}

// credits formats micro-credits as credits.
func credits(micro int64) string { return fmt.Sprintf("%g", float64(micro)/Micro) }

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "call-" + hex.EncodeToString(b)
}

// Record implements invoke.Meter: it prices the call, charges it in memory and buffers its
// record. It waits only while MaxBuffer records are buffered (the store is failing).
func (m *Meter) Record(u invoke.Usage) {
	c := m.cfg.Prices.Bill(u)
	p, v := u.Principal, u.Version
	r := store.CallRecord{ID: newID(), At: u.Start.UTC(), Account: p.Account, KeyID: p.KeyID, VersionID: v.ID, Author: v.Owner,
		NodeID: u.NodeID, Duration: u.Duration, ColdStart: u.ColdStart, ComputeSeconds: c.ComputeSeconds, GPUSeconds: c.GPUSeconds,
		BytesIn: int64(u.BytesIn), BytesOut: int64(u.BytesOut), Outcome: u.Outcome, ComputeMicro: c.ComputeMicro, RoyaltyMicro: c.RoyaltyMicro}
	if p.Calling != nil {
		r.Parent = p.Calling.Holder()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(m.buf) >= m.cfg.MaxBuffer && !m.closed {
		m.room.Wait()
	}
	a := m.account(p.Account)
	if u.Admitted {
		a.reserved = max(0, a.reserved-m.cfg.Prices.Least(p.Account, v))
	}
	if m.closed {
		m.log.Error("a call finished after metering stopped: its record is lost", "account", r.Account, "version", r.VersionID, "credits", credits(c.Total()))
		return
	}
	a.pending += c.Total()
	m.buf = append(m.buf, r)
	if len(m.buf) >= m.cfg.MaxBatch {
		select {
		case m.kick <- struct{}{}:
		default:
		}
	}
}

// account returns the state of an account, made on first use. m.mu is held.
func (m *Meter) account(name string) *account {
	a := m.accounts[name]
	if a == nil {
		a = &account{}
		m.accounts[name] = a
	}
	return a
}

// Run writes the buffered records every FlushInterval, and at once when a batch fills, until
// ctx ends. A failed write is retried at the next tick (records are written idempotently). Run
// does not write at its end: Close does, once the calls have finished.
func (m *Meter) Run(ctx context.Context) error {
	t := time.NewTicker(m.cfg.FlushInterval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-m.kick:
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		err := m.Flush(fctx)
		cancel()
		switch {
		case err != nil && !failing:
			m.log.Error("writing call records failed; they stay buffered and are retried", "buffered", m.Buffered(), "err", err)
		case err == nil && failing:
			m.log.Info("call records written again")
		}
		failing = err != nil
	}
}

// Buffered is how many records wait to be written.
func (m *Meter) Buffered() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.buf)
}

// Flush writes the buffered records and reloads every account's credits and limits (changed by
// other control-plane replicas). One flush runs at a time; on error the records stay buffered.
func (m *Meter) Flush(ctx context.Context) error {
	m.flushMu.Lock()
	defer m.flushMu.Unlock()
	err := m.flushRecords(ctx)
	return errors.Join(err, m.reload(ctx))
}

// Close writes what is buffered, as the last step of a graceful stop (after the calls have
// finished, before the store closes). Records of calls that finish later are lost (and logged).
func (m *Meter) Close(ctx context.Context) error {
	m.flushMu.Lock()
	defer m.flushMu.Unlock()
	err := m.flushRecords(ctx)
	m.mu.Lock()
	m.closed = true
	lost := len(m.buf)
	m.buf = nil
	m.room.Broadcast()
	m.mu.Unlock()
	if lost > 0 {
		m.log.Error("call records lost at the stop: the store failed", "records", lost, "err", err)
	}
	return err
}

// flushRecords writes the buffer in batches. m.flushMu is held.
func (m *Meter) flushRecords(ctx context.Context) error {
	for {
		m.mu.Lock()
		n := min(len(m.buf), m.cfg.MaxBatch)
		batch := m.buf[:n:n]
		m.mu.Unlock()
		if n == 0 {
			return nil
		}
		if _, err := m.cfg.Store.AddCalls(ctx, batch); err != nil {
			return err
		}
		m.mu.Lock()
		m.buf = m.buf[n:] // Record only appends: the first n are this batch
		if len(m.buf) == 0 {
			m.buf = nil
		}
		for _, r := range batch {
			a := m.account(r.Account)
			c := r.ComputeMicro + r.RoyaltyMicro
			a.pending -= c
			if a.billing != nil && a.billing.CreditsMicro != nil {
				left := *a.billing.CreditsMicro - c // as the store took it
				a.billing.CreditsMicro = &left
			}
		}
		m.room.Broadcast()
		m.mu.Unlock()
	}
}

// reload reads every account's billing from the store, forgets accounts it has nothing to keep
// of, and the rate-limit buckets that refilled.
func (m *Meter) reload(ctx context.Context) error {
	bs, err := m.cfg.Store.ListBilling(ctx)
	if err != nil {
		return fmt.Errorf("read credits and limits: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := make(map[string]bool, len(bs))
	for _, b := range bs {
		m.account(b.Account).billing = &b
		seen[b.Account] = true
	}
	for name, a := range m.accounts {
		if !seen[name] {
			a.billing = nil
			if a.pending == 0 && a.reserved == 0 {
				delete(m.accounts, name)
			}
		}
	}
	m.lim.prune(m.cfg.Now())
	return nil
}
