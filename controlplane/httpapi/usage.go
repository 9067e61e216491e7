package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/auth"
	"github.com/algos-dev/algos/controlplane/store"
)

// usageQuery reads GET /v1/usage[/calls]'s query and checks that the key may see the account:
// its own, or any for an administrator. A per-call token (an algorithm acting for its caller)
// sees no usage.
func usageQuery(r *http.Request, p *auth.Principal) (api.UsageQuery, error) {
	v := r.URL.Query()
	q := api.UsageQuery{As: v.Get("as"), Account: v.Get("account"), Bucket: v.Get("bucket")}
	if p.Calling != nil {
		return q, fmt.Errorf("%w: a call token may not read usage", auth.ErrForbidden)
	}
	if q.Account == "" {
		q.Account = p.Account
	}
	if q.Account != p.Account && !p.Admin {
		return q, fmt.Errorf("%w: this key belongs to %s and may not read the usage of %s", auth.ErrForbidden, p.Account, q.Account)
	}
	for name, dst := range map[string]*time.Time{"from": &q.From, "to": &q.To} {
		s := v.Get(name)
		if s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			if t, err = time.Parse(time.DateOnly, s); err != nil {
				return q, fmt.Errorf("%w: %s=%q: give a time as 2006-01-02T15:04:05Z or a date as 2006-01-02", errInput, name, s)
			}
		}
		*dst = t
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return q, fmt.Errorf("%w: limit=%q: give a whole number from 1 to 1000", errInput, s)
		}
		q.Limit = n
	}
	return q, nil
}

// usage serves GET /v1/usage?as=caller|author&from=&to=&bucket=hour|day[&account=].
func (h *Handler) usage(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	q, err := usageQuery(r, p)
	if err != nil {
		return err
	}
	out, err := h.cfg.Meter.Usage(r.Context(), q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// usageCalls serves GET /v1/usage/calls?as=&from=&to=&limit=[&account=]: the newest call
// records.
func (h *Handler) usageCalls(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	q, err := usageQuery(r, p)
	if err != nil {
		return err
	}
	out, err := h.cfg.Meter.Calls(r.Context(), q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getBilling serves GET /v1/accounts/{name}/billing to the account's keys and administrators.
func (h *Handler) getBilling(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	name := r.PathValue("name")
	if p.Account != name && !p.Admin { // another account's billing does not exist for the caller
		return fmt.Errorf("account %s: %w", name, store.ErrNotFound)
	}
	if p.Calling != nil {
		return fmt.Errorf("%w: an algorithm's call token may not read its caller's billing", auth.ErrForbidden)
	}
	out, err := h.cfg.Meter.Billing(r.Context(), name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// putBilling serves PUT /v1/accounts/{name}/billing (administrators): credits and limits.
func (h *Handler) putBilling(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var in api.Billing
	if err := decode(r, &in); err != nil {
		return err
	}
	out, err := h.cfg.Meter.SetBilling(r.Context(), r.PathValue("name"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// addCredits serves POST /v1/accounts/{name}/credits (administrators).
func (h *Handler) addCredits(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var in api.AddCredits
	if err := decode(r, &in); err != nil {
		return err
	}
	out, err := h.cfg.Meter.AddCredits(r.Context(), r.PathValue("name"), in.Credits)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
