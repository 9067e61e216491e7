package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/store"
)

// CallTokenPrefix starts every per-call token.
const CallTokenPrefix = "act_"

// DefaultMaxDepth bounds how deep calls from inside algorithms nest (a call from outside is
// depth 1).
const DefaultMaxDepth = 8

// callClaims is what a per-call token carries, signed by the control plane.
type callClaims struct {
	Account string           `json:"a"`           // the original caller: rights and usage
	KeyID   string           `json:"k"`           // the original caller's key: revoking it ends its tokens
	Algos   []string         `json:"s"`           // the key's algorithm allow-list
	Data    store.DataAccess `json:"d"`           // the key's Data API access
	Request string           `json:"r"`           // the root request ID
	Chain   []string         `json:"c"`           // owner/name of the algorithms on the call path, outermost first
	NoCalls bool             `json:"n,omitempty"` // the holder may not call algorithms
	Exp     int64            `json:"e"`           // unix milliseconds: the call's deadline
	ID      string           `json:"i"`           // the call's: the token works while the call runs
}

// Calling is what a principal holding a per-call token knows of its call path.
type Calling struct {
	Chain   []string // owner/name of the algorithms on the call path, the token's holder last
	Request string   // the root request ID
	NoCalls bool     // the holder's algorithm may not call others (call_other_algorithms: false)
	// Expires is the holder's call's deadline: a call it makes ends by then too, so that no
	// token outlives the outermost call by nesting calls with longer timeouts.
	Expires time.Time
}

// Holder is the version holding the token (owner/name/1.2.3).
func (c *Calling) Holder() string { return c.Chain[len(c.Chain)-1] }

// HolderAlgorithm is the owner and name of the algorithm holding the token.
func (c *Calling) HolderAlgorithm() (owner, name string) {
	algorithm, _ := api.SplitVersionID(c.Holder())
	owner, name, _ = strings.Cut(algorithm, "/")
	return owner, name
}

// MintCallToken makes the token the worker of algorithm (owner/name) gets for one call made by
// p: the caller's rights, the call path with the algorithm appended. It is valid until the
// deadline and only while the call runs: call end when the call has answered. (Live calls are
// kept in this process: a token is checked by the control plane that minted it.)
func (k *Keys) MintCallToken(p *Principal, algorithm, request string, deadline time.Time, noCalls bool) (token string, end func(), err error) {
	if len(k.cfg.TokenKey) == 0 {
		return "", nil, errors.New("auth: no token key configured")
	}
	idb := make([]byte, 12)
	if _, err := rand.Read(idb); err != nil {
		return "", nil, err
	}
	id := base64.RawURLEncoding.EncodeToString(idb)
	c := callClaims{Account: p.Account, KeyID: p.KeyID, Algos: p.Algos, Data: p.Data, Request: request, NoCalls: noCalls, Exp: deadline.UnixMilli(), ID: id}
	if p.Calling != nil {
		c.Chain = slices.Clone(p.Calling.Chain)
		c.Request = p.Calling.Request
	}
	c.Chain = append(c.Chain, algorithm)
	b, err := json.Marshal(c)
	if err != nil {
		return "", nil, err
	}
	payload := base64.RawURLEncoding.EncodeToString(b)
	k.liveMu.Lock()
	k.live[id] = struct{}{}
	k.liveMu.Unlock()
	end = func() {
		k.liveMu.Lock()
		delete(k.live, id)
		k.liveMu.Unlock()
	}
	return CallTokenPrefix + payload + "." + base64.RawURLEncoding.EncodeToString(k.sign(payload)), end, nil
}

func (k *Keys) sign(payload string) []byte {
	m := hmac.New(sha256.New, k.cfg.TokenKey)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// callPrincipal checks a per-call token: signature, expiry, and that the key it derives from is
// still valid (revocation reaches tokens within MaxAge).
func (k *Keys) callPrincipal(ctx context.Context, token string) (*Principal, error) {
	bad := fmt.Errorf("%w: the call token is not valid", ErrUnauthorized)
	if len(k.cfg.TokenKey) == 0 {
		return nil, bad
	}
	payload, sig, ok := strings.Cut(strings.TrimPrefix(token, CallTokenPrefix), ".")
	if !ok {
		return nil, bad
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, k.sign(payload)) {
		return nil, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil, bad
	}
	var c callClaims
	if json.Unmarshal(b, &c) != nil || len(c.Chain) == 0 {
		return nil, bad
	}
	if !k.cfg.Now().Before(time.UnixMilli(c.Exp)) {
		return nil, fmt.Errorf("%w: the call token expired with its call", ErrUnauthorized)
	}
	k.liveMu.Lock()
	_, live := k.live[c.ID]
	k.liveMu.Unlock()
	if !live {
		return nil, fmt.Errorf("%w: the call this token was made for has ended", ErrUnauthorized)
	}
	roles, err := k.keyValid(ctx, c.KeyID)
	if err != nil {
		return nil, err
	}
	return &Principal{Account: c.Account, KeyID: c.KeyID, Data: c.Data, Algos: c.Algos, Roles: roles,
		Calling: &Calling{Chain: c.Chain, Request: c.Request, NoCalls: c.NoCalls, Expires: time.UnixMilli(c.Exp)}}, nil
}

// keyValid checks that a key exists and is neither revoked nor expired, from a cache no older
// than MaxAge, and returns its account's current roles in organizations.
func (k *Keys) keyValid(ctx context.Context, id string) (map[string]store.Role, error) {
	now := k.cfg.Now()
	k.mu.RLock()
	c := k.byID[id]
	k.mu.RUnlock()
	if c == nil || now.Sub(c.loadedAt) >= k.cfg.MaxAge {
		c = &cached{loadedAt: now}
		sk, err := k.cfg.Store.GetKey(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, fmt.Errorf("look up key: %w", err)
		default:
			roles, err := k.rolesOf(ctx, sk.Owner)
			if err != nil {
				return nil, err
			}
			c.p = &Principal{Account: sk.Owner, KeyID: sk.ID, Roles: roles}
			c.expires, c.revoked = sk.ExpiresAt, sk.RevokedAt != nil
		}
		k.mu.Lock()
		if len(k.byID) > 100_000 {
			k.byID = map[string]*cached{}
		}
		k.byID[id] = c
		k.mu.Unlock()
	}
	switch {
	case c.p == nil, c.revoked:
		return nil, fmt.Errorf("%w: the API key behind this call was revoked", ErrUnauthorized)
	case c.expires != nil && !now.Before(*c.expires):
		return nil, fmt.Errorf("%w: the API key behind this call expired", ErrUnauthorized)
	}
	return c.p.Roles, nil
}
