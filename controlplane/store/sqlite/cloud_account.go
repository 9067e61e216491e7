package sqlite

import (
	"context"

	"github.com/algos-dev/algos/controlplane/store"
)

const cloudAccountColumns = `name, cloud, settings, credentials, created_at, updated_at`

func scanCloudAccount(row scanner) (store.CloudAccount, error) {
	var a store.CloudAccount
	err := row.Scan(&a.Name, &a.Cloud, &a.Settings, &a.Credentials, timeDst{&a.CreatedAt}, timeDst{&a.UpdatedAt})
	return a, err
}

// CreateCloudAccount implements store.CloudAccounts.
func (s *Store) CreateCloudAccount(ctx context.Context, a store.CloudAccount) error {
	_, err := s.exec(ctx, `INSERT INTO cloud_accounts (`+cloudAccountColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		a.Name, a.Cloud, blob(a.Settings), blob(a.Credentials), timeArg(a.CreatedAt), timeArg(a.UpdatedAt))
	return s.fail(ctx, "create cloud account "+a.Name, err)
}

// GetCloudAccount implements store.CloudAccounts; store.ErrNotFound.
func (s *Store) GetCloudAccount(ctx context.Context, name string) (store.CloudAccount, error) {
	a, err := scanCloudAccount(s.db.QueryRowContext(ctx, `SELECT `+cloudAccountColumns+` FROM cloud_accounts WHERE name = ?`, name))
	if err != nil {
		return store.CloudAccount{}, s.fail(ctx, "cloud account "+name, err)
	}
	return a, nil
}

// ListCloudAccounts implements store.CloudAccounts, ordered by name.
func (s *Store) ListCloudAccounts(ctx context.Context) ([]store.CloudAccount, error) {
	return list(ctx, s, "list cloud accounts", scanCloudAccount, `SELECT `+cloudAccountColumns+` FROM cloud_accounts ORDER BY name`)
}

// UpdateCloudAccount implements store.CloudAccounts.
func (s *Store) UpdateCloudAccount(ctx context.Context, a store.CloudAccount) error {
	n, err := s.exec(ctx, `UPDATE cloud_accounts SET settings = ?, credentials = ?, updated_at = ? WHERE name = ?`,
		blob(a.Settings), blob(a.Credentials), timeArg(a.UpdatedAt), a.Name)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return s.fail(ctx, "update cloud account "+a.Name, err)
}

// DeleteCloudAccount implements store.CloudAccounts.
func (s *Store) DeleteCloudAccount(ctx context.Context, name string) error {
	_, err := s.exec(ctx, `DELETE FROM cloud_accounts WHERE name = ?`, name)
	return s.fail(ctx, "delete cloud account "+name, err)
}
