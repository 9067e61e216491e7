package sqlite

import (
	"context"
	"errors"
	"time"

	"github.com/algos-dev/algos/controlplane/store"
)

const keyColumns = `id, owner, name, hash, prefix, algos, data, manage, created_at, expires_at, revoked_at`

func scanKey(row scanner) (store.Key, error) {
	var k store.Key
	err := row.Scan(&k.ID, &k.Owner, &k.Name, &k.Hash, &k.Prefix, stringsDst{&k.Algos}, &k.Data, &k.Manage,
		timeDst{&k.CreatedAt}, optTimeDst{&k.ExpiresAt}, optTimeDst{&k.RevokedAt})
	return k, err
}

// CreateKey implements store.Keys. The hash must not be empty.
func (s *Store) CreateKey(ctx context.Context, k store.Key) error {
	if len(k.Hash) == 0 {
		return errors.New("create key " + k.ID + ": empty hash")
	}
	_, err := s.exec(ctx, `INSERT INTO api_keys (`+keyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Owner, k.Name, k.Hash, k.Prefix, stringsArg(k.Algos), string(k.Data), k.Manage,
		timeArg(k.CreatedAt), optTimeArg{k.ExpiresAt}, optTimeArg{k.RevokedAt})
	return s.fail(ctx, "create key "+k.ID, err)
}

// KeyByHash implements store.Keys.
func (s *Store) KeyByHash(ctx context.Context, hash []byte) (store.Key, error) {
	k, err := scanKey(s.db.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE hash = ?`, blob(hash)))
	if err != nil {
		return store.Key{}, s.fail(ctx, "key by hash", err)
	}
	return k, nil
}

// GetKey implements store.Keys.
func (s *Store) GetKey(ctx context.Context, id string) (store.Key, error) {
	k, err := scanKey(s.db.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = ?`, id))
	if err != nil {
		return store.Key{}, s.fail(ctx, "key "+id, err)
	}
	return k, nil
}

// ListKeys implements store.Keys: newest first, keys created at the same time in reverse
// order of creation.
func (s *Store) ListKeys(ctx context.Context, owner string) ([]store.Key, error) {
	return list(ctx, s, "list keys of "+owner, scanKey,
		`SELECT `+keyColumns+` FROM api_keys WHERE owner = ? ORDER BY created_at DESC, seq DESC`, owner)
}

// UpdateKey implements store.Keys.
func (s *Store) UpdateKey(ctx context.Context, id, name string, expiresAt *time.Time) error {
	n, err := s.exec(ctx, `UPDATE api_keys SET name = ?, expires_at = ? WHERE id = ?`, name, optTimeArg{expiresAt}, id)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return s.fail(ctx, "update key "+id, err)
}

// RevokeKey implements store.Keys.
func (s *Store) RevokeKey(ctx context.Context, id string, at time.Time) error {
	n, err := s.exec(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, timeArg(at), id)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return s.fail(ctx, "revoke key "+id, err)
}
