// Package sandbox runs untrusted worker processes confined: one Sandbox interface, drivers
// chosen by what the host offers (Detect), and a re-exec shim (InitMain, registered by the
// binary as InitCommand) that applies what Go cannot apply between fork and exec.
//
// Drivers, weakest first:
//
//   - none: rlimits, resource limits through cgroups when the host has them, and the whole
//     process tree killed on cleanup (cgroup, else process group).
//   - basic: none plus no-new-privs, a seccomp deny-list, Landlock (when the kernel has it) and,
//     when the agent is root, an unprivileged uid.
//   - namespaces: basic plus user, PID, mount, network (unless allowed), IPC, UTS and cgroup
//     namespaces, a fresh /proc, a private /tmp and a read-only view that holds only the
//     policy's paths and the system's runtime directories.
//
// See docs/sandbox.md.
package sandbox

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Level orders sandboxes by strength, so a pool can require a minimum: LevelNone <
// LevelBasic < LevelFull.
type Level int

const (
	// LevelNone: rlimits and tree kill only; the worker sees the host as the agent does.
	LevelNone Level = iota
	// LevelBasic: rlimits, no-new-privs and the seccomp deny-list (Landlock and an
	// unprivileged uid where available), but the host's filesystem, PID and network
	// namespaces.
	LevelBasic
	// LevelFull: LevelBasic inside new namespaces with a read-only view of the policy's paths.
	LevelFull
)

func (l Level) String() string {
	switch l {
	case LevelNone:
		return "none"
	case LevelBasic:
		return "basic"
	case LevelFull:
		return "full"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// ParseLevel reads "none", "basic" or "full".
func ParseLevel(s string) (Level, error) {
	for _, l := range []Level{LevelNone, LevelBasic, LevelFull} {
		if strings.EqualFold(s, l.String()) {
			return l, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown sandbox level %q (want none, basic or full)", ErrInvalidPolicy, s)
}

// Driver names, for configuration and the node's status.
const (
	DriverNone       = "none"
	DriverBasic      = "basic"
	DriverNamespaces = "namespaces"
)

// Sandbox confines worker processes. Implementations are safe for concurrent use.
type Sandbox interface {
	// Name is the driver's name: DriverNone, DriverBasic or DriverNamespaces.
	Name() string
	// Level is how strongly the driver confines a worker.
	Level() Level
	// Wrap rewrites cmd, before cmd.Start, so that the program it names runs confined by p:
	// cmd then starts the shim (InitCommand), which applies p and executes the original
	// program with its arguments, environment, directory and files (stdio and ExtraFiles at
	// the same descriptors; cmd.SysProcAttr's Setpgid and Pdeathsig apply to the shim). It creates the worker's
	// cgroups and, when the agent is root, chowns p.WorkDir (and the top of p.ReadWrite) to
	// the uid the worker runs as. It does not block beyond that file-system work. On error
	// cmd is unchanged and no cgroup is left behind. After a successful Wrap, call the
	// Instance's Cleanup once the process has exited or could not be started.
	Wrap(cmd *exec.Cmd, p Policy) (*Instance, error)
}

// Require returns a *LevelError when s is weaker than min.
func Require(s Sandbox, min Level) error {
	if s.Level() < min {
		return &LevelError{Driver: s.Name(), Have: s.Level(), Want: min}
	}
	return nil
}

// Policy says what one worker may see and use. Paths are absolute; they appear at the same
// paths inside the sandbox.
type Policy struct {
	// WorkDir is the worker's own directory, writable (it holds the worker's FIFO). Required.
	WorkDir string
	// ReadOnly paths are visible and readable (the runtime, the version's directory). The
	// system's runtime directories (Config.SystemPaths) and the directory tree of the
	// program's resolved executable (its prefix when it lives in a bin directory) are added.
	ReadOnly []string
	// ReadWrite paths are visible and writable, like WorkDir.
	ReadWrite []string
	// Devices are device nodes made available read-write (/dev/nvidia0, …); /dev/null, zero,
	// full, random and urandom always are.
	Devices []string
	// Network lets the worker use the host's network. Without it the namespaces driver gives
	// the worker a network namespace with only loopback, and the basic driver denies IP
	// sockets; files (the FIFO, Unix sockets in its view) stay reachable.
	Network bool
	// MemoryBytes caps the memory of the whole process tree (cgroup); 0: no cap. The kernel's
	// OOM killer ends a tree past it, and Report.Reason says so.
	MemoryBytes int64
	// CPUShares is the tree's CPU weight relative to other workers (cgroup v1 cpu.shares,
	// 2…262144, 1024 is normal; converted to cpu.weight on cgroup v2); 0: not set.
	CPUShares int
	// CPUQuota caps the tree's CPU time, in CPUs (1.5: one and a half CPUs); 0: no cap.
	CPUQuota float64
	// PidsMax caps the number of processes and threads of the tree; 0: no cap. fork fails
	// with EAGAIN past it.
	PidsMax int
	// OpenFiles is RLIMIT_NOFILE (soft and hard). Default 4096.
	OpenFiles int
	// FileSizeBytes is RLIMIT_FSIZE: the largest file the worker may write; 0: unlimited.
	FileSizeBytes int64
	// TmpBytes is the size of the private /tmp and /dev/shm (namespaces driver). Default 64
	// MiB; the pages count against MemoryBytes.
	TmpBytes int64
	// WallClock is the longest the worker may live; past it the shim kills the tree and
	// Report.Reason is ReasonWallClock. 0: no limit.
	WallClock time.Duration
}

func (p Policy) withDefaults() Policy {
	if p.OpenFiles == 0 {
		p.OpenFiles = 4096
	}
	if p.TmpBytes == 0 {
		p.TmpBytes = 64 << 20
	}
	return p
}

// Validate reports a missing WorkDir, a relative path or a negative limit, wrapping
// ErrInvalidPolicy.
func (p Policy) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidPolicy}, a...)...)
	}
	if p.WorkDir == "" {
		return bad("WorkDir is required")
	}
	for _, list := range [][]string{{p.WorkDir}, p.ReadOnly, p.ReadWrite, p.Devices} {
		for _, path := range list {
			if !filepath.IsAbs(path) {
				return bad("path %q is not absolute", path)
			}
		}
	}
	switch {
	case p.MemoryBytes < 0, p.CPUShares < 0, p.CPUQuota < 0, p.PidsMax < 0, p.OpenFiles < 0,
		p.FileSizeBytes < 0, p.TmpBytes < 0, p.WallClock < 0:
		return bad("limits must not be negative")
	case p.CPUShares != 0 && (p.CPUShares < 2 || p.CPUShares > 262144):
		return bad("CPUShares %d is out of range 2…262144", p.CPUShares)
	}
	return nil
}

// Reason says why the sandbox ended a worker, when it did.
type Reason string

const (
	// ReasonOOM: the tree passed Policy.MemoryBytes and the kernel's OOM killer killed in it.
	ReasonOOM Reason = "oom_killed"
	// ReasonPidsLimit: fork failed at Policy.PidsMax (the worker may have died of it).
	ReasonPidsLimit Reason = "pids_limit"
	// ReasonWallClock: the worker lived past Policy.WallClock and was killed.
	ReasonWallClock Reason = "wall_clock"
	// ReasonInitFailed: the shim could not set the sandbox up; Report.InitError says why.
	ReasonInitFailed Reason = "sandbox_failed"
)

// Report is what the sandbox saw of a worker's end (Instance.Cleanup).
type Report struct {
	// Exited: the shim reported how the worker's program ended (ExitCode, Signal). False when
	// the shim itself was killed (the process group's SIGKILL, for instance).
	Exited bool
	// ExitCode is the program's exit status, or -1 when a signal ended it.
	ExitCode int
	// Signal is the signal that ended the program, 0 when it exited.
	Signal syscall.Signal
	// Reason is the most telling of what the sandbox saw, "" when nothing.
	Reason Reason
	// OOMKills counts processes the OOM killer killed in the tree.
	OOMKills int
	// PidsLimitHits counts forks that failed at Policy.PidsMax.
	PidsLimitHits int
	// InitError is the shim's error when it could not set the sandbox up.
	InitError string
	// Policy is the policy the worker ran under (after defaults).
	Policy Policy
}

// String describes the report in one line for the worker's log, "" when there is nothing to
// say.
func (r Report) String() string {
	var parts []string
	switch {
	case r.InitError != "":
		parts = append(parts, "the sandbox could not be set up: "+r.InitError)
	case r.OOMKills > 0:
		parts = append(parts, fmt.Sprintf("killed: out of memory (limit %s; %d process(es) OOM-killed)",
			bytesString(r.Policy.MemoryBytes), r.OOMKills))
	case r.Reason == ReasonWallClock:
		parts = append(parts, fmt.Sprintf("killed: ran longer than its wall-clock limit of %s", r.Policy.WallClock))
	}
	if r.PidsLimitHits > 0 {
		parts = append(parts, fmt.Sprintf("fork failed %d time(s) at the limit of %d processes", r.PidsLimitHits, r.Policy.PidsMax))
	}
	if len(parts) == 0 {
		return ""
	}
	return "sandbox: " + strings.Join(parts, "; ")
}

func bytesString(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// cleanupCtx bounds a Cleanup called without a deadline.
func cleanupCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, 10*time.Second)
}
