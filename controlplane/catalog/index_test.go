package catalog

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/algos-dev/algos/controlplane/metrics"
)

func TestTokens(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text string
		want []string
	}{
		{"Image-Classifier", []string{"image", "classifier"}},
		{"ImageNet50 for the win", []string{"imagenet50", "image", "net", "50", "win"}},
		{"résumé Parser_v2", []string{"résumé", "parser", "v2", "v", "2"}},
		{"XMLHttp", []string{"xmlhttp", "xml", "http"}},
		{"", nil},
	}
	for _, tc := range tests {
		var got []string
		tokens(tc.text, func(tok string) { got = append(got, tok) })
		if !slices.Equal(got, tc.want) {
			t.Errorf("tokens(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
	ws, only := queryWords("The IMAGE image, of  classifier")
	if !slices.Equal(ws, []string{"image", "classifier"}) || only {
		t.Errorf("queryWords: %q %v", ws, only)
	}
	if ws, only := queryWords("the of"); len(ws) != 0 || !only {
		t.Errorf("queryWords of stopwords: %q %v", ws, only)
	}
	if ws, only := queryWords(" -- "); len(ws) != 0 || only {
		t.Errorf("queryWords without words: %q %v", ws, only)
	}
}

func TestScoresByField(t *testing.T) {
	t.Parallel()
	long := ""
	for range 200 {
		long += "widget "
	}
	byField := map[string]docText{
		"name":        {owner: "o", name: "widget"},
		"summary":     {owner: "o", name: "a", summary: "a widget"},
		"tags":        {owner: "o", name: "b", tags: []string{"widget"}},
		"description": {owner: "o", name: "c", description: "widget maker"},
		"readme":      {owner: "o", name: "d", readme: long},
	}
	order := []string{"name", "summary", "tags", "description", "readme"}
	for i := 1; i < len(order); i++ {
		hi, lo := termScores(byField[order[i-1]])["widget"], termScores(byField[order[i]])["widget"]
		if hi <= lo || lo <= 0 {
			t.Errorf("a match in the %s scores %v, in the %s %v: want the first higher", order[i-1], hi, order[i], lo)
		}
	}
	if s := termScores(docText{name: "image-classifier"}); s["imageclassifier"] != weightName {
		t.Errorf("the squashed name scores %v, want %v", s["imageclassifier"], weightName)
	}
}

func TestIndexPutRemoveRebuild(t *testing.T) {
	t.Parallel()
	mk := func(name, summary string) *doc {
		return &doc{key: "o/" + name, text: docText{owner: "o", name: name, summary: summary}, squashed: squash(name)}
	}
	search := func(x *index, q string) []string {
		ws, _ := queryWords(q)
		var got []string
		x.match(ws, &scratch{}, func(d *doc, _ float64) { got = append(got, d.text.name) })
		slices.Sort(got)
		return got
	}
	x := buildIndex([]*doc{mk("a", "red apple"), mk("b", "green apple")})
	x.put(mk("c", "red cherry"))
	if got := search(x, "red"); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("red: %v", got)
	}
	x.put(mk("a", "yellow banana")) // new text: a new slot
	x.remove("o/b")
	for q, want := range map[string][]string{"apple": nil, "red": {"c"}, "yel": {"a"}, "banana": {"a"}} {
		if got := search(x, q); !slices.Equal(got, want) {
			t.Errorf("%s after changes: %v, want %v", q, got, want)
		}
	}
	if x.dead != 2 || len(x.live()) != 2 {
		t.Errorf("dead %d, live %d", x.dead, len(x.live()))
	}
	same := mk("c", "red cherry")
	x.put(same) // same text: same slot, the new document
	if x.dead != 2 || x.get("o/c") != same {
		t.Errorf("an unchanged text took a new slot")
	}
	fresh := buildIndex(x.live())
	if got := search(fresh, "red"); !slices.Equal(got, []string{"c"}) || fresh.dead != 0 {
		t.Errorf("rebuilt: %v, dead %d", got, fresh.dead)
	}
	if !slices.IsSorted(x.vocab) {
		t.Errorf("vocabulary not sorted after puts")
	}
}

func TestQuantile(t *testing.T) {
	t.Parallel()
	inf := math.Inf(1)
	h := []Bucket{{0.001, 0}, {0.002, 10}, {0.004, 20}, {inf, 20}}
	if q, ok := quantile(0.5, h); !ok || math.Abs(q-0.002) > 1e-12 {
		t.Errorf("p50 %v %v, want 0.002", q, ok)
	}
	if q, _ := quantile(0.75, h); math.Abs(q-0.003) > 1e-12 {
		t.Errorf("p75 %v, want 0.003 (linear within the bucket)", q)
	}
	if _, ok := quantile(0.5, []Bucket{{1, 0}, {inf, 0}}); ok {
		t.Errorf("p50 of no calls is defined")
	}
	if q, _ := quantile(0.5, []Bucket{{1, 0}, {inf, 4}}); q != 1 {
		t.Errorf("p50 in the +Inf bucket: %v, want the highest finite bound", q)
	}
	// Histograms with different bounds merge over the union of bounds.
	m := mergeBuckets([]Bucket{{1, 2}, {inf, 4}}, []Bucket{{0.5, 1}, {2, 3}, {inf, 3}})
	want := []Bucket{{0.5, 1}, {1, 3}, {2, 5}, {inf, 7}}
	if !slices.Equal(m, want) {
		t.Errorf("merged %v, want %v", m, want)
	}
}

// TestMetricsStats reads usage from the control plane's real metrics.
func TestMetricsStats(t *testing.T) {
	t.Parallel()
	met := metrics.New(metrics.Sources{})
	for range 3 {
		met.Call("alice/sort/1.0.0", 3*time.Millisecond, "")
	}
	met.Call("alice/sort/1.0.0", 40*time.Millisecond, "AlgorithmError")
	met.Call("alice/sort/1.1.0", 700*time.Microsecond, "")
	st := NewMetricsStats(met.Handler(), time.Hour)
	u, err := st.Usage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if u["alice/sort/1.0.0"].Calls != 4 || u["alice/sort/1.1.0"].Calls != 1 || len(u) != 2 {
		t.Fatalf("usage %+v", u)
	}
	calls, p50 := usageReader(u).of("alice/sort/1.0.0")
	if calls != 4 || p50 == nil || *p50 <= 2.5 || *p50 > 5 {
		t.Errorf("1.0.0: %d calls, p50 %v ms, want 4 calls and a median within the 2.5–5 ms bucket", calls, p50)
	}
	calls, p50 = usageReader(u).of("alice/sort/1.0.0", "alice/sort/1.1.0", "alice/other/1.0.0")
	if calls != 5 || p50 == nil || *p50 <= 2.5 || *p50 > 5 {
		t.Errorf("both: %d calls, p50 %v ms", calls, p50)
	}
	if calls, p50 := usageReader(u).of("bob/x/1.0.0"); calls != 0 || p50 != nil {
		t.Errorf("no calls: %d, %v", calls, p50)
	}
	// Within the TTL the scrape is reused.
	met.Call("alice/sort/1.1.0", time.Millisecond, "")
	if u, _ := st.Usage(context.Background()); u["alice/sort/1.1.0"].Calls != 1 {
		t.Errorf("a scrape within the TTL was not reused")
	}
	fresh := NewMetricsStats(met.Handler(), time.Nanosecond)
	if u, _ := fresh.Usage(context.Background()); u["alice/sort/1.1.0"].Calls != 2 {
		t.Errorf("a new scrape missed a call: %+v", u["alice/sort/1.1.0"])
	}
}
