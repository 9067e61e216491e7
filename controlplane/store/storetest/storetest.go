// Package storetest is the conformance suite of store.Store: every implementation runs Run and
// passes it.
//
// Beyond the interface's doc comments, the suite pins down what the comments leave open:
//
//   - Times come back in UTC, equal to what was stored to within a microsecond (SQLite keeps
//     nanoseconds; PostgreSQL keeps microseconds). The zero time round-trips.
//   - A []byte field stored nil or empty comes back with length 0 (it may be nil either way).
//   - Key.Algos keeps nil and empty apart: nil comes back nil, an empty list comes back empty
//     and non-nil (an empty allow-list must not turn into "no list").
//   - Listings: ListKeys newest first, ListAlgorithms by name, ListVersions in the order the
//     versions were created (even with equal CreatedAt), ListPendingRequests oldest first,
//     ListCollections by name.
//   - Writes from many goroutines at once all succeed; racing creates of one object give one
//     success and ErrConflict for the rest.
//   - After Close, methods fail with ErrClosed; a second Close returns nil or ErrClosed.
package storetest

import (
	"errors"
	"testing"

	"github.com/algos-dev/algos/controlplane/store"
)

// test is one conformance check, run on a fresh store.
type test struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// Run runs the suite. open must return a new, empty store for each call; Run closes it when the
// subtest ends, so open should only register clean-ups for what it created besides (files).
// Subtests run in parallel, each on its own store.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Accounts", accountTests()},
		{"Orgs", orgTests()},
		{"Keys", keyTests()},
		{"Algorithms", algorithmTests()},
		{"Versions", versionTests()},
		{"Pools", poolTests()},
		{"Nodes", nodeTests()},
		{"Requests", requestTests()},
		{"CloudAccounts", cloudAccountTests()},
		{"Collections", collectionTests()},
		{"Connectors", connectorTests()},
		{"Catalog", catalogTests()},
		{"Usage", usageTests()},
		{"Values", valueTests()},
		{"Concurrency", concurrencyTests()},
		{"Close", closeTests()},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					s := open(t)
					t.Cleanup(func() {
						if err := s.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
							t.Errorf("Close: %v", err)
						}
					})
					tc.fn(t, s)
				})
			}
		})
	}
}
