package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// initEnv is the shim's whole environment: the number of the descriptor its configuration
// (JSON, in a memfd) is read from. Nothing of the program's environment reaches the shim,
// which runs as root: LD_PRELOAD and the like only ever apply to the program.
const initEnv = "ALGOS_SANDBOX_INIT"

// maxConfigBytes bounds the configuration the shim reads.
const maxConfigBytes = 16 << 20

// Exit statuses of the shim itself.
const (
	exitInitFailed = 125 // the sandbox could not be set up
	exitCannotRun  = 126 // the program exists but could not be executed
	exitNotFound   = 127 // the program does not exist in the sandbox's view
)

// insideID is the uid and gid the namespaces driver's workers have inside their user
// namespace (mapped to Config.UID/GID outside).
const insideID = 1000

// initConfig is what the shim does. Stage 1 supervises: it joins the cgroups, sets rlimits,
// builds the view (namespaces), starts stage 2 (or, for the none driver, the program), reaps,
// enforces the wall clock and reports how the program ended. Stage 2 confines itself
// (no-new-privs, Landlock, seccomp) and executes the program.
type initConfig struct {
	Stage     int            `json:"stage"`
	Driver    string         `json:"driver"`
	Probe     bool           `json:"probe,omitempty"`
	Path      string         `json:"path"`
	Args      []string       `json:"args"`
	Env       []string       `json:"env"`
	Files     int            `json:"files,omitempty"` // the command's ExtraFiles: fds 3…3+Files-1
	Dir       string         `json:"dir,omitempty"`
	StatusFD  int            `json:"status_fd"`
	Cgroups   []string       `json:"cgroups,omitempty"`
	OpenFiles int            `json:"open_files"`
	FileSize  int64          `json:"file_size,omitempty"`
	WallClock time.Duration  `json:"wall_clock,omitempty"`
	SetUID    bool           `json:"set_uid,omitempty"` // basic, root agent: run as UID/GID
	UID       int            `json:"uid"`
	GID       int            `json:"gid"`
	NewNet    bool           `json:"new_net,omitempty"`
	View      []viewMount    `json:"view,omitempty"`
	Landlock  []landlockSpec `json:"landlock,omitempty"`
	DenyTCP   bool           `json:"deny_tcp,omitempty"` // Landlock: no TCP bind/connect
	DenyIP    bool           `json:"deny_ip,omitempty"`  // seccomp: no IP or packet sockets
	Seccomp   bool           `json:"seccomp,omitempty"`
}

type landlockSpec struct {
	Path   string `json:"path"`
	Access uint64 `json:"access"`
}

// initStatus is a line the shim writes on its status pipe.
type initStatus struct {
	Exited    bool   `json:"exited,omitempty"`
	Code      int    `json:"code"`
	Signal    int    `json:"signal,omitempty"`
	WallClock bool   `json:"wall_clock,omitempty"`
	Error     string `json:"error,omitempty"`
}

// InitMain is the shim: a binary calls it when started as `<binary> InitCommand …` (cmd/algos
// registers the subcommand; a test binary calls it from TestMain). It reads its configuration
// from the environment Wrap prepared, sets the sandbox up and runs the program; it never
// returns.
func InitMain() {
	runtime.LockOSThread() // no-new-privs, Landlock and Pdeathsig are per thread
	c, err := readConfig()
	if err != nil {
		fmt.Fprintf(os.Stderr, "algos %s: %v: this command is started by the agent's sandbox, not by hand\n", InitCommand, err)
		unix.Exit(exitInitFailed)
	}
	// exit_group directly: nothing is buffered, and a race-enabled binary's os.Exit would
	// linger a second.
	if c.Stage == 2 {
		unix.Exit(stage2(c))
	}
	unix.Exit(stage1(c))
}

// readConfig reads the configuration from the descriptor $ALGOS_SANDBOX_INIT names, and
// closes it.
func readConfig() (*initConfig, error) {
	fd, err := strconv.Atoi(os.Getenv(initEnv))
	if err != nil || fd <= 2 {
		return nil, fmt.Errorf("no sandbox configuration ($%s)", initEnv)
	}
	f := os.NewFile(uintptr(fd), "sandbox-config")
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigBytes))
	if err != nil {
		return nil, fmt.Errorf("read the sandbox configuration: %w", err)
	}
	var c initConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("read the sandbox configuration: %w", err)
	}
	return &c, nil
}

// configFile returns a file holding c, to hand to the shim: a memfd (close-on-exec here,
// inherited only as one of a command's ExtraFiles), read from the start.
func configFile(c *initConfig) (*os.File, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	fd, err := unix.MemfdCreate("algos-sandbox-config", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("sandbox: create the shim's configuration: %w", err)
	}
	f := os.NewFile(uintptr(fd), "sandbox-config")
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, fmt.Errorf("sandbox: write the shim's configuration: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

type statusWriter struct{ f *os.File }

func (w statusWriter) write(st initStatus) {
	if w.f == nil {
		return
	}
	b, _ := json.Marshal(st)
	w.f.Write(append(b, '\n'))
}

func openStatus(fd int) statusWriter {
	if fd <= 2 {
		return statusWriter{}
	}
	unix.CloseOnExec(fd)
	return statusWriter{f: os.NewFile(uintptr(fd), "sandbox-status")}
}

func stage1(c *initConfig) int {
	status := openStatus(c.StatusFD)
	keepOnlyFiles(c.Files)
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "algos sandbox: %v\n", err)
		status.write(initStatus{Error: err.Error()})
		return exitInitFailed
	}
	for _, f := range c.Cgroups {
		if err := os.WriteFile(f, []byte("0"), 0); err != nil {
			return fail(fmt.Errorf("join cgroup: %w", err))
		}
	}
	if err := setRlimits(c); err != nil {
		return fail(err)
	}
	if c.View != nil {
		if err := setupView(c.View); err != nil {
			return fail(err)
		}
		if err := unix.Sethostname([]byte("sandbox")); err != nil {
			return fail(fmt.Errorf("set hostname: %w", err))
		}
	}
	if c.NewNet {
		if err := loopbackUp(); err != nil {
			return fail(err)
		}
	}
	if c.Dir != "" {
		if err := os.Chdir(c.Dir); err != nil {
			return fail(fmt.Errorf("the program's directory is not in the sandbox's view (add it to the policy's read-only paths): %w", err))
		}
	}
	if c.Probe && c.Driver == DriverNone {
		status.write(initStatus{Exited: true})
		return 0
	}
	if c.SetUID || c.Driver == DriverNamespaces {
		// The worker's stdio pipes were made by the agent: give them to the worker's uid, so
		// that it may reopen them (/dev/stdout, /proc/self/fd/1) like its own.
		for fd := 0; fd <= 2; fd++ {
			var st unix.Stat_t
			if unix.Fstat(fd, &st) == nil && (st.Mode&unix.S_IFMT == unix.S_IFIFO || st.Mode&unix.S_IFMT == unix.S_IFSOCK) {
				unix.Fchown(fd, c.UID, c.GID)
			}
		}
	}
	// Orphans of the tree are reparented to us (we are PID 1 of the namespaces driver's PID
	// namespace anyway), so we can reap them.
	unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	devNull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return fail(err)
	}
	child, err := childCmd(c, status)
	if err != nil {
		return fail(err)
	}
	defer closeExtra(child)
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	if err := child.Start(); err != nil {
		return fail(startError(c, err))
	}
	pid := child.Process.Pid
	// Let the OOM killer pick the program rather than us, so that we can report its end (the
	// program keeps the score it was started with). Best effort: needs CAP_SYS_RESOURCE.
	os.WriteFile("/proc/self/oom_score_adj", []byte("-999"), 0)
	// Stop holding the worker's stdin and stdout: the program's end of them must be the only one.
	unix.Dup3(int(devNull.Fd()), 0, 0)
	unix.Dup3(int(devNull.Fd()), 1, 0)

	// Reap every child (orphans included) until the program's own exit.
	exited := make(chan unix.WaitStatus, 1)
	go func() {
		for {
			var ws unix.WaitStatus
			wpid, err := unix.Wait4(-1, &ws, 0, nil)
			switch {
			case err == unix.EINTR:
			case err != nil: // cannot happen while the program is our child
				fmt.Fprintf(os.Stderr, "algos sandbox: wait for the worker: %v\n", err)
				unix.Exit(exitInitFailed)
			case wpid == pid:
				exited <- ws
				return
			}
		}
	}()
	var wall <-chan time.Time
	if c.WallClock > 0 {
		t := time.NewTimer(c.WallClock)
		defer t.Stop()
		wall = t.C
	}
	wallHit := false
	for {
		select {
		case s := <-sigs:
			// A signal to the worker's process group reaches the program itself; forward only
			// when the program left the group.
			if pgid, err := unix.Getpgid(pid); err == nil && pgid != unix.Getpgrp() {
				unix.Kill(pid, s.(syscall.Signal))
			}
		case <-wall:
			wall, wallHit = nil, true
			fmt.Fprintf(os.Stderr, "algos sandbox: the worker ran longer than its wall-clock limit of %s; killing it\n", c.WallClock)
			if c.View != nil {
				// We are the PID namespace's init: our exit kills everything in it.
				status.write(initStatus{WallClock: true, Code: -1, Signal: int(syscall.SIGKILL), Exited: true})
				return 128 + int(syscall.SIGKILL)
			}
			unix.Kill(pid, unix.SIGKILL)
			killCgroupMembers(c.Cgroups)
		case ws := <-exited:
			st := initStatus{Exited: true, WallClock: wallHit, Code: ws.ExitStatus()}
			code := ws.ExitStatus()
			if ws.Signaled() {
				st.Code, st.Signal = -1, int(ws.Signal())
				code = 128 + int(ws.Signal())
			}
			status.write(st)
			return code
		}
	}
}

// childCmd is stage 2 (basic, namespaces) or the program itself (none).
func childCmd(c *initConfig, status statusWriter) (*exec.Cmd, error) {
	cmd := &exec.Cmd{Path: c.Path, Args: c.Args, Env: c.Env, Dir: c.Dir,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}}
	for i := range c.Files {
		cmd.ExtraFiles = append(cmd.ExtraFiles, os.NewFile(uintptr(3+i), "extra"))
	}
	if c.Driver == DriverNone {
		return cmd, nil
	}
	next := *c
	next.Stage, next.StatusFD, next.Cgroups, next.View = 2, 0, nil, nil
	if status.f != nil {
		next.StatusFD = 3 + len(cmd.ExtraFiles)
		cmd.ExtraFiles = append(cmd.ExtraFiles, status.f)
	}
	cfg, err := configFile(&next)
	if err != nil {
		return nil, err
	}
	cmd.Env = []string{initEnv + "=" + strconv.Itoa(3+len(cmd.ExtraFiles))}
	cmd.ExtraFiles = append(cmd.ExtraFiles, cfg)
	cmd.Path = "/proc/self/exe"
	cmd.Args = append([]string{os.Args[0], InitCommand, "--"}, c.Args...)
	switch {
	case c.Driver == DriverNamespaces:
		// Stage 2 gets a user namespace of its own where it has no capabilities: uid 1000
		// inside, Config.UID outside (or, rootless, the agent's uid).
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWUSER | syscall.CLONE_NEWCGROUP
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: insideID, HostID: c.UID, Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: insideID, HostID: c.GID, Size: 1}}
		cmd.SysProcAttr.GidMappingsEnableSetgroups = false
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: insideID, Gid: insideID, NoSetGroups: true}
	case c.SetUID:
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(c.UID), Gid: uint32(c.GID), Groups: []uint32{}}
	}
	return cmd, nil
}

// keepOnlyFiles marks every descriptor above the command's ExtraFiles close-on-exec, so that
// what the agent inherited by mistake (or we opened) never reaches the program.
func keepOnlyFiles(files int) {
	first := 3 + files
	if unix.CloseRange(uint(first), ^uint(0), unix.CLOSE_RANGE_CLOEXEC) == nil {
		return
	}
	entries, _ := os.ReadDir("/proc/self/fd") // before Linux 5.11
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd >= first {
			unix.CloseOnExec(fd)
		}
	}
}

// closeExtra closes our copy of the stage 2 configuration.
func closeExtra(cmd *exec.Cmd) {
	for _, f := range cmd.ExtraFiles {
		if f.Name() == "sandbox-config" {
			f.Close()
		}
	}
}

// startError explains a failure to start stage 2 or the program.
func startError(c *initConfig, err error) error {
	if c.Driver == DriverNamespaces && (errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EINVAL)) {
		return &UnavailableError{Driver: c.Driver, Feature: "cannot create the worker's user namespace", Err: err, Hint: userNSHint()}
	}
	return fmt.Errorf("start %s: %w", c.Path, err)
}

// userNSHint says how to enable user namespaces on this host.
func userNSHint() string {
	if strings.TrimSpace(readString("/proc/sys/user/max_user_namespaces")) == "0" {
		return "user namespaces are disabled on this host: set user.max_user_namespaces above 0 (sysctl -w user.max_user_namespaces=15000) or use sandbox basic"
	}
	if os.Geteuid() != 0 {
		if strings.TrimSpace(readString("/proc/sys/kernel/unprivileged_userns_clone")) == "0" {
			return "user namespaces are disabled on this host: set kernel.unprivileged_userns_clone=1, run the agent as root, or use sandbox basic"
		}
		if strings.TrimSpace(readString("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")) == "1" {
			return "AppArmor denies unprivileged user namespaces: set kernel.apparmor_restrict_unprivileged_userns=0 or give the agent an AppArmor profile that allows userns, run the agent as root, or use sandbox basic"
		}
	}
	return "user namespaces are unavailable (a container without CAP_SYS_ADMIN, or a seccomp profile, may forbid them): run the agent as root on the host or in a privileged container, or use sandbox basic"
}

func killCgroupMembers(procsFiles []string) {
	self := os.Getpid()
	for _, f := range procsFiles {
		for _, s := range strings.Fields(readString(f)) {
			if pid, err := strconv.Atoi(s); err == nil && pid != self {
				unix.Kill(pid, unix.SIGKILL)
			}
		}
	}
}

func setRlimits(c *initConfig) error {
	set := func(what string, res int, v uint64) error {
		var cur syscall.Rlimit
		if err := syscall.Getrlimit(res, &cur); err == nil && cur.Max < v {
			v = cur.Max
		}
		// syscall.Setrlimit (not x/sys) so that the Go runtime does not restore its own
		// RLIMIT_NOFILE in the processes it starts.
		if err := syscall.Setrlimit(res, &syscall.Rlimit{Cur: v, Max: v}); err != nil {
			return fmt.Errorf("set %s limit: %w", what, err)
		}
		return nil
	}
	if err := set("core", unix.RLIMIT_CORE, 0); err != nil {
		return err
	}
	if c.OpenFiles > 0 {
		if err := set("open files", unix.RLIMIT_NOFILE, uint64(c.OpenFiles)); err != nil {
			return err
		}
	}
	if c.FileSize > 0 {
		if err := set("file size", unix.RLIMIT_FSIZE, uint64(c.FileSize)); err != nil {
			return err
		}
	}
	return nil
}

// stage2 confines this process and executes the program; it returns only on failure.
func stage2(c *initConfig) int {
	status := openStatus(c.StatusFD)
	keepOnlyFiles(c.Files)
	fail := func(code int, err error) int {
		fmt.Fprintf(os.Stderr, "algos sandbox: %v\n", err)
		status.write(initStatus{Error: err.Error()})
		return code
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fail(exitInitFailed, fmt.Errorf("set no-new-privs: %w", err))
	}
	if len(c.Landlock) > 0 {
		rules := make([]landlockRule, len(c.Landlock))
		for i, r := range c.Landlock {
			rules[i] = landlockRule{path: r.Path, access: r.Access}
		}
		if err := applyLandlock(landlockABI(), rules, c.DenyTCP); err != nil {
			return fail(exitInitFailed, err)
		}
	}
	if c.Seccomp {
		if err := installSeccomp(c.DenyIP); err != nil {
			return fail(exitInitFailed, err)
		}
	}
	if c.Probe {
		return 0
	}
	err := syscall.Exec(c.Path, c.Args, c.Env)
	code := exitCannotRun
	if errors.Is(err, unix.ENOENT) {
		code = exitNotFound
	}
	return fail(code, fmt.Errorf("execute %s in the sandbox: %w (is it, with its interpreter and libraries, in the policy's read-only paths?)", c.Path, err))
}

// loopbackUp brings up lo in a new network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bring up loopback: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up loopback: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up loopback: %w", err)
	}
	return nil
}
