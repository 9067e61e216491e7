package auth_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/auth"
	"github.com/algos-dev/algos/controlplane/store"
	"github.com/algos-dev/algos/controlplane/store/sqlite"
)

// TestCallTokens: a per-call token carries the caller's rights and the call path, and stops
// working when tampered with, after its call's deadline, when its key is revoked, and under
// another control plane's token key.
func TestCallTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Now()
	clock := func() time.Time { return now }
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	secret := []byte(strings.Repeat("k", 32))
	keys, err := auth.New(auth.Config{Store: st, Now: clock, MaxAge: time.Hour, TokenKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateAccount(ctx, store.Account{Name: "ada", Admin: true, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	k, err := keys.Create(ctx, "ada", api.CreateKey{Manage: true, Data: "read", Algorithms: []string{"algo://ada/*"}})
	if err != nil {
		t.Fatal(err)
	}
	caller, err := keys.Authenticate(ctx, "Simple "+k.Secret)
	if err != nil {
		t.Fatal(err)
	}
	tok, end, err := keys.MintCallToken(caller, "ada/a/1.0.0", "req-1", now.Add(time.Minute), false)
	if err != nil {
		t.Fatal(err)
	}
	p, err := keys.Authenticate(ctx, "Simple "+tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.Account != "ada" || p.Admin || p.Manage || p.Data != caller.Data || !p.MayCall("ada", "b") || p.MayCall("bob", "x") ||
		p.Calling == nil || p.Calling.Holder() != "ada/a/1.0.0" || p.Calling.Request != "req-1" {
		t.Fatalf("token principal: %+v %+v", p, p.Calling)
	}
	// A child's token extends the path and keeps the root request.
	child, endChild, err := keys.MintCallToken(p, "ada/b/2.0.0", "req-other", now.Add(time.Minute), true)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := keys.Authenticate(ctx, child)
	if err != nil || strings.Join(cp.Calling.Chain, ",") != "ada/a/1.0.0,ada/b/2.0.0" || cp.Calling.Request != "req-1" || !cp.Calling.NoCalls {
		t.Fatalf("child token: %+v %v", cp, err)
	}

	bad := []string{
		tok[:len(tok)-2] + "xx",                      // signature changed
		strings.Replace(tok, tok[4:10], "AAAAAA", 1), // payload changed
		auth.CallTokenPrefix + "garbage",
	}
	for _, b := range bad {
		if _, err := keys.Authenticate(ctx, b); !errors.Is(err, auth.ErrUnauthorized) {
			t.Errorf("tampered token %q: %v", b, err)
		}
	}
	other, _ := auth.New(auth.Config{Store: st, Now: clock, TokenKey: []byte(strings.Repeat("o", 32))})
	if _, err := other.Authenticate(ctx, tok); !errors.Is(err, auth.ErrUnauthorized) {
		t.Errorf("token under another token key: %v", err)
	}
	none, _ := auth.New(auth.Config{Store: st, Now: clock})
	if _, err := none.Authenticate(ctx, tok); !errors.Is(err, auth.ErrUnauthorized) {
		t.Errorf("token without a token key: %v", err)
	}
	if _, _, err := none.MintCallToken(caller, "ada/a/1.0.0", "r", now.Add(time.Minute), false); err == nil {
		t.Error("minted without a token key")
	}

	// A call that has answered ends its token, its children's staying until theirs end.
	endChild()
	if _, err := keys.Authenticate(ctx, child); !errors.Is(err, auth.ErrUnauthorized) {
		t.Errorf("token of a call that has ended: %v", err)
	}
	if _, err := keys.Authenticate(ctx, tok); err != nil {
		t.Errorf("token of a running call after its child ended: %v", err)
	}

	now = now.Add(2 * time.Minute)
	if _, err := keys.Authenticate(ctx, tok); !errors.Is(err, auth.ErrUnauthorized) {
		t.Errorf("token after its deadline: %v", err)
	}
	now = now.Add(-2 * time.Minute)
	if err := keys.Revoke(ctx, caller, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Authenticate(ctx, tok); !errors.Is(err, auth.ErrUnauthorized) {
		t.Errorf("token of a revoked key: %v", err)
	}
	end()
}
