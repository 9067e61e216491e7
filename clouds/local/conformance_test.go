package local_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/algos-dev/algos/clouds"
	"github.com/algos-dev/algos/clouds/cloudtest"
	"github.com/algos-dev/algos/clouds/local"
)

const sleeper = "#!/bin/sh\nexec sleep 600\n"

// newDriver returns a driver on a fresh directory, closed when the test ends.
func newDriver(t *testing.T, mod ...func(*local.Config)) *local.Driver {
	t.Helper()
	cfg := local.Config{
		Dir:               t.TempDir(),
		Logger:            slog.New(slog.NewTextHandler(t.Output(), nil)),
		StopGrace:         2 * time.Second,
		ReconcileInterval: 20 * time.Millisecond,
	}
	for _, m := range mod {
		m(&cfg)
	}
	d, err := local.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return d
}

func TestCompute(t *testing.T) {
	t.Parallel()
	spec := clouds.InstanceSpec{InstanceType: local.InstanceType, UserData: sleeper, Tags: map[string]string{"suite": "compute"}}
	cloudtest.TestCompute(t, func(t *testing.T) clouds.Compute { return newDriver(t) }, spec)
}

func TestGroups(t *testing.T) {
	t.Parallel()
	spec := clouds.InstanceSpec{UserData: sleeper, Tags: map[string]string{"suite": "groups"}}
	cloudtest.TestGroups(t, func(t *testing.T) clouds.Groups { return newDriver(t) }, spec)
}

// eventually polls cond every few milliseconds until it holds, failing after a generous
// deadline; it never asserts how long anything took.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readPID waits for a script to write its PID to file and returns it.
func readPID(t *testing.T, file string) int {
	t.Helper()
	var pid int
	eventually(t, "pid in "+file, func() bool {
		b, err := os.ReadFile(file)
		if err != nil || !strings.HasSuffix(string(b), "\n") {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	return pid
}

// processGone reports whether pid no longer runs: absent, or a zombie waiting for a reaper
// that is not the driver (an orphan's reaper is init).
func processGone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return syscall.Kill(pid, 0) == syscall.ESRCH
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

func instanceDir(dir, id string) string { return filepath.Join(dir, "instances", id) }
