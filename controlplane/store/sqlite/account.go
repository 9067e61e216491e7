package sqlite

import (
	"context"

	"github.com/algos-dev/algos/controlplane/store"
)

// CreateAccount implements store.Accounts.
func (s *Store) CreateAccount(ctx context.Context, a store.Account) error {
	_, err := s.exec(ctx, `INSERT INTO accounts (name, admin, created_at) VALUES (?, ?, ?)`,
		a.Name, a.Admin, timeArg(a.CreatedAt))
	return s.fail(ctx, "create account "+a.Name, err)
}

// GetAccount implements store.Accounts.
func (s *Store) GetAccount(ctx context.Context, name string) (store.Account, error) {
	var a store.Account
	err := s.db.QueryRowContext(ctx, `SELECT name, admin, created_at FROM accounts WHERE name = ?`, name).
		Scan(&a.Name, &a.Admin, timeDst{&a.CreatedAt})
	if err != nil {
		return store.Account{}, s.fail(ctx, "account "+name, err)
	}
	return a, nil
}
