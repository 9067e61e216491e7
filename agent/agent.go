// Package agent is the node agent (`algos agent`): it registers its node with the control plane
// using the pool's join token, heartbeats its state, prepares algorithm versions and runs their
// workers, and serves the calls the control plane routes to it.
package agent

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/algos-dev/algos/agent/artifact"
	"github.com/algos-dev/algos/agent/gpu"
	"github.com/algos-dev/algos/agent/sandbox"
	"github.com/algos-dev/algos/agent/worker"
	"github.com/algos-dev/algos/api"
)

// Config configures an Agent.
type Config struct {
	// Server is the control plane's base URL.
	Server string
	// JoinToken is the pool's join token (a secret: from the environment, never a flag).
	JoinToken string
	// InstanceID identifies the VM or process this agent runs on (from the cloud).
	InstanceID string
	// Listen is the address to serve the control plane's calls on (default 127.0.0.1:0).
	Listen string
	// Advertise is the base URL the control plane reaches this agent at (default: from the
	// listener's address).
	Advertise string
	// DataDir holds artifacts and worker run directories.
	DataDir string
	Logger  *slog.Logger
	// Artifact settings passed to the artifact cache (runner, SDK, toolchains).
	Python, Go, Algos string
	PythonRunner      []byte
	PythonPackage     map[string][]byte // written beside runner.py (python.Package)
	GoSDK             map[string][]byte
	// StopGrace bounds a worker's stop (SIGTERM → SIGKILL).
	StopGrace time.Duration
	// GPU is the node's GPU driver. nil: NVML (gpu.Open), which finds no GPU without the NVIDIA
	// driver or in a build without cgo.
	GPU gpu.Driver
	// GPUSampleInterval is how often the GPU memory of workers with a declared share is read.
	// Default 1s.
	GPUSampleInterval time.Duration
	// Sandbox confines workers (docs/sandbox.md): "auto" (the strongest driver this host
	// offers), "namespaces", "basic", "none" (rlimits and tree kill only), or "" (no sandbox
	// at all: workers run as the agent does).
	Sandbox string
	// SandboxConfig tunes the sandbox (shim, uid, system paths); zero: defaults.
	SandboxConfig sandbox.Config
}

// Validate checks the configuration and fills defaults.
func (c *Config) Validate() error {
	if c.Server == "" || c.JoinToken == "" || c.InstanceID == "" || c.DataDir == "" {
		return errors.New("agent: Server, JoinToken (ALGOS_JOIN_TOKEN), InstanceID and DataDir are required")
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:0"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Agent is one node's agent.
type Agent struct {
	cfg         Config
	log         *slog.Logger
	invokeToken string
	pool        *worker.Pool
	cache       *artifact.Cache
	join        *api.Client
	gpuDriver   gpu.Driver
	gpuClose    func()
	gpuUnits    int // what the allocator grants; 0 on a node without GPUs
	gpus        *GPUWorkers
	sb          sandbox.Sandbox // nil: none
	sbInfo      *api.SandboxInfo
	socket      string // the Unix socket workers reach the agent's API at

	mu       sync.Mutex
	nodeID   string
	node     *api.Client // authenticated with the node credential
	interval time.Duration
	versions map[string]api.NodeVersion
	local    string // the agent's base URL as its workers reach it

	proxyTransport http.RoundTripper // workers' API requests to the control plane

	warmMu    sync.Mutex
	warmSpecs map[string]worker.Spec // by Key: versions with a floor, to lift it when dropped
	preparing map[string]bool        // version IDs whose warm order is being prepared
}

// New returns an agent.
func New(cfg Config) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	a := &Agent{cfg: cfg, log: cfg.Logger.With("component", "agent"), invokeToken: hex.EncodeToString(b),
		join: api.NewClient(cfg.Server, cfg.JoinToken, api.WithBearer()), versions: map[string]api.NodeVersion{}, interval: 2 * time.Second,
		warmSpecs: map[string]worker.Spec{}, preparing: map[string]bool{},
		proxyTransport: &http.Transport{Proxy: nil, DialContext: (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second, ResponseHeaderTimeout: 0}}
	var err error
	a.pool, err = worker.NewPool(worker.PoolConfig{Logger: cfg.Logger.With("component", "worker"), RunDir: filepath.Join(cfg.DataDir, "run"), StopGrace: cfg.StopGrace})
	if err != nil {
		return nil, err
	}
	if err := a.openGPUs(); err != nil {
		return nil, err
	}
	if err := a.openSandbox(); err != nil {
		return nil, err
	}
	a.cache, err = artifact.New(artifact.Config{
		Dir: filepath.Join(cfg.DataDir, "artifacts"), Fetch: a.fetch, Logger: cfg.Logger,
		Python: cfg.Python, Go: cfg.Go, Algos: cfg.Algos, PythonRunner: cfg.PythonRunner, PythonPackage: cfg.PythonPackage, GoSDK: cfg.GoSDK,
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// Run serves until ctx ends, then stops every worker and returns.
func (a *Agent) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.cfg.Listen, err)
	}
	adv := a.cfg.Advertise
	if adv == "" {
		adv = "http://" + ln.Addr().String()
	}
	a.mu.Lock()
	a.local = localURL(ln.Addr())
	a.mu.Unlock()
	sock, err := a.listenSocket()
	if err != nil {
		ln.Close()
		return err
	}
	sockSrv := &http.Server{Handler: a.socketHandler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
	srv := &http.Server{Handler: a.handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
	var wg sync.WaitGroup
	poolCtx, stopPool := context.WithCancel(context.WithoutCancel(ctx))
	wg.Add(4)
	go func() { defer wg.Done(); _ = a.pool.Run(poolCtx) }()
	go func() { defer wg.Done(); _ = a.gpus.Sampler.Run(poolCtx) }()
	go func() { defer wg.Done(); _ = srv.Serve(ln) }()
	go func() { defer wg.Done(); _ = sockSrv.Serve(sock) }()
	a.log.Info("agent listening", "address", adv, "instance_id", a.cfg.InstanceID)

	a.loop(ctx, adv)

	shCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	_ = srv.Shutdown(shCtx)
	_ = sockSrv.Shutdown(shCtx)
	cancel()
	stopPool()
	wg.Wait()
	a.gpuClose()
	a.log.Info("agent stopped")
	return nil
}

// loop registers, then heartbeats; it registers again when the control plane forgets the node.
func (a *Agent) loop(ctx context.Context, advertise string) {
	backoff := 200 * time.Millisecond
	registered := false
	for ctx.Err() == nil {
		if !registered {
			if err := a.register(ctx, advertise); err != nil {
				a.log.Warn("registration failed; retrying", "err", err, "in", backoff)
				sleep(ctx, jitter(backoff))
				backoff = min(backoff*2, 10*time.Second)
				continue
			}
			registered, backoff = true, 200*time.Millisecond
		} else {
			a.mu.Lock()
			interval := a.interval
			a.mu.Unlock()
			sleep(ctx, interval)
			if ctx.Err() != nil {
				return
			}
		}
		// The first heartbeat follows registration at once: it makes the node ready.
		a.mu.Lock()
		node, id := a.node, a.nodeID
		a.mu.Unlock()
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		reply, err := node.Heartbeat(hctx, id, api.Heartbeat{InvokeToken: a.invokeToken, Workers: a.stats(), Capacity: a.gpuCapacity()})
		cancel()
		if err == nil {
			a.warm(ctx, reply.Warm)
		}
		var ae *api.Error
		if errors.As(err, &ae) && (ae.Status == http.StatusUnauthorized || ae.Status == http.StatusNotFound) {
			a.log.Warn("control plane does not know this node any more; registering again", "node_id", id)
			registered = false
		} else if err != nil && ctx.Err() == nil {
			a.log.Warn("heartbeat failed", "err", err)
		}
	}
}

func (a *Agent) register(ctx context.Context, advertise string) error {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	host, _ := os.Hostname()
	reg, err := a.join.RegisterNode(rctx, api.RegisterNode{InstanceID: a.cfg.InstanceID, Hostname: host, Address: advertise,
		Capacity: a.capacity(), InvokeToken: a.invokeToken})
	if err != nil {
		return err
	}
	iv, err := time.ParseDuration(reg.HeartbeatInterval)
	if err != nil || iv <= 0 {
		iv = 2 * time.Second
	}
	a.mu.Lock()
	a.nodeID, a.interval = reg.NodeID, iv
	a.node = api.NewClient(a.cfg.Server, reg.Token, api.WithBearer())
	a.mu.Unlock()
	a.log.Info("registered", "node_id", reg.NodeID)
	return nil
}

func (a *Agent) stats() []api.WorkerStats {
	ks := a.pool.Stats()
	out := make([]api.WorkerStats, 0, len(ks))
	for _, k := range ks {
		id, _, _ := strings.Cut(k.Key, "#")
		out = append(out, api.WorkerStats{Version: id, Workers: k.Workers, Busy: k.Busy, Starting: k.Starting, Queued: k.Queued})
	}
	return out
}

// nodeClient returns the client authenticated as this node, and its ID.
func (a *Agent) nodeClient() (*api.Client, string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.node == nil {
		return nil, "", errors.New("the node is not registered yet")
	}
	return a.node, a.nodeID, nil
}

func (a *Agent) fetch(ctx context.Context, digest string) (io.ReadCloser, error) {
	c, id, err := a.nodeClient()
	if err != nil {
		return nil, err
	}
	return c.Artifact(ctx, id, digest)
}

// version returns what is needed to run a version, from memory after the first call. digest,
// when given, must match: a version deleted and published again under the same number is
// another version.
func (a *Agent) version(ctx context.Context, id, digest string) (api.NodeVersion, error) {
	a.mu.Lock()
	v, ok := a.versions[id]
	a.mu.Unlock()
	if ok && (digest == "" || v.Digest == digest) {
		return v, nil
	}
	c, nodeID, err := a.nodeClient()
	if err != nil {
		return v, err
	}
	if v, err = c.NodeVersion(ctx, nodeID, id); err != nil {
		return v, err
	}
	a.mu.Lock()
	a.versions[id] = v // versions are immutable
	a.mu.Unlock()
	return v, nil
}

// localURL is the base URL a worker on this host reaches the agent's listener at.
func localURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// workerEnv is what every worker's environment gets from the agent: the address algorithms
// call other algorithms and the Data API at (docs/worker-protocol.md).
func (a *Agent) workerEnv() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.local == "" {
		return nil
	}
	return []string{"ALGORITHMIA_API=" + a.local, "ALGOS_API_SOCKET=" + a.socket}
}

// openSandbox sets up the configured sandbox driver.
func (a *Agent) openSandbox() error {
	if a.cfg.Sandbox == "" {
		return nil
	}
	// Sandboxed workers run as another uid and must read their artifacts (source, runner,
	// virtualenv): what the agent creates is readable (the sandbox, not file modes, confines
	// workers); a VM's boot script runs the agent under umask 077. The agent keeps no secret
	// on disk.
	syscall.Umask(0o022)
	if a.cfg.SandboxConfig.Shim == nil {
		// The small shim binary when installed next to the agent's: tens of milliseconds less
		// per worker start than re-executing the whole algos binary.
		if self, err := os.Executable(); err == nil {
			shim := filepath.Join(filepath.Dir(self), "algos-sandbox")
			if fi, err := os.Stat(shim); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
				a.cfg.SandboxConfig.Shim = []string{shim, sandbox.InitCommand}
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var sb sandbox.Sandbox
	var info sandbox.HostInfo
	var err error
	if a.cfg.Sandbox == "auto" {
		sb, info, err = sandbox.Detect(ctx, a.cfg.SandboxConfig)
	} else {
		sb, info, err = sandbox.New(ctx, a.cfg.SandboxConfig, a.cfg.Sandbox)
	}
	if err != nil {
		return fmt.Errorf("sandbox %s: %w", a.cfg.Sandbox, err)
	}
	a.sb = sb
	a.sbInfo = &api.SandboxInfo{Driver: info.Driver, Level: info.Level, Problems: info.Problems}
	a.log.Info("workers are sandboxed", "driver", info.Driver, "level", info.Level, "problems", len(info.Problems), "shim", a.cfg.SandboxConfig.Shim)
	return nil
}

// listenSocket listens on the Unix socket the node's workers reach the agent's API at: a
// sandboxed worker has no network, but sees this socket's directory.
func (a *Agent) listenSocket() (net.Listener, error) {
	dir := filepath.Join(a.cfg.DataDir, "api")
	if len(dir) > 90 { // a socket path is at most 107 bytes: a deep data dir uses /run (or /tmp)
		h := sha256.Sum256([]byte(a.cfg.DataDir))
		name := "algos-agent-" + hex.EncodeToString(h[:6])
		dir = filepath.Join("/run", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			// A directory of our own (not a predictable name another local user could have
			// created first and put a socket of theirs in).
			if dir, err = os.MkdirTemp("", "algos-agent-"); err != nil {
				return nil, err
			}
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	_ = os.Chmod(dir, 0o755)
	path := filepath.Join(dir, "agent.sock")
	_ = os.Remove(path) // a previous agent's
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	// Workers run as another uid: any local process may connect; each request still carries
	// its call's token.
	if err := os.Chmod(path, 0o666); err != nil {
		ln.Close()
		return nil, err
	}
	a.mu.Lock()
	a.socket = path
	a.mu.Unlock()
	return ln, nil
}

// warm carries out the control plane's warm orders: each listed version keeps that many workers
// (started now when missing), and a version no longer listed loses its floor. Preparing an
// artifact may take long (a Go build): it runs in the background, one at a time per version.
func (a *Agent) warm(ctx context.Context, orders []api.WarmOrder) {
	want := map[string]bool{}
	for _, o := range orders {
		key := o.Version + "#" + o.Digest
		want[key] = true
		a.warmMu.Lock()
		spec, known := a.warmSpecs[key]
		busy := a.preparing[o.Version]
		if !known && !busy {
			a.preparing[o.Version] = true
		}
		a.warmMu.Unlock()
		if known {
			if _, err := a.pool.Warm(spec, o.Workers); err != nil {
				a.log.Warn("keeping workers warm failed", "version", o.Version, "err", err)
			}
			continue
		}
		if busy {
			continue
		}
		go func(o api.WarmOrder) {
			defer func() {
				a.warmMu.Lock()
				delete(a.preparing, o.Version)
				a.warmMu.Unlock()
			}()
			pctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
			defer cancel()
			v, err := a.version(pctx, o.Version, o.Digest)
			if err == nil {
				var spec worker.Spec
				if spec, err = a.spec(pctx, v); err == nil {
					a.warmMu.Lock()
					a.warmSpecs[spec.Key] = spec
					a.warmMu.Unlock()
					var n int
					if n, err = a.pool.Warm(spec, o.Workers); err == nil && n > 0 {
						a.log.Info("starting warm workers", "version", o.Version, "started", n, "floor", o.Workers)
					}
				}
			}
			if err != nil && ctx.Err() == nil {
				a.log.Warn("keeping workers warm failed", "version", o.Version, "err", err)
			}
		}(o)
	}
	a.warmMu.Lock()
	var drop []worker.Spec
	for key, spec := range a.warmSpecs {
		if !want[key] {
			drop = append(drop, spec)
			delete(a.warmSpecs, key)
		}
	}
	a.warmMu.Unlock()
	for _, spec := range drop {
		_, _ = a.pool.Warm(spec, 0)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(mrand.Int64N(int64(d)/2+1))
}

// capacity reports this machine's CPUs, memory and GPUs.
func (a *Agent) capacity() api.Capacity {
	c := api.Capacity{CPU: float64(runtime.NumCPU()), Sandbox: a.sbInfo}
	if a.gpuUnits > 0 {
		if inv, err := a.gpuDriver.Inventory(); err == nil {
			c.GPUDevices = inv.API()
			c.GPUs = len(c.GPUDevices)
		} else {
			a.log.Warn("reading the GPUs failed", "err", err)
		}
	}
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return c
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			c.MemoryMiB = int(math.Round(float64(kb) / 1024))
		}
	}
	return c
}

// openGPUs opens the GPU driver (Config.GPU, else NVML), reads the inventory the allocator
// grants from, and sets up the sampler. A driver that fails leaves a node without GPUs.
func (a *Agent) openGPUs() error {
	a.gpuDriver, a.gpuClose = a.cfg.GPU, func() {}
	if a.gpuDriver == nil {
		d, closeFn, err := gpu.Open()
		if err != nil {
			a.log.Warn("NVML failed; this node offers no GPU", "err", err)
			d, closeFn = gpu.None{Reason: err.Error()}, func() {}
		}
		a.gpuDriver, a.gpuClose = d, closeFn
	}
	inv, err := a.gpuDriver.Inventory()
	if err != nil {
		a.log.Warn("reading the GPUs failed; this node offers no GPU", "err", err)
		inv = gpu.Inventory{}
	}
	for _, p := range inv.Problems {
		a.log.Warn("a GPU is left out", "problem", p)
	}
	alloc := gpu.NewAllocator(inv)
	a.gpuUnits = alloc.Units()
	if none, ok := a.gpuDriver.(gpu.None); ok {
		a.log.Info("no GPU", "reason", none.Reason)
	} else {
		a.log.Info("GPUs", "devices", len(inv.Devices), "grantable", a.gpuUnits, "driver_version", inv.DriverVersion)
	}
	sampler, err := gpu.NewSampler(gpu.SamplerConfig{Driver: a.gpuDriver, Interval: a.cfg.GPUSampleInterval, Logger: a.cfg.Logger})
	if err != nil {
		return err
	}
	a.gpus = &GPUWorkers{Alloc: alloc, Sampler: sampler, Pool: a.pool, Logger: a.cfg.Logger}
	return nil
}

// gpuCapacity is the capacity a heartbeat repeats (fresh GPU used memory), nil without GPUs.
func (a *Agent) gpuCapacity() *api.Capacity {
	if a.gpuUnits == 0 {
		return nil
	}
	c := a.capacity()
	return &c
}

// GPUWorkers grants GPUs to worker processes and stops the workers that hold more GPU memory
// than they declared: the glue between gpu.Allocator, gpu.Sampler and worker.Pool that the
// agent uses for every version asking for GPUs, and that `algos gpu-check` drives on a real GPU.
type GPUWorkers struct {
	Alloc   *gpu.Allocator
	Sampler *gpu.Sampler // its Run must be running for shares to be enforced
	Pool    *worker.Pool
	Logger  *slog.Logger
}

// Acquire returns the worker.Spec.Acquire hook of workers that need r. Each worker process gets
// its own grant (CUDA_VISIBLE_DEVICES and NVIDIA_VISIBLE_DEVICES name its GPUs' UUIDs),
// released when the process has exited. When r declares GPU memory, the process tree is
// watched from its start, and a worker holding more than r.LimitMiB() is killed with a
// *gpu.OutOfMemoryError as the cause. Allocation errors (gpu.ErrNoGPU, *gpu.InsufficientError)
// fail the start.
func (g *GPUWorkers) Acquire(r gpu.Request) func(ctx context.Context, workerID string) (*worker.Lease, error) {
	log := g.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "gpu")
	return func(ctx context.Context, workerID string) (*worker.Lease, error) {
		grant, err := g.Alloc.Allocate(r)
		if err != nil {
			return nil, err
		}
		limit := r.LimitMiB()
		var mu sync.Mutex
		var stopWatch func()
		return &worker.Lease{
			Env: grant.Env(),
			Started: func(pid int) {
				log.Info("worker granted GPUs", "worker_id", workerID, "pid", pid, "gpus", grant.UUIDs, "gpu_memory_mib", limit)
				if limit <= 0 {
					return
				}
				stop := g.Sampler.Watch(pid, limit, func(used int) {
					log.Warn("worker exceeds its GPU memory; killing it", "worker_id", workerID, "pid", pid, "used_mib", used, "limit_mib", limit)
					g.Pool.Kill(workerID, &gpu.OutOfMemoryError{PID: pid, UsedMiB: used, LimitMiB: limit})
				})
				mu.Lock()
				stopWatch = stop
				mu.Unlock()
			},
			Release: func() {
				mu.Lock()
				if stopWatch != nil {
					stopWatch()
				}
				mu.Unlock()
				grant.Release()
			},
		}, nil
	}
}
