package local

import "errors"

var (
	// ErrClosed: the driver has been closed (Close called, or Run's context cancelled).
	ErrClosed = errors.New("local: driver closed")
	// ErrDirInUse: another Driver, in this process or another, holds Config.Dir.
	ErrDirInUse = errors.New("local: state directory in use by another driver")
)
