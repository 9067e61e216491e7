//go:build cgo && linux

package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"

	"github.com/algos-dev/algos/agent/gpu"
	"github.com/algos-dev/algos/agent/worker"
	"github.com/algos-dev/algos/api"
)

// gpuWorker speaks the worker protocol: it answers each call with its CUDA_VISIBLE_DEVICES and
// its pid, after sleeping when the request asks to "hold".
const gpuWorker = `echo PIPE_INIT_COMPLETE
while read -r line; do
  case "$line" in *hold*) sleep 10;; esac
  echo '--ALGOS-CALL-END--'
  printf '{"result":"%s %s","metadata":{"content_type":"text"}}\n' "$CUDA_VISIBLE_DEVICES" "$$" > "$ALGOS_PIPE_OUT"
done
`

// simulatedDGX is go-nvml's DGX H100 mock whose driver reports, on each GPU, the real
// processes whose environment names it in CUDA_VISIBLE_DEVICES, each holding FAKE_GPU_MIB.
func simulatedDGX(t *testing.T) *server.Server {
	t.Helper()
	s := dgxh100.New()
	for _, d := range s.Devices {
		d := d.(*server.Device)
		d.GetComputeRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) {
			return processesUsing(d.UUID), nvml.SUCCESS
		}
		d.GetGraphicsRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) { return nil, nvml.SUCCESS }
	}
	return s
}

func processesUsing(uuid string) []nvml.ProcessInfo {
	entries, _ := os.ReadDir("/proc")
	var out []nvml.ProcessInfo
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !bytes.Contains(env, []byte("CUDA_VISIBLE_DEVICES="+uuid+"\x00")) {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, []byte("FAKE_GPU_MIB=")); ok {
				mb, _ := strconv.Atoi(string(v))
				out = append(out, nvml.ProcessInfo{Pid: uint32(pid), UsedGpuMemory: uint64(mb) << 20})
			}
		}
	}
	return out
}

type gpuHarness struct {
	pool *worker.Pool
	gw   *GPUWorkers
	inv  gpu.Inventory
	dir  string
}

func newGPUHarness(t *testing.T, lib nvml.Interface) *gpuHarness {
	t.Helper()
	drv, closeLib, err := gpu.OpenLibrary(lib)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeLib)
	inv, err := drv.Inventory()
	if err != nil {
		t.Fatal(err)
	}
	pool, err := worker.NewPool(worker.PoolConfig{RunDir: t.TempDir(), StopGrace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sampler, err := gpu.NewSampler(gpu.SamplerConfig{Driver: drv, Interval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { pool.Run(ctx); done <- struct{}{} }()
	go func() { sampler.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "worker.sh"), []byte(gpuWorker), 0o755); err != nil {
		t.Fatal(err)
	}
	return &gpuHarness{pool: pool, gw: &GPUWorkers{Alloc: gpu.NewAllocator(inv), Sampler: sampler, Pool: pool}, inv: inv, dir: dir}
}

func (h *gpuHarness) spec(key string, r gpu.Request, fakeMiB int) worker.Spec {
	return worker.Spec{Key: key, Dir: h.dir, Argv: []string{"sh", "worker.sh"}, StartTimeout: 10 * time.Second,
		Env:     []string{"PATH=" + os.Getenv("PATH"), "FAKE_GPU_MIB=" + strconv.Itoa(fakeMiB)},
		Acquire: h.gw.Acquire(r)}
}

func (h *gpuHarness) call(t *testing.T, spec worker.Spec, data string) (*worker.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return h.pool.Invoke(ctx, spec, []byte(`{"content_type":"text","data":"`+data+`"}`), worker.CallOptions{})
}

// TestGPUWorkers runs real workers through the pool with GPUs granted by the allocator and
// their memory read by the sampler from a simulated driver: a worker within its share keeps
// serving, one over it is stopped and its call answered OutOfGpuMemoryError.
func TestGPUWorkers(t *testing.T) {
	t.Parallel()
	h := newGPUHarness(t, simulatedDGX(t))
	within := h.spec("within", gpu.Request{MemMiB: 1024}, 512)
	res, err := h.call(t, within, "first")
	if err != nil {
		t.Fatalf("call within its share: %v", err)
	}
	var out struct{ Result string }
	if err := json.Unmarshal(res.Response, &out); err != nil {
		t.Fatal(err)
	}
	uuid, _, _ := strings.Cut(out.Result, " ")
	if uuid != h.inv.Devices[0].UUID {
		t.Fatalf("worker saw CUDA_VISIBLE_DEVICES=%q; want GPU 0's UUID %s (response %s)", uuid, h.inv.Devices[0].UUID, res.Response)
	}

	over := h.spec("over", gpu.Request{MemMiB: 512}, 2048)
	_, err = h.call(t, over, "hold")
	var oom *gpu.OutOfMemoryError
	// The worker holds 2048 MiB, and so does the sleep it runs for "hold": its tree, 4096.
	if !errors.As(err, &oom) || (oom.UsedMiB != 2048 && oom.UsedMiB != 4096) || oom.LimitMiB != 512 {
		t.Fatalf("call over its share: %v; want a *gpu.OutOfMemoryError of 2048 or 4096 over 512 MiB", err)
	}
	status, body, _ := CallError(err, "o/a/1.0.0", true)
	if status != http.StatusBadGateway || body.ErrorType != "OutOfGpuMemoryError" || !strings.Contains(body.Message, "more than the 512 MiB") {
		t.Errorf("answered %d %+v; want 502 OutOfGpuMemoryError", status, body)
	}

	time.Sleep(100 * time.Millisecond) // five polls
	res2, err := h.call(t, within, "second")
	if err != nil || res2.WorkerID != res.WorkerID {
		t.Errorf("second call within its share: %v on %v; want worker %s still serving", err, res2, res.WorkerID)
	}
}

func TestGPUWorkersUnavailable(t *testing.T) {
	t.Parallel()
	h := newGPUHarness(t, simulatedDGX(t))
	none := newGPUHarness(t, &mock.Interface{InitFunc: func() nvml.Return { return nvml.ERROR_LIBRARY_NOT_FOUND }})
	for _, tc := range []struct {
		name       string
		h          *gpuHarness
		r          gpu.Request
		retryAfter string
		message    string
	}{
		{"no GPU on the node", none, gpu.Request{GPUs: 1}, "", "no GPU on this node"},
		{"more GPUs than the node has", h, gpu.Request{GPUs: 9}, "", "can never"},
	} {
		_, err := tc.h.call(t, tc.h.spec(tc.name, tc.r, 0), "x")
		status, body, ra := CallError(err, "o/a/1.0.0", false)
		if status != http.StatusServiceUnavailable || body.ErrorType != api.ErrTypeUnavailable || ra != tc.retryAfter || !strings.Contains(body.Message, tc.message) {
			t.Errorf("%s: %v answered %d %+v Retry-After %q", tc.name, err, status, body, ra)
		}
	}
	if _, err := h.call(t, h.spec("all", gpu.Request{GPUs: 8}, 0), "x"); err != nil {
		t.Fatal(err)
	}
	_, err := h.call(t, h.spec("busy", gpu.Request{GPUs: 1}, 0), "x")
	if status, body, ra := CallError(err, "o/a/1.0.0", false); status != 503 || ra == "" || !strings.Contains(body.Message, "no GPU free") {
		t.Errorf("all GPUs granted: %v answered %d %+v Retry-After %q", err, status, body, ra)
	}
}

// TestCapacityReportsGPUs: registration and heartbeats carry the GPUs, none without.
func TestCapacityReportsGPUs(t *testing.T) {
	t.Parallel()
	drv, closeLib, err := gpu.OpenLibrary(simulatedDGX(t))
	if err != nil {
		t.Fatal(err)
	}
	defer closeLib()
	for _, tc := range []struct {
		drv  gpu.Driver
		want int
	}{{drv, 8}, {gpu.None{Reason: "test"}, 0}} {
		a, err := New(Config{Server: "http://127.0.0.1:1", JoinToken: "t", InstanceID: "i", DataDir: t.TempDir(), GPU: tc.drv})
		if err != nil {
			t.Fatal(err)
		}
		c := a.capacity()
		if c.GPUs != tc.want || len(c.GPUDevices) != tc.want || (a.gpuCapacity() != nil) != (tc.want > 0) {
			t.Errorf("%T: capacity %+v, heartbeat capacity %v; want %d GPUs", tc.drv, c, a.gpuCapacity(), tc.want)
		}
		if tc.want > 0 && (c.GPUDevices[0].Model != "NVIDIA H100 80GB HBM3" || c.GPUDevices[0].MemoryMiB != 81920) {
			t.Errorf("device %+v", c.GPUDevices[0])
		}
	}
}

// TestInvokeGPUVersionWithoutGPU: a call of a version asking for a GPU on a node without one is
// answered 503 before anything is built or started.
func TestInvokeGPUVersionWithoutGPU(t *testing.T) {
	t.Parallel()
	a, err := New(Config{Server: "http://127.0.0.1:1", JoinToken: "t", InstanceID: "i", DataDir: t.TempDir(), GPU: gpu.None{Reason: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	a.versions["o/a/1.0.0"] = api.NodeVersion{ID: "o/a/1.0.0", Digest: "d", Manifest: api.Manifest{Runtime: api.RuntimeExec,
		Entrypoint: []string{"true"}, Resources: api.Resources{GPUMemMiB: 1024}}}
	srv := httptest.NewServer(a.handler())
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/invoke/o/a/1.0.0", strings.NewReader(`{"content_type":"json","data":1}`))
	req.Header.Set("Authorization", "Bearer "+a.invokeToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env api.ErrorEnvelope
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || env.Error.ErrorType != api.ErrTypeUnavailable || !strings.Contains(env.Error.Message, "no GPU on this node") {
		t.Errorf("answered %d %+v; want 503 UnavailableError, no GPU on this node", resp.StatusCode, env.Error)
	}
}
