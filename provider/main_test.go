package provider

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/server"
)

// The acceptance tests share one in-process control plane with the local cloud, started by
// TestMain: a real store, blob store, and agents that are real processes of the algos binary.
var (
	testServer *server.Server
	testClient *api.Client // the bootstrap administrator "demo"
	algosBin   string      // the algos binary the local cloud boots agents with
	tfBin      string      // the terraform CLI
	testDir    string      // removed when the tests end
)

// providerFactories serves the provider in-process to the terraform CLI.
var providerFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"algos": providerserver.NewProtocol6WithError(New("test")()),
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	var err error
	if tfBin, err = exec.LookPath("terraform"); err != nil {
		fmt.Fprintln(os.Stderr, "the provider's acceptance tests need the terraform CLI on PATH "+
			"(https://developer.hashicorp.com/terraform/install): ", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "algos-provider-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	testDir = dir
	algosBin = filepath.Join(dir, "algos")
	build := exec.Command("go", "build", "-o", algosBin, "../cmd/algos")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build algos:", err)
		return 1
	}
	// The acceptance environment: no checkpoint calls, a CLI config that exists (the default one
	// may point at a missing file), and no provider settings leaking in from the environment.
	cliConfig := filepath.Join(dir, "terraformrc")
	if err := os.WriteFile(cliConfig, nil, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for k, v := range map[string]string{"CHECKPOINT_DISABLE": "1", "TF_ACC": "1", "TF_ACC_TERRAFORM_PATH": tfBin, "TF_CLI_CONFIG_FILE": cliConfig} {
		os.Setenv(k, v)
	}
	os.Unsetenv(EnvEndpoint)
	os.Unsetenv(EnvAPIKey)

	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	testServer, err = server.Start(ctx, server.Config{
		Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"), Logger: log, AgentBinary: algosBin,
		BootstrapAccount: "demo", DevPool: 1, PoolInterval: 200 * time.Millisecond, HeartbeatInterval: 300 * time.Millisecond,
	})
	if err != nil {
		cancel()
		fmt.Fprintln(os.Stderr, "start control plane:", err)
		return 1
	}
	defer func() {
		cancel()
		if err := testServer.Wait(); err != nil {
			fmt.Fprintln(os.Stderr, "control plane:", err)
		}
	}()
	testClient = api.NewClient(testServer.URL, testServer.Key)
	deadline := time.Now().Add(30 * time.Second)
	for len(testServer.Fleet.ReadyNodes()) == 0 {
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "the dev pool's node did not become ready in 30s")
			return 1
		}
		time.Sleep(50 * time.Millisecond)
	}
	return m.Run()
}

// providerConfig is the provider block for the shared control plane. The endpoint and key are
// in the configuration: parallel tests cannot set the environment.
func providerConfig() string {
	return fmt.Sprintf("provider \"algos\" {\n  endpoint = %q\n  api_key  = %q\n}\n", testServer.URL, testServer.Key)
}

// writeFiles writes files (name → content) into dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// pySource is a Python algorithm that answers result.
func pySource(result string) map[string]string {
	return map[string]string{"main.py": fmt.Sprintf("def apply(input):\n    return %q\n", result)}
}

// copyDir copies a directory tree of regular files.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}
