// Package worker is the agent side of the agent ↔ worker protocol
// (docs/worker-protocol.md): it starts worker processes, speaks the protocol with them, and
// keeps a pool of warm workers per algorithm version.
package worker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/algos-dev/algos/agent/sandbox"
)

// PoolConfig configures a Pool. Zero values take the defaults named on each field.
type PoolConfig struct {
	// Logger receives worker lifecycle events (start, exit, kill). Default: discard.
	Logger *slog.Logger
	// RunDir holds one directory per worker (with its FIFO), removed when the worker is gone.
	// Required; created when missing.
	RunDir string
	// StopGrace is the time between SIGTERM and SIGKILL when a worker is stopped (idle,
	// shutdown). Default 5s.
	StopGrace time.Duration
	// ReapInterval is how often Run looks for idle workers to stop. Default 1s.
	ReapInterval time.Duration
	// MaxResponseBytes caps one response line; a longer one fails the call with
	// ErrResponseTooLarge and kills the worker. Default 64 MiB.
	MaxResponseBytes int
	// MaxCallLogBytes caps Result.Log; the rest is dropped and the log says so. Default 1 MiB.
	MaxCallLogBytes int
	// LogRingBytes is the size of the log tail kept per worker (for errors) and per Key (for
	// Logs). Default 64 KiB.
	LogRingBytes int
	// MarkerWait is how long a call whose response arrived waits for the end marker on the
	// log pipe. Default 50ms.
	MarkerWait time.Duration
	// LogRetention is how long a Key with no workers and no waiting calls is remembered, with
	// its recent log. Default 15m.
	LogRetention time.Duration
}

func (c PoolConfig) withDefaults() PoolConfig {
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defInt := func(d *int, v int) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.StopGrace, 5*time.Second)
	def(&c.ReapInterval, time.Second)
	def(&c.MarkerWait, 50*time.Millisecond)
	def(&c.LogRetention, 15*time.Minute)
	defInt(&c.MaxResponseBytes, 64<<20)
	defInt(&c.MaxCallLogBytes, 1<<20)
	defInt(&c.LogRingBytes, 64<<10)
	return c
}

// Validate reports a missing RunDir or a negative field, wrapping ErrInvalidSpec.
func (c PoolConfig) Validate() error {
	switch {
	case c.RunDir == "":
		return fmt.Errorf("%w: PoolConfig.RunDir is required", ErrInvalidSpec)
	case c.StopGrace < 0, c.ReapInterval < 0, c.MarkerWait < 0, c.LogRetention < 0:
		return fmt.Errorf("%w: PoolConfig durations must not be negative", ErrInvalidSpec)
	case c.MaxResponseBytes < 0, c.MaxCallLogBytes < 0, c.LogRingBytes < 0:
		return fmt.Errorf("%w: PoolConfig sizes must not be negative", ErrInvalidSpec)
	}
	return nil
}

// Spec says how to run the workers of one algorithm version.
type Spec struct {
	// Key identifies the version; workers are reused per Key. Calls with the same Key must
	// describe the same program; the limits of the latest call's Spec apply.
	Key string
	// Dir is the worker's working directory (the artifact directory).
	Dir string
	// Argv is the program and its arguments. Argv[0] without a slash is looked up in the
	// agent's PATH.
	Argv []string
	// Env is the worker's whole environment (the agent's own is not inherited); the pool adds
	// ALGOS_PIPE_OUT.
	Env []string
	// MaxInstances bounds the processes of this Key at once: starting, idle, busy, and those
	// being stopped. Default 1.
	MaxInstances int
	// IdleTimeout: a worker idle this long is stopped (by Run). Default 5m.
	IdleTimeout time.Duration
	// QueueSize is how many calls may wait beyond those that each wait for a worker they
	// started. 0: none.
	QueueSize int
	// StartTimeout bounds the load step (up to PIPE_INIT_COMPLETE). Default 2m.
	StartTimeout time.Duration
	// Acquire, when set, is called before each worker process of the Key starts, with the
	// worker's ID, to reserve what the process needs (GPUs): see Lease. ctx ends when the pool
	// stops the worker or after StartTimeout. An error fails the start with an *AcquireError
	// that wraps it: the calls waiting on the Key get it, unless other workers of the Key
	// remain to serve them. Called from the pool's goroutines, never under its lock.
	Acquire func(ctx context.Context, workerID string) (*Lease, error)
	// Sandbox, when set, confines each worker process of the Key (package sandbox): the
	// process's whole tree is killed when the worker goes, and what the sandbox saw of its end
	// (out of memory, wall clock) is added to the worker's log. nil: unconfined.
	Sandbox sandbox.Sandbox
	// SandboxPolicy is the policy of Sandbox. The pool sets its WorkDir to the worker's own
	// directory (which holds its FIFO); the sandbox adds Dir and the program's runtime to its
	// read-only paths.
	SandboxPolicy sandbox.Policy
}

func (s Spec) withDefaults() Spec {
	if s.MaxInstances == 0 {
		s.MaxInstances = 1
	}
	if s.IdleTimeout == 0 {
		s.IdleTimeout = 5 * time.Minute
	}
	if s.StartTimeout == 0 {
		s.StartTimeout = 2 * time.Minute
	}
	return s
}

// Validate reports a missing Key or Argv or a negative field, wrapping ErrInvalidSpec.
func (s Spec) Validate() error {
	switch {
	case s.Key == "":
		return fmt.Errorf("%w: Key is required", ErrInvalidSpec)
	case len(s.Argv) == 0 || s.Argv[0] == "":
		return fmt.Errorf("%w: Argv is required", ErrInvalidSpec)
	case s.MaxInstances < 0, s.QueueSize < 0, s.IdleTimeout < 0, s.StartTimeout < 0:
		return fmt.Errorf("%w: MaxInstances, QueueSize, IdleTimeout and StartTimeout must not be negative", ErrInvalidSpec)
	}
	return nil
}

// CallOptions tunes one call.
type CallOptions struct {
	// CaptureLog: return the lines the worker printed during the call in Result.Log.
	CaptureLog bool
}

// Result is one call's outcome.
type Result struct {
	// Response is the worker's response line: raw JSON, without the newline.
	Response []byte
	// Log holds the call's log lines (only with CaptureLog), at most MaxCallLogBytes plus a
	// closing line that says what was dropped.
	Log []byte
	// LogTruncated: Log reached MaxCallLogBytes.
	LogTruncated bool
	// ColdStart: the call waited for a worker that had not served a call before.
	ColdStart bool
	// WorkerID names the worker that ran the call.
	WorkerID string
	// Duration is the time from writing the request to the response (queueing and start
	// excluded).
	Duration time.Duration
}

// KeyStats counts one Key's workers and waiting calls, for heartbeats.
type KeyStats struct {
	Key string
	// Workers counts all processes of the Key: Starting + Idle + Busy + those being stopped.
	Workers  int
	Idle     int
	Busy     int
	Starting int
	// Queued counts the calls waiting for a worker (including those waiting on a start).
	Queued int
}
