package algo

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLocate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		uri, wantPath, wantURL string
	}{
		{"data://demo/c/a.txt", "demo/c/a.txt", "/v1/data/demo/c/a.txt"},
		{"demo/c/a.txt", "demo/c/a.txt", "/v1/data/demo/c/a.txt"},
		{"data:///demo/c", "demo/c", "/v1/data/demo/c"},
		{"DATA://.my/c/x", ".my/c/x", "/v1/data/.my/c/x"},
		{"data://demo/c/a b?#%.txt", "demo/c/a b?#%.txt", "/v1/data/demo/c/a%20b%3F%23%25.txt"},
		{"data://demo/c/héllo", "demo/c/héllo", "/v1/data/demo/c/h%C3%A9llo"},
		{"s3://bucket/key/x.csv", "s3://bucket/key/x.csv", "/v1/connector/s3/bucket/key/x.csv"},
		{"s3+label://bucket/k", "s3+label://bucket/k", "/v1/connector/s3+label/bucket/k"},
		{"gs://b/k", "gs://b/k", "/v1/connector/gs/b/k"},
		{"azure://container/k", "azure://container/k", "/v1/connector/azure/container/k"},
		{"blob://path/k", "blob://path/k", "/v1/connector/blob/path/k"},
	}
	for _, tt := range tests {
		path, url, err := locate(tt.uri)
		if err != nil || path != tt.wantPath || url != tt.wantURL {
			t.Errorf("locate(%q) = %q, %q, %v; want %q, %q", tt.uri, path, url, err, tt.wantPath, tt.wantURL)
		}
	}
	for _, uri := range []string{"", "data://", "s3:///", "file:///etc/passwd"} {
		if _, _, err := locate(uri); !errors.Is(err, ErrInvalidReference) {
			t.Errorf("locate(%q) = %v, want ErrInvalidReference", uri, err)
		}
	}
}

func TestPathNames(t *testing.T) {
	t.Parallel()
	c := NewClient()
	if got := c.File("data://demo/c/dir/a.txt").Name(); got != "a.txt" {
		t.Errorf("File.Name = %q, want a.txt", got)
	}
	d := c.Dir("data://demo/c/dir/")
	if d.Path() != "demo/c/dir" || d.Name() != "dir" {
		t.Errorf("Dir = %q %q, want demo/c/dir, dir", d.Path(), d.Name())
	}
	if got := d.File("x.txt").Path(); got != "demo/c/dir/x.txt" {
		t.Errorf("Dir.File.Path = %q", got)
	}
	if got := c.Dir("s3://bucket/p").Dir("q").Path(); got != "s3://bucket/p/q" {
		t.Errorf("Dir.Dir.Path = %q", got)
	}
	if err := c.Dir("").File("x").Delete(t.Context()); !errors.Is(err, ErrInvalidReference) {
		t.Errorf("File in a bad Dir: Delete = %v, want ErrInvalidReference", err)
	}
	for _, tt := range []struct{ path, parent, base string }{
		{"demo/c", "demo", "c"},
		{"demo/c/d/", "demo/c", "d"},
		{"s3://bucket/p/q", "s3://bucket/p", "q"},
		{"s3://bucket", "s3://", "bucket"},
	} {
		parent, base, err := parentAndBase(tt.path)
		if err != nil || parent != tt.parent || base != tt.base {
			t.Errorf("parentAndBase(%q) = %q, %q, %v; want %q, %q", tt.path, parent, base, err, tt.parent, tt.base)
		}
	}
	if _, _, err := parentAndBase("demo"); !errors.Is(err, ErrInvalidReference) {
		t.Errorf("parentAndBase(demo) = %v, want ErrInvalidReference", err)
	}
}

func TestFiles(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	c := testClient(map[string]string{AddressEnv: api.URL(), KeyEnv: "key_env"}, nil)
	ctx := t.Context()

	f := c.File("data://demo/c/dir/a.txt")
	if ok, err := f.Exists(ctx); ok || err != nil {
		t.Errorf("Exists before Put = %v, %v; want false, nil", ok, err)
	}
	if _, err := f.Get(ctx); !isAPIError(err, "NotFoundError", 404) {
		t.Errorf("Get before Put = %v, want NotFoundError 404", err)
	}
	if err := f.Put(ctx, strings.NewReader("hello")); err != nil {
		t.Fatalf("Put: %v", err)
	}
	r := api.last()
	if r.Method != "PUT" || r.Path != "/v1/data/demo/c/dir/a.txt" || r.ContentLength != 5 || r.ContentType != "application/octet-stream" || r.Auth != "Simple key_env" {
		t.Errorf("Put sent %+v", r)
	}
	if ok, err := f.Exists(ctx); !ok || err != nil {
		t.Errorf("Exists = %v, %v; want true, nil", ok, err)
	}
	if b, err := f.GetBytes(ctx); err != nil || string(b) != "hello" {
		t.Errorf("GetBytes = %q, %v; want hello", b, err)
	}

	j := c.File("demo/c/v.json")
	if err := j.PutJSON(ctx, map[string]any{"k": []int{1}, "h": "<&>"}); err != nil {
		t.Fatalf("PutJSON: %v", err)
	}
	if ff, _ := api.file("/v1/data/demo/c/v.json"); string(ff.data) != `{"h":"<&>","k":[1]}` || ff.contentType != "application/json" {
		t.Errorf("PutJSON stored %s %q", ff.contentType, ff.data)
	}
	var v struct {
		K []int
		H string
	}
	if err := j.GetJSON(ctx, &v); err != nil || !reflect.DeepEqual(v.K, []int{1}) || v.H != "<&>" {
		t.Errorf("GetJSON = %+v, %v", v, err)
	}

	t.Run("a directory is not a file", func(t *testing.T) {
		dir := c.File("data://demo/c/dir")
		if ok, err := dir.Exists(ctx); ok || err != nil {
			t.Errorf("Exists = %v, %v; want false, nil", ok, err)
		}
		if _, err := dir.Get(ctx); !isAPIError(err, "", 400) {
			t.Errorf("Get = %v, want *Error 400", err)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		no := c.File("data://demo/c/forbidden")
		// A reply to HEAD has no body, so no envelope.
		if _, err := no.Exists(ctx); !isAPIError(err, "", 403) {
			t.Errorf("Exists = %v, want *Error 403", err)
		}
		err := no.Put(ctx, strings.NewReader("x"))
		if !isAPIError(err, "AuthorizationError", 403) || !strings.HasPrefix(err.Error(), "unable to put file demo/c/forbidden - ") {
			t.Errorf("Put = %v, want AuthorizationError 403 naming the file", err)
		}
		if err := no.Delete(ctx); !isAPIError(err, "AuthorizationError", 403) {
			t.Errorf("Delete = %v, want AuthorizationError 403", err)
		}
	})

	t.Run("delete is idempotent", func(t *testing.T) {
		for range 2 {
			if err := f.Delete(ctx); err != nil {
				t.Fatalf("Delete: %v", err)
			}
		}
		if ok, _ := f.Exists(ctx); ok {
			t.Error("the file exists after Delete")
		}
	})

	t.Run("connector", func(t *testing.T) {
		s3 := c.File("s3://bucket/k/x.bin")
		if err := s3.Put(ctx, bytes.NewReader([]byte{0, 1})); err != nil {
			t.Fatalf("Put: %v", err)
		}
		if r := api.last(); r.Path != "/v1/connector/s3/bucket/k/x.bin" {
			t.Errorf("Put went to %s", r.Path)
		}
		if b, err := s3.GetBytes(ctx); err != nil || !bytes.Equal(b, []byte{0, 1}) {
			t.Errorf("GetBytes = %v, %v", b, err)
		}
	})
}

func isAPIError(err error, errorType string, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Type == errorType && e.StatusCode == status
}

// TestPutStreams checks that Put sends the body as it is produced (the API gets the first
// bytes before the rest exists) and sends the length when it is known.
func TestPutStreams(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	c := testClient(nil, nil, WithAddress(api.URL()))

	pr, pw := io.Pipe()
	go func() {
		_, _ = io.WriteString(pw, "hello")
		select {
		case <-api.gotFirst:
			_, _ = io.WriteString(pw, " world")
			_ = pw.Close()
		case <-time.After(10 * time.Second):
			_ = pw.CloseWithError(errors.New("the API did not get the first bytes before the rest was written"))
		}
	}()
	if err := c.File("data://demo/c/streamed").Put(t.Context(), pr); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if ff, _ := api.file("/v1/data/demo/c/streamed"); string(ff.data) != "hello world" {
		t.Errorf("stored %q, want hello world", ff.data)
	}
	if r := api.last(); r.ContentLength != -1 {
		t.Errorf("Content-Length of a pipe = %d, want -1 (chunked)", r.ContentLength)
	}

	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if _, err := file.Seek(4, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if err := c.File("data://demo/c/from-file").Put(t.Context(), file); err != nil {
		t.Fatalf("Put(file): %v", err)
	}
	if r := api.last(); r.ContentLength != 6 {
		t.Errorf("Content-Length of the file = %d, want 6", r.ContentLength)
	}
	if ff, _ := api.file("/v1/data/demo/c/from-file"); string(ff.data) != "456789" {
		t.Errorf("stored %q, want 456789", ff.data)
	}

	if err := c.File("data://demo/c/empty").Put(t.Context(), bytes.NewReader(nil)); err != nil {
		t.Fatalf("Put(empty): %v", err)
	}
	if r := api.last(); r.ContentLength != 0 {
		t.Errorf("Content-Length of nothing = %d, want 0", r.ContentLength)
	}
}

// TestGetStreams checks that Get returns the file as it arrives: the API sends the rest only
// once the client has read the first bytes.
func TestGetStreams(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	c := testClient(nil, nil, WithAddress(api.URL()))
	body, err := c.File("data://demo/c/streamed").Get(t.Context())
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer body.Close()
	first := make([]byte, 5)
	if _, err := io.ReadFull(body, first); err != nil || string(first) != "first" {
		t.Fatalf("first bytes = %q, %v", first, err)
	}
	close(api.release)
	rest, err := io.ReadAll(body)
	if err != nil || string(rest) != "second" {
		t.Errorf("rest = %q, %v; want second", rest, err)
	}
}

// TestClientTimeout checks that the client's timeout bounds silence, not a whole transfer.
func TestClientTimeout(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)

	t.Run("no reply", func(t *testing.T) {
		t.Parallel()
		c := testClient(nil, nil, WithAddress(api.URL()), WithTimeout(200*time.Millisecond))
		_, err := c.File("data://demo/c/silent").Get(t.Context())
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no progress for 200ms") {
			t.Errorf("Get = %v, want a no-progress error wrapping context.DeadlineExceeded", err)
		}
	})

	t.Run("reply stalls", func(t *testing.T) {
		t.Parallel()
		c := testClient(nil, nil, WithAddress(api.URL()), WithTimeout(200*time.Millisecond))
		body, err := c.File("data://demo/c/stalled").Get(t.Context())
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		defer body.Close()
		got, err := io.ReadAll(body)
		if string(got) != "first" || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("ReadAll = %q, %v; want first and context.DeadlineExceeded", got, err)
		}
	})

	t.Run("steady trickle", func(t *testing.T) {
		t.Parallel()
		c := testClient(nil, nil, WithAddress(api.URL()), WithTimeout(time.Second))
		start := time.Now()
		b, err := c.File("data://demo/c/trickle").GetBytes(t.Context())
		if err != nil || string(b) != "012345678901234" {
			t.Errorf("GetBytes = %q, %v; want all 15 chunks", b, err)
		}
		if d := time.Since(start); d < time.Second {
			t.Errorf("the transfer took %v, less than the timeout: the test proves nothing", d)
		}
	})

	t.Run("context bounds too", func(t *testing.T) {
		t.Parallel()
		c := testClient(nil, nil, WithAddress(api.URL()), WithTimeout(0))
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		if _, err := c.File("data://demo/c/silent").Exists(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Exists = %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestDirs(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	c := testClient(nil, nil, WithAddress(api.URL()))
	ctx := t.Context()

	col := c.Dir("data://demo/col")
	if ok, err := col.Exists(ctx); ok || err != nil {
		t.Errorf("Exists before Create = %v, %v", ok, err)
	}
	if err := col.Create(ctx, ACLPublic); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if r := api.last(); r.Method != "POST" || r.Path != "/v1/data/demo" || string(r.Body) != `{"acl":"public","name":"col"}` {
		t.Errorf("Create sent %s %s %s", r.Method, r.Path, r.Body)
	}
	if err := col.Create(ctx, ACLPublic); !isAPIError(err, "ConflictError", 409) {
		t.Errorf("Create again = %v, want ConflictError 409", err)
	}
	if err := col.Dir("sub").Create(ctx, ACLDefault); err != nil {
		t.Fatalf("Create sub: %v", err)
	}
	if r := api.last(); r.Path != "/v1/data/demo/col" || string(r.Body) != `{"name":"sub"}` {
		t.Errorf("Create sub sent %s %s", r.Path, r.Body)
	}
	if ok, err := col.Exists(ctx); !ok || err != nil {
		t.Errorf("Exists = %v, %v", ok, err)
	}
	for _, name := range []string{"e.txt", "a.txt", "d.txt", "b/x.txt", "c.txt"} {
		if err := col.File(name).Put(ctx, strings.NewReader(name)); err != nil {
			t.Fatalf("Put %s: %v", name, err)
		}
	}
	if ok, err := c.Dir("data://demo/col/a.txt").Exists(ctx); ok || err != nil {
		t.Errorf("a file: Dir.Exists = %v, %v; want false", ok, err)
	}

	n := len(api.requests())
	entries, err := col.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	lm := time.Date(2016, 1, 6, 0, 52, 34, 0, time.UTC)
	want := []Entry{
		{Name: "b", Path: "demo/col/b", IsDir: true},
		{Name: "sub", Path: "demo/col/sub", IsDir: true},
		{Name: "a.txt", Path: "demo/col/a.txt", Size: 5, LastModified: lm},
		{Name: "c.txt", Path: "demo/col/c.txt", Size: 5, LastModified: lm},
		{Name: "d.txt", Path: "demo/col/d.txt", Size: 5, LastModified: lm},
		{Name: "e.txt", Path: "demo/col/e.txt", Size: 5, LastModified: lm},
	}
	if !reflect.DeepEqual(entries, want) {
		t.Errorf("List =\n%+v\nwant\n%+v", entries, want)
	}
	var markers []string
	for _, r := range api.requests()[n:] {
		markers = append(markers, r.Query.Get("marker"))
	}
	if !reflect.DeepEqual(markers, []string{"", "page-2", "page-4"}) {
		t.Errorf("markers sent = %q, want the three pages'", markers)
	}

	if _, err := c.Dir("data://demo/col/loop").List(ctx); err == nil || !strings.Contains(err.Error(), "same page marker twice") {
		t.Errorf("List of a looping listing = %v, want an error", err)
	}
	if _, err := c.Dir("data://demo/nothing").List(ctx); !isAPIError(err, "NotFoundError", 404) {
		t.Errorf("List of nothing = %v, want NotFoundError 404", err)
	}
	if err := c.Dir("demo").Create(ctx, ACLDefault); !errors.Is(err, ErrInvalidReference) {
		t.Errorf("Create(demo) = %v, want ErrInvalidReference", err)
	}

	if err := col.Delete(ctx, false); !isAPIError(err, "ConflictError", 409) {
		t.Errorf("Delete without force = %v, want ConflictError 409", err)
	}
	if err := col.Delete(ctx, true); err != nil {
		t.Fatalf("Delete with force: %v", err)
	}
	if r := api.last(); r.Method != "DELETE" || r.Query.Get("force") != "true" {
		t.Errorf("Delete sent %s %v", r.Method, r.Query)
	}
	if err := col.Delete(ctx, true); err != nil {
		t.Errorf("Delete again: %v", err)
	}
	if ok, err := col.Dir("b").Exists(ctx); ok || err != nil {
		t.Errorf("b after Delete: Exists = %v, %v", ok, err)
	}
}
