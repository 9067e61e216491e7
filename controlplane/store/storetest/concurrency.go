package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/algos-dev/algos/controlplane/store"
)

// parallel runs fn(0) … fn(n-1) in n goroutines at once and returns their errors.
func parallel(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func concurrencyTests() []test {
	return []test{
		{"Writers", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			const n = 50
			errs := parallel(n, func(i int) error {
				return s.CreateKey(ctx, newKey(fmt.Sprintf("k%02d", i), "alice", i))
			})
			for i, err := range errs {
				if err != nil {
					t.Errorf("CreateKey k%02d: %v", i, err)
				}
			}
			got, err := s.ListKeys(ctx, "alice")
			must(t, "ListKeys", err)
			if len(got) != n {
				t.Fatalf("ListKeys: got %d keys, want %d", len(got), n)
			}
			for i, k := range got {
				if want := fmt.Sprintf("k%02d", n-1-i); k.ID != want {
					t.Errorf("ListKeys[%d] = %s, want %s", i, k.ID, want)
				}
			}
		}},
		{"ReadersAndWriters", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			must(t, "CreateAlgorithm", s.CreateAlgorithm(ctx, newAlgorithm("demo", "sort", 0)))
			const n = 40
			errs := parallel(n, func(i int) error {
				if i%2 == 0 {
					a := newAlgorithm("demo", fmt.Sprintf("a%02d", i), i)
					if err := s.CreateAlgorithm(ctx, a); err != nil {
						return err
					}
					return s.CreateVersion(ctx, newVersion(a, "v-"+a.Name, "1.0.0", i))
				}
				if _, err := s.GetAlgorithm(ctx, "demo", "sort"); err != nil {
					return err
				}
				_, err := s.ListAlgorithms(ctx, "demo")
				return err
			})
			for i, err := range errs {
				if err != nil {
					t.Errorf("goroutine %d: %v", i, err)
				}
			}
			got, err := s.ListAlgorithms(ctx, "demo")
			must(t, "ListAlgorithms", err)
			if len(got) != n/2+1 {
				t.Errorf("ListAlgorithms: got %d, want %d", len(got), n/2+1)
			}
		}},
		{"RacingCreatesOneWins", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			const n = 20
			errs := parallel(n, func(i int) error {
				return s.CreateAccount(ctx, store.Account{Name: "alice", Admin: i == 0, CreatedAt: at(i)})
			})
			checkOneWinner(t, "CreateAccount", errs)
		}},
		{"RacingCompletesOneWins", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			must(t, "CreateRequest", s.CreateRequest(ctx, newRequest("r1", 0)))
			const n = 20
			errs := parallel(n, func(i int) error {
				return s.CompleteRequest(ctx, "r1", store.RequestSucceeded, fmt.Appendf(nil, `{"by":%d}`, i), at(i+1))
			})
			winner := checkOneWinner(t, "CompleteRequest", errs)
			if winner < 0 {
				return
			}
			got, err := s.GetRequest(ctx, "r1")
			must(t, "GetRequest", err)
			want := newRequest("r1", 0)
			want.Status, want.Response, want.CompletedAt = store.RequestSucceeded, fmt.Appendf(nil, `{"by":%d}`, winner), ptr(at(winner+1))
			equal(t, "GetRequest keeps the winner's outcome", got, want)
		}},
	}
}

// checkOneWinner wants exactly one nil error and ErrConflict for the rest; it returns the
// winner's index, or -1.
func checkOneWinner(t *testing.T, what string, errs []error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("%s: goroutines %d and %d both succeeded", what, winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("%s %d: got %v, want nil or ErrConflict", what, i, err)
		}
	}
	if winner < 0 {
		t.Errorf("%s: no goroutine succeeded", what)
	}
	return winner
}

func closeTests() []test {
	return []test{
		{"CallsAfterCloseFail", func(t *testing.T, s store.Store) {
			ctx := t.Context()
			must(t, "CreateAccount", s.CreateAccount(ctx, store.Account{Name: "alice", CreatedAt: at(0)}))
			must(t, "Close", s.Close())
			_, err := s.GetAccount(ctx, "alice")
			wantErr(t, "GetAccount after Close", err, store.ErrClosed)
			wantErr(t, "CreateAccount after Close", s.CreateAccount(ctx, store.Account{Name: "bob"}), store.ErrClosed)
			_, err = s.ListKeys(ctx, "alice")
			wantErr(t, "ListKeys after Close", err, store.ErrClosed)
			wantErr(t, "DeleteNode after Close", s.DeleteNode(ctx, "n1"), store.ErrClosed)
			if err := s.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
				t.Errorf("second Close: %v, want nil or ErrClosed", err)
			}
		}},
	}
}
