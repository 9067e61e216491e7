package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/auth"
	"github.com/algos-dev/algos/controlplane/registry"
	"github.com/algos-dev/algos/controlplane/store"
)

// account serves GET /v1/account: the caller's account and organizations.
func (h *Handler) account(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	out := api.Account{Name: p.Account, Admin: p.Admin}
	for org, role := range p.Roles {
		out.Organizations = append(out.Organizations, api.OrgRole{Org: org, Role: string(role)})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// createAccount serves POST /v1/accounts (administrators): a user and its first key.
func (h *Handler) createAccount(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var in api.CreateAccount
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := registry.ValidName("account", in.Name); err != nil {
		return err
	}
	ctx := r.Context()
	if err := h.cfg.Store.CreateAccount(ctx, store.Account{Name: in.Name, Admin: in.Admin, CreatedAt: time.Now().UTC()}); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("%w: the account name %s is taken", err, in.Name)
		}
		return err
	}
	k, err := h.cfg.Keys.Create(ctx, in.Name, api.CreateKey{Name: "first", Manage: true, Data: "write"})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, api.NewAccount{Account: api.Account{Name: in.Name, Admin: in.Admin}, Key: k})
	return nil
}

// listAccounts serves GET /v1/accounts (administrators).
func (h *Handler) listAccounts(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	as, err := h.cfg.Store.ListAccounts(r.Context())
	if err != nil {
		return err
	}
	out := make([]api.Account, 0, len(as))
	for _, a := range as {
		out = append(out, api.Account{Name: a.Name, Admin: a.Admin, Organization: a.Org})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// organization returns an organization the caller belongs to; to anyone else it does not
// exist (404, as an unknown one).
func (h *Handler) organization(r *http.Request, p *auth.Principal, name string) (api.Organization, error) {
	notFound := fmt.Errorf("organization %s: %w", name, store.ErrNotFound)
	if !p.ActsFor(name) {
		return api.Organization{}, notFound
	}
	a, err := h.cfg.Store.GetAccount(r.Context(), name)
	if err != nil || !a.Org {
		return api.Organization{}, notFound
	}
	ms, err := h.cfg.Store.ListMembers(r.Context(), name)
	if err != nil {
		return api.Organization{}, err
	}
	out := api.Organization{Name: a.Name, CreatedAt: a.CreatedAt, Members: make([]api.Member, 0, len(ms))}
	for _, m := range ms {
		out.Members = append(out.Members, api.Member{User: m.Member, Role: string(m.Role)})
	}
	return out, nil
}

// createOrganization serves POST /v1/organizations: the caller (a user) becomes its owner.
func (h *Handler) createOrganization(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var in api.CreateOrganization
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := registry.ValidName("organization", in.Name); err != nil {
		return err
	}
	ctx := r.Context()
	me, err := h.cfg.Store.GetAccount(ctx, p.Account)
	if err != nil {
		return err
	}
	if me.Org {
		return fmt.Errorf("%w: an organization cannot create organizations", auth.ErrForbidden)
	}
	now := time.Now().UTC()
	if err := h.cfg.Store.CreateAccount(ctx, store.Account{Name: in.Name, Org: true, CreatedAt: now}); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("%w: the name %s is taken", err, in.Name)
		}
		return err
	}
	if err := h.cfg.Store.PutMembership(ctx, store.Membership{Org: in.Name, Member: p.Account, Role: store.RoleOwner, CreatedAt: now}); err != nil {
		return err
	}
	h.cfg.Keys.ForgetAccount(p.Account)
	writeJSON(w, http.StatusCreated, api.Organization{Name: in.Name, CreatedAt: now, Members: []api.Member{{User: p.Account, Role: string(store.RoleOwner)}}})
	return nil
}

// getOrganization serves GET /v1/organizations/{org} (members).
func (h *Handler) getOrganization(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	o, err := h.organization(r, p, r.PathValue("org"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, o)
	return nil
}

// mayAdminister checks that the caller may change an organization's members: its owners (and
// administrators).
func mayAdminister(p *auth.Principal, org string) error {
	if p.Admin || p.Roles[org] == store.RoleOwner {
		return nil
	}
	return fmt.Errorf("%w: only the owners of %s change its members", auth.ErrForbidden, org)
}

// setMember serves PUT /v1/organizations/{org}/members/{user} (owners).
func (h *Handler) setMember(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	org, user := r.PathValue("org"), r.PathValue("user")
	if _, err := h.organization(r, p, org); err != nil {
		return err
	}
	if err := mayAdminister(p, org); err != nil {
		return err
	}
	var in api.SetMember
	if err := decode(r, &in); err != nil {
		return err
	}
	role := store.Role(in.Role)
	switch role {
	case store.RoleOwner, store.RoleAdmin, store.RoleMember:
	default:
		return fmt.Errorf("%w: role %q: use owner, admin or member", errInput, in.Role)
	}
	ctx := r.Context()
	h.orgMu.Lock()
	defer h.orgMu.Unlock()
	if err := h.lastOwner(r, org, user, role); err != nil {
		return err
	}
	if err := h.cfg.Store.PutMembership(ctx, store.Membership{Org: org, Member: user, Role: role, CreatedAt: time.Now().UTC()}); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: no user %s (organizations cannot be members)", errInput, user)
		}
		return err
	}
	h.cfg.Keys.ForgetAccount(user)
	o, err := h.organization(r, p, org)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, o)
	return nil
}

// lastOwner refuses a change that would leave an organization without an owner.
func (h *Handler) lastOwner(r *http.Request, org, user string, newRole store.Role) error {
	if newRole == store.RoleOwner {
		return nil
	}
	ms, err := h.cfg.Store.ListMembers(r.Context(), org)
	if err != nil {
		return err
	}
	owners, isOwner := 0, false
	for _, m := range ms {
		if m.Role == store.RoleOwner {
			owners++
			isOwner = isOwner || m.Member == user
		}
	}
	if isOwner && owners == 1 {
		return fmt.Errorf("%w: %s is the last owner of %s: make another member owner first", store.ErrConflict, user, org)
	}
	return nil
}

// removeMember serves DELETE /v1/organizations/{org}/members/{user}: its owners, or the user
// leaving.
func (h *Handler) removeMember(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	org, user := r.PathValue("org"), r.PathValue("user")
	if _, err := h.organization(r, p, org); err != nil {
		return err
	}
	if user != p.Account {
		if err := mayAdminister(p, org); err != nil {
			return err
		}
	}
	h.orgMu.Lock()
	defer h.orgMu.Unlock()
	if err := h.lastOwner(r, org, user, ""); err != nil {
		return err
	}
	if err := h.cfg.Store.DeleteMembership(r.Context(), org, user); err != nil {
		return err
	}
	h.cfg.Keys.ForgetAccount(user)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
