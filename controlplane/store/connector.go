package store

import (
	"context"
	"time"
)

// ConnectorStore keeps the Data API's connectors: named, credentialed access to buckets of
// external object stores (s3://, gs://, azure://). Credentials arrive here already sealed; the
// store never sees them in clear.
type ConnectorStore interface {
	// CreateConnector fails with ErrConflict when Owner/Name exists (an account's connector
	// and a platform-wide one may share a name).
	CreateConnector(ctx context.Context, c Connector) error
	// GetConnector returns the connector name of owner ("" for platform-wide); ErrNotFound.
	GetConnector(ctx context.Context, owner, name string) (Connector, error)
	// ListConnectors returns the connectors of owner ("" for the platform-wide ones) ordered
	// by name.
	ListConnectors(ctx context.Context, owner string) ([]Connector, error)
	// UpdateConnector replaces every field of an existing connector but Owner, Name, Kind and
	// CreatedAt; ErrNotFound.
	UpdateConnector(ctx context.Context, c Connector) error
	// DeleteConnector is idempotent.
	DeleteConnector(ctx context.Context, owner, name string) error
}

// Connector is access to the buckets of one external object store. Buckets and Prefixes keep
// nil and empty apart, as Key.Algos does.
type Connector struct {
	// Owner is the account that owns it, or "" for a platform-wide connector (created by
	// administrators, usable by every account within its flags).
	Owner string
	// Name is "kind" or "kind+label" ("s3", "s3+lake"); the label "default" is written as the
	// bare kind.
	Name string
	// Kind is the store's protocol: "s3", "gs" or "azure".
	Kind string
	// Buckets (containers, for Azure) that requests may name.
	Buckets []string
	// Prefixes are the folders (keys without a trailing "/") that requests may reach; none:
	// the whole bucket.
	Prefixes []string
	Read     bool
	Write    bool
	// Endpoint is the store's base URL ("" for the cloud's public endpoint).
	Endpoint string
	Region   string
	// AllowPrivate lets the connector reach loopback, private and link-local addresses
	// (set by administrators only).
	AllowPrivate bool
	Credentials  []byte // ciphertext of the kind's credentials JSON
	CreatedAt    time.Time
	UpdatedAt    time.Time
}
