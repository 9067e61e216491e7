package storetest

import (
	"testing"

	"github.com/algos-dev/algos/controlplane/store"
)

func newCloudAccount(name string, created int) store.CloudAccount {
	return store.CloudAccount{
		Name:        name,
		Cloud:       "aws",
		Settings:    []byte(`{"region":"us-east-1"}`),
		Credentials: []byte{0x01, 0x02, 0xff, 0x00, 0x10},
		CreatedAt:   at(created),
		UpdatedAt:   at(created),
	}
}

func cloudAccountTests() []test {
	return []test{
		{"RoundTripAndList", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			b, a := newCloudAccount("prod", 1), newCloudAccount("dev", 0)
			a.Cloud = "gcp"
			for _, acct := range []store.CloudAccount{b, a} {
				must(t, "CreateCloudAccount", s.CreateCloudAccount(ctx, acct))
			}
			got, err := s.GetCloudAccount(ctx, "prod")
			must(t, "GetCloudAccount", err)
			equal(t, "GetCloudAccount", got, b)
			all, err := s.ListCloudAccounts(ctx)
			must(t, "ListCloudAccounts", err)
			equal(t, "ListCloudAccounts (by name)", all, []store.CloudAccount{a, b})
		}},
		{"ConflictNotFoundUpdateDelete", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			acct := newCloudAccount("prod", 0)
			must(t, "CreateCloudAccount", s.CreateCloudAccount(ctx, acct))
			wantErr(t, "CreateCloudAccount again", s.CreateCloudAccount(ctx, newCloudAccount("prod", 1)), store.ErrConflict)
			_, err := s.GetCloudAccount(ctx, "nope")
			wantErr(t, "GetCloudAccount unknown", err, store.ErrNotFound)
			wantErr(t, "UpdateCloudAccount unknown", s.UpdateCloudAccount(ctx, newCloudAccount("nope", 0)), store.ErrNotFound)
			acct.Credentials, acct.Settings, acct.UpdatedAt = []byte{9, 9}, []byte(`{"region":"eu-west-1"}`), at(5)
			must(t, "UpdateCloudAccount", s.UpdateCloudAccount(ctx, acct))
			got, err := s.GetCloudAccount(ctx, "prod")
			must(t, "GetCloudAccount", err)
			equal(t, "GetCloudAccount after update", got, acct)
			must(t, "DeleteCloudAccount", s.DeleteCloudAccount(ctx, "prod"))
			must(t, "DeleteCloudAccount again", s.DeleteCloudAccount(ctx, "prod"))
			_, err = s.GetCloudAccount(ctx, "prod")
			wantErr(t, "GetCloudAccount deleted", err, store.ErrNotFound)
		}},
	}
}
