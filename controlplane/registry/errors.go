package registry

import (
	"errors"

	"github.com/algos-dev/algos/controlplane/store"
)

var (
	// ErrNotFound: unknown algorithm or version (or one the caller may not see).
	ErrNotFound = store.ErrNotFound
	// ErrConflict: the algorithm or version exists already.
	ErrConflict = store.ErrConflict
	// ErrInvalid: the request is malformed; the message says what to change.
	ErrInvalid = errors.New("invalid request")
	// ErrTooLarge: the artifact is above the size limit.
	ErrTooLarge = errors.New("artifact too large")
)
