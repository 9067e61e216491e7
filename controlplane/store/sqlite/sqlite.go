// Package sqlite is the embedded SQLite implementation of store.Store, built on the pure-Go
// driver modernc.org/sqlite (no cgo).
//
// The database runs in WAL mode with synchronous=NORMAL: a committed transaction survives a
// crash of the process (the WAL is written before Commit returns), but an operating-system crash
// or power loss may roll back the last transactions before the WAL was synced. It never corrupts
// the database. Foreign keys are enforced and every connection waits up to Config.BusyTimeout
// for a lock held by another process.
//
// Writes are serialized inside a Store (one writer at a time, each in a BEGIN IMMEDIATE
// transaction) while reads run concurrently on a small connection pool, so concurrent writers
// never see SQLITE_BUSY from each other.
//
// The schema is versioned: migrations/NNNN_name.sql are applied in order at Open, each in its own
// transaction, and recorded in schema_migrations.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/algos-dev/algos/controlplane/store"
)

// DefaultBusyTimeout is how long a statement waits for a lock held by another connection
// when Config.BusyTimeout is zero.
const DefaultBusyTimeout = 5 * time.Second

// Config configures a Store.
type Config struct {
	// Path is the database file, created if missing. Its directory must exist.
	Path string
	// Logger receives the store's logs; nil discards them.
	Logger *slog.Logger
	// BusyTimeout bounds the wait for a lock held by another connection or process;
	// zero means DefaultBusyTimeout.
	BusyTimeout time.Duration
}

// Validate reports a configuration that Open would reject.
func (c Config) Validate() error {
	switch {
	case c.Path == "":
		return errors.New("sqlite: Config.Path is empty: set it to the database file, e.g. /var/lib/algos/algos.db")
	case c.Path == ":memory:" || strings.Contains(c.Path, "mode=memory"):
		return errors.New("sqlite: in-memory databases are not supported (each pooled connection would get its own): use a file, e.g. in t.TempDir()")
	case strings.HasPrefix(c.Path, "file:") || strings.ContainsAny(c.Path, "?#"):
		return fmt.Errorf("sqlite: Config.Path %q must be a plain file path, not a URI", c.Path)
	case c.BusyTimeout < 0:
		return fmt.Errorf("sqlite: Config.BusyTimeout %v is negative", c.BusyTimeout)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.BusyTimeout == 0 {
		c.BusyTimeout = DefaultBusyTimeout
	}
	return c
}

// dsn is the driver's data source name: the path plus the pragmas every pooled connection runs
// when it opens. _txlock=immediate makes BeginTx take the write lock at once, so a transaction
// never fails upgrading a read lock (SQLITE_BUSY_SNAPSHOT) against another process.
func (c Config) dsn() string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(c.BusyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	return c.Path + "?" + q.Encode()
}

// Store is a store.Store on one SQLite database file.
type Store struct {
	db     *sql.DB
	log    *slog.Logger
	wsem   chan struct{} // one token: the writer
	closed atomic.Bool
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database at cfg.Path and applies pending migrations.
// It fails if the database has a newer schema than this binary knows.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	db, err := sql.Open("sqlite", cfg.dsn())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", cfg.Path, err)
	}
	// Readers run in parallel under WAL; writers are serialized by Store.wsem. Idle
	// connections are kept so that the per-connection pragmas run once per connection.
	conns := max(4, runtime.GOMAXPROCS(0))
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)

	s := &Store{
		db:   db,
		log:  cfg.Logger.With("component", "store", "path", cfg.Path),
		wsem: make(chan struct{}, 1),
	}
	if err := s.init(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", cfg.Path, err)
	}
	return s, nil
}

func (s *Store) init(ctx context.Context) error {
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal_mode is %q, want wal (is the file on a filesystem without shared memory?)", mode)
	}
	version, err := s.migrate(ctx)
	if err != nil {
		return err
	}
	s.log.Info("store opened", "schema_version", version)
	return nil
}

// Close closes the database. Calls after Close fail with store.ErrClosed; Close itself is
// idempotent.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	return s.db.Close()
}

// write runs fn in a write transaction, one writer at a time.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	select {
	case s.wsem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.wsem }()

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// exec runs one statement in a write transaction and returns the number of rows it changed.
func (s *Store) exec(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// fail turns err into the error a method returns: the store's sentinels (reachable with
// errors.Is) behind what, the object or operation it concerns.
func (s *Store) fail(ctx context.Context, what string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrClosed):
		return fmt.Errorf("%s: %w", what, err)
	case s.closed.Load():
		return fmt.Errorf("%s: %w", what, store.ErrClosed)
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	case isUniqueViolation(err):
		return fmt.Errorf("%s: %w", what, store.ErrConflict)
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
	return fmt.Errorf("sqlite: %s: %w", what, err)
}

func isUniqueViolation(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return true
	}
	return false
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// list runs a query and scans every row with scan.
func list[T any](ctx context.Context, s *Store, what string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, s.fail(ctx, what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, s.fail(ctx, what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(ctx, what, err)
	}
	return out, nil
}
