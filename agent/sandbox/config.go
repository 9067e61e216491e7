package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
)

// InitCommand is the subcommand the shim runs as: a binary that hands
// `<binary> sandbox-init …` to InitMain (cmd/algos does; tests do it in TestMain).
const InitCommand = "sandbox-init"

// Config configures the drivers. Zero values take the defaults named on each field.
type Config struct {
	// Shim is the command that runs InitMain: a binary and its arguments (the driver appends
	// "--" and the program's). Default: this executable, InitCommand.
	Shim []string
	// UID and GID are the host ids workers run as when the agent is root (basic and
	// namespaces drivers); the namespaces driver maps them to uid/gid 1000 inside. Default
	// 65534 (nobody, nogroup). Wrap chowns Policy.WorkDir and its contents, and the top of
	// each ReadWrite path, to them.
	UID, GID int
	// SystemPaths are the read-only paths every worker sees (namespaces) or may read (basic,
	// with Landlock) besides the policy's: the system's programs and libraries. Missing ones
	// are skipped. Default: /usr /bin /sbin /lib /lib32 /lib64 /libx32 /etc.
	SystemPaths []string
	// CgroupParent, when set, is the cgroup under which worker cgroups are created, as a
	// path inside each cgroup hierarchy (for example /algos.slice, delegated to the agent with
	// its cgroup.subtree_control enabling memory, pids and cpu on cgroup v2). Default: the
	// agent's own cgroup in each hierarchy.
	CgroupParent string
}

// DefaultSystemPaths is the default of Config.SystemPaths.
var DefaultSystemPaths = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"}

func (c Config) withDefaults() (Config, error) {
	if len(c.Shim) == 0 {
		self, err := os.Executable()
		if err != nil {
			return c, fmt.Errorf("sandbox: find this executable for the shim: %w", err)
		}
		c.Shim = []string{self, InitCommand}
	}
	if c.UID == 0 {
		c.UID = 65534
	}
	if c.GID == 0 {
		c.GID = 65534
	}
	if c.SystemPaths == nil {
		c.SystemPaths = DefaultSystemPaths
	}
	return c, nil
}

// Validate reports a relative shim or system path, or a negative id, wrapping ErrInvalidPolicy.
func (c Config) Validate() error {
	if len(c.Shim) > 0 && !filepath.IsAbs(c.Shim[0]) {
		return fmt.Errorf("%w: Config.Shim[0] %q is not absolute", ErrInvalidPolicy, c.Shim[0])
	}
	for _, p := range c.SystemPaths {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("%w: system path %q is not absolute", ErrInvalidPolicy, p)
		}
	}
	if c.UID < 0 || c.GID < 0 {
		return fmt.Errorf("%w: Config.UID and GID must not be negative", ErrInvalidPolicy)
	}
	return nil
}

// HostInfo is what Detect found, for the node's status.
type HostInfo struct {
	// Driver and Level are the strongest driver that works here, and its level.
	Driver string `json:"driver"`
	Level  string `json:"level"`
	// Root: the agent runs as root (else the namespaces driver maps the agent's own uid).
	Root bool `json:"root"`
	// Namespaces: user, PID, mount, network, IPC and UTS namespaces work together (the probe
	// of the namespaces driver passed).
	Namespaces bool `json:"namespaces"`
	// Landlock is the kernel's Landlock ABI version, 0 when missing or disabled.
	Landlock int `json:"landlock_abi"`
	// Seccomp: seccomp filters work.
	Seccomp bool `json:"seccomp"`
	// Cgroup is what limits and tree kill can use.
	Cgroup CgroupInfo `json:"cgroup"`
	// Problems say why a stronger driver or a limit is unavailable and what to do, and what
	// Detect changed to make limits work (moving the agent into a leaf cgroup).
	Problems []string `json:"problems,omitempty"`
}

// CgroupInfo describes the cgroups the sandbox can use.
type CgroupInfo struct {
	// Version is "v2", "v1", "hybrid" (v1 controllers plus a cgroup2 hierarchy) or "" (none).
	Version string `json:"version"`
	// Controllers maps each usable limit controller (memory, pids, cpu) to the hierarchy that
	// provides it: "v1" or "v2".
	Controllers map[string]string `json:"controllers"`
	// Kill is how a whole tree is killed: "cgroup.kill" (v2), "freezer" (v1), "procs" (kill
	// the members of a v1 cgroup until none is left) or "pgroup" (the process group and, for
	// the namespaces driver, the PID namespace's init).
	Kill string `json:"kill"`
}
