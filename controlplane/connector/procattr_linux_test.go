package connector_test

import (
	"os/exec"
	"syscall"
)

// setPdeathsig has the child killed when the test binary dies without cleaning up.
func setPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
