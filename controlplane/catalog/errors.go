package catalog

import (
	"github.com/algos-dev/algos/controlplane/registry"
	"github.com/algos-dev/algos/controlplane/store"
)

var (
	// ErrNotFound: no algorithm of that name that the caller may see. An unknown algorithm and
	// one the caller may not see answer the same, word for word.
	ErrNotFound = store.ErrNotFound
	// ErrInvalid: a malformed query (page size, marker, query length); the message says what to
	// change. It is the registry's, so the API answers it as it answers the registry's.
	ErrInvalid = registry.ErrInvalid
)
