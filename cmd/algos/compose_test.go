//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/server"
	"github.com/algos-dev/algos/controlplane/store"
)

// TestCallsFromAlgorithms: algorithms call algorithms and the Data API from their workers with
// the Algorithmia client and no key (the per-call token, through the node's agent): a chain of
// calls returns, a cycle and a chain past the depth limit end with clear errors, an algorithm
// marked call_other_algorithms: false cannot call, a child call keeps the caller's key scopes,
// a worker cannot read another owner's private collection, and the call graph shows the edges.
func TestCallsFromAlgorithms(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.Start(ctx, server.Config{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: testLogger(t), AgentBinary: algosBin,
		BootstrapAccount: "demo", DevPool: 1, PoolInterval: 200 * time.Millisecond,
		HeartbeatInterval: 300 * time.Millisecond, CallDepth: 4,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	e := &env{t: t, srv: s, client: api.NewClient(s.URL, s.Key), cancel: cancel}
	t.Cleanup(e.stop)
	e.waitReady()
	src := filepath.Join("testdata", "algos", "caller")
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		e.publishDir(e.client, "demo", name, src, api.PublishOptions{})
	}
	pipe := func(path ...string) string {
		b, _ := json.Marshal(map[string]any{"op": "pipe", "path": path[1:], "data": "payload"})
		return string(b)
	}

	// a → b → c: three levels, each through its agent.
	e.call("demo/a", pipe("demo/a", "demo/b", "demo/c")).expect(t, 200, `"result":"payload"`)

	// A cycle: a → b → a.
	r := e.call("demo/a", pipe("demo/a", "demo/b", "demo/a"))
	r.expect(t, 400, "closes a cycle", "demo/a/1.0.0 → demo/b/1.0.0")

	// Depth: a → b → c → d is 4 deep (the limit); → e would be 5.
	e.call("demo/a", pipe("demo/a", "demo/b", "demo/c", "demo/d")).expect(t, 200, `"payload"`)
	e.call("demo/a", pipe("demo/a", "demo/b", "demo/c", "demo/d", "demo/e")).expect(t, 400, "nest 5 deep", "the limit is 4")

	// call_other_algorithms: false.
	no := false
	if _, err := e.client.UpdateAlgorithm(context.Background(), "demo", "e", api.CreateAlgorithm{Name: "e", Settings: api.Manifest{CallOthers: &no}}); err != nil {
		t.Fatal(err)
	}
	e.call("demo/e", pipe("demo/e", "demo/a")).expect(t, 400, "may not call other algorithms")

	// A child call has the rights of the caller's key: a key that may call demo/a only cannot
	// reach demo/b through it.
	k, err := e.srv.Keys.Create(context.Background(), "demo", api.CreateKey{Name: "only-a", Algorithms: []string{"algo://demo/a/*"}})
	if err != nil {
		t.Fatal(err)
	}
	e.do(http.MethodPost, "/v1/algo/demo/a", k.Secret, "application/json", []byte(pipe("demo/a", "demo/b"))).expect(t, 400, "may not call demo/b")
	e.do(http.MethodPost, "/v1/algo/demo/a", k.Secret, "application/json", []byte(pipe("demo/a"))).expect(t, 200, `"payload"`)

	// Data: the worker writes and reads the caller's collection; another owner's private one
	// is not found.
	bg := context.Background()
	dk, err := e.srv.Keys.Create(bg, "demo", api.CreateKey{Name: "data", Data: "write"})
	if err != nil {
		t.Fatal(err)
	}
	dc := api.NewClient(e.srv.URL, dk.Secret)
	if _, err := dc.CreateCollection(bg, "demo", api.CreateCollection{Name: "work", ACL: api.ACL(store.ACLPrivate)}); err != nil {
		t.Fatal(err)
	}
	callWith := func(key, path, input string) reply {
		return e.do(http.MethodPost, "/v1/algo/"+path, key, "application/json", []byte(input))
	}
	callWith(dk.Secret, "demo/a", `{"op":"write","uri":"data://demo/work/x.txt","data":"hello data"}`).expect(t, 200, `"written"`)
	callWith(dk.Secret, "demo/a", `{"op":"read","uri":"data://demo/work/x.txt"}`).expect(t, 200, `"hello data"`)
	// The worker has the caller's data scope, no more: a read-only key cannot write through it.
	rk, err := e.srv.Keys.Create(bg, "demo", api.CreateKey{Name: "read", Data: "read"})
	if err != nil {
		t.Fatal(err)
	}
	callWith(rk.Secret, "demo/a", `{"op":"read","uri":"data://demo/work/x.txt"}`).expect(t, 200, `"hello data"`)
	callWith(rk.Secret, "demo/a", `{"op":"write","uri":"data://demo/work/x.txt","data":"overwritten"}`).expect(t, 400, "may only read data")
	alice := e.account("alice")
	ak, err := e.srv.Keys.Create(bg, "alice", api.CreateKey{Data: "write"})
	if err != nil {
		t.Fatal(err)
	}
	alice = api.NewClient(e.srv.URL, ak.Secret)
	if _, err := alice.CreateCollection(bg, "alice", api.CreateCollection{Name: "secret", ACL: api.ACL(store.ACLPrivate)}); err != nil {
		t.Fatal(err)
	}
	if err := alice.PutFile(bg, "data://alice/secret/plans.txt", "text/plain", bytes.NewReader([]byte("top secret"))); err != nil {
		t.Fatal(err)
	}
	r = callWith(dk.Secret, "demo/a", `{"op":"read","uri":"data://alice/secret/plans.txt"}`)
	r.expect(t, 400)
	if strings.Contains(string(r.body), "top secret") || !strings.Contains(strings.ToLower(string(r.body)), "not found") {
		t.Fatalf("reading another owner's private file from a worker: %s", r.body)
	}

	// data://.algo/: each algorithm's own space, whatever its caller's data scope (this key has
	// none), and no other algorithm's.
	nk, err := e.srv.Keys.Create(bg, "demo", api.CreateKey{Name: "no-data"})
	if err != nil {
		t.Fatal(err)
	}
	callWith(nk.Secret, "demo/a", `{"op":"write","uri":"data://.algo/temp/state.txt","data":"a's state"}`).expect(t, 200, `"written"`)
	callWith(nk.Secret, "demo/a", `{"op":"read","uri":"data://.algo/temp/state.txt"}`).expect(t, 200, `"a's state"`)
	callWith(nk.Secret, "demo/b", `{"op":"read","uri":"data://.algo/temp/state.txt"}`).expect(t, 400, "not")
	callWith(nk.Secret, "demo/a", `{"op":"read","uri":"data://demo/work/x.txt"}`).expect(t, 400, "no Data API access")
	e.do(http.MethodGet, "/v1/data/.algo/temp/state.txt", dk.Secret, "", nil).expect(t, 400, "only from inside its calls")

	// The call graph.
	var g api.CallGraph
	gr := e.do(http.MethodGet, "/v1/algorithms/demo/a/graph", e.srv.Key, "", nil)
	gr.expect(t, 200)
	if err := json.Unmarshal(gr.body, &g); err != nil {
		t.Fatal(err)
	}
	edges := map[string]int64{}
	for _, ed := range g.Edges {
		edges[ed.Caller+" -> "+ed.Callee] = ed.Calls
		if ed.SameNode != ed.Calls {
			t.Errorf("edge %s: %d of %d calls on the caller's node (one node)", ed.Caller+" -> "+ed.Callee, ed.SameNode, ed.Calls)
		}
	}
	if edges["demo/a/1.0.0 -> demo/b/1.0.0"] < 3 || edges["demo/b/1.0.0 -> demo/c/1.0.0"] < 2 || edges["demo/c/1.0.0 -> demo/d/1.0.0"] < 1 {
		t.Fatalf("call graph edges: %v", edges)
	}
	e.do(http.MethodGet, "/v1/algorithms/demo/a/graph", "", "", nil).expect(t, 401)
}

// TestTalkPipeline: the talk's four lines — my-algorithm reads a CSV from data://, pipes it
// through ts-remove-seasonality and ts-forecast, and returns a forecast; and an algorithm
// written for Algorithmia's ADK runs unmodified.
func TestTalkPipeline(t *testing.T) {
	t.Parallel()
	e := startEnv(t, "")
	bg := context.Background()
	for _, name := range []string{"ts-remove-seasonality", "ts-forecast", "my-algorithm", "adk-hello"} {
		e.publishDir(e.client, "demo", name, filepath.Join("..", "..", "examples", "algorithms", name), api.PublishOptions{})
	}
	if _, err := e.client.CreateCollection(bg, "demo", api.CreateCollection{Name: "ts", ACL: api.ACL(store.ACLPrivate)}); err != nil {
		t.Fatal(err)
	}
	csv, err := os.ReadFile(filepath.Join("..", "..", "examples", "algorithms", "my-algorithm", "records.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.client.PutFile(bg, "data://demo/ts/records.csv", "text/csv", bytes.NewReader(csv)); err != nil {
		t.Fatal(err)
	}
	r := e.call("demo/my-algorithm?timeout=120", `{"uri":"data://demo/ts/records.csv","owner":"demo","horizon":12}`)
	r.expect(t, 200)
	var out struct {
		Result map[string]any `json:"result"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	fc, ok := out.Result["forecast"].([]any)
	if !ok || len(fc) != 12 {
		t.Fatalf("forecast: %s", clip(r.body))
	}
	for _, v := range fc {
		if _, ok := v.(float64); !ok {
			t.Fatalf("forecast value %v is not a number: %s", v, clip(r.body))
		}
	}
	var g api.CallGraph
	gr := e.do(http.MethodGet, "/v1/algorithms/demo/my-algorithm/graph", e.srv.Key, "", nil)
	gr.expect(t, 200)
	_ = json.Unmarshal(gr.body, &g)
	if len(g.Edges) != 2 {
		t.Fatalf("pipeline graph: %s", gr.body)
	}
	e.call("demo/adk-hello", `"world"`).expect(t, 200, `"Hello world"`)
}
