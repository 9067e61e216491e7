package store

import (
	"context"
	"time"
)

// UsageStore keeps the metering of calls: one record per call (and per call made from inside
// an algorithm), and each account's credit balance and limits. Amounts of credits are integer
// micro-credits (1 credit = 1,000,000), so that sums are exact.
type UsageStore interface {
	// AddCalls stores call records and, in the same transaction, takes each record's charge
	// (ComputeMicro + RoyaltyMicro) from its Account's balance where the account has one.
	// Idempotent per record ID: a record stored before is skipped and not charged again, so a
	// batch may be retried after an error. Returns how many records were new.
	AddCalls(ctx context.Context, rs []CallRecord) (int, error)
	// ListCalls returns call records newest first (records of equal time in reverse order of
	// storing), at most f.Limit of them (all when 0).
	ListCalls(ctx context.Context, f CallFilter) ([]CallRecord, error)
	// UsageBuckets sums the records that f selects per time bucket and version, ordered by
	// bucket and version.
	UsageBuckets(ctx context.Context, f CallFilter, bucket UsageBucket) ([]UsageRow, error)

	// GetBilling returns an account's credits and limits; ErrNotFound when none were set (the
	// account is unlimited and has the default limits).
	GetBilling(ctx context.Context, account string) (Billing, error)
	// ListBilling returns the billing settings of every account that has some, by account.
	ListBilling(ctx context.Context) ([]Billing, error)
	// PutBilling creates or replaces an account's billing settings. ErrNotFound when the
	// account does not exist.
	PutBilling(ctx context.Context, b Billing) error
	// AddCredits adds micro (which may be negative) to an account's balance and returns the
	// result. ErrNotFound for an account without billing settings, ErrConflict for one whose
	// credits are unlimited.
	AddCredits(ctx context.Context, account string, micro int64, at time.Time) (Billing, error)
}

// CallRecord is the metering of one call.
type CallRecord struct {
	ID        string
	At        time.Time // when the call started
	Account   string    // the account charged: the original caller, also for calls from inside algorithms
	KeyID     string
	VersionID string // owner/name/1.2.3
	Author    string // the version's owner, who earns the royalty
	Parent    string // the version ID of the algorithm that made the call; "" for a call from outside
	NodeID    string // "" when the call reached no node
	Duration  time.Duration
	ColdStart time.Duration // time spent waiting for a new worker (not billed)
	// ComputeSeconds and GPUSeconds are the billed amounts: whole seconds, rounded up.
	ComputeSeconds int64
	GPUSeconds     int64
	BytesIn        int64
	BytesOut       int64
	Outcome        string // "" for a result, else the error type
	ComputeMicro   int64  // micro-credits for compute and GPU time
	RoyaltyMicro   int64  // micro-credits to the author
}

// CallFilter selects call records: of one account as the caller (Account) or as the author
// (Author), started in [From, To) (a zero bound is open).
type CallFilter struct {
	Account string
	Author  string
	From    time.Time
	To      time.Time
	Limit   int
}

// UsageBucket is the width of a usage time bucket.
type UsageBucket string

const (
	BucketHour UsageBucket = "hour"
	BucketDay  UsageBucket = "day"
)

// UsageRow is the sum of the records of one version in one time bucket.
type UsageRow struct {
	Bucket         time.Time // the bucket's start, UTC
	VersionID      string
	Calls          int64
	Errors         int64 // calls with an outcome other than a result
	Duration       time.Duration
	ComputeSeconds int64
	GPUSeconds     int64
	BytesIn        int64
	BytesOut       int64
	ComputeMicro   int64
	RoyaltyMicro   int64
}

// Billing is an account's credit balance and call-rate limits.
type Billing struct {
	Account string
	// CreditsMicro is the balance in micro-credits; nil: unlimited. Charges may take it below
	// zero (a call is admitted while the balance pays its least cost).
	CreditsMicro *int64
	// RatePerSecond and Burst limit the calls of the whole account; KeyRatePerSecond and
	// KeyBurst those of each of its keys. 0: the installation's default.
	RatePerSecond    float64
	Burst            int
	KeyRatePerSecond float64
	KeyBurst         int
	UpdatedAt        time.Time
}
