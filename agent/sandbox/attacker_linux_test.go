package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// attackCommand makes the test binary the attacker: `<test binary> sandbox-attack NAME ARGS…`
// runs inside a sandbox, tries one thing and prints one line, "ALLOWED …" or "DENIED …".
const attackCommand = "sandbox-attack"

// attackMain runs one attack and exits (directly: a race-enabled binary's os.Exit lingers).
func attackMain(args []string) {
	allowed, detail := attack(args)
	word := "DENIED"
	if allowed {
		word = "ALLOWED"
	}
	fmt.Printf("%s %s\n", word, detail)
	unix.Exit(0)
}

func attack(args []string) (bool, string) {
	if len(args) == 0 {
		return false, "no attack named"
	}
	arg := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	switch args[0] {
	case "read":
		b, err := os.ReadFile(arg(1))
		if err != nil {
			return false, err.Error()
		}
		return true, fmt.Sprintf("read %d bytes: %q", len(b), b)
	case "environ": // environ PID SECRET: another process's environment
		b, err := os.ReadFile("/proc/" + arg(1) + "/environ")
		switch {
		case err != nil:
			return false, err.Error()
		case !bytes.Contains(b, []byte(arg(2))):
			return false, fmt.Sprintf("read %d bytes without the secret", len(b))
		}
		return true, "the secret is readable"
	case "signal": // signal PID: SIGCONT, harmless but for the permission it needs
		pid, _ := strconv.Atoi(arg(1))
		if err := unix.Kill(pid, unix.SIGCONT); err != nil {
			return false, "kill: " + err.Error()
		}
		return true, "signalled " + arg(1)
	case "fds": // the descriptors open above stderr
		var open []string
		for fd := 3; fd < 256; fd++ {
			if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
				target, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
				if strings.HasPrefix(target, "/sys/fs/cgroup/") {
					continue // the Go runtime's own (GOMAXPROCS follows the CPU limit)
				}
				open = append(open, fmt.Sprintf("%d:%s", fd, target))
			}
		}
		if len(open) > 0 {
			return false, fmt.Sprint("open: ", open)
		}
		return true, "none open"
	case "writefd": // writefd N: write to an inherited descriptor
		fd, _ := strconv.Atoi(arg(1))
		if _, err := os.NewFile(uintptr(fd), "fd").Write([]byte("pwned")); err != nil {
			return false, err.Error()
		}
		return true, "wrote fd " + arg(1)
	case "write":
		if err := os.WriteFile(arg(1), []byte("pwned"), 0o644); err != nil {
			return false, err.Error()
		}
		return true, "wrote " + arg(1)
	case "connect":
		c, err := net.DialTimeout("tcp", arg(1), 2*time.Second)
		if err != nil {
			return false, err.Error()
		}
		c.Close()
		return true, "connected to " + arg(1)
	case "ptrace": // attach to a child of ours: allowed without a sandbox, even by Yama
		child := exec.Command("/proc/self/exe", attackCommand, "sleep", "10")
		if err := child.Start(); err != nil {
			return false, "start the victim: " + err.Error()
		}
		defer func() { child.Process.Kill(); child.Wait() }()
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := unix.PtraceAttach(child.Process.Pid); err != nil {
			return false, "ptrace: " + err.Error()
		}
		unix.PtraceDetach(child.Process.Pid)
		return true, "attached"
	case "mount":
		if err := unix.Mount("tmpfs", arg(1), "tmpfs", 0, "size=1m"); err != nil {
			return false, "mount: " + err.Error()
		}
		unix.Unmount(arg(1), unix.MNT_DETACH)
		return true, "mounted"
	case "userns":
		child := exec.Command("/proc/self/exe", attackCommand, "exit")
		child.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}
		if err := child.Run(); err != nil {
			return false, "new user namespace: " + err.Error()
		}
		return true, "created a user namespace"
	case "sleep": // sleep SECONDS [MARKER]
		s, _ := strconv.ParseFloat(arg(1), 64)
		time.Sleep(time.Duration(s * float64(time.Second)))
		return true, "slept"
	case "spin": // spin SECONDS: burn CPU
		s, _ := strconv.ParseFloat(arg(1), 64)
		end := time.Now().Add(time.Duration(s * float64(time.Second)))
		n := 0
		for time.Now().Before(end) {
			n++
		}
		return true, fmt.Sprintf("spun %d times", n)
	case "exit":
		return true, ""
	case "daemon": // daemon MARKER PIDFILE: double fork and setsid, the daemon outlives us
		child := exec.Command("/proc/self/exe", attackCommand, "daemon-child", arg(1), arg(2))
		child.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if out, err := child.CombinedOutput(); err != nil {
			return false, fmt.Sprintf("%v: %s", err, out)
		}
		if _, err := os.Stat(arg(2)); err != nil {
			return false, "the daemon did not start"
		}
		return true, "daemon started"
	case "daemon-child":
		d := exec.Command("/proc/self/exe", attackCommand, "sleep", "60", arg(1))
		if err := d.Start(); err != nil {
			return false, err.Error()
		}
		if err := os.WriteFile(arg(2), []byte(strconv.Itoa(d.Process.Pid)), 0o644); err != nil {
			return false, err.Error()
		}
		return true, "forked"
	case "memhog": // memhog MIB: allocate and touch
		n, _ := strconv.Atoi(arg(1))
		var keep [][]byte
		for i := 0; i < n; i += 8 {
			b := make([]byte, 8<<20)
			for j := 0; j < len(b); j += 4096 {
				b[j] = 1
			}
			keep = append(keep, b)
		}
		return true, fmt.Sprintf("allocated %d MiB", len(keep)*8)
	case "nofile":
		var core unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_CORE, &core)
		n := 0
		for ; n < 100000; n++ {
			if _, err := os.Open(os.DevNull); err != nil {
				break
			}
		}
		return true, fmt.Sprintf("opened=%d core=%d", n, core.Max)
	case "bigfile": // bigfile PATH: write 2 MiB
		signal := make([]byte, 2<<20)
		err := os.WriteFile(arg(1), signal, 0o644)
		if err != nil {
			return false, err.Error()
		}
		return true, "wrote 2 MiB"
	}
	return false, "unknown attack " + strconv.Quote(args[0]) + ": " + errors.ErrUnsupported.Error()
}
