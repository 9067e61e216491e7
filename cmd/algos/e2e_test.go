//go:build linux

package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/server"
)

// TestE2E runs the kernel end to end: a real control plane, a real agent booted through the
// local cloud, and real Python, Go and exec worker processes.
func TestE2E(t *testing.T) {
	e := startEnv(t, "")
	for _, name := range []string{"toolbox", "single", "idle", "badload"} {
		e.publishDir(e.client, "demo", name, filepath.Join("testdata", "algos", name), api.PublishOptions{})
	}
	e.publishDir(e.client, "demo", "hello-python", "../../examples/algorithms/hello-python", api.PublishOptions{})
	e.publishDir(e.client, "demo", "hello-go", "../../examples/algorithms/hello-go", api.PublishOptions{})
	e.publishDir(e.client, "demo", "wordcount", "../../examples/algorithms/wordcount", api.PublishOptions{})

	t.Run("group", func(t *testing.T) {
		t.Run("HelloPython", func(t *testing.T) {
			t.Parallel()
			r := e.call("demo/hello-python/1.0.*", `"world"`)
			r.expect(t, 200, `"result":"Hello world"`, `"content_type":"text"`, `"duration":`)
			var env api.CallResponse
			if err := json.Unmarshal(r.body, &env); err != nil || env.Metadata == nil || env.Metadata.Duration <= 0 {
				t.Fatalf("envelope %s: %v", r.body, err)
			}
			// JSON in, JSON out, through the CLI's client.
			out, err := e.client.Call(context.Background(), "demo/hello-python", "application/json", []byte(`{"name":"json"}`), api.CallOptions{})
			if err != nil || string(out.Result) != `"Hello json"` {
				t.Fatalf("call: %v %s", err, out.Result)
			}
		})
		t.Run("HelloGo", func(t *testing.T) {
			t.Parallel()
			e.call("demo/hello-go", `"gopher"`).expect(t, 200, `"result":"Hello gopher"`)
			e.call("demo/hello-go", `{"name":"gopher"}`).expect(t, 200, `"result":{"greeting":"Hello gopher"}`, `"content_type":"json"`)
			r := e.do(http.MethodPost, "/v1/algo/demo/hello-go", e.srv.Key, "application/octet-stream", []byte{0xff, 0x00})
			r.expect(t, 200, `"content_type":"binary"`, `"result":"`+base64.StdEncoding.EncodeToString([]byte("Hello \xff\x00"))+`"`)
			e.call("demo/hello-go", `42`).expect(t, 400, `"error_type":"InputError"`)
		})
		t.Run("Exec", func(t *testing.T) {
			t.Parallel()
			e.do(http.MethodPost, "/v1/algo/demo/wordcount", e.srv.Key, "text/plain", []byte("one two three four")).
				expect(t, 200, `"result":4`, `"content_type":"json"`)
		})
		t.Run("TextJSONBinaryAndRaw", func(t *testing.T) {
			t.Parallel()
			e.do(http.MethodPost, "/v1/algo/demo/toolbox", e.srv.Key, "text/plain", []byte("plain text")).
				expect(t, 200, `"result":"plain text"`, `"content_type":"text"`)
			e.call("demo/toolbox", `{"op":"echo","value":[1,{"a":null}]}`).expect(t, 200, `"result":[1,{"a":null}]`, `"content_type":"json"`)
			bin := []byte{0, 1, 2, 0xfe, 0xff}
			e.do(http.MethodPost, "/v1/algo/demo/toolbox", e.srv.Key, "application/octet-stream", bin).
				expect(t, 200, `"content_type":"binary"`, base64.StdEncoding.EncodeToString(bin))
			raw := e.do(http.MethodPost, "/v1/algo/demo/toolbox?output=raw", e.srv.Key, "application/octet-stream", bin)
			raw.expect(t, 200)
			if !bytes.Equal(raw.body, bin) || raw.header.Get("Content-Type") != "application/octet-stream" {
				t.Fatalf("raw binary: %q %s", raw.body, raw.header.Get("Content-Type"))
			}
			e.do(http.MethodPost, "/v1/algo/demo/toolbox?output=raw", e.srv.Key, "text/plain", []byte("hi")).expect(t, 200)
			rj := e.call("demo/toolbox?output=raw", `{"op":"echo","value":{"k":1}}`)
			if rj.status != 200 || string(rj.body) != `{"k":1}` {
				t.Fatalf("raw json: %d %s", rj.status, rj.body)
			}
			// curl -d without a Content-Type sends a form type: JSON if it parses.
			e.do(http.MethodPost, "/v1/algo/demo/toolbox", e.srv.Key, "application/x-www-form-urlencoded", []byte(`{"op":"echo","value":7}`)).
				expect(t, 200, `"result":7`)
		})
		t.Run("LargeEcho", func(t *testing.T) {
			t.Parallel()
			big := bytes.Repeat([]byte("0123456789abcdef"), 5<<20/16) // 5 MiB
			r := e.do(http.MethodPost, "/v1/algo/demo/toolbox?output=raw", e.srv.Key, "application/octet-stream", big)
			r.expect(t, 200)
			if !bytes.Equal(r.body, big) {
				t.Fatalf("5 MiB echo came back as %d bytes", len(r.body))
			}
			s := strings.Repeat("x", 5<<20)
			r = e.do(http.MethodPost, "/v1/algo/demo/toolbox", e.srv.Key, "text/plain", []byte(s))
			r.expect(t, 200)
			var out api.CallResponse
			if err := json.Unmarshal(r.body, &out); err != nil {
				t.Fatal(err)
			}
			if got, _ := out.Text(); got != s {
				t.Fatalf("5 MiB text echo came back as %d bytes", len(got))
			}
		})
		t.Run("BadInput", func(t *testing.T) {
			t.Parallel()
			e.call("demo/toolbox", `{"op":`).expect(t, 400, `"error_type":"InputError"`, "not valid JSON")
			e.call("demo/toolbox", ``).expect(t, 400, `"error_type":"InputError"`)
			e.do(http.MethodPost, "/v1/algo/demo/toolbox", e.srv.Key, "text/plain", []byte{0xff}).expect(t, 400, "UTF-8")
			e.do(http.MethodPost, "/v1/algo/demo/toolbox", e.srv.Key, "application/octet-stream", make([]byte, 9<<20)).
				expect(t, 413, `"error_type":"EntityTooLargeError"`)
			e.call("demo/toolbox?timeout=0", `1`).expect(t, 400, "timeout")
			e.call("demo/toolbox?timeout=3001", `1`).expect(t, 400, "timeout")
			e.call("demo/toolbox?output=xml", `1`).expect(t, 400, "output")
			e.call("demo/toolbox", `{"op":"fail","why":"because"}`).expect(t, 400, `"error_type":"AlgorithmError"`, "bad input: because", `"stacktrace":"Traceback`)
		})
		t.Run("NotFound", func(t *testing.T) {
			t.Parallel()
			e.call("demo/nope", `1`).expect(t, 404, `"error_type":"NotFoundError"`)
			e.call("nobody/nope/1.0.0", `1`).expect(t, 404, `"error_type":"NotFoundError"`)
			e.call("demo/toolbox/9.9.9", `1`).expect(t, 404, "no version matching 9.9.9")
			e.call("demo/toolbox/1.x.y", `1`).expect(t, 400, `"error_type":"InputError"`)
			e.do(http.MethodGet, "/v1/nothing", e.srv.Key, "", nil).expect(t, 404, `"error_type":"NotFoundError"`)
		})
		t.Run("Auth", func(t *testing.T) {
			t.Parallel()
			e.do(http.MethodPost, "/v1/algo/demo/toolbox", "", "application/json", []byte(`1`)).expect(t, 401, `"error_type":"AuthorizationError"`)
			e.do(http.MethodPost, "/v1/algo/demo/toolbox", "simNOTAKEYNOTAKEYNOTAKEY", "application/json", []byte(`1`)).expect(t, 401, "not valid")
			ctx := context.Background()
			k, err := e.client.CreateKey(ctx, api.CreateKey{Name: "short-lived"})
			if err != nil {
				t.Fatal(err)
			}
			kc := api.NewClient(e.srv.URL, k.Secret, api.WithBearer())
			if _, err := kc.Call(ctx, "demo/toolbox", "application/json", []byte(`{"op":"echo","value":1}`), api.CallOptions{}); err != nil {
				t.Fatalf("Bearer key: %v", err)
			}
			// The new key has no manage right: it may call but not publish.
			if _, err := kc.CreateAlgorithm(ctx, "demo", api.CreateAlgorithm{Name: "x"}); err == nil || !strings.Contains(err.Error(), "403") {
				t.Fatalf("create algorithm without manage: %v", err)
			}
			if err := e.client.RevokeKey(ctx, k.ID); err != nil {
				t.Fatal(err)
			}
			e.do(http.MethodPost, "/v1/algo/demo/toolbox", k.Secret, "application/json", []byte(`1`)).expect(t, 401, "revoked")
			// A key scoped to one algorithm may call only that one.
			sk, err := e.client.CreateKey(ctx, api.CreateKey{Algorithms: []string{"algo://demo/hello-python/*"}})
			if err != nil {
				t.Fatal(err)
			}
			e.do(http.MethodPost, "/v1/algo/demo/hello-python", sk.Secret, "application/json", []byte(`"x"`)).expect(t, 200)
			e.do(http.MethodPost, "/v1/algo/demo/toolbox", sk.Secret, "application/json", []byte(`1`)).expect(t, 403)
		})
		t.Run("Async", func(t *testing.T) {
			t.Parallel()
			r := e.call("demo/toolbox?output=void", `{"op":"sleep","seconds":0.3}`)
			r.expect(t, 200, `"async":"void"`, `"request_id":"req-`)
			var ar api.AsyncReply
			_ = json.Unmarshal(r.body, &ar)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			for {
				resp, done, err := e.client.GetRequest(ctx, ar.RequestID)
				if err != nil {
					t.Fatal(err)
				}
				if done {
					if string(resp.Result) != `"slept"` {
						t.Fatalf("async result %s", resp.Result)
					}
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			e.do(http.MethodGet, "/v1/requests/req-unknown", e.srv.Key, "", nil).expect(t, 404)
		})
		t.Run("Stdout", func(t *testing.T) {
			t.Parallel()
			r := e.call("demo/toolbox?stdout=true", `{"op":"print","text":"line one"}`)
			r.expect(t, 200, `"stdout":"line one\n"`)
			if r2 := e.call("demo/toolbox", `{"op":"print","text":"x"}`); strings.Contains(string(r2.body), "stdout") {
				t.Fatalf("stdout without stdout=true: %s", r2.body)
			}
			// The workers' log, kept per worker, for the owner.
			logs, err := e.client.WorkerLogs(context.Background(), "demo", "toolbox", "1.*")
			if err != nil || !strings.Contains(logs, "line one") || !strings.Contains(logs, "==> node ") {
				t.Fatalf("worker logs: %v %q", err, logs)
			}
			other := e.account("logreader")
			if _, err := other.WorkerLogs(context.Background(), "demo", "toolbox", ""); err == nil || !strings.Contains(err.Error(), "403") {
				t.Fatalf("another account reading demo's logs: %v", err)
			}
		})
		t.Run("WarmReuseAndLoad", func(t *testing.T) {
			t.Parallel()
			e.call("demo/toolbox", `{"op":"loaded"}`).expect(t, 200, `"result":true`)
		})
		t.Run("Timeout", func(t *testing.T) {
			t.Parallel()
			e.call("demo/toolbox?timeout=1", `{"op":"sleep","seconds":30}`).expect(t, 504, `"error_type":"AlgorithmTimeoutError"`)
			e.call("demo/toolbox", `{"op":"echo","value":"after"}`).expect(t, 200, `"after"`)
		})
		t.Run("Crash", func(t *testing.T) {
			t.Parallel()
			e.call("demo/toolbox", `{"op":"crash"}`).expect(t, 502, `"error_type":"WorkerDiedError"`)
			e.call("demo/toolbox", `{"op":"echo","value":"alive"}`).expect(t, 200, `"alive"`)
		})
		t.Run("LoadFailure", func(t *testing.T) {
			t.Parallel()
			e.call("demo/badload", `1`).expect(t, 502, `"error_type":"WorkerStartError"`, "model file missing")
		})
		t.Run("QueueFull", func(t *testing.T) {
			t.Parallel()
			// max_instances 1, queue_size 1: one call runs, one waits, the rest get 429.
			var wg sync.WaitGroup
			codes := make([]int, 5)
			retry := make([]string, 5)
			for i := range codes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := e.call("demo/single", `1.5`)
					codes[i], retry[i] = r.status, r.header.Get("Retry-After")
				}()
				time.Sleep(30 * time.Millisecond)
			}
			wg.Wait()
			ok, full := 0, 0
			for i, c := range codes {
				switch c {
				case 200:
					ok++
				case 429:
					full++
					if retry[i] == "" {
						t.Error("429 without Retry-After")
					}
				default:
					t.Errorf("status %d", c)
				}
			}
			if ok < 1 || full < 1 {
				t.Fatalf("codes %v: want some 200 and some 429", codes)
			}
		})
		t.Run("ScaleToZero", func(t *testing.T) {
			t.Parallel()
			// idle_timeout 1s: the worker is stopped after a second without calls, as the
			// node's heartbeats show, and the next call starts a new one.
			workers := func() int {
				n := -1
				for _, node := range e.srv.Fleet.Nodes() {
					for _, w := range node.Workers() {
						if strings.HasPrefix(w.Version, "demo/idle/") {
							n = w.Workers
						}
					}
				}
				return n
			}
			e.call("demo/idle", `1`).expect(t, 200, `"awake"`)
			waitFor(t, 10*time.Second, "the node to report the idle worker", func() bool { return workers() >= 1 })
			waitFor(t, 20*time.Second, "the idle worker to stop", func() bool { return workers() <= 0 })
			e.call("demo/idle", `1`).expect(t, 200, `"awake"`)
		})
		t.Run("Requirements", func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for _, f := range []string{"algorithm.json", "main.py", "requirements.txt"} {
				b, err := os.ReadFile(filepath.Join("testdata", "algos", "reqs", f))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			writeWheel(t, filepath.Join(dir, "wheels"))
			e.publishDir(e.client, "demo", "reqs", dir, api.PublishOptions{})
			e.call("demo/reqs", `"shout"`).expect(t, 200, `"result":"SHOUT!"`)
		})
		t.Run("SettingsInPlace", func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			// No algorithm.json in the source: the algorithm's settings name the runtime.
			if _, err := e.client.CreateAlgorithm(ctx, "demo", api.CreateAlgorithm{Name: "settled", Settings: api.Manifest{Runtime: "python", Entrypoint: []string{"m.py"}}}); err != nil {
				t.Fatal(err)
			}
			dir := writeSource(t, map[string]string{"m.py": "import time\ndef apply(input):\n    time.sleep(input)\n    return 'ok'\n"})
			e.publishDir(e.client, "demo", "settled", dir, api.PublishOptions{})
			e.call("demo/settled", `0`).expect(t, 200, `"ok"`)
			// An operational setting changed in place applies to the existing version at once.
			if _, err := e.client.UpdateAlgorithm(ctx, "demo", "settled", api.CreateAlgorithm{Settings: api.Manifest{Runtime: "python", Entrypoint: []string{"m.py"}, Timeout: 1}}); err != nil {
				t.Fatal(err)
			}
			e.call("demo/settled", `3`).expect(t, 504, "AlgorithmTimeoutError")
			// A node pool with no ready node: the call waits for one until its deadline.
			if _, err := e.client.UpdateAlgorithm(ctx, "demo", "settled", api.CreateAlgorithm{Settings: api.Manifest{Runtime: "python", Entrypoint: []string{"m.py"}, NodePool: "gpus"}}); err != nil {
				t.Fatal(err)
			}
			e.call("demo/settled?timeout=1", `0`).expect(t, 503, "no node of pool gpus")
			if _, err := e.client.UpdateAlgorithm(ctx, "demo", "settled", api.CreateAlgorithm{Settings: api.Manifest{Scaling: api.Scaling{MinInstances: 3, MaxInstances: 2}}}); err == nil || !strings.Contains(err.Error(), "400") {
				t.Fatalf("invalid settings accepted: %v", err)
			}
			a, err := e.client.GetAlgorithm(ctx, "demo", "settled")
			if err != nil || a.LatestVersion != "1.0.0" || !strings.HasPrefix(a.LatestDigest, "sha256:") {
				t.Fatalf("algorithm: %+v %v", a, err)
			}
		})
		t.Run("InstanceTypesAndKeys", func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			its, err := e.client.InstanceTypes(ctx, api.InstanceTypeFilter{Cloud: "local"})
			if err != nil || len(its) != 1 || its[0].Name != "local" || its[0].VCPU < 1 {
				t.Fatalf("instance types: %+v %v", its, err)
			}
			if its, err := e.client.InstanceTypes(ctx, api.InstanceTypeFilter{GPUModel: "H100"}); err != nil || len(its) != 0 {
				t.Fatalf("GPU filter on a CPU-only cloud: %+v %v", its, err)
			}
			if _, err := e.client.InstanceTypes(ctx, api.InstanceTypeFilter{Cloud: "mars"}); err == nil || !strings.Contains(err.Error(), "400") {
				t.Fatalf("unknown cloud: %v", err)
			}
			k, err := e.client.CreateKey(ctx, api.CreateKey{Name: "readback", Data: "read"})
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.client.GetKey(ctx, k.ID)
			if err != nil || got.Name != "readback" || got.Data != "read" || got.Secret != "" {
				t.Fatalf("get key: %+v %v", got, err)
			}
			if _, err := e.client.CreatePool(ctx, api.CreatePool{Name: "gpu", Spec: api.PoolSpec{Cloud: "local", InstanceType: "local", GPUCount: 1, MaxSize: 1}}); err == nil || !strings.Contains(err.Error(), "400") {
				t.Fatalf("GPU pool on the local cloud: %v", err)
			}
			if _, err := e.client.CreatePool(ctx, api.CreatePool{Name: "big", Spec: api.PoolSpec{Cloud: "local", MinSize: 3, MaxSize: 1}}); err == nil || !strings.Contains(err.Error(), "400") {
				t.Fatalf("min > max: %v", err)
			}
		})
		t.Run("Versions", func(t *testing.T) {
			t.Parallel()
			testVersions(t, e)
		})
	})
}

// testVersions publishes several versions and checks resolution and visibility.
func testVersions(t *testing.T, e *env) {
	src := func(v string) string {
		return writeSource(t, map[string]string{
			"algorithm.json": `{"runtime":"python"}`,
			"main.py":        fmt.Sprintf("def apply(input):\n    return %q\n", v),
		})
	}
	for _, p := range []struct {
		o    api.PublishOptions
		want string
	}{
		{api.PublishOptions{}, "1.0.0"},
		{api.PublishOptions{Bump: "minor"}, "1.1.0"},
		{api.PublishOptions{Bump: "patch"}, "1.1.1"},
		{api.PublishOptions{Bump: "major"}, "2.0.0"},
		{api.PublishOptions{Version: "1.5.0"}, "1.5.0"},
		{api.PublishOptions{Bump: "major", Visibility: "private"}, "3.0.0"},
	} {
		v := e.publishDir(e.client, "demo", "versioned", src(p.want), p.o)
		if v.Version != p.want {
			t.Fatalf("published %s, want %s", v.Version, p.want)
		}
	}
	// An explicit version that exists is a conflict: versions are immutable.
	art, _, _ := api.PackSource(src("x"))
	if _, err := e.client.PublishVersion(context.Background(), "demo", "versioned", bytes.NewReader(art), api.PublishOptions{Version: "1.1.0"}); err == nil || !strings.Contains(err.Error(), "409") {
		t.Fatalf("republish 1.1.0: %v", err)
	}
	for spec, want := range map[string]string{
		"1.1.1": "1.1.1", "1.1.*": "1.1.1", "1.*": "1.5.0", "1.0.*": "1.0.0", "2.*": "2.0.0", "latest": "3.0.0", "": "3.0.0",
	} {
		path := "demo/versioned"
		if spec != "" {
			path += "/" + spec
		}
		e.call(path, `1`).expect(t, 200, `"result":"`+want+`"`)
	}
	if v, err := e.client.ResolveVersion(context.Background(), "demo", "versioned", "1.*"); err != nil || v.Version != "1.5.0" {
		t.Fatalf("resolve 1.*: %+v %v", v, err)
	}
	// Another account sees public versions only: the private 3.0.0 does not exist for it.
	other := e.account("other")
	for spec, want := range map[string]string{"latest": "2.0.0", "3.*": "", "3.0.0": ""} {
		out, err := other.Call(context.Background(), "demo/versioned/"+spec, "application/json", []byte(`1`), api.CallOptions{Stdout: true})
		if want == "" {
			if err == nil || !strings.Contains(err.Error(), "404") {
				t.Fatalf("other account calling private %s: %v", spec, err)
			}
			continue
		}
		if err != nil || string(out.Result) != `"`+want+`"` {
			t.Fatalf("other account %s: %v %s", spec, err, out.Result)
		}
		if out.Metadata.Stdout != nil {
			t.Fatal("stdout=true honoured for a caller who is not the owner")
		}
	}
	// Nor may it publish into demo's namespace.
	if _, err := other.CreateAlgorithm(context.Background(), "demo", api.CreateAlgorithm{Name: "intruder"}); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("other account creating in demo: %v", err)
	}
}

// writeWheel writes a minimal pure-Python wheel of a package "localdep" into dir, for an
// offline `pip install --no-index --find-links`.
func writeWheel(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "localdep-0.1.0-py3-none-any.whl"))
	if err != nil {
		t.Fatal(err)
	}
	z := zip.NewWriter(f)
	for name, body := range map[string]string{
		"localdep/__init__.py":                   "def shout(s):\n    return s.upper() + \"!\"\n",
		"localdep-0.1.0.dist-info/METADATA":      "Metadata-Version: 2.1\nName: localdep\nVersion: 0.1.0\n",
		"localdep-0.1.0.dist-info/WHEEL":         "Wheel-Version: 1.0\nGenerator: algos-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
		"localdep-0.1.0.dist-info/RECORD":        "",
		"localdep-0.1.0.dist-info/top_level.txt": "localdep\n",
	} {
		w, err := z.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte(body))
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPoolLifecycle creates, resizes and deletes a local node pool: agents start, register,
// stop and are forgotten. It has its own control plane: its nodes must not serve other tests.
func TestPoolLifecycle(t *testing.T) {
	t.Parallel()
	e := startEnv(t, "")
	ctx := context.Background()
	p, err := e.client.CreatePool(ctx, api.CreatePool{Name: "extra", Spec: api.PoolSpec{Cloud: "local", InstanceType: "local", MinSize: 0, DesiredSize: 0, MaxSize: 3}})
	if err != nil {
		t.Fatal(err)
	}
	size := func() int {
		p, err = e.client.GetPool(ctx, "extra")
		if err != nil {
			t.Fatal(err)
		}
		return p.Size
	}
	registered := func() int {
		n := 0
		for _, node := range e.srv.Fleet.Nodes() {
			if node.Pool == "extra" {
				n++
			}
		}
		return n
	}
	// 0 → 3 → 1 → 0: agents really start and register, then stop and are forgotten.
	for _, want := range []int{3, 1, 0} {
		if _, err := e.client.UpdatePool(ctx, "extra", api.PoolSpec{Cloud: "local", InstanceType: "local", DesiredSize: want, MaxSize: 3}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, fmt.Sprintf("pool extra at %d ready node(s)", want), func() bool { return size() == want && registered() == want })
		if len(p.NodeIDs) != want {
			t.Fatalf("node_ids %v, want %d", p.NodeIDs, want)
		}
	}
	evs, err := e.client.PoolEvents(ctx, "extra")
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]bool{}
	for _, ev := range evs {
		reasons[ev.Reason] = true
	}
	if !reasons["GroupCreated"] || !reasons["Resized"] {
		t.Fatalf("pool events %+v: want GroupCreated and Resized", evs)
	}
	// The local cloud has no spot capacity: the pool says so in its status and events.
	if _, err := e.client.CreatePool(ctx, api.CreatePool{Name: "spotty", Spec: api.PoolSpec{Cloud: "local", InstanceType: "local", Spot: true, DesiredSize: 1, MaxSize: 1}}); err != nil {
		t.Fatal(err)
	}
	sp, err := e.client.GetPool(ctx, "spotty")
	if err != nil || !strings.Contains(sp.Status, "no capacity") {
		t.Fatalf("spot pool status: %+v %v", sp, err)
	}
	evs, err = e.client.PoolEvents(ctx, "spotty")
	capacity := false
	for _, ev := range evs {
		capacity = capacity || ev.Reason == "CapacityUnavailable"
	}
	if err != nil || !capacity {
		t.Fatalf("spot pool events: %+v %v", evs, err)
	}
	if err := e.client.DeletePool(ctx, "spotty"); err != nil {
		t.Fatal(err)
	}
	if err := e.client.DeletePool(ctx, "extra"); err != nil {
		t.Fatal(err)
	}
	if err := e.client.DeletePool(ctx, "extra"); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := e.client.GetPool(ctx, "extra"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("deleted pool: %v", err)
	}
	for _, n := range e.srv.Fleet.Nodes() {
		if n.Pool == "extra" {
			t.Fatalf("node %s of the deleted pool is still known", n.ID)
		}
	}
}

// TestCloudInitBoot boots the local pool with the boot script that cloud VMs run (download the
// agent from the control plane, keep the join token in a root-only file, start the agent) and
// calls an algorithm through the node it registered.
func TestCloudInitBoot(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.Start(ctx, server.Config{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: testLogger(t), AgentBinary: algosBin,
		BootstrapAccount: "demo", DevPool: 1, PoolInterval: 200 * time.Millisecond,
		HeartbeatInterval: 300 * time.Millisecond, LocalBoot: "cloud-init",
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	e := &env{t: t, srv: s, client: api.NewClient(s.URL, s.Key), cancel: cancel}
	t.Cleanup(e.stop)
	e.waitReady()
	e.publishDir(e.client, "demo", "hello-python", "../../examples/algorithms/hello-python", api.PublishOptions{})
	e.call("demo/hello-python", `"cloud"`).expect(t, 200, `"Hello cloud"`)
	// The downloaded agent is this build, and the token file is private.
	matches, _ := filepath.Glob(filepath.Join(s.DataDir, "local-cloud", "instances", "*", "algos-home", "agent.env"))
	if len(matches) != 1 {
		t.Fatalf("agent.env files: %v", matches)
	}
	if fi, err := os.Stat(matches[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("agent.env mode: %v %v", fi, err)
	}
}

// TestScaleFromZero: a pool at 0 nodes, a call arrives, a node is provisioned, a worker
// starts, the call succeeds; after idle, the worker and then the node go.
func TestScaleFromZero(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.Start(ctx, server.Config{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: testLogger(t), AgentBinary: algosBin, BootstrapAccount: "demo",
		PoolInterval: 200 * time.Millisecond, HeartbeatInterval: 300 * time.Millisecond, ScaleDownAfter: time.Second,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	e := &env{t: t, srv: s, client: api.NewClient(s.URL, s.Key), cancel: cancel}
	t.Cleanup(e.stop)
	bg := context.Background()
	if _, err := e.client.CreatePool(bg, api.CreatePool{Name: "elastic", Spec: api.PoolSpec{Cloud: "local", InstanceType: "local", MinSize: 0, DesiredSize: 0, MaxSize: 2}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.CreateAlgorithm(bg, "demo", api.CreateAlgorithm{Name: "idle", Settings: api.Manifest{NodePool: "elastic"}}); err != nil {
		t.Fatal(err)
	}
	e.publishDir(e.client, "demo", "idle", filepath.Join("testdata", "algos", "idle"), api.PublishOptions{})
	if p, _ := e.client.GetPool(bg, "elastic"); p.Size != 0 {
		t.Fatalf("pool elastic starts with %d nodes", p.Size)
	}
	e.call("demo/idle?timeout=60", `1`).expect(t, 200, `"awake"`)
	if p, _ := e.client.GetPool(bg, "elastic"); p.Size != 1 || p.Spec.DesiredSize != 1 {
		t.Fatalf("after the call: %+v", p)
	}
	waitFor(t, 30*time.Second, "the idle node to be drained and removed", func() bool {
		p, err := e.client.GetPool(bg, "elastic")
		return err == nil && p.Size == 0 && p.Spec.DesiredSize == 0 && len(e.srv.Fleet.Nodes()) == 0
	})
	evs, _ := e.client.PoolEvents(bg, "elastic")
	reasons := map[string]bool{}
	for _, ev := range evs {
		reasons[ev.Reason] = true
	}
	for _, want := range []string{"ScaledUp", "Draining", "ScaledDown"} {
		if !reasons[want] {
			t.Fatalf("no %s event: %+v", want, evs)
		}
	}
	// And from zero again.
	e.call("demo/idle?timeout=60", `1`).expect(t, 200, `"awake"`)
}

// TestMetrics: /metrics answers an administrator's key with the call, cold-start, worker and
// pool metrics, and refuses other keys.
func TestMetrics(t *testing.T) {
	t.Parallel()
	e := startEnv(t, "")
	e.publishDir(e.client, "demo", "hello-python", "../../examples/algorithms/hello-python", api.PublishOptions{})
	e.call("demo/hello-python", `"m"`).expect(t, 200)
	e.call("demo/hello-python", `"m"`).expect(t, 200)
	e.call("demo/nope", `1`).expect(t, 404)
	waitFor(t, 10*time.Second, "a heartbeat reporting the worker", func() bool {
		r := e.do(http.MethodGet, "/metrics", e.srv.Key, "", nil)
		return r.status == 200 && strings.Contains(string(r.body), `algos_workers{algorithm="demo/hello-python"`)
	})
	r := e.do(http.MethodGet, "/metrics", e.srv.Key, "", nil)
	for _, want := range []string{
		`algos_calls_total{algorithm="demo/hello-python",outcome="ok",version="1.0.0"} 2`,
		`faas_coldstarts_total{algorithm="demo/hello-python",version="1.0.0"} 1`,
		`faas_init_duration_seconds_count{algorithm="demo/hello-python",version="1.0.0"} 1`,
		`algos_call_duration_seconds_bucket{algorithm="demo/hello-python"`,
		`algos_pool_nodes{kind="ready",pool="default"} 1`,
		`algos_nodes{pool="default",ready="true"} 1`,
	} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(string(r.body), e.srv.Key) {
		t.Fatal("/metrics shows a key")
	}
	k, err := e.client.CreateKey(context.Background(), api.CreateKey{Name: "not-admin"})
	if err != nil {
		t.Fatal(err)
	}
	e.do(http.MethodGet, "/metrics", k.Secret, "", nil).expect(t, 403)
	e.do(http.MethodGet, "/metrics", "", "", nil).expect(t, 401)
}
