package data

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"github.com/algos-dev/algos/controlplane/auth"
	"github.com/algos-dev/algos/controlplane/data/rootblob"
	"github.com/algos-dev/algos/controlplane/store"
	"github.com/algos-dev/algos/controlplane/store/sqlite"
)

// env is a Data API service on a real SQLite store and a real bucket in a temporary directory.
type env struct {
	svc *Service
	st  *sqlite.Store
	dir string // the bucket's directory
}

var (
	alice    = &auth.Principal{Account: "alice", Data: store.DataReadWrite}
	aliceRO  = &auth.Principal{Account: "alice", Data: store.DataRead}
	aliceNo  = &auth.Principal{Account: "alice", Data: store.DataNone}
	bob      = &auth.Principal{Account: "bob", Data: store.DataReadWrite}
	rootUser = &auth.Principal{Account: "root", Admin: true, Data: store.DataReadWrite}
)

// backends are the buckets the service is tested on: rootblob (what the control plane uses)
// and gocloud's fileblob (a bucket with other rules, standing for S3 and the like).
var backends = map[string]func(dir string) (*blob.Bucket, error){
	"rootblob": func(dir string) (*blob.Bucket, error) { return rootblob.OpenBucket(dir, nil) },
	"fileblob": func(dir string) (*blob.Bucket, error) {
		return fileblob.OpenBucket(dir, &fileblob.Options{CreateDir: true})
	},
}

func newEnv(t *testing.T, backend string) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(dir, "algos.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	for _, a := range []store.Account{{Name: "alice"}, {Name: "bob"}, {Name: "root", Admin: true}} {
		if err := st.CreateAccount(t.Context(), a); err != nil {
			t.Fatal(err)
		}
	}
	bdir := filepath.Join(dir, "blobs")
	b, err := backends[backend](bdir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	svc, err := New(Config{Store: st, Bucket: b})
	if err != nil {
		t.Fatal(err)
	}
	return &env{svc: svc, st: st, dir: bdir}
}

func ref(t *testing.T, uri string) Ref {
	t.Helper()
	r, err := ParseURI(uri)
	if err != nil {
		t.Fatalf("ParseURI(%q): %v", uri, err)
	}
	return r
}

func (e *env) mkColl(t *testing.T, p *auth.Principal, owner, name string, acl store.CollectionACL) {
	t.Helper()
	if _, err := e.svc.CreateCollection(t.Context(), p, owner, name, acl); err != nil {
		t.Fatalf("CreateCollection %s/%s: %v", owner, name, err)
	}
}

func (e *env) put(t *testing.T, p *auth.Principal, uri, body string) {
	t.Helper()
	if _, err := e.svc.Put(t.Context(), p, ref(t, uri), "text/plain", strings.NewReader(body)); err != nil {
		t.Fatalf("Put %s: %v", uri, err)
	}
}

func (e *env) read(p *auth.Principal, uri string) (string, error) {
	r, err := ParseURI(uri)
	if err != nil {
		return "", err
	}
	rd, _, err := e.svc.Open(context.Background(), p, r)
	if err != nil {
		return "", err
	}
	defer rd.Close()
	b, err := io.ReadAll(rd)
	return string(b), err
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

func TestCollections(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "rootblob")
	ctx := t.Context()
	c, err := e.svc.CreateCollection(ctx, alice, MyOwner, "photos", "")
	if err != nil || c.Owner != "alice" || c.ACL != store.ACLMyAlgorithms || c.CreatedAt.IsZero() {
		t.Fatalf("CreateCollection with .my and no ACL: %+v, %v", c, err)
	}
	e.mkColl(t, alice, "alice", "public", store.ACLPublic)
	e.mkColl(t, alice, "alice", "secret", store.ACLPrivate)
	_, err = e.svc.CreateCollection(ctx, alice, "alice", "photos", store.ACLPublic)
	wantErr(t, "CreateCollection twice", err, ErrConflict)
	_, err = e.svc.CreateCollection(ctx, alice, "bob", "mine", store.ACLPublic)
	wantErr(t, "CreateCollection for another account", err, ErrForbidden)
	_, err = e.svc.CreateCollection(ctx, alice, "alice", "x", "world")
	wantErr(t, "CreateCollection with a bad ACL", err, ErrInvalid)
	_, err = e.svc.CreateCollection(ctx, alice, "alice", "../x", store.ACLPublic)
	wantErr(t, "CreateCollection with a bad name", err, ErrInvalid)
	_, err = e.svc.CreateCollection(ctx, aliceRO, "alice", "x", store.ACLPublic)
	wantErr(t, "CreateCollection with a read-only key", err, ErrForbidden)
	_, err = e.svc.CreateCollection(ctx, rootUser, "carol", "x", store.ACLPublic)
	wantErr(t, "CreateCollection for an unknown account", err, ErrNotFound)
	if _, err := e.svc.CreateCollection(ctx, rootUser, "bob", "byadmin", store.ACLPrivate); err != nil {
		t.Errorf("an administrator creates a collection for bob: %v", err)
	}

	names := func(p *auth.Principal, owner string) []string {
		cs, err := e.svc.ListCollections(ctx, p, owner)
		if err != nil {
			t.Fatalf("ListCollections: %v", err)
		}
		var out []string
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return out
	}
	if got := names(alice, ".my"); !slices.Equal(got, []string{"photos", "public", "secret"}) {
		t.Errorf("alice lists her collections: %v", got)
	}
	if got := names(bob, "alice"); !slices.Equal(got, []string{"public"}) {
		t.Errorf("bob lists alice's collections: %v, want only the public one", got)
	}
	if _, err := e.svc.ListCollections(ctx, aliceNo, "alice"); !errors.Is(err, ErrForbidden) {
		t.Errorf("ListCollections with data=none: %v", err)
	}

	if _, err := e.svc.UpdateCollection(ctx, alice, "alice", "secret", store.ACLPublic); err != nil {
		t.Fatal(err)
	}
	if got := names(bob, "alice"); !slices.Equal(got, []string{"public", "secret"}) {
		t.Errorf("after making secret public, bob sees %v", got)
	}
	_, err = e.svc.UpdateCollection(ctx, bob, "alice", "secret", store.ACLPrivate)
	wantErr(t, "bob updates alice's public collection", err, ErrForbidden)
	_, err = e.svc.UpdateCollection(ctx, bob, "alice", "photos", store.ACLPublic)
	wantErr(t, "bob updates alice's my_algorithms collection", err, ErrNotFound)

	// Delete: empty without force; non-empty needs force; idempotent.
	if n, err := e.svc.Delete(ctx, alice, ref(t, "data://alice/public"), false); err != nil || n != 0 {
		t.Errorf("delete an empty collection: %d, %v", n, err)
	}
	e.put(t, alice, "data://alice/photos/a/b.txt", "b")
	e.put(t, alice, "data://alice/photos/c.txt", "c")
	if _, err := e.svc.Mkdir(ctx, alice, ref(t, "data://alice/photos"), "empty"); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Delete(ctx, alice, ref(t, "data://alice/photos"), false)
	wantErr(t, "delete a non-empty collection without force", err, ErrConflict)
	_, err = e.svc.Delete(ctx, bob, ref(t, "data://alice/photos"), true)
	wantErr(t, "bob deletes alice's collection", err, ErrNotFound)
	if n, err := e.svc.Delete(ctx, alice, ref(t, "data://alice/photos"), true); err != nil || n != 2 {
		t.Errorf("force delete: %d files, %v; want 2", n, err)
	}
	if n, err := e.svc.Delete(ctx, alice, ref(t, "data://alice/photos"), true); err != nil || n != 0 {
		t.Errorf("delete again: %d, %v; want 0, nil", n, err)
	}
	if _, err := e.svc.GetCollection(ctx, alice, "alice", "photos"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetCollection after delete: %v", err)
	}
	// Re-created, it is empty.
	e.mkColl(t, alice, "alice", "photos", store.ACLPrivate)
	if l, err := e.svc.List(ctx, alice, ref(t, "data://alice/photos"), "", 0); err != nil || len(l.Files)+len(l.Folders) != 0 {
		t.Errorf("a re-created collection lists %+v, %v", l, err)
	}
}

// TestRights checks who may do what on public, my_algorithms and private collections.
func TestRights(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "rootblob")
	ctx := t.Context()
	for _, acl := range []store.CollectionACL{store.ACLPublic, store.ACLMyAlgorithms, store.ACLPrivate} {
		e.mkColl(t, alice, "alice", string(acl), acl)
		e.put(t, alice, "data://alice/"+string(acl)+"/f.txt", "hello")
	}
	bobRO := &auth.Principal{Account: "bob", Data: store.DataRead}
	bobNo := &auth.Principal{Account: "bob", Data: store.DataNone}
	for _, tc := range []struct {
		who              string
		p                *auth.Principal
		coll             string
		readErr, writeEr error // nil: allowed
	}{
		{"owner", alice, "private", nil, nil},
		{"owner", alice, "public", nil, nil},
		{"owner read-only key", aliceRO, "private", nil, ErrForbidden},
		{"owner data=none key", aliceNo, "private", ErrForbidden, ErrForbidden},
		{"admin", rootUser, "private", nil, nil},
		{"other", bob, "public", nil, ErrForbidden},
		{"other", bob, "my_algorithms", ErrNotFound, ErrNotFound},
		{"other", bob, "private", ErrNotFound, ErrNotFound},
		{"other read-only key", bobRO, "public", nil, ErrForbidden},
		{"other data=none key", bobNo, "public", ErrForbidden, ErrForbidden},
	} {
		uri := "data://alice/" + tc.coll + "/f.txt"
		got, err := e.read(tc.p, uri)
		if tc.readErr == nil && (err != nil || got != "hello") || tc.readErr != nil && !errors.Is(err, tc.readErr) {
			t.Errorf("%s reads %s: %q, %v; want error %v", tc.who, uri, got, err, tc.readErr)
		}
		_, err = e.svc.List(ctx, tc.p, ref(t, "data://alice/"+tc.coll), "", 0)
		if tc.readErr == nil && err != nil || tc.readErr != nil && !errors.Is(err, tc.readErr) {
			t.Errorf("%s lists %s: %v; want error %v", tc.who, tc.coll, err, tc.readErr)
		}
		_, err = e.svc.Put(ctx, tc.p, ref(t, "data://alice/"+tc.coll+"/new.txt"), "", strings.NewReader("x"))
		if tc.writeEr == nil && err != nil || tc.writeEr != nil && !errors.Is(err, tc.writeEr) {
			t.Errorf("%s writes to %s: %v; want error %v", tc.who, tc.coll, err, tc.writeEr)
		}
		_, err = e.svc.Delete(ctx, tc.p, ref(t, "data://alice/"+tc.coll+"/nothing"), false)
		if tc.writeEr == nil && err != nil || tc.writeEr != nil && !errors.Is(err, tc.writeEr) {
			t.Errorf("%s deletes in %s: %v; want error %v", tc.who, tc.coll, err, tc.writeEr)
		}
	}
	// No existence oracle: a private collection answers as a missing one does.
	_, errPrivate := e.read(bob, "data://alice/private/f.txt")
	_, errMissing := e.read(bob, "data://alice/nothing/f.txt")
	if strings.Replace(errPrivate.Error(), "private", "nothing", 1) != errMissing.Error() {
		t.Errorf("private and missing answer differently:\n\t%v\n\t%v", errPrivate, errMissing)
	}
}

func TestFilesAndFolders(t *testing.T) {
	t.Parallel()
	for backend := range backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, backend)
			ctx := t.Context()
			e.mkColl(t, alice, "alice", "c", store.ACLPrivate)
			info, err := e.svc.Put(ctx, alice, ref(t, "data://.my/c/docs/readme.md"), "text/markdown; charset=utf-8", strings.NewReader("# hi"))
			if err != nil || info.Size != 4 || info.Name != "readme.md" {
				t.Fatalf("Put: %+v, %v", info, err)
			}
			st, err := e.svc.Stat(ctx, alice, ref(t, "data://alice/c/docs/readme.md"))
			if err != nil || st.Dir || st.File.Size != 4 || st.File.ContentType != "text/markdown; charset=utf-8" {
				t.Errorf("Stat file: %+v, %v", st, err)
			}
			if st, err := e.svc.Stat(ctx, alice, ref(t, "data://alice/c/docs")); err != nil || !st.Dir {
				t.Errorf("Stat folder: %+v, %v", st, err)
			}
			_, err = e.svc.Stat(ctx, alice, ref(t, "data://alice/c/nothing"))
			wantErr(t, "Stat missing", err, ErrNotFound)
			_, err = e.svc.Stat(ctx, alice, ref(t, "data://alice/c/docs/readme.md/"))
			wantErr(t, "Stat a file as a folder", err, ErrNotFound)

			// Collisions between files and folders.
			_, err = e.svc.Put(ctx, alice, ref(t, "data://alice/c/docs"), "", strings.NewReader("x"))
			wantErr(t, "Put over a folder", err, ErrConflict)
			_, err = e.svc.Put(ctx, alice, ref(t, "data://alice/c/docs/readme.md/x"), "", strings.NewReader("x"))
			wantErr(t, "Put below a file", err, ErrConflict)
			_, err = e.svc.Mkdir(ctx, alice, ref(t, "data://alice/c/docs"), "readme.md")
			wantErr(t, "Mkdir over a file", err, ErrConflict)
			_, err = e.svc.Mkdir(ctx, alice, ref(t, "data://alice/c"), "docs")
			wantErr(t, "Mkdir over a folder", err, ErrConflict)
			_, err = e.svc.Mkdir(ctx, alice, ref(t, "data://alice/c/nothing"), "x")
			wantErr(t, "Mkdir in a missing folder", err, ErrNotFound)
			_, err = e.svc.Mkdir(ctx, alice, ref(t, "data://alice/c"), "a/b")
			wantErr(t, "Mkdir with a slash", err, ErrInvalid)
			_, err = e.svc.Put(ctx, alice, ref(t, "data://alice/c/x"), "not a type", strings.NewReader("x"))
			wantErr(t, "Put with a bad Content-Type", err, ErrInvalid)

			// An empty folder lists, and hides its marker.
			if r, err := e.svc.Mkdir(ctx, alice, ref(t, "data://alice/c"), "empty"); err != nil || r.String() != "data://alice/c/empty/" {
				t.Fatalf("Mkdir: %v, %v", r, err)
			}
			l, err := e.svc.List(ctx, alice, ref(t, "data://alice/c"), "", 0)
			if err != nil || !slices.Equal(l.Folders, []string{"docs", "empty"}) || len(l.Files) != 0 || l.Marker != "" {
				t.Errorf("List collection: %+v, %v", l, err)
			}
			l, err = e.svc.List(ctx, alice, ref(t, "data://alice/c/empty"), "", 0)
			if err != nil || len(l.Folders)+len(l.Files) != 0 {
				t.Errorf("List empty folder: %+v, %v", l, err)
			}
			_, err = e.svc.List(ctx, alice, ref(t, "data://alice/c/nothing"), "", 0)
			wantErr(t, "List a missing folder", err, ErrNotFound)

			// Paging.
			var want []string
			for i := range 7 {
				name := string(rune('a'+i)) + ".txt"
				e.put(t, alice, "data://alice/c/docs/"+name, name)
				want = append(want, name)
			}
			want = append(want, "readme.md")
			e.put(t, alice, "data://alice/c/docs/sub/x", "x")
			var files, folders []string
			marker, pages := "", 0
			for {
				l, err := e.svc.List(ctx, alice, ref(t, "data://alice/c/docs/"), marker, 3)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				for _, f := range l.Files {
					files = append(files, f.Name)
					if f.Size == 0 || f.ModTime.IsZero() {
						t.Errorf("listed file %+v", f)
					}
				}
				folders = append(folders, l.Folders...)
				if marker = l.Marker; marker == "" || pages > 10 {
					break
				}
			}
			if !slices.Equal(files, want) || !slices.Equal(folders, []string{"sub"}) || pages != 3 {
				t.Errorf("paged listing: files %v, folders %v in %d pages", files, folders, pages)
			}
			_, err = e.svc.List(ctx, alice, ref(t, "data://alice/c/docs"), "!!", 3)
			wantErr(t, "List with a bad marker", err, ErrInvalid)
			_, err = e.svc.List(ctx, alice, ref(t, "data://alice/c/docs"), "", 5000)
			wantErr(t, "List with a limit too large", err, ErrInvalid)

			// Delete: files, idempotent, folders with and without force.
			if n, err := e.svc.Delete(ctx, alice, ref(t, "data://alice/c/docs/a.txt"), false); err != nil || n != 1 {
				t.Errorf("Delete file: %d, %v", n, err)
			}
			if n, err := e.svc.Delete(ctx, alice, ref(t, "data://alice/c/docs/a.txt"), false); err != nil || n != 0 {
				t.Errorf("Delete missing file: %d, %v; want 0, nil", n, err)
			}
			_, err = e.svc.Delete(ctx, alice, ref(t, "data://alice/c/docs"), false)
			wantErr(t, "Delete a non-empty folder", err, ErrConflict)
			if n, err := e.svc.Delete(ctx, alice, ref(t, "data://alice/c/empty/"), false); err != nil || n != 0 {
				t.Errorf("Delete empty folder: %d, %v", n, err)
			}
			if n, err := e.svc.Delete(ctx, alice, ref(t, "data://alice/c/docs/"), true); err != nil || n != 8 {
				t.Errorf("Delete folder with force: %d, %v; want 8", n, err)
			}
			l, err = e.svc.List(ctx, alice, ref(t, "data://alice/c"), "", 0)
			if err != nil || len(l.Folders)+len(l.Files) != 0 {
				t.Errorf("List after deleting everything: %+v, %v", l, err)
			}
		})
	}
}

// failingReader yields some bytes, then an error, as a client that disconnects.
type failingReader struct{ n int }

func (f *failingReader) Read(b []byte) (int, error) {
	if f.n <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := min(len(b), f.n)
	f.n -= n
	return n, nil
}

func TestPutInterruptedKeepsOldFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "rootblob")
	e.mkColl(t, alice, "alice", "c", store.ACLPrivate)
	e.put(t, alice, "data://alice/c/f", "old")
	_, err := e.svc.Put(t.Context(), alice, ref(t, "data://alice/c/f"), "", &failingReader{n: 100000})
	wantErr(t, "interrupted Put", err, ErrInvalid)
	if got, err := e.read(alice, "data://alice/c/f"); err != nil || got != "old" {
		t.Errorf("after an interrupted Put: %q, %v; want the old file", got, err)
	}
	if es, _ := os.ReadDir(filepath.Join(e.dir, "data", "alice", "c")); len(es) != 2 { // f and its attributes
		t.Errorf("an interrupted Put left files: %v", es)
	}
}

// deletingReader deletes the collection's record when the upload reaches its end.
type deletingReader struct {
	r    io.Reader
	done func()
}

func (d *deletingReader) Read(b []byte) (int, error) {
	n, err := d.r.Read(b)
	if err == io.EOF && d.done != nil {
		d.done()
		d.done = nil
	}
	return n, err
}

func TestPutIntoCollectionDeletedDuringUpload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "rootblob")
	e.mkColl(t, alice, "alice", "c", store.ACLPrivate)
	body := &deletingReader{r: bytes.NewReader([]byte("data")), done: func() {
		if _, err := e.svc.Delete(context.Background(), alice, ref(t, "data://alice/c"), true); err != nil {
			t.Errorf("Delete during upload: %v", err)
		}
	}}
	_, err := e.svc.Put(t.Context(), alice, ref(t, "data://alice/c/f"), "", body)
	wantErr(t, "Put into a collection deleted during the upload", err, ErrNotFound)
	e.mkColl(t, alice, "alice", "c", store.ACLPublic)
	if l, err := e.svc.List(t.Context(), alice, ref(t, "data://alice/c"), "", 0); err != nil || len(l.Files) != 0 {
		t.Errorf("the upload survived its collection: %+v, %v", l, err)
	}
}

// TestPlantedSymlinks plants links in the bucket's directory, where the Data API's files are,
// and checks that no request follows them.
func TestPlantedSymlinks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "rootblob")
	ctx := t.Context()
	e.mkColl(t, alice, "alice", "c", store.ACLPublic)
	e.put(t, alice, "data://alice/c/real.txt", "real")
	coll := filepath.Join(e.dir, "data", "alice", "c")
	outside := t.TempDir()
	for link, target := range map[string]string{"passwd": "/etc/passwd", "etc": "/etc", "out": outside, "db": filepath.Join(e.dir, "..", "algos.db")} {
		if err := os.Symlink(target, filepath.Join(coll, link)); err != nil {
			t.Fatal(err)
		}
	}
	for _, uri := range []string{"data://alice/c/passwd", "data://alice/c/etc/passwd", "data://alice/c/db"} {
		got, err := e.read(bob, uri)
		wantErr(t, "read "+uri, err, ErrForbidden)
		if strings.Contains(got, "root:") {
			t.Errorf("read %s returned /etc/passwd", uri)
		}
		_, err = e.svc.Stat(ctx, alice, ref(t, uri))
		wantErr(t, "Stat "+uri, err, ErrForbidden)
	}
	_, err := e.svc.Put(ctx, alice, ref(t, "data://alice/c/out/planted"), "", strings.NewReader("x"))
	wantErr(t, "Put through a linked folder", err, ErrForbidden)
	if es, _ := os.ReadDir(outside); len(es) != 0 {
		t.Errorf("a Put wrote outside the bucket: %v", es)
	}
	l, err := e.svc.List(ctx, alice, ref(t, "data://alice/c"), "", 0)
	if err != nil || len(l.Folders) != 0 || len(l.Files) != 1 || l.Files[0].Name != "real.txt" {
		t.Errorf("List shows links: %+v, %v", l, err)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{}); err == nil {
		t.Error("New without Store and Bucket succeeded")
	}
	c := Config{Store: (*sqlite.Store)(nil), Bucket: &blob.Bucket{}, Prefix: "data"}
	if err := c.Validate(); err == nil {
		t.Error("a Prefix without a trailing slash validated")
	}
	c.Prefix = ""
	if err := c.Validate(); err != nil || c.Prefix != "data/" || c.Now == nil || c.Logger == nil {
		t.Errorf("Validate defaults: %+v, %v", c, err)
	}
}
