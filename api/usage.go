package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Usage views.
const (
	AsCaller = "caller" // the calls an account made (and the calls made from inside them): what it paid
	AsAuthor = "author" // the calls of an account's algorithms: what its authors earned
)

// UsageQuery selects usage: GET /v1/usage and GET /v1/usage/calls.
type UsageQuery struct {
	As      string    // AsCaller (default) or AsAuthor
	Account string    // default: the key's account; another account's needs an administrator's key
	From    time.Time // inclusive; default: To less 30 days (a day bucket) or 1 day (an hour bucket)
	To      time.Time // exclusive; default: now
	Bucket  string    // "day" (default) or "hour"; GET /v1/usage only
	Limit   int       // GET /v1/usage/calls only: the newest records, at most this many (default 100, at most 1000)
}

func (q UsageQuery) values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("as", q.As)
	set("account", q.Account)
	set("bucket", q.Bucket)
	if !q.From.IsZero() {
		v.Set("from", q.From.UTC().Format(time.RFC3339Nano))
	}
	if !q.To.IsZero() {
		v.Set("to", q.To.UTC().Format(time.RFC3339Nano))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v
}

// UsageTotals sums calls. Credits are what callers pay: compute credits (each call's compute
// time rounded up to whole seconds, at the compute and GPU prices) plus royalties (the
// authors' price_per_call). Seen as author, royalties are the author's earnings.
type UsageTotals struct {
	Calls           int64   `json:"calls"`
	Errors          int64   `json:"errors"` // calls that ended in an error
	DurationSeconds float64 `json:"duration_seconds"`
	ComputeSeconds  int64   `json:"compute_seconds"` // billed
	GPUSeconds      int64   `json:"gpu_seconds"`     // billed
	BytesIn         int64   `json:"bytes_in"`
	BytesOut        int64   `json:"bytes_out"`
	ComputeCredits  float64 `json:"compute_credits"`
	Royalties       float64 `json:"royalties"`
	Credits         float64 `json:"credits"` // compute_credits + royalties
}

// UsageVersion is the usage of one version within a bucket.
type UsageVersion struct {
	Version string `json:"version"` // owner/name/1.2.3
	UsageTotals
}

// UsageBucket is one time bucket (only buckets with calls are listed).
type UsageBucket struct {
	Start time.Time `json:"start"`
	UsageTotals
	Versions []UsageVersion `json:"versions"`
}

// Usage answers GET /v1/usage.
type Usage struct {
	Account string        `json:"account"`
	As      string        `json:"as"`
	Bucket  string        `json:"bucket"`
	From    time.Time     `json:"from"`
	To      time.Time     `json:"to"`
	Total   UsageTotals   `json:"total"`
	Buckets []UsageBucket `json:"buckets"`
}

// CallRecord is the metering of one call: GET /v1/usage/calls.
type CallRecord struct {
	ID        string    `json:"id"`
	StartedAt time.Time `json:"started_at"`
	// Account is the account charged: the original caller, also for calls made from inside an
	// algorithm. Authors see neither it nor the key.
	Account          string  `json:"account,omitempty"`
	KeyID            string  `json:"key_id,omitempty"`
	Version          string  `json:"version"`
	Author           string  `json:"author"`
	Parent           string  `json:"parent,omitempty"` // the version that made the call from inside it
	NodeID           string  `json:"node_id,omitempty"`
	DurationSeconds  float64 `json:"duration_seconds"`
	ColdStartSeconds float64 `json:"cold_start_seconds,omitempty"`
	ComputeSeconds   int64   `json:"compute_seconds"`
	GPUSeconds       int64   `json:"gpu_seconds"`
	BytesIn          int64   `json:"bytes_in"`
	BytesOut         int64   `json:"bytes_out"`
	Outcome          string  `json:"outcome,omitempty"` // the error type; empty for a result
	ComputeCredits   float64 `json:"compute_credits"`
	Royalty          float64 `json:"royalty"`
	Credits          float64 `json:"credits"`
}

// Billing is an account's credits and call-rate limits: GET and PUT
// /v1/accounts/{name}/billing.
type Billing struct {
	Account string `json:"account,omitempty"`
	// Credits is the balance; null: unlimited (the default). Calls are refused with 402
	// PaymentRequiredError while it cannot pay a call's least cost (one second and the royalty).
	Credits *float64 `json:"credits"`
	// Available is the balance less charges not yet written and the least costs of calls
	// still running (read only).
	Available *float64 `json:"available,omitempty"`
	// RatePerSecond and Burst limit the account's calls; KeyRatePerSecond and KeyBurst those
	// of each of its keys. 0: the installation's default (unlimited unless configured).
	RatePerSecond    float64   `json:"rate_per_second,omitempty"`
	Burst            int       `json:"burst,omitempty"`
	KeyRatePerSecond float64   `json:"key_rate_per_second,omitempty"`
	KeyBurst         int       `json:"key_burst,omitempty"`
	UpdatedAt        time.Time `json:"updated_at,omitzero"`
}

// AddCredits is the body of POST /v1/accounts/{name}/credits.
type AddCredits struct {
	Credits float64 `json:"credits"` // negative takes credits
}

// Usage returns usage in time buckets.
func (c *Client) Usage(ctx context.Context, q UsageQuery) (Usage, error) {
	var out Usage
	err := c.doJSON(ctx, http.MethodGet, "/v1/usage", q.values(), nil, &out)
	return out, err
}

// UsageCalls returns the newest call records.
func (c *Client) UsageCalls(ctx context.Context, q UsageQuery) ([]CallRecord, error) {
	var out []CallRecord
	err := c.doJSON(ctx, http.MethodGet, "/v1/usage/calls", q.values(), nil, &out)
	return out, err
}

// Billing returns an account's credits and limits.
func (c *Client) Billing(ctx context.Context, account string) (Billing, error) {
	var out Billing
	err := c.doJSON(ctx, http.MethodGet, "/v1/accounts/"+url.PathEscape(account)+"/billing", nil, nil, &out)
	return out, err
}

// SetBilling replaces an account's credits and limits (administrators).
func (c *Client) SetBilling(ctx context.Context, account string, b Billing) (Billing, error) {
	var out Billing
	err := c.doJSON(ctx, http.MethodPut, "/v1/accounts/"+url.PathEscape(account)+"/billing", nil, b, &out)
	return out, err
}

// AddCredits adds credits to an account's balance (administrators).
func (c *Client) AddCredits(ctx context.Context, account string, credits float64) (Billing, error) {
	var out Billing
	err := c.doJSON(ctx, http.MethodPost, "/v1/accounts/"+url.PathEscape(account)+"/credits", nil, AddCredits{Credits: credits}, &out)
	return out, err
}
