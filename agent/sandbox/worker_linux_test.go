package sandbox_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/algos-dev/algos/agent/sandbox"
	"github.com/algos-dev/algos/agent/worker"
)

// TestWorkerPool runs the worker package's test worker (Python, over the FIFO protocol)
// through each driver: it loads and answers calls, does not see the shim's configuration, and
// a call that allocates past the memory limit fails with the reason in the worker's log.
func TestWorkerPool(t *testing.T) {
	t.Parallel()
	py, err := exec.LookPath("/usr/bin/python3")
	if err != nil {
		t.Skip("no /usr/bin/python3")
	}
	src, err := os.ReadFile("../worker/testdata/worker.py")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{sandbox.DriverNamespaces, sandbox.DriverBasic, sandbox.DriverNone} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sb, _, err := sandbox.New(context.Background(), sandbox.Config{}, name)
			if err != nil {
				t.Skipf("driver %s is unavailable here: %v", name, err)
			}
			base := t.TempDir()
			version := filepath.Join(base, "version")
			if err := os.Mkdir(version, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(version, "worker.py"), src, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(base, 0o755); err != nil {
				t.Fatal(err)
			}
			runDir := filepath.Join(base, "run")
			pool, err := worker.NewPool(worker.PoolConfig{RunDir: runDir, StopGrace: time.Second, ReapInterval: 50 * time.Millisecond,
				Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- pool.Run(ctx) }()
			t.Cleanup(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Run: %v", err)
				}
				if left, _ := os.ReadDir(runDir); len(left) > 0 {
					t.Errorf("run directory not empty: %v", left)
				}
			})
			spec := worker.Spec{Key: "v1", Dir: version, Argv: []string{py, "-u", "worker.py"}, Env: []string{"PATH=/usr/bin:/bin"},
				QueueSize: 4, Sandbox: sb, SandboxPolicy: sandbox.Policy{MemoryBytes: 96 << 20, PidsMax: 64}}
			call := func(req string) (*worker.Result, error) {
				cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer ccancel()
				return pool.Invoke(cctx, spec, []byte(req), worker.CallOptions{})
			}
			res, err := call(`{"content_type":"json","data":{"op":"echo","value":42}}`)
			if errors.Is(err, sandbox.ErrUnavailable) {
				t.Skipf("this host cannot enforce the policy: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(res.Response), `"result": 42`) {
				t.Fatalf("response %s", res.Response)
			}
			res, err = call(`{"content_type":"json","data":{"op":"env","name":"ALGOS_SANDBOX_INIT"}}`)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(res.Response), `"result": null`) {
				t.Errorf("the worker sees the shim's configuration: %s", res.Response)
			}
			_, err = call(`{"content_type":"json","data":{"op":"big","size":400000000}}`)
			var died *worker.DiedError
			if !errors.As(err, &died) {
				t.Fatalf("a call past the memory limit: err = %v", err)
			}
			if !strings.Contains(string(died.Log), "out of memory") || died.Signal.String() != "killed" {
				t.Errorf("the worker's end does not say it ran out of memory: %v", err)
			}
			// The next call gets a fresh worker.
			if _, err := call(`{"content_type":"json","data":{"op":"echo","value":1}}`); err != nil {
				t.Fatal(err)
			}
		})
	}
}
