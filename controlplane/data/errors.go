package data

import (
	"errors"

	"github.com/algos-dev/algos/controlplane/auth"
	"github.com/algos-dev/algos/controlplane/store"
)

var (
	// ErrInvalid: a malformed data URI, path, name, ACL, marker or body (400).
	ErrInvalid = errors.New("invalid request")
	// ErrNotFound: no such collection, file or folder — or one the caller may not read, so
	// that a private collection is indistinguishable from a missing one (404).
	ErrNotFound = store.ErrNotFound
	// ErrConflict: the collection exists, a file and a folder collide, or a non-empty
	// collection or folder was deleted without force (409).
	ErrConflict = store.ErrConflict
	// ErrForbidden: the key's data scope does not allow the request, the caller may read but
	// not write, or the stored path crosses a symbolic link (403).
	ErrForbidden = auth.ErrForbidden
)
