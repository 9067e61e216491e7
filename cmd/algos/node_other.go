//go:build !linux

package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

// nodeCmds explain that the control plane and the node agent run on Linux; this build of algos
// is the command-line client.
func nodeCmds() []*cobra.Command {
	var out []*cobra.Command
	for _, name := range []string{"dev", "server", "agent"} {
		out = append(out, &cobra.Command{
			Use:   name,
			Short: "Runs on Linux only",
			RunE: func(cmd *cobra.Command, args []string) error {
				return fmt.Errorf("algos %s runs on Linux (it needs Linux process isolation); this %s build is the client: run the control plane in a Linux VM or container and point ALGOS_ENDPOINT at it", cmd.Name(), runtime.GOOS)
			},
		})
	}
	return out
}
