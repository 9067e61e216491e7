package storetest

import (
	"fmt"
	"testing"

	"github.com/algos-dev/algos/controlplane/store"
)

func newAlgorithm(owner, name string, created int) store.Algorithm {
	return store.Algorithm{
		ID:          "alg-" + owner + "-" + name,
		Owner:       owner,
		Name:        name,
		Description: "the " + name + " algorithm",
		Settings:    []byte(`{"runtime":"python3.12","memory_mb":512}`),
		CreatedAt:   at(created),
		UpdatedAt:   at(created),
	}
}

func newVersion(a store.Algorithm, id, semver string, created int) store.Version {
	return store.Version{
		ID:           id,
		Owner:        a.Owner,
		Name:         a.Name,
		Semver:       semver,
		Digest:       fmt.Sprintf("sha256:%x", hash(id)),
		Manifest:     []byte(`{"entrypoint":"main.py"}`),
		ReleaseNotes: "release " + semver,
		Public:       true,
		CreatedAt:    at(created),
	}
}

func algorithmTests() []test {
	return []test{
		{"RoundTrip", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			noSettings := newAlgorithm("demo", "bare", 1)
			noSettings.Settings = nil
			noSettings.Description = ""
			for _, a := range []store.Algorithm{newAlgorithm("demo", "sort", 0), noSettings} {
				must(t, "CreateAlgorithm", s.CreateAlgorithm(ctx, a))
				got, err := s.GetAlgorithm(ctx, a.Owner, a.Name)
				must(t, "GetAlgorithm", err)
				equal(t, "GetAlgorithm "+a.Name, got, a)
			}
		}},
		{"Conflict", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			a := newAlgorithm("demo", "sort", 0)
			must(t, "CreateAlgorithm", s.CreateAlgorithm(ctx, a))
			again := newAlgorithm("demo", "sort", 5)
			again.ID = "alg-other"
			again.Description = "second"
			wantErr(t, "CreateAlgorithm with a taken owner/name", s.CreateAlgorithm(ctx, again), store.ErrConflict)
			got, err := s.GetAlgorithm(ctx, "demo", "sort")
			must(t, "GetAlgorithm", err)
			equal(t, "GetAlgorithm after the conflict", got, a)
			// The same name under another owner is another algorithm.
			must(t, "CreateAlgorithm other owner", s.CreateAlgorithm(ctx, newAlgorithm("alice", "sort", 1)))
		}},
		{"NotFound", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			must(t, "CreateAlgorithm", s.CreateAlgorithm(ctx, newAlgorithm("demo", "sort", 0)))
			_, err := s.GetAlgorithm(ctx, "demo", "nope")
			wantErr(t, "GetAlgorithm unknown name", err, store.ErrNotFound)
			_, err = s.GetAlgorithm(ctx, "alice", "sort")
			wantErr(t, "GetAlgorithm other owner", err, store.ErrNotFound)
		}},
		{"ListByName", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			zeta, alpha, mid := newAlgorithm("demo", "zeta", 0), newAlgorithm("demo", "alpha", 1), newAlgorithm("demo", "mid", 2)
			beta := newAlgorithm("alice", "beta", 3)
			for _, a := range []store.Algorithm{zeta, beta, alpha, mid} {
				must(t, "CreateAlgorithm", s.CreateAlgorithm(ctx, a))
			}
			got, err := s.ListAlgorithms(ctx, "demo")
			must(t, "ListAlgorithms", err)
			equal(t, "ListAlgorithms demo", got, []store.Algorithm{alpha, mid, zeta})
			got, err = s.ListAlgorithms(ctx, "")
			must(t, "ListAlgorithms every owner", err)
			equal(t, "ListAlgorithms every owner", got, []store.Algorithm{beta, alpha, mid, zeta})
			got, err = s.ListAlgorithms(ctx, "nobody")
			must(t, "ListAlgorithms nobody", err)
			if len(got) != 0 {
				t.Errorf("ListAlgorithms nobody: got %d, want none", len(got))
			}
		}},
		{"UpdateMutableOnly", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			a := newAlgorithm("demo", "sort", 0)
			must(t, "CreateAlgorithm", s.CreateAlgorithm(ctx, a))
			upd := a
			upd.ID = "alg-changed"
			upd.CreatedAt = at(99)
			upd.Description = "faster"
			upd.Settings = []byte(`{"runtime":"go1.26"}`)
			upd.UpdatedAt = at(50)
			must(t, "UpdateAlgorithm", s.UpdateAlgorithm(ctx, upd))
			want := a
			want.Description, want.Settings, want.UpdatedAt = upd.Description, upd.Settings, upd.UpdatedAt
			got, err := s.GetAlgorithm(ctx, "demo", "sort")
			must(t, "GetAlgorithm", err)
			equal(t, "GetAlgorithm after the update", got, want)

			wantErr(t, "UpdateAlgorithm unknown", s.UpdateAlgorithm(ctx, newAlgorithm("demo", "nope", 0)), store.ErrNotFound)
		}},
		{"DeleteIdempotentWithVersions", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			a, other := newAlgorithm("demo", "sort", 0), newAlgorithm("demo", "search", 0)
			must(t, "CreateAlgorithm", s.CreateAlgorithm(ctx, a))
			must(t, "CreateAlgorithm", s.CreateAlgorithm(ctx, other))
			must(t, "CreateVersion", s.CreateVersion(ctx, newVersion(a, "v1", "1.0.0", 1)))
			must(t, "CreateVersion", s.CreateVersion(ctx, newVersion(a, "v2", "1.1.0", 2)))
			kept := newVersion(other, "v3", "1.0.0", 3)
			must(t, "CreateVersion", s.CreateVersion(ctx, kept))

			must(t, "DeleteAlgorithm", s.DeleteAlgorithm(ctx, "demo", "sort"))
			_, err := s.GetAlgorithm(ctx, "demo", "sort")
			wantErr(t, "GetAlgorithm after delete", err, store.ErrNotFound)
			for _, id := range []string{"v1", "v2"} {
				_, err := s.GetVersionByID(ctx, id)
				wantErr(t, "GetVersionByID "+id+" after delete", err, store.ErrNotFound)
			}
			vs, err := s.ListVersions(ctx, "demo", "sort")
			if err == nil && len(vs) != 0 {
				t.Errorf("ListVersions after delete: got %d versions, want none", len(vs))
			}
			vs, err = s.ListVersions(ctx, "demo", "search")
			must(t, "ListVersions of the other algorithm", err)
			equal(t, "ListVersions of the other algorithm", vs, []store.Version{kept})

			must(t, "DeleteAlgorithm again", s.DeleteAlgorithm(ctx, "demo", "sort"))
			must(t, "DeleteAlgorithm never created", s.DeleteAlgorithm(ctx, "demo", "never"))

			// Re-created under the same name it starts with no versions, and the old semvers and
			// IDs are free again.
			again := newAlgorithm("demo", "sort", 10)
			again.ID = "alg-again"
			must(t, "CreateAlgorithm again", s.CreateAlgorithm(ctx, again))
			vs, err = s.ListVersions(ctx, "demo", "sort")
			must(t, "ListVersions of the re-created algorithm", err)
			if len(vs) != 0 {
				t.Errorf("ListVersions of the re-created algorithm: got %d, want none", len(vs))
			}
			must(t, "CreateVersion 1.0.0 again", s.CreateVersion(ctx, newVersion(again, "v1", "1.0.0", 11)))
		}},
	}
}

func versionTests() []test {
	return []test{
		{"RoundTrip", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			a := newAlgorithm("demo", "sort", 0)
			must(t, "CreateAlgorithm", s.CreateAlgorithm(ctx, a))
			private := newVersion(a, "v2", "2.0.0-rc.1", 2)
			private.Public = false
			private.Manifest = nil
			private.ReleaseNotes = ""
			for _, v := range []store.Version{newVersion(a, "v1", "1.0.0", 1), private} {
				must(t, "CreateVersion", s.CreateVersion(ctx, v))
				got, err := s.GetVersionByID(ctx, v.ID)
				must(t, "GetVersionByID", err)
				equal(t, "GetVersionByID "+v.ID, got, v)
			}
		}},
		{"MissingAlgorithm", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			v := newVersion(newAlgorithm("demo", "nope", 0), "v1", "1.0.0", 1)
			wantErr(t, "CreateVersion", s.CreateVersion(ctx, v), store.ErrNotFound)
			_, err := s.GetVersionByID(ctx, "v1")
			wantErr(t, "GetVersionByID", err, store.ErrNotFound)
		}},
		{"Conflict", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			a, b := newAlgorithm("demo", "sort", 0), newAlgorithm("demo", "search", 0)
			must(t, "CreateAlgorithm", s.CreateAlgorithm(ctx, a))
			must(t, "CreateAlgorithm", s.CreateAlgorithm(ctx, b))
			first := newVersion(a, "v1", "1.0.0", 1)
			must(t, "CreateVersion", s.CreateVersion(ctx, first))
			wantErr(t, "CreateVersion same semver", s.CreateVersion(ctx, newVersion(a, "v2", "1.0.0", 2)), store.ErrConflict)
			wantErr(t, "CreateVersion same ID", s.CreateVersion(ctx, newVersion(a, "v1", "1.1.0", 2)), store.ErrConflict)
			_, err := s.GetVersionByID(ctx, "v2")
			wantErr(t, "GetVersionByID of the rejected version", err, store.ErrNotFound)
			got, err := s.ListVersions(ctx, "demo", "sort")
			must(t, "ListVersions", err)
			equal(t, "ListVersions after the conflicts", got, []store.Version{first})
			// The same semver of another algorithm is another version.
			must(t, "CreateVersion other algorithm", s.CreateVersion(ctx, newVersion(b, "v3", "1.0.0", 3)))
		}},
		{"ListPublishOrder", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			a := newAlgorithm("demo", "sort", 0)
			must(t, "CreateAlgorithm", s.CreateAlgorithm(ctx, a))
			must(t, "CreateAlgorithm", s.CreateAlgorithm(ctx, newAlgorithm("demo", "other", 0)))
			// Same CreatedAt, and neither semver nor ID order matches publish order.
			vs := []store.Version{
				newVersion(a, "v-c", "2.0.0", 1),
				newVersion(a, "v-a", "1.0.0", 1),
				newVersion(a, "v-b", "10.0.0", 1),
				newVersion(a, "v-0", "1.5.0", 1),
			}
			for i, v := range vs {
				must(t, "CreateVersion", s.CreateVersion(ctx, v))
				if i == 1 {
					other := newVersion(store.Algorithm{Owner: "demo", Name: "other"}, "v-x", "0.1.0", 1)
					must(t, "CreateVersion other", s.CreateVersion(ctx, other))
				}
			}
			got, err := s.ListVersions(ctx, "demo", "sort")
			must(t, "ListVersions", err)
			equal(t, "ListVersions", got, vs)
		}},
	}
}
