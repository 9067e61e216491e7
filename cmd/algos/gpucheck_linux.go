package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/algos-dev/algos/agent"
	"github.com/algos-dev/algos/agent/gpu"
	"github.com/algos-dev/algos/agent/worker"
)

// gpuCheckOptions are the flags of `algos gpu-check`.
type gpuCheckOptions struct {
	hog                   string
	shareMiB, holdMiB     int
	overMiB, overAllocMiB int
	interval, overHold    time.Duration
}

// gpuCheckCmd is `algos gpu-check` (hidden; `make gpu-check` runs it): on a machine with an
// NVIDIA GPU it prints the agent's inventory, then runs two gpuhog workers through the agent's
// own path (worker.Pool, gpu.Allocator, gpu.Sampler, agent.GPUWorkers, agent.CallError): one
// within its GPU memory share, which must keep serving, and one over it, which must be stopped
// with OutOfGpuMemoryError. Without a GPU it prints "no GPU" and exits 0.
func gpuCheckCmd() *cobra.Command {
	var o gpuCheckOptions
	cmd := &cobra.Command{
		Use:    "gpu-check",
		Hidden: true,
		Short:  "Check the agent's GPU support here: inventory, GPU grants, GPU memory shares enforced",
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGPUCheck(cmd.Context(), cmd.OutOrStdout(), logger(cmd), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.hog, "hog", "bin/gpuhog", "the gpuhog worker binary (go build ./bench/gpuhog)")
	f.IntVar(&o.shareMiB, "share-mib", 2048, "declared GPU memory of the worker that stays within its share (NVML counts its CUDA context, about 0.5 GiB, too)")
	f.IntVar(&o.holdMiB, "hold-mib", 512, "MiB that worker allocates")
	f.IntVar(&o.overMiB, "over-share-mib", 512, "declared GPU memory of the worker that exceeds its share")
	f.IntVar(&o.overAllocMiB, "over-alloc-mib", 2048, "MiB that worker allocates during its call")
	f.DurationVar(&o.overHold, "over-hold", 30*time.Second, "how long that worker holds the memory before it would answer")
	f.DurationVar(&o.interval, "interval", time.Second, "GPU memory sampling interval")
	return cmd
}

// checkWorker is what the check saw of one worker process.
type checkWorker struct {
	id, name string
	pid      int
	env      []string
}

// gpuCheck holds the agent's GPU machinery for the check, and what it saw.
type gpuCheck struct {
	out     io.Writer
	o       gpuCheckOptions
	gw      *agent.GPUWorkers
	hog     string
	env     []string
	mu      sync.Mutex
	workers map[string]*checkWorker // by worker ID
}

func runGPUCheck(ctx context.Context, out io.Writer, log *slog.Logger, o gpuCheckOptions) error {
	drv, closeDrv, err := gpu.Open()
	if err != nil {
		return fmt.Errorf("NVML: %w", err)
	}
	defer closeDrv()
	if none, ok := drv.(gpu.None); ok {
		fmt.Fprintf(out, "no GPU: %s\n", none.Reason)
		return nil
	}
	inv, err := drv.Inventory()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "NVIDIA driver %s, %d GPU(s)\n", inv.DriverVersion, len(inv.Devices))
	for _, d := range inv.Devices {
		fmt.Fprintf(out, "  GPU %d: %s  %s  %d MiB (%d MiB used)  MIG %s\n", d.Index, d.Model, d.UUID, d.MemoryMiB, d.UsedMiB, map[bool]string{true: "on", false: "off"}[d.MIG])
		for _, m := range d.MIGDevices {
			fmt.Fprintf(out, "    MIG device %d: %s  %s  %d MiB (%d MiB used)\n", m.Index, m.Profile, m.UUID, m.MemoryMiB, m.UsedMiB)
		}
	}
	for _, p := range inv.Problems {
		fmt.Fprintf(out, "  left out: %s\n", p)
	}
	if len(inv.Units()) == 0 {
		fmt.Fprintln(out, "no GPU: the driver reports no GPU a worker could be granted")
		return nil
	}
	hog, err := filepath.Abs(o.hog)
	if err == nil {
		_, err = os.Stat(hog)
	}
	if err != nil {
		return fmt.Errorf("the gpuhog worker: %w (build it with `go build -o bin/gpuhog ./bench/gpuhog`)", err)
	}
	runDir, err := os.MkdirTemp("", "algos-gpu-check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(runDir)
	pool, err := worker.NewPool(worker.PoolConfig{RunDir: runDir, Logger: log})
	if err != nil {
		return err
	}
	sampler, err := gpu.NewSampler(gpu.SamplerConfig{Driver: drv, Interval: o.interval, Logger: log})
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { pool.Run(runCtx) })
	wg.Go(func() { sampler.Run(runCtx) })
	defer func() { stop(); wg.Wait() }()

	c := &gpuCheck{out: out, o: o, hog: hog, workers: map[string]*checkWorker{},
		gw: &agent.GPUWorkers{Alloc: gpu.NewAllocator(inv), Sampler: sampler, Pool: pool, Logger: log}}
	for _, k := range []string{"PATH", "LD_LIBRARY_PATH"} {
		if v, ok := os.LookupEnv(k); ok {
			c.env = append(c.env, k+"="+v)
		}
	}
	shareOK := c.checkShare(ctx, pool, sampler)
	overOK := c.checkOver(ctx, pool, sampler)
	fmt.Fprintf(out, "RESULT within share: %s\nRESULT over share:   %s\n", pass(shareOK), pass(overOK))
	if !shareOK || !overOK {
		return errors.New("gpu-check failed")
	}
	return nil
}

func pass(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// spec is a gpuhog worker that the agent's GPUWorkers grants r; the check records its worker.
func (c *gpuCheck) spec(name string, r gpu.Request, args ...string) worker.Spec {
	acquire := c.gw.Acquire(r)
	return worker.Spec{Key: "gpu-check/" + name, Dir: filepath.Dir(c.hog), Argv: append([]string{c.hog}, args...),
		Env: c.env, IdleTimeout: 10 * time.Minute, StartTimeout: 2 * time.Minute,
		Acquire: func(ctx context.Context, id string) (*worker.Lease, error) {
			l, err := acquire(ctx, id)
			if err != nil {
				fmt.Fprintf(c.out, "[%s] worker %s: no GPU granted: %v\n", name, id, err)
				return nil, err
			}
			w := &checkWorker{id: id, name: name, env: l.Env}
			c.mu.Lock()
			c.workers[id] = w
			c.mu.Unlock()
			started := l.Started
			l.Started = func(pid int) {
				c.mu.Lock()
				w.pid = pid
				c.mu.Unlock()
				fmt.Fprintf(c.out, "[%s] worker %s: pid %d, env %s, declared %d MiB\n", name, id, pid, strings.Join(l.Env, " "), r.MemMiB)
				started(pid)
			}
			return l, nil
		}}
}

func (c *gpuCheck) call(ctx context.Context, pool *worker.Pool, spec worker.Spec, data map[string]any, timeout time.Duration) (*worker.Result, error) {
	b, _ := json.Marshal(map[string]any{"content_type": "json", "data": data})
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return pool.Invoke(cctx, spec, b, worker.CallOptions{})
}

// checkShare: a worker holding less than its share answers, and still answers after several
// samples.
func (c *gpuCheck) checkShare(ctx context.Context, pool *worker.Pool, sampler *gpu.Sampler) bool {
	name := "share"
	fmt.Fprintf(c.out, "[%s] a worker declaring %d MiB that allocates %d MiB\n", name, c.o.shareMiB, c.o.holdMiB)
	spec := c.spec(name, gpu.Request{MemMiB: c.o.shareMiB}, "-load-mib", fmt.Sprint(c.o.holdMiB))
	res, err := c.call(ctx, pool, spec, map[string]any{}, 3*time.Minute)
	if !c.report(name, "call 1", res, err) {
		return false
	}
	time.Sleep(3 * c.o.interval)
	c.printSample(name, sampler)
	res2, err := c.call(ctx, pool, spec, map[string]any{}, time.Minute)
	if !c.report(name, fmt.Sprintf("call 2 (after %v)", 3*c.o.interval), res2, err) {
		return false
	}
	if res2.WorkerID != res.WorkerID {
		fmt.Fprintf(c.out, "[%s] call 2 ran on %s, not %s: the first worker was stopped\n", name, res2.WorkerID, res.WorkerID)
		return false
	}
	return true
}

// checkOver: a worker that allocates more than its share during a call is stopped, and the call
// answered OutOfGpuMemoryError.
func (c *gpuCheck) checkOver(ctx context.Context, pool *worker.Pool, sampler *gpu.Sampler) bool {
	name := "over"
	fmt.Fprintf(c.out, "[%s] a worker declaring %d MiB whose call allocates %d MiB and holds it %v\n", name, c.o.overMiB, c.o.overAllocMiB, c.o.overHold)
	spec := c.spec(name, gpu.Request{MemMiB: c.o.overMiB})
	done := make(chan struct{})
	go func() { // what the sampler sees while the call runs
		t := time.NewTicker(c.o.interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				c.printSample(name, sampler)
			}
		}
	}()
	start := time.Now()
	res, err := c.call(ctx, pool, spec, map[string]any{"alloc_mib": c.o.overAllocMiB, "hold_s": c.o.overHold.Seconds()}, c.o.overHold+3*time.Minute)
	close(done)
	if err == nil {
		fmt.Fprintf(c.out, "[%s] the call succeeded after %v (%s): the worker was NOT stopped\n", name, time.Since(start).Round(time.Millisecond), res.Response)
		return false
	}
	status, body, _ := agent.CallError(err, spec.Key, true)
	fmt.Fprintf(c.out, "[%s] call answered after %v: HTTP %d %s: %s\n", name, time.Since(start).Round(time.Millisecond), status, body.ErrorType, body.Message)
	return body.ErrorType == agent.ErrTypeOutOfGPUMemory
}

// report prints a call's outcome and reports whether it succeeded.
func (c *gpuCheck) report(name, what string, res *worker.Result, err error) bool {
	if err != nil {
		status, body, _ := agent.CallError(err, "gpu-check/"+name, true)
		fmt.Fprintf(c.out, "[%s] %s failed: HTTP %d %s: %s\n", name, what, status, body.ErrorType, body.Message)
		return false
	}
	fmt.Fprintf(c.out, "[%s] %s on worker %s: %s (cold start %v, %v)\n", name, what, res.WorkerID, res.Response, res.ColdStart, res.Duration.Round(time.Millisecond))
	return true
}

// printSample polls the driver once and prints each GPU process with the worker it belongs to.
func (c *gpuCheck) printSample(name string, sampler *gpu.Sampler) {
	smp, err := sampler.Poll()
	if err != nil {
		fmt.Fprintf(c.out, "[%s] reading GPU processes: %v\n", name, err)
	}
	if len(smp.Processes) == 0 {
		fmt.Fprintf(c.out, "[%s] GPU processes: none reported\n", name)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range smp.Processes {
		who := "no worker"
		for _, w := range c.workers {
			if w.pid != 0 && w.pid == p.Root {
				who = fmt.Sprintf("worker %s (%s) tree: %d MiB", w.id, w.name, smp.Trees[p.Root])
			}
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p.PID))
		if err != nil {
			comm = []byte("not in this PID namespace")
		}
		fmt.Fprintf(c.out, "[%s] GPU process %d (%s) on %s: %d MiB; %s\n", name, p.PID, strings.TrimSpace(string(comm)), p.DeviceUUID, p.UsedMiB, who)
	}
}
