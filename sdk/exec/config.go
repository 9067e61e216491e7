package execrunner

import (
	"fmt"
	"io"
	"os"

	"github.com/algos-dev/algos/sdk/internal/wire"
)

// Output modes: how the program's stdout becomes the call's result.
const (
	// OutputAuto: JSON when stdout parses as JSON, else text when it is valid UTF-8, else binary.
	OutputAuto = "auto"
	// OutputJSON: stdout must be JSON.
	OutputJSON = "json"
	// OutputText: stdout must be valid UTF-8.
	OutputText = "text"
	// OutputBinary: stdout as raw bytes.
	OutputBinary = "binary"
)

// Config configures Serve.
type Config struct {
	// Argv is the program and its arguments. A program named with a slash is resolved against
	// the working directory; one without is looked up in $PATH.
	Argv []string
	// Output is one of the Output modes; empty means OutputAuto.
	Output string
	// Stdin carries the request lines (the worker's stdin).
	Stdin io.Reader
	// Log receives the control lines and the program's stderr (the worker's stdout).
	Log io.Writer
	// PipePath is the response FIFO; empty means $ALGOS_PIPE_OUT, else /tmp/algoout.
	PipePath string
}

// Validate reports a Config that Serve cannot serve, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	switch {
	case len(c.Argv) == 0 || c.Argv[0] == "":
		return fmt.Errorf("%w: no program; name it after --, as in: algos runner exec -- program args", ErrInvalidConfig)
	case c.Stdin == nil:
		return fmt.Errorf("%w: no Stdin", ErrInvalidConfig)
	case c.Log == nil:
		return fmt.Errorf("%w: no Log", ErrInvalidConfig)
	}
	switch c.Output {
	case "", OutputAuto, OutputJSON, OutputText, OutputBinary:
		return nil
	default:
		return fmt.Errorf("%w: unknown output %q; use auto, json, text or binary", ErrInvalidConfig, c.Output)
	}
}

// withDefaults fills in the empty Output and PipePath.
func (c Config) withDefaults() Config {
	if c.Output == "" {
		c.Output = OutputAuto
	}
	if c.PipePath == "" {
		c.PipePath = wire.PipePath(os.Getenv(wire.PipeEnv))
	}
	return c
}
