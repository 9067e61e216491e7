// Package store persists the control plane's state: accounts, API keys, algorithms and their
// versions, node pools, nodes and asynchronous requests. It knows nothing of HTTP.
//
// One interface, several implementations (SQLite embedded by default; PostgreSQL later), all
// passing the same suite in store/storetest. Every method is safe for concurrent use. Methods
// that write are atomic: they either apply completely or not at all.
package store

import (
	"context"
	"time"
)

// Store is the control plane's durable state.
type Store interface {
	Accounts
	Orgs
	Keys
	Algorithms
	Pools
	Nodes
	Requests
	CloudAccounts
	Collections
	ConnectorStore
	CatalogStore
	UsageStore
	// Close releases the store's resources. Calls after Close fail.
	Close() error
}

// Accounts are users (and, later, organizations) that own algorithms and keys.
type Accounts interface {
	// CreateAccount fails with ErrConflict when the name is taken.
	CreateAccount(ctx context.Context, a Account) error
	// GetAccount fails with ErrNotFound.
	GetAccount(ctx context.Context, name string) (Account, error)
}

// Keys are API keys, stored by the SHA-256 hash of their secret.
type Keys interface {
	// CreateKey fails with ErrConflict when the ID or the hash exists.
	CreateKey(ctx context.Context, k Key) error
	// KeyByHash returns the key whose secret hashes to hash, revoked or not; ErrNotFound.
	KeyByHash(ctx context.Context, hash []byte) (Key, error)
	// GetKey returns a key by ID; ErrNotFound.
	GetKey(ctx context.Context, id string) (Key, error)
	// ListKeys returns the keys of an account, newest first.
	ListKeys(ctx context.Context, owner string) ([]Key, error)
	// UpdateKey replaces a key's Name and ExpiresAt (its scopes and secret never change);
	// ErrNotFound.
	UpdateKey(ctx context.Context, id, name string, expiresAt *time.Time) error
	// RevokeKey marks a key revoked at the given time. Idempotent: revoking a revoked key keeps
	// the first time; an unknown ID is ErrNotFound.
	RevokeKey(ctx context.Context, id string, at time.Time) error
}

// Algorithms are the published algorithms and their immutable versions.
type Algorithms interface {
	// CreateAlgorithm fails with ErrConflict when owner/name exists.
	CreateAlgorithm(ctx context.Context, a Algorithm) error
	// GetAlgorithm fails with ErrNotFound.
	GetAlgorithm(ctx context.Context, owner, name string) (Algorithm, error)
	// ListAlgorithms returns an account's algorithms ordered by name; owner "" lists every
	// account's, ordered by owner and name.
	ListAlgorithms(ctx context.Context, owner string) ([]Algorithm, error)
	// UpdateAlgorithm replaces the mutable settings (Description, Settings, UpdatedAt) of an
	// existing algorithm; ErrNotFound.
	UpdateAlgorithm(ctx context.Context, a Algorithm) error
	// DeleteAlgorithm removes an algorithm and all its versions. Idempotent.
	DeleteAlgorithm(ctx context.Context, owner, name string) error
	// CreateVersion adds a version to an existing algorithm (ErrNotFound if the algorithm is
	// missing) and fails with ErrConflict when that semantic version exists.
	CreateVersion(ctx context.Context, v Version) error
	// ListVersions returns the versions of one algorithm in publish order (oldest first).
	ListVersions(ctx context.Context, owner, name string) ([]Version, error)
	// GetVersionByID returns a version by its ID; ErrNotFound.
	GetVersionByID(ctx context.Context, id string) (Version, error)
}

// Pools are node pools: the desired state the pool reconciler drives a cloud towards.
type Pools interface {
	// CreatePool fails with ErrConflict when the name is taken.
	CreatePool(ctx context.Context, p Pool) error
	GetPool(ctx context.Context, name string) (Pool, error)
	// PoolByJoinTokenHash finds the pool a join token belongs to; ErrNotFound.
	PoolByJoinTokenHash(ctx context.Context, hash []byte) (Pool, error)
	ListPools(ctx context.Context) ([]Pool, error)
	// UpdatePool replaces every field but Name and CreatedAt; ErrNotFound.
	UpdatePool(ctx context.Context, p Pool) error
	// DeletePool is idempotent.
	DeletePool(ctx context.Context, name string) error
}

// Nodes are registered agents.
type Nodes interface {
	// UpsertNode creates or replaces a node by ID.
	UpsertNode(ctx context.Context, n Node) error
	GetNode(ctx context.Context, id string) (Node, error)
	// NodeByTokenHash finds a node by the hash of its node credential; ErrNotFound.
	NodeByTokenHash(ctx context.Context, hash []byte) (Node, error)
	ListNodes(ctx context.Context) ([]Node, error)
	// DeleteNode is idempotent.
	DeleteNode(ctx context.Context, id string) error
}

// Requests are asynchronous calls (output=void): acknowledged, then completed.
type Requests interface {
	// CreateRequest stores a pending request with its input; ErrConflict on a duplicate ID.
	CreateRequest(ctx context.Context, r Request) error
	// CompleteRequest stores the outcome of a pending request. ErrNotFound for an unknown ID;
	// completing an already completed request is ErrConflict (the first outcome stays).
	CompleteRequest(ctx context.Context, id string, status RequestStatus, response []byte, at time.Time) error
	// GetRequest fails with ErrNotFound.
	GetRequest(ctx context.Context, id string) (Request, error)
	// ListPendingRequests returns requests not yet completed, oldest first (resumed after a
	// restart).
	ListPendingRequests(ctx context.Context) ([]Request, error)
}

// CloudAccounts are the credentials and settings of cloud accounts that node pools provision
// in. Credentials arrive here already encrypted (the store never sees them in clear).
type CloudAccounts interface {
	// CreateCloudAccount fails with ErrConflict when the name is taken.
	CreateCloudAccount(ctx context.Context, a CloudAccount) error
	// GetCloudAccount fails with ErrNotFound.
	GetCloudAccount(ctx context.Context, name string) (CloudAccount, error)
	// ListCloudAccounts returns every cloud account ordered by name.
	ListCloudAccounts(ctx context.Context) ([]CloudAccount, error)
	// UpdateCloudAccount replaces Settings, Credentials and UpdatedAt; ErrNotFound.
	UpdateCloudAccount(ctx context.Context, a CloudAccount) error
	// DeleteCloudAccount is idempotent.
	DeleteCloudAccount(ctx context.Context, name string) error
}

// Collections are the Data API's collections: named containers of files (data://owner/name/…)
// with a read ACL. The files themselves live in the blob store; this is their metadata.
type Collections interface {
	// CreateCollection fails with ErrConflict when owner/name exists.
	CreateCollection(ctx context.Context, c Collection) error
	// GetCollection fails with ErrNotFound.
	GetCollection(ctx context.Context, owner, name string) (Collection, error)
	// ListCollections returns an account's collections ordered by name.
	ListCollections(ctx context.Context, owner string) ([]Collection, error)
	// UpdateCollection replaces the ACL of an existing collection; ErrNotFound.
	UpdateCollection(ctx context.Context, c Collection) error
	// DeleteCollection is idempotent.
	DeleteCollection(ctx context.Context, owner, name string) error
}

// CollectionACL says who may read a collection's files. Only its owner ever writes them.
type CollectionACL string

const (
	// ACLPublic: anyone with a key that may read data.
	ACLPublic CollectionACL = "public"
	// ACLMyAlgorithms: the owner and calls of the owner's algorithms (Algorithmia's default).
	ACLMyAlgorithms CollectionACL = "my_algorithms"
	// ACLPrivate: the owner only.
	ACLPrivate CollectionACL = "private"
)

// Collection is a Data API collection.
type Collection struct {
	Owner     string
	Name      string
	ACL       CollectionACL
	CreatedAt time.Time
}

// CloudAccount is a cloud account: which cloud, its non-secret settings (region, project, …) as
// JSON, and its credentials sealed by the control plane's secret key.
type CloudAccount struct {
	Name        string
	Cloud       string
	Settings    []byte
	Credentials []byte // ciphertext
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Account is a user or organization.
type Account struct {
	Name      string
	Admin     bool
	Org       bool // an organization (its members act for it), not a user
	CreatedAt time.Time
}

// DataAccess is what a key may do with the Data API.
type DataAccess string

const (
	DataNone      DataAccess = "none"
	DataRead      DataAccess = "read"
	DataReadWrite DataAccess = "write"
)

// Key is an API key. The secret itself is never stored, only its SHA-256 hash.
type Key struct {
	ID        string
	Owner     string
	Name      string
	Hash      []byte
	Prefix    string   // first characters of the secret, shown to identify it
	Algos     []string // allow-list: "algo://*", "algo://owner/*", "algo://owner/name/*"
	Data      DataAccess
	Manage    bool // may create, publish and delete algorithms, pools and keys
	CreatedAt time.Time
	ExpiresAt *time.Time
	RevokedAt *time.Time
}

// Algorithm is a named algorithm of an owner. Settings is the JSON document of its defaults for
// new versions (runtime, resources, scaling, …), interpreted by the registry.
type Algorithm struct {
	ID          string
	Owner       string
	Name        string
	Description string
	Settings    []byte
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Version is an immutable published version of an algorithm.
type Version struct {
	ID           string
	Owner        string
	Name         string
	Semver       string // canonical "1.2.3"
	Digest       string // "sha256:<hex>" of the source artifact
	Manifest     []byte // JSON manifest snapshot (runtime, entrypoint, resources, scaling, …)
	ReleaseNotes string
	Public       bool
	CreatedAt    time.Time
}

// Pool is a node pool.
type Pool struct {
	Name          string
	Cloud         string
	Spec          []byte // JSON of the pool spec (region, instance type, sizes, …), interpreted by the reconciler
	JoinTokenHash []byte
	Deleting      bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Node is a registered agent.
type Node struct {
	ID           string
	Pool         string
	InstanceID   string
	Address      string // base URL the control plane reaches the agent on
	TokenHash    []byte // hash of the node credential the agent authenticates with
	Capacity     []byte // JSON of the node's resources as the agent reported them
	RegisteredAt time.Time
	LastSeenAt   time.Time
}

// RequestStatus is the state of an asynchronous request.
type RequestStatus string

const (
	RequestPending   RequestStatus = "pending"
	RequestSucceeded RequestStatus = "succeeded"
	RequestFailed    RequestStatus = "failed"
)

// Request is an asynchronous call.
type Request struct {
	ID          string
	Caller      string // account that made the call
	KeyID       string
	VersionID   string
	Input       []byte // the protocol request line sent to the worker
	Options     []byte // JSON of the call options (timeout, …)
	Status      RequestStatus
	Response    []byte // the reply envelope, once completed
	CreatedAt   time.Time
	CompletedAt *time.Time
}
