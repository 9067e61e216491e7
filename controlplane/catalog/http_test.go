package catalog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/server"
	"github.com/algos-dev/algos/controlplane/store"
)

// cp is a real control plane (no nodes) on loopback with the accounts alice, bob and the
// administrator root, each with a key that may manage.
type cp struct {
	srv  *server.Server
	keys map[string]string
}

func startCP(t *testing.T) *cp {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.Start(ctx, server.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		cancel()
		t.Fatalf("start control plane: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := s.Wait(); err != nil {
			t.Errorf("control plane: %v", err)
		}
	})
	c := &cp{srv: s, keys: map[string]string{}}
	for _, acct := range []string{"alice", "bob", "root"} {
		if err := s.Store.CreateAccount(ctx, store.Account{Name: acct, Admin: acct == "root", CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		k, err := s.Keys.Create(ctx, acct, api.CreateKey{Name: "test", Manage: true})
		if err != nil {
			t.Fatal(err)
		}
		c.keys[acct] = k.Secret
	}
	return c
}

func (c *cp) client(who string) *api.Client { return api.NewClient(c.srv.URL, c.keys[who]) }

// get sends a GET as who and returns the status and body.
func (c *cp) get(t *testing.T, who, path string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, c.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Simple "+c.keys[who])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// algo is an algorithm a test creates and publishes.
type algo struct {
	owner, name, desc string
	details           *api.AlgorithmDetails
	settings          api.Manifest
	versions          []string // visibility of each version published, in order: "public" or "private"
	gpus              int      // resources.gpus of the source's algorithm.json
}

// source writes a minimal Python source directory.
func source(t *testing.T, gpus int) string {
	t.Helper()
	dir := t.TempDir()
	m := api.Manifest{Runtime: api.RuntimePython, Resources: api.Resources{GPUs: gpus}}
	b, _ := json.Marshal(m)
	for name, body := range map[string][]byte{api.ManifestFile: b, "main.py": []byte("def apply(x):\n    return x\n")} {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func (c *cp) create(t *testing.T, a algo) {
	t.Helper()
	ctx := t.Context()
	cl := c.client(a.owner)
	if _, err := cl.CreateAlgorithm(ctx, a.owner, api.CreateAlgorithm{Name: a.name, Description: a.desc, Settings: a.settings, Details: a.details}); err != nil {
		t.Fatalf("create %s/%s: %v", a.owner, a.name, err)
	}
	if len(a.versions) == 0 {
		return
	}
	art, _, err := api.PackSource(source(t, a.gpus))
	if err != nil {
		t.Fatal(err)
	}
	for i, vis := range a.versions {
		if _, err := cl.PublishVersion(ctx, a.owner, a.name, bytes.NewReader(art), api.PublishOptions{Visibility: vis, ReleaseNotes: "release " + string(rune('A'+i))}); err != nil {
			t.Fatalf("publish %s/%s: %v", a.owner, a.name, err)
		}
	}
}

func (c *cp) search(t *testing.T, who string, q api.CatalogQuery) api.CatalogPage {
	t.Helper()
	p, err := c.client(who).SearchCatalog(t.Context(), q)
	if err != nil {
		t.Fatalf("search %+v as %s: %v", q, who, err)
	}
	return p
}

// names lists a page's results as owner/name.
func names(p api.CatalogPage) []string {
	out := make([]string, 0, len(p.Results))
	for _, e := range p.Results {
		out = append(out, e.Owner+"/"+e.Name)
	}
	return out
}

func wantNames(t *testing.T, what string, p api.CatalogPage, want ...string) {
	t.Helper()
	if got := names(p); !slices.Equal(got, want) || p.Total != len(want) {
		t.Errorf("%s: got %v (total %d), want %v (total %d)", what, got, p.Total, want, len(want))
	}
}

func ptr[T any](v T) *T { return &v }

func TestRanking(t *testing.T) {
	t.Parallel()
	c := startCP(t)
	for _, a := range []algo{
		{owner: "alice", name: "readme-only", details: &api.AlgorithmDetails{Summary: "Turns speech into text",
			README: strings.Repeat("Works well after a sentiment step; sentiment sentiment sentiment. ", 50)}},
		{owner: "alice", name: "sentiment", details: &api.AlgorithmDetails{Summary: "Scores text"}},
		{owner: "alice", name: "mood", details: &api.AlgorithmDetails{Summary: "Sentiment of a tweet"}},
		{owner: "alice", name: "tagged", details: &api.AlgorithmDetails{Tags: []string{"sentiment"}}},
		{owner: "alice", name: "described", desc: "measures sentiment"},
		{owner: "alice", name: "unrelated", details: &api.AlgorithmDetails{Summary: "Sorts numbers"}},
	} {
		a.versions = []string{api.Public}
		c.create(t, a)
	}
	// Name, then summary, then tags, then description, then README, however often the README
	// repeats the word.
	wantNames(t, "q=sentiment", c.search(t, "bob", api.CatalogQuery{Q: "sentiment"}),
		"alice/sentiment", "alice/mood", "alice/tagged", "alice/described", "alice/readme-only")
	// Every word must match; case and word order do not matter.
	wantNames(t, "q=TWEET sentiment", c.search(t, "bob", api.CatalogQuery{Q: "TWEET sentiment"}), "alice/mood")
	// A word of three characters or more matches as a prefix, below an exact match.
	wantNames(t, "q=senti", c.search(t, "bob", api.CatalogQuery{Q: "senti"}),
		"alice/sentiment", "alice/mood", "alice/tagged", "alice/described", "alice/readme-only")
	wantNames(t, "q=se (too short for a prefix)", c.search(t, "bob", api.CatalogQuery{Q: "se"}))
	wantNames(t, "q=the (a stopword only)", c.search(t, "bob", api.CatalogQuery{Q: "the"}))
	// Without a query: everything, by owner and name.
	all := c.search(t, "bob", api.CatalogQuery{})
	wantNames(t, "no query", all, "alice/described", "alice/mood", "alice/readme-only", "alice/sentiment", "alice/tagged", "alice/unrelated")
	// Scores say the order.
	p := c.search(t, "bob", api.CatalogQuery{Q: "sentiment"})
	for i := 1; i < len(p.Results); i++ {
		if p.Results[i].Score >= p.Results[i-1].Score {
			t.Errorf("scores not decreasing: %s %.3f then %s %.3f", p.Results[i-1].Name, p.Results[i-1].Score, p.Results[i].Name, p.Results[i].Score)
		}
	}
}

func TestFilters(t *testing.T) {
	t.Parallel()
	c := startCP(t)
	for _, a := range []algo{
		{owner: "alice", name: "detect", details: &api.AlgorithmDetails{Summary: "finds objects", Tags: []string{"Vision", "gpu-ready"}}, gpus: 1},
		{owner: "alice", name: "ocr", details: &api.AlgorithmDetails{Summary: "reads objects", Tags: []string{"vision"}}},
		{owner: "bob", name: "detect", details: &api.AlgorithmDetails{Summary: "finds objects", Tags: []string{"vision"}},
			settings: api.Manifest{Resources: api.Resources{GPUMemMiB: 2048}}},
		{owner: "bob", name: "translate", details: &api.AlgorithmDetails{Summary: "words", Tags: []string{"nlp"}}},
	} {
		a.versions = []string{api.Public}
		c.create(t, a)
	}
	tests := []struct {
		q    api.CatalogQuery
		want []string
	}{
		{api.CatalogQuery{Tags: []string{"vision"}}, []string{"alice/detect", "alice/ocr", "bob/detect"}},
		{api.CatalogQuery{Tags: []string{"VISION", "gpu-ready"}}, []string{"alice/detect"}},
		{api.CatalogQuery{Tags: []string{"nope"}}, nil},
		{api.CatalogQuery{Owner: "bob"}, []string{"bob/detect", "bob/translate"}},
		{api.CatalogQuery{Owner: "carol"}, nil},
		{api.CatalogQuery{GPU: ptr(true)}, []string{"alice/detect", "bob/detect"}},
		{api.CatalogQuery{GPU: ptr(false)}, []string{"alice/ocr", "bob/translate"}},
		{api.CatalogQuery{Q: "objects", GPU: ptr(true), Owner: "alice"}, []string{"alice/detect"}},
		{api.CatalogQuery{Q: "objects", Tags: []string{"vision"}, GPU: ptr(false)}, []string{"alice/ocr"}},
	}
	for _, tc := range tests {
		p := c.search(t, "alice", tc.q)
		wantNames(t, "search "+strings.ReplaceAll(string(must(json.Marshal(tc.q))), `"`, ""), p, tc.want...)
	}
	// What a result says.
	p := c.search(t, "bob", api.CatalogQuery{Owner: "alice", Q: "detect"})
	if len(p.Results) != 1 {
		t.Fatalf("alice/detect: %v", names(p))
	}
	e := p.Results[0]
	if e.Summary != "finds objects" || !slices.Equal(e.Tags, []string{"vision", "gpu-ready"}) || !e.GPU || e.Runtime != api.RuntimePython ||
		e.LatestVersion != "1.0.0" || e.Visibility != api.Public || e.Calls != 0 || e.LatencyP50Ms != nil {
		t.Errorf("alice/detect as listed: %+v", e)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestPagingStableAndComplete(t *testing.T) {
	t.Parallel()
	c := startCP(t)
	ctx := t.Context()
	const n = 47
	var want []string
	for i := range n {
		name := "pager" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		summary := "pages"
		if i%3 == 0 {
			summary = "pages and pages" // a few scores tie, a few differ
		}
		if _, err := c.client("alice").CreateAlgorithm(ctx, "alice", api.CreateAlgorithm{Name: name, Details: &api.AlgorithmDetails{Summary: summary}}); err != nil {
			t.Fatal(err)
		}
		want = append(want, "alice/"+name)
	}
	whole := c.search(t, "alice", api.CatalogQuery{Q: "pages", Limit: api.MaxCatalogPage})
	if whole.Total != n || len(whole.Results) != n || whole.NextMarker != "" {
		t.Fatalf("one page of %d: %d results, total %d, marker %q", api.MaxCatalogPage, len(whole.Results), whole.Total, whole.NextMarker)
	}
	walk := func(limit int) []string {
		var got []string
		q := api.CatalogQuery{Q: "pages", Limit: limit}
		for range n + 1 {
			p := c.search(t, "alice", q)
			if p.Total != n {
				t.Fatalf("limit %d: total %d, want %d on every page", limit, p.Total, n)
			}
			if len(p.Results) > limit {
				t.Fatalf("limit %d: a page of %d", limit, len(p.Results))
			}
			got = append(got, names(p)...)
			if p.NextMarker == "" {
				return got
			}
			q.Marker = p.NextMarker
		}
		t.Fatalf("limit %d: more pages than results", limit)
		return nil
	}
	for _, limit := range []int{1, 7, 20, n} {
		if got := walk(limit); !slices.Equal(got, names(whole)) {
			t.Errorf("pages of %d: %v\nwant the one-page order %v", limit, got, names(whole))
		}
	}
	slices.Sort(want)
	if sorted := slices.Sorted(slices.Values(names(whole))); !slices.Equal(sorted, want) {
		t.Errorf("results %v, want every algorithm once: %v", sorted, want)
	}

	// Algorithms added and removed between pages do not move the others: the rest of the walk
	// holds every algorithm that was there throughout, once.
	p1 := c.search(t, "alice", api.CatalogQuery{Q: "pages", Limit: 10})
	first := names(p1)
	if err := c.client("alice").DeleteAlgorithm(ctx, "alice", strings.TrimPrefix(first[2], "alice/")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.client("alice").CreateAlgorithm(ctx, "alice", api.CreateAlgorithm{Name: "aaa-new", Details: &api.AlgorithmDetails{Summary: "pages and pages"}}); err != nil {
		t.Fatal(err)
	}
	rest := []string{}
	q := api.CatalogQuery{Q: "pages", Limit: 10, Marker: p1.NextMarker}
	for {
		p := c.search(t, "alice", q)
		rest = append(rest, names(p)...)
		if p.NextMarker == "" {
			break
		}
		q.Marker = p.NextMarker
	}
	if got, want := append(slices.Clone(first), rest...), names(whole); !slices.Equal(got, want) {
		t.Errorf("walk across changes: %v\nwant %v", got, want)
	}
}

func TestPrivateAlgorithmsAreInvisible(t *testing.T) {
	t.Parallel()
	c := startCP(t)
	ctx := t.Context()
	for _, a := range []algo{
		// Private only: invisible to alice.
		{owner: "bob", name: "secret-sauce", details: &api.AlgorithmDetails{Summary: "the sauce", Tags: []string{"sauce"}}, versions: []string{api.Private}},
		// No version at all: invisible to alice.
		{owner: "bob", name: "sauce-draft", details: &api.AlgorithmDetails{Summary: "the sauce, soon", Tags: []string{"sauce"}}},
		// Public 1.0.0, private 1.1.0 that needs a GPU: alice sees 1.0.0 alone.
		{owner: "bob", name: "sauce-maker", details: &api.AlgorithmDetails{Summary: "makes sauce", Tags: []string{"sauce"}}, versions: []string{api.Public}},
		{owner: "alice", name: "sauce-eater", details: &api.AlgorithmDetails{Summary: "eats sauce", Tags: []string{"sauce"}}, versions: []string{api.Public}},
	} {
		c.create(t, a)
	}
	art, _, err := api.PackSource(source(t, 2))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.client("bob").PublishVersion(ctx, "bob", "sauce-maker", bytes.NewReader(art), api.PublishOptions{Visibility: api.Private, ReleaseNotes: "GPU sauce"}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		q    api.CatalogQuery
		want []string
	}{
		{api.CatalogQuery{}, []string{"alice/sauce-eater", "bob/sauce-maker"}},
		{api.CatalogQuery{Q: "sauce"}, []string{"alice/sauce-eater", "bob/sauce-maker"}},
		{api.CatalogQuery{Tags: []string{"sauce"}}, []string{"alice/sauce-eater", "bob/sauce-maker"}},
		{api.CatalogQuery{Owner: "bob"}, []string{"bob/sauce-maker"}},
		{api.CatalogQuery{Q: "secret"}, nil},
		{api.CatalogQuery{Q: "draft"}, nil},
		{api.CatalogQuery{GPU: ptr(true)}, nil}, // sauce-maker's GPU version is private
		{api.CatalogQuery{Q: "sauce", GPU: ptr(true)}, nil},
	} {
		p := c.search(t, "alice", tc.q)
		wantNames(t, "alice's search "+string(must(json.Marshal(tc.q))), p, tc.want...)
		for _, e := range p.Results {
			if e.Name == "sauce-maker" && (e.LatestVersion != "1.0.0" || e.GPU) {
				t.Errorf("alice's search %+v shows bob's private version of sauce-maker: %+v", tc.q, e)
			}
		}
	}
	// Owner and administrator see everything, and the private version.
	for _, who := range []string{"bob", "root"} {
		wantNames(t, who+"'s search", c.search(t, who, api.CatalogQuery{Q: "sauce", Owner: "bob"}),
			"bob/sauce-draft", "bob/sauce-maker", "bob/secret-sauce")
		wantNames(t, who+"'s GPU search", c.search(t, who, api.CatalogQuery{GPU: ptr(true)}), "bob/sauce-maker")
		page, err := c.client(who).CatalogAlgorithm(ctx, "bob", "secret-sauce")
		if err != nil || page.Visibility != api.Private || len(page.Versions) != 1 {
			t.Errorf("%s reads bob/secret-sauce: %+v, %v", who, page, err)
		}
		page, err = c.client(who).CatalogAlgorithm(ctx, "bob", "sauce-maker")
		if err != nil || page.LatestVersion != "1.1.0" || !page.GPU || len(page.Versions) != 2 || page.Versions[0].ReleaseNotes != "GPU sauce" {
			t.Errorf("%s reads bob/sauce-maker: %+v, %v", who, page, err)
		}
	}
	// Alice reads sauce-maker without its private version.
	page, err := c.client("alice").CatalogAlgorithm(ctx, "bob", "sauce-maker")
	if err != nil || page.LatestVersion != "1.0.0" || page.GPU || len(page.Versions) != 1 || page.Versions[0].Version != "1.0.0" {
		t.Errorf("alice reads bob/sauce-maker: %+v, %v", page, err)
	}

	// A private algorithm's page answers as an unknown one's, byte for byte: compare with the
	// same names once they are gone.
	type reply struct {
		status int
		body   string
	}
	hidden := map[string]reply{}
	for _, name := range []string{"secret-sauce", "sauce-draft"} {
		st, b := c.get(t, "alice", "/v1/catalog/bob/"+name)
		hidden[name] = reply{st, string(b)}
		if err := c.client("bob").DeleteAlgorithm(ctx, "bob", name); err != nil {
			t.Fatal(err)
		}
	}
	for name, h := range hidden {
		st, b := c.get(t, "alice", "/v1/catalog/bob/"+name)
		if h.status != http.StatusNotFound || h.status != st || h.body != string(b) {
			t.Errorf("bob/%s: private %d %s; unknown %d %s: want the same 404", name, h.status, h.body, st, b)
		}
		var env api.ErrorEnvelope
		if err := json.Unmarshal(b, &env); err != nil || env.Error.ErrorType != api.ErrTypeNotFound {
			t.Errorf("bob/%s: %s, want the NotFoundError envelope", name, b)
		}
	}
}

func TestUpdatesAreReflected(t *testing.T) {
	t.Parallel()
	c := startCP(t)
	ctx := t.Context()
	alice := c.client("alice")
	c.create(t, algo{owner: "alice", name: "resizer", details: &api.AlgorithmDetails{Summary: "resizes pictures", Tags: []string{"images"}}, versions: []string{api.Public}})
	wantNames(t, "after create", c.search(t, "bob", api.CatalogQuery{Q: "pictures"}), "alice/resizer")

	// New details: found by the new words, no longer by the old.
	if _, err := alice.UpdateAlgorithm(ctx, "alice", "resizer", api.CreateAlgorithm{Name: "resizer",
		Details: &api.AlgorithmDetails{Summary: "resizes photographs", Tags: []string{"photos"}, README: "# Resizer\n\nKeeps the aspect ratio."}}); err != nil {
		t.Fatal(err)
	}
	wantNames(t, "old words", c.search(t, "bob", api.CatalogQuery{Q: "pictures"}))
	wantNames(t, "old tag", c.search(t, "bob", api.CatalogQuery{Tags: []string{"images"}}))
	wantNames(t, "new words", c.search(t, "bob", api.CatalogQuery{Q: "aspect photographs"}), "alice/resizer")
	wantNames(t, "new tag", c.search(t, "bob", api.CatalogQuery{Tags: []string{"photos"}}), "alice/resizer")

	// An update without details keeps them; new settings (a GPU) show at once.
	a, err := alice.UpdateAlgorithm(ctx, "alice", "resizer", api.CreateAlgorithm{Name: "resizer", Settings: api.Manifest{Resources: api.Resources{GPUs: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if a.Details.Summary != "resizes photographs" {
		t.Errorf("details after an update without them: %+v", a.Details)
	}
	wantNames(t, "gpu after the settings change", c.search(t, "bob", api.CatalogQuery{Q: "photographs", GPU: ptr(true)}), "alice/resizer")
	wantNames(t, "no gpu after the settings change", c.search(t, "bob", api.CatalogQuery{GPU: ptr(false)}))

	// A new version is the latest at once, with its release notes.
	art, _, err := api.PackSource(source(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.PublishVersion(ctx, "alice", "resizer", bytes.NewReader(art), api.PublishOptions{Bump: api.BumpMajor, ReleaseNotes: "faster"}); err != nil {
		t.Fatal(err)
	}
	page, err := c.client("bob").CatalogAlgorithm(ctx, "alice", "resizer")
	if err != nil {
		t.Fatal(err)
	}
	if page.LatestVersion != "2.0.0" || len(page.Versions) != 2 || page.Versions[0].Version != "2.0.0" || page.Versions[0].ReleaseNotes != "faster" ||
		page.README != "# Resizer\n\nKeeps the aspect ratio." || page.Summary != "resizes photographs" {
		t.Errorf("page after publish: %+v", page)
	}

	// Deleted: gone from results and its page is 404.
	if err := alice.DeleteAlgorithm(ctx, "alice", "resizer"); err != nil {
		t.Fatal(err)
	}
	wantNames(t, "after delete", c.search(t, "bob", api.CatalogQuery{Q: "photographs"}))
	if _, err := c.client("alice").CatalogAlgorithm(ctx, "alice", "resizer"); statusOf(err) != http.StatusNotFound {
		t.Errorf("page after delete: %v, want 404", err)
	}
	// A write that bypasses the registry (another process or replica on the same database) is
	// found too: the catalog follows the store's change feed.
	if err := c.srv.Store.CreateAlgorithm(ctx, store.Algorithm{ID: "alice/elsewhere", Owner: "alice", Name: "elsewhere", CreatedAt: time.Now(), UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	wantNames(t, "written by the store directly", c.search(t, "alice", api.CatalogQuery{Q: "elsewhere"}), "alice/elsewhere")
}

func statusOf(err error) int {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae.Status
	}
	if err == nil {
		return 200
	}
	return -1
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	c := startCP(t)
	for _, path := range []string{
		"/v1/catalog?limit=0",
		"/v1/catalog?limit=101",
		"/v1/catalog?limit=-1",
		"/v1/catalog?limit=ten",
		"/v1/catalog?gpu=maybe",
		"/v1/catalog?gpu=",
		"/v1/catalog?marker=not-a-marker",
		"/v1/catalog?marker=AAAAAAAAAAAA",
		"/v1/catalog?q=" + strings.Repeat("x", 600),
	} {
		st, b := c.get(t, "alice", path)
		var env api.ErrorEnvelope
		if path == "/v1/catalog?gpu=" {
			if st != http.StatusOK { // an empty filter is no filter
				t.Errorf("%s: %d %s, want 200", path, st, b)
			}
			continue
		}
		if err := json.Unmarshal(b, &env); st != http.StatusBadRequest || err != nil || env.Error.ErrorType != api.ErrTypeInput || env.Error.Message == "" {
			t.Errorf("%.60s: %d %s, want 400 with the InputError envelope", path, st, b)
		}
	}
	if st, _ := c.get(t, "nobody", "/v1/catalog"); st != http.StatusUnauthorized {
		t.Errorf("search without a key: %d, want 401", st)
	}
	// Details are checked where they are written.
	for what, d := range map[string]api.AlgorithmDetails{
		"a bad tag":      {Tags: []string{"no spaces"}},
		"too many tags":  {Tags: strings.Split("a b c d e f g h i j k l m n o p q r s t u", " ")},
		"a long summary": {Summary: strings.Repeat("s", api.MaxSummaryChars+1)},
		"a large README": {README: strings.Repeat("r", api.MaxREADMEBytes+1)},
		"a long license": {License: strings.Repeat("l", api.MaxLicenseChars+1)},
	} {
		_, err := c.client("alice").CreateAlgorithm(t.Context(), "alice", api.CreateAlgorithm{Name: "bad", Details: &d})
		if statusOf(err) != http.StatusBadRequest {
			t.Errorf("create with %s: %v, want 400", what, err)
		}
	}
	if _, err := c.client("alice").GetAlgorithm(t.Context(), "alice", "bad"); statusOf(err) != http.StatusNotFound {
		t.Errorf("an algorithm refused for its details exists: %v", err)
	}
}
