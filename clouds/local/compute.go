package local

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/algos-dev/algos/clouds"
)

// Files in an instance's directory.
const (
	userDataFile = "user-data"   // the script, mode 0600: it carries a join token
	consoleFile  = "console.log" // stdout and stderr, appended
)

// instance is one process tree. started is closed once the start attempt is over (pid set
// on success); exited is closed once the process has exited and been reaped, after the rest
// of its process group was killed.
type instance struct {
	id      string
	dir     string
	started chan struct{}
	exited  chan struct{}

	// guarded by Driver.mu
	info     clouds.Instance
	pid      int // 0 until started, and when the start failed
	deleting bool
}

func (in *instance) snapshot() clouds.Instance {
	out := in.info
	out.Tags = maps.Clone(in.info.Tags)
	return out
}

// CreateInstance starts the user data script and returns the instance running. It blocks only
// for the fork and exec; the script's lifetime is not bound to ctx. Errors: ErrInvalid for
// another instance type or zone, *CapacityError for spot, ErrClosed.
func (d *Driver) CreateInstance(ctx context.Context, spec clouds.InstanceSpec) (clouds.Instance, error) {
	if err := ctx.Err(); err != nil {
		return clouds.Instance{}, fmt.Errorf("create instance: %w", err)
	}
	if err := checkSpec(spec); err != nil {
		return clouds.Instance{}, fmt.Errorf("create instance: %w", err)
	}
	id := newID()
	name := spec.Name
	if name == "" {
		name = id
	}
	in := &instance{
		id:      id,
		dir:     filepath.Join(d.dir, id),
		started: make(chan struct{}),
		exited:  make(chan struct{}),
		info: clouds.Instance{
			ID:             id,
			Name:           name,
			State:          clouds.StatePending,
			InstanceType:   InstanceType,
			Zone:           Zone,
			Tags:           maps.Clone(spec.Tags),
			PrivateAddress: "127.0.0.1",
			LaunchedAt:     time.Now(),
		},
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return clouds.Instance{}, fmt.Errorf("create instance: %w", ErrClosed)
	}
	d.instances[id] = in
	d.mu.Unlock()

	cmd, err := d.start(in.dir, spec.UserData, d.env(id, name))
	d.mu.Lock()
	if err != nil {
		delete(d.instances, id)
		in.info.State = clouds.StateTerminated
		d.mu.Unlock()
		close(in.started)
		_ = os.RemoveAll(in.dir)
		return clouds.Instance{}, fmt.Errorf("create instance %s: %w", id, err)
	}
	in.pid = cmd.Process.Pid
	if in.info.State == clouds.StatePending {
		in.info.State = clouds.StateRunning
	}
	out := in.snapshot()
	d.mu.Unlock()
	close(in.started)
	go d.watch(in, cmd)
	d.log.Info("instance started", "instance_id", id, "name", name, "pid", cmd.Process.Pid, "dir", in.dir)
	return out, nil
}

// start writes the user data into dir and starts the shell on it; it does not wait.
func (d *Driver) start(dir, userData string, env []string) (*exec.Cmd, error) {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	script := filepath.Join(dir, userDataFile)
	if err := os.WriteFile(script, []byte(userData), 0o600); err != nil {
		return nil, err
	}
	console, err := os.OpenFile(filepath.Join(dir, consoleFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer console.Close() // the child has its own copy
	cmd := exec.Command(d.cfg.Shell, script)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = console
	cmd.Stderr = console
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmd, nil
}

// env is an instance's environment: a few variables of the driver's, Config.Env, then the
// instance's identity.
func (d *Driver) env(id, name string) []string {
	var env []string
	for _, k := range [...]string{"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		} else if k == "PATH" {
			env = append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
		}
	}
	env = append(env, d.cfg.Env...)
	// Last, so that Env cannot override them (exec keeps the last value of a key).
	return append(env,
		"ALGOS_INSTANCE_ID="+id,
		"ALGOS_INSTANCE_NAME="+name,
		"ALGOS_ZONE="+Zone,
		"ALGOS_INSTANCE_TYPE="+InstanceType,
	)
}

// watch reaps the process, kills what is left of its group, and marks it terminated.
func (d *Driver) watch(in *instance, cmd *exec.Cmd) {
	err := cmd.Wait()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // a VM that stops takes all of it
	d.mu.Lock()
	in.info.State = clouds.StateTerminated
	deleting := in.deleting
	d.mu.Unlock()
	close(in.exited)
	code := cmd.ProcessState.ExitCode()
	if deleting {
		d.log.Info("instance stopped", "instance_id", in.id, "exit_code", code)
		return
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		d.log.Warn("instance wait failed", "instance_id", in.id, "error", err)
	}
	d.log.Warn("instance exited on its own", "instance_id", in.id, "exit_code", code,
		"state", cmd.ProcessState.String(), "console", filepath.Join(in.dir, consoleFile))
}

// GetInstance never blocks. Errors: ErrNotFound. An instance whose process exited stays
// listed as terminated until deleted.
func (d *Driver) GetInstance(ctx context.Context, id string) (clouds.Instance, error) {
	if err := ctx.Err(); err != nil {
		return clouds.Instance{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	in, ok := d.instances[id]
	if !ok {
		return clouds.Instance{}, fmt.Errorf("instance %q: %w", id, clouds.ErrNotFound)
	}
	return in.snapshot(), nil
}

// ListInstances never blocks. It returns instances oldest first.
func (d *Driver) ListInstances(ctx context.Context, filter clouds.Filter) ([]clouds.Instance, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	var out []clouds.Instance
	for _, in := range d.instances {
		if filter.Match(in.info.Tags) {
			out = append(out, in.snapshot())
		}
	}
	d.mu.Unlock()
	sortInstances(out)
	return out, nil
}

// DeleteInstance sends SIGTERM to the instance's process group, SIGKILL after
// Config.StopGrace (at once when ctx is done), waits for the process to exit, removes its
// directory and forgets it: GetInstance then returns ErrNotFound. It blocks until all that is
// done. Idempotent; concurrent calls for one instance all wait for it.
func (d *Driver) DeleteInstance(ctx context.Context, id string) error {
	d.mu.Lock()
	in, ok := d.instances[id]
	if ok {
		in.deleting = true
		if in.info.State.Active() {
			in.info.State = clouds.StateStopping
		}
	}
	d.mu.Unlock()
	if !ok {
		return nil
	}
	d.stop(ctx, in)
	if err := os.RemoveAll(in.dir); err != nil {
		return fmt.Errorf("delete instance %s: %w", id, err)
	}
	d.mu.Lock()
	if d.instances[id] == in {
		delete(d.instances, id)
	}
	d.mu.Unlock()
	return nil
}

// stop ends the instance's process group and waits for the process to be reaped.
func (d *Driver) stop(ctx context.Context, in *instance) {
	<-in.started // bounded: a fork and exec
	d.mu.Lock()
	pid := in.pid
	d.mu.Unlock()
	if pid == 0 {
		return
	}
	select {
	case <-in.exited:
		return
	default:
	}
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	grace := time.NewTimer(d.cfg.StopGrace)
	defer grace.Stop()
	select {
	case <-in.exited:
		return
	case <-grace.C:
		d.log.Warn("instance ignored SIGTERM; killing", "instance_id", in.id, "grace", d.cfg.StopGrace)
	case <-ctx.Done():
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	<-in.exited
}
