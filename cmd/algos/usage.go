package main

import (
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/algos-dev/algos/api"
)

// parseWhen reads a --from/--to flag: an RFC 3339 time, a date, or a duration before now
// ("24h").
func parseWhen(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return time.Now().Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time (2006-01-02T15:04:05Z), a date (2006-01-02) or a duration before now (24h)", s)
}

func usageCmd() *cobra.Command {
	var as, account, bucket, from, to string
	var asJSON, calls bool
	var limit int
	cmd := &cobra.Command{
		Use:   "usage",
		Short: "Show what your calls used and cost (or, with --as author, what your algorithms earned)",
		Long: "Usage in credits per time bucket and version. A call is billed its compute time rounded up to\n" +
			"whole seconds plus the author's royalty (price_per_call); calls made from inside algorithms are\n" +
			"charged to the original caller. --calls lists the newest call records instead.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			q := api.UsageQuery{As: as, Account: account, Bucket: bucket, Limit: limit}
			if q.From, err = parseWhen(from); err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			if q.To, err = parseWhen(to); err != nil {
				return fmt.Errorf("--to: %w", err)
			}
			if calls {
				rs, err := c.UsageCalls(cmd.Context(), q)
				if err != nil || asJSON {
					return errors.Join(err, printJSON(rs))
				}
				tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "STARTED\tVERSION\tCALLER\tPARENT\tSECONDS\tBILLED\tCREDITS\tOUTCOME")
				for _, r := range rs {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.3f\t%d\t%g\t%s\n", r.StartedAt.Local().Format(time.DateTime), r.Version, r.Account,
						r.Parent, r.DurationSeconds, r.ComputeSeconds, r.Credits, orOK(r.Outcome))
				}
				return tw.Flush()
			}
			u, err := c.Usage(cmd.Context(), q)
			if err != nil || asJSON {
				return errors.Join(err, printJSON(u))
			}
			layout := time.DateOnly
			if u.Bucket == "hour" {
				layout = "2006-01-02 15:00"
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			money := "CREDITS"
			if u.As == api.AsAuthor {
				money = "EARNED"
			}
			fmt.Fprintf(tw, "%s (UTC)\tVERSION\tCALLS\tERRORS\tCOMPUTE_S\tGPU_S\tROYALTIES\t%s\n", map[string]string{"hour": "HOUR", "day": "DAY"}[u.Bucket], money)
			for _, b := range u.Buckets {
				for _, v := range b.Versions {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%g\t%g\n", b.Start.UTC().Format(layout), v.Version, v.Calls, v.Errors,
						v.ComputeSeconds, v.GPUSeconds, v.Royalties, earned(u.As, v.UsageTotals))
				}
			}
			t := u.Total
			fmt.Fprintf(tw, "total\t\t%d\t%d\t%d\t%d\t%g\t%g\n", t.Calls, t.Errors, t.ComputeSeconds, t.GPUSeconds, t.Royalties, earned(u.As, t))
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&as, "as", "caller", "caller: what your calls cost; author: what your algorithms earned")
	f.StringVar(&account, "account", "", "another account's usage (administrators)")
	f.StringVar(&bucket, "bucket", "day", "time bucket: hour or day")
	f.StringVar(&from, "from", "", "start: a time, a date or a duration before now (default 30 days, or 1 day by hour)")
	f.StringVar(&to, "to", "", "end (exclusive): a time, a date or a duration before now (default now)")
	f.BoolVar(&calls, "calls", false, "list the newest call records instead of sums")
	f.IntVar(&limit, "limit", 0, "with --calls: how many records (default 100, at most 1000)")
	f.BoolVar(&asJSON, "json", false, "print the API's JSON")
	cmd.AddCommand(billingCmd())
	return cmd
}

// earned is what a row means in money: paid (caller) or royalties earned (author).
func earned(as string, t api.UsageTotals) float64 {
	if as == api.AsAuthor {
		return t.Royalties
	}
	return t.Credits
}

func orOK(outcome string) string {
	if outcome == "" {
		return "ok"
	}
	return outcome
}

func billingCmd() *cobra.Command {
	var credits, add, rate, keyRate float64
	var burst, keyBurst int
	var unlimited bool
	cmd := &cobra.Command{
		Use:   "billing ACCOUNT",
		Short: "Show an account's credits and rate limits; with flags, change them (administrators)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			ctx, f := cmd.Context(), cmd.Flags()
			b, err := c.Billing(ctx, args[0])
			if err != nil {
				return err
			}
			if f.Changed("add") {
				if f.Changed("credits") || unlimited {
					return errors.New("--add adds to the balance: give it without --credits or --unlimited")
				}
				if b, err = c.AddCredits(ctx, args[0], add); err != nil {
					return err
				}
			}
			changed := false
			for name, set := range map[string]func(){
				"credits":   func() { b.Credits = &credits },
				"unlimited": func() { b.Credits = nil },
				"rate":      func() { b.RatePerSecond = rate },
				"burst":     func() { b.Burst = burst },
				"key-rate":  func() { b.KeyRatePerSecond = keyRate },
				"key-burst": func() { b.KeyBurst = keyBurst },
			} {
				if f.Changed(name) {
					set()
					changed = true
				}
			}
			if changed {
				if f.Changed("credits") && unlimited {
					return errors.New("give --credits or --unlimited, not both")
				}
				b.Available = nil
				if b, err = c.SetBilling(ctx, args[0], b); err != nil {
					return err
				}
			}
			return printJSON(b)
		},
	}
	f := cmd.Flags()
	f.Float64Var(&credits, "credits", 0, "set the balance (calls are refused with 402 once it cannot pay for one)")
	f.BoolVar(&unlimited, "unlimited", false, "make the credits unlimited")
	f.Float64Var(&add, "add", 0, "add credits to the balance (negative takes them)")
	f.Float64Var(&rate, "rate", 0, "calls per second of the whole account (0: the default)")
	f.IntVar(&burst, "burst", 0, "burst of the account's rate (0: the rate rounded up)")
	f.Float64Var(&keyRate, "key-rate", 0, "calls per second of each of its keys (0: the default)")
	f.IntVar(&keyBurst, "key-burst", 0, "burst of each key's rate")
	return cmd
}
