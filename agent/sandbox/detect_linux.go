package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// probeTimeout bounds one driver's probe.
const probeTimeout = 15 * time.Second

// Detect returns the strongest driver that works on this host (namespaces, then basic, then
// none), each tried by running the shim once, and what it found, for the node's status. It
// fails only when not even the none driver runs (the binary does not register the shim, for
// instance). It also removes the worker cgroups that agents which are gone left behind. Blocks
// for the probes (tens of milliseconds each); bounded by ctx.
func Detect(ctx context.Context, cfg Config) (Sandbox, HostInfo, error) {
	return detect(ctx, cfg, []string{DriverNamespaces, DriverBasic, DriverNone})
}

// New returns the named driver (DriverNone, DriverBasic, DriverNamespaces) after probing it,
// or an error that says why it cannot run here and what to do (an *UnavailableError).
func New(ctx context.Context, cfg Config, name string) (Sandbox, HostInfo, error) {
	switch name {
	case DriverNone, DriverBasic, DriverNamespaces:
	default:
		return nil, HostInfo{}, fmt.Errorf("%w: unknown sandbox driver %q (want none, basic or namespaces)", ErrInvalidPolicy, name)
	}
	return detect(ctx, cfg, []string{name})
}

func detect(ctx context.Context, cfg Config, names []string) (Sandbox, HostInfo, error) {
	if err := cfg.Validate(); err != nil {
		return nil, HostInfo{}, err
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, HostInfo{}, err
	}
	info := HostInfo{Root: os.Geteuid() == 0, Landlock: landlockABI(), Seccomp: seccompSupported()}
	cg := discoverCgroups(cfg.CgroupParent)
	cg.sweepStale(ctx)
	info.Cgroup = cg.info()
	info.Problems = append(info.Problems, cg.problems...)
	if info.Landlock == 0 {
		info.Problems = append(info.Problems, "Landlock is missing or disabled (Linux ≥ 5.13 with lsm=…,landlock): the basic driver cannot confine file access; the namespaces driver still does with its view")
	}
	var lastErr error
	for _, name := range names {
		d := &driver{name: name, cfg: cfg, cg: cg, root: info.Root}
		switch name {
		case DriverNone:
			d.level = LevelNone
		case DriverBasic, DriverNamespaces:
			d.level = LevelBasic
			if name == DriverNamespaces {
				d.level = LevelFull
			}
			if !info.Seccomp {
				lastErr = &UnavailableError{Driver: name, Feature: "seccomp filters are missing", Hint: "use a kernel built with CONFIG_SECCOMP_FILTER on amd64 or arm64, or use sandbox none"}
				info.Problems = append(info.Problems, lastErr.Error())
				continue
			}
			d.seccomp = true
			d.landlock = info.Landlock
		}
		err := d.probe(ctx)
		if name == DriverNamespaces {
			info.Namespaces = err == nil
		}
		if err != nil {
			lastErr = err
			info.Problems = append(info.Problems, err.Error())
			continue
		}
		info.Driver, info.Level = d.name, d.level.String()
		return d, info, nil
	}
	return nil, info, lastErr
}

// probe runs the shim once under this driver with an empty policy, all the way to where it
// would execute the program.
func (d *driver) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "algos-sandbox-probe-")
	if err != nil {
		return fmt.Errorf("sandbox %s: probe: %w", d.name, err)
	}
	defer os.RemoveAll(dir)
	cmd := exec.CommandContext(ctx, d.cfg.Shim[0])
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	inst, err := d.wrap(cmd, Policy{WorkDir: dir}, true)
	if err != nil {
		return &UnavailableError{Driver: d.name, Feature: "cannot prepare a worker", Err: err}
	}
	runErr := cmd.Run()
	rep, _ := inst.Cleanup(ctx)
	if runErr == nil && rep.Exited && rep.InitError == "" {
		return nil
	}
	msg := rep.InitError
	if msg == "" {
		msg = strings.TrimSpace(out.String())
	}
	if msg == "" && runErr != nil {
		msg = runErr.Error()
	}
	var ee *exec.ExitError
	switch {
	case runErr != nil && !errors.As(runErr, &ee):
		// The shim could not even start: namespaces, or the binary.
		return &UnavailableError{Driver: d.name, Feature: "cannot start the shim", Err: runErr, Hint: d.startHint()}
	case rep.InitError == "" && !rep.Exited:
		return &UnavailableError{Driver: d.name, Feature: "the shim does not run", Err: errors.New(msg),
			Hint: fmt.Sprintf("%s must hand the %q subcommand to sandbox.InitMain", d.cfg.Shim[0], InitCommand)}
	}
	hint := "the error says what is missing"
	switch d.name {
	case DriverNamespaces:
		hint = userNSHint()
	case DriverBasic:
		hint = "use sandbox none"
	}
	return &UnavailableError{Driver: d.name, Feature: "the probe failed", Err: errors.New(msg), Hint: hint}
}

func (d *driver) startHint() string {
	if d.name != DriverNamespaces {
		return "check that the shim binary exists and is executable"
	}
	if d.root {
		return "creating namespaces needs CAP_SYS_ADMIN: run the agent as root on the host or in a privileged container, or use sandbox basic"
	}
	return userNSHint()
}
