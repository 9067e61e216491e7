package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/algos-dev/algos/controlplane/server"
)

// TestDataCLI runs `algos data` against a control plane without nodes. Not parallel: the key
// travels in the environment.
func TestDataCLI(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.Start(ctx, server.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), BootstrapAccount: "demo"})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = s.Wait() })
	t.Setenv("ALGOS_API_KEY", s.Key)

	run := func(stdin string, args ...string) (string, error) {
		t.Helper()
		root := rootCmd()
		var out, errOut bytes.Buffer
		root.SetArgs(append([]string{"--endpoint", s.URL, "data"}, args...))
		root.SetIn(strings.NewReader(stdin))
		root.SetOut(&out)
		root.SetErr(&errOut)
		err := root.ExecuteContext(t.Context())
		return out.String(), err
	}
	must := func(stdin string, args ...string) string {
		t.Helper()
		out, err := run(stdin, args...)
		if err != nil {
			t.Fatalf("algos data %s: %v", strings.Join(args, " "), err)
		}
		return out
	}

	dir := t.TempDir()
	local := filepath.Join(dir, "hello.txt")
	if err := os.WriteFile(local, []byte("hello, data"), 0o600); err != nil {
		t.Fatal(err)
	}
	must("", "mkdir", "--acl", "public", "data://.my/docs")
	must("", "put", local, "data://.my/docs/")
	must("from stdin", "put", "-", "data://demo/docs/sub/stdin.txt")
	must("", "mkdir", "data://demo/docs/empty")
	if got := must("", "ls", "data://demo/docs"); got != "empty/\nsub/\nhello.txt\n" {
		t.Errorf("ls: %q", got)
	}
	if got := must("", "ls", "-l", "data://.my/docs/"); !strings.Contains(got, " 11  hello.txt") {
		t.Errorf("ls -l: %q", got)
	}
	if got := must("", "ls", "-l", "data://.my"); got != "docs/  public\n" {
		t.Errorf("ls collections: %q", got)
	}
	if got := must("", "get", "data://demo/docs/sub/stdin.txt", "-"); got != "from stdin" {
		t.Errorf("get -: %q", got)
	}
	out := t.TempDir()
	must("", "get", "data://demo/docs/hello.txt", out)
	if b, err := os.ReadFile(filepath.Join(out, "hello.txt")); err != nil || string(b) != "hello, data" {
		t.Errorf("get into a directory: %q, %v", b, err)
	}
	if _, err := run("", "get", "data://demo/docs/missing", filepath.Join(out, "missing")); err == nil {
		t.Error("get of a missing file succeeded")
	}
	if es, _ := os.ReadDir(out); len(es) != 1 {
		t.Errorf("a failed get left files: %v", es)
	}
	must("", "rm", "data://demo/docs/hello.txt")
	if _, err := run("", "rm", "data://demo/docs"); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("rm of a non-empty collection: %v", err)
	}
	must("", "rm", "-f", "data://demo/docs")
	if _, err := run("", "ls", "data://demo/docs"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("ls of a deleted collection: %v", err)
	}
	if _, err := run("", "ls", "demo/docs"); err == nil {
		t.Error("a URI without data:// was accepted")
	}
}
