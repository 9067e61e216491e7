package connector_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/auth"
	"github.com/algos-dev/algos/controlplane/connector"
	"github.com/algos-dev/algos/controlplane/secrets"
	"github.com/algos-dev/algos/controlplane/server"
	"github.com/algos-dev/algos/controlplane/store"
	"github.com/algos-dev/algos/controlplane/store/sqlite"
)

var (
	root  = &auth.Principal{Account: "root", Admin: true, Manage: true, Data: store.DataReadWrite}
	alice = &auth.Principal{Account: "alice", Manage: true, Data: store.DataReadWrite}
)

// services returns connector services sharing one store and secret key, one per
// configuration (as replicas of a control plane would).
func services(t *testing.T, cfgs ...connector.Config) []*connector.Service {
	t.Helper()
	st, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "algos.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	for _, a := range []string{"root", "alice"} {
		if err := st.CreateAccount(t.Context(), store.Account{Name: a, Admin: a == "root", CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, err := secrets.New(key)
	if err != nil {
		t.Fatal(err)
	}
	var out []*connector.Service
	for _, cfg := range cfgs {
		cfg.Store, cfg.Box = st, box
		if cfg.Logger == nil {
			cfg.Logger = slog.New(slog.DiscardHandler)
		}
		s, err := connector.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// countingServer counts the requests that reach it.
func countingServer(t *testing.T) (string, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "unexpected", http.StatusTeapot)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &hits
}

// kindCreds are credentials of each kind that need no network to be built.
var kindCreds = map[string]string{
	"s3":    `{"access_key_id":"AKID","secret_access_key":"secret"}`,
	"gs":    ``,
	"azure": `{"account_name":"devstoreaccount1","account_key":"` + azKey + `"}`,
}

// TestRefusedAtUse: a connector that an earlier configuration allowed to reach loopback is
// refused at its next connection once private endpoints are not allowed — by the dialer, after
// DNS, for every kind and every operation, at once and without retries, and nothing reaches
// the address.
func TestRefusedAtUse(t *testing.T) {
	t.Parallel()
	svcs := services(t, connector.Config{AllowPrivateEndpoints: true}, connector.Config{})
	allow, deny := svcs[0], svcs[1]
	ctx := t.Context()
	endpoint, hits := countingServer(t)
	_, port, _ := strings.Cut(strings.TrimPrefix(endpoint, "http://"), ":")
	for kind, creds := range kindCreds {
		for i, ep := range []string{endpoint, "http://localhost:" + port, "http://169.254.169.254"} {
			name := fmt.Sprintf("%s+e%d", kind, i)
			in := api.CreateConnector{Name: name, Owner: "alice", Buckets: []string{"bkt"}, Write: ptr(true), Endpoint: ep, Credentials: []byte(creds)}
			if kind == "azure" {
				in.Endpoint += "/devstoreaccount1"
			}
			if _, err := allow.CreateConnector(ctx, root, in); err != nil {
				t.Fatalf("create %s: %v", name, err)
			}
			ref := func(p string) connector.Ref {
				r, err := connector.ParseEscapedPath(name + "/bkt/" + p)
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			start := time.Now()
			_, err := deny.Put(ctx, alice, ref("f"), "", 1, strings.NewReader("x"))
			checkRefused(t, name+" Put", err)
			_, _, err = deny.Open(ctx, alice, ref("f"))
			checkRefused(t, name+" Open", err)
			_, err = deny.List(ctx, alice, ref("d/"), "", 0)
			checkRefused(t, name+" List", err)
			_, err = deny.Stat(ctx, alice, ref("f"))
			checkRefused(t, name+" Stat", err)
			_, err = deny.Delete(ctx, alice, ref("f"))
			checkRefused(t, name+" Delete", err)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("%s: refusing 5 operations took %v (retried?)", name, d)
			}
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the loopback server was reached %d times", n)
	}
}

func checkRefused(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, connector.ErrEndpointRefused) || !errors.Is(err, connector.ErrForbidden) {
		t.Errorf("%s: %v, want ErrEndpointRefused", what, err)
		return
	}
	if !strings.Contains(err.Error(), "allow_private_endpoints") || strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), azKey) {
		t.Errorf("%s: %v: the error must say how to allow it and nothing secret", what, err)
	}
}

func ptr[T any](v T) *T { return &v }

// TestTimeout: every remote operation has a deadline; a store that accepts requests and never
// answers is a timeout, not a hang.
func TestTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	svc := services(t, connector.Config{AllowPrivateEndpoints: true, Timeout: 300 * time.Millisecond})[0]
	for kind, creds := range kindCreds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			timeoutKind(t, svc, srv.URL, kind, creds)
		})
	}
}

func timeoutKind(t *testing.T, svc *connector.Service, ep, kind, creds string) {
	ctx := t.Context()
	name := kind + "+slow"
	if kind == "azure" {
		ep += "/devstoreaccount1"
	}
	if _, err := svc.CreateConnector(ctx, root, api.CreateConnector{Name: name, Owner: "alice", Buckets: []string{"bkt"},
		Write: ptr(true), Endpoint: ep, Credentials: []byte(creds)}); err != nil {
		t.Fatal(err)
	}
	file, _ := connector.ParseEscapedPath(name + "/bkt/f")
	dir, _ := connector.ParseEscapedPath(name + "/bkt/d/")
	for op, f := range map[string]func() error{
		"Stat": func() error { _, err := svc.Stat(ctx, alice, file); return err },
		"List": func() error { _, err := svc.List(ctx, alice, dir, "", 0); return err },
		"Open": func() error {
			r, _, err := svc.Open(ctx, alice, file)
			if err == nil {
				r.Close()
			}
			return err
		},
		"Put":    func() error { _, err := svc.Put(ctx, alice, file, "", 1, strings.NewReader("x")); return err },
		"Delete": func() error { _, err := svc.Delete(ctx, alice, file); return err },
	} {
		start := time.Now()
		err := f()
		if !errors.Is(err, connector.ErrTimeout) {
			t.Errorf("%s %s against a store that never answers: %v, want ErrTimeout", kind, op, err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s %s: timed out after %v, want about 300ms", kind, op, d)
		}
	}
}

// TestHTTPRemoteErrorsScrubbed: a store's failure is a 502 that names the store's error code;
// the store's own text goes to the log with secrets and query strings removed, even when the
// store echoes the request's credentials back.
func TestHTTPRemoteErrorsScrubbed(t *testing.T) {
	t.Parallel()
	token, sig := "session-"+rand.Text(), "sig"+rand.Text()
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leak := fmt.Sprintf("%s %s token=%s auth=%s", r.Method, r.URL.String(), r.Header.Get("X-Amz-Security-Token"), r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/xml")
		w.Header().Set("x-ms-error-code", "InvalidQueryParameterValue")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InvalidQueryParameterValue</Code><Message>%s</Message></Error>", html.EscapeString(leak))
	}))
	t.Cleanup(echo.Close)
	c := startCP(t, server.Config{})
	c.connector(t, "root", map[string]any{"name": "s3+echo", "owner": "alice", "buckets": []string{"bkt"}, "endpoint": echo.URL,
		"allow_private_endpoints": true, "credentials": map[string]string{"access_key_id": "AKID", "secret_access_key": "s3secret-" + sig, "session_token": token}})
	c.connector(t, "root", map[string]any{"name": "azure+echo", "owner": "alice", "buckets": []string{"bkt"}, "endpoint": echo.URL + "/acct",
		"allow_private_endpoints": true, "credentials": map[string]string{"sas_token": "sv=2024-01-01&sp=r&sig=" + sig}})
	for _, p := range []string{"/v1/connector/s3+echo/bkt/f", "/v1/connector/azure+echo/bkt/f", "/v1/connector/s3+echo/bkt/", "/v1/connector/azure+echo/bkt/"} {
		resp, b := c.do(t, "alice", http.MethodGet, p, nil)
		msg := wantEnvelope(t, "GET "+p, resp, b, http.StatusBadGateway, api.ErrTypeConnector)
		if !strings.Contains(msg, "InvalidQueryParameterValue") {
			t.Errorf("GET %s: %q does not name the store's error code", p, msg)
		}
	}
	logs := c.logs.String()
	if !strings.Contains(logs, "object store request failed") || !strings.Contains(logs, "REDACTED") {
		t.Errorf("the failures were not logged, scrubbed:\n%s", logs)
	}
	c.noSecrets(t, token, sig)
}
