//go:build linux

package main

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/server"
)

// TestSandboxedWorkers: with the local cloud's agents sandboxed (the namespaces driver), a
// hostile algorithm's worker cannot read the host's /proc/1/environ or the control plane's
// secret key, cannot write outside its directory, cannot reach the metadata service or the
// control plane over TCP — and still calls another algorithm through its agent's socket. The
// node reports its sandbox.
func TestSandboxedWorkers(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("the namespaces sandbox is tested as root (the development machine and CI run as root)")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.Start(ctx, server.Config{
		Listen: "127.0.0.1:0", DataDir: dir, Logger: testLogger(t), AgentBinary: algosBin,
		BootstrapAccount: "demo", DevPool: 1, PoolInterval: 200 * time.Millisecond,
		HeartbeatInterval: 300 * time.Millisecond, Sandbox: "namespaces",
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	e := &env{t: t, srv: s, client: api.NewClient(s.URL, s.Key), cancel: cancel}
	t.Cleanup(e.stop)
	e.waitReady()
	nodes, err := e.client.ListNodes(context.Background())
	if err != nil || len(nodes) != 1 || nodes[0].Capacity.Sandbox == nil || nodes[0].Capacity.Sandbox.Level != "full" {
		t.Fatalf("node sandbox: %+v %v", nodes, err)
	}
	e.publishDir(e.client, "demo", "attacker", filepath.Join("testdata", "algos", "attacker"), api.PublishOptions{})
	e.publishDir(e.client, "demo", "hello-python", filepath.Join("..", "..", "examples", "algorithms", "hello-python"), api.PublishOptions{})
	u, _ := url.Parse(s.URL)
	in, _ := json.Marshal(map[string]any{
		"secret_path": filepath.Join(dir, "secret.key"),
		"write_path":  filepath.Join(dir, "pwned"),
		"cp_port":     mustAtoi(t, u.Port()),
		"child":       "demo/hello-python",
	})
	r := e.call("demo/attacker?timeout=60", string(in))
	r.expect(t, 200)
	var out struct {
		Result map[string]any `json:"result"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"proc1_environ", "read_secret", "write_outside", "metadata_service", "control_plane_tcp"} {
		if v, _ := out.Result[k].(string); !strings.HasPrefix(v, "denied") {
			t.Errorf("%s: %v; want denied", k, out.Result[k])
		}
	}
	if v, _ := out.Result["child_call"].(string); v != "allowed: 'Hello sandbox'" {
		t.Errorf("child call through the agent's socket: %v", out.Result["child_call"])
	}
	if uid, _ := out.Result["uid"].(float64); uid == 0 {
		t.Error("the worker runs as root")
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Error("the worker wrote outside its directory")
	}

	// A fork bomb stops at the pids limit, a memory hog is killed at its declared memory and
	// the call says why; a neighbour keeps serving meanwhile.
	bomb := writeSource(t, map[string]string{
		"algorithm.json": `{"runtime":"python","entrypoint":["main.py"],"scaling":{"max_instances":1}}`,
		"main.py": `import os, time
def apply(input):
    n = 0
    while n < 100000:
        try:
            pid = os.fork()
        except OSError:
            return n
        if pid == 0:
            time.sleep(600)
            os._exit(0)
        n += 1
    return n
`,
	})
	e.publishDir(e.client, "demo", "bomb", bomb, api.PublishOptions{})
	r = e.call("demo/bomb?timeout=120", `1`)
	r.expect(t, 200)
	var forks struct {
		Result int `json:"result"`
	}
	_ = json.Unmarshal(r.body, &forks)
	if forks.Result <= 0 || forks.Result > 2000 {
		t.Fatalf("the fork bomb forked %d times: want it stopped by the pids limit (1024)", forks.Result)
	}
	e.call("demo/hello-python", `"neighbour"`).expect(t, 200, "Hello neighbour")

	hog := writeSource(t, map[string]string{
		"algorithm.json": `{"runtime":"python","entrypoint":["main.py"],"resources":{"memory_mib":128},"scaling":{"max_instances":1}}`,
		"main.py": `def apply(input):
    blocks = []
    for _ in range(64):
        blocks.append(bytearray(32 << 20))
    return len(blocks)
`,
	})
	e.publishDir(e.client, "demo", "hog", hog, api.PublishOptions{})
	e.call("demo/hog?timeout=120", `1`).expect(t, 502, "WorkerDiedError", "out of memory")
	e.call("demo/hello-python", `"neighbour"`).expect(t, 200, "Hello neighbour")
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("not a number: %q", s)
		}
		n = n*10 + int(c-'0')
	}
	return n
}
