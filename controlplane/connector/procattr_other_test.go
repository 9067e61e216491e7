//go:build !linux

package connector_test

import "os/exec"

func setPdeathsig(*exec.Cmd) {}
