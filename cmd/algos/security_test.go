//go:build linux

package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/server"
	"github.com/algos-dev/algos/controlplane/store"
)

// route is one route of the API, with the guard its handler is wrapped in.
type route struct {
	method, pattern string
	guard           string // user, manager, admin, node, or "" (public)
}

// apiRoutes reads every route the API registers from controlplane/httpapi/server.go (the
// router's own source, so that a route added later is covered without editing this test), and
// adds the Data API and connector paths, which are dispatched by prefix.
func apiRoutes(t *testing.T) []route {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", "controlplane", "httpapi", "server.go"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`m\.HandleFunc\("([A-Z]+) ([^"]+)",\s*(?:h\.(user|manager|admin|node|callable)\()?`)
	var out []route
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		out = append(out, route{m[1], m[2], m[3]})
	}
	if len(out) < 40 {
		t.Fatalf("found only %d routes in server.go: has its registration changed?", len(out))
	}
	for _, m := range []string{"GET", "HEAD", "PUT", "POST", "PATCH", "DELETE"} {
		out = append(out, route{m, "/v1/data/{owner}/{collection}/{path}", "callable"})
		out = append(out, route{m, "/v1/connector/s3/{bucket}/{path}", "callable"})
	}
	return out
}

// fill replaces a pattern's wildcards.
func fill(pattern string, values map[string]string) string {
	return regexp.MustCompile(`\{([a-z]+)(\.\.\.)?\}`).ReplaceAllStringFunc(pattern, func(w string) string {
		name := strings.Trim(w, "{}.")
		if v, ok := values[name]; ok {
			return v
		}
		return "x"
	})
}

// TestSecurityEveryRoute: every route of the API, enumerated from the router's source, answers
// 401 without a key, with a bad key and with a revoked key; a key lacking the manage scope gets
// 403 on every manager route and a non-administrator's on every admin route; tenant bob gets
// 404 on every route that names tenant alice's private algorithm, collection, key, request or
// organization, whatever the verb. Then the logs of the whole run (control plane, agents,
// workers), every response body and /metrics are searched for key material: none.
func TestSecurityEveryRoute(t *testing.T) {
	t.Parallel()
	var logBuf lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	s, err := server.Start(ctx, server.Config{
		Listen: "127.0.0.1:0", DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.MultiWriter(&logBuf, testWriter(t)), &slog.HandlerOptions{Level: slog.LevelDebug})),
		AgentBinary: algosBin, BootstrapAccount: "demo", DevPool: 1, PoolInterval: 200 * time.Millisecond, HeartbeatInterval: 300 * time.Millisecond,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	e := &env{t: t, srv: s, client: api.NewClient(s.URL, s.Key), cancel: cancel}
	t.Cleanup(e.stop)
	e.waitReady()
	bg := context.Background()
	var bodies bytes.Buffer
	do := func(method, path, key string, body []byte) reply {
		r := e.do(method, path, key, "application/json", body)
		bodies.Write(r.body)
		return r
	}

	mk := func(name string) api.Key {
		out, err := e.client.CreateAccount(bg, api.CreateAccount{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		return out.Key
	}
	aliceKey, bobKey := mk("alice"), mk("bob")
	alice := api.NewClient(s.URL, aliceKey.Secret)
	bobNoManage, err := api.NewClient(s.URL, bobKey.Secret).CreateKey(bg, api.CreateKey{Name: "no-manage", Data: "write"})
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := alice.CreateKey(bg, api.CreateKey{Name: "soon-revoked", Manage: true, Data: "write"})
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.RevokeKey(bg, revoked.ID); err != nil {
		t.Fatal(err)
	}
	// alice's private things.
	if _, err := alice.CreateAlgorithm(bg, "alice", api.CreateAlgorithm{Name: "private-algo", Settings: api.Manifest{Visibility: api.Private}}); err != nil {
		t.Fatal(err)
	}
	e.publishDir(alice, "alice", "private-algo", filepath.Join("..", "..", "examples", "algorithms", "hello-python"), api.PublishOptions{})
	if _, err := alice.CreateCollection(bg, "alice", api.CreateCollection{Name: "private-col", ACL: api.ACL(store.ACLPrivate)}); err != nil {
		t.Fatal(err)
	}
	if err := alice.PutFile(bg, "data://alice/private-col/f.txt", "text/plain", strings.NewReader("alice's data")); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.CreateOrganization(bg, "alice-org"); err != nil {
		t.Fatal(err)
	}
	// A connector with credentials: they must never come back, nor reach a log.
	const connectorSecret = "connector-secret-Zq81xW"
	do(http.MethodPost, "/v1/connectors", aliceKey.Secret, []byte(`{"name":"s3+vault","buckets":["vault"],"read":true,"write":true,`+
		`"credentials":{"access_key_id":"AKIAEXAMPLE0000","secret_access_key":"`+connectorSecret+`"}}`)).expect(t, 201, `"has_credentials":true`)
	do(http.MethodGet, "/v1/connectors", aliceKey.Secret, nil).expect(t, 200, "s3+vault")
	do(http.MethodGet, "/v1/connectors/s3+vault", aliceKey.Secret, nil).expect(t, 200)
	do(http.MethodPatch, "/v1/connectors/s3+vault", aliceKey.Secret, []byte(`{"read":true}`)).expect(t, 200)
	do(http.MethodGet, "/v1/connector/s3+vault/other-bucket/x", aliceKey.Secret, nil)
	async := do(http.MethodPost, "/v1/algo/alice/private-algo?output=void", aliceKey.Secret, []byte(`"x"`))
	async.expect(t, 200, "request_id")
	reqID := regexp.MustCompile(`req-[0-9a-f]+`).FindString(string(async.body))
	aliceValues := map[string]string{
		"owner": "alice", "name": "private-algo", "version": "1.0.0", "collection": "private-col", "path": "f.txt",
		"id": reqID, "org": "alice-org", "user": "bob", "bucket": "b", "vid": "alice/private-algo/1.0.0", "digest": "sha256:00",
	}

	routes := apiRoutes(t)
	for _, rt := range routes {
		if rt.guard == "" {
			continue
		}
		path := fill(rt.pattern, aliceValues)
		// 401: no key, a bad key, a revoked key (for node routes: no or a bad node credential).
		for what, key := range map[string]string{"no key": "", "bad key": "simNotAKey0123456789012345678", "revoked key": revoked.Secret} {
			if r := do(rt.method, path, key, []byte(`{}`)); r.status != http.StatusUnauthorized {
				t.Errorf("%s %s with %s: %d, want 401; %s", rt.method, rt.pattern, what, r.status, clip(r.body))
			}
		}
		if rt.guard == "node" {
			continue
		}
		// 403: scopes. Bob's own resources, so that only the scope is in question.
		own := fill(rt.pattern, map[string]string{"owner": "bob", "name": "x", "org": "bob-org", "user": "bob", "id": "x", "collection": "c", "path": "p", "name2": "x"})
		switch rt.guard {
		case "manager":
			if r := do(rt.method, own, bobNoManage.Secret, []byte(`{}`)); r.status != http.StatusForbidden {
				t.Errorf("%s %s with a key without manage: %d, want 403; %s", rt.method, rt.pattern, r.status, clip(r.body))
			}
		case "admin":
			if r := do(rt.method, own, bobKey.Secret, []byte(`{}`)); r.status != http.StatusForbidden {
				t.Errorf("%s %s with a non-administrator's key: %d, want 403; %s", rt.method, rt.pattern, r.status, clip(r.body))
			}
		}
	}
	// An algorithm's call token acts for its caller on calls and data only: every other route
	// refuses it (a called algorithm must not manage its caller's keys or read its logs).
	alicePrincipal, err := s.Keys.Authenticate(bg, "Simple "+aliceKey.Secret)
	if err != nil {
		t.Fatal(err)
	}
	token, endToken, err := s.Keys.MintCallToken(alicePrincipal, "bob/evil/1.0.0", "req-x", time.Now().Add(time.Minute), false)
	if err != nil {
		t.Fatal(err)
	}
	defer endToken()
	for _, rt := range routes {
		if rt.guard != "user" && rt.guard != "manager" && rt.guard != "admin" {
			continue
		}
		path := fill(rt.pattern, aliceValues)
		if r := do(rt.method, path, token, []byte(`{}`)); r.status != http.StatusForbidden && r.status != http.StatusUnauthorized {
			t.Errorf("%s %s with an algorithm's call token: %d, want 403; %s", rt.method, rt.pattern, r.status, clip(r.body))
		}
	}
	if r := do(http.MethodGet, "/v1/keys", token, nil); r.status != http.StatusForbidden {
		t.Errorf("listing the caller's keys with a call token: %d", r.status)
	}

	// 404: bob on alice's private things, every verb of every route naming them.
	names := regexp.MustCompile(`\{(owner|name|id|org|collection)\}`)
	for _, rt := range routes {
		if rt.guard != "user" && rt.guard != "manager" && rt.guard != "callable" || !names.MatchString(rt.pattern) {
			continue
		}
		switch {
		case rt.pattern == "/v1/algorithms/{owner}" && rt.method == http.MethodPost: // creating under another's name: 403
			continue
		case strings.HasPrefix(rt.pattern, "/v1/connector/"), strings.HasPrefix(rt.pattern, "/v1/connectors"):
			continue // connectors name no private thing of alice's here (tested in controlplane/connector)
		case strings.HasPrefix(rt.pattern, "/v1/keys/"):
			k, _ := alice.ListKeys(bg)
			aliceValues["id"] = k[0].ID
		default:
			aliceValues["id"] = reqID
		}
		values, body := aliceValues, []byte(`{}`)
		if strings.HasPrefix(rt.pattern, "/v1/accounts/") {
			values = map[string]string{"name": "alice"}
		}
		path := fill(rt.pattern, values)
		if strings.HasPrefix(rt.pattern, "/v1/data/") && (rt.method == http.MethodPost || rt.method == http.MethodPatch) {
			// Verbs of folders and collections: a sub-folder, the collection's ACL.
			path, body = "/v1/data/alice/private-col", []byte(`{"name":"sub"}`)
			if rt.method == http.MethodPatch {
				body = []byte(`{"acl":"public"}`)
			}
		}
		if r := do(rt.method, path, bobKey.Secret, body); r.status != http.StatusNotFound {
			t.Errorf("bob: %s %s: %d, want 404; %s", rt.method, path, r.status, clip(r.body))
		}
	}
	for _, q := range []string{"/v1/usage?account=alice", "/v1/usage/calls?account=alice", "/v1/usage?as=author&account=alice"} {
		if r := do(http.MethodGet, q, bobKey.Secret, nil); r.status != http.StatusNotFound && r.status != http.StatusForbidden {
			t.Errorf("bob: GET %s: %d; %s", q, r.status, clip(r.body))
		} else if bytes.Contains(r.body, []byte("private-algo")) {
			t.Errorf("bob: GET %s shows alice's algorithm: %s", q, clip(r.body))
		}
	}

	// Key material: none in the logs of the run, the answers, /metrics or the nodes' logs.
	metrics := do(http.MethodGet, "/metrics", s.Key, nil)
	metrics.expect(t, 200)
	e.stop() // flush and stop everything, then read what it wrote
	var haystack bytes.Buffer
	haystack.Write(logBuf.Bytes())
	haystack.Write(bodies.Bytes())
	consoles, _ := filepath.Glob(filepath.Join(dir, "local-cloud", "instances", "*", "console.log"))
	for _, c := range consoles {
		b, _ := os.ReadFile(c)
		haystack.Write(b)
	}
	for what, secret := range map[string]string{"alice's key": aliceKey.Secret, "bob's key": bobKey.Secret, "bob's other key": bobNoManage.Secret,
		"the revoked key": revoked.Secret, "the bootstrap key": s.Key} {
		if bytes.Contains(haystack.Bytes(), []byte(secret)) {
			t.Errorf("%s appears in the logs, answers or metrics", what)
		}
	}
	if bytes.Contains(haystack.Bytes(), []byte(connectorSecret)) {
		t.Error("a connector's credentials appear in the logs, answers or metrics")
	}
	if bytes.Contains(haystack.Bytes(), []byte("act_ey")) {
		t.Error("a call token appears in the logs, answers or metrics")
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]byte(nil), l.b.Bytes()...)
}

// testWriter writes to the test's log when -v is given, else nowhere.
func testWriter(t *testing.T) io.Writer {
	if testing.Verbose() {
		return t.Output()
	}
	return io.Discard
}
