package storetest

import (
	"testing"

	"github.com/algos-dev/algos/controlplane/store"
)

func newRequest(id string, created int) store.Request {
	return store.Request{
		ID:        id,
		Caller:    "alice",
		KeyID:     "k1",
		VersionID: "v1",
		Input:     []byte(`{"id":"` + id + `","input":[3,1,2]}`),
		Options:   []byte(`{"timeout":300}`),
		CreatedAt: at(created),
	}
}

// pending is r as CreateRequest stores it.
func pending(r store.Request) store.Request {
	r.Status, r.Response, r.CompletedAt = store.RequestPending, nil, nil
	return r
}

func requestTests() []test {
	return []test{
		{"CreatePending", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			r := newRequest("r1", 0)
			must(t, "CreateRequest", s.CreateRequest(ctx, r))
			got, err := s.GetRequest(ctx, "r1")
			must(t, "GetRequest", err)
			equal(t, "GetRequest", got, pending(r))
		}},
		{"Conflict", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			r := newRequest("r1", 0)
			must(t, "CreateRequest", s.CreateRequest(ctx, r))
			again := newRequest("r1", 1)
			again.Caller = "bob"
			wantErr(t, "CreateRequest duplicate", s.CreateRequest(ctx, again), store.ErrConflict)
			got, err := s.GetRequest(ctx, "r1")
			must(t, "GetRequest", err)
			equal(t, "GetRequest after the conflict", got, pending(r))
		}},
		{"NotFound", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			must(t, "CreateRequest", s.CreateRequest(ctx, newRequest("r1", 0)))
			_, err := s.GetRequest(ctx, "r2")
			wantErr(t, "GetRequest", err, store.ErrNotFound)
			wantErr(t, "CompleteRequest unknown", s.CompleteRequest(ctx, "r2", store.RequestSucceeded, nil, at(1)), store.ErrNotFound)
		}},
		{"CompleteOnce", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			ok, bad := newRequest("ok", 0), newRequest("bad", 1)
			must(t, "CreateRequest", s.CreateRequest(ctx, ok))
			must(t, "CreateRequest", s.CreateRequest(ctx, bad))

			must(t, "CompleteRequest", s.CompleteRequest(ctx, "ok", store.RequestSucceeded, []byte(`{"result":[1,2,3]}`), at(5)))
			must(t, "CompleteRequest", s.CompleteRequest(ctx, "bad", store.RequestFailed, []byte(`{"error":{"message":"boom"}}`), at(6)))
			wantErr(t, "CompleteRequest twice", s.CompleteRequest(ctx, "ok", store.RequestFailed, []byte(`{}`), at(7)), store.ErrConflict)
			wantErr(t, "CompleteRequest twice", s.CompleteRequest(ctx, "bad", store.RequestFailed, []byte(`{}`), at(8)), store.ErrConflict)

			ok.Status, ok.Response, ok.CompletedAt = store.RequestSucceeded, []byte(`{"result":[1,2,3]}`), ptr(at(5))
			bad.Status, bad.Response, bad.CompletedAt = store.RequestFailed, []byte(`{"error":{"message":"boom"}}`), ptr(at(6))
			for _, want := range []store.Request{ok, bad} {
				got, err := s.GetRequest(ctx, want.ID)
				must(t, "GetRequest", err)
				equal(t, "GetRequest "+want.ID+" keeps the first outcome", got, want)
			}
		}},
		{"ListPendingOldestFirst", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			r0, r1, r2, r3 := newRequest("r0", 0), newRequest("r1", 1), newRequest("r2", 2), newRequest("r3", 3)
			for _, r := range []store.Request{r2, r0, r3, r1} {
				must(t, "CreateRequest", s.CreateRequest(ctx, r))
			}
			got, err := s.ListPendingRequests(ctx)
			must(t, "ListPendingRequests", err)
			equal(t, "ListPendingRequests", got, []store.Request{pending(r0), pending(r1), pending(r2), pending(r3)})

			must(t, "CompleteRequest", s.CompleteRequest(ctx, "r0", store.RequestSucceeded, nil, at(9)))
			must(t, "CompleteRequest", s.CompleteRequest(ctx, "r2", store.RequestFailed, nil, at(9)))
			got, err = s.ListPendingRequests(ctx)
			must(t, "ListPendingRequests", err)
			equal(t, "ListPendingRequests after completing r0 and r2", got, []store.Request{pending(r1), pending(r3)})
		}},
	}
}
