package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/algos-dev/algos/controlplane/store"
)

const algorithmColumns = `id, owner, name, description, settings, created_at, updated_at`

func scanAlgorithm(row scanner) (store.Algorithm, error) {
	var a store.Algorithm
	err := row.Scan(&a.ID, &a.Owner, &a.Name, &a.Description, &a.Settings,
		timeDst{&a.CreatedAt}, timeDst{&a.UpdatedAt})
	return a, err
}

// CreateAlgorithm implements store.Algorithms. It also fails with store.ErrConflict when the ID
// exists.
func (s *Store) CreateAlgorithm(ctx context.Context, a store.Algorithm) error {
	_, err := s.exec(ctx, `INSERT INTO algorithms (`+algorithmColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.Owner, a.Name, a.Description, blob(a.Settings), timeArg(a.CreatedAt), timeArg(a.UpdatedAt))
	return s.fail(ctx, "create algorithm "+a.Owner+"/"+a.Name, err)
}

// GetAlgorithm implements store.Algorithms.
func (s *Store) GetAlgorithm(ctx context.Context, owner, name string) (store.Algorithm, error) {
	a, err := scanAlgorithm(s.db.QueryRowContext(ctx,
		`SELECT `+algorithmColumns+` FROM algorithms WHERE owner = ? AND name = ?`, owner, name))
	if err != nil {
		return store.Algorithm{}, s.fail(ctx, "algorithm "+owner+"/"+name, err)
	}
	return a, nil
}

// ListAlgorithms implements store.Algorithms.
func (s *Store) ListAlgorithms(ctx context.Context, owner string) ([]store.Algorithm, error) {
	if owner == "" {
		return list(ctx, s, "list algorithms", scanAlgorithm,
			`SELECT `+algorithmColumns+` FROM algorithms ORDER BY owner, name`)
	}
	return list(ctx, s, "list algorithms of "+owner, scanAlgorithm,
		`SELECT `+algorithmColumns+` FROM algorithms WHERE owner = ? ORDER BY name`, owner)
}

// UpdateAlgorithm implements store.Algorithms; the algorithm is found by a.Owner and a.Name.
func (s *Store) UpdateAlgorithm(ctx context.Context, a store.Algorithm) error {
	n, err := s.exec(ctx, `UPDATE algorithms SET description = ?, settings = ?, updated_at = ?
		WHERE owner = ? AND name = ?`,
		a.Description, blob(a.Settings), timeArg(a.UpdatedAt), a.Owner, a.Name)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return s.fail(ctx, "update algorithm "+a.Owner+"/"+a.Name, err)
}

// DeleteAlgorithm implements store.Algorithms. Its versions go with it (ON DELETE CASCADE).
func (s *Store) DeleteAlgorithm(ctx context.Context, owner, name string) error {
	_, err := s.exec(ctx, `DELETE FROM algorithms WHERE owner = ? AND name = ?`, owner, name)
	return s.fail(ctx, "delete algorithm "+owner+"/"+name, err)
}

const versionColumns = `v.id, a.owner, a.name, v.semver, v.digest, v.manifest, v.release_notes, v.public, v.created_at`

func scanVersion(row scanner) (store.Version, error) {
	var v store.Version
	err := row.Scan(&v.ID, &v.Owner, &v.Name, &v.Semver, &v.Digest, &v.Manifest, &v.ReleaseNotes, &v.Public,
		timeDst{&v.CreatedAt})
	return v, err
}

// CreateVersion implements store.Algorithms. It also fails with store.ErrConflict when the ID
// exists.
func (s *Store) CreateVersion(ctx context.Context, v store.Version) error {
	what := "create version " + v.Owner + "/" + v.Name + "/" + v.Semver
	err := s.write(ctx, func(tx *sql.Tx) error {
		var algorithmID string
		err := tx.QueryRowContext(ctx, `SELECT id FROM algorithms WHERE owner = ? AND name = ?`, v.Owner, v.Name).
			Scan(&algorithmID)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("algorithm %s/%s: %w", v.Owner, v.Name, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO versions
			(id, algorithm_id, semver, digest, manifest, release_notes, public, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			v.ID, algorithmID, v.Semver, v.Digest, blob(v.Manifest), v.ReleaseNotes, v.Public, timeArg(v.CreatedAt))
		return err
	})
	return s.fail(ctx, what, err)
}

// ListVersions implements store.Algorithms: in the order CreateVersion stored them. An unknown
// algorithm has no versions.
func (s *Store) ListVersions(ctx context.Context, owner, name string) ([]store.Version, error) {
	return list(ctx, s, "list versions of "+owner+"/"+name, scanVersion,
		`SELECT `+versionColumns+` FROM versions v JOIN algorithms a ON a.id = v.algorithm_id
		WHERE a.owner = ? AND a.name = ? ORDER BY v.seq`, owner, name)
}

// GetVersionByID implements store.Algorithms.
func (s *Store) GetVersionByID(ctx context.Context, id string) (store.Version, error) {
	v, err := scanVersion(s.db.QueryRowContext(ctx,
		`SELECT `+versionColumns+` FROM versions v JOIN algorithms a ON a.id = v.algorithm_id WHERE v.id = ?`, id))
	if err != nil {
		return store.Version{}, s.fail(ctx, "version "+id, err)
	}
	return v, nil
}
