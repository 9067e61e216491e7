package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestForkBomb: a fork bomb stays within PidsMax, the host keeps forking, and nothing of it
// is left after cleanup.
func TestForkBomb(t *testing.T) {
	t.Parallel()
	for _, name := range allDrivers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sb := driverFor(t, name)
			l := newLayout(t)
			const limit = 40
			marker := "ALGOS_BOMB=" + randomHex(8)
			// Each shell forks two more until depth 10 (2047 shells without a limit).
			cmd := exec.Command("/bin/sh", "-c", `b() { [ "$1" -gt 0 ] && { b $(($1-1)) & b $(($1-1)) & }; sleep 3; }; b 10`)
			cmd.Env = []string{marker, "PATH=/usr/bin:/bin"}
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
			cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
			cmd.WaitDelay = time.Second
			inst, err := sb.Wrap(cmd, Policy{WorkDir: l.work, PidsMax: limit, CPUQuota: 0.5})
			if errors.Is(err, ErrUnavailable) {
				t.Skipf("this host cannot enforce a pids limit: %v", err)
			}
			must(t, err)
			if inst.cg == nil || inst.cg.pids == "" || strings.TrimSpace(readString(filepath.Join(inst.cg.pids, "pids.max"))) != strconv.Itoa(limit) {
				inst.Cleanup(context.Background())
				t.Fatal("no pids limit was set up: not starting a fork bomb")
			}
			must(t, cmd.Start())
			maxSeen := 0
			deadline := time.Now().Add(15 * time.Second)
			for time.Now().Before(deadline) {
				n, _ := strconv.Atoi(strings.TrimSpace(readString(filepath.Join(inst.cg.pids, "pids.current"))))
				maxSeen = max(maxSeen, n)
				if _, hits := inst.cg.events(); hits > 0 {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			// The host still forks.
			if out, err := exec.Command("/bin/true").CombinedOutput(); err != nil {
				t.Errorf("the host cannot fork during the bomb: %v %s", err, out)
			}
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			cmd.Wait()
			rep, err := inst.Cleanup(context.Background())
			must(t, err)
			if rep.PidsLimitHits == 0 || rep.Reason != ReasonPidsLimit {
				t.Errorf("the bomb never hit the limit: %+v", rep)
			}
			if maxSeen > limit {
				t.Errorf("the tree reached %d tasks, above the limit %d", maxSeen, limit)
			}
			if left := processesWith("environ", marker); len(left) > 0 {
				t.Errorf("processes of the bomb survived cleanup: %v", left)
			}
			t.Logf("max tasks %d; %s", maxSeen, rep)
		})
	}
}

// TestMemoryHog: a tree past MemoryBytes is OOM-killed and the report says so.
func TestMemoryHog(t *testing.T) {
	t.Parallel()
	for _, name := range allDrivers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sb := driverFor(t, name)
			l := newLayout(t)
			r := run(t, sb, Policy{WorkDir: l.work, MemoryBytes: 128 << 20}, "memhog", "2048")
			if strings.HasPrefix(r.verdict(), "ALLOWED") {
				t.Fatalf("the hog allocated 2 GiB under a 128 MiB limit: %q", r.out)
			}
			if r.report.Reason != ReasonOOM || r.report.OOMKills == 0 {
				t.Fatalf("report %+v; want reason %s", r.report, ReasonOOM)
			}
			if !r.report.Exited || r.report.Signal != syscall.SIGKILL {
				t.Errorf("the program's end: %+v; want killed by SIGKILL", r.report)
			}
			if s := r.report.String(); !strings.Contains(s, "out of memory") || !strings.Contains(s, "128 MiB") {
				t.Errorf("report line %q", s)
			}
		})
	}
}

// TestDaemonKilled: a process that double-forks and calls setsid does not outlive cleanup.
func TestDaemonKilled(t *testing.T) {
	t.Parallel()
	for _, name := range allDrivers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sb := driverFor(t, name)
			l := newLayout(t)
			marker := "daemon-marker-" + randomHex(8)
			pidFile := filepath.Join(l.work, "daemon.pid")
			cmd, inst, out := start(t, sb, Policy{WorkDir: l.work}, "daemon", marker, pidFile)
			if inst.cg == nil && sb.Name() != DriverNamespaces {
				inst.Cleanup(context.Background())
				t.Skip("without cgroups only a PID namespace can catch a daemon that left the process group")
			}
			cmd.Wait()
			if v := (runResult{out: out.String()}).verdict(); !strings.HasPrefix(v, "ALLOWED") {
				inst.Cleanup(context.Background())
				t.Fatalf("the daemon did not start: %q", out)
			}
			if sb.Name() != DriverNamespaces {
				// Outside a PID namespace the daemon outlived its parent: only cleanup ends it.
				if left := processesWith("cmdline", marker); len(left) == 0 {
					t.Fatal("the daemon is not running before cleanup: the test proves nothing")
				}
			}
			if _, err := inst.Cleanup(context.Background()); err != nil {
				t.Fatal(err)
			}
			if left := processesWith("cmdline", marker); len(left) > 0 {
				t.Fatalf("the daemon survived cleanup: pids %v", left)
			}
		})
	}
}

// TestKillMethods: each way of killing a tree this host offers catches a daemon.
func TestKillMethods(t *testing.T) {
	t.Parallel()
	base := driverFor(t, DriverNone).(*driver)
	for _, method := range []string{"cgroup.kill", "freezer", "procs"} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			h := *base.cg
			h.v1 = maps.Clone(h.v1)
			switch method {
			case "freezer":
				h.v2Parent = ""
			case "procs":
				h.v2Parent = ""
				delete(h.v1, "freezer")
			}
			if got := h.info().Kill; got != method {
				t.Skipf("this host kills trees with %q", got)
			}
			d := *base
			d.cg = &h
			l := newLayout(t)
			marker := "daemon-marker-" + randomHex(8)
			cmd, inst, _ := start(t, &d, Policy{WorkDir: l.work, PidsMax: 32}, "daemon", marker, filepath.Join(l.work, "pid"))
			cmd.Wait()
			if len(processesWith("cmdline", marker)) == 0 {
				inst.Cleanup(context.Background())
				t.Fatal("the daemon is not running before cleanup: the test proves nothing")
			}
			if inst.cg.kill != method {
				t.Errorf("the instance kills with %q", inst.cg.kill)
			}
			if _, err := inst.Cleanup(context.Background()); err != nil {
				t.Fatal(err)
			}
			if left := processesWith("cmdline", marker); len(left) > 0 {
				t.Fatalf("the daemon survived cleanup: pids %v", left)
			}
		})
	}
}

// TestSweepStale: the cgroups of an agent that is gone are emptied and removed; the process
// in them is killed.
func TestSweepStale(t *testing.T) {
	t.Parallel()
	d := driverFor(t, DriverNone).(*driver)
	var parents []string
	if d.cg.v2Parent != "" {
		parents = append(parents, d.cg.v2Parent)
	}
	if p := d.cg.v1["pids"]; p != "" {
		parents = append(parents, p)
	}
	if len(parents) == 0 {
		t.Skip("no cgroups here")
	}
	gone := exec.Command("/bin/true")
	must(t, gone.Run())
	name := fmt.Sprintf("algos-sandbox-%d-%s", gone.Process.Pid, randomHex(6))
	victim := exec.Command(attacker(t), attackCommand, "sleep", "60")
	must(t, victim.Start())
	exited := make(chan error, 1)
	go func() { exited <- victim.Wait() }()
	var dirs []string
	for _, p := range parents {
		dir := filepath.Join(p, name)
		must(t, os.Mkdir(dir, 0o755))
		dirs = append(dirs, dir)
		must(t, os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(victim.Process.Pid)), 0))
	}
	d.cg.sweepStale(context.Background())
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		victim.Process.Kill()
		t.Fatal("the process in the stale cgroups is still running")
	}
	for _, dir := range dirs {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			os.Remove(dir)
			t.Errorf("%s is still there", dir)
		}
	}
}

// TestWallClock: a worker past its WallClock is killed and the report says so.
func TestWallClock(t *testing.T) {
	t.Parallel()
	for _, name := range allDrivers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sb := driverFor(t, name)
			l := newLayout(t)
			r := run(t, sb, Policy{WorkDir: l.work, WallClock: 300 * time.Millisecond}, "sleep", "30")
			if r.report.Reason != ReasonWallClock || r.took > 15*time.Second {
				t.Fatalf("report %+v after %v; want %s", r.report, r.took, ReasonWallClock)
			}
			if !strings.Contains(r.out, "wall-clock limit") {
				t.Errorf("the worker's log does not say why: %q", r.out)
			}
		})
	}
}

// TestRlimits: open files, core size and file size limits hold inside.
func TestRlimits(t *testing.T) {
	t.Parallel()
	for _, name := range allDrivers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sb := driverFor(t, name)
			l := newLayout(t)
			p := Policy{WorkDir: l.work, OpenFiles: 64, FileSizeBytes: 1 << 20}
			r := run(t, sb, p, "nofile")
			var opened, core int
			if _, err := fmt.Sscanf(r.verdict(), "ALLOWED opened=%d core=%d", &opened, &core); err != nil {
				t.Fatalf("%q: %v", r.out, err)
			}
			if opened <= 0 || opened >= 64 || core != 0 {
				t.Errorf("opened %d files (limit 64), core limit %d", opened, core)
			}
			r = run(t, sb, p, "bigfile", filepath.Join(l.work, "big"))
			if strings.HasPrefix(r.verdict(), "ALLOWED") {
				t.Errorf("wrote 2 MiB past a 1 MiB file size limit: %q", r.out)
			}
		})
	}
}

// TestCPUQuota: a spinning worker gets about its CPUQuota, not a whole CPU.
func TestCPUQuota(t *testing.T) {
	t.Parallel()
	for _, name := range allDrivers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sb := driverFor(t, name)
			l := newLayout(t)
			cmd, inst, out := start(t, sb, Policy{WorkDir: l.work, CPUQuota: 0.2}, "spin", "1")
			cmd.Wait()
			dir, file := inst.cg.v2, "cpu.stat"
			if d := inst.cg.v1["cpu"]; d != "" {
				dir = d
			}
			throttled := keyedValue(filepath.Join(dir, file), "nr_throttled")
			if _, err := inst.Cleanup(context.Background()); err != nil {
				t.Fatal(err)
			}
			// The shim reaped the program, so its CPU time is in the shim's children's usage.
			used := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			if throttled == 0 || used > 700*time.Millisecond {
				t.Fatalf("spun for 1s under a 0.2 CPU quota: %v of CPU, throttled %d times (%s)", used, throttled, out)
			}
			t.Logf("%v of CPU, throttled %d times", used, throttled)
		})
	}
}
