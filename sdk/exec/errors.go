package execrunner

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors; Serve and Validate wrap them with details.
var (
	// ErrInvalidConfig: the Config cannot be served.
	ErrInvalidConfig = errors.New("invalid exec runner config")
	// ErrProgramNotFound: the program to run does not exist or is not executable.
	ErrProgramNotFound = errors.New("program not found")
)

// ExitError reports a program that failed one call: a non-zero exit status or a signal.
type ExitError struct {
	// Program is the program as named in Config.Argv.
	Program string
	// Status is the exit status, or -1 when a signal ended the program.
	Status int
	// Signal names the signal that ended the program, or is empty.
	Signal string
	// StderrTail is the last lines of the program's stderr, without the final newline.
	StderrTail string
}

// Error names the status and ends with the last lines of stderr.
func (e *ExitError) Error() string {
	var b strings.Builder
	if e.Signal != "" {
		fmt.Fprintf(&b, "%s was killed by signal %s", e.Program, e.Signal)
	} else {
		fmt.Fprintf(&b, "%s exited with status %d", e.Program, e.Status)
	}
	if e.StderrTail != "" {
		b.WriteString("; last lines of stderr:\n")
		b.WriteString(e.StderrTail)
	}
	return b.String()
}
