package storetest

import (
	"testing"

	"github.com/algos-dev/algos/controlplane/store"
)

func newConnector(owner, name string, created int) store.Connector {
	return store.Connector{
		Owner:       owner,
		Name:        name,
		Kind:        "s3",
		Buckets:     []string{"lake", "archive"},
		Prefixes:    []string{"reports", "exports/2025"},
		Read:        true,
		Endpoint:    "https://s3.example.com",
		Region:      "eu-west-1",
		Credentials: []byte{0x01, 0x00, 0xfe},
		CreatedAt:   at(created),
		UpdatedAt:   at(created),
	}
}

func connectorTests() []test {
	return []test{
		{"RoundTripAndList", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			b, a := newConnector("alice", "s3+lake", 1), newConnector("alice", "gs", 0)
			a.Kind, a.Write, a.AllowPrivate, a.Endpoint, a.Region, a.Credentials = "gs", true, true, "", "", nil
			a.Prefixes = nil // the whole bucket
			platform := newConnector("", "s3+lake", 2)
			platform.Prefixes = []string{} // empty stays apart from nil
			other := newConnector("bob", "azure", 3)
			other.Kind, other.Buckets = "azure", []string{}
			for _, c := range []store.Connector{b, a, platform, other} {
				must(t, "CreateConnector", s.CreateConnector(ctx, c))
			}
			got, err := s.GetConnector(ctx, "alice", "s3+lake")
			must(t, "GetConnector", err)
			equal(t, "GetConnector", got, b)
			got, err = s.GetConnector(ctx, "", "s3+lake")
			must(t, "GetConnector platform-wide", err)
			equal(t, "GetConnector (platform-wide, same name as an account's)", got, platform)
			got, err = s.GetConnector(ctx, "bob", "azure")
			must(t, "GetConnector bob", err)
			equal(t, "GetConnector (empty bucket list)", got, other)
			all, err := s.ListConnectors(ctx, "alice")
			must(t, "ListConnectors", err)
			equal(t, "ListConnectors (by name, one owner)", all, []store.Connector{a, b})
			all, err = s.ListConnectors(ctx, "")
			must(t, "ListConnectors platform-wide", err)
			equal(t, "ListConnectors (platform-wide only)", all, []store.Connector{platform})
			none, err := s.ListConnectors(ctx, "carol")
			must(t, "ListConnectors carol", err)
			if len(none) != 0 {
				t.Errorf("ListConnectors of an account without connectors: %v, want none", none)
			}
		}},
		{"ConflictNotFoundUpdateDelete", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			c := newConnector("alice", "s3", 0)
			must(t, "CreateConnector", s.CreateConnector(ctx, c))
			wantErr(t, "CreateConnector again", s.CreateConnector(ctx, newConnector("alice", "s3", 1)), store.ErrConflict)
			must(t, "CreateConnector platform-wide of the same name", s.CreateConnector(ctx, newConnector("", "s3", 1)))
			_, err := s.GetConnector(ctx, "alice", "nope")
			wantErr(t, "GetConnector unknown", err, store.ErrNotFound)
			_, err = s.GetConnector(ctx, "bob", "s3")
			wantErr(t, "GetConnector of another owner", err, store.ErrNotFound)
			wantErr(t, "UpdateConnector unknown", s.UpdateConnector(ctx, newConnector("alice", "nope", 0)), store.ErrNotFound)

			upd := c
			upd.Buckets, upd.Prefixes = []string{"other"}, nil
			upd.Read, upd.Write, upd.AllowPrivate = false, true, true
			upd.Endpoint, upd.Region, upd.Credentials, upd.UpdatedAt = "http://10.0.0.1:9000", "us-east-2", nil, at(9)
			changed := upd
			changed.Kind, changed.CreatedAt = "gs", at(7) // neither may change
			must(t, "UpdateConnector", s.UpdateConnector(ctx, changed))
			got, err := s.GetConnector(ctx, "alice", "s3")
			must(t, "GetConnector", err)
			equal(t, "GetConnector after update", got, upd)
			got, err = s.GetConnector(ctx, "", "s3")
			must(t, "GetConnector platform-wide", err)
			equal(t, "the platform-wide connector after an update of alice's", got, newConnector("", "s3", 1))

			must(t, "DeleteConnector", s.DeleteConnector(ctx, "alice", "s3"))
			must(t, "DeleteConnector again", s.DeleteConnector(ctx, "alice", "s3"))
			_, err = s.GetConnector(ctx, "alice", "s3")
			wantErr(t, "GetConnector deleted", err, store.ErrNotFound)
			_, err = s.GetConnector(ctx, "", "s3")
			must(t, "GetConnector platform-wide after deleting alice's", err)
			must(t, "CreateConnector after delete", s.CreateConnector(ctx, newConnector("alice", "s3", 3)))
		}},
	}
}
