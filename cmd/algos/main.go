// Command algos is the algos control plane, node agent, local development environment and
// command-line client in one binary.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Set by the release build (-ldflags "-X main.version=… -X main.commit=…").
var (
	version = "dev"
	commit  = ""
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := rootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "algos:", err)
		os.Exit(1)
	}
}

func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "algos",
		Short:         "algos turns algorithms into scalable, versioned REST endpoints",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version + map[bool]string{true: "", false: " (" + commit + ")"}[commit == ""],
	}
	root.PersistentFlags().String("endpoint", "", "control plane URL (default $ALGOS_ENDPOINT or http://127.0.0.1:8080)")
	root.PersistentFlags().String("log-level", "info", "log level: debug, info, warn, error")
	root.AddCommand(algoCmd(), callCmd(), keyCmd(), poolCmd(), cloudAccountCmd(), requestCmd())
	root.AddCommand(nodeCmds()...)
	root.AddCommand(simCmd())
	root.AddCommand(dataCmd())
	root.AddCommand(catalogCmd())
	root.AddCommand(usageCmd())
	root.AddCommand(accountCmd(), orgCmd())
	return root
}

func logger(cmd *cobra.Command) *slog.Logger {
	lvl := slog.LevelInfo
	if s, _ := cmd.Flags().GetString("log-level"); s != "" {
		_ = lvl.UnmarshalText([]byte(s))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
}
