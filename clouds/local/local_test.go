package local_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/algos-dev/algos/clouds"
	"github.com/algos-dev/algos/clouds/local"
)

// Not parallel: it sets an environment variable instances must not inherit.
func TestUserDataRuns(t *testing.T) {
	t.Setenv("ALGOS_TEST_SECRET", "must-not-leak")
	dir := t.TempDir()
	d := newDriver(t, func(c *local.Config) {
		c.Dir = dir
		c.Env = []string{"EXTRA=yes", "ALGOS_ZONE=overridden"}
	})
	script := "#!/bin/sh\n# join token: s3cr3t\necho to-console\necho to-stderr >&2\npwd > pwd.txt\nenv > env.tmp && mv env.tmp env.txt\nexec sleep 600\n"
	in, err := d.CreateInstance(t.Context(), clouds.InstanceSpec{Name: "web", UserData: script})
	if err != nil {
		t.Fatal(err)
	}
	idir := instanceDir(dir, in.ID)
	eventually(t, "env.txt", func() bool { _, err := os.Stat(filepath.Join(idir, "env.txt")); return err == nil })

	env, err := os.ReadFile(filepath.Join(idir, "env.txt"))
	if err != nil {
		t.Fatal(err)
	}
	vars := strings.Split(string(env), "\n")
	for _, want := range []string{"ALGOS_INSTANCE_ID=" + in.ID, "ALGOS_INSTANCE_NAME=web", "ALGOS_ZONE=local", "ALGOS_INSTANCE_TYPE=local", "EXTRA=yes"} {
		if !slices.Contains(vars, want) {
			t.Errorf("instance env lacks %q:\n%s", want, env)
		}
	}
	if strings.Contains(string(env), "ALGOS_TEST_SECRET") {
		t.Errorf("instance inherited the driver's environment:\n%s", env)
	}
	if pwd, _ := os.ReadFile(filepath.Join(idir, "pwd.txt")); strings.TrimSpace(string(pwd)) != idir {
		t.Errorf("working directory = %q, want %q", pwd, idir)
	}
	eventually(t, "console.log", func() bool {
		b, _ := os.ReadFile(filepath.Join(idir, "console.log"))
		return strings.Contains(string(b), "to-console\n") && strings.Contains(string(b), "to-stderr\n")
	})
	fi, err := os.Stat(filepath.Join(idir, "user-data"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("user-data mode = %v, want 0600", fi.Mode().Perm())
	}
	if b, _ := os.ReadFile(filepath.Join(idir, "user-data")); string(b) != script {
		t.Errorf("user-data = %q, want the script", b)
	}

	if err := d.DeleteInstance(t.Context(), in.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(idir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("instance directory after delete: %v, want it removed", err)
	}
	if _, err := d.GetInstance(t.Context(), in.ID); !errors.Is(err, clouds.ErrNotFound) {
		t.Errorf("GetInstance after delete = %v, want ErrNotFound", err)
	}
}

func TestExitedInstanceIsTerminated(t *testing.T) {
	t.Parallel()
	d := newDriver(t)
	in, err := d.CreateInstance(t.Context(), clouds.InstanceSpec{UserData: "exit 3\n"})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "terminated", func() bool {
		got, err := d.GetInstance(t.Context(), in.ID)
		return err == nil && got.State == clouds.StateTerminated
	})
	if err := d.DeleteInstance(t.Context(), in.ID); err != nil {
		t.Fatal(err)
	}
}

func TestDeleteKillsWhatIgnoresSIGTERM(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := newDriver(t, func(c *local.Config) { c.Dir = dir; c.StopGrace = 50 * time.Millisecond })
	// SIG_IGN is inherited across exec: neither the shell nor its sleeps die of SIGTERM.
	in, err := d.CreateInstance(t.Context(), clouds.InstanceSpec{UserData: "trap '' TERM\necho $$ > pid\nwhile :; do sleep 1; done\n"})
	if err != nil {
		t.Fatal(err)
	}
	pid := readPID(t, filepath.Join(instanceDir(dir, in.ID), "pid"))
	if err := d.DeleteInstance(t.Context(), in.ID); err != nil {
		t.Fatal(err)
	}
	if !processGone(pid) {
		t.Errorf("pid %d still runs after DeleteInstance", pid)
	}
}

func TestRunReplacesMemberKilledOutOfBand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := newDriver(t, func(c *local.Config) { c.Dir = dir })
	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan error, 1)
	go func() { ran <- d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-ran })

	if _, err := d.CreateGroup(ctx, clouds.GroupSpec{Name: "g", Template: clouds.InstanceSpec{UserData: "echo $$ > pid\nexec sleep 600\n"}, Max: 2, Desired: 2}); err != nil {
		t.Fatal(err)
	}
	members, err := d.ListMembers(ctx, "g")
	if err != nil || len(members) != 2 {
		t.Fatalf("ListMembers = %v, %v; want 2 members", members, err)
	}
	victim := members[0].ID
	pid := readPID(t, filepath.Join(instanceDir(dir, victim), "pid"))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "victim replaced", func() bool {
		ms, err := d.ListMembers(ctx, "g")
		if err != nil || len(ms) != 2 {
			return false
		}
		for _, m := range ms {
			if m.ID == victim || m.State != clouds.StateRunning {
				return false
			}
		}
		return true
	})
	if _, err := os.Stat(instanceDir(dir, victim)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("replaced member's directory: %v, want it removed", err)
	}
}

// startTree starts a group of two and a lone instance, each with a background child, and
// returns every PID involved.
func startTree(t *testing.T, d *local.Driver, dir string) []int {
	t.Helper()
	script := "sleep 600 &\necho $! > child\necho $$ > pid\nexec sleep 600\n"
	if _, err := d.CreateGroup(t.Context(), clouds.GroupSpec{Name: "g", Template: clouds.InstanceSpec{UserData: script}, Max: 2, Desired: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateInstance(t.Context(), clouds.InstanceSpec{UserData: script}); err != nil {
		t.Fatal(err)
	}
	all, err := d.ListInstances(t.Context(), clouds.Filter{})
	if err != nil || len(all) != 3 {
		t.Fatalf("ListInstances = %v, %v; want 3", all, err)
	}
	var pids []int
	for _, in := range all {
		pids = append(pids, readPID(t, filepath.Join(instanceDir(dir, in.ID), "pid")), readPID(t, filepath.Join(instanceDir(dir, in.ID), "child")))
	}
	return pids
}

func checkStopped(t *testing.T, d *local.Driver, dir string, pids []int) {
	t.Helper()
	for _, pid := range pids {
		eventually(t, "process gone", func() bool { return processGone(pid) })
	}
	if ents, err := os.ReadDir(filepath.Join(dir, "instances")); err != nil || len(ents) != 0 {
		t.Errorf("instances directory after close: %v, %v; want empty", ents, err)
	}
	if _, err := d.CreateInstance(context.Background(), clouds.InstanceSpec{UserData: sleeper}); !errors.Is(err, local.ErrClosed) {
		t.Errorf("CreateInstance after close = %v, want ErrClosed", err)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

func TestCloseStopsEverything(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := newDriver(t, func(c *local.Config) { c.Dir = dir })
	pids := startTree(t, d, dir)
	if err := d.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Close reaped the leaders; their background children died with their groups.
	for i := 0; i < len(pids); i += 2 {
		if !processGone(pids[i]) {
			t.Errorf("pid %d still runs after Close", pids[i])
		}
	}
	checkStopped(t, d, dir, pids)
}

func TestRunCancelStopsEverything(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := newDriver(t, func(c *local.Config) { c.Dir = dir })
	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan error, 1)
	go func() { ran <- d.Run(ctx) }()
	pids := startTree(t, d, dir)
	cancel()
	if err := <-ran; err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	checkStopped(t, d, dir, pids)
}

// TestHelperControlPlane is not a test: TestNoOrphans runs the test binary as a control
// plane that starts an instance and is then killed.
func TestHelperControlPlane(t *testing.T) {
	dir := os.Getenv("LOCAL_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process for TestNoOrphans")
	}
	d, err := local.New(local.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	in, err := d.CreateInstance(context.Background(), clouds.InstanceSpec{UserData: "echo $$ > pid\nexec sleep 600\n"})
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("started " + in.ID + "\n")
	time.Sleep(time.Hour) // until TestNoOrphans kills it
}

func TestNoOrphans(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("Pdeathsig is Linux-only")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperControlPlane$")
	cmd.Env = append(os.Environ(), "LOCAL_HELPER_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var id string
	for sc := bufio.NewScanner(out); sc.Scan(); {
		if s, ok := strings.CutPrefix(sc.Text(), "started "); ok {
			id = s
			break
		}
	}
	if id == "" {
		t.Fatal("helper did not start an instance")
	}
	pid := readPID(t, filepath.Join(instanceDir(dir, id), "pid"))
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	eventually(t, "instance of the killed control plane gone", func() bool { return processGone(pid) })
}

func TestDirInUse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	newDriver(t, func(c *local.Config) { c.Dir = dir })
	if _, err := local.New(local.Config{Dir: dir}); !errors.Is(err, local.ErrDirInUse) {
		t.Errorf("second New on one dir = %v, want ErrDirInUse", err)
	}
}

func TestNewClearsLeftovers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old := filepath.Join(dir, "instances", "i-old")
	if err := os.MkdirAll(old, 0o700); err != nil {
		t.Fatal(err)
	}
	newDriver(t, func(c *local.Config) { c.Dir = dir })
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover instance directory: %v, want it removed", err)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, cfg := range []local.Config{{}, {Dir: "x", StopGrace: -1}, {Dir: "x", ReconcileInterval: -1}} {
		if _, err := local.New(cfg); err == nil {
			t.Errorf("New(%+v) = nil error, want one", cfg)
		}
	}
}

func TestUnsupportedSpecs(t *testing.T) {
	t.Parallel()
	d := newDriver(t)
	ctx := t.Context()
	for _, spec := range []clouds.InstanceSpec{{InstanceType: "m5.large", UserData: sleeper}, {Zone: "us-east-1a", UserData: sleeper}} {
		if _, err := d.CreateInstance(ctx, spec); !errors.Is(err, clouds.ErrInvalid) {
			t.Errorf("CreateInstance(type %q zone %q) = %v, want ErrInvalid", spec.InstanceType, spec.Zone, err)
		}
	}
	_, err := d.CreateInstance(ctx, clouds.InstanceSpec{Spot: true, UserData: sleeper})
	var capErr *clouds.CapacityError
	if !errors.Is(err, clouds.ErrCapacity) || !errors.As(err, &capErr) || !capErr.Spot || capErr.Zone != local.Zone {
		t.Errorf("CreateInstance(spot) = %v, want a spot *CapacityError in zone local", err)
	}
	if _, err := d.CreateGroup(ctx, clouds.GroupSpec{Name: "g", Template: clouds.InstanceSpec{UserData: sleeper}, Zones: []string{"us-east-1a"}, Max: 1}); !errors.Is(err, clouds.ErrInvalid) {
		t.Errorf("CreateGroup(zone us-east-1a) = %v, want ErrInvalid", err)
	}
	if all, _ := d.ListInstances(ctx, clouds.Filter{}); len(all) != 0 {
		t.Errorf("rejected specs left instances: %v", all)
	}
}

func TestInstanceTypes(t *testing.T) {
	t.Parallel()
	types, err := newDriver(t).InstanceTypes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(types) != 1 {
		t.Fatalf("InstanceTypes = %+v, want one", types)
	}
	it := types[0]
	if it.Name != local.InstanceType || it.VCPU != runtime.NumCPU() || it.MemoryMiB <= 0 || it.GPUCount() != 0 || it.PricePerHour != 0 {
		t.Errorf("InstanceTypes()[0] = %+v", it)
	}
	if len(it.Offerings) != 1 || it.Offerings[0] != (clouds.Offering{Zone: local.Zone, Available: true}) {
		t.Errorf("Offerings = %+v, want one on-demand offering in zone local", it.Offerings)
	}
}

func TestConcurrentResizeAndClose(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := newDriver(t, func(c *local.Config) { c.Dir = dir })
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { _ = d.Run(ctx) }()
	for _, name := range []string{"a", "b"} {
		if _, err := d.CreateGroup(ctx, clouds.GroupSpec{Name: name, Template: clouds.InstanceSpec{UserData: sleeper}, Max: 3, Desired: 1}); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	for i := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for n := range 6 {
				name := []string{"a", "b"}[i%2]
				_ = d.ResizeGroup(ctx, name, (i+n)%4)
				if ms, _ := d.ListMembers(ctx, name); len(ms) > 0 {
					_ = d.RemoveMember(ctx, name, ms[0].ID, n%2 == 0)
				}
			}
		}()
	}
	<-done // close while the others still work
	if err := d.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		<-done
	}
	if all, _ := d.ListInstances(context.Background(), clouds.Filter{}); len(all) != 0 {
		t.Errorf("instances after Close: %v", all)
	}
	if ents, err := os.ReadDir(filepath.Join(dir, "instances")); err != nil || len(ents) != 0 {
		t.Errorf("instances directory after Close: %v, %v; want empty", ents, err)
	}
}
