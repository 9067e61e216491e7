// Package algo runs a Go algorithm as an algos worker: the algorithm's main calls Serve (or
// ServeWithLoad), which serves the agent ↔ worker protocol (docs/worker-protocol.md) on stdin,
// stdout and the response FIFO until stdin ends.
//
//	func main() {
//		algo.Serve(func(input any) (any, error) {
//			return input, nil
//		})
//	}
//
// The input is a JSON value decoded by encoding/json into any (objects are map[string]any,
// numbers float64), a string for text, or []byte for binary. A string result is text, []byte is
// binary, and anything else is encoded as JSON (a json.RawMessage as is). An *Error returned by
// apply names the error type; any other error, or a panic, fails the call with an AlgorithmError
// and the worker goes on serving. Whatever the algorithm prints on stdout or stderr is its log;
// end what it prints with a newline, so that the protocol's marker line starts a line.
package algo

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/algos-dev/algos/sdk/internal/wire"
)

// Serve serves calls to apply until stdin ends, then exits the process with status 0. It never
// returns; it exits with status 1 when it cannot serve.
func Serve(apply func(input any) (any, error)) {
	ServeWithLoad(nil, apply)
}

// ServeWithLoad runs load once, then serves calls to apply as Serve does. When load fails or
// panics, the process prints the error on stderr and exits with status 1 before it is ready.
// load may be nil.
func ServeWithLoad(load func() error, apply func(input any) (any, error)) {
	path := wire.PipePath(os.Getenv(wire.PipeEnv))
	openOut := func() (io.WriteCloser, error) {
		return os.OpenFile(path, os.O_WRONLY, 0)
	}
	if err := serve(context.Background(), os.Stdin, os.Stdout, openOut, load, apply); err != nil {
		fmt.Fprintf(os.Stderr, "algo: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}
