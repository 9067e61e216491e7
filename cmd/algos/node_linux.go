package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/algos-dev/algos/agent"
	"github.com/algos-dev/algos/agent/metadata"
	"github.com/algos-dev/algos/controlplane/server"
	"github.com/algos-dev/algos/sdk"
	execrunner "github.com/algos-dev/algos/sdk/exec"
	"github.com/algos-dev/algos/sdk/python"
)

// nodeCmds are the commands that run algos itself — the control plane, the node agent, the
// workers' runners — which need Linux (process groups, parent-death signals, FIFOs). The client
// commands build everywhere.
func nodeCmds() []*cobra.Command {
	return []*cobra.Command{devCmd(), serverCmd(), agentCmd(), runnerCmd(), gpuCheckCmd(), sandboxInitCmd()}
}

func devCmd() *cobra.Command {
	var listen, dataDir, advertiseURL, sandboxName string
	var nodes int
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a control plane with an embedded store and a local node pool (Ctrl-C stops everything)",
		Long: `dev starts the control plane with an embedded SQLite store and a local blob store under
--data-dir, and a node pool of the local cloud whose agents run as processes of this machine.
It prints the endpoint and the key of the administrator account "demo" as shell lines:

    eval "$(algos dev | head -2)"   # or copy the two export lines`,
		RunE: func(cmd *cobra.Command, args []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			abs, err := filepath.Abs(dataDir)
			if err != nil {
				return err
			}
			log := logger(cmd)
			s, err := server.Start(cmd.Context(), server.Config{Listen: listen, DataDir: abs, Logger: log,
				AgentBinary: self, BootstrapAccount: "demo", DevPool: nodes, PoolInterval: 2 * time.Second,
				CloudFactories: cloudFactories(log), AdvertiseURL: advertiseURL, Sandbox: sandboxFlag(sandboxName)})
			if err != nil {
				return err
			}
			fmt.Printf("export ALGOS_ENDPOINT=%s\nexport ALGOS_API_KEY=%s\n", s.URL, s.Key)
			return s.Wait()
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address of the API")
	cmd.Flags().StringVar(&dataDir, "data-dir", ".algos", "directory of the store, blobs and local nodes")
	cmd.Flags().IntVar(&nodes, "nodes", 1, "nodes in the local node pool")
	cmd.Flags().StringVar(&sandboxName, "sandbox", "auto", sandboxHelp)
	cmd.Flags().StringVar(&advertiseURL, "advertise-url", "", "URL cloud VMs reach this control plane at (for pools on clouds other than local)")
	return cmd
}

func serverCmd() *cobra.Command {
	var listen, dataDir, account, advertiseURL, sandboxName string
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane",
		RunE: func(cmd *cobra.Command, args []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			abs, err := filepath.Abs(dataDir)
			if err != nil {
				return err
			}
			log := logger(cmd)
			s, err := server.Start(cmd.Context(), server.Config{Listen: listen, DataDir: abs, Logger: log, AgentBinary: self,
				BootstrapAccount: account, CloudFactories: cloudFactories(log), AdvertiseURL: advertiseURL, Sandbox: sandboxFlag(sandboxName)})
			if err != nil {
				return err
			}
			if account != "" {
				fmt.Fprintf(os.Stderr, "administrator %s: key in %s\n", account, filepath.Join(abs, account+".key"))
			}
			return s.Wait()
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address of the API")
	cmd.Flags().StringVar(&dataDir, "data-dir", "/var/lib/algos", "directory of the store and blobs")
	cmd.Flags().StringVar(&account, "bootstrap-account", "admin", "administrator account created at first start (its key is written to the data dir)")
	cmd.Flags().StringVar(&sandboxName, "sandbox", "auto", sandboxHelp+" (for local pools)")
	cmd.Flags().StringVar(&advertiseURL, "advertise-url", "", "URL cloud VMs reach this control plane at (default: the listen address)")
	return cmd
}

func agentCmd() *cobra.Command {
	var server, dataDir, listen, advertise, instanceID, cloud, sandboxName string
	var advertisePort int
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run a node agent (reads the pool's join token from $ALGOS_JOIN_TOKEN)",
		RunE: func(cmd *cobra.Command, args []string) error {
			if instanceID == "" {
				instanceID = os.Getenv("ALGOS_INSTANCE_ID")
			}
			if instanceID == "" && cloud != "" {
				id, err := metadata.InstanceID(cmd.Context(), cloud, metadata.Default)
				if err != nil {
					return fmt.Errorf("find this VM's instance ID: %w", err)
				}
				instanceID = id
			}
			if instanceID == "" {
				instanceID, _ = os.Hostname()
			}
			if advertise == "" && advertisePort > 0 {
				ip, err := metadata.LocalAddress(server)
				if err != nil {
					return fmt.Errorf("find the address the control plane reaches this node at: %w (pass --advertise)", err)
				}
				advertise = fmt.Sprintf("http://%s", net.JoinHostPort(ip, strconv.Itoa(advertisePort)))
			}
			abs, err := filepath.Abs(dataDir)
			if err != nil {
				return err
			}
			self, _ := os.Executable()
			a, err := agent.New(agent.Config{
				Server: server, JoinToken: os.Getenv("ALGOS_JOIN_TOKEN"), InstanceID: instanceID,
				Listen: listen, Advertise: advertise, DataDir: abs, Logger: logger(cmd).With("instance_id", instanceID),
				Algos: self, PythonRunner: python.Runner(), PythonPackage: python.Package(), GoSDK: sdk.GoModule(),
				Sandbox: sandboxFlag(sandboxName),
			})
			if err != nil {
				return err
			}
			return a.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&server, "server", "http://127.0.0.1:8080", "control plane URL")
	cmd.Flags().StringVar(&dataDir, "data-dir", "/var/lib/algos-agent", "directory of artifacts and workers")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:0", "address to serve the control plane's calls on")
	cmd.Flags().StringVar(&advertise, "advertise", "", "URL the control plane reaches this agent at (default: the listen address)")
	cmd.Flags().StringVar(&instanceID, "instance-id", "", "ID of this VM (default $ALGOS_INSTANCE_ID, else from --cloud's metadata service, else the hostname)")
	cmd.Flags().StringVar(&cloud, "cloud", "", "ask this cloud's metadata service for the instance ID: aws, gcp, azure or openstack")
	cmd.Flags().IntVar(&advertisePort, "advertise-port", 0, "advertise http://<this machine's address towards the server>:PORT (with --listen 0.0.0.0:PORT)")
	def := os.Getenv("ALGOS_SANDBOX")
	if def == "" {
		def = "auto"
	}
	cmd.Flags().StringVar(&sandboxName, "sandbox", def, sandboxHelp+" (default $ALGOS_SANDBOX, else auto)")
	return cmd
}

func runnerCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "runner", Short: "Worker runners (started by the agent)", Hidden: true}
	var output string
	ex := &cobra.Command{
		Use:   "exec -- PROGRAM [ARGS…]",
		Short: "Serve the worker protocol, running PROGRAM once per call",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return execrunner.Serve(cmd.Context(), execrunner.Config{Argv: args, Output: output, Stdin: os.Stdin, Log: os.Stdout, PipePath: os.Getenv("ALGOS_PIPE_OUT")})
		},
	}
	ex.Flags().StringVar(&output, "output", "auto", "result type: auto, json, text or binary")
	cmd.AddCommand(ex)
	return cmd
}

// sandboxHelp describes the --sandbox flag.
const sandboxHelp = "worker sandbox: auto (the strongest this host offers), namespaces, basic, none (rlimits only) or off"

// sandboxFlag turns --sandbox into the agent's setting ("off" is no sandbox at all).
func sandboxFlag(s string) string {
	if s == "off" {
		return ""
	}
	return s
}
