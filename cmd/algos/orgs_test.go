//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/store"
)

// TestOrganizations: an administrator creates users (each gets a first key); a user creates an
// organization and owns it; its private algorithm and collection are invisible (404) to others
// until they become members; a member calls and reads but may not publish; an admin publishes;
// removal takes effect at once; the last owner cannot leave; only owners change members.
func TestOrganizations(t *testing.T) {
	t.Parallel()
	e := startEnv(t, "")
	bg := context.Background()
	mk := func(name string) *api.Client {
		out, err := e.client.CreateAccount(bg, api.CreateAccount{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		if out.Key.Secret == "" || !out.Key.Manage || out.Key.Data != "write" {
			t.Fatalf("first key of %s: %+v", name, out.Key)
		}
		return api.NewClient(e.srv.URL, out.Key.Secret)
	}
	alice, bob := mk("alice"), mk("bob")
	if _, err := e.client.CreateAccount(bg, api.CreateAccount{Name: "alice"}); !isStatus(err, 409) {
		t.Fatalf("account name taken: %v", err)
	}
	if _, err := alice.CreateAccount(bg, api.CreateAccount{Name: "mallory"}); !isStatus(err, 403) {
		t.Fatalf("a non-admin creating an account: %v", err)
	}
	if _, err := alice.CreateOrganization(bg, "acme"); err != nil {
		t.Fatal(err)
	}
	// alice, acme's owner, publishes a private algorithm and a private collection for acme.
	if _, err := alice.CreateAlgorithm(bg, "acme", api.CreateAlgorithm{Name: "secret", Settings: api.Manifest{Visibility: api.Private}}); err != nil {
		t.Fatal(err)
	}
	e.publishDir(alice, "acme", "secret", filepath.Join("..", "..", "examples", "algorithms", "hello-python"), api.PublishOptions{})
	if _, err := alice.CreateCollection(bg, "acme", api.CreateCollection{Name: "models", ACL: api.ACL(store.ACLPrivate)}); err != nil {
		t.Fatal(err)
	}
	if err := alice.PutFile(bg, "data://acme/models/m.txt", "text/plain", bytes.NewReader([]byte("weights"))); err != nil {
		t.Fatal(err)
	}
	call := func(c *api.Client) error {
		_, err := c.Call(bg, "acme/secret", "application/json", []byte(`"x"`), api.CallOptions{})
		return err
	}
	read := func(c *api.Client) error {
		rc, err := c.GetFile(bg, "data://acme/models/m.txt")
		if err == nil {
			rc.Close()
		}
		return err
	}
	if err := call(alice); err != nil {
		t.Fatalf("the owner calls: %v", err)
	}
	// bob is no member: nothing exists.
	for what, err := range map[string]error{"call": call(bob), "read": read(bob)} {
		if !isStatus(err, 404) {
			t.Fatalf("a non-member's %s: %v; want 404", what, err)
		}
	}
	if _, err := bob.GetOrganization(bg, "acme"); !isStatus(err, 404) {
		t.Fatalf("a non-member reading the organization: %v", err)
	}
	if _, err := bob.SetMember(bg, "acme", "bob", "owner"); !isStatus(err, 404) {
		t.Fatalf("a non-member making himself owner: %v", err)
	}
	// A member calls and reads, but may not publish or add members.
	if _, err := alice.SetMember(bg, "acme", "bob", "member"); err != nil {
		t.Fatal(err)
	}
	if err := call(bob); err != nil {
		t.Fatalf("a member calls: %v", err)
	}
	if err := read(bob); err != nil {
		t.Fatalf("a member reads: %v", err)
	}
	if _, err := bob.CreateAlgorithm(bg, "acme", api.CreateAlgorithm{Name: "bobs"}); !isStatus(err, 403) {
		t.Fatalf("a member creating an algorithm: %v", err)
	}
	if _, err := bob.SetMember(bg, "acme", "bob", "owner"); !isStatus(err, 403) {
		t.Fatalf("a member making himself owner: %v", err)
	}
	// An admin manages algorithms.
	if _, err := alice.SetMember(bg, "acme", "bob", "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.CreateAlgorithm(bg, "acme", api.CreateAlgorithm{Name: "bobs"}); err != nil {
		t.Fatalf("an admin creating an algorithm: %v", err)
	}
	// The last owner cannot leave; removing bob takes effect at once.
	if err := alice.RemoveMember(bg, "acme", "alice"); !isStatus(err, 409) {
		t.Fatalf("the last owner leaving: %v", err)
	}
	if err := alice.RemoveMember(bg, "acme", "bob"); err != nil {
		t.Fatal(err)
	}
	if err := call(bob); !isStatus(err, 404) {
		t.Fatalf("a removed member calls: %v", err)
	}
	me, err := alice.Account(bg)
	if err != nil || len(me.Organizations) != 1 || me.Organizations[0].Org != "acme" || me.Organizations[0].Role != "owner" {
		t.Fatalf("alice's account: %+v %v", me, err)
	}
	if r := e.do(http.MethodPost, "/v1/accounts", "", "application/json", []byte(`{"name":"x"}`)); r.status != 401 {
		t.Fatalf("creating an account without a key: %d", r.status)
	}
	if r := e.do(http.MethodPost, "/v1/accounts", e.srv.Key, "application/json", []byte(`{"name":"../x"}`)); r.status != 400 {
		t.Fatalf("a bad account name: %d %s", r.status, r.body)
	}
}

func isStatus(err error, status int) bool {
	var ae *api.Error
	return errors.As(err, &ae) && ae.Status == status
}
