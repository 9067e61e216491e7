package storetest

import (
	"slices"
	"strings"
	"testing"

	"github.com/algos-dev/algos/controlplane/store"
)

func newPool(name string, created int) store.Pool {
	return store.Pool{
		Name:          name,
		Cloud:         "aws",
		Spec:          []byte(`{"region":"us-east-1","instance_type":"g5.xlarge","min":0,"max":4}`),
		JoinTokenHash: hash("join-" + name),
		CreatedAt:     at(created),
		UpdatedAt:     at(created),
	}
}

func newNode(id, pool string, seen int) store.Node {
	return store.Node{
		ID:           id,
		Pool:         pool,
		InstanceID:   "i-" + id,
		Address:      "http://10.0.0.1:7070",
		TokenHash:    hash("node-" + id),
		Capacity:     []byte(`{"cpu_millis":4000,"memory_mb":16384,"gpus":1}`),
		RegisteredAt: at(0),
		LastSeenAt:   at(seen),
	}
}

func poolTests() []test {
	return []test{
		{"RoundTrip", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			bare := newPool("bare", 1)
			bare.Spec, bare.JoinTokenHash, bare.Deleting = nil, nil, true
			for _, p := range []store.Pool{newPool("gpu", 0), bare} {
				must(t, "CreatePool", s.CreatePool(ctx, p))
				got, err := s.GetPool(ctx, p.Name)
				must(t, "GetPool", err)
				equal(t, "GetPool "+p.Name, got, p)
			}
			p := newPool("gpu", 0)
			got, err := s.PoolByJoinTokenHash(ctx, p.JoinTokenHash)
			must(t, "PoolByJoinTokenHash", err)
			equal(t, "PoolByJoinTokenHash", got, p)
		}},
		{"Conflict", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			p := newPool("gpu", 0)
			must(t, "CreatePool", s.CreatePool(ctx, p))
			again := newPool("gpu", 1)
			again.Cloud = "gcp"
			again.JoinTokenHash = hash("another")
			wantErr(t, "CreatePool with a taken name", s.CreatePool(ctx, again), store.ErrConflict)
			got, err := s.GetPool(ctx, "gpu")
			must(t, "GetPool", err)
			equal(t, "GetPool after the conflict", got, p)
		}},
		{"NotFound", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			must(t, "CreatePool", s.CreatePool(ctx, newPool("gpu", 0)))
			_, err := s.GetPool(ctx, "cpu")
			wantErr(t, "GetPool", err, store.ErrNotFound)
			_, err = s.PoolByJoinTokenHash(ctx, hash("unknown"))
			wantErr(t, "PoolByJoinTokenHash", err, store.ErrNotFound)
		}},
		{"UpdateAllButNameAndCreatedAt", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			p := newPool("gpu", 0)
			must(t, "CreatePool", s.CreatePool(ctx, p))
			upd := store.Pool{
				Name:          "gpu",
				Cloud:         "azure",
				Spec:          []byte(`{"region":"westeurope"}`),
				JoinTokenHash: hash("rotated"),
				Deleting:      true,
				CreatedAt:     at(77),
				UpdatedAt:     at(9),
			}
			must(t, "UpdatePool", s.UpdatePool(ctx, upd))
			want := upd
			want.CreatedAt = p.CreatedAt
			got, err := s.GetPool(ctx, "gpu")
			must(t, "GetPool", err)
			equal(t, "GetPool after the update", got, want)
			_, err = s.PoolByJoinTokenHash(ctx, p.JoinTokenHash)
			wantErr(t, "PoolByJoinTokenHash of the old token", err, store.ErrNotFound)
			got, err = s.PoolByJoinTokenHash(ctx, upd.JoinTokenHash)
			must(t, "PoolByJoinTokenHash of the new token", err)
			equal(t, "PoolByJoinTokenHash of the new token", got, want)

			wantErr(t, "UpdatePool unknown", s.UpdatePool(ctx, newPool("cpu", 0)), store.ErrNotFound)
		}},
		{"ListAndDeleteIdempotent", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			pools := []store.Pool{newPool("b", 0), newPool("a", 1), newPool("c", 2)}
			for _, p := range pools {
				must(t, "CreatePool", s.CreatePool(ctx, p))
			}
			byName := func(a, b store.Pool) int { return strings.Compare(a.Name, b.Name) }
			got, err := s.ListPools(ctx)
			must(t, "ListPools", err)
			slices.SortFunc(got, byName)
			slices.SortFunc(pools, byName)
			equal(t, "ListPools", got, pools)

			must(t, "DeletePool", s.DeletePool(ctx, "b"))
			must(t, "DeletePool again", s.DeletePool(ctx, "b"))
			must(t, "DeletePool never created", s.DeletePool(ctx, "z"))
			_, err = s.GetPool(ctx, "b")
			wantErr(t, "GetPool after delete", err, store.ErrNotFound)
			got, err = s.ListPools(ctx)
			must(t, "ListPools after delete", err)
			slices.SortFunc(got, byName)
			equal(t, "ListPools after delete", got, []store.Pool{pools[0], pools[2]})
		}},
	}
}

func nodeTests() []test {
	return []test{
		{"UpsertCreatesAndReplaces", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			n := newNode("n1", "gpu", 1)
			must(t, "UpsertNode create", s.UpsertNode(ctx, n))
			got, err := s.GetNode(ctx, "n1")
			must(t, "GetNode", err)
			equal(t, "GetNode after create", got, n)

			repl := store.Node{
				ID:           "n1",
				Pool:         "cpu",
				InstanceID:   "i-replaced",
				Address:      "http://10.0.0.2:7070",
				TokenHash:    hash("rotated"),
				Capacity:     []byte(`{"cpu_millis":2000}`),
				RegisteredAt: at(5),
				LastSeenAt:   at(6),
			}
			must(t, "UpsertNode replace", s.UpsertNode(ctx, repl))
			got, err = s.GetNode(ctx, "n1")
			must(t, "GetNode", err)
			equal(t, "GetNode after replace", got, repl)
			_, err = s.NodeByTokenHash(ctx, n.TokenHash)
			wantErr(t, "NodeByTokenHash of the old token", err, store.ErrNotFound)
			got, err = s.NodeByTokenHash(ctx, repl.TokenHash)
			must(t, "NodeByTokenHash", err)
			equal(t, "NodeByTokenHash", got, repl)
			all, err := s.ListNodes(ctx)
			must(t, "ListNodes", err)
			equal(t, "ListNodes", all, []store.Node{repl})
		}},
		{"NotFound", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			must(t, "UpsertNode", s.UpsertNode(ctx, newNode("n1", "gpu", 1)))
			_, err := s.GetNode(ctx, "n2")
			wantErr(t, "GetNode", err, store.ErrNotFound)
			_, err = s.NodeByTokenHash(ctx, hash("unknown"))
			wantErr(t, "NodeByTokenHash", err, store.ErrNotFound)
		}},
		{"ListAndDeleteIdempotent", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			nodes := []store.Node{newNode("n2", "gpu", 1), newNode("n1", "gpu", 2), newNode("n3", "cpu", 3)}
			for _, n := range nodes {
				must(t, "UpsertNode", s.UpsertNode(ctx, n))
			}
			byID := func(a, b store.Node) int { return strings.Compare(a.ID, b.ID) }
			got, err := s.ListNodes(ctx)
			must(t, "ListNodes", err)
			slices.SortFunc(got, byID)
			slices.SortFunc(nodes, byID)
			equal(t, "ListNodes", got, nodes)

			must(t, "DeleteNode", s.DeleteNode(ctx, "n2"))
			must(t, "DeleteNode again", s.DeleteNode(ctx, "n2"))
			must(t, "DeleteNode never created", s.DeleteNode(ctx, "n9"))
			_, err = s.GetNode(ctx, "n2")
			wantErr(t, "GetNode after delete", err, store.ErrNotFound)
			got, err = s.ListNodes(ctx)
			must(t, "ListNodes after delete", err)
			slices.SortFunc(got, byID)
			equal(t, "ListNodes after delete", got, []store.Node{nodes[0], nodes[2]})
		}},
	}
}
