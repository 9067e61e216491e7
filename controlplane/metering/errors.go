package metering

import (
	"errors"
	"fmt"
	"math"
	"time"
)

var (
	// ErrInvalid: a malformed usage query or billing change (400).
	ErrInvalid = errors.New("invalid request")
	// ErrPaymentRequired: the account's credits cannot pay for a call (402 PaymentRequiredError).
	ErrPaymentRequired = errors.New("payment required")
)

// RateLimitError: calls came faster than a key's or an account's limit (429 RateLimitError,
// with Retry-After).
type RateLimitError struct {
	Scope      string  // "account" or "API key"
	Rate       float64 // calls per second
	Burst      int
	RetryAfter time.Duration // until the next call is admitted
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("this %s made calls faster than its limit of %g per second (bursts of %d): retry after %d s, or ask an administrator to raise the limit",
		e.Scope, e.Rate, e.Burst, e.RetryAfterSeconds())
}

// RetryAfterSeconds is RetryAfter in whole seconds, rounded up, at least 1 (Retry-After).
func (e *RateLimitError) RetryAfterSeconds() int64 {
	return max(1, int64(math.Ceil(e.RetryAfter.Seconds())))
}
