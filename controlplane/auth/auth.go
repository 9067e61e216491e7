// Package auth issues and checks API keys. Keys are random secrets shown once; the store keeps
// only their SHA-256 hash. Checked keys are cached in memory so that the call path does no
// database work; revocation through this package takes effect at once, and cached entries are
// re-read after MaxAge so that a revocation by another replica takes effect within it.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/store"
)

// KeyPrefix starts every algos API key.
const KeyPrefix = "sim"

// Principal is who a request acts for.
type Principal struct {
	Account string
	KeyID   string
	Admin   bool
	Manage  bool
	Data    store.DataAccess
	Algos   []string
	// Calling is set for a per-call token held by an algorithm's worker: the call path.
	Calling *Calling
	// Roles are the account's roles in organizations, by organization.
	Roles map[string]store.Role
}

// ActsFor reports whether the principal sees what owner owns as owner does (private
// algorithms and collections): owner itself, a member of organization owner, or an
// administrator.
func (p *Principal) ActsFor(owner string) bool {
	return p.Account == owner || p.Admin || p.Roles[owner] != ""
}

// Manages reports whether the principal may change what owner owns: owner itself, an owner
// or admin of organization owner, or an administrator. (Changing anything also needs a key with
// the manage scope.)
func (p *Principal) Manages(owner string) bool {
	if p.Account == owner || p.Admin {
		return true
	}
	r := p.Roles[owner]
	return r == store.RoleOwner || r == store.RoleAdmin
}

// MayCall reports whether the key's algorithm allow-list admits owner/name.
func (p *Principal) MayCall(owner, name string) bool {
	for _, a := range p.Algos {
		switch a {
		case "algo://*", "algo://" + owner + "/*", "algo://" + owner + "/" + name + "/*", "algo://" + owner + "/" + name:
			return true
		}
	}
	return false
}

// Config configures the Keys service.
type Config struct {
	Store  store.Store
	Logger *slog.Logger
	// MaxAge bounds how long a cached key is trusted without re-reading it (default 1s).
	MaxAge time.Duration
	// TokenKey signs per-call tokens (at least 32 bytes; without it no token is minted or
	// accepted). Every control-plane replica needs the same.
	TokenKey []byte
	Now      func() time.Time
}

type cached struct {
	p        *Principal
	expires  *time.Time
	revoked  bool
	loadedAt time.Time
}

// Keys is safe for concurrent use.
type Keys struct {
	cfg Config
	log *slog.Logger

	mu    sync.RWMutex
	cache map[[32]byte]*cached
	byID  map[string]*cached // for per-call tokens: their key's state

	liveMu sync.Mutex
	live   map[string]struct{} // IDs of the calls whose tokens are valid (running calls)
}

// New returns the key service.
func New(cfg Config) (*Keys, error) {
	if cfg.Store == nil {
		return nil, errors.New("auth: Store is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Keys{cfg: cfg, log: cfg.Logger.With("component", "auth"), cache: map[[32]byte]*cached{}, byID: map[string]*cached{}, live: map[string]struct{}{}}, nil
}

// Secret makes a new random key secret.
func Secret() (string, error) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 28)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = alphabet[int(c)%len(alphabet)] // 256 % 62 bias is negligible at 28 chars (>160 bits)
	}
	return KeyPrefix + string(out), nil
}

// Hash is the stored form of a secret.
func Hash(secret string) [32]byte { return sha256.Sum256([]byte(secret)) }

// Create issues a key for owner. The returned api.Key holds the secret; it is not kept.
func (k *Keys) Create(ctx context.Context, owner string, in api.CreateKey) (api.Key, error) {
	secret, err := Secret()
	if err != nil {
		return api.Key{}, err
	}
	return k.CreateWithSecret(ctx, owner, in, secret)
}

// CreateWithSecret stores a key with a given secret (the bootstrap key of `algos dev`, kept in
// the data directory across restarts).
func (k *Keys) CreateWithSecret(ctx context.Context, owner string, in api.CreateKey, secret string) (api.Key, error) {
	if len(secret) < 24 {
		return api.Key{}, fmt.Errorf("%w: key secrets are at least 24 characters", ErrInvalid)
	}
	algos := in.Algorithms
	if len(algos) == 0 {
		algos = []string{"algo://*"}
	}
	for _, a := range algos {
		if !strings.HasPrefix(a, "algo://") {
			return api.Key{}, fmt.Errorf("%w: algorithm scope %q: use algo://*, algo://owner/* or algo://owner/name/*", ErrInvalid, a)
		}
	}
	data := store.DataAccess(in.Data)
	switch data {
	case "":
		data = store.DataNone
	case store.DataNone, store.DataRead, store.DataReadWrite:
	default:
		return api.Key{}, fmt.Errorf("%w: data access %q: use none, read or write", ErrInvalid, in.Data)
	}
	id, err := Secret()
	if err != nil {
		return api.Key{}, err
	}
	id = "key_" + id[len(KeyPrefix):len(KeyPrefix)+16]
	h := Hash(secret)
	sk := store.Key{
		ID: id, Owner: owner, Name: in.Name, Hash: h[:], Prefix: secret[:8], Algos: algos, Data: data,
		Manage: in.Manage, CreatedAt: k.cfg.Now().UTC(), ExpiresAt: in.ExpiresAt,
	}
	if err := k.cfg.Store.CreateKey(ctx, sk); err != nil {
		return api.Key{}, err
	}
	out := ToAPI(sk)
	out.Secret = secret
	return out, nil
}

// ToAPI converts a stored key (never with its secret).
func ToAPI(k store.Key) api.Key {
	return api.Key{ID: k.ID, Owner: k.Owner, Name: k.Name, Prefix: k.Prefix, Algorithms: k.Algos, Data: string(k.Data),
		Manage: k.Manage, CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt}
}

// Authenticate checks an Authorization header value ("Simple KEY", "Bearer KEY" or a bare
// key). It answers from memory while the cached entry is younger than MaxAge.
func (k *Keys) Authenticate(ctx context.Context, header string) (*Principal, error) {
	secret := header
	if i := strings.IndexByte(header, ' '); i >= 0 {
		scheme := header[:i]
		if !strings.EqualFold(scheme, "Simple") && !strings.EqualFold(scheme, "Bearer") {
			return nil, fmt.Errorf("%w: use the header Authorization: Simple YOUR_API_KEY", ErrUnauthorized)
		}
		secret = strings.TrimSpace(header[i+1:])
	}
	if secret == "" {
		return nil, fmt.Errorf("%w: no API key: send Authorization: Simple YOUR_API_KEY", ErrUnauthorized)
	}
	if strings.HasPrefix(secret, CallTokenPrefix) {
		return k.callPrincipal(ctx, secret)
	}
	h := Hash(secret)
	now := k.cfg.Now()
	k.mu.RLock()
	c := k.cache[h]
	k.mu.RUnlock()
	if c == nil || now.Sub(c.loadedAt) >= k.cfg.MaxAge {
		var err error
		if c, err = k.loadKey(ctx, h, now); err != nil {
			return nil, err
		}
	}
	switch {
	case c.p == nil:
		return nil, fmt.Errorf("%w: the API key is not valid", ErrUnauthorized)
	case c.revoked:
		return nil, fmt.Errorf("%w: the API key was revoked", ErrUnauthorized)
	case c.expires != nil && !now.Before(*c.expires):
		return nil, fmt.Errorf("%w: the API key expired", ErrUnauthorized)
	}
	return c.p, nil
}

func (k *Keys) loadKey(ctx context.Context, h [32]byte, now time.Time) (*cached, error) {
	c := &cached{loadedAt: now}
	sk, err := k.cfg.Store.KeyByHash(ctx, h[:])
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Cached as unknown for MaxAge, so a flood of bad keys costs one lookup per key per second.
	case err != nil:
		return nil, fmt.Errorf("look up key: %w", err)
	default:
		acct, err := k.cfg.Store.GetAccount(ctx, sk.Owner)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("look up account: %w", err)
		}
		// A key's scopes bind its account's rights: an administrator's key without the manage
		// scope may call algorithms but administer nothing.
		roles, err := k.rolesOf(ctx, sk.Owner)
		if err != nil {
			return nil, err
		}
		c.p = &Principal{Account: sk.Owner, KeyID: sk.ID, Admin: acct.Admin && sk.Manage, Manage: sk.Manage, Data: sk.Data, Algos: sk.Algos, Roles: roles}
		c.expires, c.revoked = sk.ExpiresAt, sk.RevokedAt != nil
	}
	k.mu.Lock()
	if len(k.cache) > 100_000 { // bound memory under a flood of distinct bad keys
		k.cache = map[[32]byte]*cached{}
	}
	k.cache[h] = c
	k.mu.Unlock()
	return c, nil
}

// PrincipalByID returns the principal of a key by its ID, read from the store: for work done
// later on a key's behalf (an asynchronous request resumed after a restart). A revoked,
// expired or unknown key is ErrUnauthorized.
func (k *Keys) PrincipalByID(ctx context.Context, id string) (*Principal, error) {
	sk, err := k.cfg.Store.GetKey(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("%w: the key is gone", ErrUnauthorized)
	case err != nil:
		return nil, fmt.Errorf("look up key: %w", err)
	case sk.RevokedAt != nil:
		return nil, fmt.Errorf("%w: the key was revoked", ErrUnauthorized)
	case sk.ExpiresAt != nil && !k.cfg.Now().Before(*sk.ExpiresAt):
		return nil, fmt.Errorf("%w: the key expired", ErrUnauthorized)
	}
	acct, err := k.cfg.Store.GetAccount(ctx, sk.Owner)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("look up account: %w", err)
	}
	roles, err := k.rolesOf(ctx, sk.Owner)
	if err != nil {
		return nil, err
	}
	return &Principal{Account: sk.Owner, KeyID: sk.ID, Admin: acct.Admin && sk.Manage, Manage: sk.Manage, Data: sk.Data, Algos: sk.Algos, Roles: roles}, nil
}

// rolesOf reads an account's roles in organizations.
func (k *Keys) rolesOf(ctx context.Context, account string) (map[string]store.Role, error) {
	ms, err := k.cfg.Store.MembershipsOf(ctx, account)
	if err != nil {
		return nil, fmt.Errorf("look up memberships: %w", err)
	}
	if len(ms) == 0 {
		return nil, nil
	}
	roles := make(map[string]store.Role, len(ms))
	for _, m := range ms {
		roles[m.Org] = m.Role
	}
	return roles, nil
}

// ForgetAccount drops the cached keys of one account, so that a change of its rights (its
// organizations) takes effect at its next request in this process (other replicas follow
// within MaxAge). Other accounts' entries stay.
func (k *Keys) ForgetAccount(account string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for h, c := range k.cache {
		if c.p != nil && c.p.Account == account {
			delete(k.cache, h)
		}
	}
	for id, c := range k.byID {
		if c.p != nil && c.p.Account == account {
			delete(k.byID, id)
		}
	}
}

// Revoke revokes a key of owner (admins may revoke any). Idempotent. It takes effect in this
// process at once.
func (k *Keys) Revoke(ctx context.Context, p *Principal, id string) error {
	sk, err := k.cfg.Store.GetKey(ctx, id)
	if err == nil && sk.Owner != p.Account && !p.Admin {
		err = store.ErrNotFound // not the caller's: as absent as an unknown one
	}
	if err != nil {
		return fmt.Errorf("key %s: %w", id, err)
	}
	if err := k.cfg.Store.RevokeKey(ctx, id, k.cfg.Now().UTC()); err != nil {
		return err
	}
	var h [32]byte
	copy(h[:], sk.Hash)
	k.mu.Lock()
	delete(k.cache, h)
	delete(k.byID, id) // its call tokens too
	k.mu.Unlock()
	return nil
}

// List lists the caller's keys.
func (k *Keys) List(ctx context.Context, owner string) ([]api.Key, error) {
	ks, err := k.cfg.Store.ListKeys(ctx, owner)
	if err != nil {
		return nil, err
	}
	out := make([]api.Key, 0, len(ks))
	for _, sk := range ks {
		out = append(out, ToAPI(sk))
	}
	return out, nil
}

// Get returns one of the caller's keys (admins: any key). Others' keys are ErrNotFound.
func (k *Keys) Get(ctx context.Context, p *Principal, id string) (api.Key, error) {
	sk, err := k.cfg.Store.GetKey(ctx, id)
	if err != nil {
		return api.Key{}, fmt.Errorf("key %s: %w", id, err)
	}
	if sk.Owner != p.Account && !p.Admin {
		return api.Key{}, fmt.Errorf("key %s: %w", id, store.ErrNotFound)
	}
	return ToAPI(sk), nil
}

// Update renames a key of the caller and sets or clears its expiry (its scopes never change:
// a key with other rights is another key). It takes effect in this process at once.
func (k *Keys) Update(ctx context.Context, p *Principal, id string, in api.UpdateKey) (api.Key, error) {
	sk, err := k.cfg.Store.GetKey(ctx, id)
	if err != nil {
		return api.Key{}, fmt.Errorf("key %s: %w", id, err)
	}
	if sk.Owner != p.Account && !p.Admin {
		return api.Key{}, fmt.Errorf("key %s: %w", id, store.ErrNotFound)
	}
	if err := k.cfg.Store.UpdateKey(ctx, id, in.Name, in.ExpiresAt); err != nil {
		return api.Key{}, err
	}
	var h [32]byte
	copy(h[:], sk.Hash)
	k.mu.Lock()
	delete(k.cache, h)
	k.mu.Unlock()
	sk.Name, sk.ExpiresAt = in.Name, in.ExpiresAt
	return ToAPI(sk), nil
}
