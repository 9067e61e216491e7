package sandbox

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// deniedCommon are the system calls every sandboxed worker gets EPERM from on every
// architecture: tracing other processes, mounting and namespaces, kernel keyrings, modules,
// BPF, perf, io_uring, and the rest of what containers deny by default.
var deniedCommon = []uintptr{
	unix.SYS_PTRACE, unix.SYS_PROCESS_VM_READV, unix.SYS_PROCESS_VM_WRITEV, unix.SYS_PIDFD_GETFD,
	unix.SYS_PROCESS_MADVISE, unix.SYS_KCMP,
	unix.SYS_MOUNT, unix.SYS_UMOUNT2, unix.SYS_PIVOT_ROOT, unix.SYS_CHROOT, unix.SYS_FSOPEN,
	unix.SYS_FSCONFIG, unix.SYS_FSMOUNT, unix.SYS_FSPICK, unix.SYS_MOVE_MOUNT, unix.SYS_OPEN_TREE,
	unix.SYS_OPEN_TREE_ATTR, unix.SYS_MOUNT_SETATTR,
	unix.SYS_UNSHARE, unix.SYS_SETNS,
	unix.SYS_BPF, unix.SYS_PERF_EVENT_OPEN, unix.SYS_USERFAULTFD,
	unix.SYS_KEYCTL, unix.SYS_ADD_KEY, unix.SYS_REQUEST_KEY,
	unix.SYS_KEXEC_LOAD, unix.SYS_KEXEC_FILE_LOAD, unix.SYS_INIT_MODULE, unix.SYS_FINIT_MODULE,
	unix.SYS_DELETE_MODULE, unix.SYS_REBOOT, unix.SYS_SWAPON, unix.SYS_SWAPOFF, unix.SYS_ACCT,
	unix.SYS_SYSLOG, unix.SYS_QUOTACTL, unix.SYS_LOOKUP_DCOOKIE, unix.SYS_NFSSERVCTL, unix.SYS_VHANGUP,
	unix.SYS_OPEN_BY_HANDLE_AT, unix.SYS_NAME_TO_HANDLE_AT,
	unix.SYS_IO_URING_SETUP, unix.SYS_IO_URING_ENTER, unix.SYS_IO_URING_REGISTER,
}

// nsCloneFlags are the clone flags that create namespaces: clone with any of them gets EPERM.
const nsCloneFlags = unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWNET |
	unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWCGROUP

// seccompSupported reports whether the kernel has seccomp filters for this architecture.
func seccompSupported() bool {
	if auditArch == 0 {
		return false
	}
	_, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0)
	return err == nil
}

// seccompFilter builds the deny-list: EPERM for the denied calls, for clone with namespace
// flags, for TIOCSTI/TIOCLINUX ioctls and (denyIP) for IP and packet sockets; ENOSYS for
// clone3 (its flags cannot be inspected; libcs fall back to clone); a foreign architecture
// (32-bit calls from a 64-bit process) kills the process.
func seccompFilter(denyIP bool) []unix.SockFilter {
	const (
		ldAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jge   = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
		jset  = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
		ret   = unix.BPF_RET | unix.BPF_K
		// offsets in struct seccomp_data (little-endian: the low half of an argument first)
		offNr   = 0
		offArch = 4
		offArg0 = 16
		offArg1 = 24
	)
	errno := func(e unix.Errno) uint32 { return unix.SECCOMP_RET_ERRNO | uint32(e) }
	stmt := func(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }
	jump := func(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: code, K: k, Jt: jt, Jf: jf}
	}
	f := []unix.SockFilter{
		stmt(ldAbs, offArch),
		jump(jeq, auditArch, 1, 0),
		stmt(ret, unix.SECCOMP_RET_KILL_PROCESS),
		stmt(ldAbs, offNr),
	}
	if x32Bit != 0 {
		f = append(f, jump(jge, x32Bit, 0, 1), stmt(ret, errno(unix.EPERM)))
	}
	for _, nr := range append(append([]uintptr(nil), deniedCommon...), deniedArch...) {
		f = append(f, jump(jeq, uint32(nr), 0, 1), stmt(ret, errno(unix.EPERM)))
	}
	f = append(f, jump(jeq, unix.SYS_CLONE3, 0, 1), stmt(ret, errno(unix.ENOSYS)))
	// clone(flags, …): flags is the first argument on amd64 and arm64.
	f = append(f,
		jump(jeq, unix.SYS_CLONE, 0, 4),
		stmt(ldAbs, offArg0),
		jump(jset, nsCloneFlags, 0, 1),
		stmt(ret, errno(unix.EPERM)),
		stmt(ret, unix.SECCOMP_RET_ALLOW),
	)
	f = append(f,
		jump(jeq, unix.SYS_IOCTL, 0, 5),
		stmt(ldAbs, offArg1),
		jump(jeq, unix.TIOCSTI, 2, 0),
		jump(jeq, unix.TIOCLINUX, 1, 0),
		stmt(ret, unix.SECCOMP_RET_ALLOW),
		stmt(ret, errno(unix.EPERM)),
	)
	if denyIP {
		f = append(f,
			jump(jeq, unix.SYS_SOCKET, 0, 6),
			stmt(ldAbs, offArg0),
			jump(jeq, unix.AF_INET, 3, 0),
			jump(jeq, unix.AF_INET6, 2, 0),
			jump(jeq, unix.AF_PACKET, 1, 0),
			stmt(ret, unix.SECCOMP_RET_ALLOW),
			stmt(ret, errno(unix.EACCES)),
		)
	}
	return append(f, stmt(ret, unix.SECCOMP_RET_ALLOW))
}

// installSeccomp loads the filter into every thread of this process. No-new-privs must be set.
func installSeccomp(denyIP bool) error {
	if auditArch == 0 {
		return fmt.Errorf("seccomp: architecture %s is not supported", runtime.GOARCH)
	}
	filter := seccompFilter(denyIP)
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	_, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC,
		uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(filter)
	if e != 0 {
		return fmt.Errorf("seccomp: install filter: %w", e)
	}
	return nil
}
