package connector_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/server"
	"github.com/algos-dev/algos/controlplane/store"
)

// The stores behind the connectors are real servers on loopback driven by the real SDKs:
// gofakes3 and fake-gcs-server in-process, Azurite (Microsoft's Azure Storage emulator) as a
// child process shared by the package's tests.

func TestMain(m *testing.M) {
	code := m.Run()
	stopAzurite()
	os.Exit(code)
}

// Azurite's well-known development account (public, documented by Microsoft).
const (
	azAccount = "devstoreaccount1"
	azKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

var az struct {
	once sync.Once
	cmd  *exec.Cmd
	dir  string
	url  string // the account's blob service, http://127.0.0.1:port/devstoreaccount1
	skip string
	err  error
}

// azuriteBin is where Azurite is: $AZURITE_BLOB (then it is required: `make test` sets it),
// else where `make azurite` installs it.
func azuriteBin() (bin string, required bool) {
	if p := os.Getenv("AZURITE_BLOB"); p != "" {
		return p, true
	}
	dir, _ := os.Getwd()
	for d := dir; d != filepath.Dir(d); d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, ".cache", "azurite", "node_modules", ".bin", "azurite-blob"), false
		}
	}
	return "", false
}

var listeningRE = regexp.MustCompile(`successfully listens on (http://\S+)`)

func startAzurite() {
	bin, required := azuriteBin()
	if _, err := os.Stat(bin); bin == "" || err != nil {
		if required {
			az.err = fmt.Errorf("AZURITE_BLOB=%s is not there: install it with `make azurite`", bin)
		} else {
			az.skip = "Azurite is not installed: `make azurite` installs it (npm install --prefix .cache/azurite azurite@3), or set AZURITE_BLOB; `make test` always runs these tests"
		}
		return
	}
	dir, err := os.MkdirTemp("", "azurite-")
	if err != nil {
		az.err = err
		return
	}
	az.dir = dir
	cmd := exec.Command(bin, "--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence",
		"--skipApiVersionCheck", "--disableTelemetry")
	cmd.Dir = dir // where it would write anything
	setPdeathsig(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		az.err = err
		return
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		az.err = fmt.Errorf("start Azurite (%s): %w", bin, err)
		return
	}
	az.cmd = cmd
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() { // drained until Azurite exits
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		close(found)
	}()
	select {
	case u, ok := <-found:
		if !ok {
			az.err = errors.New("Azurite exited before it listened (is Node.js 18+ installed?)")
			return
		}
		az.url = strings.TrimSuffix(u, "/") + "/" + azAccount
	case <-time.After(60 * time.Second):
		az.err = errors.New("Azurite did not listen within 60 s")
	}
}

func stopAzurite() {
	if az.cmd != nil {
		_ = az.cmd.Process.Kill()
		_ = az.cmd.Wait()
	}
	if az.dir != "" {
		_ = os.RemoveAll(az.dir)
	}
}

// azurite returns the blob service URL of the shared Azurite and creates the containers.
func azurite(t testing.TB, containers ...string) string {
	t.Helper()
	az.once.Do(startAzurite)
	if az.skip != "" {
		t.Skip(az.skip)
	}
	if az.err != nil {
		t.Fatal(az.err)
	}
	cred, err := azblob.NewSharedKeyCredential(azAccount, azKey)
	if err != nil {
		t.Fatal(err)
	}
	client, err := azblob.NewClientWithSharedKeyCredential(az.url, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range containers {
		if _, err := client.CreateContainer(t.Context(), c, nil); err != nil {
			t.Fatalf("create container %s: %v", c, err)
		}
	}
	return az.url
}

// startS3 serves gofakes3 on loopback with the buckets.
func startS3(t testing.TB, buckets ...string) string {
	t.Helper()
	backend := s3mem.New()
	for _, b := range buckets {
		if err := backend.CreateBucket(b); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewUnstartedServer(gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // gofakes3 writes some error headers twice
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// startGCS serves fake-gcs-server on loopback with the buckets; auth receives the
// Authorization header of every request.
func startGCS(t testing.TB, auth func(string), buckets ...string) string {
	t.Helper()
	fake, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true, Writer: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range buckets {
		fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: b})
	}
	h := fake.HTTPHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if auth != nil {
			auth(r.Header.Get("Authorization"))
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { srv.Close(); fake.Stop() })
	return srv.URL
}

// syncBuffer is a log sink for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// cp is a real control plane (no nodes) on loopback with the administrator "root" and the
// accounts alice and bob.
type cp struct {
	srv  *server.Server
	keys map[string]string // root; alice (write, manage), alice-read, alice-none; bob (write, manage)
	logs *syncBuffer

	mu     sync.Mutex
	bodies []string // every answer, to look for credentials in
}

func startCP(t testing.TB, cfg server.Config) *cp {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	cfg.Listen, cfg.DataDir, cfg.BootstrapAccount = "127.0.0.1:0", t.TempDir(), "root"
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := server.Start(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("start control plane: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := s.Wait(); err != nil {
			t.Errorf("control plane: %v", err)
		}
	})
	c := &cp{srv: s, logs: logs, keys: map[string]string{"root": s.Key}}
	for _, k := range []struct {
		acct, name, data string
		manage           bool
	}{
		{"alice", "alice", "write", true}, {"alice", "alice-read", "read", false}, {"alice", "alice-none", "none", false},
		{"bob", "bob", "write", true},
	} {
		if err := s.Store.CreateAccount(ctx, store.Account{Name: k.acct, CreatedAt: time.Now()}); err != nil && !errors.Is(err, store.ErrConflict) {
			t.Fatal(err)
		}
		key, err := s.Keys.Create(ctx, k.acct, api.CreateKey{Name: k.name, Data: k.data, Manage: k.manage})
		if err != nil {
			t.Fatal(err)
		}
		c.keys[k.name] = key.Secret
	}
	return c
}

// do sends a raw request (the path as written, never cleaned; no redirects followed) and
// returns the answer with its body read.
func (c *cp) do(t testing.TB, who, method, path string, body io.Reader, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, c.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Simple "+c.keys[who])
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	c.mu.Lock()
	c.bodies = append(c.bodies, fmt.Sprint(resp.Header)+string(b))
	c.mu.Unlock()
	return resp, b
}

// json sends v as JSON and decodes a 2xx answer into out (when not nil); it returns the status.
func (c *cp) json(t testing.TB, who, method, path string, v, out any) (int, []byte) {
	t.Helper()
	var body io.Reader
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	resp, b := c.do(t, who, method, path, body, "Content-Type", "application/json")
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return resp.StatusCode, b
}

// connector creates a connector with the key of who and fails the test unless it is created.
func (c *cp) connector(t testing.TB, who string, in map[string]any) api.Connector {
	t.Helper()
	var out api.Connector
	if status, b := c.json(t, who, http.MethodPost, "/v1/connectors", in, &out); status != http.StatusCreated {
		t.Fatalf("create connector %v: %d %s", in["name"], status, b)
	}
	return out
}

// wantEnvelope checks a status and Algorithmia's error envelope; it returns the message.
func wantEnvelope(t testing.TB, what string, resp *http.Response, body []byte, status int, errType string) string {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("%s: status %d, want %d (body %.300s)", what, resp.StatusCode, status, body)
		return ""
	}
	if resp.Request.Method == http.MethodHead {
		return ""
	}
	var env api.ErrorEnvelope
	if err := json.Unmarshal(body, &env); err != nil || env.Error.Message == "" || env.Error.ErrorType != errType {
		t.Errorf("%s: body %.300s, want the error envelope with error_type %s", what, body, errType)
	}
	return env.Error.Message
}

// noSecrets fails the test when an answer of the control plane or its log holds one of the
// secrets.
func (c *cp) noSecrets(t testing.TB, secrets ...string) {
	t.Helper()
	c.mu.Lock()
	all := strings.Join(c.bodies, "\n")
	c.mu.Unlock()
	logs := c.logs.String()
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("an API answer holds the secret %q", s)
		}
		if strings.Contains(logs, s) {
			t.Errorf("the control plane's log holds the secret %q", s)
		}
	}
}
