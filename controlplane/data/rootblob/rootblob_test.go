package rootblob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

func open(t *testing.T) (*blob.Bucket, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bucket")
	b, err := OpenBucket(dir, nil)
	if err != nil {
		t.Fatalf("OpenBucket: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b, dir
}

func put(t *testing.T, b *blob.Bucket, key, body string) {
	t.Helper()
	if err := b.WriteAll(t.Context(), key, []byte(body), &blob.WriterOptions{ContentType: "text/plain"}); err != nil {
		t.Fatalf("WriteAll %s: %v", key, err)
	}
}

func wantCode(t *testing.T, what string, err error, want gcerrors.ErrorCode) {
	t.Helper()
	if got := gcerrors.Code(err); got != want {
		t.Errorf("%s: error %v (code %v), want code %v", what, err, got, want)
	}
}

func TestRoundTripAttributesRange(t *testing.T) {
	t.Parallel()
	b, dir := open(t)
	ctx := t.Context()
	opts := &blob.WriterOptions{ContentType: "application/json", Metadata: map[string]string{"k": "v"}, CacheControl: "no-cache"}
	if err := b.WriteAll(ctx, "a/b/c.json", []byte(`{"x":1234567890}`), opts); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "a", "b", "c.json")); err != nil || string(got) != `{"x":1234567890}` {
		t.Errorf("file on disk: %q, %v", got, err)
	}
	a, err := b.Attributes(ctx, "a/b/c.json")
	if err != nil {
		t.Fatal(err)
	}
	if a.ContentType != "application/json" || a.Size != 16 || a.Metadata["k"] != "v" || a.CacheControl != "no-cache" || a.ModTime.IsZero() {
		t.Errorf("Attributes: %+v", a)
	}
	r, err := b.NewRangeReader(ctx, "a/b/c.json", 5, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if string(got) != "1234" {
		t.Errorf("range read: %q, want 1234", got)
	}
	// Seek, as http.ServeContent does.
	r, err = b.NewReader(ctx, "a/b/c.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r.Seek(0, io.SeekEnd); err != nil || n != 16 {
		t.Errorf("Seek end: %d, %v", n, err)
	}
	_, _ = r.Seek(-3, io.SeekEnd)
	got, _ = io.ReadAll(r)
	r.Close()
	if string(got) != "90}" {
		t.Errorf("read after Seek: %q", got)
	}
	// Overwrite replaces data and attributes.
	if err := b.WriteAll(ctx, "a/b/c.json", []byte("hi"), &blob.WriterOptions{ContentType: "text/plain"}); err != nil {
		t.Fatal(err)
	}
	if a, err := b.Attributes(ctx, "a/b/c.json"); err != nil || a.ContentType != "text/plain; charset=utf-8" && a.ContentType != "text/plain" || a.Size != 2 {
		t.Errorf("Attributes after overwrite: %+v, %v", a, err)
	}
	_, err = b.Attributes(ctx, "a/b/missing")
	wantCode(t, "Attributes of a missing blob", err, gcerrors.NotFound)
	_, err = b.Attributes(ctx, "a/b")
	wantCode(t, "Attributes of a directory", err, gcerrors.NotFound)
}

func TestInvalidKeys(t *testing.T) {
	t.Parallel()
	b, _ := open(t)
	ctx := t.Context()
	for _, key := range []string{"../x", "a/../../x", "a/./b", "/etc/passwd", "a//b", "a/", "a\\b", "a\x00b", "a\nb",
		".rootblob-attrs-x", "a/.rootblob-tmp-1", strings.Repeat("x", 256), strings.Repeat("a/", 2100) + "b"} {
		err := b.WriteAll(ctx, key, []byte("x"), &blob.WriterOptions{ContentType: "text/plain"})
		wantCode(t, fmt.Sprintf("WriteAll %q", key), err, gcerrors.InvalidArgument)
		_, err = b.Attributes(ctx, key)
		wantCode(t, fmt.Sprintf("Attributes %q", key), err, gcerrors.InvalidArgument)
	}
}

// TestSymlinksRefused plants links inside the bucket's directory — to a file outside, to a
// directory outside, and to another blob inside — and checks that none is followed.
func TestSymlinksRefused(t *testing.T) {
	t.Parallel()
	b, dir := open(t)
	ctx := t.Context()
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("root:x:0:0"), 0o600); err != nil {
		t.Fatal(err)
	}
	put(t, b, "alice/c/real", "mine")
	mustLink := func(target, link string) {
		t.Helper()
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	mustLink("/etc/passwd", "alice/c/passwd")
	mustLink(secret, "alice/c/secret")
	mustLink(outside, "alice/c/out")
	mustLink("real", "alice/c/inside")
	mustLink(filepath.Join(dir, "alice"), "bob")

	for _, key := range []string{"alice/c/passwd", "alice/c/secret", "alice/c/out/secret", "alice/c/inside", "bob/c/real"} {
		_, err := b.Attributes(ctx, key)
		wantCode(t, "Attributes "+key, err, gcerrors.PermissionDenied)
		_, err = b.ReadAll(ctx, key)
		wantCode(t, "ReadAll "+key, err, gcerrors.PermissionDenied)
	}
	for _, key := range []string{"alice/c/out/new", "bob/c/new"} {
		err := b.WriteAll(ctx, key, []byte("x"), &blob.WriterOptions{ContentType: "text/plain"})
		wantCode(t, "WriteAll "+key, err, gcerrors.PermissionDenied)
	}
	err := b.Delete(ctx, "alice/c/out/secret")
	wantCode(t, "Delete through a linked directory", err, gcerrors.PermissionDenied)
	if got, err := os.ReadFile(secret); err != nil || string(got) != "root:x:0:0" {
		t.Errorf("the file outside changed: %q, %v", got, err)
	}
	if es, _ := os.ReadDir(outside); len(es) != 1 {
		t.Errorf("something was written outside the bucket: %v", es)
	}
	// Overwriting a planted link replaces the link; it never writes through it.
	put(t, b, "alice/c/secret", "replaced")
	if got, _ := os.ReadFile(secret); string(got) != "root:x:0:0" {
		t.Errorf("a write went through a link: the target holds %q", got)
	}
	// Listings do not show links.
	keys := listKeys(t, b, "", "", 1000)
	want := []string{"alice/c/real", "alice/c/secret"}
	if !slices.Equal(keys, want) {
		t.Errorf("List: %v, want %v", keys, want)
	}
	_, _, err = b.ListPage(ctx, blob.FirstPageToken, 10, &blob.ListOptions{Prefix: "bob/"})
	wantCode(t, "List through a linked directory", err, gcerrors.PermissionDenied)
}

func listKeys(t *testing.T, b *blob.Bucket, prefix, delim string, pageSize int) []string {
	t.Helper()
	var keys []string
	token := blob.FirstPageToken
	for pages := 0; len(token) > 0; pages++ {
		objs, next, err := b.ListPage(t.Context(), token, pageSize, &blob.ListOptions{Prefix: prefix, Delimiter: delim})
		if err != nil {
			t.Fatalf("ListPage: %v", err)
		}
		if len(objs) > pageSize {
			t.Fatalf("ListPage: %d objects, page size %d", len(objs), pageSize)
		}
		for _, o := range objs {
			keys = append(keys, o.Key)
		}
		token = next
		if pages > 1000 {
			t.Fatal("ListPage does not end")
		}
	}
	return keys
}

func TestListOrderPagingDelimiter(t *testing.T) {
	t.Parallel()
	b, dir := open(t)
	all := []string{"a-b", "a/b-c", "a/b/c", "a/b0", "a0", "b/x/y/z", "b/x0", "c"}
	for _, k := range all {
		put(t, b, k, k)
	}
	// Directories without blobs (left by a crash) are not listed.
	if err := os.MkdirAll(filepath.Join(dir, "a", "empty", "deeper"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		prefix, delim string
		want          []string
	}{
		{"", "", all},
		{"", "/", []string{"a-b", "a/", "a0", "b/", "c"}},
		{"a", "/", []string{"a-b", "a/", "a0"}},
		{"a/", "/", []string{"a/b-c", "a/b/", "a/b0"}},
		{"a/b", "/", []string{"a/b-c", "a/b/", "a/b0"}},
		{"a/b/", "", []string{"a/b/c"}},
		{"b/", "", []string{"b/x/y/z", "b/x0"}},
		{"b/x", "/", []string{"b/x/", "b/x0"}},
		{"zz/", "", nil},
		{"a/b/c/", "", nil}, // a file where the prefix needs a directory
	} {
		for _, size := range []int{1, 2, 3, 1000} {
			got := listKeys(t, b, tc.prefix, tc.delim, size)
			if !slices.Equal(got, tc.want) {
				t.Errorf("List(prefix %q, delimiter %q, page %d): %v, want %v", tc.prefix, tc.delim, size, got, tc.want)
			}
		}
	}
}

func TestDeletePrunesAndCollisions(t *testing.T) {
	t.Parallel()
	b, dir := open(t)
	ctx := t.Context()
	put(t, b, "x/y/z", "1")
	put(t, b, "x/keep", "2")
	err := b.WriteAll(ctx, "x/y/z/w", []byte("x"), &blob.WriterOptions{ContentType: "text/plain"})
	wantCode(t, "write below a file", err, gcerrors.FailedPrecondition)
	err = b.WriteAll(ctx, "x/y", []byte("x"), &blob.WriterOptions{ContentType: "text/plain"})
	wantCode(t, "write over a directory", err, gcerrors.FailedPrecondition)
	_, err = b.Attributes(ctx, "x/y/z/w")
	wantCode(t, "Attributes below a file", err, gcerrors.NotFound)
	wantCode(t, "Delete below a file", b.Delete(ctx, "x/y/z/w"), gcerrors.NotFound)
	// The refused writes left nothing behind: no temporary file, no attributes of "x/y".
	var names []string
	es, _ := os.ReadDir(filepath.Join(dir, "x"))
	for _, e := range es {
		names = append(names, e.Name())
	}
	if want := []string{attrsName("keep"), "keep", "y"}; !slices.Equal(names, want) {
		t.Errorf("x holds %v, want %v", names, want)
	}
	if err := b.Delete(ctx, "x/y/z"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "Delete again", b.Delete(ctx, "x/y/z"), gcerrors.NotFound)
	if _, err := os.Lstat(filepath.Join(dir, "x", "y")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the emptied directory x/y remains: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "x", "keep")); err != nil {
		t.Errorf("x/keep: %v", err)
	}
	if err := b.Delete(ctx, "x/keep"); err != nil {
		t.Fatal(err)
	}
	if es, _ := os.ReadDir(dir); len(es) != 0 {
		t.Errorf("bucket directory not empty after deleting everything: %v", es)
	}
}

func TestAbortedAndConditionalWrites(t *testing.T) {
	t.Parallel()
	b, dir := open(t)
	ctx, cancel := context.WithCancel(t.Context())
	w, err := b.NewWriter(ctx, "d/half", &blob.WriterOptions{ContentType: "text/plain"})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(bytes.Repeat([]byte("x"), 1000))
	cancel()
	if err := w.Close(); err == nil {
		t.Error("Close after cancel: nil error")
	}
	if _, err := b.Attributes(t.Context(), "d/half"); gcerrors.Code(err) != gcerrors.NotFound {
		t.Errorf("an aborted write left a blob: %v", err)
	}
	if es, _ := os.ReadDir(filepath.Join(dir, "d")); len(es) != 0 {
		t.Errorf("an aborted write left files: %v", es)
	}

	// Racing IfNotExist writers: exactly one wins.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			errs[i] = b.WriteAll(t.Context(), "d/once", []byte{byte(i)}, &blob.WriterOptions{ContentType: "text/plain", IfNotExist: true})
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch gcerrors.Code(err) {
		case gcerrors.OK:
			wins++
		case gcerrors.FailedPrecondition:
		default:
			t.Errorf("IfNotExist write: %v", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d IfNotExist writers won, want 1", wins)
	}
	if err := b.Copy(t.Context(), "e/copy", "d/once", nil); err != nil {
		t.Fatal(err)
	}
	if a, err := b.Attributes(t.Context(), "e/copy"); err != nil || a.Size != 1 || a.ContentType != "text/plain" {
		t.Errorf("copy: %+v, %v", a, err)
	}
}
