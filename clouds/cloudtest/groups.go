package cloudtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/algos-dev/algos/clouds"
)

// TestGroups runs the Groups conformance cases. newDriver returns a driver for one case;
// when it also implements clouds.Compute, the suite checks that deleted groups take their
// members with them. template is a launchable instance whose process keeps running; the
// suite adds tags. Groups get Zones nil, so the provider chooses.
func TestGroups(t *testing.T, newDriver func(t *testing.T) clouds.Groups, template clouds.InstanceSpec) {
	newSpec := func(min, max, desired int) clouds.GroupSpec {
		name := unique("cloudtest")
		return clouds.GroupSpec{
			Name:     name,
			Template: withTags(template, "", map[string]string{TagRun: name}),
			Min:      min,
			Max:      max,
			Desired:  desired,
		}
	}
	create := func(t *testing.T, g clouds.Groups, spec clouds.GroupSpec) clouds.Group {
		t.Helper()
		got, err := g.CreateGroup(t.Context(), spec)
		if err != nil {
			t.Fatalf("CreateGroup: %v", err)
		}
		t.Cleanup(func() {
			if err := g.DeleteGroup(context.Background(), spec.Name); err != nil {
				t.Errorf("cleanup: DeleteGroup(%s): %v", spec.Name, err)
			}
		})
		return got
	}
	// waitMembers waits until the group has exactly n active members, all running, and
	// returns their IDs, sorted.
	waitMembers := func(t *testing.T, g clouds.Groups, name string, n int) []string {
		t.Helper()
		var ids []string
		eventually(t, fmt.Sprintf("%d running members", n), func() (bool, error) {
			members, err := g.ListMembers(t.Context(), name)
			if err != nil {
				return false, err
			}
			ids = activeIDs(members)
			for _, m := range members {
				checkState(t, m)
				if m.State.Active() && (m.State != clouds.StateRunning || !hasTags(m.Tags, template.Tags)) {
					return false, fmt.Errorf("member %s: state %s, tags %v", m.ID, m.State, m.Tags)
				}
			}
			return len(ids) == n, errors.New("active " + joinIDs(ids))
		})
		return ids
	}
	desired := func(t *testing.T, g clouds.Groups, name string, want int) {
		t.Helper()
		got, err := g.GetGroup(t.Context(), name)
		if err != nil {
			t.Fatalf("GetGroup: %v", err)
		}
		if got.Desired != want {
			t.Errorf("GetGroup: Desired = %d, want %d", got.Desired, want)
		}
	}

	t.Run("CreateGetDelete", func(t *testing.T) {
		t.Parallel()
		g, ctx := newDriver(t), t.Context()
		spec := newSpec(0, 3, 1)
		got := create(t, g, spec)
		check := func(what string, got clouds.Group) {
			t.Helper()
			if got.Name != spec.Name || got.Min != spec.Min || got.Max != spec.Max || got.Desired != spec.Desired {
				t.Errorf("%s = {Name %q Min %d Max %d Desired %d}, want {%q %d %d %d}", what,
					got.Name, got.Min, got.Max, got.Desired, spec.Name, spec.Min, spec.Max, spec.Desired)
			}
		}
		check("CreateGroup", got)
		if _, err := g.CreateGroup(ctx, spec); !errors.Is(err, clouds.ErrAlreadyExists) {
			t.Errorf("CreateGroup(same name) = %v, want ErrAlreadyExists", err)
		}
		got, err := g.GetGroup(ctx, spec.Name)
		if err != nil {
			t.Fatalf("GetGroup: %v", err)
		}
		check("GetGroup", got)
		members := waitMembers(t, g, spec.Name, 1)

		if err := g.DeleteGroup(ctx, spec.Name); err != nil {
			t.Fatalf("DeleteGroup: %v", err)
		}
		eventually(t, "deleted group gone", func() (bool, error) {
			_, err := g.GetGroup(ctx, spec.Name)
			return errors.Is(err, clouds.ErrNotFound), err
		})
		if _, err := g.ListMembers(ctx, spec.Name); !errors.Is(err, clouds.ErrNotFound) {
			t.Errorf("ListMembers(deleted) = %v, want ErrNotFound", err)
		}
		if err := g.DeleteGroup(ctx, spec.Name); err != nil {
			t.Errorf("second DeleteGroup = %v, want nil (idempotent)", err)
		}
		if c, ok := g.(clouds.Compute); ok {
			for _, id := range members {
				eventually(t, "member "+id+" of deleted group gone", func() (bool, error) { return gone(ctx, c, id) })
			}
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		g, ctx := newDriver(t), t.Context()
		bad := []clouds.GroupSpec{newSpec(0, 1, 2), newSpec(2, 1, 1), newSpec(0, 1, 1)}
		bad[2].Name = ""
		for _, spec := range bad {
			if _, err := g.CreateGroup(ctx, spec); !errors.Is(err, clouds.ErrInvalid) {
				t.Errorf("CreateGroup(name %q min %d max %d desired %d) = %v, want ErrInvalid",
					spec.Name, spec.Min, spec.Max, spec.Desired, err)
				_ = g.DeleteGroup(context.Background(), spec.Name)
			}
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		g, ctx := newDriver(t), t.Context()
		name := unique("cloudtest-missing")
		if _, err := g.GetGroup(ctx, name); !errors.Is(err, clouds.ErrNotFound) {
			t.Errorf("GetGroup(missing) = %v, want ErrNotFound", err)
		}
		if err := g.ResizeGroup(ctx, name, 1); !errors.Is(err, clouds.ErrNotFound) {
			t.Errorf("ResizeGroup(missing) = %v, want ErrNotFound", err)
		}
		if _, err := g.ListMembers(ctx, name); !errors.Is(err, clouds.ErrNotFound) {
			t.Errorf("ListMembers(missing) = %v, want ErrNotFound", err)
		}
		if err := g.RemoveMember(ctx, name, missingID, true); !errors.Is(err, clouds.ErrNotFound) {
			t.Errorf("RemoveMember(missing group) = %v, want ErrNotFound", err)
		}
		if err := g.DeleteGroup(ctx, name); err != nil {
			t.Errorf("DeleteGroup(missing) = %v, want nil (idempotent)", err)
		}
	})

	t.Run("Resize", func(t *testing.T) {
		t.Parallel()
		g, ctx := newDriver(t), t.Context()
		spec := newSpec(0, 3, 1)
		create(t, g, spec)
		waitMembers(t, g, spec.Name, 1)

		if err := g.ResizeGroup(ctx, spec.Name, 3); err != nil {
			t.Fatalf("ResizeGroup(3): %v", err)
		}
		desired(t, g, spec.Name, 3)
		three := waitMembers(t, g, spec.Name, 3)
		if err := g.ResizeGroup(ctx, spec.Name, 3); err != nil {
			t.Errorf("ResizeGroup(3) again: %v, want nil (idempotent)", err)
		}
		for _, n := range []int{4, -1} {
			if err := g.ResizeGroup(ctx, spec.Name, n); !errors.Is(err, clouds.ErrInvalid) {
				t.Errorf("ResizeGroup(%d) outside 0..3 = %v, want ErrInvalid", n, err)
			}
		}
		desired(t, g, spec.Name, 3)

		if err := g.ResizeGroup(ctx, spec.Name, 1); err != nil {
			t.Fatalf("ResizeGroup(1): %v", err)
		}
		desired(t, g, spec.Name, 1)
		one := waitMembers(t, g, spec.Name, 1)
		if !slices.Contains(three, one[0]) {
			t.Errorf("after scaling 3 -> 1 the member %s is new; want one of %v", one[0], three)
		}

		if err := g.ResizeGroup(ctx, spec.Name, 0); err != nil {
			t.Fatalf("ResizeGroup(0): %v", err)
		}
		waitMembers(t, g, spec.Name, 0)
	})

	t.Run("RemoveMember", func(t *testing.T) {
		t.Parallel()
		g, ctx := newDriver(t), t.Context()
		spec := newSpec(1, 3, 2)
		create(t, g, spec)
		two := waitMembers(t, g, spec.Name, 2)
		removed, kept := two[0], two[1]

		if err := g.RemoveMember(ctx, spec.Name, removed, true); err != nil {
			t.Fatalf("RemoveMember(decrement): %v", err)
		}
		desired(t, g, spec.Name, 1)
		if got := waitMembers(t, g, spec.Name, 1); got[0] != kept {
			t.Errorf("after removing %s the member is %s, want %s", removed, got[0], kept)
		}
		if err := g.RemoveMember(ctx, spec.Name, removed, true); err != nil {
			t.Errorf("RemoveMember(removed member) = %v, want nil (idempotent)", err)
		}
		desired(t, g, spec.Name, 1)

		if err := g.RemoveMember(ctx, spec.Name, kept, true); !errors.Is(err, clouds.ErrInvalid) {
			t.Errorf("RemoveMember(decrement below min) = %v, want ErrInvalid", err)
		}
		desired(t, g, spec.Name, 1)

		if err := g.RemoveMember(ctx, spec.Name, kept, false); err != nil {
			t.Fatalf("RemoveMember(no decrement): %v", err)
		}
		desired(t, g, spec.Name, 1)
		eventually(t, "a replacement member", func() (bool, error) {
			members, err := g.ListMembers(ctx, spec.Name)
			if err != nil {
				return false, err
			}
			ids := activeIDs(members)
			return len(ids) == 1 && ids[0] != kept && ids[0] != removed, errors.New("active " + joinIDs(ids))
		})
	})

	t.Run("CanceledContext", func(t *testing.T) {
		t.Parallel()
		g := newDriver(t)
		spec := newSpec(0, 2, 1)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := g.CreateGroup(ctx, spec); !errors.Is(err, context.Canceled) {
			_ = g.DeleteGroup(context.Background(), spec.Name)
			t.Fatalf("CreateGroup(cancelled ctx) = %v, want an error wrapping context.Canceled", err)
		}
		// A retry with a live context converges: the cancelled call left nothing in the way.
		create(t, g, spec)
		if _, err := g.GetGroup(ctx, spec.Name); !errors.Is(err, context.Canceled) {
			t.Errorf("GetGroup(cancelled ctx) = %v, want an error wrapping context.Canceled", err)
		}
		if err := g.ResizeGroup(ctx, spec.Name, 2); !errors.Is(err, context.Canceled) {
			t.Errorf("ResizeGroup(cancelled ctx) = %v, want an error wrapping context.Canceled", err)
		}
		if _, err := g.ListMembers(ctx, spec.Name); !errors.Is(err, context.Canceled) {
			t.Errorf("ListMembers(cancelled ctx) = %v, want an error wrapping context.Canceled", err)
		}
		desired(t, g, spec.Name, 1)
	})

	// Capacity runs only when the harness implements Faults: a group spanning a stocked-out
	// zone and a healthy one gets every member in the healthy zone.
	t.Run("Capacity", func(t *testing.T) {
		t.Parallel()
		testGroupCapacity(t, newDriver(t), newSpec(0, 2, 2), create)
	})
}
