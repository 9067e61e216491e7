//go:build linux && !amd64 && !arm64

package sandbox

const (
	auditArch = 0 // seccomp filters are built for amd64 and arm64 only
	x32Bit    = 0
)

var deniedArch []uintptr
