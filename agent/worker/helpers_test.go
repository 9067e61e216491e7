package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// python is the real interpreter behind python3 (not a pyenv shim), found once per binary.
var python = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("python3", "-c", "import sys;print(sys.executable)").Output()
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
})

func needPython(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not found")
	}
	py, err := python()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	return py
}

type testPool struct {
	*Pool
	runDir string
	stop   func() // cancels Run and waits for it; idempotent
}

// newTestPool starts a pool with Run; Cleanup stops it and checks the run directory is empty.
func newTestPool(t *testing.T, cfg PoolConfig) *testPool {
	t.Helper()
	needPython(t)
	cfg.RunDir = filepath.Join(t.TempDir(), "run")
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if cfg.StopGrace == 0 {
		cfg.StopGrace = time.Second
	}
	if cfg.ReapInterval == 0 {
		cfg.ReapInterval = 50 * time.Millisecond
	}
	p, err := NewPool(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	tp := &testPool{Pool: p, runDir: cfg.RunDir}
	tp.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after its context ended")
			}
			if left, _ := os.ReadDir(cfg.RunDir); len(left) > 0 {
				t.Errorf("run directory not empty after Run: %v", left)
			}
		})
	}
	t.Cleanup(tp.stop)
	return tp
}

// testSpec runs testdata/worker.py with the given load arguments.
func testSpec(t *testing.T, loadArgs ...string) Spec {
	t.Helper()
	py := needPython(t)
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	return Spec{
		Key:          t.Name() + "#" + strings.Join(loadArgs, " "),
		Dir:          dir,
		Argv:         append([]string{py, "-u", "worker.py"}, loadArgs...),
		Env:          []string{"PATH=" + os.Getenv("PATH")},
		MaxInstances: 1,
		QueueSize:    10,
		IdleTimeout:  time.Minute,
		StartTimeout: 20 * time.Second,
	}
}

// req builds a JSON request line for worker.py.
func req(t *testing.T, data any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"content_type": "json", "data": data})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func op(name string, kv ...any) map[string]any {
	m := map[string]any{"op": name}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// result decodes the response's result into v.
func result(t *testing.T, res *Result, v any) {
	t.Helper()
	var r struct {
		Result   json.RawMessage `json:"result"`
		Metadata struct {
			ContentType string `json:"content_type"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(res.Response, &r); err != nil {
		t.Fatalf("response %.200q: %v", res.Response, err)
	}
	if err := json.Unmarshal(r.Result, v); err != nil {
		t.Fatalf("result %.200q: %v", r.Result, err)
	}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// invoke runs a call that must succeed, bounded by 20s.
func invoke(t *testing.T, p *testPool, spec Spec, data any, opts CallOptions) *Result {
	t.Helper()
	res, err := p.Invoke(ctxTimeout(t, 20*time.Second), spec, req(t, data), opts)
	if err != nil {
		t.Fatalf("Invoke(%v): %v", data, err)
	}
	return res
}

// pids asks the worker that serves the call for its pid and the pid of a child it spawned.
func pids(t *testing.T, p *testPool, spec Spec) (worker, child int, workerID string) {
	t.Helper()
	res := invoke(t, p, spec, op("pids"), CallOptions{})
	var v []int
	result(t, res, &v)
	return v[0], v[1], res.WorkerID
}

// alive reports whether pid runs (a zombie waiting for a parent that does not reap is gone).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// eventually polls cond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func statsOf(p *testPool, key string) KeyStats {
	for _, s := range p.Stats() {
		if s.Key == key {
			return s
		}
	}
	return KeyStats{Key: key}
}
