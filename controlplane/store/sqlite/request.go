package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/algos-dev/algos/controlplane/store"
)

const requestColumns = `id, caller, key_id, version_id, input, options, status, response, created_at, completed_at`

func scanRequest(row scanner) (store.Request, error) {
	var r store.Request
	err := row.Scan(&r.ID, &r.Caller, &r.KeyID, &r.VersionID, &r.Input, &r.Options, &r.Status, &r.Response,
		timeDst{&r.CreatedAt}, optTimeDst{&r.CompletedAt})
	return r, err
}

// CreateRequest implements store.Requests. The request is stored pending: r.Status,
// r.Response and r.CompletedAt are ignored.
func (s *Store) CreateRequest(ctx context.Context, r store.Request) error {
	_, err := s.exec(ctx, `INSERT INTO requests
		(id, caller, key_id, version_id, input, options, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.Caller, r.KeyID, r.VersionID, blob(r.Input), blob(r.Options), string(store.RequestPending),
		timeArg(r.CreatedAt))
	return s.fail(ctx, "create request "+r.ID, err)
}

// CompleteRequest implements store.Requests. status must be RequestSucceeded or RequestFailed.
func (s *Store) CompleteRequest(ctx context.Context, id string, status store.RequestStatus, response []byte, at time.Time) error {
	what := "complete request " + id
	if status != store.RequestSucceeded && status != store.RequestFailed {
		return fmt.Errorf("%s: status %q is not an outcome (want %q or %q)", what, status, store.RequestSucceeded, store.RequestFailed)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE requests SET status = ?, response = ?, completed_at = ?
			WHERE id = ? AND status = ?`,
			string(status), blob(response), timeArg(at), id, string(store.RequestPending))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var current string
		if err := tx.QueryRowContext(ctx, `SELECT status FROM requests WHERE id = ?`, id).Scan(&current); err != nil {
			return err // sql.ErrNoRows: an unknown request, store.ErrNotFound
		}
		return fmt.Errorf("already %s: %w", current, store.ErrConflict)
	})
	return s.fail(ctx, what, err)
}

// GetRequest implements store.Requests.
func (s *Store) GetRequest(ctx context.Context, id string) (store.Request, error) {
	r, err := scanRequest(s.db.QueryRowContext(ctx, `SELECT `+requestColumns+` FROM requests WHERE id = ?`, id))
	if err != nil {
		return store.Request{}, s.fail(ctx, "request "+id, err)
	}
	return r, nil
}

// ListPendingRequests implements store.Requests: oldest first, requests created at the same
// time in order of creation.
func (s *Store) ListPendingRequests(ctx context.Context) ([]store.Request, error) {
	return list(ctx, s, "list pending requests", scanRequest,
		`SELECT `+requestColumns+` FROM requests WHERE status = ? ORDER BY created_at, seq`,
		string(store.RequestPending))
}
