package metering

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/store"
)

// toMicro converts credits to micro-credits, refusing what does not fit.
func toMicro(what string, c float64) (int64, error) {
	if math.IsNaN(c) || math.IsInf(c, 0) || math.Abs(c) > 1e12 {
		return 0, fmt.Errorf("%w: %s %g is not a number of credits (at most 1e12)", ErrInvalid, what, c)
	}
	return int64(math.Round(c * Micro)), nil
}

// Billing returns an account's credits and limits, with what of its balance is available now.
// An account without billing settings is unlimited with the default limits.
func (m *Meter) Billing(ctx context.Context, account string) (api.Billing, error) {
	if _, err := m.cfg.Store.GetAccount(ctx, account); err != nil {
		return api.Billing{}, err
	}
	b, err := m.cfg.Store.GetBilling(ctx, account)
	if errors.Is(err, store.ErrNotFound) {
		return api.Billing{Account: account}, nil
	} else if err != nil {
		return api.Billing{}, err
	}
	return m.wire(b), nil
}

// wire is b as the API shows it, with the available balance from memory.
func (m *Meter) wire(b store.Billing) api.Billing {
	out := api.Billing{Account: b.Account, RatePerSecond: b.RatePerSecond, Burst: b.Burst, KeyRatePerSecond: b.KeyRatePerSecond,
		KeyBurst: b.KeyBurst, UpdatedAt: b.UpdatedAt}
	if b.CreditsMicro != nil {
		c := float64(*b.CreditsMicro) / Micro
		out.Credits = &c
		m.mu.Lock()
		avail := *b.CreditsMicro
		if a := m.accounts[b.Account]; a != nil {
			avail -= a.pending + a.reserved
		}
		m.mu.Unlock()
		av := float64(avail) / Micro
		out.Available = &av
	}
	return out
}

// SetBilling replaces an account's credits (nil: unlimited) and limits. Calls that finished
// before are charged first, so the balance is what was set less only the calls after it.
func (m *Meter) SetBilling(ctx context.Context, account string, in api.Billing) (api.Billing, error) {
	b := store.Billing{Account: account, RatePerSecond: in.RatePerSecond, Burst: in.Burst, KeyRatePerSecond: in.KeyRatePerSecond,
		KeyBurst: in.KeyBurst, UpdatedAt: m.cfg.Now().UTC()}
	if bad(in.RatePerSecond) || bad(in.KeyRatePerSecond) || in.Burst < 0 || in.KeyBurst < 0 {
		return api.Billing{}, fmt.Errorf("%w: rates and bursts must be finite and not negative (0: the installation's default)", ErrInvalid)
	}
	if in.Credits != nil {
		c, err := toMicro("credits", *in.Credits)
		if err != nil {
			return api.Billing{}, err
		}
		b.CreditsMicro = &c
	}
	m.flushMu.Lock()
	defer m.flushMu.Unlock()
	if err := m.flushRecords(ctx); err != nil {
		return api.Billing{}, fmt.Errorf("charge the calls before the change: %w", err)
	}
	if err := m.cfg.Store.PutBilling(ctx, b); err != nil {
		return api.Billing{}, err
	}
	m.mu.Lock()
	m.account(account).billing = &b
	m.mu.Unlock()
	return m.wire(b), nil
}

// AddCredits adds credits (negative: takes them) to an account's balance. An account must have
// a balance (set with SetBilling) to add to.
func (m *Meter) AddCredits(ctx context.Context, account string, credits float64) (api.Billing, error) {
	c, err := toMicro("credits", credits)
	if err != nil {
		return api.Billing{}, err
	}
	if _, err := m.cfg.Store.GetAccount(ctx, account); err != nil {
		return api.Billing{}, err
	}
	m.flushMu.Lock()
	defer m.flushMu.Unlock()
	b, err := m.cfg.Store.AddCredits(ctx, account, c, m.cfg.Now().UTC())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return api.Billing{}, fmt.Errorf("%w: account %s has no balance to add to (it is unlimited): set one with PUT /v1/accounts/%s/billing", ErrInvalid, account, account)
	case errors.Is(err, store.ErrConflict):
		return api.Billing{}, fmt.Errorf("%w: account %s has unlimited credits: set a balance with PUT /v1/accounts/%s/billing", ErrInvalid, account, account)
	case err != nil:
		return api.Billing{}, err
	}
	m.mu.Lock()
	m.account(account).billing = &b
	m.mu.Unlock()
	return m.wire(b), nil
}
