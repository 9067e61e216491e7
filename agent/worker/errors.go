package worker

import (
	"bytes"
	"errors"
	"fmt"
	"syscall"
)

// Sentinels. Test for them with errors.Is.
var (
	// ErrQueueFull: every worker of the Key is busy or starting and QueueSize calls already wait.
	// Retry later (HTTP 429 with Retry-After).
	ErrQueueFull = errors.New("worker: queue full")
	// ErrTimeout: the call's context deadline passed while it waited for a worker, while its
	// worker started or while it ran. Errors that match it also match context.DeadlineExceeded.
	ErrTimeout = errors.New("worker: call timed out")
	// ErrWorkerDied: the worker exited or was killed during the call; see *DiedError.
	ErrWorkerDied = errors.New("worker: worker died during the call")
	// ErrStartFailed: the worker did not reach PIPE_INIT_COMPLETE; see *StartError.
	ErrStartFailed = errors.New("worker: worker failed to start")
	// ErrClosed: the pool is shutting down (Run's context ended).
	ErrClosed = errors.New("worker: pool closed")
	// ErrInvalidRequest: the request line is empty or holds a raw newline.
	ErrInvalidRequest = errors.New("worker: invalid request line")
	// ErrInvalidSpec: a Spec or PoolConfig field is missing or out of range.
	ErrInvalidSpec = errors.New("worker: invalid spec")
	// ErrResponseTooLarge: the response line passed PoolConfig.MaxResponseBytes; the worker
	// was killed (its FIFO can no longer be trusted).
	ErrResponseTooLarge = errors.New("worker: response too large")
	// ErrProtocol: the worker broke the protocol (for example it wrote a response nobody asked
	// for); it was killed.
	ErrProtocol = errors.New("worker: protocol violation")
	// ErrAcquireFailed: Spec.Acquire failed, so no worker could start; see *AcquireError.
	ErrAcquireFailed = errors.New("worker: acquiring the worker's resources failed")
	// ErrKilled is the cause of a Pool.Kill given none.
	ErrKilled = errors.New("worker: killed")
)

// AcquireError: Spec.Acquire failed for a worker about to start. errors.Is(err,
// ErrAcquireFailed) holds; Unwrap gives Acquire's error, so errors.Is and errors.As see it too.
type AcquireError struct {
	WorkerID string
	Err      error
}

func (e *AcquireError) Error() string {
	return fmt.Sprintf("worker %s could not start: %v", e.WorkerID, e.Err)
}

// Is makes errors.Is(err, ErrAcquireFailed) hold.
func (e *AcquireError) Is(target error) bool { return target == ErrAcquireFailed }

func (e *AcquireError) Unwrap() error { return e.Err }

// errorTailBytes bounds the log tail quoted in Error strings; the full tail is in the Log field.
const errorTailBytes = 2 << 10

// DiedError: the worker exited or was killed while a call ran on it. errors.Is(err,
// ErrWorkerDied) holds.
type DiedError struct {
	WorkerID string
	// ExitCode is the exit status, or -1 when a signal ended the process.
	ExitCode int
	// Signal is the signal that ended the process, 0 when it exited.
	Signal syscall.Signal
	// Log is the tail of the worker's log (at most the per-worker ring, 64 KiB by default).
	Log []byte
}

func (e *DiedError) Error() string {
	return fmt.Sprintf("worker %s died during the call (%s)%s", e.WorkerID,
		describeExit(e.ExitCode, e.Signal), quoteTail(e.Log))
}

// Is makes errors.Is(err, ErrWorkerDied) hold.
func (e *DiedError) Is(target error) bool { return target == ErrWorkerDied }

// StartError: the worker exited, could not be spawned, or passed Spec.StartTimeout before it
// printed PIPE_INIT_COMPLETE. Every call waiting on the Key when the start failed gets it.
// errors.Is(err, ErrStartFailed) holds; Unwrap gives the cause (a spawn error such as
// exec.ErrNotFound, or nil).
type StartError struct {
	WorkerID string
	// TimedOut: the load step passed Spec.StartTimeout and the worker was killed.
	TimedOut bool
	// ExitCode is the exit status, or -1 when a signal ended the process or it never ran.
	ExitCode int
	// Signal is the signal that ended the process, 0 when it exited or never ran.
	Signal syscall.Signal
	// Err is the spawn error when the process could not be started, else nil.
	Err error
	// Log is the tail of the worker's start log.
	Log []byte
}

func (e *StartError) Error() string {
	var why string
	switch {
	case e.Err != nil:
		why = e.Err.Error()
	case e.TimedOut:
		why = "load step passed the start timeout; killed"
	default:
		why = "exited before PIPE_INIT_COMPLETE (" + describeExit(e.ExitCode, e.Signal) + ")"
	}
	return fmt.Sprintf("worker %s failed to start: %s%s", e.WorkerID, why, quoteTail(e.Log))
}

// Is makes errors.Is(err, ErrStartFailed) hold.
func (e *StartError) Is(target error) bool { return target == ErrStartFailed }

func (e *StartError) Unwrap() error { return e.Err }

func describeExit(code int, sig syscall.Signal) string {
	if sig != 0 {
		return "killed by signal " + sig.String()
	}
	return fmt.Sprintf("exit status %d", code)
}

func quoteTail(log []byte) string {
	if len(log) == 0 {
		return ""
	}
	tail := log
	if len(tail) > errorTailBytes {
		tail = tail[len(tail)-errorTailBytes:]
		if i := bytes.IndexByte(tail, '\n'); i >= 0 && i+1 < len(tail) {
			tail = tail[i+1:]
		}
	}
	return "; log tail:\n" + string(bytes.TrimRight(tail, "\n"))
}
