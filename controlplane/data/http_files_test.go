package data_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/algos-dev/algos/api"
)

// TestHTTPFilesAndFolders drives the Data API the way Algorithmia's clients do.
func TestHTTPFilesAndFolders(t *testing.T) {
	t.Parallel()
	c := startCP(t)
	ctx := t.Context()
	alice := c.client("alice")

	// Algorithmia's body: {"name","acl":{"read":["user://*"]}}, on data://.my.
	resp, body := c.do(t, "alice", http.MethodPost, "/v1/data/.my", strings.NewReader(`{"name":"robots","acl":{"read":["user://*"]}}`), "Content-Type", "application/json")
	var coll api.Collection
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &coll) != nil || coll.Owner != "alice" || coll.ACL != api.ACLPublic {
		t.Fatalf("create a collection: %d %s", resp.StatusCode, body)
	}
	resp, body = c.do(t, "alice", http.MethodPost, "/v1/data/.my", strings.NewReader(`{"name":"robots"}`))
	wantEnvelope(t, "create it again", resp, body, http.StatusConflict, api.ErrTypeConflict)

	if err := alice.PutFile(ctx, "data://.my/robots/T-800.txt", "text/plain", strings.NewReader("Cyberdyne Systems Series 800")); err != nil {
		t.Fatal(err)
	}
	resp, body = c.do(t, "alice", http.MethodPut, "/v1/data/.my/robots/R2%20D2.json", strings.NewReader(`{"beep":true}`), "Content-Type", "application/json")
	if resp.StatusCode != http.StatusOK || string(body) != `{"result":"data://alice/robots/R2 D2.json"}` {
		t.Errorf("PUT: %d %s", resp.StatusCode, body)
	}

	// GET: bytes, type, length, time; ranges.
	resp, body = c.do(t, "bob", http.MethodGet, "/v1/data/alice/robots/R2%20D2.json", nil)
	if resp.StatusCode != 200 || string(body) != `{"beep":true}` || resp.Header.Get("Content-Type") != "application/json" ||
		resp.Header.Get("Content-Length") != "13" || resp.Header.Get("Last-Modified") == "" || resp.Header.Get("X-Data-Type") != "file" {
		t.Errorf("GET file: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	resp, body = c.do(t, "alice", http.MethodGet, "/v1/data/alice/robots/T-800.txt", nil, "Range", "bytes=10-16")
	if resp.StatusCode != http.StatusPartialContent || string(body) != "Systems" {
		t.Errorf("GET range: %d %q", resp.StatusCode, body)
	}
	st, err := alice.StatFile(ctx, "data://alice/robots/T-800.txt")
	if err != nil || st.Size != 28 || st.ContentType != "text/plain" || time.Since(st.LastModified) > time.Minute || st.Filename != "T-800.txt" {
		t.Errorf("StatFile: %+v, %v", st, err)
	}
	resp, _ = c.do(t, "alice", http.MethodHead, "/v1/data/alice/robots/missing", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("HEAD missing: %d", resp.StatusCode)
	}

	// Folders and listings in Algorithmia's format.
	if err := alice.Mkdir(ctx, "data://alice/robots", "friendly"); err != nil {
		t.Fatal(err)
	}
	resp, body = c.do(t, "alice", http.MethodPost, "/v1/data/alice/robots", strings.NewReader(`{"name":"x","acl":"public"}`))
	wantEnvelope(t, "a folder with its own ACL", resp, body, http.StatusBadRequest, api.ErrTypeInput)
	resp, body = c.do(t, "alice", http.MethodGet, "/v1/data/.my/robots?acl=true", nil)
	var raw struct {
		Folders []map[string]any `json:"folders"`
		Files   []map[string]any `json:"files"`
		ACL     map[string][]string
	}
	if err := json.Unmarshal(body, &raw); err != nil || resp.Header.Get("X-Data-Type") != "directory" {
		t.Fatalf("listing: %s, %v", body, err)
	}
	if len(raw.Folders) != 1 || raw.Folders[0]["name"] != "friendly" || len(raw.Files) != 2 ||
		raw.Files[0]["filename"] != "R2 D2.json" || raw.Files[0]["size"] != 13.0 || len(raw.ACL["read"]) != 1 || raw.ACL["read"][0] != "user://*" {
		t.Errorf("listing: %s", body)
	}
	if lm, _ := raw.Files[0]["last_modified"].(string); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(lm) {
		t.Errorf("last_modified %q is not Algorithmia's 2016-01-06T00:52:34.000Z form", lm)
	}
	resp, body = c.do(t, "alice", http.MethodGet, "/v1/data/alice/robots/friendly", nil)
	if resp.StatusCode != 200 || string(body) != `{"folders":[],"files":[]}` {
		t.Errorf("an empty folder: %d %s", resp.StatusCode, body)
	}

	// Marker paging with ?limit=.
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		if err := alice.PutFile(ctx, "data://alice/robots/friendly/"+n, "", strings.NewReader(n)); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	marker := ""
	for pages := 1; ; pages++ {
		q := "?limit=2"
		if marker != "" {
			q += "&marker=" + marker
		}
		resp, body = c.do(t, "alice", http.MethodGet, "/v1/data/alice/robots/friendly/"+q, nil)
		var l api.DataListing
		if err := json.Unmarshal(body, &l); err != nil || resp.StatusCode != 200 {
			t.Fatalf("page %d: %d %s", pages, resp.StatusCode, body)
		}
		for _, f := range l.Files {
			names = append(names, f.Filename)
		}
		if marker = l.Marker; marker == "" || pages > 10 {
			break
		}
	}
	if strings.Join(names, ",") != "a,b,c,d,e" {
		t.Errorf("paged listing: %v", names)
	}
	resp, body = c.do(t, "alice", http.MethodGet, "/v1/data/alice/robots/?limit=0x", nil)
	wantEnvelope(t, "bad limit", resp, body, http.StatusBadRequest, api.ErrTypeInput)

	// ACL changes; collections listing.
	if _, err := alice.UpdateCollection(ctx, "alice", "robots", api.ACLPrivate); err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(c.client("bob"), "data://alice/robots/T-800.txt"); statusOf(err) != 404 {
		t.Errorf("bob reads after the collection turned private: %v", err)
	}
	if fs, err := alice.ListCollections(ctx, ".my"); err != nil || len(fs) != 1 || fs[0].ACL != api.ACLPrivate {
		t.Errorf("ListCollections: %+v, %v", fs, err)
	}

	// Deletes: Algorithmia's {"result":{"deleted":N}}; idempotent; 409 without force.
	resp, body = c.do(t, "alice", http.MethodDelete, "/v1/data/alice/robots/T-800.txt", nil)
	if resp.StatusCode != 200 || string(body) != `{"result":{"deleted":1}}` {
		t.Errorf("DELETE file: %d %s", resp.StatusCode, body)
	}
	resp, body = c.do(t, "alice", http.MethodDelete, "/v1/data/alice/robots/T-800.txt", nil)
	if resp.StatusCode != 200 || string(body) != `{"result":{"deleted":0}}` {
		t.Errorf("DELETE missing file: %d %s", resp.StatusCode, body)
	}
	resp, body = c.do(t, "alice", http.MethodDelete, "/v1/data/alice/robots/friendly", nil)
	wantEnvelope(t, "DELETE a non-empty folder", resp, body, http.StatusConflict, api.ErrTypeConflict)
	if _, err := alice.DeleteCollection(ctx, "alice", "robots", false); statusOf(err) != 409 {
		t.Errorf("DeleteCollection non-empty without force: %v", err)
	}
	if n, err := alice.DeleteCollection(ctx, "alice", "robots", true); err != nil || n != 6 {
		t.Errorf("DeleteCollection with force: %d, %v; want 6 files", n, err)
	}
	if _, err := alice.List(ctx, "data://alice/robots", ""); statusOf(err) != 404 {
		t.Errorf("List a deleted collection: %v", err)
	}
}

// pattern is an endless, deterministic stream of pseudo-random bytes.
type pattern struct {
	block []byte
	off   int
}

func (p *pattern) Read(b []byte) (int, error) {
	n := copy(b, p.block[p.off:])
	p.off = (p.off + n) % len(p.block)
	return n, nil
}

// heapWatch samples HeapInuse until stopped and reports the highest value.
func heapWatch() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

// TestHTTPLargeFileBoundedMemory puts and gets a 256 MiB file through the HTTP API and checks
// that the process's heap (control plane and client together) stays far below the file's size.
// Not parallel: other tests would allocate meanwhile.
func TestHTTPLargeFileBoundedMemory(t *testing.T) {
	const size = 256 << 20
	const limit = 64 << 20
	c := startCP(t)
	ctx := t.Context()
	alice := c.client("alice")
	if _, err := alice.CreateCollection(ctx, "alice", api.CreateCollection{Name: "big"}); err != nil {
		t.Fatal(err)
	}
	block := make([]byte, 1<<20+13) // not a multiple of any buffer size
	_, _ = rand.Read(block)

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	stop := heapWatch()

	in := sha256.New()
	src := io.TeeReader(io.LimitReader(&pattern{block: block}, size), in)
	if err := alice.PutFile(ctx, "data://alice/big/blob.bin", "application/octet-stream", src); err != nil {
		stop()
		t.Fatalf("PutFile: %v", err)
	}
	rc, err := alice.GetFile(ctx, "data://alice/big/blob.bin")
	if err != nil {
		stop()
		t.Fatalf("GetFile: %v", err)
	}
	out := sha256.New()
	n, err := io.Copy(out, rc)
	rc.Close()
	peak := stop()
	if err != nil || n != size {
		t.Fatalf("GetFile read %d bytes, %v; want %d", n, err, size)
	}
	if string(in.Sum(nil)) != string(out.Sum(nil)) {
		t.Error("the file came back different: SHA-256 differs")
	}
	growth := int64(peak) - int64(base)
	t.Logf("HeapInuse: %d MiB before, peak %d MiB (growth %d MiB) for a %d MiB file", base>>20, peak>>20, growth>>20, size>>20)
	if growth > limit {
		t.Errorf("HeapInuse grew by %d MiB moving a %d MiB file; want under %d MiB", growth>>20, size>>20, limit>>20)
	}
	if st, err := alice.StatFile(ctx, "data://alice/big/blob.bin"); err != nil || st.Size != size {
		t.Errorf("StatFile: %+v, %v", st, err)
	}
}
