package data_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/server"
	"github.com/algos-dev/algos/controlplane/store"
)

// cp is a real control plane (no nodes) serving the Data API on loopback, with the accounts
// alice and bob.
type cp struct {
	srv  *server.Server
	keys map[string]string // "alice", "alice-read", "alice-none", "bob", "bob-read"
}

func startCP(t *testing.T) *cp {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.Start(ctx, server.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
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
	c := &cp{srv: s, keys: map[string]string{}}
	for _, acct := range []string{"alice", "bob"} {
		if err := s.Store.CreateAccount(ctx, store.Account{Name: acct, CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		for suffix, scope := range map[string]string{"": "write", "-read": "read", "-none": "none"} {
			k, err := s.Keys.Create(ctx, acct, api.CreateKey{Name: "test", Data: scope})
			if err != nil {
				t.Fatal(err)
			}
			c.keys[acct+suffix] = k.Secret
		}
	}
	return c
}

func (c *cp) client(who string) *api.Client { return api.NewClient(c.srv.URL, c.keys[who]) }

// do sends a raw request: path is sent as written (escaped), never cleaned.
func (c *cp) do(t *testing.T, who, method, path string, body io.Reader, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, c.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Simple "+c.keys[who])
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultTransport.RoundTrip(req) // no redirects followed
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// wantEnvelope checks a status and Algorithmia's error envelope.
func wantEnvelope(t *testing.T, what string, resp *http.Response, body []byte, status int, errType string) {
	t.Helper()
	var env api.ErrorEnvelope
	if resp.StatusCode != status {
		t.Errorf("%s: status %d, want %d (body %.200s)", what, resp.StatusCode, status, body)
		return
	}
	if resp.Request.Method == http.MethodHead {
		return
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Error.Message == "" || env.Error.ErrorType != errType {
		t.Errorf("%s: body %.300s, want the error envelope with error_type %s", what, body, errType)
	}
}

func statusOf(err error) int {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae.Status
	}
	if err == nil {
		return 200
	}
	return -1
}

func TestHTTPPathContainment(t *testing.T) {
	t.Parallel()
	c := startCP(t)
	ctx := t.Context()
	if _, err := c.client("alice").CreateCollection(ctx, "alice", api.CreateCollection{Name: "c", ACL: api.ACLPrivate}); err != nil {
		t.Fatal(err)
	}
	if err := c.client("alice").PutFile(ctx, "data://alice/c/f.txt", "text/plain", strings.NewReader("f")); err != nil {
		t.Fatal(err)
	}
	bad := map[string]string{
		"dot-dot":                  "alice/c/../../bob/c/f.txt",
		"dot-dot to the owner":     "alice/c/..",
		"encoded dot-dot":          "alice/c/%2e%2e/%2e%2e/etc/passwd",
		"mixed-case dot-dot":       "alice/c/%2E%2e/x",
		"half-encoded dot-dot":     "alice/c/.%2E/x",
		"double-encoded dot-dot":   "alice/c/%252e%252e/%252e%252e/x",
		"double-encoded slash":     "alice/c/a%252Fb",
		"encoded slash":            "alice/c/..%2F..%2Fetc",
		"NUL":                      "alice/c/f.txt%00.png",
		"control character":        "alice/c/a%0Db",
		"absolute path":            "/etc/passwd",
		"absolute path inside":     "alice/c//etc/passwd",
		"empty segment":            "alice/c/a//b",
		"backslash":                "alice/c/..%5C..%5Cx",
		"name over 1024 bytes":     "alice/c/" + strings.Repeat(strings.Repeat("n", 200)+"/", 6) + "x",
		"segment over 255 bytes":   "alice/c/" + strings.Repeat("n", 256),
		"reserved name":            "alice/c/.algos-folder",
		"owner not an account":     "ali%20ce/c/x",
		"collection not a name":    "alice/c%2Fd/x",
		"an algorithm's own space": ".algo/a/b",
	}
	for what, p := range bad {
		for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodHead} {
			resp, body := c.do(t, "alice", method, "/v1/data/"+p, strings.NewReader("x"))
			wantEnvelope(t, what+" "+method, resp, body, http.StatusBadRequest, api.ErrTypeInput)
		}
	}
	// Nothing escaped: bob has no collection c, and the file is intact.
	if got, err := readAll(c.client("alice"), "data://alice/c/f.txt"); err != nil || got != "f" {
		t.Errorf("after the attempts: %q, %v", got, err)
	}
}

func readAll(c *api.Client, uri string) (string, error) {
	rc, err := c.GetFile(context.Background(), uri)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return string(b), err
}

func TestHTTPRights(t *testing.T) {
	t.Parallel()
	c := startCP(t)
	ctx := t.Context()
	alice := c.client("alice")
	for _, acl := range []api.ACL{api.ACLPublic, api.ACLMyAlgorithms, api.ACLPrivate} {
		if _, err := alice.CreateCollection(ctx, ".my", api.CreateCollection{Name: string(acl), ACL: acl}); err != nil {
			t.Fatal(err)
		}
		if err := alice.PutFile(ctx, "data://alice/"+string(acl)+"/f", "", strings.NewReader("hi")); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		who, coll   string
		read, write int
	}{
		{"alice", "private", 200, 200},
		{"alice-read", "private", 200, 403},
		{"alice-none", "private", 403, 403},
		{"bob", "public", 200, 403},
		{"bob", "my_algorithms", 404, 404},
		{"bob", "private", 404, 404},
		{"bob-read", "public", 200, 403},
		{"bob-none", "public", 403, 403},
	} {
		cl := c.client(tc.who)
		uri := "data://alice/" + tc.coll + "/f"
		_, err := readAll(cl, uri)
		if got := statusOf(err); got != tc.read {
			t.Errorf("%s GET %s: %d (%v), want %d", tc.who, uri, got, err, tc.read)
		}
		_, err = cl.StatFile(ctx, uri)
		if got := statusOf(err); got != tc.read {
			t.Errorf("%s HEAD %s: %d (%v), want %d", tc.who, uri, got, err, tc.read)
		}
		_, err = cl.List(ctx, "data://alice/"+tc.coll, "")
		if got := statusOf(err); got != tc.read {
			t.Errorf("%s lists %s: %d (%v), want %d", tc.who, tc.coll, got, err, tc.read)
		}
		err = cl.PutFile(ctx, "data://alice/"+tc.coll+"/new", "", strings.NewReader("x"))
		if got := statusOf(err); got != tc.write {
			t.Errorf("%s PUT into %s: %d (%v), want %d", tc.who, tc.coll, got, err, tc.write)
		}
		_, err = cl.DeleteFile(ctx, uri+"-missing")
		if got := statusOf(err); got != tc.write {
			t.Errorf("%s DELETE in %s: %d (%v), want %d", tc.who, tc.coll, got, err, tc.write)
		}
	}
	// Errors come in the envelope.
	resp, body := c.do(t, "bob", http.MethodGet, "/v1/data/alice/private/f", nil)
	wantEnvelope(t, "bob reads a private file", resp, body, http.StatusNotFound, api.ErrTypeNotFound)
	resp, body = c.do(t, "bob", http.MethodPut, "/v1/data/alice/public/f", strings.NewReader("x"))
	wantEnvelope(t, "bob writes a public collection", resp, body, http.StatusForbidden, api.ErrTypeAuth)
	resp, body = c.do(t, "alice-none", http.MethodGet, "/v1/data/alice/private/f", nil)
	wantEnvelope(t, "a key with data=none", resp, body, http.StatusForbidden, api.ErrTypeAuth)
	resp, body = c.do(t, "alice-read", http.MethodPost, "/v1/data/alice", strings.NewReader(`{"name":"x"}`))
	wantEnvelope(t, "a read-only key creates a collection", resp, body, http.StatusForbidden, api.ErrTypeAuth)
	// Bob sees only the public collection.
	fs, err := c.client("bob").ListCollections(ctx, "alice")
	if err != nil || len(fs) != 1 || fs[0].Name != "public" || fs[0].ACL != api.ACLPublic {
		t.Errorf("bob lists alice's collections: %+v, %v", fs, err)
	}
}

// TestHTTPPlantedSymlink plants links to /etc/passwd and to the control plane's own database
// inside the data directory and checks that the API refuses them with a 403 envelope.
func TestHTTPPlantedSymlink(t *testing.T) {
	t.Parallel()
	c := startCP(t)
	alice := c.client("alice")
	if _, err := alice.CreateCollection(t.Context(), "alice", api.CreateCollection{Name: "c", ACL: api.ACLPublic}); err != nil {
		t.Fatal(err)
	}
	if err := alice.PutFile(t.Context(), "data://alice/c/ok", "", strings.NewReader("ok")); err != nil {
		t.Fatal(err)
	}
	coll := filepath.Join(c.srv.DataDir, "datastore", "data", "alice", "c")
	for link, target := range map[string]string{"passwd": "/etc/passwd", "etc": "/etc", "db": filepath.Join(c.srv.DataDir, "algos.db")} {
		if err := os.Symlink(target, filepath.Join(coll, link)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"alice/c/passwd", "alice/c/etc/passwd", "alice/c/db"} {
		for _, who := range []string{"alice", "bob"} {
			resp, body := c.do(t, who, http.MethodGet, "/v1/data/"+p, nil)
			wantEnvelope(t, who+" GET "+p, resp, body, http.StatusForbidden, api.ErrTypeAuth)
			if strings.Contains(string(body), "root:") || strings.Contains(string(body), "SQLite") {
				t.Errorf("GET %s leaked the link's target", p)
			}
		}
	}
	resp, body := c.do(t, "alice", http.MethodPut, "/v1/data/alice/c/etc/planted", strings.NewReader("x"))
	wantEnvelope(t, "PUT through a linked folder", resp, body, http.StatusForbidden, api.ErrTypeAuth)
	if _, err := os.Lstat("/etc/planted"); err == nil {
		t.Error("a PUT wrote into /etc")
	}
}
