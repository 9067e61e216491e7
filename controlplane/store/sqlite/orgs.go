package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/algos-dev/algos/controlplane/store"
)

func scanAccount(row scanner) (store.Account, error) {
	var a store.Account
	err := row.Scan(&a.Name, &a.Admin, &a.Org, timeDst{&a.CreatedAt})
	return a, err
}

// ListAccounts implements store.Orgs.
func (s *Store) ListAccounts(ctx context.Context) ([]store.Account, error) {
	return list(ctx, s, "list accounts", scanAccount, `SELECT name, admin, org, created_at FROM accounts ORDER BY name`)
}

// PutMembership implements store.Orgs.
func (s *Store) PutMembership(ctx context.Context, m store.Membership) error {
	var orgIsOrg, memberIsOrg bool
	err := s.db.QueryRowContext(ctx, `SELECT
		(SELECT org FROM accounts WHERE name = ?),
		(SELECT org FROM accounts WHERE name = ?)`, m.Org, m.Member).Scan(nullBool{&orgIsOrg}, nullBool{&memberIsOrg})
	if err != nil {
		return s.fail(ctx, "membership "+m.Org+"/"+m.Member, err)
	}
	if !orgIsOrg {
		return s.fail(ctx, "organization "+m.Org, store.ErrNotFound)
	}
	var exists int
	err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE name = ? AND org = 0`, m.Member).Scan(&exists)
	if err == nil && exists == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return s.fail(ctx, "user "+m.Member, err)
	}
	_, err = s.exec(ctx, `INSERT INTO memberships (org, member, role, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (org, member) DO UPDATE SET role = excluded.role`, m.Org, m.Member, string(m.Role), timeArg(m.CreatedAt))
	return s.fail(ctx, "put membership "+m.Org+"/"+m.Member, err)
}

// DeleteMembership implements store.Orgs.
func (s *Store) DeleteMembership(ctx context.Context, org, member string) error {
	_, err := s.exec(ctx, `DELETE FROM memberships WHERE org = ? AND member = ?`, org, member)
	return s.fail(ctx, "delete membership "+org+"/"+member, err)
}

func scanMembership(row scanner) (store.Membership, error) {
	var m store.Membership
	var role string
	err := row.Scan(&m.Org, &m.Member, &role, timeDst{&m.CreatedAt})
	m.Role = store.Role(role)
	return m, err
}

// ListMembers implements store.Orgs.
func (s *Store) ListMembers(ctx context.Context, org string) ([]store.Membership, error) {
	return list(ctx, s, "members of "+org, scanMembership,
		`SELECT org, member, role, created_at FROM memberships WHERE org = ? ORDER BY member`, org)
}

// MembershipsOf implements store.Orgs.
func (s *Store) MembershipsOf(ctx context.Context, member string) ([]store.Membership, error) {
	return list(ctx, s, "memberships of "+member, scanMembership,
		`SELECT org, member, role, created_at FROM memberships WHERE member = ? ORDER BY org`, member)
}

// nullBool scans a nullable boolean: NULL is false.
type nullBool struct{ b *bool }

func (n nullBool) Scan(v any) error {
	var nb sql.NullBool
	if err := nb.Scan(v); err != nil {
		return errors.New("not a boolean")
	}
	*n.b = nb.Valid && nb.Bool
	return nil
}
