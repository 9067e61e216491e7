package sqlite

import (
	"context"

	"github.com/algos-dev/algos/controlplane/store"
)

const connectorColumns = `owner, name, kind, buckets, prefixes, can_read, can_write, endpoint, region, allow_private, credentials, created_at, updated_at`

func scanConnector(row scanner) (store.Connector, error) {
	var c store.Connector
	err := row.Scan(&c.Owner, &c.Name, &c.Kind, stringsDst{&c.Buckets}, stringsDst{&c.Prefixes}, &c.Read, &c.Write,
		&c.Endpoint, &c.Region, &c.AllowPrivate, &c.Credentials, timeDst{&c.CreatedAt}, timeDst{&c.UpdatedAt})
	return c, err
}

// connectorName is how errors name a connector: owner/name, or the name alone when
// platform-wide.
func connectorName(owner, name string) string {
	if owner == "" {
		return "platform connector " + name
	}
	return "connector " + owner + "/" + name
}

// CreateConnector implements store.ConnectorStore.
func (s *Store) CreateConnector(ctx context.Context, c store.Connector) error {
	_, err := s.exec(ctx, `INSERT INTO connectors (`+connectorColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.Owner, c.Name, c.Kind, stringsArg(c.Buckets), stringsArg(c.Prefixes), c.Read, c.Write,
		c.Endpoint, c.Region, c.AllowPrivate, blob(c.Credentials), timeArg(c.CreatedAt), timeArg(c.UpdatedAt))
	return s.fail(ctx, "create "+connectorName(c.Owner, c.Name), err)
}

// GetConnector implements store.ConnectorStore; store.ErrNotFound.
func (s *Store) GetConnector(ctx context.Context, owner, name string) (store.Connector, error) {
	c, err := scanConnector(s.db.QueryRowContext(ctx,
		`SELECT `+connectorColumns+` FROM connectors WHERE owner = ? AND name = ?`, owner, name))
	if err != nil {
		return store.Connector{}, s.fail(ctx, connectorName(owner, name), err)
	}
	return c, nil
}

// ListConnectors implements store.ConnectorStore, ordered by name.
func (s *Store) ListConnectors(ctx context.Context, owner string) ([]store.Connector, error) {
	return list(ctx, s, "list connectors", scanConnector,
		`SELECT `+connectorColumns+` FROM connectors WHERE owner = ? ORDER BY name`, owner)
}

// UpdateConnector implements store.ConnectorStore.
func (s *Store) UpdateConnector(ctx context.Context, c store.Connector) error {
	n, err := s.exec(ctx, `UPDATE connectors SET buckets = ?, prefixes = ?, can_read = ?, can_write = ?, endpoint = ?,
		region = ?, allow_private = ?, credentials = ?, updated_at = ? WHERE owner = ? AND name = ?`,
		stringsArg(c.Buckets), stringsArg(c.Prefixes), c.Read, c.Write, c.Endpoint,
		c.Region, c.AllowPrivate, blob(c.Credentials), timeArg(c.UpdatedAt), c.Owner, c.Name)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return s.fail(ctx, "update "+connectorName(c.Owner, c.Name), err)
}

// DeleteConnector implements store.ConnectorStore.
func (s *Store) DeleteConnector(ctx context.Context, owner, name string) error {
	_, err := s.exec(ctx, `DELETE FROM connectors WHERE owner = ? AND name = ?`, owner, name)
	return s.fail(ctx, "delete "+connectorName(owner, name), err)
}
