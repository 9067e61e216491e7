package sqlite

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/algos-dev/algos/controlplane/store"
	"github.com/algos-dev/algos/controlplane/store/storetest"
)

func openAt(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), Config{Path: path})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "algos.db")
	s := openAt(t, path)
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		return openAt(t, filepath.Join(t.TempDir(), "algos.db"))
	})
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "algos.db")
	created := time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC)

	s := openAt(t, path)
	alg := store.Algorithm{ID: "a1", Owner: "demo", Name: "sort", Settings: []byte(`{}`), CreatedAt: created, UpdatedAt: created}
	ver := store.Version{ID: "v1", Owner: "demo", Name: "sort", Semver: "1.0.0", Digest: "sha256:00", CreatedAt: created}
	for what, err := range map[string]error{
		"CreateAccount":   s.CreateAccount(ctx, store.Account{Name: "demo", Admin: true, CreatedAt: created}),
		"CreateAlgorithm": s.CreateAlgorithm(ctx, alg),
		"CreateRequest":   s.CreateRequest(ctx, store.Request{ID: "r1", Caller: "demo", CreatedAt: created}),
	} {
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	if err := s.CreateVersion(ctx, ver); err != nil {
		t.Fatalf("CreateVersion: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openAt(t, path)
	defer s.Close()
	if a, err := s.GetAccount(ctx, "demo"); err != nil || !a.Admin || !a.CreatedAt.Equal(created) {
		t.Errorf("GetAccount after reopen: %+v, %v", a, err)
	}
	if vs, err := s.ListVersions(ctx, "demo", "sort"); err != nil || len(vs) != 1 || vs[0].ID != "v1" {
		t.Errorf("ListVersions after reopen: %+v, %v", vs, err)
	}
	if rs, err := s.ListPendingRequests(ctx); err != nil || len(rs) != 1 || rs[0].ID != "r1" {
		t.Errorf("ListPendingRequests after reopen: %+v, %v", rs, err)
	}
	// Foreign keys still cascade on the reopened database.
	if err := s.DeleteAlgorithm(ctx, "demo", "sort"); err != nil {
		t.Fatalf("DeleteAlgorithm: %v", err)
	}
	if _, err := s.GetVersionByID(ctx, "v1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetVersionByID after cascade: %v, want ErrNotFound", err)
	}
}

// appliedMigrations reads schema_migrations as "version@applied_at" lines.
func appliedMigrations(t *testing.T, s *Store) []string {
	t.Helper()
	rows, err := s.db.QueryContext(t.Context(), `SELECT version, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatalf("schema_migrations: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v int
		var at string
		if err := rows.Scan(&v, &at); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d@%s", v, at))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReopenSkipsAppliedMigrations(t *testing.T) {
	t.Parallel()
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "algos.db")
	s := openAt(t, path)
	first := appliedMigrations(t, s)
	if len(first) != len(ms) {
		t.Fatalf("after the first Open: %d migrations recorded, want %d", len(first), len(ms))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond) // a re-applied migration would get a later applied_at

	s = openAt(t, path) // would fail on CREATE TABLE if 0001 ran again
	defer s.Close()
	if again := appliedMigrations(t, s); strings.Join(again, ",") != strings.Join(first, ",") {
		t.Errorf("after reopen: schema_migrations %v, want unchanged %v", again, first)
	}
}

func TestNewerSchemaRejected(t *testing.T) {
	t.Parallel()
	s, path := openTemp(t)
	if _, err := s.db.ExecContext(t.Context(), `INSERT INTO schema_migrations (version, applied_at) VALUES (999, 'x')`); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(t.Context(), Config{Path: path})
	if err == nil {
		s2.Close()
		t.Fatal("Open of a database with schema version 999 succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open: %v, want it to say the schema is newer", err)
	}
}

// TestPragmas checks the per-connection settings on several pooled connections at once.
func TestPragmas(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	ctx := t.Context()
	const n = 3
	for i := range n {
		c, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, p := range []struct{ pragma, want string }{
			{"journal_mode", "wal"},
			{"foreign_keys", "1"},
			{"synchronous", "1"}, // NORMAL
			{"busy_timeout", fmt.Sprint(DefaultBusyTimeout.Milliseconds())},
		} {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+p.pragma).Scan(&got); err != nil {
				t.Fatalf("conn %d: PRAGMA %s: %v", i, p.pragma, err)
			}
			if got != p.want {
				t.Errorf("conn %d: PRAGMA %s = %s, want %s", i, p.pragma, got, p.want)
			}
		}
	}
}

// TestTwoStoresOneFile has two Stores (as two processes would) write the same file at once:
// the busy timeout and BEGIN IMMEDIATE must make every write succeed.
func TestTwoStoresOneFile(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, path := openTemp(t)
	b := openAt(t, path)
	defer b.Close()
	const n = 25
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		for j, s := range []*Store{a, b} {
			wg.Go(func() {
				id := fmt.Sprintf("k%d-%d", j, i)
				errs <- s.CreateKey(ctx, store.Key{ID: id, Owner: "alice", Hash: []byte(id), CreatedAt: time.Now()})
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	keys, err := a.ListKeys(ctx, "alice")
	if err != nil || len(keys) != 2*n {
		t.Errorf("ListKeys: %d keys, %v; want %d", len(keys), err, 2*n)
	}
}

// TestWritesSerialized turns the busy timeout off (1ns rounds to 0 ms), so any lock contention
// between the Store's own connections would fail with SQLITE_BUSY: writers must queue in the
// Store instead. (With the writer token removed this test fails.)
func TestWritesSerialized(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "algos.db"), BusyTimeout: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 100
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprint("k", i)
			if err := s.CreateKey(ctx, store.Key{ID: id, Owner: "alice", Hash: []byte(id)}); err != nil {
				t.Error(err)
			}
			if _, err := s.ListKeys(ctx, "alice"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if keys, err := s.ListKeys(ctx, "alice"); err != nil || len(keys) != n {
		t.Errorf("ListKeys: %d keys, %v; want %d", len(keys), err, n)
	}
}

// TestTimeNanoseconds: SQLite keeps full nanosecond precision (the suite asks for microseconds).
func TestTimeNanoseconds(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	ctx := t.Context()
	for i, want := range []time.Time{
		time.Date(2025, 6, 1, 12, 0, 0, 1, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("x", -3600)),
		{},
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	} {
		name := fmt.Sprint("a", i)
		if err := s.CreateAccount(ctx, store.Account{Name: name, CreatedAt: want}); err != nil {
			t.Fatalf("CreateAccount %v: %v", want, err)
		}
		a, err := s.GetAccount(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if !a.CreatedAt.Equal(want) || a.CreatedAt.Location() != time.UTC {
			t.Errorf("CreatedAt: got %v, want %v in UTC", a.CreatedAt, want)
		}
	}
	if err := s.CreateAccount(ctx, store.Account{Name: "far", CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}); err == nil {
		t.Error("CreateAccount in the year 10000 succeeded, want an error")
	}
}

func TestCompleteRequestRejectsPending(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	ctx := t.Context()
	if err := s.CreateRequest(ctx, store.Request{ID: "r1"}); err != nil {
		t.Fatal(err)
	}
	for _, st := range []store.RequestStatus{store.RequestPending, ""} {
		err := s.CompleteRequest(ctx, "r1", st, nil, time.Now())
		if err == nil || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			t.Errorf("CompleteRequest with status %q: %v, want an invalid-status error", st, err)
		}
	}
	if r, err := s.GetRequest(ctx, "r1"); err != nil || r.Status != store.RequestPending {
		t.Errorf("GetRequest: %+v, %v; want it still pending", r, err)
	}
}

func TestCreateKeyEmptyHash(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	if err := s.CreateKey(t.Context(), store.Key{ID: "k1", Owner: "alice"}); err == nil {
		t.Error("CreateKey without a hash succeeded, want an error")
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg Config
		ok  bool
	}{
		{Config{Path: "/var/lib/algos/algos.db"}, true},
		{Config{Path: "algos.db", BusyTimeout: time.Second}, true},
		{Config{}, false},
		{Config{Path: ":memory:"}, false},
		{Config{Path: "file:algos.db"}, false},
		{Config{Path: "algos.db?_pragma=foreign_keys(0)"}, false},
		{Config{Path: "algos.db", BusyTimeout: -time.Second}, false},
	} {
		if err := tc.cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("Validate(%+v) = %v, want ok=%v", tc.cfg, err, tc.ok)
		}
	}
}

func TestOpenMissingDirectory(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), Config{Path: filepath.Join(t.TempDir(), "missing", "algos.db")})
	if err == nil {
		s.Close()
		t.Fatal("Open in a missing directory succeeded, want an error")
	}
}

func TestLoadMigrations(t *testing.T) {
	t.Parallel()
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatalf("embedded migrations: %v", err)
	}
	if ms[0].name != "0001_init" {
		t.Errorf("first migration %q, want 0001_init", ms[0].name)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"gap":       {"migrations/0001_a.sql": {}, "migrations/0003_c.sql": {}},
		"duplicate": {"migrations/0001_a.sql": {}, "migrations/001_b.sql": {}},
		"badname":   {"migrations/init.sql": {}},
		"zero":      {"migrations/0000_a.sql": {}},
		"empty":     {},
	} {
		if _, err := loadMigrations(fsys); err == nil {
			t.Errorf("%s: loadMigrations succeeded, want an error", name)
		}
	}
}
