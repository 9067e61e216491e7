package connector

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// errAborted ends a transfer that its caller gave up (a broken upload).
var errAborted = errors.New("transfer aborted")

// watchdog is the context of one transfer: cancelled when no byte moved for the service's
// Timeout, when the transfer ran for MaxTransfer, or when stopped.
type watchdog struct {
	ctx    context.Context
	idle   time.Duration
	timer  *time.Timer
	cancel context.CancelCauseFunc
	done   context.CancelFunc
}

func (s *Service) newWatchdog(parent context.Context) *watchdog {
	ctx, done := context.WithTimeoutCause(parent, s.cfg.MaxTransfer,
		fmt.Errorf("%w: the transfer ran longer than %v", ErrTimeout, s.cfg.MaxTransfer))
	ctx, cancel := context.WithCancelCause(ctx)
	w := &watchdog{ctx: ctx, idle: s.cfg.Timeout, cancel: cancel, done: done}
	w.timer = time.AfterFunc(w.idle, func() {
		cancel(fmt.Errorf("%w: the object store moved no data for %v", ErrTimeout, w.idle))
	})
	return w
}

// kick records progress. Safe for concurrent use.
func (w *watchdog) kick() { w.timer.Reset(w.idle) }

// abort cancels the transfer.
func (w *watchdog) abort() { w.cancel(errAborted) }

// stop releases the watchdog once the transfer is over.
func (w *watchdog) stop() {
	w.timer.Stop()
	w.cancel(context.Canceled)
	w.done()
}
