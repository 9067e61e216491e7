package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/algos-dev/algos/api"
)

// client builds an API client from --endpoint/$ALGOS_ENDPOINT and $ALGOS_API_KEY.
func client(cmd *cobra.Command) (*api.Client, error) {
	ep, _ := cmd.Flags().GetString("endpoint")
	if ep == "" {
		ep = os.Getenv("ALGOS_ENDPOINT")
	}
	if ep == "" {
		ep = "http://127.0.0.1:8080"
	}
	key := os.Getenv("ALGOS_API_KEY")
	if key == "" {
		return nil, errors.New("no API key: set ALGOS_API_KEY (algos dev prints it)")
	}
	return api.NewClient(ep, key), nil
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func algoCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "algo", Short: "Publish and manage algorithms"}
	var name, owner, bump, version, notes, visibility string
	publish := &cobra.Command{
		Use:   "publish DIR",
		Short: "Publish a source directory (with its algorithm.json) as a new immutable version",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			m, err := api.ReadManifest(args[0])
			if err != nil {
				return err
			}
			if name == "" {
				name = m.Name
			}
			if name == "" {
				abs, _ := filepath.Abs(args[0])
				name = filepath.Base(abs)
			}
			if owner == "" {
				acct, err := c.Account(ctx)
				if err != nil {
					return err
				}
				owner = acct.Name
			}
			if _, err := c.GetAlgorithm(ctx, owner, name); err != nil {
				var ae *api.Error
				if !errors.As(err, &ae) || ae.Status != 404 {
					return err
				}
				if _, err := c.CreateAlgorithm(ctx, owner, api.CreateAlgorithm{Name: name, Description: m.Description}); err != nil {
					return err
				}
			}
			art, digest, err := api.PackSource(args[0])
			if err != nil {
				return err
			}
			v, err := c.PublishVersion(ctx, owner, name, bytes.NewReader(art), api.PublishOptions{Bump: bump, Version: version, ReleaseNotes: notes, Visibility: visibility})
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "published %s/%s %s (%s, %s)\n", v.Owner, v.Name, v.Version, v.Manifest.Runtime, digest[:19])
			fmt.Println(v.Owner + "/" + v.Name + "/" + v.Version)
			return nil
		},
	}
	publish.Flags().StringVar(&name, "name", "", "algorithm name (default: the manifest's name, else the directory's)")
	publish.Flags().StringVar(&owner, "owner", "", "owner account (default: the key's)")
	publish.Flags().StringVar(&bump, "bump", "", "major, minor (default) or patch; the first version is 1.0.0")
	publish.Flags().StringVar(&version, "version", "", "explicit semantic version, e.g. 2.1.0")
	publish.Flags().StringVar(&notes, "release-notes", "", "release notes")
	publish.Flags().StringVar(&visibility, "visibility", "", "public or private (default: the manifest's, else public)")

	versions := &cobra.Command{
		Use:   "versions OWNER/NAME",
		Short: "List an algorithm's versions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			o, n, ok := strings.Cut(args[0], "/")
			if !ok {
				return errors.New("name the algorithm as OWNER/NAME")
			}
			vs, err := c.ListVersions(cmd.Context(), o, n)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tRUNTIME\tVISIBILITY\tDIGEST")
			for _, v := range vs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.Version, v.Manifest.Runtime, v.Visibility, v.Digest[:19])
			}
			return tw.Flush()
		},
	}
	del := &cobra.Command{
		Use:   "delete OWNER/NAME",
		Short: "Delete an algorithm and all its versions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			o, n, ok := strings.Cut(args[0], "/")
			if !ok {
				return errors.New("name the algorithm as OWNER/NAME")
			}
			return c.DeleteAlgorithm(cmd.Context(), o, n)
		},
	}
	logs := &cobra.Command{
		Use:   "logs OWNER/NAME[/VERSION]",
		Short: "Print the recent log (stdout and stderr) of a version's workers",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			parts := strings.SplitN(args[0], "/", 3)
			if len(parts) < 2 {
				return errors.New("name the algorithm as OWNER/NAME[/VERSION]")
			}
			ver := ""
			if len(parts) == 3 {
				ver = parts[2]
			}
			out, err := c.WorkerLogs(cmd.Context(), parts[0], parts[1], ver)
			if err != nil {
				return err
			}
			fmt.Print(out)
			return nil
		},
	}
	graph := &cobra.Command{
		Use:   "graph OWNER/NAME",
		Short: "Show an algorithm's call graph: what it calls (transitively), who calls it, call counts",
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
			g, err := c.CallGraph(cmd.Context(), o, n)
			if err != nil {
				return err
			}
			fmt.Printf("%-40s %10s %12s\n", "VERSION", "CALLS", "BUSY (s)")
			for _, v := range g.Versions {
				fmt.Printf("%-40s %10d %12.3f\n", v.Version, v.Calls, v.BusySeconds)
			}
			fmt.Println()
			fmt.Printf("%-40s    %-40s %8s %10s\n", "CALLER", "CALLEE", "CALLS", "SAME NODE")
			for _, e := range g.Edges {
				fmt.Printf("%-40s -> %-40s %8d %10d\n", e.Caller, e.Callee, e.Calls, e.SameNode)
			}
			return nil
		},
	}
	cmd.AddCommand(publish, versions, del, logs, graph)
	return cmd
}

func callCmd() *cobra.Command {
	var text, async, stdout bool
	var file string
	var timeout int
	cmd := &cobra.Command{
		Use:   "call OWNER/NAME[/VERSION] [INPUT]",
		Short: "Call an algorithm: INPUT is JSON (or text with --text; '-' or none reads stdin; --file sends bytes)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			var in []byte
			ct := "application/json"
			switch {
			case file != "":
				if in, err = os.ReadFile(file); err != nil {
					return err
				}
				ct = "application/octet-stream"
			case len(args) == 2 && args[1] != "-":
				in = []byte(args[1])
			default:
				if in, err = io.ReadAll(os.Stdin); err != nil {
					return err
				}
			}
			if text {
				ct = "text/plain"
			}
			ctx := cmd.Context()
			o := api.CallOptions{Timeout: timeout, Stdout: stdout}
			if async {
				r, err := c.CallAsync(ctx, args[0], ct, in, o)
				if err != nil {
					return err
				}
				fmt.Println(r.RequestID)
				return nil
			}
			r, err := c.Call(ctx, args[0], ct, in, o)
			if err != nil {
				return err
			}
			return printResult(r)
		},
	}
	cmd.Flags().BoolVar(&text, "text", false, "send INPUT as text")
	cmd.Flags().StringVar(&file, "file", "", "send this file's bytes as binary input")
	cmd.Flags().BoolVar(&async, "async", false, "call with output=void and print the request ID")
	cmd.Flags().BoolVar(&stdout, "stdout", false, "print the call's log (your own algorithms only)")
	cmd.Flags().IntVar(&timeout, "timeout", 0, "timeout in seconds (default: the version's)")
	return cmd
}

// printResult prints a call's result: text as is, JSON indented, binary to stdout raw.
func printResult(r *api.CallResponse) error {
	if r.Error != nil {
		return fmt.Errorf("%s: %s", r.Error.ErrorType, r.Error.Message)
	}
	if r.Metadata != nil && r.Metadata.Stdout != nil && *r.Metadata.Stdout != "" {
		fmt.Fprint(os.Stderr, *r.Metadata.Stdout)
	}
	ct := ""
	if r.Metadata != nil {
		ct = r.Metadata.ContentType
	}
	switch ct {
	case api.ContentText:
		s, err := r.Text()
		if err != nil {
			return err
		}
		fmt.Println(s)
	case api.ContentBinary:
		b, err := r.Bytes()
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(b)
		return err
	default:
		var buf bytes.Buffer
		if err := json.Indent(&buf, r.Result, "", "  "); err != nil {
			return err
		}
		fmt.Println(buf.String())
	}
	return nil
}

func requestCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "request", Short: "Asynchronous requests"}
	var wait time.Duration
	get := &cobra.Command{
		Use:   "get ID",
		Short: "Print an asynchronous request's result (waits up to --wait while it runs)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), wait)
			defer cancel()
			for {
				r, done, err := c.GetRequest(ctx, args[0])
				if err != nil {
					return err
				}
				if done {
					return printResult(r)
				}
				select {
				case <-ctx.Done():
					return errors.New("the request is still running")
				case <-time.After(200 * time.Millisecond):
				}
			}
		},
	}
	get.Flags().DurationVar(&wait, "wait", 30*time.Second, "how long to wait for a running request")
	cmd.AddCommand(get)
	return cmd
}

func keyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "Manage API keys"}
	var name, data string
	var algos []string
	var manage bool
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API key (its secret is printed once)",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			k, err := c.CreateKey(cmd.Context(), api.CreateKey{Name: name, Algorithms: algos, Data: data, Manage: manage})
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "key %s created; its secret is shown only now:\n", k.ID)
			fmt.Println(k.Secret)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "a name to recognise the key by")
	create.Flags().StringSliceVar(&algos, "algo", nil, "algorithms it may call: algo://*, algo://owner/*, algo://owner/name/* (repeatable; default all)")
	create.Flags().StringVar(&data, "data", "none", "Data API access: none, read or write")
	create.Flags().BoolVar(&manage, "manage", false, "may publish and manage algorithms and keys")
	list := &cobra.Command{
		Use:   "list",
		Short: "List your keys",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			ks, err := c.ListKeys(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tALGORITHMS\tDATA\tMANAGE\tREVOKED")
			for _, k := range ks {
				fmt.Fprintf(tw, "%s\t%s\t%s…\t%s\t%s\t%v\t%v\n", k.ID, k.Name, k.Prefix, strings.Join(k.Algorithms, ","), k.Data, k.Manage, k.RevokedAt != nil)
			}
			return tw.Flush()
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a key (effective at once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			return c.RevokeKey(cmd.Context(), args[0])
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func poolCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "pool", Short: "Manage node pools"}
	list := &cobra.Command{
		Use:   "list",
		Short: "List node pools and their nodes",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			ps, err := c.ListPools(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tCLOUD\tSIZE\tDESIRED\tSTATUS")
			for _, p := range ps {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", p.Name, p.Spec.Cloud, p.Size, p.Spec.DesiredSize, p.Status)
			}
			return tw.Flush()
		},
	}
	var cloud, itype, account, gpuType string
	var size, maxSize, gpuCount int
	var zones, fallbacks []string
	var spot bool
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a node pool",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			p, err := c.CreatePool(cmd.Context(), api.CreatePool{Name: args[0], Spec: api.PoolSpec{
				Cloud: cloud, Account: account, InstanceType: itype, FallbackInstanceTypes: fallbacks, Zones: zones, Spot: spot,
				GPUType: gpuType, GPUCount: gpuCount, MinSize: size, DesiredSize: size, MaxSize: max(size, maxSize)}})
			if err != nil {
				return err
			}
			return printJSON(p)
		},
	}
	create.Flags().StringVar(&cloud, "cloud", "local", "cloud of the pool")
	create.Flags().StringVar(&itype, "instance-type", "local", "instance type")
	create.Flags().IntVar(&size, "size", 1, "nodes")
	create.Flags().IntVar(&maxSize, "max-size", 0, "most nodes (default: size)")
	create.Flags().StringVar(&account, "account", "", "cloud account (see algos cloud-account); the local cloud needs none")
	create.Flags().StringSliceVar(&zones, "zone", nil, "allowed zones in order of preference (repeatable)")
	create.Flags().StringSliceVar(&fallbacks, "fallback-instance-type", nil, "instance types to try when the cloud has no capacity (repeatable)")
	create.Flags().BoolVar(&spot, "spot", false, "spot/preemptible instances")
	create.Flags().StringVar(&gpuType, "gpu-type", "", "GPU model the instance type carries, e.g. H100")
	create.Flags().IntVar(&gpuCount, "gpu-count", 0, "GPUs per node")
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a node pool and its nodes",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			return c.DeletePool(cmd.Context(), args[0])
		},
	}
	events := &cobra.Command{
		Use:   "events NAME",
		Short: "Show a node pool's recent events (launches, capacity fallbacks, replacements)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			evs, err := c.PoolEvents(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "LAST SEEN\tTYPE\tREASON\tCOUNT\tMESSAGE")
			for _, e := range evs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", e.LastAt.Local().Format(time.TimeOnly), e.Type, e.Reason, e.Count, e.Message)
			}
			return tw.Flush()
		},
	}
	nodes := &cobra.Command{
		Use:   "nodes",
		Short: "List nodes with their readiness and workers",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			ns, err := c.ListNodes(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tPOOL\tINSTANCE\tREADY\tCPU\tMEMORY\tGPUS\tWORKERS")
			for _, n := range ns {
				w := 0
				for _, s := range n.Workers {
					w += s.Workers
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%g\t%d MiB\t%d\t%d\n", n.ID, n.Pool, n.InstanceID, n.Ready, n.Capacity.CPU, n.Capacity.MemoryMiB, n.Capacity.GPUs, w)
			}
			return tw.Flush()
		},
	}
	var tcloud, tregion, tgpu string
	var tgpus, tmem int
	types := &cobra.Command{
		Use:   "instance-types",
		Short: "List the instance types the clouds offer (filter by cloud, region, GPU model and count, memory)",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			its, err := c.InstanceTypes(cmd.Context(), api.InstanceTypeFilter{Cloud: tcloud, Region: tregion, GPUModel: tgpu, MinGPUs: tgpus, MinMemoryMiB: tmem})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CLOUD\tNAME\tVCPU\tMEMORY\tGPUS\tUSD/H\tZONES")
			for _, t := range its {
				g := "-"
				for _, x := range t.GPUs {
					g = fmt.Sprintf("%d × %s (%d MiB)", x.Count, x.Model, x.MemoryMiB)
				}
				var zones []string
				for _, o := range t.Offerings {
					if o.Available && !slices.Contains(zones, o.Zone) {
						zones = append(zones, o.Zone)
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d MiB\t%s\t%.2f\t%s\n", t.Cloud, t.Name, t.VCPU, t.MemoryMiB, g, t.PricePerHour, strings.Join(zones, ","))
			}
			return tw.Flush()
		},
	}
	types.Flags().StringVar(&tcloud, "cloud", "", "cloud")
	types.Flags().StringVar(&tregion, "region", "", "region (zones with this prefix)")
	types.Flags().StringVar(&tgpu, "gpu", "", "GPU model, e.g. H100")
	types.Flags().IntVar(&tgpus, "min-gpus", 0, "at least this many GPUs")
	types.Flags().IntVar(&tmem, "min-memory-mib", 0, "at least this much memory")
	cmd.AddCommand(list, create, del, events, nodes, types)
	return cmd
}

func cloudAccountCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "cloud-account", Short: "Manage cloud accounts (their credentials are write-only)"}
	var cloud, settingsFile, credsFile string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Store a cloud account; settings and credentials are JSON files (see docs/clouds.md)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			in := api.CreateCloudAccount{Name: args[0], Cloud: cloud}
			for _, f := range []struct {
				path string
				dst  *json.RawMessage
			}{{settingsFile, &in.Settings}, {credsFile, &in.Credentials}} {
				if f.path == "" {
					continue
				}
				b, err := os.ReadFile(f.path)
				if err != nil {
					return err
				}
				*f.dst = b
			}
			a, err := c.CreateCloudAccount(cmd.Context(), in)
			if err != nil {
				return err
			}
			return printJSON(a)
		},
	}
	create.Flags().StringVar(&cloud, "cloud", "", "aws, gcp, azure or openstack")
	create.Flags().StringVar(&settingsFile, "settings-file", "", "JSON file of the account's settings (region, project, …)")
	create.Flags().StringVar(&credsFile, "credentials-file", "", "JSON file of its credentials (omit to use the cloud's default chain on the control plane)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List cloud accounts",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			as, err := c.ListCloudAccounts(cmd.Context())
			if err != nil {
				return err
			}
			return printJSON(as)
		},
	}
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a cloud account no pool uses",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			return c.DeleteCloudAccount(cmd.Context(), args[0])
		},
	}
	cmd.AddCommand(create, list, del)
	return cmd
}
