package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/algos-dev/algos/controlplane/sim"
)

// simCmd is `algos sim`: the GPU provisioning simulator (controlplane/sim) replaying daily
// call traces against fixed capacity, reactive VM autoscaling and algos, and printing the cost
// and latency table with METRIC lines (see docs/economics.md).
func simCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Simulate GPU provisioning strategies on daily call traces: machines, cost and latency",
		Long: "Replays a daily call trace through the real autoscaler and scheduler code on a simulated clock\n" +
			"and a simulated cloud, and prints, side by side, fixed capacity for the peak, reactive VM\n" +
			"autoscaling and algos: machine-hours, cost per month, p50/p99 latency, calls over 1 s and\n" +
			"dropped, against the lower bound of busy machines. See docs/economics.md.",
	}
	var (
		boot time.Duration
		seed uint64
		days int
	)
	run := func(scenario func() sim.Config) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			cfg := scenario()
			cfg.Boot = boot
			if boot <= 0 {
				cfg.Boot = -1 // an instant cloud: Config's zero would mean the default
			}
			cfg.Seed = seed
			cfg.Days = days
			if days < 1 {
				return fmt.Errorf("--days must be at least 1")
			}
			start := time.Now()
			rep, err := sim.Compare(cfg, sim.Strategies()...)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if err := rep.WriteTable(out); err != nil {
				return err
			}
			fmt.Fprintln(out)
			if err := rep.WriteMetrics(out); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "simulated %d days in %v\n", cfg.Days, time.Since(start).Round(time.Millisecond))
			return nil
		}
	}
	for _, sc := range []struct {
		use, short string
		config     func() sim.Config
	}{
		{"seefood", "SeeFood: one algorithm, 21 calls/s on average, 140 at its lunchtime peak", sim.SeeFood},
		{"multitenant", "Four algorithms with lunchtime peaks in four time zones sharing one GPU pool", sim.MultiTenant},
	} {
		c := &cobra.Command{Use: sc.use, Short: sc.short, Args: cobra.NoArgs, RunE: run(sc.config)}
		c.Flags().DurationVar(&boot, "boot", sim.DefaultBoot, "time for the cloud to boot a GPU machine (0: instant)")
		c.Flags().Uint64Var(&seed, "seed", 0, "seed of the Poisson arrivals")
		c.Flags().IntVar(&days, "days", sim.DefaultDays, "days simulated; days 2 onwards are reported")
		cmd.AddCommand(c)
	}
	return cmd
}
