package storetest

import (
	"testing"
	"time"

	"github.com/algos-dev/algos/controlplane/store"
)

// valueTests check how values round-trip: times, nil and empty slices.
func valueTests() []test {
	return []test{
		{"TimesUTC", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			india := time.FixedZone("IST", 5*3600+1800)
			local := time.Date(2031, 12, 31, 23, 59, 59, 987654321, india)
			a := store.Account{Name: "alice", CreatedAt: local}
			must(t, "CreateAccount", s.CreateAccount(ctx, a))
			got, err := s.GetAccount(ctx, "alice")
			must(t, "GetAccount", err)
			// equal checks the location is UTC and the instant to within a microsecond.
			equal(t, "GetAccount", got, store.Account{Name: "alice", CreatedAt: local.UTC()})

			k := newKey("k1", "alice", 0)
			k.CreatedAt = time.Now() // with a monotonic reading, which must not matter
			k.ExpiresAt = ptr(local)
			must(t, "CreateKey", s.CreateKey(ctx, k))
			gotKey, err := s.GetKey(ctx, "k1")
			must(t, "GetKey", err)
			equal(t, "GetKey", gotKey, k)
		}},
		{"ZeroTime", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			must(t, "CreateAccount", s.CreateAccount(ctx, store.Account{Name: "alice"}))
			got, err := s.GetAccount(ctx, "alice")
			must(t, "GetAccount", err)
			if !got.CreatedAt.IsZero() {
				t.Errorf("GetAccount: CreatedAt %v, want the zero time", got.CreatedAt)
			}
		}},
		{"TimeOrderAcrossZones", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			// Newer in UTC but earlier on the wall clock of its zone.
			west := time.FixedZone("west", -10*3600)
			older := newKey("older", "alice", 0)
			older.CreatedAt = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
			newer := newKey("newer", "alice", 0)
			newer.CreatedAt = time.Date(2025, 6, 1, 3, 0, 0, 0, west) // 13:00 UTC
			must(t, "CreateKey", s.CreateKey(ctx, newer))
			must(t, "CreateKey", s.CreateKey(ctx, older))
			got, err := s.ListKeys(ctx, "alice")
			must(t, "ListKeys", err)
			if len(got) != 2 || got[0].ID != "newer" || got[1].ID != "older" {
				t.Errorf("ListKeys: got %d keys %v, want newer, older", len(got), keyIDs(got))
			}
		}},
		{"BytesNilAndEmpty", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			for id, in := range map[string][]byte{"nil": nil, "empty": {}} {
				r := newRequest(id, 0)
				r.Input, r.Options = in, in
				must(t, "CreateRequest", s.CreateRequest(ctx, r))
				got, err := s.GetRequest(ctx, r.ID)
				must(t, "GetRequest", err)
				if len(got.Input) != 0 || len(got.Options) != 0 {
					t.Errorf("GetRequest %s: Input %q, Options %q, want empty", r.ID, got.Input, got.Options)
				}
			}
		}},
	}
}

func keyIDs(ks []store.Key) []string {
	var ids []string
	for _, k := range ks {
		ids = append(ids, k.ID)
	}
	return ids
}
