package catalog_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/catalog"
	"github.com/algos-dev/algos/controlplane/store"
	"github.com/algos-dev/algos/controlplane/store/sqlite"
)

// viewer acts for one account.
type viewer string

func (v viewer) ActsFor(owner string) bool { return string(v) == owner }

// model is what a large catalog holds, to check the service's answers against a brute-force
// reading of it.
type model struct {
	algs map[string]*modelAlg // by owner/name
}

type modelAlg struct {
	owner, name, summary string
	tags                 []string
	public, gpu          bool // has a public version; its latest public version needs a GPU
	ownerGPU             bool // its latest version needs a GPU
}

var vocabulary = strings.Fields("aurora basalt cinder delta ember fjord glacier harbor iris juniper kelp lumen")

// words gives algorithm i two summary words, varied enough that each word matches a different
// subset.
func words(i, round int) string {
	return vocabulary[(i+round)%len(vocabulary)] + " " + vocabulary[(i/3+2*round)%len(vocabulary)]
}

func TestLargeCatalog(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "algos.db")
	open := func() *sqlite.Store {
		s, err := sqlite.Open(ctx, sqlite.Config{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	// The catalog reads one store; another (a second process, a replica) writes.
	reader, writer := open(), open()
	cat, err := catalog.New(catalog.Config{Store: reader, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	m := model{algs: map[string]*modelAlg{}}
	now := time.Now().UTC()
	key := func(i int) string { return fmt.Sprintf("owner%02d/algo-%04d", i%17, i) }
	details := func(i, round int) store.AlgorithmDetails {
		a := m.algs[key(i)]
		a.summary, a.tags = words(i, round), []string{fmt.Sprintf("t%d", (i+round)%5)}
		return store.AlgorithmDetails{Summary: a.summary, Tags: a.tags}
	}
	version := func(i int, semver string, public, gpu bool) store.Version {
		a := m.algs[key(i)]
		a.ownerGPU = gpu // versions are published in ascending order
		if public {
			a.public, a.gpu = true, gpu
		}
		manifest := fmt.Sprintf(`{"runtime":"python","entrypoint":["main.py"],"resources":{"gpus":%d}}`, map[bool]int{true: 1}[gpu])
		return store.Version{ID: a.owner + "/" + a.name + "/" + semver, Owner: a.owner, Name: a.name, Semver: semver,
			Digest: "sha256:00", Manifest: []byte(manifest), Public: public, CreatedAt: now}
	}
	// The bulk path loads the catalog; the changes after it go one by one.
	var batch []store.CatalogAlgorithm
	for i := range n {
		a := &modelAlg{owner: fmt.Sprintf("owner%02d", i%17), name: fmt.Sprintf("algo-%04d", i)}
		m.algs[key(i)] = a
		ca := store.CatalogAlgorithm{Algorithm: store.Algorithm{ID: key(i), Owner: a.owner, Name: a.name, CreatedAt: now, UpdatedAt: now},
			Details: details(i, 0)}
		if i%9 != 0 { // every ninth is private
			ca.Versions = append(ca.Versions, version(i, "1.0.0", true, i%6 == 0))
		}
		ca.Versions = append(ca.Versions, version(i, "1.1.0", false, i%4 == 0))
		batch = append(batch, ca)
	}
	if err := writer.ImportCatalog(ctx, batch); err != nil {
		t.Fatal(err)
	}
	put := func(i, round int) {
		a := m.algs[key(i)]
		if err := writer.PutAlgorithmDetails(ctx, a.owner, a.name, details(i, round)); err != nil {
			t.Fatal(err)
		}
	}
	publish := func(i int, semver string, public, gpu bool) {
		if err := writer.CreateVersion(ctx, version(i, semver, public, gpu)); err != nil {
			t.Fatal(err)
		}
	}

	check := func(stage string) {
		t.Helper()
		for _, who := range []viewer{"owner03", "nobody"} {
			visible := func(a *modelAlg) bool { return a.public || a.owner == string(who) }
			gpuOf := func(a *modelAlg) bool {
				if a.owner == string(who) {
					return a.ownerGPU // the owner sees private versions
				}
				return a.gpu
			}
			queries := []struct {
				q     api.CatalogQuery
				match func(a *modelAlg) bool
			}{
				{api.CatalogQuery{}, func(*modelAlg) bool { return true }},
				{api.CatalogQuery{Q: "glacier"}, func(a *modelAlg) bool { return strings.Contains(a.summary, "glacier") }},
				{api.CatalogQuery{Q: "Aurora kelp"}, func(a *modelAlg) bool {
					return strings.Contains(a.summary, "aurora") && strings.Contains(a.summary, "kelp")
				}},
				{api.CatalogQuery{Q: "emb"}, func(a *modelAlg) bool { return strings.Contains(a.summary, "ember") }},
				{api.CatalogQuery{Tags: []string{"t3"}}, func(a *modelAlg) bool { return slices.Contains(a.tags, "t3") }},
				{api.CatalogQuery{Owner: "owner03"}, func(a *modelAlg) bool { return a.owner == "owner03" }},
				{api.CatalogQuery{GPU: ptr(true)}, gpuOf},
				{api.CatalogQuery{Q: "delta", GPU: ptr(false), Tags: []string{"t1"}}, func(a *modelAlg) bool {
					return strings.Contains(a.summary, "delta") && !gpuOf(a) && slices.Contains(a.tags, "t1")
				}},
			}
			for _, qc := range queries {
				var want []string
				for k, a := range m.algs {
					if visible(a) && qc.match(a) {
						want = append(want, k)
					}
				}
				slices.Sort(want)
				var got []string
				q := qc.q
				q.Limit = api.MaxCatalogPage
				for pages := 0; ; pages++ {
					p, err := cat.Search(ctx, who, q)
					if err != nil {
						t.Fatalf("%s: search %+v: %v", stage, q, err)
					}
					if p.Total != len(want) {
						t.Fatalf("%s: %s searches %+v: total %d, want %d", stage, who, qc.q, p.Total, len(want))
					}
					for _, e := range p.Results {
						got = append(got, e.Owner+"/"+e.Name)
					}
					if p.NextMarker == "" || pages > n {
						break
					}
					q.Marker = p.NextMarker
				}
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Fatalf("%s: %s searches %+v: %d results differ from the %d expected", stage, who, qc.q, len(got), len(want))
				}
			}
		}
	}
	check("loaded")

	// Fewer changes than MaxIncremental: read one by one.
	for i := 0; i < 90; i++ {
		k := key(i)
		switch i % 3 {
		case 0:
			if err := writer.DeleteAlgorithm(ctx, m.algs[k].owner, m.algs[k].name); err != nil {
				t.Fatal(err)
			}
			delete(m.algs, k)
		case 1:
			put(i, 1)
		case 2:
			publish(i, "2.0.0", true, true)
		}
	}
	check("after 90 changes")

	// More: reloaded whole.
	for i := 1000; i < 1600; i++ {
		put(i, 2)
	}
	check("after 600 changes")
}

// TestSyncCoalesces: many searches at once after a change all see it.
func TestSyncSeesEveryCommittedWrite(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "algos.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	cat, err := catalog.New(catalog.Config{Store: s, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for i := range 20 {
		name := fmt.Sprintf("a%d", i)
		if err := s.CreateAlgorithm(ctx, store.Algorithm{ID: name, Owner: "o", Name: name, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 8)
		for range 8 {
			go func() {
				p, err := cat.Search(context.WithoutCancel(ctx), viewer("o"), api.CatalogQuery{Limit: 100})
				if err == nil && p.Total != i+1 {
					err = fmt.Errorf("after %d creates a search finds %d", i+1, p.Total)
				}
				errs <- err
			}()
		}
		for range 8 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
}

// BenchmarkSearch searches a catalog of Algorithmia's size (5,000 algorithms, 12 versions
// each) in process: `go test -run - -bench Search ./controlplane/catalog`.
func BenchmarkSearch(b *testing.B) {
	ctx := b.Context()
	s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(b.TempDir(), "algos.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC()
	var batch []store.CatalogAlgorithm
	readme := strings.Repeat(strings.Join(vocabulary, " ")+". ", 20)
	for i := range 5000 {
		owner, name := fmt.Sprintf("user%03d", i%150), fmt.Sprintf("%s-%s-%d", vocabulary[i%12], vocabulary[i/12%12], i)
		ca := store.CatalogAlgorithm{Algorithm: store.Algorithm{ID: owner + "/" + name, Owner: owner, Name: name, CreatedAt: now, UpdatedAt: now},
			Details: store.AlgorithmDetails{Summary: words(i, 0) + " " + words(i, 1), README: fmt.Sprintf("%s %d", readme, i), Tags: []string{fmt.Sprintf("t%d", i%40)}}}
		for v := range 12 {
			semver := fmt.Sprintf("1.%d.0", v)
			ca.Versions = append(ca.Versions, store.Version{ID: owner + "/" + name + "/" + semver, Owner: owner, Name: name, Semver: semver,
				Manifest: []byte(`{"runtime":"python","entrypoint":["main.py"]}`), Public: i%10 != 0, CreatedAt: now})
		}
		batch = append(batch, ca)
	}
	if err := s.ImportCatalog(ctx, batch); err != nil {
		b.Fatal(err)
	}
	cat, err := catalog.New(catalog.Config{Store: s, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	if err := cat.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	for _, q := range []api.CatalogQuery{
		{}, {Q: "glacier"}, {Q: "glacier kelp"}, {Q: "gla"}, {Tags: []string{"t3"}}, {Q: "ember", Limit: 100}, {Q: "fjord-iris-17"},
	} {
		b.Run(fmt.Sprintf("%q", strings.Trim(fmt.Sprintf("%v", q), "{}")), func(b *testing.B) {
			for b.Loop() {
				if _, err := cat.Search(ctx, viewer("user003"), q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
