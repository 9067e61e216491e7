package store

import "context"

// CatalogStore keeps what the algorithm catalog shows beyond an algorithm's settings (its
// details: summary, README, tags, license, sample input and output) and a feed of changes that
// lets a catalog index held in memory catch up with writes made anywhere: by this process, by
// another process on the same database, by another replica.
//
// Every write to an algorithm, to its versions or to its details records a change of that
// algorithm in the same transaction, so the feed misses nothing that committed.
type CatalogStore interface {
	// PutAlgorithmDetails creates or replaces the details of an existing algorithm;
	// ErrNotFound when the algorithm is missing. Idempotent. The details go with the algorithm
	// when it is deleted.
	PutAlgorithmDetails(ctx context.Context, owner, name string, d AlgorithmDetails) error
	// GetAlgorithmDetails returns the details of an algorithm: the zero value when none were
	// put; ErrNotFound when the algorithm is missing.
	GetAlgorithmDetails(ctx context.Context, owner, name string) (AlgorithmDetails, error)
	// CatalogChanges returns, oldest first, at most limit algorithms whose latest change has a
	// sequence number above after, each with that number. An algorithm appears once however
	// often it changed; a deleted one appears too (reading it then gives ErrNotFound).
	// Sequence numbers only grow.
	CatalogChanges(ctx context.Context, after int64, limit int) ([]CatalogChange, error)
	// LoadCatalog reads every algorithm with its details and versions. Every change numbered up
	// to the returned Seq is reflected; later ones may be: apply CatalogChanges(Seq) after it.
	LoadCatalog(ctx context.Context) (Catalog, error)
	// ImportCatalog creates algorithms with their details and versions (Versions' Owner and
	// Name are those of their algorithm) in one transaction: all of them, or none when one
	// fails (ErrConflict: an algorithm or a version exists). It is the bulk path of
	// CreateAlgorithm, PutAlgorithmDetails and CreateVersion — a migration from another
	// installation, a benchmark's catalog — and feeds the change feed as they do.
	ImportCatalog(ctx context.Context, algs []CatalogAlgorithm) error
}

// AlgorithmDetails is what an algorithm's catalog page shows beyond its settings. Tags keep
// nil and empty apart, as Key.Algos does.
type AlgorithmDetails struct {
	Summary      string
	README       string // Markdown
	Tags         []string
	License      string
	SampleInput  []byte // JSON
	SampleOutput []byte // JSON
}

// CatalogChange says that an algorithm changed (was created, updated, deleted, got a version
// or new details); Seq numbers its latest change.
type CatalogChange struct {
	Owner string
	Name  string
	Seq   int64
}

// Catalog is every algorithm as of a change sequence number.
type Catalog struct {
	Seq        int64
	Algorithms []CatalogAlgorithm // ordered by owner and name
}

// CatalogAlgorithm is an algorithm with its details and its versions in publish order.
type CatalogAlgorithm struct {
	Algorithm Algorithm
	Details   AlgorithmDetails
	Versions  []Version
}
