package sqlite

import (
	"context"

	"github.com/algos-dev/algos/controlplane/store"
)

const nodeColumns = `id, pool, instance_id, address, token_hash, capacity, registered_at, last_seen_at`

func scanNode(row scanner) (store.Node, error) {
	var n store.Node
	err := row.Scan(&n.ID, &n.Pool, &n.InstanceID, &n.Address, &n.TokenHash, &n.Capacity,
		timeDst{&n.RegisteredAt}, timeDst{&n.LastSeenAt})
	return n, err
}

// UpsertNode implements store.Nodes: every field of an existing node is replaced. It fails
// with store.ErrConflict when another node has the same non-empty token hash.
func (s *Store) UpsertNode(ctx context.Context, n store.Node) error {
	_, err := s.exec(ctx, `INSERT INTO nodes (`+nodeColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET
			pool = excluded.pool, instance_id = excluded.instance_id, address = excluded.address,
			token_hash = excluded.token_hash, capacity = excluded.capacity,
			registered_at = excluded.registered_at, last_seen_at = excluded.last_seen_at`,
		n.ID, n.Pool, n.InstanceID, n.Address, blob(n.TokenHash), blob(n.Capacity),
		timeArg(n.RegisteredAt), timeArg(n.LastSeenAt))
	return s.fail(ctx, "upsert node "+n.ID, err)
}

// GetNode implements store.Nodes; store.ErrNotFound.
func (s *Store) GetNode(ctx context.Context, id string) (store.Node, error) {
	n, err := scanNode(s.db.QueryRowContext(ctx, `SELECT `+nodeColumns+` FROM nodes WHERE id = ?`, id))
	if err != nil {
		return store.Node{}, s.fail(ctx, "node "+id, err)
	}
	return n, nil
}

// NodeByTokenHash implements store.Nodes. An empty hash matches no node.
func (s *Store) NodeByTokenHash(ctx context.Context, hash []byte) (store.Node, error) {
	n, err := scanNode(s.db.QueryRowContext(ctx, `SELECT `+nodeColumns+` FROM nodes WHERE token_hash = ?`, blob(hash)))
	if err != nil {
		return store.Node{}, s.fail(ctx, "node by token hash", err)
	}
	return n, nil
}

// ListNodes implements store.Nodes, ordered by ID.
func (s *Store) ListNodes(ctx context.Context) ([]store.Node, error) {
	return list(ctx, s, "list nodes", scanNode, `SELECT `+nodeColumns+` FROM nodes ORDER BY id`)
}

// DeleteNode implements store.Nodes.
func (s *Store) DeleteNode(ctx context.Context, id string) error {
	_, err := s.exec(ctx, `DELETE FROM nodes WHERE id = ?`, id)
	return s.fail(ctx, "delete node "+id, err)
}
