package connector_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/server"
)

// kindSetup starts a store of one kind with the bucket and returns the connector settings
// that reach it and the secrets its credentials hold.
type kindSetup func(t *testing.T, bucket string) (settings map[string]any, secrets []string)

func s3Setup(t *testing.T, bucket string) (map[string]any, []string) {
	secret, token := "s3-secret-"+rand.Text(), "s3-session-"+rand.Text()
	return map[string]any{
		"endpoint":    startS3(t, bucket),
		"credentials": map[string]string{"access_key_id": "AKIDTEST", "secret_access_key": secret, "session_token": token},
	}, []string{secret, token}
}

// gcsSetup gives the connector a service account whose token endpoint is a loopback server,
// and checks that fake-gcs-server sees the token it issued.
func gcsSetup(t *testing.T, bucket string) (map[string]any, []string) {
	token := "gcs-token-" + rand.Text()
	var bearer atomic.Int64
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ParseForm() != nil || r.PostForm.Get("assertion") == "" {
			http.Error(w, "no assertion", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, token)
	}))
	t.Cleanup(tokens.Close)
	endpoint := startGCS(t, func(auth string) {
		if auth == "Bearer "+token {
			bearer.Add(1)
		}
	}, bucket)
	t.Cleanup(func() {
		if bearer.Load() == 0 {
			t.Error("fake-gcs-server never saw the service account's token")
		}
	})
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	sa := map[string]string{
		"type": "service_account", "project_id": "test", "private_key_id": "kid", "private_key": pemKey,
		"client_email": "sa@test.iam.gserviceaccount.com", "token_uri": tokens.URL + "/token",
	}
	return map[string]any{"endpoint": endpoint, "credentials": sa}, []string{pemKey[40:80], token}
}

func azureSetup(t *testing.T, bucket string) (map[string]any, []string) {
	return map[string]any{
		"endpoint":    azurite(t, bucket),
		"credentials": map[string]string{"account_name": "devstoreaccount1", "account_key": azKey},
	}, []string{azKey}
}

var kinds = []struct {
	kind  string
	setup kindSetup
}{{"s3", s3Setup}, {"gs", gcsSetup}, {"azure", azureSetup}}

// listAll pages through a folder with limit entries a page and returns its folders and files.
// fake-gcs-server sends a folder again on every page whose marker sorts before it and does not
// count folders in a page's size (Cloud Storage counts them and sends each once): for gs the
// folders are deduplicated and only files count against the limit.
func listAll(t *testing.T, c *cp, path string, limit int) (folders, files []string, pages int) {
	gcsFake := strings.HasPrefix(path, "/v1/connector/gs")
	t.Helper()
	marker := ""
	for {
		q := url.Values{"limit": {fmt.Sprint(limit)}}
		if marker != "" {
			q.Set("marker", marker)
		}
		resp, b := c.do(t, "alice", http.MethodGet, path+"?"+q.Encode(), nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Data-Type") != "directory" {
			t.Fatalf("list %s: %d %s %s", path, resp.StatusCode, resp.Header.Get("X-Data-Type"), b)
		}
		var l api.DataListing
		if err := json.Unmarshal(b, &l); err != nil {
			t.Fatal(err)
		}
		n := len(l.Folders) + len(l.Files)
		if gcsFake {
			n = len(l.Files)
		}
		if n > limit {
			t.Errorf("list %s: a page of %d entries, limit %d", path, n, limit)
		}
		for _, f := range l.Folders {
			if !gcsFake || !slices.Contains(folders, f.Name) {
				folders = append(folders, f.Name)
			}
		}
		for _, f := range l.Files {
			files = append(files, f.Filename)
			if f.LastModified.IsZero() {
				t.Errorf("list %s: %s has no last_modified", path, f.Filename)
			}
		}
		pages++
		if marker = l.Marker; marker == "" || pages > 20 {
			return folders, files, pages
		}
	}
}

// pseudoRandom returns n reproducible bytes.
func pseudoRandom(n int, seed uint64) []byte {
	r := mrand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	b := make([]byte, n)
	_, _ = r.Read(b)
	return b
}

// TestHTTPFiles drives every kind of store through the API: put, get (whole and ranges),
// head, listings paged with markers in the Data API's form, delete, and a file large enough
// to need several parts.
func TestHTTPFiles(t *testing.T) {
	t.Parallel()
	for _, k := range kinds {
		t.Run(k.kind, func(t *testing.T) {
			t.Parallel()
			const bucket = "files"
			settings, secrets := k.setup(t, bucket)
			c := startCP(t, server.Config{})
			name := k.kind + "+t"
			in := map[string]any{"name": name, "owner": "alice", "buckets": []string{bucket}, "write": true, "allow_private_endpoints": true}
			for k, v := range settings {
				in[k] = v
			}
			conn := c.connector(t, "root", in)
			if !conn.HasCredentials || conn.Kind != k.kind || conn.Owner != "alice" || !conn.Read || !conn.Write {
				t.Errorf("created %+v", conn)
			}
			base := "/v1/connector/" + name + "/" + bucket

			resp, b := c.do(t, "alice", http.MethodPut, base+"/dir/a.txt", strings.NewReader("hello"), "Content-Type", "text/plain")
			var res api.DataResult
			if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &res) != nil || res.Result != name+"://"+bucket+"/dir/a.txt" {
				t.Fatalf("PUT: %d %s", resp.StatusCode, b)
			}
			resp, b = c.do(t, "alice", http.MethodGet, base+"/dir/a.txt", nil)
			if resp.StatusCode != http.StatusOK || string(b) != "hello" || resp.Header.Get("X-Data-Type") != "file" ||
				!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
				t.Errorf("GET: %d %q %v", resp.StatusCode, b, resp.Header)
			}
			resp, b = c.do(t, "alice", http.MethodGet, base+"/dir/a.txt", nil, "Range", "bytes=1-3")
			if resp.StatusCode != http.StatusPartialContent || string(b) != "ell" {
				t.Errorf("GET a range: %d %q", resp.StatusCode, b)
			}
			resp, _ = c.do(t, "alice", http.MethodHead, base+"/dir/a.txt", nil)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Data-Type") != "file" || resp.Header.Get("Content-Length") != "5" {
				t.Errorf("HEAD file: %d %v", resp.StatusCode, resp.Header)
			}
			for _, p := range []string{"/dir", "/dir/", ""} {
				if resp, _ = c.do(t, "alice", http.MethodHead, base+p, nil); resp.StatusCode != http.StatusOK || resp.Header.Get("X-Data-Type") != "directory" {
					t.Errorf("HEAD %q: %d %v", p, resp.StatusCode, resp.Header)
				}
			}
			resp, b = c.do(t, "alice", http.MethodHead, base+"/dir/nope", nil)
			wantEnvelope(t, "HEAD missing", resp, b, http.StatusNotFound, api.ErrTypeNotFound)

			for i := range 5 {
				if resp, b := c.do(t, "alice", http.MethodPut, fmt.Sprintf("%s/dir/f%d", base, i), strings.NewReader("x")); resp.StatusCode != http.StatusOK {
					t.Fatalf("PUT f%d: %d %s", i, resp.StatusCode, b)
				}
			}
			if resp, b := c.do(t, "alice", http.MethodPut, base+"/dir/sub/g", strings.NewReader("g")); resp.StatusCode != http.StatusOK {
				t.Fatalf("PUT sub/g: %d %s", resp.StatusCode, b)
			}
			folders, files, pages := listAll(t, c, base+"/dir/", 2)
			slices.Sort(files)
			if !slices.Equal(folders, []string{"sub"}) || !slices.Equal(files, []string{"a.txt", "f0", "f1", "f2", "f3", "f4"}) || pages < 3 {
				t.Errorf("listing in pages of 2: folders %v, files %v, %d pages", folders, files, pages)
			}
			folders, files, _ = listAll(t, c, base+"/dir", 1000) // a folder named without the slash
			if len(folders) != 1 || len(files) != 6 {
				t.Errorf("listing dir: %v %v", folders, files)
			}
			folders, files, _ = listAll(t, c, base+"/", 1000)
			if !slices.Equal(folders, []string{"dir"}) || len(files) != 0 {
				t.Errorf("listing the bucket: %v %v", folders, files)
			}
			resp, b = c.do(t, "alice", http.MethodGet, base+"/nope/", nil)
			wantEnvelope(t, "GET a missing folder", resp, b, http.StatusNotFound, api.ErrTypeNotFound)
			resp, b = c.do(t, "alice", http.MethodGet, base+"/dir/?marker=%21%21", nil)
			wantEnvelope(t, "GET with a bad marker", resp, b, http.StatusBadRequest, api.ErrTypeInput)

			for want, n := range []int{1, 0} {
				var del api.DataDeleted
				resp, b = c.do(t, "alice", http.MethodDelete, base+"/dir/a.txt", nil)
				if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &del) != nil || del.Result.Deleted != n {
					t.Errorf("DELETE #%d: %d %s, want deleted %d", want+1, resp.StatusCode, b, n)
				}
			}
			resp, b = c.do(t, "alice", http.MethodGet, base+"/dir/a.txt", nil)
			wantEnvelope(t, "GET deleted", resp, b, http.StatusNotFound, api.ErrTypeNotFound)
			resp, b = c.do(t, "alice", http.MethodDelete, base+"/dir/", nil)
			wantEnvelope(t, "DELETE a folder", resp, b, http.StatusBadRequest, api.ErrTypeInput)

			big := pseudoRandom(20<<20+12345, 7) // three parts of 8 MiB
			if resp, b := c.do(t, "alice", http.MethodPut, base+"/big.bin", bytes.NewReader(big)); resp.StatusCode != http.StatusOK {
				t.Fatalf("PUT big: %d %s", resp.StatusCode, b)
			}
			resp, b = c.do(t, "alice", http.MethodGet, base+"/big.bin", nil)
			if resp.StatusCode != http.StatusOK || !bytes.Equal(b, big) {
				t.Errorf("GET big: %d, %d bytes, equal %v", resp.StatusCode, len(b), bytes.Equal(b, big))
			}
			resp, b = c.do(t, "alice", http.MethodGet, base+"/big.bin", nil, "Range", "bytes=16777200-16777299")
			if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(b, big[16777200:16777300]) {
				t.Errorf("GET a range across parts: %d, %d bytes", resp.StatusCode, len(b))
			}

			var got api.Connector
			if status, b := c.json(t, "alice", http.MethodGet, "/v1/connectors/"+name, nil, &got); status != http.StatusOK || !got.HasCredentials {
				t.Errorf("GET connector: %d %s", status, b)
			}
			c.noSecrets(t, secrets...)
		})
	}
}
