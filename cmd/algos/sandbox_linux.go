package main

import (
	"github.com/spf13/cobra"

	"github.com/algos-dev/algos/agent/sandbox"
)

// sandboxInitCmd is the sandbox's re-exec shim: the agent starts every sandboxed worker as
// `algos sandbox-init -- PROGRAM [ARGS…]` with its configuration in the environment, and the
// shim sets the sandbox up (namespaces, mounts, cgroups, rlimits, Landlock, seccomp) before it
// executes PROGRAM. Go cannot run code between fork and exec, hence the re-exec.
func sandboxInitCmd() *cobra.Command {
	return &cobra.Command{
		Use:                sandbox.InitCommand + " -- PROGRAM [ARGS…]",
		Short:              "Run a worker inside its sandbox (started by the agent)",
		Hidden:             true,
		DisableFlagParsing: true,
		Run:                func(*cobra.Command, []string) { sandbox.InitMain() },
	}
}
