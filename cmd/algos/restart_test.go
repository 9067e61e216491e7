//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/algos-dev/algos/api"
)

// TestRestartLosesNothing stops the control plane (and with it the local nodes) and starts it
// again on the same data directory: algorithms, versions, keys and async results survive, an
// async request still running at the stop is resumed, and a node registers again.
func TestRestartLosesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := startEnv(t, dir)
	e.publishDir(e.client, "demo", "toolbox", filepath.Join("testdata", "algos", "toolbox"), api.PublishOptions{})
	ctx := context.Background()
	k, err := e.client.CreateKey(ctx, api.CreateKey{Name: "survivor"})
	if err != nil {
		t.Fatal(err)
	}
	done := asyncID(t, e.call("demo/toolbox?output=void", `{"op":"echo","value":"kept"}`))
	waitFor(t, 20*time.Second, "the async call", func() bool {
		_, ok, err := e.client.GetRequest(ctx, done)
		return err == nil && ok
	})
	pending := asyncID(t, e.call("demo/toolbox?output=void", `{"op":"sleep","seconds":3}`))
	key := e.srv.Key
	e.stop()

	e2 := startEnv(t, dir)
	if e2.srv.Key != key {
		t.Fatal("the bootstrap key changed across a restart")
	}
	vs, err := e2.client.ListVersions(ctx, "demo", "toolbox")
	if err != nil || len(vs) != 1 || vs[0].Version != "1.0.0" {
		t.Fatalf("versions after restart: %v %+v", err, vs)
	}
	e2.do(http.MethodPost, "/v1/algo/demo/toolbox", k.Secret, "application/json", []byte(`{"op":"echo","value":"again"}`)).expect(t, 200, `"again"`)
	if r, ok, err := e2.client.GetRequest(ctx, done); err != nil || !ok || string(r.Result) != `"kept"` {
		t.Fatalf("async result after restart: %v %v %+v", err, ok, r)
	}
	var last string
	waitFor(t, 30*time.Second, "the resumed async call", func() bool {
		r, ok, err := e2.client.GetRequest(ctx, pending)
		if err == nil && ok {
			b, _ := json.Marshal(r)
			last = string(b)
			if r.Error != nil {
				t.Fatalf("the resumed async call failed: %s", last)
			}
		}
		return err == nil && ok && string(r.Result) == `"slept"`
	})
	_ = last
}

func asyncID(t *testing.T, r reply) string {
	t.Helper()
	r.expect(t, 200, `"request_id"`)
	var ar api.AsyncReply
	if err := json.Unmarshal(r.body, &ar); err != nil {
		t.Fatal(err)
	}
	return ar.RequestID
}

// TestDevStopsCleanly runs `algos dev` as a user would, calls an algorithm through it, sends
// Ctrl-C, and checks that every process it started (agents, workers) is gone.
func TestDevStopsCleanly(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(algosBin, "dev", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	cmd.Dir = "../.."
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	vars := map[string]string{}
	for len(vars) < 2 && sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "="); ok {
			vars[k] = v
		}
	}
	if vars["ALGOS_ENDPOINT"] == "" || !strings.HasPrefix(vars["ALGOS_API_KEY"], "sim") {
		t.Fatalf("algos dev printed %v", vars)
	}
	// The CLI, as the README shows it.
	cli := func(args ...string) string {
		c := exec.Command(algosBin, args...)
		c.Dir = "../.."
		c.Env = append(os.Environ(), "ALGOS_ENDPOINT="+vars["ALGOS_ENDPOINT"], "ALGOS_API_KEY="+vars["ALGOS_API_KEY"])
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("algos %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	cli("algo", "publish", "examples/algorithms/hello-python")
	var out string
	deadline := time.Now().Add(30 * time.Second)
	for {
		c := exec.Command(algosBin, "call", "demo/hello-python", `"world"`)
		c.Env = append(os.Environ(), "ALGOS_ENDPOINT="+vars["ALGOS_ENDPOINT"], "ALGOS_API_KEY="+vars["ALGOS_API_KEY"])
		b, err := c.CombinedOutput()
		if out = string(b); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if strings.TrimSpace(out) != "Hello world" {
		t.Fatalf("algos call: %q", out)
	}
	tree := descendants(cmd.Process.Pid)
	if len(tree) < 2 {
		t.Fatalf("expected an agent and a worker under algos dev, found pids %v", tree)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case err := <-waitErr:
		if err != nil {
			t.Fatalf("algos dev exited with %v after Ctrl-C", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("algos dev did not stop within 30s of Ctrl-C")
	}
	waitFor(t, 10*time.Second, "every process of algos dev to exit", func() bool {
		for _, pid := range tree {
			if alive(pid) {
				return false
			}
		}
		return true
	})
}

// descendants lists the PIDs of a process's descendants.
func descendants(root int) []int {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 {
			ppid, _ := strconv.Atoi(fields[1])
			children[ppid] = append(children[ppid], pid)
		}
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for _, c := range children[p] {
			out = append(out, c)
			walk(c)
		}
	}
	walk(root)
	return out
}

// alive reports whether a process exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] != "Z"
}
