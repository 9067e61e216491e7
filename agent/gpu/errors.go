package gpu

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinels. Test for them with errors.Is.
var (
	// ErrNoGPU: the node has no GPU (no NVIDIA driver, no device, or built without cgo), and a
	// worker asked for one.
	ErrNoGPU = errors.New("gpu: this node has no GPU")
	// ErrInvalidRequest: a Request is negative or asks for several GPUs and a memory share.
	ErrInvalidRequest = errors.New("gpu: invalid request")
)

// InsufficientError: the node has GPUs but cannot grant the request now, because they are
// granted to other workers, or never, because the request does not fit the node at all
// (Impossible).
type InsufficientError struct {
	// Request is what was asked for.
	Request Request
	// Impossible: no GPU of this node could ever satisfy the request (it asks for more GPUs
	// than the node has, or for a share larger than its largest GPU).
	Impossible bool
	// FreeGPUs counts the units (GPUs or MIG devices) with no grant on them.
	FreeGPUs int
	// LargestFreeMiB is the most memory one unit still has to share (0 when none).
	LargestFreeMiB int
	// Units counts the units the node has.
	Units int
}

func (e *InsufficientError) Error() string {
	var b strings.Builder
	b.WriteString("gpu: cannot grant ")
	b.WriteString(e.Request.String())
	if e.Impossible {
		fmt.Fprintf(&b, ": this node's %d GPU(s) can never hold it", e.Units)
		return b.String()
	}
	fmt.Fprintf(&b, " now: %d of %d GPU(s) free, at most %d MiB free to share on one", e.FreeGPUs, e.Units, e.LargestFreeMiB)
	return b.String()
}

// OutOfMemoryError: a worker's process tree used more GPU memory than its share. The agent
// kills the worker with it as the cause; its call fails as Algorithmia's OutOfGpuMemoryError.
type OutOfMemoryError struct {
	// PID is the worker's process (the root of the tree).
	PID int
	// UsedMiB is what the tree held when sampled; LimitMiB is its share.
	UsedMiB  int
	LimitMiB int
}

func (e *OutOfMemoryError) Error() string {
	return fmt.Sprintf("gpu: process %d used %d MiB of GPU memory, more than its %d MiB share", e.PID, e.UsedMiB, e.LimitMiB)
}
