package connector

import (
	"errors"
	"fmt"

	"github.com/algos-dev/algos/controlplane/data"
)

var (
	// ErrInvalid: a malformed connector, URI, path, bucket name, marker or credentials (400).
	ErrInvalid = data.ErrInvalid
	// ErrNotFound: no such connector, file or folder — or a connector of another account,
	// which is indistinguishable from a missing one (404).
	ErrNotFound = data.ErrNotFound
	// ErrConflict: the connector exists already (409).
	ErrConflict = data.ErrConflict
	// ErrForbidden: the key's data scope or the connector's flags, buckets or prefixes do
	// not allow the request, or only an administrator may do it (403).
	ErrForbidden = data.ErrForbidden
	// ErrEndpointRefused: the endpoint resolves to a loopback, private, link-local,
	// unspecified or multicast address and private endpoints are not allowed (403; it is an
	// ErrForbidden).
	ErrEndpointRefused = fmt.Errorf("%w: endpoint address refused", ErrForbidden)
	// ErrRemote: the object store failed the request (502). Its message names the store's
	// error code, never the credentials nor the store's own text.
	ErrRemote = errors.New("object store error")
	// ErrTimeout: the object store did not answer, or a transfer made no progress, within
	// the configured time (504).
	ErrTimeout = errors.New("object store timeout")
)

// refusedError is a connection the dialer refused. It is not retried: SDKs that retry
// transport errors ask NonRetriable (Azure) or Temporary (net.Error) first, and the S3 client
// is told explicitly.
type refusedError struct {
	addr   string
	reason string
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("the endpoint address %s is %s: connectors may not reach loopback, private, link-local, unspecified or multicast addresses unless an administrator allows private endpoints (allow_private_endpoints)", e.addr, e.reason)
}

func (e *refusedError) Unwrap() error   { return ErrEndpointRefused }
func (e *refusedError) NonRetriable()   {}
func (e *refusedError) Temporary() bool { return false }
func (e *refusedError) Timeout() bool   { return false }
