// Package cloudtest is the conformance suite every clouds driver passes. It uses only the
// interfaces of package clouds, runs its cases as parallel subtests, names and tags what it
// creates uniquely (so runs can share an account), deletes it in t.Cleanup, and waits for
// asynchronous providers by polling with a deadline (the test's own deadline, at most two
// minutes), never by asserting durations.
package cloudtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/algos-dev/algos/clouds"
)

// TagRun is the tag key every instance the suite creates carries, with a value unique to the
// case, so that listings can be scoped to one case.
const TagRun = "cloudtest-run"

// missingID is an ID no provider issues. Drivers answer ErrNotFound for it (and nil on
// delete), whatever shape their IDs have.
const missingID = "cloudtest-missing-0000000000000000"

// eventually polls cond until it reports true, failing the test when the deadline passes.
// cond's error is only reported, as the last state seen.
func eventually(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	limit := 2 * time.Minute
	if dl, ok := t.Deadline(); ok {
		limit = min(limit, max(time.Until(dl)-10*time.Second, time.Second))
	}
	deadline := time.Now().Add(limit)
	delay := 5 * time.Millisecond
	for {
		ok, err := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s; last seen: %v", limit, what, err)
		}
		time.Sleep(delay)
		delay = min(2*delay, 500*time.Millisecond)
	}
}

func unique(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// withTags returns base with its tags copied and extra added.
func withTags(base clouds.InstanceSpec, name string, extra map[string]string) clouds.InstanceSpec {
	s := base
	s.Name = name
	s.Tags = make(map[string]string, len(base.Tags)+len(extra))
	for k, v := range base.Tags {
		s.Tags[k] = v
	}
	for k, v := range extra {
		s.Tags[k] = v
	}
	return s
}

func hasTags(got, want map[string]string) bool {
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			return false
		}
	}
	return true
}

// activeIDs returns the sorted IDs of the pending or running instances.
func activeIDs(ins []clouds.Instance) []string {
	var ids []string
	for _, in := range ins {
		if in.State.Active() {
			ids = append(ids, in.ID)
		}
	}
	sort.Strings(ids)
	return ids
}

func checkState(t *testing.T, in clouds.Instance) {
	t.Helper()
	switch in.State {
	case clouds.StatePending, clouds.StateRunning, clouds.StateStopping, clouds.StateTerminated:
	default:
		t.Errorf("instance %s: state %q is not one of the normalized states", in.ID, in.State)
	}
}

// gone reports whether the instance no longer exists or is terminated.
func gone(ctx context.Context, c clouds.Compute, id string) (bool, error) {
	in, err := c.GetInstance(ctx, id)
	if errors.Is(err, clouds.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return in.State == clouds.StateTerminated, errors.New("state " + string(in.State))
}

// TestCompute runs the Compute conformance cases. newDriver returns a driver for one case
// (it may be shared; the driver's own cleanup goes in t.Cleanup). spec is a launchable
// instance whose process keeps running (for example user data "exec sleep 600"); the suite
// sets Name and adds tags.
func TestCompute(t *testing.T, newDriver func(t *testing.T) clouds.Compute, spec clouds.InstanceSpec) {
	create := func(t *testing.T, c clouds.Compute, s clouds.InstanceSpec) clouds.Instance {
		t.Helper()
		in, err := c.CreateInstance(t.Context(), s)
		if err != nil {
			t.Fatalf("CreateInstance: %v", err)
		}
		t.Cleanup(func() {
			if err := c.DeleteInstance(context.Background(), in.ID); err != nil {
				t.Errorf("cleanup: DeleteInstance(%s): %v", in.ID, err)
			}
		})
		return in
	}

	t.Run("CreateGetDelete", func(t *testing.T) {
		t.Parallel()
		c, ctx := newDriver(t), t.Context()
		s := withTags(spec, unique("cloudtest"), map[string]string{TagRun: unique("run")})
		in := create(t, c, s)
		if in.ID == "" {
			t.Fatal("CreateInstance returned an empty ID")
		}
		checkState(t, in)
		if !in.State.Active() {
			t.Errorf("new instance state = %q, want pending or running", in.State)
		}
		check := func(what string, in clouds.Instance) {
			t.Helper()
			if in.Name != s.Name {
				t.Errorf("%s: Name = %q, want %q", what, in.Name, s.Name)
			}
			if !hasTags(in.Tags, s.Tags) {
				t.Errorf("%s: Tags = %v, want at least %v", what, in.Tags, s.Tags)
			}
			if s.InstanceType != "" && in.InstanceType != s.InstanceType {
				t.Errorf("%s: InstanceType = %q, want %q", what, in.InstanceType, s.InstanceType)
			}
			if s.Zone != "" && in.Zone != s.Zone {
				t.Errorf("%s: Zone = %q, want %q", what, in.Zone, s.Zone)
			}
			if in.Spot != s.Spot {
				t.Errorf("%s: Spot = %v, want %v", what, in.Spot, s.Spot)
			}
		}
		check("CreateInstance", in)

		eventually(t, "instance running", func() (bool, error) {
			got, err := c.GetInstance(ctx, in.ID)
			if err != nil {
				return false, err
			}
			return got.State == clouds.StateRunning, errors.New("state " + string(got.State))
		})
		got, err := c.GetInstance(ctx, in.ID)
		if err != nil {
			t.Fatalf("GetInstance: %v", err)
		}
		if got.ID != in.ID {
			t.Errorf("GetInstance: ID = %q, want %q", got.ID, in.ID)
		}
		check("GetInstance", got)
		if got.Zone == "" {
			t.Error("GetInstance: running instance has no Zone")
		}
		if got.LaunchedAt.IsZero() {
			t.Error("GetInstance: running instance has no LaunchedAt")
		}

		if err := c.DeleteInstance(ctx, in.ID); err != nil {
			t.Fatalf("DeleteInstance: %v", err)
		}
		eventually(t, "deleted instance gone", func() (bool, error) { return gone(ctx, c, in.ID) })
		list, err := c.ListInstances(ctx, clouds.Filter{Tags: map[string]string{TagRun: s.Tags[TagRun]}})
		if err != nil {
			t.Fatalf("ListInstances: %v", err)
		}
		if ids := activeIDs(list); len(ids) != 0 {
			t.Errorf("ListInstances after delete: active %v, want none", ids)
		}
		if err := c.DeleteInstance(ctx, in.ID); err != nil {
			t.Errorf("second DeleteInstance: %v, want nil (idempotent)", err)
		}
	})

	t.Run("ListByTags", func(t *testing.T) {
		t.Parallel()
		c, ctx := newDriver(t), t.Context()
		run := unique("run")
		a := create(t, c, withTags(spec, unique("cloudtest"), map[string]string{TagRun: run, "cloudtest-role": "x"}))
		b := create(t, c, withTags(spec, unique("cloudtest"), map[string]string{TagRun: run, "cloudtest-role": "x"}))
		y := create(t, c, withTags(spec, unique("cloudtest"), map[string]string{TagRun: run, "cloudtest-role": "y"}))
		cases := []struct {
			name   string
			filter clouds.Filter
			want   []string
		}{
			{"run and role", clouds.Filter{Tags: map[string]string{TagRun: run, "cloudtest-role": "x"}}, []string{a.ID, b.ID}},
			{"run", clouds.Filter{Tags: map[string]string{TagRun: run}}, []string{a.ID, b.ID, y.ID}},
			{"no match", clouds.Filter{Tags: map[string]string{TagRun: run, "cloudtest-role": "z"}}, nil},
			{"other value", clouds.Filter{Tags: map[string]string{TagRun: unique("run")}}, nil},
		}
		for _, tc := range cases {
			sort.Strings(tc.want)
			eventually(t, "ListInstances("+tc.name+")", func() (bool, error) {
				list, err := c.ListInstances(ctx, tc.filter)
				if err != nil {
					return false, err
				}
				got := activeIDs(list)
				for _, in := range list {
					if !hasTags(in.Tags, tc.filter.Tags) {
						t.Fatalf("ListInstances(%s) returned %s with tags %v", tc.name, in.ID, in.Tags)
					}
				}
				return slices.Equal(got, tc.want), errors.New("active " + joinIDs(got))
			})
		}
		list, err := c.ListInstances(ctx, clouds.Filter{})
		if err != nil {
			t.Fatalf("ListInstances(zero filter): %v", err)
		}
		if !slices.Contains(activeIDs(list), a.ID) {
			t.Errorf("ListInstances(zero filter) lacks %s", a.ID)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		c, ctx := newDriver(t), t.Context()
		if _, err := c.GetInstance(ctx, missingID); !errors.Is(err, clouds.ErrNotFound) {
			t.Errorf("GetInstance(missing) = %v, want ErrNotFound", err)
		}
		if err := c.DeleteInstance(ctx, missingID); err != nil {
			t.Errorf("DeleteInstance(missing) = %v, want nil (idempotent)", err)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		c, ctx := newDriver(t), t.Context()
		run := unique("run")
		const n = 3
		ids := make([]string, n)
		errs := make([]error, n)
		parallel(n, func(i int) {
			in, err := c.CreateInstance(ctx, withTags(spec, unique("cloudtest"), map[string]string{TagRun: run}))
			ids[i], errs[i] = in.ID, err
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("CreateInstance #%d: %v", i, err)
			}
			t.Cleanup(func() { _ = c.DeleteInstance(context.Background(), ids[i]) })
		}
		if sorted := slices.Sorted(slices.Values(ids)); len(slices.Compact(sorted)) != n {
			t.Fatalf("concurrent creates returned IDs %v, want %d distinct", ids, n)
		}
		parallel(n, func(i int) { errs[i] = c.DeleteInstance(ctx, ids[i]) })
		for i, err := range errs {
			if err != nil {
				t.Errorf("DeleteInstance(%s): %v", ids[i], err)
			}
		}
		for _, id := range ids {
			eventually(t, "instance "+id+" gone", func() (bool, error) { return gone(ctx, c, id) })
		}
	})

	t.Run("CanceledContext", func(t *testing.T) {
		t.Parallel()
		c := newDriver(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		in, err := c.CreateInstance(ctx, withTags(spec, unique("cloudtest"), map[string]string{TagRun: unique("run")}))
		if err == nil {
			_ = c.DeleteInstance(context.Background(), in.ID)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("CreateInstance(cancelled ctx) = %v, want an error wrapping context.Canceled", err)
		}
		if _, err := c.ListInstances(ctx, clouds.Filter{}); !errors.Is(err, context.Canceled) {
			t.Errorf("ListInstances(cancelled ctx) = %v, want an error wrapping context.Canceled", err)
		}
		if _, err := c.GetInstance(ctx, missingID); !errors.Is(err, context.Canceled) {
			t.Errorf("GetInstance(cancelled ctx) = %v, want an error wrapping context.Canceled", err)
		}
	})

	// Capacity runs only when the harness implements Faults.
	t.Run("Capacity", func(t *testing.T) {
		t.Parallel()
		testComputeCapacity(t, newDriver(t), spec, create)
	})
}

func parallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { f(i) })
	}
	wg.Wait()
}

func joinIDs(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ",")
}
