//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/server"
	"github.com/algos-dev/algos/controlplane/store"
)

// algosBin is the algos binary the local cloud boots agents with, built once by TestMain.
var algosBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "algos-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Sandboxed workers run as another uid and re-execute this binary (the sandbox's shim):
	// it must be reachable by them, as /usr/local/bin/algos is.
	_ = os.Chmod(dir, 0o755)
	algosBin = filepath.Join(dir, "algos")
	build := exec.Command("go", "build", "-o", algosBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build algos:", err)
		os.Exit(1)
	}
	shim := exec.Command("go", "build", "-o", filepath.Join(dir, "algos-sandbox"), "../algos-sandbox")
	shim.Stdout, shim.Stderr = os.Stderr, os.Stderr
	if err := shim.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build algos-sandbox:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is a running control plane with a local node pool of one node.
type env struct {
	t      *testing.T
	srv    *server.Server
	client *api.Client
	cancel context.CancelFunc
	dir    string
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

// startEnv starts a control plane in dir (a fresh temp dir when "") and waits until its node
// is ready. It stops when the test ends.
func startEnv(t *testing.T, dir string) *env {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.Start(ctx, server.Config{
		Listen: "127.0.0.1:0", DataDir: dir, Logger: testLogger(t), AgentBinary: algosBin,
		BootstrapAccount: "demo", DevPool: 1, PoolInterval: 200 * time.Millisecond,
		HeartbeatInterval: 300 * time.Millisecond, MaxBodyBytes: 8 << 20,
	})
	if err != nil {
		cancel()
		t.Fatalf("start server: %v", err)
	}
	e := &env{t: t, srv: s, client: api.NewClient(s.URL, s.Key), cancel: cancel, dir: dir}
	t.Cleanup(e.stop)
	e.waitReady()
	return e
}

func (e *env) stop() {
	e.cancel()
	if err := e.srv.Wait(); err != nil {
		e.t.Errorf("server: %v", err)
	}
}

func (e *env) waitReady() {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(e.srv.Fleet.ReadyNodes()) == 0 {
		if time.Now().After(deadline) {
			e.t.Fatal("no node became ready in 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// publishDir publishes a source directory as owner/name.
func (e *env) publishDir(c *api.Client, owner, name, dir string, o api.PublishOptions) api.Version {
	e.t.Helper()
	ctx := context.Background()
	if _, err := c.GetAlgorithm(ctx, owner, name); err != nil {
		if _, err := c.CreateAlgorithm(ctx, owner, api.CreateAlgorithm{Name: name}); err != nil {
			e.t.Fatalf("create %s/%s: %v", owner, name, err)
		}
	}
	art, _, err := api.PackSource(dir)
	if err != nil {
		e.t.Fatal(err)
	}
	v, err := c.PublishVersion(ctx, owner, name, bytes.NewReader(art), o)
	if err != nil {
		e.t.Fatalf("publish %s/%s: %v", owner, name, err)
	}
	return v
}

// account creates another (non-admin) account and a key for it.
func (e *env) account(name string) *api.Client {
	e.t.Helper()
	ctx := context.Background()
	if err := e.srv.Store.CreateAccount(ctx, store.Account{Name: name, CreatedAt: time.Now()}); err != nil {
		e.t.Fatal(err)
	}
	k, err := e.srv.Keys.Create(ctx, name, api.CreateKey{Manage: true})
	if err != nil {
		e.t.Fatal(err)
	}
	return api.NewClient(e.srv.URL, k.Secret)
}

// writeSource writes files into a new temp directory and returns it.
func writeSource(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// reply is a raw HTTP answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// do sends a raw request to the API.
func (e *env) do(method, path, key, contentType string, body []byte) reply {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Simple "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, b}
}

// call posts JSON input with the bootstrap key.
func (e *env) call(path, input string) reply {
	return e.do(http.MethodPost, "/v1/algo/"+path, e.srv.Key, "application/json", []byte(input))
}

func (r reply) expect(t *testing.T, status int, contains ...string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, clip(r.body))
	}
	for _, c := range contains {
		if !strings.Contains(string(r.body), c) {
			t.Fatalf("body %s does not contain %q", clip(r.body), c)
		}
	}
}

func clip(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}
