package sqlite

import (
	"context"

	"github.com/algos-dev/algos/controlplane/store"
)

// CreateAccount implements store.Accounts.
func (s *Store) CreateAccount(ctx context.Context, a store.Account) error {
	_, err := s.exec(ctx, `INSERT INTO accounts (name, admin, org, created_at) VALUES (?, ?, ?, ?)`,
		a.Name, a.Admin, a.Org, timeArg(a.CreatedAt))
	return s.fail(ctx, "create account "+a.Name, err)
}

// GetAccount implements store.Accounts.
func (s *Store) GetAccount(ctx context.Context, name string) (store.Account, error) {
	a, err := scanAccount(s.db.QueryRowContext(ctx, `SELECT name, admin, org, created_at FROM accounts WHERE name = ?`, name))
	if err != nil {
		return store.Account{}, s.fail(ctx, "account "+name, err)
	}
	return a, nil
}
