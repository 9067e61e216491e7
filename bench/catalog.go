package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/store"
	"github.com/algos-dev/algos/controlplane/store/sqlite"
)

// Catalog scale: Algorithmia's public marketplace held some thousands of algorithms.
const (
	catalogAlgorithms = 5000
	catalogVersions   = 12 // per algorithm
)

// catalogBench loads a catalog of 5,000 algorithms and 60,000 versions into the running control
// plane's database (through the store's bulk path, from this process: the control plane follows
// the store's change feed), measures catalog searches over a mix of queries through the API,
// and measures the call path again with the large catalog loaded, against the baseline measured
// before it in this run.
func catalogBench(ctx context.Context, dataDir, endpoint, key string, baseline map[string]result, direct, viaAlgos func() error, dur time.Duration) error {
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dataDir, "algos.db")})
	if err != nil {
		return fmt.Errorf("catalog: open the control plane's store: %w", err)
	}
	defer st.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Now()
	algs := catalogData(rng)
	for i := 0; i < len(algs); i += 250 { // short transactions: the control plane keeps writing
		if err := st.ImportCatalog(ctx, algs[i:min(i+250, len(algs))]); err != nil {
			return fmt.Errorf("catalog: import: %w", err)
		}
	}
	metric("catalog_import_s", time.Since(start).Seconds())

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	get := func(path string) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+path, nil)
		req.Header.Set("Authorization", "Simple "+key)
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return nil, fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return resp, nil
	}
	// The first search after the import reloads the index.
	start = time.Now()
	resp, err := get("/v1/catalog?q=model")
	if err != nil {
		return err
	}
	resp.Body.Close()
	metric("catalog_first_search_after_import_ms", ms(time.Since(start)))

	queries := catalogQueries(rng, algs)
	// Second pages: a marker from each query's first page.
	c := api.NewClient(endpoint, key)
	for _, q := range []api.CatalogQuery{{Q: catalogWords[3]}, {Tags: []string{catalogTags[1]}}, {}} {
		p, err := c.SearchCatalog(ctx, q)
		if err != nil {
			return err
		}
		if p.NextMarker != "" {
			v := url.Values{"marker": {p.NextMarker}, "q": {q.Q}, "tag": q.Tags}
			queries = append(queries, "/v1/catalog?"+v.Encode())
		}
	}
	next := make(chan string, 1)
	go func() {
		for i := 0; ctx.Err() == nil; i++ {
			select {
			case next <- queries[i%len(queries)]:
			case <-ctx.Done():
			}
		}
	}()
	search := func() error {
		resp, err := get(<-next)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	}
	if _, err := load(ctx, search, 1, time.Second); err != nil { // warm up
		return err
	}
	r1, err := load(ctx, search, 1, dur)
	if err != nil {
		return fmt.Errorf("catalog search: %w", err)
	}
	metric("catalog_search_p50_ms", ms(r1.p50))
	metric("catalog_search_p99_ms", ms(r1.p99))
	r8, err := load(ctx, search, 8, dur)
	if err != nil {
		return fmt.Errorf("catalog search c=8: %w", err)
	}
	metric("catalog_search_rps_c8", r8.rps)
	metric("catalog_search_p99_ms_c8", ms(r8.p99))

	// The call path with the large catalog loaded.
	d, err := load(ctx, direct, 1, dur)
	if err != nil {
		return err
	}
	v, err := load(ctx, viaAlgos, 1, dur)
	if err != nil {
		return err
	}
	over := v.p50 - d.p50
	base := baseline["invoke_c1"].p50 - baseline["direct_c1"].p50
	metric("invoke_overhead_p50_ms_large_catalog", ms(over))
	metric("invoke_overhead_p99_ms_large_catalog", ms(v.p99-d.p99))
	metric("invoke_overhead_p50_ratio_large_catalog", float64(over)/float64(base))
	if rss, err := residentMiB(get); err == nil {
		metric("controlplane_rss_mib_large_catalog", rss)
	}
	return nil
}

// residentMiB reads the control plane's resident memory from its /metrics.
func residentMiB(get func(string) (*http.Response, error)) (float64, error) {
	resp, err := get("/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "process_resident_memory_bytes "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f / (1 << 20), err
		}
	}
	return 0, fmt.Errorf("no process_resident_memory_bytes")
}

var (
	catalogWords = strings.Fields(`image text audio video speech language vision sentiment translation
		summarization classification detection segmentation recognition generation embedding
		clustering regression forecasting anomaly recommendation ranking search retrieval question
		answering named entity extraction parsing tokenizer transformer convolutional recurrent
		neural network model pretrained fine tuned lightweight fast accurate robust scalable
		multilingual english chinese spanish french german medical legal financial satellite
		face object pose depth optical character handwriting license plate barcode document
		invoice receipt table chart graph time series sensor signal noise denoise upscale
		super resolution style transfer colorize caption describe tag label keyword topic
		toxicity spam fraud churn demand price stock weather traffic route optimize schedule
		cluster reduce compress encode decode hash similarity duplicate match compare align`)
	catalogTags = strings.Fields(`nlp vision audio video tabular timeseries generative
		classification detection segmentation embedding search ranking recommendation forecasting
		anomaly ocr speech translation summarization sentiment medical finance geospatial
		security retail pytorch tensorflow onnx sklearn xgboost gpu cpu realtime batch
		multilingual pretrained research production`)
)

func pick(rng *rand.Rand, ws []string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = ws[rng.IntN(len(ws))]
	}
	return out
}

// catalogData makes the catalog: owners with a few dozen algorithms each, summaries, READMEs of
// a couple of KiB, tags, 12 versions each; a tenth private, a tenth with private newer versions,
// a fifth on GPUs.
func catalogData(rng *rand.Rand) []store.CatalogAlgorithm {
	now := time.Now().UTC()
	out := make([]store.CatalogAlgorithm, 0, catalogAlgorithms)
	for i := range catalogAlgorithms {
		owner := fmt.Sprintf("user%03d", i%150)
		name := fmt.Sprintf("%s-%s-%d", catalogWords[rng.IntN(len(catalogWords))], catalogWords[rng.IntN(len(catalogWords))], i)
		var readme strings.Builder
		readme.WriteString("# " + name + "\n\n")
		for p := range 4 {
			readme.WriteString(strings.Join(pick(rng, catalogWords, 40+rng.IntN(30)), " "))
			readme.WriteString(".\n\n")
			if p == 1 {
				readme.WriteString("```python\nclient.algo('" + owner + "/" + name + "').pipe(input)\n```\n\n")
			}
		}
		tags := pick(rng, catalogTags, 1+rng.IntN(4))
		gpu := rng.IntN(5) == 0
		private, newerPrivate := rng.IntN(10) == 0, rng.IntN(10) == 0
		ca := store.CatalogAlgorithm{
			Algorithm: store.Algorithm{ID: owner + "/" + name, Owner: owner, Name: name,
				Description: strings.Join(pick(rng, catalogWords, 10), " "), Settings: []byte(`{}`), CreatedAt: now, UpdatedAt: now},
			Details: store.AlgorithmDetails{Summary: strings.Join(pick(rng, catalogWords, 6+rng.IntN(5)), " "), README: readme.String(),
				Tags: tags, License: "MIT", SampleInput: []byte(`"hello"`), SampleOutput: []byte(`{"label":"greeting"}`)},
		}
		for v := range catalogVersions {
			semver := fmt.Sprintf("1.%d.0", v)
			manifest := fmt.Sprintf(`{"runtime":"python","entrypoint":["main.py"],"resources":{"gpus":%d},"price_per_call":%d}`,
				map[bool]int{true: 1}[gpu], v%3)
			ca.Versions = append(ca.Versions, store.Version{ID: owner + "/" + name + "/" + semver, Owner: owner, Name: name,
				Semver: semver, Digest: "sha256:" + strings.Repeat("0", 64), Manifest: []byte(manifest),
				ReleaseNotes: strings.Join(pick(rng, catalogWords, 8), " "),
				Public:       !private && !(newerPrivate && v >= catalogVersions-2), CreatedAt: now})
		}
		out = append(out, ca)
	}
	return out
}

// catalogQueries is the mix a catalog serves: one or two words, prefixes, filters, browsing.
func catalogQueries(rng *rand.Rand, algs []store.CatalogAlgorithm) []string {
	var out []string
	add := func(v url.Values) { out = append(out, "/v1/catalog?"+v.Encode()) }
	for range 40 {
		w := pick(rng, catalogWords, 3)
		add(url.Values{"q": {w[0]}})
		add(url.Values{"q": {w[0] + " " + w[1]}})
		add(url.Values{"q": {w[2][:min(4, len(w[2]))]}})
		add(url.Values{"q": {algs[rng.IntN(len(algs))].Algorithm.Name}})
		add(url.Values{"tag": pick(rng, catalogTags, 1)})
		add(url.Values{"q": {w[1]}, "gpu": {"true"}})
		add(url.Values{"owner": {algs[rng.IntN(len(algs))].Algorithm.Owner}, "q": {w[2]}})
	}
	for range 10 {
		add(url.Values{})
		add(url.Values{"limit": {"100"}, "q": pick(rng, catalogWords, 1)})
	}
	return out
}
