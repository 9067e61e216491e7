package gpu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"
)

// SamplerConfig configures a Sampler. Zero values take the defaults named on each field.
type SamplerConfig struct {
	// Driver lists the processes on the GPUs. Required.
	Driver Driver
	// Interval is the time between two polls. Default 1s.
	Interval time.Duration
	// Logger receives poll failures. Default: discard.
	Logger *slog.Logger
	// ParentOf returns a process's parent PID. Default: read from /proc/<pid>/stat.
	ParentOf func(pid int) (int, error)
}

// Sampler polls the GPU memory of every process and adds it up per watched process tree (a
// worker and its descendants), calling back when a tree holds more than its limit.
//
// The driver reports PIDs of the host's PID namespace: an agent in a container with a PID
// namespace of its own sees no process of its trees on the GPUs, and enforces nothing.
type Sampler struct {
	cfg SamplerConfig
	log *slog.Logger

	mu      sync.Mutex
	watches map[*watch]struct{}
	lastErr string
}

type watch struct {
	pid      int
	limitMiB int
	onExceed func(usedMiB int)
	fired    bool
	usedMiB  int
}

// NewSampler returns a sampler; start its Run.
func NewSampler(cfg SamplerConfig) (*Sampler, error) {
	if cfg.Driver == nil {
		return nil, errors.New("gpu: SamplerConfig.Driver is required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.ParentOf == nil {
		cfg.ParentOf = procParent
	}
	return &Sampler{cfg: cfg, log: cfg.Logger.With("component", "gpu_sampler"), watches: map[*watch]struct{}{}}, nil
}

// Watch adds the tree of pid (pid and every process whose chain of parents reaches it) to the
// polls. When a poll finds the tree holding more than limitMiB of GPU memory on all devices
// together, onExceed is called once, from Run's goroutine, with what it held; it must not
// block for long. limitMiB ≤ 0 watches without a limit (the tree's use shows in Usage). stop
// ends the watch; it is idempotent, and a call of onExceed may still be under way when it
// returns (a poll that read the tree before). Safe for concurrent use.
func (s *Sampler) Watch(pid int, limitMiB int, onExceed func(usedMiB int)) (stop func()) {
	w := &watch{pid: pid, limitMiB: limitMiB, onExceed: onExceed}
	s.mu.Lock()
	s.watches[w] = struct{}{}
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.watches, w)
		s.mu.Unlock()
	}
}

// Usage returns the GPU memory the tree of a watched pid held at the last poll (0 when the pid
// is not watched or held none).
func (s *Sampler) Usage(pid int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for w := range s.watches {
		if w.pid == pid {
			return w.usedMiB
		}
	}
	return 0
}

// Run polls every Interval until ctx ends, then returns nil. Polls are skipped while nothing is
// watched. Blocks; call once.
func (s *Sampler) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		s.mu.Lock()
		idle := len(s.watches) == 0
		s.mu.Unlock()
		if idle {
			continue
		}
		_, err := s.Poll()
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		s.mu.Lock()
		changed := msg != s.lastErr
		s.lastErr = msg
		s.mu.Unlock()
		if changed && err != nil {
			s.log.Warn("reading GPU processes failed; using what could be read", "err", err)
		}
	}
}

// Sample is what one poll saw.
type Sample struct {
	// Processes are the processes on the GPUs, each with the watched PID whose tree it is in.
	Processes []SampledProcess
	// Trees is the GPU memory of each watched tree, by the watched PID.
	Trees map[int]int
}

// SampledProcess is a process on a GPU and the watched tree it belongs to.
type SampledProcess struct {
	ProcessMemory
	// Root is the watched PID whose tree holds the process; 0 when none does.
	Root int
}

// Poll reads the processes once, updates every watch and calls the callbacks of the trees past
// their limit (once per watch). Run calls it; it is exported for one-off checks. A driver
// error is returned with what could be read and attributed. Safe concurrently.
func (s *Sampler) Poll() (Sample, error) {
	s.mu.Lock()
	roots := map[int]bool{}
	for w := range s.watches {
		roots[w.pid] = true
	}
	s.mu.Unlock()

	procs, err := s.cfg.Driver.Processes()
	sample := Sample{Trees: map[int]int{}}
	parents := map[int]int{}
	for _, p := range procs {
		root := s.rootOf(p.PID, roots, parents)
		sample.Processes = append(sample.Processes, SampledProcess{ProcessMemory: p, Root: root})
		if root != 0 && p.UsedMiB > 0 {
			sample.Trees[root] += p.UsedMiB
		}
	}

	type firing struct {
		f    func(int)
		used int
	}
	var fire []firing
	s.mu.Lock()
	for w := range s.watches {
		if !roots[w.pid] { // added during the read: next poll
			continue
		}
		w.usedMiB = sample.Trees[w.pid]
		if !w.fired && w.limitMiB > 0 && w.usedMiB > w.limitMiB {
			w.fired = true
			if w.onExceed != nil {
				fire = append(fire, firing{w.onExceed, w.usedMiB})
			}
		}
	}
	s.mu.Unlock()
	for _, f := range fire {
		f.f(f.used)
	}
	return sample, err
}

// maxDepth bounds the walk up a process's parents.
const maxDepth = 128

// rootOf returns the watched pid whose tree holds pid, or 0. parents caches lookups.
func (s *Sampler) rootOf(pid int, roots map[int]bool, parents map[int]int) int {
	for range maxDepth {
		if pid <= 1 {
			return 0
		}
		if roots[pid] {
			return pid
		}
		pp, ok := parents[pid]
		if !ok {
			var err error
			if pp, err = s.cfg.ParentOf(pid); err != nil {
				pp = 0
			}
			parents[pid] = pp
		}
		pid = pp
	}
	return 0
}

// procParent reads a process's parent PID from /proc/<pid>/stat.
func procParent(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// "pid (comm) state ppid …": comm may hold spaces and parentheses; it ends at the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("gpu: unexpected /proc/%d/stat", pid)
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 2 {
		return 0, fmt.Errorf("gpu: unexpected /proc/%d/stat", pid)
	}
	return strconv.Atoi(string(f[1]))
}
