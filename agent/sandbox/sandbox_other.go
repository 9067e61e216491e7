//go:build !linux

package sandbox

import (
	"context"
	"fmt"
	"os"
)

// Instance is one wrapped worker; sandboxes need Linux.
type Instance struct{}

// Kill does nothing: sandboxes need Linux.
func (i *Instance) Kill() error { return ErrUnsupported }

// Cleanup does nothing: sandboxes need Linux.
func (i *Instance) Cleanup(ctx context.Context) (Report, error) { return Report{}, ErrUnsupported }

// Detect fails with ErrUnsupported: sandboxes need Linux.
func Detect(ctx context.Context, cfg Config) (Sandbox, HostInfo, error) {
	return nil, HostInfo{}, ErrUnsupported
}

// New fails with ErrUnsupported: sandboxes need Linux.
func New(ctx context.Context, cfg Config, name string) (Sandbox, HostInfo, error) {
	return nil, HostInfo{}, ErrUnsupported
}

// InitMain exits: sandboxes need Linux.
func InitMain() {
	fmt.Fprintln(os.Stderr, "algos sandbox-init: sandboxes need Linux")
	os.Exit(125)
}
