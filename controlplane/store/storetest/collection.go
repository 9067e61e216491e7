package storetest

import (
	"testing"

	"github.com/algos-dev/algos/controlplane/store"
)

func newCollection(owner, name string, created int) store.Collection {
	return store.Collection{Owner: owner, Name: name, ACL: store.ACLPrivate, CreatedAt: at(created)}
}

func collectionTests() []test {
	return []test{
		{"RoundTripAndList", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			b, a := newCollection("alice", "photos", 1), newCollection("alice", "models", 0)
			a.ACL = store.ACLPublic
			other := newCollection("bob", "photos", 2)
			other.ACL = store.ACLMyAlgorithms
			for _, c := range []store.Collection{b, a, other} {
				must(t, "CreateCollection", s.CreateCollection(ctx, c))
			}
			got, err := s.GetCollection(ctx, "alice", "photos")
			must(t, "GetCollection", err)
			equal(t, "GetCollection", got, b)
			got, err = s.GetCollection(ctx, "bob", "photos")
			must(t, "GetCollection bob", err)
			equal(t, "GetCollection (same name, other owner)", got, other)
			all, err := s.ListCollections(ctx, "alice")
			must(t, "ListCollections", err)
			equal(t, "ListCollections (by name, one owner)", all, []store.Collection{a, b})
			none, err := s.ListCollections(ctx, "carol")
			must(t, "ListCollections carol", err)
			if len(none) != 0 {
				t.Errorf("ListCollections of an account without collections: %v, want none", none)
			}
		}},
		{"ConflictNotFoundUpdateDelete", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			c := newCollection("alice", "photos", 0)
			must(t, "CreateCollection", s.CreateCollection(ctx, c))
			wantErr(t, "CreateCollection again", s.CreateCollection(ctx, newCollection("alice", "photos", 1)), store.ErrConflict)
			_, err := s.GetCollection(ctx, "alice", "nope")
			wantErr(t, "GetCollection unknown", err, store.ErrNotFound)
			_, err = s.GetCollection(ctx, "bob", "photos")
			wantErr(t, "GetCollection of another owner", err, store.ErrNotFound)
			wantErr(t, "UpdateCollection unknown", s.UpdateCollection(ctx, newCollection("alice", "nope", 0)), store.ErrNotFound)
			c.ACL = store.ACLPublic
			must(t, "UpdateCollection", s.UpdateCollection(ctx, c))
			got, err := s.GetCollection(ctx, "alice", "photos")
			must(t, "GetCollection", err)
			equal(t, "GetCollection after update", got, c)
			must(t, "DeleteCollection", s.DeleteCollection(ctx, "alice", "photos"))
			must(t, "DeleteCollection again", s.DeleteCollection(ctx, "alice", "photos"))
			_, err = s.GetCollection(ctx, "alice", "photos")
			wantErr(t, "GetCollection deleted", err, store.ErrNotFound)
			must(t, "CreateCollection after delete", s.CreateCollection(ctx, newCollection("alice", "photos", 3)))
		}},
	}
}
