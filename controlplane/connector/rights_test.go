package connector_test

import (
	"crypto/rand"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/server"
)

// rightsCP is a control plane with S3 connectors made by the administrator (their endpoint is
// on loopback, which only an administrator may allow):
//   - alice's s3+lake (bucket lake, read and write) and s3+ro (bucket lake, read-only);
//   - alice's s3+restricted (bucket lake, the folders reports and exports/2025, read and write);
//   - the platform's s3+shared (bucket shared, read and write).
type rightsCP struct {
	*cp
	s3      string // the S3 endpoint
	secrets []string
}

func startRights(t *testing.T) *rightsCP {
	t.Helper()
	r := &rightsCP{cp: startCP(t, server.Config{}), s3: startS3(t, "lake", "other", "shared")}
	secret := "lake-secret-" + rand.Text()
	r.secrets = []string{secret}
	creds := map[string]string{"access_key_id": "AKIDLAKE", "secret_access_key": secret}
	common := func(m map[string]any) map[string]any {
		m["endpoint"], m["allow_private_endpoints"], m["credentials"] = r.s3, true, creds
		return m
	}
	r.connector(t, "root", common(map[string]any{"name": "s3+lake", "owner": "alice", "buckets": []string{"lake"}, "write": true}))
	r.connector(t, "root", common(map[string]any{"name": "s3+ro", "owner": "alice", "buckets": []string{"lake"}}))
	r.connector(t, "root", common(map[string]any{"name": "s3+restricted", "owner": "alice", "buckets": []string{"lake"},
		"prefixes": []string{"reports/", "exports/2025"}, "write": true}))
	r.connector(t, "root", common(map[string]any{"name": "s3+shared", "platform": true, "buckets": []string{"shared"}, "write": true}))
	return r
}

// status sends a request and returns its status, checking the envelope of errors.
func (r *rightsCP) status(t *testing.T, who, method, path, body string) (int, string) {
	t.Helper()
	resp, b := r.do(t, who, method, path, strings.NewReader(body))
	msg := ""
	if resp.StatusCode/100 != 2 && method != http.MethodHead {
		var env api.ErrorEnvelope
		if err := json.Unmarshal(b, &env); err != nil || env.Error.Message == "" {
			t.Errorf("%s %s: %d without the error envelope: %s", method, path, resp.StatusCode, b)
		}
		msg = env.Error.Message
	}
	return resp.StatusCode, msg
}

func TestHTTPRights(t *testing.T) {
	t.Parallel()
	r := startRights(t)
	const lake = "/v1/connector/s3+lake/lake/"
	for _, tc := range []struct {
		what, who, method, path string
		want                    int
		msg                     string // in the error message
	}{
		{"owner writes", "alice", "PUT", lake + "x.txt", 200, ""},
		{"owner reads", "alice", "GET", lake + "x.txt", 200, ""},
		{"a read key reads", "alice-read", "GET", lake + "x.txt", 200, ""},
		{"a read key heads", "alice-read", "HEAD", lake + "x.txt", 200, ""},
		{"a read key cannot write", "alice-read", "PUT", lake + "y.txt", 403, "may only read"},
		{"a read key cannot delete", "alice-read", "DELETE", lake + "x.txt", 403, "may only read"},
		{"a key without data access cannot read", "alice-none", "GET", lake + "x.txt", 403, "no Data API access"},
		{"read-only connector refuses PUT", "alice", "PUT", "/v1/connector/s3+ro/lake/y.txt", 403, "read-only"},
		{"read-only connector refuses DELETE", "alice", "DELETE", "/v1/connector/s3+ro/lake/x.txt", 403, "read-only"},
		{"read-only connector reads", "alice", "GET", "/v1/connector/s3+ro/lake/x.txt", 200, ""},
		{"a bucket not listed", "alice", "PUT", "/v1/connector/s3+lake/other/x.txt", 403, "not one of"},
		{"a bucket not listed, read", "alice", "GET", "/v1/connector/s3+lake/other/", 403, "not one of"},
		{"another account's connector", "bob", "GET", lake + "x.txt", 404, "no connector s3+lake"},
		{"another account's connector, write", "bob", "PUT", lake + "z.txt", 404, "no connector s3+lake"},
		{"an unknown connector", "alice", "GET", "/v1/connector/s3+nope/lake/x.txt", 404, "no connector"},
		{"an unknown kind", "alice", "GET", "/v1/connector/ftp/lake/x.txt", 400, "unknown kind"},
		{"no bucket", "alice", "GET", "/v1/connector/s3+lake", 400, "no bucket"},
		{"PUT on a bucket", "alice", "PUT", lake, 400, "names a bucket"},
		{"PUT on a folder", "alice", "PUT", lake + "dir/", 400, "ends with '/'"},
		{"POST", "alice", "POST", lake + "x.txt", 405, "not allowed"},
		{"inside an allowed folder", "alice", "PUT", "/v1/connector/s3+restricted/lake/reports/q1.csv", 200, ""},
		{"inside a nested allowed folder", "alice", "PUT", "/v1/connector/s3+restricted/lake/exports/2025/a/b.csv", 200, ""},
		{"read inside", "alice", "GET", "/v1/connector/s3+restricted/lake/reports/q1.csv", 200, ""},
		{"list an allowed folder", "alice", "GET", "/v1/connector/s3+restricted/lake/reports/", 200, ""},
		{"list an allowed folder by its name", "alice", "GET", "/v1/connector/s3+restricted/lake/reports", 200, ""},
		{"head an allowed folder", "alice", "HEAD", "/v1/connector/s3+restricted/lake/exports/2025", 200, ""},
		{"outside the folders", "alice", "PUT", "/v1/connector/s3+restricted/lake/secret.txt", 403, "outside the folders"},
		{"a sibling with the same prefix", "alice", "PUT", "/v1/connector/s3+restricted/lake/reports-old/a", 403, "outside the folders"},
		{"a file named as the folder", "alice", "PUT", "/v1/connector/s3+restricted/lake/reports", 403, "outside the folders"},
		{"the parent of an allowed folder", "alice", "GET", "/v1/connector/s3+restricted/lake/exports/", 403, "outside the folders"},
		{"the bucket of a restricted connector", "alice", "GET", "/v1/connector/s3+restricted/lake/", 403, "outside the folders"},
		{"read outside", "alice", "GET", "/v1/connector/s3+restricted/lake/x.txt", 403, "outside the folders"},
		{"delete outside", "alice", "DELETE", "/v1/connector/s3+restricted/lake/x.txt", 403, "outside the folders"},
		{"platform connector, alice", "alice", "PUT", "/v1/connector/s3+shared/shared/a.txt", 200, ""},
		{"platform connector, bob", "bob", "GET", "/v1/connector/s3+shared/shared/a.txt", 200, ""},
		{"platform connector, another bucket", "bob", "GET", "/v1/connector/s3+shared/lake/x.txt", 403, "not one of"},
		{"blob without a default store", "alice", "GET", "/v1/connector/blob/a/b", 404, "DefaultConnector"},
	} {
		got, msg := r.status(t, tc.who, tc.method, tc.path, "data")
		if got != tc.want || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: %s %s as %s: %d %q, want %d with %q", tc.what, tc.method, tc.path, tc.who, got, msg, tc.want, tc.msg)
		}
		if strings.Contains(msg, r.s3) || strings.Contains(msg, "AKIDLAKE") {
			t.Errorf("%s: the message leaks the connector's endpoint or key: %q", tc.what, msg)
		}
	}

	// A connector of the caller's own shadows the platform's of the same name.
	r.connector(t, "root", map[string]any{"name": "s3+shared", "owner": "alice", "buckets": []string{"other"}, "write": true,
		"endpoint": r.s3, "allow_private_endpoints": true})
	for _, tc := range []struct {
		who, path string
		want      int
	}{
		{"alice", "/v1/connector/s3+shared/other/b.txt", 200},  // her own
		{"alice", "/v1/connector/s3+shared/shared/b.txt", 403}, // her own does not list that bucket
		{"bob", "/v1/connector/s3+shared/shared/b.txt", 200},   // the platform's
		{"bob", "/v1/connector/s3+shared/other/b.txt", 403},
	} {
		if got, msg := r.status(t, tc.who, http.MethodPut, tc.path, "b"); got != tc.want {
			t.Errorf("resolution: PUT %s as %s: %d %s, want %d", tc.path, tc.who, got, msg, tc.want)
		}
	}
	r.noSecrets(t, r.secrets...)
}

func TestHTTPManagement(t *testing.T) {
	t.Parallel()
	r := startRights(t)
	names := func(who, query string) []string {
		var cs []api.Connector
		if status, b := r.json(t, who, http.MethodGet, "/v1/connectors"+query, nil, &cs); status != http.StatusOK {
			t.Fatalf("list as %s: %d %s", who, status, b)
		}
		var out []string
		for _, c := range cs {
			n := c.Name
			if c.Platform {
				n = "platform:" + n
			}
			out = append(out, n)
			if c.Platform != (c.Owner == "") || !c.HasCredentials {
				t.Errorf("listed %+v", c)
			}
		}
		return out
	}
	if got, want := strings.Join(names("alice", ""), " "), "s3+lake s3+restricted s3+ro platform:s3+shared"; got != want {
		t.Errorf("alice lists %q, want %q", got, want)
	}
	if got, want := strings.Join(names("bob", ""), " "), "platform:s3+shared"; got != want {
		t.Errorf("bob lists %q, want %q", got, want)
	}
	if got, want := strings.Join(names("root", "?owner=alice"), " "), "s3+lake s3+restricted s3+ro platform:s3+shared"; got != want {
		t.Errorf("root lists alice's as %q, want %q", got, want)
	}

	for _, tc := range []struct {
		what, who, method, path string
		body                    any
		want                    int
		msg                     string
	}{
		{"bob reads alice's", "bob", "GET", "/v1/connectors/s3+lake?owner=alice", nil, 404, "no connector"},
		{"bob reads his (none)", "bob", "GET", "/v1/connectors/s3+lake", nil, 404, "no connector"},
		{"bob changes alice's", "bob", "PATCH", "/v1/connectors/s3+lake?owner=alice", map[string]any{"write": false}, 404, "no connector"},
		{"bob deletes alice's: nothing there for him", "bob", "DELETE", "/v1/connectors/s3+lake?owner=alice", nil, 204, ""},
		{"bob reads the platform's", "bob", "GET", "/v1/connectors/s3+shared", nil, 200, ""},
		{"bob changes the platform's", "bob", "PATCH", "/v1/connectors/s3+shared", map[string]any{"write": false}, 403, "only an administrator"},
		{"bob deletes the platform's", "bob", "DELETE", "/v1/connectors/s3+shared?platform=true", nil, 403, "only an administrator"},
		{"a key without manage rights", "alice-read", "POST", "/v1/connectors", map[string]any{"name": "s3+x", "buckets": []string{"lake"}}, 403, "manage"},
		{"alice creates a platform connector", "alice", "POST", "/v1/connectors", map[string]any{"name": "s3+p", "platform": true, "buckets": []string{"lake"}}, 403, "administrator"},
		{"alice creates bob's", "alice", "POST", "/v1/connectors", map[string]any{"name": "s3+p", "owner": "bob", "buckets": []string{"lake"}}, 403, "may not create"},
		{"alice allows private endpoints", "alice", "POST", "/v1/connectors", map[string]any{"name": "s3+p", "buckets": []string{"lake"}, "allow_private_endpoints": true}, 403, "administrator"},
		{"alice moves an endpoint an administrator allowed", "alice", "PATCH", "/v1/connectors/s3+lake", map[string]any{"endpoint": "http://169.254.169.254"}, 403, "only an administrator"},
		{"alice allows private endpoints later", "alice", "PATCH", "/v1/connectors/s3+ro", map[string]any{"allow_private_endpoints": true, "endpoint": "http://10.0.0.1"}, 403, "administrator"},
		{"unknown kind", "alice", "POST", "/v1/connectors", map[string]any{"name": "ftp+x", "buckets": []string{"lake"}}, 400, "unknown kind"},
		{"blob", "alice", "POST", "/v1/connectors", map[string]any{"name": "blob", "buckets": []string{"lake"}}, 400, "default store"},
		{"kind and name disagree", "alice", "POST", "/v1/connectors", map[string]any{"name": "s3+x", "kind": "gs", "buckets": []string{"lake"}}, 400, "does not match"},
		{"missing bucket", "alice", "POST", "/v1/connectors", map[string]any{"name": "s3+x"}, 400, "missing bucket"},
		{"empty bucket list", "alice", "POST", "/v1/connectors", map[string]any{"name": "s3+x", "buckets": []string{}}, 400, "missing bucket"},
		{"bad bucket", "alice", "POST", "/v1/connectors", map[string]any{"name": "s3+x", "buckets": []string{"Lake/.."}}, 400, "bucket"},
		{"bad prefix", "alice", "POST", "/v1/connectors", map[string]any{"name": "s3+x", "buckets": []string{"lake"}, "prefixes": []string{"a/../b"}}, 400, "prefix"},
		{"root prefix", "alice", "POST", "/v1/connectors", map[string]any{"name": "s3+x", "buckets": []string{"lake"}, "prefixes": []string{"/"}}, 400, "prefix"},
		{"bad endpoint", "alice", "POST", "/v1/connectors", map[string]any{"name": "s3+x", "buckets": []string{"lake"}, "endpoint": "ftp://x"}, 400, "http"},
		{"endpoint with credentials", "alice", "POST", "/v1/connectors", map[string]any{"name": "s3+x", "buckets": []string{"lake"}, "endpoint": "https://u:pw-" + "hunter2@s3.example.com"}, 400, "must not carry credentials"},
		{"bad credentials JSON", "alice", "POST", "/v1/connectors", map[string]any{"name": "s3+x", "buckets": []string{"lake"}, "credentials": map[string]any{"access_key": "AK", "secret": "hunter2-secret"}}, 400, "bad credentials JSON"},
		{"bad credentials type", "alice", "POST", "/v1/connectors", map[string]any{"name": "gs+x", "buckets": []string{"lake"}, "credentials": map[string]any{"type": "external_account", "x": "hunter2-secret"}}, 400, "service_account"},
		{"an unknown field", "alice", "POST", "/v1/connectors", map[string]any{"name": "s3+x", "buckets": []string{"lake"}, "bucket": "lake"}, 400, "expected JSON"},
		{"Azure without account", "alice", "POST", "/v1/connectors", map[string]any{"name": "azure+x", "buckets": []string{"c1c"}}, 400, "account_name"},
		{"duplicate", "root", "POST", "/v1/connectors", map[string]any{"name": "s3+lake", "owner": "alice", "buckets": []string{"lake"}}, 409, "exists already"},
		{"no such account", "root", "POST", "/v1/connectors", map[string]any{"name": "s3+lake", "owner": "carol", "buckets": []string{"lake"}}, 404, "no account"},
		{"platform and owner", "root", "POST", "/v1/connectors", map[string]any{"name": "s3+q", "owner": "alice", "platform": true, "buckets": []string{"lake"}}, 400, "not both"},
	} {
		status, b := r.json(t, tc.who, tc.method, tc.path, tc.body, nil)
		var env api.ErrorEnvelope
		_ = json.Unmarshal(b, &env)
		if status != tc.want || !strings.Contains(env.Error.Message, tc.msg) {
			t.Errorf("%s: %s %s: %d %s, want %d with %q", tc.what, tc.method, tc.path, status, b, tc.want, tc.msg)
		}
	}

	// alice turns her connector read-only, then deletes it (twice: deleting is idempotent).
	var c api.Connector
	if status, b := r.json(t, "alice", http.MethodPatch, "/v1/connectors/s3+lake", map[string]any{"write": false, "prefixes": []string{"a"}}, &c); status != 200 || c.Write || len(c.Prefixes) != 1 || !c.HasCredentials {
		t.Errorf("PATCH: %d %s", status, b)
	}
	if got, _ := r.status(t, "alice", http.MethodPut, "/v1/connector/s3+lake/lake/a/x", "x"); got != http.StatusForbidden {
		t.Errorf("PUT after the connector became read-only: %d", got)
	}
	// Credentials removed: the connector is anonymous (gofakes3 does not check).
	if status, b := r.json(t, "alice", http.MethodPatch, "/v1/connectors/s3+lake", map[string]any{"credentials": map[string]any{}}, &c); status != 200 || c.HasCredentials {
		t.Errorf("PATCH removing credentials: %d %s", status, b)
	}
	if got, _ := r.status(t, "alice", http.MethodGet, "/v1/connector/s3+lake/lake/a/", ""); got != http.StatusNotFound {
		t.Errorf("GET an empty folder after the update: %d, want 404", got)
	}
	for range 2 {
		if status, b := r.json(t, "alice", http.MethodDelete, "/v1/connectors/s3+lake", nil, nil); status != http.StatusNoContent {
			t.Errorf("DELETE: %d %s", status, b)
		}
	}
	if got, _ := r.status(t, "alice", http.MethodGet, "/v1/connector/s3+lake/lake/x", ""); got != http.StatusNotFound {
		t.Errorf("GET through a deleted connector: %d", got)
	}
	// The administrator deletes the platform's.
	if status, b := r.json(t, "root", http.MethodDelete, "/v1/connectors/s3+shared?platform=true", nil, nil); status != http.StatusNoContent {
		t.Errorf("DELETE platform: %d %s", status, b)
	}
	if got := names("bob", ""); len(got) != 0 {
		t.Errorf("bob lists %v after the platform's connector went", got)
	}
	r.noSecrets(t, append(r.secrets, "hunter2")...)
}

// TestHTTPEndpointRefused: a connector may not point at loopback, the metadata service or a
// private network unless an administrator allows it.
func TestHTTPEndpointRefused(t *testing.T) {
	t.Parallel()
	r := startRights(t)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(r.s3, "http://"))
	for _, who := range []string{"alice", "root"} { // an administrator must say so too
		for _, ep := range []string{r.s3, "http://localhost:" + port, "http://169.254.169.254", "http://[::1]:" + port, "http://10.0.0.5:9000"} {
			name := "s3+p" + strings.Trim(strings.NewReplacer(".", "", ":", "", "/", "", "[", "", "]", "").Replace(ep[7:]), "-")
			if len(name) > 40 {
				name = name[:40]
			}
			status, b := r.json(t, who, http.MethodPost, "/v1/connectors",
				map[string]any{"name": name, "buckets": []string{"lake"}, "endpoint": ep}, nil)
			var env api.ErrorEnvelope
			_ = json.Unmarshal(b, &env)
			if status != http.StatusForbidden || !strings.Contains(env.Error.Message, "allow_private_endpoints") {
				t.Errorf("%s creates a connector to %s: %d %s, want 403 saying how to allow it", who, ep, status, b)
			}
		}
	}
	// With a connector the administrator allowed, and the same connector changed back.
	r.connector(t, "root", map[string]any{"name": "s3+ok", "owner": "alice", "buckets": []string{"lake"}, "endpoint": r.s3, "allow_private_endpoints": true})
	if got, msg := r.status(t, "alice", http.MethodGet, "/v1/connector/s3+ok/lake/", ""); got != http.StatusOK {
		t.Errorf("GET through an allowed connector: %d %s", got, msg)
	}
	var c api.Connector
	status, b := r.json(t, "root", http.MethodPatch, "/v1/connectors/s3+ok?owner=alice", map[string]any{"allow_private_endpoints": false}, &c)
	if status != http.StatusForbidden || !strings.Contains(string(b), "allow_private_endpoints") {
		t.Errorf("turning the allowance off while the endpoint is on loopback: %d %s, want 403", status, b)
	}
}

// TestHTTPDefaultStore: blob:// is the connector named in the configuration.
func TestHTTPDefaultStore(t *testing.T) {
	t.Parallel()
	s3 := startS3(t, "lake")
	for _, tc := range []struct {
		def, blobPath, s3Path string
	}{
		{"s3+lake://lake/pre", "a/b.txt", "lake/pre/a/b.txt"},
		{"s3+lake", "lake/a/b.txt", "lake/a/b.txt"},
	} {
		c := startCP(t, server.Config{DefaultConnector: tc.def})
		resp, b := c.do(t, "alice", http.MethodGet, "/v1/connector/blob/"+tc.blobPath, nil)
		msg := wantEnvelope(t, "blob:// before its connector exists", resp, b, http.StatusNotFound, api.ErrTypeNotFound)
		if !strings.Contains(msg, "administrator creates it") {
			t.Errorf("blob:// before its connector exists: %q", msg)
		}
		c.connector(t, "root", map[string]any{"name": "s3+lake", "platform": true, "buckets": []string{"lake"}, "write": true,
			"endpoint": s3, "allow_private_endpoints": true})
		resp, b = c.do(t, "alice", http.MethodPut, "/v1/connector/blob/"+tc.blobPath, strings.NewReader("blob"))
		var res api.DataResult
		if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &res) != nil || res.Result != "blob://"+tc.blobPath {
			t.Errorf("%s: PUT blob://%s: %d %s", tc.def, tc.blobPath, resp.StatusCode, b)
		}
		resp, b = c.do(t, "bob", http.MethodGet, "/v1/connector/s3+lake/"+tc.s3Path, nil)
		if resp.StatusCode != http.StatusOK || string(b) != "blob" {
			t.Errorf("%s: GET s3+lake://%s: %d %s", tc.def, tc.s3Path, resp.StatusCode, b)
		}
		resp, b = c.do(t, "bob", http.MethodGet, "/v1/connector/blob/"+tc.blobPath, nil)
		if resp.StatusCode != http.StatusOK || string(b) != "blob" {
			t.Errorf("%s: GET blob://%s: %d %s", tc.def, tc.blobPath, resp.StatusCode, b)
		}
		if tc.def == "s3+lake" { // blob://lake is the bucket
			resp, b = c.do(t, "bob", http.MethodPut, "/v1/connector/blob/lake", strings.NewReader("x"))
			wantEnvelope(t, "PUT on blob://bucket", resp, b, http.StatusBadRequest, api.ErrTypeInput)
			if resp, b = c.do(t, "bob", http.MethodGet, "/v1/connector/blob/lake", nil); resp.StatusCode != http.StatusOK || resp.Header.Get("X-Data-Type") != "directory" {
				t.Errorf("GET blob://lake: %d %s", resp.StatusCode, b)
			}
		}
		resp, b = c.do(t, "bob", http.MethodHead, "/v1/connector/blob/", nil)
		if tc.def == "s3+lake" {
			wantEnvelope(t, "blob:// without a bucket", resp, b, http.StatusBadRequest, api.ErrTypeInput)
		} else if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Data-Type") != "directory" {
			t.Errorf("%s: HEAD blob://: %d", tc.def, resp.StatusCode)
		}
	}
}

func TestHTTPPathContainment(t *testing.T) {
	t.Parallel()
	r := startRights(t)
	if got, _ := r.status(t, "alice", http.MethodPut, "/v1/connector/s3+lake/lake/f.txt", "f"); got != http.StatusOK {
		t.Fatalf("PUT: %d", got)
	}
	bad := map[string]string{
		"dot-dot":                "s3+lake/lake/../../s3+shared/shared/f.txt",
		"dot-dot to the bucket":  "s3+lake/lake/a/..",
		"dot":                    "s3+lake/lake/./f.txt",
		"encoded dot-dot":        "s3+lake/lake/%2e%2e/%2e%2e/etc/passwd",
		"mixed-case dot-dot":     "s3+lake/lake/%2E%2e/x",
		"double-encoded dot-dot": "s3+lake/lake/%252e%252e/%252e%252e/x",
		"encoded slash":          "s3+lake/lake/..%2F..%2Fetc",
		"NUL":                    "s3+lake/lake/f.txt%00.png",
		"absolute path":          "/etc/passwd",
		"absolute path inside":   "s3+lake/lake//etc/passwd",
		"empty segment":          "s3+lake/lake/a//b",
		"bucket dot-dot":         "s3+lake/..",
		"backslash":              "s3+lake/lake/..%5C..%5Cx",
		"encoded connector":      "s3%2Blake%2F..%2Fx/lake/f.txt",
	}
	for what, p := range bad {
		for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodHead} {
			resp, body := r.do(t, "alice", method, "/v1/connector/"+p, strings.NewReader("x"))
			wantEnvelope(t, what+" "+method, resp, body, http.StatusBadRequest, api.ErrTypeInput)
		}
	}
	resp, b := r.do(t, "alice", http.MethodGet, "/v1/connector/s3+lake/lake/f.txt", nil)
	if resp.StatusCode != http.StatusOK || string(b) != "f" {
		t.Errorf("after the attempts: %d %q", resp.StatusCode, b)
	}
}
