package azure

import (
	"context"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// poller is what the SDK's Begin* calls return.
type poller[T any] interface {
	PollUntilDone(ctx context.Context, options *runtime.PollUntilDoneOptions) (T, error)
}

// wait polls a long-running operation every Config.PollInterval (or as the service's
// Retry-After says) until it ends or ctx is done.
func wait[T any](ctx context.Context, d *Driver, p poller[T]) (T, error) {
	return p.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: d.cfg.PollInterval})
}

// transient reports whether err is a conflict Azure asks callers to retry.
func transient(err error) bool {
	return transientCodes[strings.ToLower(errorCode(err))]
}

// consistently calls fn until it succeeds, fails with an error again rejects, or
// Config.ConsistencyTimeout passes (or ctx is done); it returns fn's last error, unmapped.
// Delays start at PollInterval and double up to 16 × PollInterval, each drawn uniformly
// from [d/2, d) (jitter), so that callers retrying together spread out. Throttling and 5xx
// are not retried here: azcore's retry policy already did.
func (d *Driver) consistently(ctx context.Context, what string, again func(error) bool, fn func() error) error {
	deadline := time.Now().Add(d.cfg.ConsistencyTimeout)
	delay := d.cfg.PollInterval
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !again(err) || ctx.Err() != nil {
			return err
		}
		pause := delay/2 + rand.N(delay/2+1)
		if time.Now().Add(pause).After(deadline) {
			return err
		}
		d.log.Debug("retrying", "operation", what, "attempt", attempt, "error_code", errorCode(err), "delay", pause)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, 16*d.cfg.PollInterval)
	}
}
