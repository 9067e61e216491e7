//go:build unix && !linux

package local

import "syscall"

// sysProcAttr puts an instance in its own process group. Without Pdeathsig outside Linux,
// instances outlive a driver process that dies without Close.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// memTotalMiB is unknown outside Linux.
func memTotalMiB() int { return 0 }
