package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// driver is every driver: what it applies follows from its name and what the host offers.
type driver struct {
	name     string
	level    Level
	cfg      Config
	cg       *cgroupHost
	landlock int  // ABI to use, 0: none
	seccomp  bool // basic, namespaces
	root     bool // the agent is root: workers run as cfg.UID/GID
}

var _ Sandbox = (*driver)(nil)

func (d *driver) Name() string { return d.name }
func (d *driver) Level() Level { return d.level }

// Wrap implements Sandbox.
func (d *driver) Wrap(cmd *exec.Cmd, p Policy) (*Instance, error) { return d.wrap(cmd, p, false) }

// wrap is Wrap; a probe sets everything up but stops short of running the program.
func (d *driver) wrap(cmd *exec.Cmd, p Policy, probe bool) (*Instance, error) {
	p = p.withDefaults()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	switch {
	case cmd.Err != nil:
		return nil, cmd.Err
	case cmd.Process != nil:
		return nil, errors.New("sandbox: Wrap called after the command started")
	case cmd.Path == "":
		return nil, errors.New("sandbox: the command names no program")
	}
	prog := cmd.Path
	if !filepath.IsAbs(prog) {
		base := cmd.Dir
		if base == "" {
			base, _ = os.Getwd()
		}
		prog = filepath.Join(base, prog)
	}
	if st, err := os.Stat(p.WorkDir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%w: WorkDir %s is not a directory", ErrInvalidPolicy, p.WorkDir)
	}
	c := &initConfig{Stage: 1, Driver: d.name, Probe: probe, Path: prog, Args: slices.Clone(cmd.Args), Dir: cmd.Dir,
		OpenFiles: p.OpenFiles, FileSize: p.FileSizeBytes, WallClock: p.WallClock, UID: d.cfg.UID, GID: d.cfg.GID}
	if len(c.Args) == 0 {
		c.Args = []string{prog}
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	env = slices.Clone(env)

	var ro, rw []string
	ro = append(ro, runtimeDirs(prog)...)
	ro = append(ro, p.ReadOnly...)
	if cmd.Dir != "" {
		ro = append(ro, cmd.Dir)
	}
	if p.Network {
		// /etc/resolv.conf often points into /run.
		if real, err := filepath.EvalSymlinks("/etc/resolv.conf"); err == nil && !strings.HasPrefix(real, "/etc/") {
			ro = append(ro, real)
		}
	}
	rw = append(rw, p.WorkDir)
	rw = append(rw, p.ReadWrite...)

	if d.level >= LevelBasic {
		c.Seccomp = true
		if d.root {
			for i, dir := range rw {
				// The worker's own directory is fresh (the agent made it); a ReadWrite path may
				// be shared with running workers, which could swap a subdirectory for a symlink
				// under a recursive chown: only its top is given.
				chown := os.Lchown
				if i == 0 {
					chown = chownTree
				}
				if err := chown(dir, d.cfg.UID, d.cfg.GID); err != nil {
					return nil, fmt.Errorf("sandbox: give the worker its directory: %w", err)
				}
				if d.name == DriverBasic {
					// The worker sees the host's tree as an unprivileged uid: it must be able to
					// pass through the directories above its own.
					if err := searchableAncestors(dir); err != nil {
						return nil, fmt.Errorf("sandbox: let the worker reach its directory: %w", err)
					}
				}
			}
		}
	}
	switch d.name {
	case DriverBasic:
		c.SetUID = d.root
		c.DenyIP = !p.Network
		// No private /tmp: the worker's temporary files go to its own directory.
		tmp := filepath.Join(p.WorkDir, "tmp")
		if err := os.MkdirAll(tmp, 0o700); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
		if d.root {
			os.Lchown(tmp, d.cfg.UID, d.cfg.GID)
		}
		env = append(env, "TMPDIR="+tmp)
		if d.landlock > 0 {
			c.DenyTCP = !p.Network
			for _, path := range append(slices.Clone(d.cfg.SystemPaths), append(ro, "/proc")...) {
				c.Landlock = append(c.Landlock, landlockSpec{Path: path, Access: llRead})
			}
			for _, path := range rw {
				c.Landlock = append(c.Landlock, landlockSpec{Path: path, Access: llRW})
			}
			for _, path := range append(slices.Clone(stdDevices), p.Devices...) {
				c.Landlock = append(c.Landlock, landlockSpec{Path: path, Access: llDev})
			}
		}
	case DriverNamespaces:
		if !d.root {
			c.UID, c.GID = 0, 0 // the agent's own ids, as seen from stage 1's user namespace
		}
		c.NewNet = !p.Network
		view, err := d.view(ro, rw, p)
		if err != nil {
			return nil, err
		}
		c.View = view
		if d.landlock > 0 {
			c.Landlock = append(c.Landlock, landlockSpec{Path: "/", Access: llRead})
			for _, path := range append(rw, "/tmp", "/dev/shm") {
				c.Landlock = append(c.Landlock, landlockSpec{Path: path, Access: llRW})
			}
			c.Landlock = append(c.Landlock, landlockSpec{Path: "/dev", Access: llDev})
			for _, path := range p.Devices {
				c.Landlock = append(c.Landlock, landlockSpec{Path: path, Access: llDev})
			}
		}
	}

	cg, err := d.cg.create(d.name, p)
	if err != nil {
		return nil, err
	}
	c.Cgroups = cg.procsFiles()
	inst := &Instance{driver: d.name, policy: p, cg: cg}
	fail := func(err error) (*Instance, error) {
		inst.Cleanup(context.Background())
		return nil, err
	}
	if inst.statusR, inst.statusW, err = os.Pipe(); err != nil {
		return fail(fmt.Errorf("sandbox: %w", err))
	}
	c.Files = len(cmd.ExtraFiles)
	c.StatusFD = 3 + c.Files
	c.Env = dedupEnv(env)
	if inst.config, err = configFile(c); err != nil {
		return fail(err)
	}

	attr := &syscall.SysProcAttr{}
	if cmd.SysProcAttr != nil {
		a := *cmd.SysProcAttr
		attr = &a
	}
	if d.name == DriverNamespaces {
		attr.Cloneflags |= syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS
		if c.NewNet {
			attr.Cloneflags |= syscall.CLONE_NEWNET
		}
		if !d.root {
			attr.Cloneflags |= syscall.CLONE_NEWUSER
			attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
			attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
			attr.GidMappingsEnableSetgroups = false
		}
	}
	cmd.Path = d.cfg.Shim[0]
	cmd.Args = append(append(slices.Clone(d.cfg.Shim), "--"), c.Args...)
	cmd.Env = []string{initEnv + "=" + strconv.Itoa(c.StatusFD+1)}
	cmd.ExtraFiles = append(slices.Clone(cmd.ExtraFiles), inst.statusW, inst.config)
	cmd.SysProcAttr = attr
	return inst, nil
}

// dedupEnv keeps the last of each variable, as os/exec does: the program is executed with
// execve, which would not.
func dedupEnv(env []string) []string {
	seen := map[string]bool{}
	out := make([]string, 0, len(env))
	for i := len(env) - 1; i >= 0; i-- {
		k, _, _ := strings.Cut(env[i], "=")
		if !seen[k] {
			seen[k] = true
			out = append(out, env[i])
		}
	}
	slices.Reverse(out)
	return out
}

// stdDevices are the device nodes every sandbox has (not /dev/tty: the agent's controlling
// terminal, if any, is none of the worker's business).
var stdDevices = []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"}

// view plans the namespaces driver's file system.
func (d *driver) view(ro, rw []string, p Policy) ([]viewMount, error) {
	var ms []viewMount
	bind := func(path, kind string) error {
		real, err := filepath.EvalSymlinks(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && kind == mountRO {
				return nil
			}
			return fmt.Errorf("sandbox: %s path %s: %w", kind, path, err)
		}
		ms = append(ms, viewMount{Path: real, Kind: kind})
		if real != filepath.Clean(path) {
			ms = append(ms, viewMount{Path: path, Kind: mountSymlink, Target: real})
		}
		return nil
	}
	for _, path := range d.cfg.SystemPaths {
		fi, err := os.Lstat(path)
		switch {
		case err != nil:
			continue
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				continue
			}
			ms = append(ms, viewMount{Path: path, Kind: mountSymlink, Target: target})
			if err := bind(path, mountRO); err != nil {
				return nil, err
			}
		default:
			ms = append(ms, viewMount{Path: path, Kind: mountRO})
		}
	}
	for _, path := range ro {
		if err := bind(path, mountRO); err != nil {
			return nil, err
		}
	}
	for _, path := range rw {
		if err := bind(path, mountRW); err != nil {
			return nil, err
		}
	}
	ms = append(ms,
		viewMount{Path: "/proc", Kind: mountProc},
		viewMount{Path: "/tmp", Kind: mountTmpfs, Size: p.TmpBytes, Mode: 0o1777},
		viewMount{Path: "/dev", Kind: mountTmpfs, Size: 64 << 10, Mode: 0o755},
		viewMount{Path: "/dev/shm", Kind: mountTmpfs, Size: p.TmpBytes, Mode: 0o1777},
		viewMount{Path: "/dev/fd", Kind: mountSymlink, Target: "/proc/self/fd"},
		viewMount{Path: "/dev/stdin", Kind: mountSymlink, Target: "/proc/self/fd/0"},
		viewMount{Path: "/dev/stdout", Kind: mountSymlink, Target: "/proc/self/fd/1"},
		viewMount{Path: "/dev/stderr", Kind: mountSymlink, Target: "/proc/self/fd/2"},
	)
	for _, dev := range stdDevices {
		if _, err := os.Stat(dev); err == nil {
			ms = append(ms, viewMount{Path: dev, Kind: mountDev})
		}
	}
	for _, dev := range p.Devices {
		ms = append(ms, viewMount{Path: dev, Kind: mountDev})
	}
	return planView(ms), nil
}

// runtimeDirs is what the program needs to run: its resolved executable's directory, or the
// installation prefix when that directory is a bin directory (/opt/python3.12/bin/python3 →
// /opt/python3.12).
func runtimeDirs(prog string) []string {
	var dirs []string
	if dir := filepath.Dir(prog); dir != "/" {
		dirs = append(dirs, dir)
	}
	if real, err := filepath.EvalSymlinks(prog); err == nil {
		dir := filepath.Dir(real)
		if filepath.Base(dir) == "bin" && filepath.Dir(dir) != "/" {
			dir = filepath.Dir(dir)
		}
		if dir != "/" { // never the whole host
			dirs = append(dirs, dir)
		}
	}
	return dirs
}

// searchableAncestors adds search permission for others (o+x, not o+r) to the directories
// above dir that lack it.
func searchableAncestors(dir string) error {
	for d := filepath.Dir(filepath.Clean(dir)); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o001); err != nil {
				return err
			}
		}
		if d == "/" {
			return nil
		}
	}
}

func chownTree(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
}

// Instance is one wrapped worker: its cgroups and the shim's status pipe. Kill and Cleanup
// are safe concurrently and idempotent.
type Instance struct {
	driver           string
	policy           Policy
	cg               *cgroupSet // nil without cgroups
	statusR, statusW *os.File
	config           *os.File // the shim's configuration (memfd)

	killMu sync.Mutex
	mu     sync.Mutex
	done   bool
	report Report
	err    error
}

// Kill SIGKILLs the whole process tree through its cgroups (setsid escapees included) and
// returns once the signals are sent (at most 2s, the freezer's wait). Without cgroups it does
// nothing: the caller kills the process group, and for the namespaces driver the PID
// namespace dies with the shim. After Cleanup it does nothing.
func (i *Instance) Kill() error {
	if i.cg == nil {
		return nil
	}
	i.killMu.Lock()
	defer i.killMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := i.cg.killTree(ctx); err != nil && !errors.Is(err, fs.ErrNotExist) { // gone: cleaned up
		return err
	}
	return nil
}

// Cleanup kills what is left of the tree, waits until its cgroups are empty, reads how the
// program ended and what limits it hit, and removes the cgroups. Call it once the process
// Wrap prepared has exited (or could not start). It blocks until then or until ctx ends (10s
// when ctx has no deadline). Later calls return the first call's result.
func (i *Instance) Cleanup(ctx context.Context) (Report, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.done {
		return i.report, i.err
	}
	i.done = true
	ctx, cancel := cleanupCtx(ctx)
	defer cancel()
	r := Report{ExitCode: -1, Policy: i.policy}
	var errs []error
	if i.statusW != nil {
		i.statusW.Close()
	}
	if i.config != nil {
		i.config.Close()
	}
	if i.cg != nil {
		if err := i.Kill(); err != nil {
			errs = append(errs, fmt.Errorf("sandbox: kill the worker's tree: %w", err))
		}
		if err := i.cg.waitEmpty(ctx); err != nil {
			errs = append(errs, err)
		}
		r.OOMKills, r.PidsLimitHits = i.cg.events()
	}
	if i.statusR != nil {
		readStatus(ctx, i.statusR, &r)
		i.statusR.Close()
	}
	switch {
	case r.InitError != "":
		r.Reason = ReasonInitFailed
	case r.OOMKills > 0:
		r.Reason = ReasonOOM
	case r.Reason == ReasonWallClock:
	case r.PidsLimitHits > 0:
		r.Reason = ReasonPidsLimit
	}
	if i.cg != nil {
		if err := i.cg.remove(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	i.report, i.err = r, errors.Join(errs...)
	return i.report, i.err
}

// readStatus reads the shim's status lines into r. The pipe ends when the shim and stage 2
// are gone; a shim still running (no cgroups to kill it with) is not waited for long.
func readStatus(ctx context.Context, f *os.File, r *Report) {
	deadline := time.Now().Add(time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	f.SetReadDeadline(deadline)
	b, _ := io.ReadAll(io.LimitReader(f, 64<<10))
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var st initStatus
		if json.Unmarshal(sc.Bytes(), &st) != nil {
			continue
		}
		if st.Error != "" && r.InitError == "" {
			r.InitError = st.Error
		}
		if st.Exited {
			r.Exited, r.ExitCode, r.Signal = true, st.Code, syscall.Signal(st.Signal)
		}
		if st.WallClock {
			r.Reason = ReasonWallClock
		}
	}
}
