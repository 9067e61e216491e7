package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/algos-dev/algos/api"
)

func catalogCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "catalog", Short: "Search the algorithms you may call"}
	var q api.CatalogQuery
	var gpu, asJSON bool
	search := &cobra.Command{
		Use:   "search [QUERY...]",
		Short: "Search the catalog: every word must match an algorithm's name, summary, tags, description or README",
		Example: `  algos catalog search sentiment
  algos catalog search image classifier --tag vision --gpu
  algos catalog search --owner demo --gpu=false`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			q.Q = strings.Join(args, " ")
			if cmd.Flags().Changed("gpu") {
				q.GPU = &gpu
			}
			p, err := c.SearchCatalog(cmd.Context(), q)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(p)
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ALGORITHM\tVERSION\tRUNTIME\tGPU\tCALLS\tP50 (ms)\tSUMMARY")
			for _, e := range p.Results {
				fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\t%d\t%s\t%s\n", e.Owner, e.Name, orDash(e.LatestVersion), orDash(e.Runtime),
					map[bool]string{true: "yes", false: "no"}[e.GPU], e.Calls, latency(e.LatencyP50Ms), clipLine(e.Summary, 60))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "%d of %d\n", len(p.Results), p.Total)
			if p.NextMarker != "" {
				fmt.Fprintf(os.Stderr, "next page: --marker %s\n", p.NextMarker)
			}
			return nil
		},
	}
	f := search.Flags()
	f.StringSliceVar(&q.Tags, "tag", nil, "only algorithms with this tag (repeatable: all of them)")
	f.StringVar(&q.Owner, "owner", "", "only algorithms of this account")
	f.BoolVar(&gpu, "gpu", false, "only algorithms that need a GPU (--gpu=false: only those that do not)")
	f.IntVar(&q.Limit, "limit", 0, "results per page, 1 to 100 (default 20)")
	f.StringVar(&q.Marker, "marker", "", "the next page, as the previous page printed")
	f.BoolVar(&asJSON, "json", false, "print the page as JSON")

	var showJSON bool
	show := &cobra.Command{
		Use:   "show OWNER/NAME",
		Short: "Show an algorithm's catalog page: details, README, versions and usage",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			o, n, ok := strings.Cut(args[0], "/")
			if !ok || o == "" || n == "" || strings.Contains(n, "/") {
				return errors.New("name the algorithm as OWNER/NAME")
			}
			a, err := c.CatalogAlgorithm(cmd.Context(), o, n)
			if err != nil {
				return err
			}
			if showJSON {
				return printJSON(a)
			}
			fmt.Printf("%s/%s  %s\n", a.Owner, a.Name, a.Summary)
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			for _, kv := range [][2]string{
				{"latest version", orDash(a.LatestVersion)}, {"visibility", a.Visibility}, {"runtime", orDash(a.Runtime)},
				{"gpu", strconv.FormatBool(a.GPU)}, {"price per call", strconv.FormatFloat(a.Price, 'f', -1, 64)},
				{"tags", orDash(strings.Join(a.Tags, ", "))}, {"license", orDash(a.License)},
				{"calls", strconv.FormatInt(a.Calls, 10)}, {"p50 latency (ms)", latency(a.LatencyP50Ms)},
				{"sample input", orDash(string(a.SampleInput))}, {"sample output", orDash(string(a.SampleOutput))},
			} {
				fmt.Fprintf(tw, "  %s:\t%s\n", kv[0], kv[1])
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if a.Description != "" {
				fmt.Printf("\n%s\n", a.Description)
			}
			if a.README != "" {
				fmt.Printf("\n%s\n", strings.TrimRight(a.README, "\n"))
			}
			fmt.Println()
			tw = tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tVISIBILITY\tRUNTIME\tGPU\tCALLS\tP50 (ms)\tRELEASE NOTES")
			for _, v := range a.Versions {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%d\t%s\t%s\n", v.Version, v.Visibility, orDash(v.Runtime), v.GPU, v.Calls,
					latency(v.LatencyP50Ms), clipLine(v.ReleaseNotes, 60))
			}
			return tw.Flush()
		},
	}
	show.Flags().BoolVar(&showJSON, "json", false, "print the page as JSON")
	cmd.AddCommand(search, show)
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func latency(ms *float64) string {
	if ms == nil {
		return "-"
	}
	return strconv.FormatFloat(*ms, 'f', 3, 64)
}

// clipLine shortens s to at most n characters on one line.
func clipLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
