package sqlite

import (
	"context"

	"github.com/algos-dev/algos/controlplane/store"
)

const collectionColumns = `owner, name, acl, created_at`

func scanCollection(row scanner) (store.Collection, error) {
	var c store.Collection
	err := row.Scan(&c.Owner, &c.Name, &c.ACL, timeDst{&c.CreatedAt})
	return c, err
}

// CreateCollection implements store.Collections.
func (s *Store) CreateCollection(ctx context.Context, c store.Collection) error {
	_, err := s.exec(ctx, `INSERT INTO collections (`+collectionColumns+`) VALUES (?, ?, ?, ?)`,
		c.Owner, c.Name, string(c.ACL), timeArg(c.CreatedAt))
	return s.fail(ctx, "create collection "+c.Owner+"/"+c.Name, err)
}

// GetCollection implements store.Collections; store.ErrNotFound.
func (s *Store) GetCollection(ctx context.Context, owner, name string) (store.Collection, error) {
	c, err := scanCollection(s.db.QueryRowContext(ctx,
		`SELECT `+collectionColumns+` FROM collections WHERE owner = ? AND name = ?`, owner, name))
	if err != nil {
		return store.Collection{}, s.fail(ctx, "collection "+owner+"/"+name, err)
	}
	return c, nil
}

// ListCollections implements store.Collections, ordered by name.
func (s *Store) ListCollections(ctx context.Context, owner string) ([]store.Collection, error) {
	return list(ctx, s, "list collections of "+owner, scanCollection,
		`SELECT `+collectionColumns+` FROM collections WHERE owner = ? ORDER BY name`, owner)
}

// UpdateCollection implements store.Collections.
func (s *Store) UpdateCollection(ctx context.Context, c store.Collection) error {
	n, err := s.exec(ctx, `UPDATE collections SET acl = ? WHERE owner = ? AND name = ?`, string(c.ACL), c.Owner, c.Name)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return s.fail(ctx, "update collection "+c.Owner+"/"+c.Name, err)
}

// DeleteCollection implements store.Collections.
func (s *Store) DeleteCollection(ctx context.Context, owner, name string) error {
	_, err := s.exec(ctx, `DELETE FROM collections WHERE owner = ? AND name = ?`, owner, name)
	return s.fail(ctx, "delete collection "+owner+"/"+name, err)
}
