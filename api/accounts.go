package api

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// CreateAccount is the body of POST /v1/accounts (administrators): a user and, in the reply,
// their first key (manage rights, Data API read-write, every algorithm).
type CreateAccount struct {
	Name  string `json:"name"`
	Admin bool   `json:"admin,omitempty"`
}

// NewAccount answers POST /v1/accounts: the account and its first key, whose secret is shown
// this once.
type NewAccount struct {
	Account Account `json:"account"`
	Key     Key     `json:"key"`
}

// Organization is an account that users act for through their membership.
type Organization struct {
	Name      string    `json:"name"`
	Members   []Member  `json:"members"`
	CreatedAt time.Time `json:"created_at"`
}

// Member is a user's role in an organization: owner (manages members and everything the
// organization owns), admin (manages its algorithms and collections) or member (calls its
// private algorithms, reads its private collections).
type Member struct {
	User string `json:"user"`
	Role string `json:"role"`
}

// CreateOrganization is the body of POST /v1/organizations; the caller becomes its owner.
type CreateOrganization struct {
	Name string `json:"name"`
}

// SetMember is the body of PUT /v1/organizations/{org}/members/{user}.
type SetMember struct {
	Role string `json:"role"`
}

// CreateAccount creates a user (administrators) and returns it with its first key.
func (c *Client) CreateAccount(ctx context.Context, in CreateAccount) (NewAccount, error) {
	var out NewAccount
	err := c.doJSON(ctx, http.MethodPost, "/v1/accounts", nil, in, &out)
	return out, err
}

// ListAccounts lists every account (administrators).
func (c *Client) ListAccounts(ctx context.Context) ([]Account, error) {
	var out []Account
	err := c.doJSON(ctx, http.MethodGet, "/v1/accounts", nil, nil, &out)
	return out, err
}

// CreateOrganization creates an organization owned by the caller.
func (c *Client) CreateOrganization(ctx context.Context, name string) (Organization, error) {
	var out Organization
	err := c.doJSON(ctx, http.MethodPost, "/v1/organizations", nil, CreateOrganization{Name: name}, &out)
	return out, err
}

// GetOrganization returns an organization and its members (members only).
func (c *Client) GetOrganization(ctx context.Context, name string) (Organization, error) {
	var out Organization
	err := c.doJSON(ctx, http.MethodGet, "/v1/organizations/"+url.PathEscape(name), nil, nil, &out)
	return out, err
}

// SetMember adds a user to an organization or changes their role (the organization's owners).
func (c *Client) SetMember(ctx context.Context, org, user, role string) (Organization, error) {
	var out Organization
	err := c.doJSON(ctx, http.MethodPut, "/v1/organizations/"+url.PathEscape(org)+"/members/"+url.PathEscape(user), nil, SetMember{Role: role}, &out)
	return out, err
}

// RemoveMember removes a user from an organization (its owners, or the user themself).
func (c *Client) RemoveMember(ctx context.Context, org, user string) error {
	return c.doJSON(ctx, http.MethodDelete, "/v1/organizations/"+url.PathEscape(org)+"/members/"+url.PathEscape(user), nil, nil, nil)
}
