package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/algos-dev/algos/api"
)

// TestQuickstart applies and destroys examples/quickstart for real: the terraform CLI runs the
// built provider binary, installed by `terraform init -plugin-dir`, against the shared control
// plane; the key it creates calls the algorithm over HTTP.
func TestQuickstart(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	pluginDir := providerPluginDir(t)
	// The module refers to ../algorithms/hello-python: copy both, so nothing lands in the repository.
	dir := filepath.Join(tmp, "examples", "quickstart")
	copyDir(t, "../examples/quickstart", dir)
	copyDir(t, "../examples/algorithms/hello-python", filepath.Join(tmp, "examples", "algorithms", "hello-python"))
	for _, leftover := range []string{".terraform", ".terraform.lock.hcl", "terraform.tfstate"} {
		_ = os.RemoveAll(filepath.Join(dir, leftover))
	}

	env := append(os.Environ(), "TF_IN_AUTOMATION=1", "TF_VAR_endpoint="+testServer.URL, EnvAPIKey+"="+testServer.Key)
	tf := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(tfBin, args...)
		cmd.Dir, cmd.Env = dir, env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("terraform %s: %v\n%s\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
		}
		return stdout.String()
	}
	destroyed := false
	t.Cleanup(func() {
		if !destroyed { // leave nothing behind on the shared control plane when a step failed
			cmd := exec.Command(tfBin, "destroy", "-auto-approve", "-input=false", "-no-color")
			cmd.Dir, cmd.Env = dir, env
			_ = cmd.Run()
		}
	})

	tf("init", "-input=false", "-no-color", "-plugin-dir", pluginDir)
	tf("apply", "-auto-approve", "-input=false", "-no-color")
	if out := tf("plan", "-detailed-exitcode", "-input=false", "-no-color"); !strings.Contains(out, "No changes") {
		t.Errorf("the plan after apply is not empty:\n%s", out)
	}
	url := strings.TrimSpace(tf("output", "-raw", "url"))
	if want := testServer.URL + "/v1/algo/demo/hello"; url != want {
		t.Errorf("output url = %q, want %q", url, want)
	}
	if v := strings.TrimSpace(tf("output", "-raw", "version")); v != "1.0.0" {
		t.Errorf("output version = %q, want 1.0.0", v)
	}
	curl := tf("output", "-raw", "curl")
	m := regexp.MustCompile(`-H 'Authorization: Simple ([^']+)'.*-d '([^']*)' '([^']+)'$`).FindStringSubmatch(curl)
	if m == nil {
		t.Fatalf("output curl is not the expected command: %q", curl)
	}
	// What the curl command does, done in Go; and the command itself where curl is installed.
	for _, body := range []string{callWithKey(t, m[3], m[1], m[2]), runCurl(t, curl)} {
		if body == "" {
			continue
		}
		var reply api.CallResponse
		if err := json.Unmarshal([]byte(body), &reply); err != nil {
			t.Fatalf("reply %q: %v", body, err)
		}
		if got, err := reply.Text(); err != nil || got != "Hello world" {
			t.Errorf("the algorithm answered %q (%v), want \"Hello world\"; reply %s", got, err, body)
		}
	}

	tf("destroy", "-auto-approve", "-input=false", "-no-color")
	destroyed = true
	ctx := context.Background()
	if _, err := testClient.GetPool(ctx, "quickstart"); !isNotFound(err) {
		t.Errorf("node pool quickstart after destroy: %v, want 404", err)
	}
	if _, err := testClient.GetAlgorithm(ctx, "demo", "hello"); !isNotFound(err) {
		t.Errorf("algorithm demo/hello after destroy: %v, want 404", err)
	}
}

var (
	pluginOnce sync.Once
	pluginDir  string
	pluginErr  error
)

// providerPluginDir builds cmd/terraform-provider-algos once into a directory laid out for
// `terraform init -plugin-dir`, as version 0.0.1 of registry.terraform.io/algos-dev/algos.
func providerPluginDir(t *testing.T) string {
	t.Helper()
	pluginOnce.Do(func() {
		const ver = "0.0.1"
		dir := filepath.Join(testDir, "plugins")
		bin := filepath.Join(dir, "registry.terraform.io", "algos-dev", "algos", ver, runtime.GOOS+"_"+runtime.GOARCH, "terraform-provider-algos_v"+ver)
		out, err := exec.Command("go", "build", "-ldflags", "-X main.version="+ver, "-o", bin, "../cmd/terraform-provider-algos").CombinedOutput()
		if err != nil {
			pluginErr = fmt.Errorf("build the provider: %v\n%s", err, out)
			return
		}
		pluginDir = dir
	})
	if pluginErr != nil {
		t.Fatal(pluginErr)
	}
	return pluginDir
}

// callWithKey posts body to url with the key, as the quickstart's curl command does.
func callWithKey(t *testing.T, url, key, body string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Simple "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

// runCurl runs the command with sh when curl is installed ("" when it is not).
func runCurl(t *testing.T, command string) string {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Log("curl is not installed: the command was checked by its Go equivalent only")
		return ""
	}
	out, err := exec.Command("sh", "-c", command).Output()
	if err != nil {
		t.Fatalf("%s: %v", command, err)
	}
	return string(out)
}
