package auth_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/auth"
	"github.com/algos-dev/algos/controlplane/store"
	"github.com/algos-dev/algos/controlplane/store/sqlite"
)

func newKeys(t *testing.T, now func() time.Time) (*auth.Keys, store.Store) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	k, err := auth.New(auth.Config{Store: st, Now: now, MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return k, st
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Now()
	keys, st := newKeys(t, func() time.Time { return now })
	if err := st.CreateAccount(ctx, store.Account{Name: "ada", Admin: true, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	full, err := keys.Create(ctx, "ada", api.CreateKey{Manage: true})
	if err != nil {
		t.Fatal(err)
	}
	callOnly, err := keys.Create(ctx, "ada", api.CreateKey{Algorithms: []string{"algo://ada/*"}})
	if err != nil {
		t.Fatal(err)
	}
	exp := now.Add(time.Minute)
	expiring, err := keys.Create(ctx, "ada", api.CreateKey{ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"Simple " + full.Secret, "Bearer " + full.Secret, full.Secret, "simple " + full.Secret} {
		p, err := keys.Authenticate(ctx, h)
		if err != nil || p.Account != "ada" || !p.Admin || !p.Manage {
			t.Fatalf("%q: %+v %v", h, p, err)
		}
	}
	p, err := keys.Authenticate(ctx, "Simple "+callOnly.Secret)
	if err != nil || p.Admin || p.Manage {
		t.Fatalf("call-only key of an admin: %+v %v", p, err)
	}
	if !p.MayCall("ada", "x") || p.MayCall("bob", "x") {
		t.Fatal("allow-list algo://ada/* not applied")
	}
	for _, h := range []string{"", "Simple ", "Basic " + full.Secret, "Simple simWRONGWRONGWRONGWRONGWRONG"} {
		if _, err := keys.Authenticate(ctx, h); !errors.Is(err, auth.ErrUnauthorized) {
			t.Errorf("%q: %v, want ErrUnauthorized", h, err)
		}
	}
	// Revocation takes effect at once although entries are cached for an hour here.
	if err := keys.Revoke(ctx, p, callOnly.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Authenticate(ctx, "Simple "+callOnly.Secret); !errors.Is(err, auth.ErrUnauthorized) {
		t.Fatalf("revoked key: %v", err)
	}
	if _, err := keys.Authenticate(ctx, "Simple "+expiring.Secret); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	if _, err := keys.Authenticate(ctx, "Simple "+expiring.Secret); !errors.Is(err, auth.ErrUnauthorized) {
		t.Fatalf("expired key: %v", err)
	}
	// The store keeps hashes only.
	sk, err := st.GetKey(ctx, full.ID)
	if err != nil || string(sk.Hash) == full.Secret || len(sk.Hash) != 32 {
		t.Fatalf("stored key: %+v %v", sk, err)
	}
	if _, err := keys.Create(ctx, "ada", api.CreateKey{Data: "everything"}); !errors.Is(err, auth.ErrInvalid) {
		t.Fatalf("bad data scope: %v", err)
	}
	if _, err := keys.Create(ctx, "ada", api.CreateKey{Algorithms: []string{"demo/*"}}); !errors.Is(err, auth.ErrInvalid) {
		t.Fatalf("bad algorithm scope: %v", err)
	}
}

func TestRevocationByAnotherReplicaWithinMaxAge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Now()
	clock := func() time.Time { return now }
	a, st := newKeys(t, clock)
	b, err := auth.New(auth.Config{Store: st, Now: clock, MaxAge: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	k, err := a.Create(ctx, "ada", api.CreateKey{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Authenticate(ctx, k.Secret); err != nil {
		t.Fatal(err)
	}
	p, _ := a.Authenticate(ctx, k.Secret)
	if err := a.Revoke(ctx, p, k.ID); err != nil {
		t.Fatal(err)
	}
	now = now.Add(1100 * time.Millisecond)
	if _, err := b.Authenticate(ctx, k.Secret); !errors.Is(err, auth.ErrUnauthorized) {
		t.Fatalf("replica b after MaxAge: %v", err)
	}
}
