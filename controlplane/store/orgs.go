package store

import (
	"context"
	"time"
)

// Role is a user's role in an organization.
type Role string

// Roles, most rights first: an owner manages the organization's members and everything it
// owns; an admin manages its algorithms, collections and keys' use; a member calls its private
// algorithms and reads its private collections.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
)

// Membership is a user's role in an organization.
type Membership struct {
	Org       string
	Member    string
	Role      Role
	CreatedAt time.Time
}

// Orgs are organizations and their members. An organization is an Account with Org set.
type Orgs interface {
	// ListAccounts returns every account (users and organizations) by name.
	ListAccounts(ctx context.Context) ([]Account, error)
	// PutMembership adds a member or changes its role; ErrNotFound when Org is not an
	// organization or Member is not a user.
	PutMembership(ctx context.Context, m Membership) error
	// DeleteMembership removes a member. Idempotent.
	DeleteMembership(ctx context.Context, org, member string) error
	// ListMembers returns an organization's members by name.
	ListMembers(ctx context.Context, org string) ([]Membership, error)
	// MembershipsOf returns the organizations a user belongs to, by organization name.
	MembershipsOf(ctx context.Context, member string) ([]Membership, error)
}
