package storetest

import (
	"slices"
	"testing"

	"github.com/algos-dev/algos/controlplane/store"
)

func newDetails(summary string) store.AlgorithmDetails {
	return store.AlgorithmDetails{
		Summary:      summary,
		README:       "# " + summary + "\n\nUse it *well*.",
		Tags:         []string{"nlp", "text"},
		License:      "Apache-2.0",
		SampleInput:  []byte(`{"text":"hello"}`),
		SampleOutput: []byte(`["hello"]`),
	}
}

// changed returns the names CatalogChanges reports after seq, and the highest sequence number.
func changed(t *testing.T, s store.Store, after int64) ([]string, int64) {
	t.Helper()
	cs, err := s.CatalogChanges(t.Context(), after, 1000)
	must(t, "CatalogChanges", err)
	var names []string
	last := after
	for _, c := range cs {
		if c.Seq <= last {
			t.Errorf("CatalogChanges: %s/%s numbered %d after %d: want increasing numbers above %d", c.Owner, c.Name, c.Seq, last, after)
		}
		last = c.Seq
		names = append(names, c.Owner+"/"+c.Name)
	}
	return names, last
}

func catalogTests() []test {
	return []test{
		{"DetailsRoundTrip", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			a := newAlgorithm("demo", "sort", 0)
			must(t, "CreateAlgorithm", s.CreateAlgorithm(ctx, a))
			got, err := s.GetAlgorithmDetails(ctx, "demo", "sort")
			must(t, "GetAlgorithmDetails before any put", err)
			equal(t, "GetAlgorithmDetails before any put", got, store.AlgorithmDetails{})

			d := newDetails("sorts things")
			must(t, "PutAlgorithmDetails", s.PutAlgorithmDetails(ctx, "demo", "sort", d))
			got, err = s.GetAlgorithmDetails(ctx, "demo", "sort")
			must(t, "GetAlgorithmDetails", err)
			equal(t, "GetAlgorithmDetails", got, d)

			// Replaced whole; empty tags stay empty, not nil.
			d2 := store.AlgorithmDetails{Summary: "sorts faster", Tags: []string{}}
			must(t, "PutAlgorithmDetails again", s.PutAlgorithmDetails(ctx, "demo", "sort", d2))
			got, err = s.GetAlgorithmDetails(ctx, "demo", "sort")
			must(t, "GetAlgorithmDetails after the second put", err)
			equal(t, "GetAlgorithmDetails after the second put", got, d2)

			wantErr(t, "PutAlgorithmDetails unknown", s.PutAlgorithmDetails(ctx, "demo", "nope", d), store.ErrNotFound)
			_, err = s.GetAlgorithmDetails(ctx, "demo", "nope")
			wantErr(t, "GetAlgorithmDetails unknown", err, store.ErrNotFound)

			// Deleted with the algorithm: a new algorithm of the same name starts without.
			must(t, "DeleteAlgorithm", s.DeleteAlgorithm(ctx, "demo", "sort"))
			_, err = s.GetAlgorithmDetails(ctx, "demo", "sort")
			wantErr(t, "GetAlgorithmDetails after delete", err, store.ErrNotFound)
			must(t, "CreateAlgorithm again", s.CreateAlgorithm(ctx, newAlgorithm("demo", "sort", 5)))
			got, err = s.GetAlgorithmDetails(ctx, "demo", "sort")
			must(t, "GetAlgorithmDetails of the new algorithm", err)
			equal(t, "GetAlgorithmDetails of the new algorithm", got, store.AlgorithmDetails{})
		}},
		{"ChangesFeed", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			names, seq := changed(t, s, 0)
			if len(names) != 0 {
				t.Fatalf("CatalogChanges of an empty store: %v", names)
			}
			sortAlg, searchAlg := newAlgorithm("demo", "sort", 0), newAlgorithm("demo", "search", 1)
			must(t, "CreateAlgorithm", s.CreateAlgorithm(ctx, sortAlg))
			must(t, "CreateAlgorithm", s.CreateAlgorithm(ctx, searchAlg))
			names, seq = changed(t, s, seq)
			equal(t, "changes after two creates", names, []string{"demo/sort", "demo/search"})

			// Each kind of write is a change, reported once per algorithm, latest last.
			writes := []struct {
				what string
				fn   func() error
				want []string
			}{
				{"a version", func() error { return s.CreateVersion(ctx, newVersion(sortAlg, "v1", "1.0.0", 2)) }, []string{"demo/sort"}},
				{"details", func() error { return s.PutAlgorithmDetails(ctx, "demo", "search", newDetails("finds")) }, []string{"demo/search"}},
				{"details replaced", func() error { return s.PutAlgorithmDetails(ctx, "demo", "search", newDetails("finds more")) }, []string{"demo/search"}},
				{"an update", func() error {
					u := sortAlg
					u.Description = "faster"
					return s.UpdateAlgorithm(ctx, u)
				}, []string{"demo/sort"}},
				{"a delete", func() error { return s.DeleteAlgorithm(ctx, "demo", "search") }, []string{"demo/search"}},
			}
			for _, w := range writes {
				must(t, w.what, w.fn())
				var got []string
				got, seq = changed(t, s, seq)
				equal(t, "changes after "+w.what, got, w.want)
			}
			// A failed write records nothing.
			wantErr(t, "CreateVersion of an unknown algorithm",
				s.CreateVersion(ctx, newVersion(newAlgorithm("demo", "nope", 0), "v9", "1.0.0", 3)), store.ErrNotFound)
			wantErr(t, "PutAlgorithmDetails of an unknown algorithm", s.PutAlgorithmDetails(ctx, "demo", "nope", newDetails("x")), store.ErrNotFound)
			if got, _ := changed(t, s, seq); len(got) != 0 {
				t.Errorf("changes after failed writes: %v, want none", got)
			}
			// The whole feed names each algorithm once, in the order of its latest change.
			all, _ := changed(t, s, 0)
			equal(t, "the whole feed", all, []string{"demo/sort", "demo/search"})
			// limit bounds a page.
			cs, err := s.CatalogChanges(ctx, 0, 1)
			must(t, "CatalogChanges limit 1", err)
			if len(cs) != 1 || cs[0].Name != "sort" {
				t.Errorf("CatalogChanges limit 1: %v, want demo/sort alone", cs)
			}
		}},
		{"LoadCatalog", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			empty, err := s.LoadCatalog(ctx)
			must(t, "LoadCatalog empty", err)
			if len(empty.Algorithms) != 0 || empty.Seq != 0 {
				t.Errorf("LoadCatalog of an empty store: %d algorithms, seq %d", len(empty.Algorithms), empty.Seq)
			}
			zeta, alpha, other := newAlgorithm("demo", "zeta", 0), newAlgorithm("demo", "alpha", 1), newAlgorithm("alice", "beta", 2)
			for _, a := range []store.Algorithm{zeta, alpha, other} {
				must(t, "CreateAlgorithm", s.CreateAlgorithm(ctx, a))
			}
			v1, v2, v3 := newVersion(zeta, "z1", "1.0.0", 3), newVersion(zeta, "z2", "0.9.0", 4), newVersion(other, "b1", "1.0.0", 5)
			v2.Public = false
			for _, v := range []store.Version{v1, v3, v2} {
				must(t, "CreateVersion", s.CreateVersion(ctx, v))
			}
			d := newDetails("the last letter")
			must(t, "PutAlgorithmDetails", s.PutAlgorithmDetails(ctx, "demo", "zeta", d))
			_, last := changed(t, s, 0)

			c, err := s.LoadCatalog(ctx)
			must(t, "LoadCatalog", err)
			if c.Seq < last {
				t.Errorf("LoadCatalog: seq %d, want at least the latest change %d", c.Seq, last)
			}
			equal(t, "LoadCatalog", c.Algorithms, []store.CatalogAlgorithm{
				{Algorithm: other, Versions: []store.Version{v3}},
				{Algorithm: alpha},
				{Algorithm: zeta, Details: d, Versions: []store.Version{v1, v2}},
			})
		}},
		{"ImportCatalog", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			existing := newAlgorithm("demo", "taken", 0)
			must(t, "CreateAlgorithm", s.CreateAlgorithm(ctx, existing))
			_, seq := changed(t, s, 0)

			a, b := newAlgorithm("alice", "beta", 1), newAlgorithm("demo", "alpha", 2)
			av1, av2 := newVersion(a, "a1", "1.0.0", 3), newVersion(a, "a2", "2.0.0", 4)
			av2.Public = false
			batch := []store.CatalogAlgorithm{
				{Algorithm: a, Details: newDetails("beta things"), Versions: []store.Version{av1, av2}},
				{Algorithm: b},
			}
			must(t, "ImportCatalog", s.ImportCatalog(ctx, batch))
			got, err := s.LoadCatalog(ctx)
			must(t, "LoadCatalog", err)
			equal(t, "LoadCatalog after the import", got.Algorithms, []store.CatalogAlgorithm{
				batch[0], batch[1], {Algorithm: existing},
			})
			names, _ := changed(t, s, seq)
			slices.Sort(names)
			equal(t, "changes of the import", names, []string{"alice/beta", "demo/alpha"})
			vs, err := s.ListVersions(ctx, "alice", "beta")
			must(t, "ListVersions", err)
			equal(t, "ListVersions of an imported algorithm", vs, []store.Version{av1, av2})

			// All or nothing: a batch with a taken name stores none of it.
			c := newAlgorithm("demo", "gamma", 5)
			wantErr(t, "ImportCatalog with a taken name", s.ImportCatalog(ctx, []store.CatalogAlgorithm{
				{Algorithm: c, Versions: []store.Version{newVersion(c, "c1", "1.0.0", 6)}},
				{Algorithm: newAlgorithm("demo", "taken", 7)},
			}), store.ErrConflict)
			_, err = s.GetAlgorithm(ctx, "demo", "gamma")
			wantErr(t, "GetAlgorithm of a failed import", err, store.ErrNotFound)
			_, err = s.GetVersionByID(ctx, "c1")
			wantErr(t, "GetVersionByID of a failed import", err, store.ErrNotFound)
			must(t, "ImportCatalog of nothing", s.ImportCatalog(ctx, nil))
		}},
		{"CallsAfterCloseFail", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			must(t, "CreateAlgorithm", s.CreateAlgorithm(ctx, newAlgorithm("demo", "sort", 0)))
			must(t, "Close", s.Close())
			wantErr(t, "PutAlgorithmDetails after Close", s.PutAlgorithmDetails(ctx, "demo", "sort", newDetails("x")), store.ErrClosed)
			_, err := s.GetAlgorithmDetails(ctx, "demo", "sort")
			wantErr(t, "GetAlgorithmDetails after Close", err, store.ErrClosed)
			_, err = s.CatalogChanges(ctx, 0, 10)
			wantErr(t, "CatalogChanges after Close", err, store.ErrClosed)
			_, err = s.LoadCatalog(ctx)
			wantErr(t, "LoadCatalog after Close", err, store.ErrClosed)
			wantErr(t, "ImportCatalog after Close", s.ImportCatalog(ctx, []store.CatalogAlgorithm{{Algorithm: newAlgorithm("demo", "x", 1)}}), store.ErrClosed)
		}},
	}
}
