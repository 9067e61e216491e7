package sandbox

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestAttacks runs each attack from inside each driver's sandbox. A driver at or above the
// attack's level must deny it; under the none driver the attacks that can succeed on this
// host must succeed, which shows the attack is real.
func TestAttacks(t *testing.T) {
	t.Parallel()
	l := newLayout(t)

	// A listener on the host's loopback, which a worker without network must not reach.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	// Another process running as the basic driver's uid with a secret in its environment.
	victim := exec.Command(attacker(t), attackCommand, "sleep", "120")
	victim.Env = []string{"VICTIM_SECRET=" + secretText}
	victim.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if os.Geteuid() == 0 {
		victim.SysProcAttr.Credential = &syscall.Credential{Uid: 65534, Gid: 65534}
	}
	must(t, victim.Start())
	t.Cleanup(func() { victim.Process.Kill(); victim.Wait() })

	// Whether this host has something at the metadata address decides whether the attack on
	// it is provable without a sandbox.
	metadata := "169.254.169.254:80"
	metadataUp := false
	if c, err := net.DialTimeout("tcp", metadata, time.Second); err == nil {
		c.Close()
		metadataUp = true
	}

	cases := []struct {
		name       string
		args       []string
		deniedFrom Level // the weakest level that must deny it
		provable   bool  // it succeeds here without a sandbox (checked under none)
		absent     string
	}{
		{name: "read another worker's directory", args: []string{"read", l.secret}, deniedFrom: LevelBasic, provable: true},
		{name: "read another process's environment", args: []string{"environ", strconv.Itoa(victim.Process.Pid), secretText}, deniedFrom: LevelBasic, provable: true},
		{name: "signal another process", args: []string{"signal", strconv.Itoa(victim.Process.Pid)}, deniedFrom: LevelBasic, provable: true},
		{name: "read the host init's environment", args: []string{"read", "/proc/1/environ"}, deniedFrom: LevelBasic},
		{name: "write into another worker's directory", args: []string{"write", filepath.Join(l.sibling, "evil")}, deniedFrom: LevelBasic, provable: true, absent: filepath.Join(l.sibling, "evil")},
		{name: "write into the version's directory", args: []string{"write", filepath.Join(l.version, "evil")}, deniedFrom: LevelBasic, provable: true, absent: filepath.Join(l.version, "evil")},
		{name: "connect to the host's loopback", args: []string{"connect", ln.Addr().String()}, deniedFrom: LevelBasic, provable: true},
		{name: "connect to the metadata service", args: []string{"connect", metadata}, deniedFrom: LevelBasic, provable: metadataUp},
		{name: "ptrace", args: []string{"ptrace"}, deniedFrom: LevelBasic, provable: true},
		{name: "mount", args: []string{"mount", l.work}, deniedFrom: LevelBasic}, // never run unconfined: it would mount on the host
		{name: "create a user namespace", args: []string{"userns"}, deniedFrom: LevelBasic, provable: true},
	}
	for _, name := range allDrivers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sb := driverFor(t, name)
			for _, c := range cases {
				if c.absent != "" {
					// Drivers run in parallel and unconfined ones really write: each its own file.
					own := c.absent + "-" + name
					c.args = append([]string(nil), c.args...)
					for i, a := range c.args {
						if a == c.absent {
							c.args[i] = own
						}
					}
					c.absent = own
				}
				t.Run(c.name, func(t *testing.T) {
					if sb.Level() < c.deniedFrom && !c.provable {
						t.Skip("cannot show here that it works without a sandbox")
					}
					r := run(t, sb, Policy{WorkDir: l.work, ReadOnly: []string{l.version}}, c.args...)
					v := r.verdict()
					switch {
					case sb.Level() >= c.deniedFrom:
						if !strings.HasPrefix(v, "DENIED") {
							t.Fatalf("level %s must deny it; got %q (output %q, wait %v)", sb.Level(), v, r.out, r.err)
						}
						if c.absent != "" {
							if _, err := os.Stat(c.absent); !errors.Is(err, os.ErrNotExist) {
								os.Remove(c.absent)
								t.Fatalf("%s exists after a denied write (stat: %v)", c.absent, err)
							}
						}
					case c.provable:
						os.Remove(c.absent)
						if !strings.HasPrefix(v, "ALLOWED") {
							t.Fatalf("without a sandbox the attack should work here, else this test proves nothing: got %q (output %q)", v, r.out)
						}
					}
					t.Log(v)
				})
			}
		})
	}
}

// TestNetworkAllowed: a policy with Network reaches the host's loopback.
func TestNetworkAllowed(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	for _, name := range allDrivers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sb := driverFor(t, name)
			l := newLayout(t)
			r := run(t, sb, Policy{WorkDir: l.work, Network: true}, "connect", ln.Addr().String())
			if v := r.verdict(); !strings.HasPrefix(v, "ALLOWED") {
				t.Fatalf("got %q (output %q)", v, r.out)
			}
		})
	}
}

// TestWorkDirWritableVersionReadable: the worker writes its own directory and reads the
// version's and the host's runtime.
func TestWorkDirWritableVersionReadable(t *testing.T) {
	t.Parallel()
	for _, name := range allDrivers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sb := driverFor(t, name)
			l := newLayout(t)
			p := Policy{WorkDir: l.work, ReadOnly: []string{l.version}}
			if r := run(t, sb, p, "write", filepath.Join(l.work, "mine")); !strings.HasPrefix(r.verdict(), "ALLOWED") {
				t.Errorf("write own directory: %q", r.out)
			}
			if r := run(t, sb, p, "read", filepath.Join(l.version, "data")); !strings.Contains(r.verdict(), "version data") {
				t.Errorf("read the version: %q", r.out)
			}
			if r := run(t, sb, p, "read", "/etc/passwd"); !strings.HasPrefix(r.verdict(), "ALLOWED") {
				t.Errorf("read /etc/passwd: %q", r.out)
			}
			if r := run(t, sb, p, "write", "/dev/stdout"); !strings.Contains(r.out, "pwnedALLOWED") {
				t.Errorf("reopen its stdout: %q", r.out)
			}
			if r := run(t, sb, p, "fds"); !strings.HasPrefix(r.verdict(), "ALLOWED none open") {
				t.Errorf("descriptors leak into the program: %q", r.out)
			}
			if r := run(t, sb, p, "environ", "self", initEnv); !strings.HasPrefix(r.verdict(), "DENIED") {
				t.Errorf("the shim's configuration reached the program's environment: %q", r.out)
			}
			if r := run(t, sb, p, "exit"); !r.report.Exited || r.report.ExitCode != 0 || r.report.Reason != "" {
				t.Errorf("a clean exit: report %+v (output %q)", r.report, r.out)
			}
		})
	}
}

// TestShimEnvironment: the program gets its environment, and the shim, which runs as root,
// none of it (LD_PRELOAD, GODEBUG… would apply to it).
func TestShimEnvironment(t *testing.T) {
	t.Parallel()
	for _, name := range allDrivers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sb := driverFor(t, name)
			l := newLayout(t)
			cmd := exec.Command(attacker(t), attackCommand, "exit")
			// Every Go program started with this prints one "init runtime" line.
			cmd.Env = []string{"GODEBUG=inittrace=1"}
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			inst, err := sb.Wrap(cmd, Policy{WorkDir: l.work})
			must(t, err)
			runErr := cmd.Run()
			inst.Cleanup(context.Background())
			if n := strings.Count(out.String(), "init runtime "); runErr != nil || n != 1 {
				t.Fatalf("%d Go programs saw the program's environment, want 1 (err %v):\n%s", n, runErr, out.String())
			}
		})
	}
}

// TestExtraFiles: the command's ExtraFiles reach the program at the same descriptors.
func TestExtraFiles(t *testing.T) {
	t.Parallel()
	for _, name := range allDrivers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sb := driverFor(t, name)
			l := newLayout(t)
			r, w, err := os.Pipe()
			must(t, err)
			defer r.Close()
			cmd := exec.Command(attacker(t), attackCommand, "writefd", "3")
			cmd.ExtraFiles = []*os.File{w}
			inst, err := sb.Wrap(cmd, Policy{WorkDir: l.work})
			must(t, err)
			err = cmd.Run()
			w.Close()
			inst.Cleanup(context.Background())
			got, _ := io.ReadAll(r)
			if err != nil || string(got) != "pwned" {
				t.Fatalf("fd 3 got %q (err %v)", got, err)
			}
		})
	}
}
