package sqlite

import (
	"context"

	"github.com/algos-dev/algos/controlplane/store"
)

const poolColumns = `name, cloud, spec, join_token_hash, deleting, created_at, updated_at`

func scanPool(row scanner) (store.Pool, error) {
	var p store.Pool
	err := row.Scan(&p.Name, &p.Cloud, &p.Spec, &p.JoinTokenHash, &p.Deleting,
		timeDst{&p.CreatedAt}, timeDst{&p.UpdatedAt})
	return p, err
}

// CreatePool implements store.Pools. It also fails with store.ErrConflict when another pool has
// the same non-empty join token hash.
func (s *Store) CreatePool(ctx context.Context, p store.Pool) error {
	_, err := s.exec(ctx, `INSERT INTO pools (`+poolColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		p.Name, p.Cloud, blob(p.Spec), blob(p.JoinTokenHash), p.Deleting, timeArg(p.CreatedAt), timeArg(p.UpdatedAt))
	return s.fail(ctx, "create pool "+p.Name, err)
}

// GetPool implements store.Pools; store.ErrNotFound.
func (s *Store) GetPool(ctx context.Context, name string) (store.Pool, error) {
	p, err := scanPool(s.db.QueryRowContext(ctx, `SELECT `+poolColumns+` FROM pools WHERE name = ?`, name))
	if err != nil {
		return store.Pool{}, s.fail(ctx, "pool "+name, err)
	}
	return p, nil
}

// PoolByJoinTokenHash implements store.Pools. An empty hash matches no pool.
func (s *Store) PoolByJoinTokenHash(ctx context.Context, hash []byte) (store.Pool, error) {
	p, err := scanPool(s.db.QueryRowContext(ctx, `SELECT `+poolColumns+` FROM pools WHERE join_token_hash = ?`, blob(hash)))
	if err != nil {
		return store.Pool{}, s.fail(ctx, "pool by join token hash", err)
	}
	return p, nil
}

// ListPools implements store.Pools, ordered by name.
func (s *Store) ListPools(ctx context.Context) ([]store.Pool, error) {
	return list(ctx, s, "list pools", scanPool, `SELECT `+poolColumns+` FROM pools ORDER BY name`)
}

// UpdatePool implements store.Pools. It also fails with store.ErrConflict when another pool has
// the same non-empty join token hash.
func (s *Store) UpdatePool(ctx context.Context, p store.Pool) error {
	n, err := s.exec(ctx, `UPDATE pools SET cloud = ?, spec = ?, join_token_hash = ?, deleting = ?, updated_at = ?
		WHERE name = ?`,
		p.Cloud, blob(p.Spec), blob(p.JoinTokenHash), p.Deleting, timeArg(p.UpdatedAt), p.Name)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return s.fail(ctx, "update pool "+p.Name, err)
}

// DeletePool implements store.Pools.
func (s *Store) DeletePool(ctx context.Context, name string) error {
	_, err := s.exec(ctx, `DELETE FROM pools WHERE name = ?`, name)
	return s.fail(ctx, "delete pool "+name, err)
}
