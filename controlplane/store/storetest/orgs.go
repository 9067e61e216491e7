package storetest

import (
	"testing"

	"github.com/algos-dev/algos/controlplane/store"
)

func orgTests() []test {
	return []test{
		{"Memberships", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			acme := store.Account{Name: "acme", Org: true, CreatedAt: at(0)}
			for _, a := range []store.Account{acme, {Name: "alice", CreatedAt: at(1)}, {Name: "bob", CreatedAt: at(2)}, {Name: "zeta", Org: true, CreatedAt: at(3)}} {
				must(t, "CreateAccount", s.CreateAccount(ctx, a))
			}
			got, err := s.GetAccount(ctx, "acme")
			must(t, "GetAccount", err)
			equal(t, "GetAccount org", got, acme)
			all, err := s.ListAccounts(ctx)
			must(t, "ListAccounts", err)
			if len(all) != 4 || all[0].Name != "acme" || all[3].Name != "zeta" || !all[3].Org {
				t.Fatalf("ListAccounts = %+v", all)
			}
			alice := store.Membership{Org: "acme", Member: "alice", Role: store.RoleOwner, CreatedAt: at(4)}
			bob := store.Membership{Org: "acme", Member: "bob", Role: store.RoleMember, CreatedAt: at(5)}
			must(t, "PutMembership alice", s.PutMembership(ctx, alice))
			must(t, "PutMembership bob", s.PutMembership(ctx, bob))
			ms, err := s.ListMembers(ctx, "acme")
			must(t, "ListMembers", err)
			equal(t, "ListMembers", ms, []store.Membership{alice, bob})
			bob.Role = store.RoleAdmin
			must(t, "PutMembership bob again", s.PutMembership(ctx, bob))
			must(t, "PutMembership alice in zeta", s.PutMembership(ctx, store.Membership{Org: "zeta", Member: "alice", Role: store.RoleMember, CreatedAt: at(6)}))
			of, err := s.MembershipsOf(ctx, "alice")
			must(t, "MembershipsOf", err)
			if len(of) != 2 || of[0].Org != "acme" || of[1].Org != "zeta" {
				t.Fatalf("MembershipsOf alice = %+v", of)
			}
			of, err = s.MembershipsOf(ctx, "bob")
			must(t, "MembershipsOf bob", err)
			if len(of) != 1 || of[0].Role != store.RoleAdmin || !of[0].CreatedAt.Equal(at(5)) {
				t.Fatalf("MembershipsOf bob after a role change = %+v (the change keeps the join time)", of)
			}
			wantErr(t, "PutMembership into a user", s.PutMembership(ctx, store.Membership{Org: "alice", Member: "bob", Role: store.RoleMember, CreatedAt: at(7)}), store.ErrNotFound)
			wantErr(t, "PutMembership of an org", s.PutMembership(ctx, store.Membership{Org: "acme", Member: "zeta", Role: store.RoleMember, CreatedAt: at(7)}), store.ErrNotFound)
			wantErr(t, "PutMembership of nobody", s.PutMembership(ctx, store.Membership{Org: "acme", Member: "nobody", Role: store.RoleMember, CreatedAt: at(7)}), store.ErrNotFound)
			wantErr(t, "PutMembership into nothing", s.PutMembership(ctx, store.Membership{Org: "nothing", Member: "bob", Role: store.RoleMember, CreatedAt: at(7)}), store.ErrNotFound)
			must(t, "DeleteMembership", s.DeleteMembership(ctx, "acme", "bob"))
			must(t, "DeleteMembership again", s.DeleteMembership(ctx, "acme", "bob"))
			ms, err = s.ListMembers(ctx, "acme")
			must(t, "ListMembers after delete", err)
			equal(t, "ListMembers after delete", ms, []store.Membership{alice})
		}},
	}
}
