package storetest

import (
	"testing"

	"github.com/algos-dev/algos/controlplane/store"
)

func accountTests() []test {
	return []test{
		{"RoundTrip", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			for _, a := range []store.Account{
				{Name: "alice", Admin: true, CreatedAt: at(0)},
				{Name: "bob", Admin: false, CreatedAt: at(1)},
			} {
				must(t, "CreateAccount", s.CreateAccount(ctx, a))
				got, err := s.GetAccount(ctx, a.Name)
				must(t, "GetAccount", err)
				equal(t, "GetAccount "+a.Name, got, a)
			}
		}},
		{"Conflict", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			first := store.Account{Name: "alice", Admin: true, CreatedAt: at(0)}
			must(t, "CreateAccount", s.CreateAccount(ctx, first))
			wantErr(t, "CreateAccount again", s.CreateAccount(ctx, store.Account{Name: "alice", CreatedAt: at(5)}), store.ErrConflict)
			got, err := s.GetAccount(ctx, "alice")
			must(t, "GetAccount", err)
			equal(t, "GetAccount after the conflict", got, first)
		}},
		{"NotFound", func(t *testing.T, s store.Store) {
			_, err := s.GetAccount(t.Context(), "nobody")
			wantErr(t, "GetAccount", err, store.ErrNotFound)
		}},
	}
}

func newKey(id, owner string, created int) store.Key {
	return store.Key{
		ID:        id,
		Owner:     owner,
		Name:      "key " + id,
		Hash:      hash("secret-" + id),
		Prefix:    "sim" + id,
		Algos:     []string{"algo://" + owner + "/*"},
		Data:      store.DataRead,
		Manage:    true,
		CreatedAt: at(created),
	}
}

func keyTests() []test {
	return []test{
		{"RoundTrip", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			full := newKey("k1", "alice", 0)
			full.Algos = []string{"algo://*", "algo://bob/*", "algo://carol/sort/*"}
			full.Data = store.DataReadWrite
			full.ExpiresAt = ptr(at(3600))
			revoked := newKey("k2", "alice", 1)
			revoked.Manage = false
			revoked.Data = store.DataNone
			revoked.RevokedAt = ptr(at(2))
			for _, k := range []store.Key{full, revoked} {
				must(t, "CreateKey", s.CreateKey(ctx, k))
				got, err := s.GetKey(ctx, k.ID)
				must(t, "GetKey", err)
				equal(t, "GetKey "+k.ID, got, k)
				got, err = s.KeyByHash(ctx, k.Hash)
				must(t, "KeyByHash", err)
				equal(t, "KeyByHash "+k.ID, got, k)
			}
		}},
		{"AlgosNilEmptyKept", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			for i, algos := range [][]string{nil, {}, {"algo://alice/sort/*"}} {
				k := newKey(string(rune('a'+i)), "alice", i)
				k.Algos = algos
				must(t, "CreateKey", s.CreateKey(ctx, k))
				got, err := s.GetKey(ctx, k.ID)
				must(t, "GetKey", err)
				equal(t, "GetKey", got.Algos, algos)
			}
		}},
		{"Conflict", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			k := newKey("k1", "alice", 0)
			must(t, "CreateKey", s.CreateKey(ctx, k))

			sameID := newKey("k1", "bob", 1)
			sameID.Hash = hash("another secret")
			wantErr(t, "CreateKey with a taken ID", s.CreateKey(ctx, sameID), store.ErrConflict)
			_, err := s.KeyByHash(ctx, sameID.Hash)
			wantErr(t, "KeyByHash of the rejected key", err, store.ErrNotFound)

			sameHash := newKey("k2", "alice", 1)
			sameHash.Hash = k.Hash
			wantErr(t, "CreateKey with a taken hash", s.CreateKey(ctx, sameHash), store.ErrConflict)
			_, err = s.GetKey(ctx, "k2")
			wantErr(t, "GetKey of the rejected key", err, store.ErrNotFound)

			got, err := s.GetKey(ctx, "k1")
			must(t, "GetKey", err)
			equal(t, "GetKey after the conflicts", got, k)
		}},
		{"NotFound", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			must(t, "CreateKey", s.CreateKey(ctx, newKey("k1", "alice", 0)))
			_, err := s.GetKey(ctx, "k2")
			wantErr(t, "GetKey", err, store.ErrNotFound)
			_, err = s.KeyByHash(ctx, hash("unknown"))
			wantErr(t, "KeyByHash", err, store.ErrNotFound)
			_, err = s.KeyByHash(ctx, nil)
			wantErr(t, "KeyByHash(nil)", err, store.ErrNotFound)
		}},
		{"ListNewestFirst", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			k1, k2, k3 := newKey("k1", "alice", 1), newKey("k2", "alice", 2), newKey("k3", "alice", 3)
			for _, k := range []store.Key{k2, k3, newKey("b1", "bob", 4), k1} {
				must(t, "CreateKey", s.CreateKey(ctx, k))
			}
			got, err := s.ListKeys(ctx, "alice")
			must(t, "ListKeys", err)
			equal(t, "ListKeys alice", got, []store.Key{k3, k2, k1})
			got, err = s.ListKeys(ctx, "nobody")
			must(t, "ListKeys nobody", err)
			if len(got) != 0 {
				t.Errorf("ListKeys nobody: got %d keys, want none", len(got))
			}
		}},
		{"RevokeKeepsFirstTime", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			k := newKey("k1", "alice", 0)
			must(t, "CreateKey", s.CreateKey(ctx, k))
			must(t, "RevokeKey", s.RevokeKey(ctx, "k1", at(10)))
			must(t, "RevokeKey again", s.RevokeKey(ctx, "k1", at(20)))
			k.RevokedAt = ptr(at(10))
			got, err := s.GetKey(ctx, "k1")
			must(t, "GetKey", err)
			equal(t, "GetKey after two revokes", got, k)
			got, err = s.KeyByHash(ctx, k.Hash)
			must(t, "KeyByHash of a revoked key", err)
			equal(t, "KeyByHash of a revoked key", got, k)
			wantErr(t, "RevokeKey unknown", s.RevokeKey(ctx, "k2", at(10)), store.ErrNotFound)
		}},
		{"UpdateNameAndExpiry", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			k := newKey("k1", "alice", 0)
			must(t, "CreateKey", s.CreateKey(ctx, k))
			must(t, "UpdateKey", s.UpdateKey(ctx, "k1", "renamed", ptr(at(30))))
			k.Name, k.ExpiresAt = "renamed", ptr(at(30))
			got, err := s.GetKey(ctx, "k1")
			must(t, "GetKey", err)
			equal(t, "GetKey after UpdateKey", got, k)
			must(t, "UpdateKey clearing the expiry", s.UpdateKey(ctx, "k1", "", nil))
			k.Name, k.ExpiresAt = "", nil
			got, err = s.GetKey(ctx, "k1")
			must(t, "GetKey", err)
			equal(t, "GetKey after clearing", got, k)
			wantErr(t, "UpdateKey unknown", s.UpdateKey(ctx, "k2", "x", nil), store.ErrNotFound)
		}},
	}
}
