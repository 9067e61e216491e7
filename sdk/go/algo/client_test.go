package algo

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/algos-dev/algos/sdk/internal/wire"
)

// fakeAPI is a stateful stand-in for the part of the REST API the client uses (docs/api.md):
// calls of a few test algorithms under /v1/algo/demo/…, and a Data API (also served under
// /v1/connector/…) with listings in pages. It records every request.
type fakeAPI struct {
	t   *testing.T
	srv *httptest.Server

	// pageSize is the number of listing entries per page.
	pageSize int
	// release lets the handler of a GET of …/streamed send the rest of the file; gotFirst is
	// closed when the handler of a PUT of …/streamed has received the first 5 bytes.
	release, gotFirst chan struct{}

	mu    sync.Mutex
	seen  []seenRequest
	files map[string]fakeFile // by REST path (decoded), e.g. /v1/data/demo/c/a.txt
	dirs  map[string]string   // folders and collections created by POST, with their ACL
}

type fakeFile struct {
	contentType string
	data        []byte
}

// seenRequest is what the fake recorded of one request.
type seenRequest struct {
	Method, Path, RawPath string
	Query                 url.Values
	Auth, Parent          string
	ContentType           string
	ContentLength         int64
	Body                  []byte // for calls and POSTs only
}

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{
		t: t, pageSize: 2,
		release: make(chan struct{}), gotFirst: make(chan struct{}),
		files: map[string]fakeFile{}, dirs: map[string]string{},
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) URL() string { return f.srv.URL }

// requests returns the requests recorded so far.
func (f *fakeAPI) requests() []seenRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.seen)
}

// last returns the last request recorded; the test fails when there is none.
func (f *fakeAPI) last() seenRequest {
	f.t.Helper()
	seen := f.requests()
	if len(seen) == 0 {
		f.t.Fatal("the API got no request")
	}
	return seen[len(seen)-1]
}

func (f *fakeAPI) put(path, contentType string, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files[path] = fakeFile{contentType, data}
}

func (f *fakeAPI) file(path string) (fakeFile, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ff, ok := f.files[path]
	return ff, ok
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	s := seenRequest{
		Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), Query: r.URL.Query(),
		Auth: r.Header.Get("Authorization"), Parent: r.Header.Get(parentHeader),
		ContentType: r.Header.Get("Content-Type"), ContentLength: r.ContentLength,
	}
	if r.Method == http.MethodPost {
		s.Body, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(s.Body))
	}
	f.mu.Lock()
	f.seen = append(f.seen, s)
	f.mu.Unlock()
	switch {
	case strings.HasPrefix(r.URL.Path, "/v1/algo/"):
		f.call(w, r)
	case strings.HasPrefix(r.URL.Path, "/v1/data/"), strings.HasPrefix(r.URL.Path, "/v1/connector/"):
		f.data(w, r)
	default:
		envelope(w, http.StatusNotFound, "NotFoundError", "no route")
	}
}

func envelope(w http.ResponseWriter, status int, errorType, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": message, "error_type": errorType}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// call serves POST /v1/algo/demo/{name}[/{version}]: echo answers its input back; the others
// fail in the ways their names say.
func (f *fakeAPI) call(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/v1/algo/"), "/")
	if r.Method != http.MethodPost || len(parts) < 2 {
		envelope(w, http.StatusMethodNotAllowed, "MethodNotAllowedError", "POST an algorithm")
		return
	}
	body, _ := io.ReadAll(r.Body)
	switch parts[1] {
	case "echo":
	case "fail":
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{
			"message": "the input is wrong", "error_type": "InputError", "stacktrace": "at line 3"}})
		return
	case "missing":
		envelope(w, http.StatusNotFound, "NotFoundError", "algorithm demo/missing not found")
		return
	case "gateway":
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "<html>bad gateway</html>\n")
		return
	case "ok-error":
		writeJSON(w, http.StatusOK, map[string]any{"error": map[string]any{"message": "late failure", "error_type": "AlgorithmTimeoutError"}})
		return
	case "string-error":
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "plain words"})
		return
	case "bad-binary":
		writeJSON(w, http.StatusOK, map[string]any{"result": "**", "metadata": map[string]any{"content_type": "binary"}})
		return
	case "no-metadata":
		writeJSON(w, http.StatusOK, map[string]any{"result": 1})
		return
	case "void":
		writeJSON(w, http.StatusOK, map[string]any{"result": nil, "metadata": map[string]any{"content_type": "void"}})
		return
	case "slow":
		<-r.Context().Done()
		return
	default:
		envelope(w, http.StatusNotFound, "NotFoundError", "no such algorithm")
		return
	}
	var result any
	contentType := "json"
	mt := strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0])
	switch mt {
	case "application/json":
		result = json.RawMessage(body)
	case "text/plain":
		result, contentType = string(body), "text"
	default:
		result, contentType = base64.StdEncoding.EncodeToString(body), "binary"
	}
	if r.URL.Query().Get("output") == "raw" {
		switch contentType {
		case "json":
			w.Header().Set("Content-Type", "application/json")
		case "text":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		default:
			w.Header().Set("Content-Type", "application/octet-stream")
		}
		_, _ = w.Write(body)
		return
	}
	md := map[string]any{"content_type": contentType, "duration": 0.25}
	if r.URL.Query().Get("stdout") == "true" {
		md["stdout"] = "a log line\n"
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": result, "metadata": md})
}

// data serves the Data API over the files and dirs maps.
func (f *fakeAPI) data(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimSuffix(r.URL.Path, "/")
	switch name := p[strings.LastIndexByte(p, '/')+1:]; name {
	case "forbidden":
		envelope(w, http.StatusForbidden, "AuthorizationError", "the key may not write here")
		return
	case "stalled":
		// The first bytes, then nothing until the client gives up.
		w.Header().Set("X-Data-Type", "file")
		_, _ = io.WriteString(w, "first")
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
		return
	case "silent":
		<-r.Context().Done()
		return
	case "trickle":
		// 15 chunks, 100 ms apart: longer in all than the client's timeout in the test, never
		// silent that long.
		w.Header().Set("X-Data-Type", "file")
		for i := range 15 {
			_, _ = io.WriteString(w, strconv.Itoa(i%10))
			http.NewResponseController(w).Flush()
			time.Sleep(100 * time.Millisecond)
		}
		return
	case "loop":
		writeJSON(w, http.StatusOK, map[string]any{"folders": []any{}, "files": []any{}, "marker": "again"})
		return
	case "streamed":
		if r.Method == http.MethodGet {
			w.Header().Set("X-Data-Type", "file")
			_, _ = io.WriteString(w, "first")
			http.NewResponseController(w).Flush()
			select {
			case <-f.release:
				_, _ = io.WriteString(w, "second")
			case <-time.After(10 * time.Second):
				_, _ = io.WriteString(w, "TIMEOUT")
			}
			return
		}
		if r.Method == http.MethodPut {
			first := make([]byte, 5)
			if _, err := io.ReadFull(r.Body, first); err != nil {
				envelope(w, http.StatusBadRequest, "InputError", err.Error())
				return
			}
			close(f.gotFirst)
			rest, _ := io.ReadAll(r.Body)
			f.put(p, r.Header.Get("Content-Type"), append(first, rest...))
			writeJSON(w, http.StatusOK, map[string]any{"result": "data://…"})
			return
		}
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if ff, ok := f.file(p); ok && !strings.HasSuffix(r.URL.Path, "/") {
			w.Header().Set("X-Data-Type", "file")
			w.Header().Set("Content-Type", ff.contentType)
			w.Header().Set("Content-Length", strconv.Itoa(len(ff.data)))
			if r.Method == http.MethodGet {
				_, _ = w.Write(ff.data)
			}
			return
		}
		folders, files, ok := f.children(p)
		if !ok {
			envelope(w, http.StatusNotFound, "NotFoundError", "no such file or directory")
			return
		}
		w.Header().Set("X-Data-Type", "directory")
		if r.Method == http.MethodHead {
			return
		}
		f.list(w, r, p, folders, files)
	case http.MethodPut:
		data, err := io.ReadAll(r.Body)
		if err != nil {
			envelope(w, http.StatusBadRequest, "InputError", err.Error())
			return
		}
		f.put(p, r.Header.Get("Content-Type"), data)
		writeJSON(w, http.StatusOK, map[string]any{"result": "data://" + p})
	case http.MethodPost:
		var body struct {
			Name string `json:"name"`
			ACL  string `json:"acl"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Name == "" {
			envelope(w, http.StatusBadRequest, "InputError", "send {\"name\"}")
			return
		}
		child := p + "/" + body.Name
		f.mu.Lock()
		_, exists := f.dirs[child]
		if !exists {
			f.dirs[child] = body.ACL
		}
		f.mu.Unlock()
		if exists {
			envelope(w, http.StatusConflict, "ConflictError", child+" exists already")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"result": "data://" + child})
	case http.MethodDelete:
		f.mu.Lock()
		deleted := 0
		if _, ok := f.files[p]; ok {
			delete(f.files, p)
			deleted = 1
		}
		var inside []string
		for k := range f.files {
			if strings.HasPrefix(k, p+"/") {
				inside = append(inside, k)
			}
		}
		force := r.URL.Query().Get("force") == "true"
		if len(inside) > 0 && !force {
			f.mu.Unlock()
			envelope(w, http.StatusConflict, "ConflictError", "the directory is not empty; delete with force=true")
			return
		}
		for _, k := range inside {
			delete(f.files, k)
			deleted++
		}
		delete(f.dirs, p)
		f.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"result": map[string]any{"deleted": deleted}})
	default:
		envelope(w, http.StatusMethodNotAllowed, "MethodNotAllowedError", r.Method)
	}
}

type fakeEntry struct {
	name string
	size int
}

// children returns the folders and files directly in the directory p, and whether p is one.
func (f *fakeAPI) children(p string) (folders []string, files []fakeEntry, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok = f.dirs[p]
	seenFolder := map[string]bool{}
	addFolder := func(name string) {
		if !seenFolder[name] {
			seenFolder[name] = true
			folders = append(folders, name)
		}
	}
	for k, ff := range f.files {
		rest, found := strings.CutPrefix(k, p+"/")
		if !found {
			continue
		}
		ok = true
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			addFolder(rest[:i])
		} else {
			files = append(files, fakeEntry{rest, len(ff.data)})
		}
	}
	for k := range f.dirs {
		if rest, found := strings.CutPrefix(k, p+"/"); found {
			ok = true
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				rest = rest[:i]
			}
			addFolder(rest)
		}
	}
	sort.Strings(folders)
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	return folders, files, ok
}

// list answers one page of a listing: folders then files, pageSize entries from the marker
// ("page-N", N the index of the first entry).
func (f *fakeAPI) list(w http.ResponseWriter, r *http.Request, p string, folders []string, files []fakeEntry) {
	start := 0
	if m := r.URL.Query().Get("marker"); m != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(m, "page-"))
		if err != nil || !strings.HasPrefix(m, "page-") {
			envelope(w, http.StatusBadRequest, "InputError", "bad marker")
			return
		}
		start = n
	}
	outFolders, outFiles := []any{}, []any{}
	end := min(start+f.pageSize, len(folders)+len(files))
	for i := start; i < end; i++ {
		if i < len(folders) {
			outFolders = append(outFolders, map[string]any{"name": folders[i]})
			continue
		}
		e := files[i-len(folders)]
		outFiles = append(outFiles, map[string]any{"filename": e.name, "size": e.size, "last_modified": "2016-01-06T00:52:34.000Z"})
	}
	reply := map[string]any{"folders": outFolders, "files": outFiles}
	if end < len(folders)+len(files) {
		reply["marker"] = "page-" + strconv.Itoa(end)
	}
	writeJSON(w, http.StatusOK, reply)
}

// testClient returns a client whose environment is env and whose current call is calls (nil:
// none), so that tests run in parallel without touching the process's environment.
func testClient(env map[string]string, calls *callSlot, opts ...ClientOption) *Client {
	c := NewClient(opts...)
	c.getenv = func(name string) string { return env[name] }
	if calls == nil {
		calls = &callSlot{}
	}
	c.calls = calls
	return c
}

func inCall(token, requestID string) *callSlot {
	s := &callSlot{}
	s.begin(wire.Call{Token: token, RequestID: requestID})
	return s
}

// TestClientCredentials checks which address and credentials a request uses.
func TestClientCredentials(t *testing.T) {
	t.Parallel()
	agent, other := newFakeAPI(t), newFakeAPI(t)
	tests := []struct {
		name       string
		env        map[string]string
		calls      *callSlot
		opts       []ClientOption
		wantServer *fakeAPI
		wantAuth   string
		wantParent string
	}{{
		name:       "in a call: the token, to the agent",
		env:        map[string]string{AddressEnv: agent.URL(), KeyEnv: "key_env"},
		calls:      inCall("act_1", "req-1"),
		wantServer: agent, wantAuth: "Simple act_1", wantParent: "req-1",
	}, {
		name:       "in a call, a key given: the key",
		env:        map[string]string{AddressEnv: agent.URL(), KeyEnv: "key_env"},
		calls:      inCall("act_1", "req-1"),
		opts:       []ClientOption{WithKey("key_arg")},
		wantServer: agent, wantAuth: "Simple key_arg", wantParent: "req-1",
	}, {
		name:       "in a call, another address: never the token",
		env:        map[string]string{AddressEnv: agent.URL(), KeyEnv: "key_env"},
		calls:      inCall("act_1", "req-1"),
		opts:       []ClientOption{WithAddress(other.URL())},
		wantServer: other, wantAuth: "Simple key_env", wantParent: "req-1",
	}, {
		name:       "in a call, another address and no key: nothing",
		env:        map[string]string{AddressEnv: agent.URL()},
		calls:      inCall("act_1", ""),
		opts:       []ClientOption{WithAddress(other.URL())},
		wantServer: other, wantAuth: "",
	}, {
		name:       "in a call, the agent's address given: the token",
		env:        map[string]string{AddressEnv: agent.URL() + "/"},
		calls:      inCall("act_1", "req-1"),
		opts:       []ClientOption{WithAddress(agent.URL() + "/")},
		wantServer: agent, wantAuth: "Simple act_1", wantParent: "req-1",
	}, {
		name:       "in a call, no agent address: not the token",
		env:        map[string]string{KeyEnv: "key_env"},
		calls:      inCall("act_1", "req-1"),
		opts:       []ClientOption{WithAddress(other.URL())},
		wantServer: other, wantAuth: "Simple key_env", wantParent: "req-1",
	}, {
		name:       "token from the environment (exec runner, Python runner)",
		env:        map[string]string{AddressEnv: agent.URL(), KeyEnv: "key_env", wire.TokenEnv: "act_env", wire.RequestIDEnv: "req-env"},
		wantServer: agent, wantAuth: "Simple act_env", wantParent: "req-env",
	}, {
		name:       "a call without a token outranks the environment",
		env:        map[string]string{AddressEnv: agent.URL(), KeyEnv: "key_env", wire.TokenEnv: "act_stale"},
		calls:      inCall("", ""),
		wantServer: agent, wantAuth: "Simple key_env",
	}, {
		name:       "outside a call: the key from the environment",
		env:        map[string]string{AddressEnv: agent.URL(), KeyEnv: "key_env"},
		wantServer: agent, wantAuth: "Simple key_env",
	}, {
		name:       "outside a call: the key given, the address given",
		env:        map[string]string{AddressEnv: agent.URL(), KeyEnv: "key_env"},
		opts:       []ClientOption{WithKey("key_arg"), WithAddress(other.URL())},
		wantServer: other, wantAuth: "Simple key_arg",
	}, {
		name:       "a Bearer key is sent as is",
		opts:       []ClientOption{WithKey("Bearer tok"), WithAddress(other.URL())},
		wantServer: other, wantAuth: "Bearer tok",
	}, {
		name:       "a Simple key is sent as is",
		env:        map[string]string{KeyEnv: "Simple key_env"},
		opts:       []ClientOption{WithAddress(other.URL())},
		wantServer: other, wantAuth: "Simple key_env",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: the two servers' request logs are shared by the cases.
			c := testClient(tt.env, tt.calls, tt.opts...)
			before := map[*fakeAPI]int{agent: len(agent.requests()), other: len(other.requests())}
			if _, err := c.Algo("demo/echo").Pipe(t.Context(), 1); err != nil {
				t.Fatalf("Pipe: %v", err)
			}
			for _, s := range []*fakeAPI{agent, other} {
				got := len(s.requests()) - before[s]
				want := 0
				if s == tt.wantServer {
					want = 1
				}
				if got != want {
					t.Errorf("server %s got %d requests, want %d", s.URL(), got, want)
				}
			}
			r := tt.wantServer.last()
			if r.Auth != tt.wantAuth {
				t.Errorf("Authorization = %q, want %q", r.Auth, tt.wantAuth)
			}
			if r.Parent != tt.wantParent {
				t.Errorf("%s = %q, want %q", parentHeader, r.Parent, tt.wantParent)
			}
		})
	}
}

// TestClientTokenAtRequestTime checks that a client made before any call uses, at each request,
// the token of the call being served then.
func TestClientTokenAtRequestTime(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	calls := &callSlot{}
	c := testClient(map[string]string{AddressEnv: api.URL(), KeyEnv: "key_env"}, calls)
	steps := []struct {
		call     *wire.Call // nil: no call being served
		wantAuth string
	}{
		{nil, "Simple key_env"},
		{&wire.Call{Token: "act_a", RequestID: "req-a"}, "Simple act_a"},
		{nil, "Simple key_env"},
		{&wire.Call{Token: "act_b", RequestID: "req-b"}, "Simple act_b"},
	}
	for i, s := range steps {
		if s.call != nil {
			calls.begin(*s.call)
		}
		if err := c.File("data://demo/c/x").Delete(t.Context()); err != nil {
			t.Fatalf("step %d: Delete: %v", i, err)
		}
		calls.end()
		if got := api.last().Auth; got != s.wantAuth {
			t.Errorf("step %d: Authorization = %q, want %q", i, got, s.wantAuth)
		}
	}
}

func TestPipeInputsAndResults(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	c := testClient(nil, nil, WithAddress(api.URL()))
	tests := []struct {
		name            string
		input           any
		wantContentType string // of the request
		wantBody        string
		wantType        string // of the result
		wantResult      any
	}{
		{"string is text", "héllo <&>", "text/plain", "héllo <&>", "text", "héllo <&>"},
		{"bytes are binary", []byte{0, 0xff, 'a'}, "application/octet-stream", "\x00\xffa", "binary", []byte{0, 0xff, 'a'}},
		{"empty bytes", []byte{}, "application/octet-stream", "", "binary", []byte{}},
		{"map is JSON", map[string]any{"a": []int{1, 2}, "h": "<&>"}, "application/json", `{"a":[1,2],"h":"<&>"}`, "json",
			map[string]any{"a": []any{1.0, 2.0}, "h": "<&>"}},
		{"nil is JSON null", nil, "application/json", "null", "json", nil},
		{"number", 2.5, "application/json", "2.5", "json", 2.5},
		{"struct", struct {
			N int `json:"n"`
		}{7}, "application/json", `{"n":7}`, "json", map[string]any{"n": 7.0}},
		{"raw JSON as is", json.RawMessage(`[1, "x"]`), "application/json", `[1, "x"]`, "json", []any{1.0, "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := c.Algo("demo/echo/1.*").Pipe(t.Context(), tt.input)
			if err != nil {
				t.Fatalf("Pipe: %v", err)
			}
			r := api.last()
			if r.RawPath != "/v1/algo/demo/echo/1.*" {
				t.Errorf("path = %q, want /v1/algo/demo/echo/1.*", r.RawPath)
			}
			if r.ContentType != tt.wantContentType || string(r.Body) != tt.wantBody {
				t.Errorf("sent %s %q, want %s %q", r.ContentType, r.Body, tt.wantContentType, tt.wantBody)
			}
			if resp.Metadata.ContentType != tt.wantType {
				t.Errorf("content type = %q, want %q", resp.Metadata.ContentType, tt.wantType)
			}
			if !reflect.DeepEqual(resp.Result, tt.wantResult) {
				t.Errorf("Result = %#v, want %#v", resp.Result, tt.wantResult)
			}
			if resp.Metadata.Duration != 250*time.Millisecond {
				t.Errorf("Duration = %v, want 250ms", resp.Metadata.Duration)
			}
		})
	}

	t.Run("Decode", func(t *testing.T) {
		resp, err := c.Algo("demo/echo").Pipe(t.Context(), map[string]any{"n": 12345678901})
		if err != nil {
			t.Fatalf("Pipe: %v", err)
		}
		var v struct{ N int64 }
		if err := resp.Decode(&v); err != nil || v.N != 12345678901 {
			t.Errorf("Decode = %v, %+v; want N 12345678901", err, v)
		}
		resp, err = c.Algo("demo/echo").Pipe(t.Context(), []byte{1, 2})
		if err != nil {
			t.Fatalf("Pipe: %v", err)
		}
		var b []byte
		if err := resp.Decode(&b); err != nil || !bytes.Equal(b, []byte{1, 2}) {
			t.Errorf("Decode binary = %v, %v; want [1 2]", err, b)
		}
	})

	t.Run("inputs that cannot be encoded", func(t *testing.T) {
		for _, in := range []any{math.NaN(), make(chan int), json.RawMessage(`{`)} {
			n := len(api.requests())
			if _, err := c.Algo("demo/echo").Pipe(t.Context(), in); err == nil {
				t.Errorf("Pipe(%T) = nil error, want one", in)
			}
			if len(api.requests()) != n {
				t.Errorf("Pipe(%T) sent a request", in)
			}
		}
	})
}

func TestPipeOptions(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	c := testClient(nil, nil, WithAddress(api.URL()))
	tests := []struct {
		name      string
		opts      []CallOption
		input     any
		wantQuery url.Values
		want      Response // Full and RawResult not compared
	}{
		{"none", nil, "x", url.Values{},
			Response{Result: "x", Metadata: Metadata{ContentType: "text", Duration: 250 * time.Millisecond}}},
		{"timeout rounded up", []CallOption{CallTimeout(1500 * time.Millisecond)}, "x", url.Values{"timeout": {"2"}},
			Response{Result: "x", Metadata: Metadata{ContentType: "text", Duration: 250 * time.Millisecond}}},
		{"stdout", []CallOption{Stdout()}, "x", url.Values{"stdout": {"true"}},
			Response{Result: "x", Metadata: Metadata{ContentType: "text", Duration: 250 * time.Millisecond, Stdout: "a log line\n"}}},
		{"raw binary", []CallOption{Raw()}, []byte{0, 0xff}, url.Values{"output": {"raw"}},
			Response{Result: []byte{0, 0xff}, Metadata: Metadata{ContentType: "binary"}}},
		{"raw text", []CallOption{Raw()}, "héllo", url.Values{"output": {"raw"}},
			Response{Result: "héllo", Metadata: Metadata{ContentType: "text"}}},
		{"raw JSON", []CallOption{Raw(), CallTimeout(time.Minute)}, []int{1}, url.Values{"output": {"raw"}, "timeout": {"60"}},
			Response{Result: []any{1.0}, Metadata: Metadata{ContentType: "json"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := c.Algo("algo://demo/echo", tt.opts...).Pipe(t.Context(), tt.input)
			if err != nil {
				t.Fatalf("Pipe: %v", err)
			}
			if q := api.last().Query; !reflect.DeepEqual(q, tt.wantQuery) {
				t.Errorf("query = %v, want %v", q, tt.wantQuery)
			}
			resp.Metadata.Full, resp.RawResult = nil, nil
			if !reflect.DeepEqual(*resp, tt.want) {
				t.Errorf("Response = %#v, want %#v", *resp, tt.want)
			}
		})
	}
	t.Run("Decode raw results", func(t *testing.T) {
		resp, err := c.Algo("demo/echo", Raw()).Pipe(t.Context(), "text")
		var s string
		if err != nil || resp.Decode(&s) != nil || s != "text" {
			t.Errorf("raw text: %v, %q", err, s)
		}
		resp, err = c.Algo("demo/echo", Raw()).Pipe(t.Context(), []byte{7})
		var b []byte
		if err != nil || resp.Decode(&b) != nil || !bytes.Equal(b, []byte{7}) {
			t.Errorf("raw binary: %v, %v", err, b)
		}
		if err := resp.Decode(&s); err == nil {
			t.Error("Decode of a raw binary result into *string = nil error, want one")
		}
	})
}

func TestAlgoReferences(t *testing.T) {
	t.Parallel()
	c := NewClient()
	tests := []struct {
		ref, wantPath, wantURL string
	}{
		{"demo/echo", "demo/echo", "/v1/algo/demo/echo"},
		{"algo://demo/echo/1.2.3", "demo/echo/1.2.3", "/v1/algo/demo/echo/1.2.3"},
		{"/demo/echo/1.*/", "demo/echo/1.*", "/v1/algo/demo/echo/1.*"},
		{"demo/echo/latest", "demo/echo/latest", "/v1/algo/demo/echo/latest"},
		{"demo/na me", "demo/na me", "/v1/algo/demo/na%20me"},
	}
	for _, tt := range tests {
		a := c.Algo(tt.ref)
		if a.err != nil || a.Path() != tt.wantPath || a.url != tt.wantURL {
			t.Errorf("Algo(%q) = %q %q %v, want %q %q", tt.ref, a.Path(), a.url, a.err, tt.wantPath, tt.wantURL)
		}
	}
	for _, ref := range []string{"", "echo", "demo/", "algo://", "-x/y", "data://demo/echo"} {
		if _, err := c.Algo(ref).Pipe(t.Context(), nil); !errors.Is(err, ErrInvalidReference) {
			t.Errorf("Algo(%q).Pipe = %v, want ErrInvalidReference", ref, err)
		}
	}
}

func TestPipeErrors(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	c := testClient(nil, nil, WithAddress(api.URL()))
	tests := []struct {
		algorithm string
		want      *Error // nil: an error that is not an *Error
	}{
		{"demo/fail", &Error{Type: "InputError", Message: "the input is wrong", Stacktrace: "at line 3", StatusCode: 400}},
		{"demo/missing", &Error{Type: "NotFoundError", Message: "algorithm demo/missing not found", StatusCode: 404}},
		{"demo/gateway", &Error{Message: "calling demo/gateway: <html>bad gateway</html>", StatusCode: 502}},
		{"demo/ok-error", &Error{Type: "AlgorithmTimeoutError", Message: "late failure", StatusCode: 200}},
		{"demo/string-error", &Error{Message: "calling demo/string-error: plain words", StatusCode: 500}},
		{"demo/bad-binary", nil},
		{"demo/no-metadata", nil},
	}
	for _, tt := range tests {
		t.Run(tt.algorithm, func(t *testing.T) {
			_, err := c.Algo(tt.algorithm).Pipe(t.Context(), "x")
			var e *Error
			switch {
			case err == nil:
				t.Fatal("Pipe = nil error, want one")
			case tt.want == nil && errors.As(err, &e):
				t.Errorf("Pipe = *Error %+v, want another error", e)
			case tt.want != nil && !errors.As(err, &e):
				t.Errorf("Pipe = %v (%T), want *Error", err, err)
			case tt.want != nil && *e != *tt.want:
				t.Errorf("Pipe = %+v, want %+v", *e, *tt.want)
			}
		})
	}

	t.Run("void", func(t *testing.T) {
		resp, err := c.Algo("demo/void").Pipe(t.Context(), nil)
		if err != nil || resp.Result != nil || resp.Metadata.ContentType != "void" {
			t.Errorf("Pipe = %+v, %v; want a void result", resp, err)
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		_ = l.Close()
		_, err = testClient(nil, nil, WithAddress("http://"+addr)).Algo("demo/echo").Pipe(t.Context(), 1)
		var e *Error
		if err == nil || errors.As(err, &e) || !strings.Contains(err.Error(), "cannot reach the API") {
			t.Errorf("Pipe = %v, want an error saying the API cannot be reached", err)
		}
	})

	t.Run("bad address", func(t *testing.T) {
		for _, addr := range []string{"ftp://host", "127.0.0.1:8080", "http://"} {
			_, err := testClient(nil, nil, WithAddress(addr)).Algo("demo/echo").Pipe(t.Context(), 1)
			if !errors.Is(err, ErrInvalidAddress) {
				t.Errorf("address %q: Pipe = %v, want ErrInvalidAddress", addr, err)
			}
		}
	})

	t.Run("context deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		_, err := c.Algo("demo/slow").Pipe(ctx, 1)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Pipe = %v, want context.DeadlineExceeded", err)
		}
	})
}

// TestRedirectsNotFollowed checks that a redirect is an error, so that a key never reaches
// another host.
func TestRedirectsNotFollowed(t *testing.T) {
	t.Parallel()
	target := newFakeAPI(t)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL()+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirect.Close)
	c := testClient(map[string]string{KeyEnv: "key_secret"}, nil, WithAddress(redirect.URL))
	_, err := c.Algo("demo/echo").Pipe(t.Context(), 1)
	var e *Error
	if !errors.As(err, &e) || e.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("Pipe = %v, want *Error with status 307", err)
	}
	if n := len(target.requests()); n != 0 {
		t.Errorf("the redirect's target got %d requests, want 0", n)
	}
}
