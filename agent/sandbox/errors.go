package sandbox

import (
	"errors"
	"fmt"
)

// Sentinels. Test for them with errors.Is.
var (
	// ErrInvalidPolicy: a Policy or Config field is missing or out of range.
	ErrInvalidPolicy = errors.New("sandbox: invalid policy")
	// ErrUnavailable: the host lacks what a driver or a limit needs; see *UnavailableError.
	ErrUnavailable = errors.New("sandbox: not available on this host")
	// ErrLevelTooLow: the sandbox is weaker than required; see *LevelError.
	ErrLevelTooLow = errors.New("sandbox: sandbox level too low")
	// ErrUnsupported: sandboxes need Linux.
	ErrUnsupported = errors.New("sandbox: needs Linux")
)

// UnavailableError: Feature is missing on this host, so Driver (or a limit of the policy)
// cannot be used. Hint says what to do. errors.Is(err, ErrUnavailable) holds.
type UnavailableError struct {
	Driver  string
	Feature string
	Hint    string
	Err     error // the underlying error, when there is one
}

func (e *UnavailableError) Error() string {
	s := fmt.Sprintf("sandbox %s: %s", e.Driver, e.Feature)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Is makes errors.Is(err, ErrUnavailable) hold.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

func (e *UnavailableError) Unwrap() error { return e.Err }

// LevelError: the host's sandbox (Driver, Have) is weaker than the Want a pool requires.
// errors.Is(err, ErrLevelTooLow) holds.
type LevelError struct {
	Driver string
	Have   Level
	Want   Level
}

func (e *LevelError) Error() string {
	return fmt.Sprintf("sandbox %s gives level %s, but level %s is required: run the agent on a host that offers it (see the node's sandbox status) or lower the requirement",
		e.Driver, e.Have, e.Want)
}

// Is makes errors.Is(err, ErrLevelTooLow) hold.
func (e *LevelError) Is(target error) bool { return target == ErrLevelTooLow }
