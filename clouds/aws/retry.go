package aws

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// noRetry are codes the SDK would retry (EC2 answers capacity errors with HTTP 500) but
// retrying within seconds does not help: the caller should try another zone or type now.
var noRetry = map[string]bool{
	"InsufficientInstanceCapacity":         true,
	"InsufficientCapacity":                 true,
	"InsufficientHostCapacity":             true,
	"InsufficientReservedInstanceCapacity": true,
	"InsufficientVolumeCapacity":           true,
	"InsufficientAddressCapacity":          true,
	"InsufficientFreeAddressesInSubnet":    true,
}

// newRetryer is the SDK's standard retryer (exponential backoff with jitter for throttling
// and transient errors, a client-side retry budget) with the driver's attempts and backoff
// cap, and capacity errors taken out.
func newRetryer(cfg Config) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = max(cfg.MaxRetries, 0) + 1
		o.MaxBackoff = cfg.MaxBackoff
		o.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
			if noRetry[errCode(err)] {
				return aws.FalseTernary
			}
			return aws.UnknownTernary
		})}, o.Retryables...)
	})
}

// consistently calls fn until it succeeds, fails with an error again says not to retry, or
// Config.ConsistencyTimeout passes (or ctx is done); it returns fn's last error. Delays
// start at PollInterval and double up to 16 × PollInterval, each drawn uniformly from
// [d/2, d) (jitter), so that callers retrying together spread out.
func (d *Driver) consistently(ctx context.Context, again func(error) bool, fn func() error) error {
	deadline := time.Now().Add(d.cfg.ConsistencyTimeout)
	delay := d.cfg.PollInterval
	for {
		err := fn()
		if err == nil || !again(err) || ctx.Err() != nil {
			return err
		}
		wait := delay/2 + rand.N(delay/2+1)
		if time.Now().Add(wait).After(deadline) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		delay = min(2*delay, 16*d.cfg.PollInterval)
	}
}

// waitBounds are the SDK waiters' delays and limit, scaled from Config.PollInterval.
func (d *Driver) waitBounds() (minDelay, maxDelay, maxWait time.Duration) {
	return d.cfg.PollInterval, 16 * d.cfg.PollInterval, d.cfg.ConsistencyTimeout
}
