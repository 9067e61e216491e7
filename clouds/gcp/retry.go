package gcp

import (
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
)

// backoff returns the wait before retry number attempt (1-based): full jitter under an
// exponential ceiling.
func (p RetryPolicy) backoff(attempt int) time.Duration {
	ceil := p.Max
	if attempt < 32 {
		if c := p.Initial << (attempt - 1); c > 0 && c < p.Max {
			ceil = c
		}
	}
	if ceil <= 0 {
		return 0
	}
	return mrand.N(ceil)
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retry calls f until it returns nil or an error that is not throttling or a transient
// fault, at most Config.Retry.Attempts times, waiting with jittered exponential backoff in
// between. It returns f's last error unmapped; when ctx ends first, an error wrapping both
// ctx.Err() and the last error.
func (d *Driver) retry(ctx context.Context, f func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		err := f(ctx)
		if err == nil || !retryable(err) || attempt >= d.cfg.Retry.Attempts {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		}
		wait := d.cfg.Retry.backoff(attempt)
		p, _ := problemOf(err)
		// Only the status and reasons: messages may quote request fields.
		d.log.Debug("gcp call throttled or unavailable, retrying", "code", p.code, "reasons", p.reasons, "attempt", attempt, "wait", wait)
		if serr := sleep(ctx, wait); serr != nil {
			return fmt.Errorf("%w (last error: %w)", serr, err)
		}
	}
}

// do starts a mutation with a fresh request ID (the same on every retry, so GCE runs it
// once), retrying throttling, then waits for its operation. Errors are mapped with ec.
func (d *Driver) do(ctx context.Context, ec errCtx, start func(ctx context.Context, requestID string) (*compute.Operation, error)) error {
	id := requestID()
	var op *compute.Operation
	err := d.retry(ctx, func(ctx context.Context) (err error) {
		op, err = start(ctx, id)
		return err
	})
	if err != nil {
		return mapError(err, ec)
	}
	return d.wait(ctx, op, ec)
}

// wait waits for op with op.Wait (bounded by ctx), retrying polls that were throttled, and
// maps the error a finished operation carries like a direct error.
func (d *Driver) wait(ctx context.Context, op *compute.Operation, ec errCtx) error {
	for attempt := 1; !op.Done(); attempt++ {
		err := op.Wait(ctx)
		if op.Done() {
			break // an operation that ended in error: read below
		}
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return fmt.Errorf("gcp: waiting for operation %s: %w (last error: %w)", op.Name(), ctx.Err(), err)
		}
		if !retryable(err) || attempt >= d.cfg.Retry.Attempts {
			return fmt.Errorf("gcp: waiting for operation %s: %w", op.Name(), mapError(err, ec))
		}
		if serr := sleep(ctx, d.cfg.Retry.backoff(attempt)); serr != nil {
			return fmt.Errorf("gcp: waiting for operation %s: %w (last error: %w)", op.Name(), serr, err)
		}
	}
	if p, failed := opProblem(op.Proto()); failed {
		return p.mapped(ec)
	}
	return nil
}

// requestID returns a random (version 4) UUID, the form GCE's requestId takes.
func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
