package cloudtest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"testing"

	"github.com/algos-dev/algos/clouds"
)

// TestLoadBalancers runs the LoadBalancers conformance cases. newDriver returns a driver for
// one case. spec is a creatable load balancer; the suite sets Name (22 characters, within
// every provider's limit) and adds a TagRun tag. targets returns the IDs of at least two
// running instances the case may register (in the load balancer's network); the harness
// deletes them in t.Cleanup. It is called at most once per case, with the case's t.
//
// The contract checked, beyond the interface's doc comments: a created load balancer
// reports the spec's Name and Port and a non-empty ID; registered targets are listed by
// GetLoadBalancer, each with one of the three normalized health values; a deregistered
// target stops being listed within the deadline (providers drain it first, listed as
// unknown). Whether a target becomes healthy depends on what it serves, and how soon on the
// provider (an AWS network load balancer takes minutes), so the suite does not wait for it.
func TestLoadBalancers(t *testing.T, newDriver func(t *testing.T) clouds.LoadBalancers, spec clouds.LoadBalancerSpec, targets func(t *testing.T) []string) {
	newSpec := func() clouds.LoadBalancerSpec {
		s := spec
		s.Name = unique("cloudtest")
		s.Tags = maps.Clone(spec.Tags)
		if s.Tags == nil {
			s.Tags = map[string]string{}
		}
		s.Tags[TagRun] = s.Name
		return s
	}
	create := func(t *testing.T, lbs clouds.LoadBalancers, s clouds.LoadBalancerSpec) clouds.LoadBalancer {
		t.Helper()
		lb, err := lbs.CreateLoadBalancer(t.Context(), s)
		if err != nil {
			t.Fatalf("CreateLoadBalancer: %v", err)
		}
		t.Cleanup(func() {
			if err := lbs.DeleteLoadBalancer(context.Background(), s.Name); err != nil {
				t.Errorf("cleanup: DeleteLoadBalancer(%s): %v", s.Name, err)
			}
		})
		return lb
	}
	// waitTargets waits until the listed targets are exactly want (sorted).
	waitTargets := func(t *testing.T, lbs clouds.LoadBalancers, name string, want []string) {
		t.Helper()
		eventually(t, fmt.Sprintf("targets %v", want), func() (bool, error) {
			lb, err := lbs.GetLoadBalancer(t.Context(), name)
			if err != nil {
				return false, err
			}
			ids := make([]string, 0, len(lb.Targets))
			for _, tg := range lb.Targets {
				switch tg.Health {
				case clouds.TargetHealthy, clouds.TargetUnhealthy, clouds.TargetUnknown:
				default:
					t.Fatalf("target %s: health %q is not one of the normalized values", tg.InstanceID, tg.Health)
				}
				ids = append(ids, tg.InstanceID)
			}
			sort.Strings(ids)
			return slices.Equal(ids, want), fmt.Errorf("targets %v", lb.Targets)
		})
	}

	t.Run("CreateGetDelete", func(t *testing.T) {
		t.Parallel()
		lbs, ctx := newDriver(t), t.Context()
		s := newSpec()
		lb := create(t, lbs, s)
		check := func(what string, lb clouds.LoadBalancer) {
			t.Helper()
			if lb.Name != s.Name || lb.ID == "" || lb.Port != s.Port {
				t.Errorf("%s = {Name %q ID %q Port %d}, want {%q non-empty %d}", what, lb.Name, lb.ID, lb.Port, s.Name, s.Port)
			}
			if len(lb.Targets) != 0 {
				t.Errorf("%s: Targets = %v, want none", what, lb.Targets)
			}
		}
		check("CreateLoadBalancer", lb)
		if _, err := lbs.CreateLoadBalancer(ctx, s); !errors.Is(err, clouds.ErrAlreadyExists) {
			t.Errorf("CreateLoadBalancer(same name) = %v, want ErrAlreadyExists", err)
		}
		got, err := lbs.GetLoadBalancer(ctx, s.Name)
		if err != nil {
			t.Fatalf("GetLoadBalancer: %v", err)
		}
		check("GetLoadBalancer", got)
		if got.ID != lb.ID {
			t.Errorf("GetLoadBalancer: ID = %q, want %q", got.ID, lb.ID)
		}

		if err := lbs.DeleteLoadBalancer(ctx, s.Name); err != nil {
			t.Fatalf("DeleteLoadBalancer: %v", err)
		}
		eventually(t, "deleted load balancer gone", func() (bool, error) {
			_, err := lbs.GetLoadBalancer(ctx, s.Name)
			return errors.Is(err, clouds.ErrNotFound), err
		})
		if err := lbs.DeleteLoadBalancer(ctx, s.Name); err != nil {
			t.Errorf("second DeleteLoadBalancer = %v, want nil (idempotent)", err)
		}
	})

	t.Run("Targets", func(t *testing.T) {
		t.Parallel()
		lbs, ctx := newDriver(t), t.Context()
		s := newSpec()
		create(t, lbs, s)
		ids := slices.Sorted(slices.Values(targets(t)))
		if len(ids) < 2 {
			t.Fatalf("targets returned %v, want at least two instances", ids)
		}
		if err := lbs.RegisterTargets(ctx, s.Name, ids[0]); err != nil {
			t.Fatalf("RegisterTargets(%s): %v", ids[0], err)
		}
		if err := lbs.RegisterTargets(ctx, s.Name, ids...); err != nil {
			t.Fatalf("RegisterTargets(%v) with %s already registered: %v, want nil (idempotent)", ids, ids[0], err)
		}
		waitTargets(t, lbs, s.Name, ids)

		if err := lbs.DeregisterTargets(ctx, s.Name, ids[0]); err != nil {
			t.Fatalf("DeregisterTargets(%s): %v", ids[0], err)
		}
		if err := lbs.DeregisterTargets(ctx, s.Name, ids[0], missingID); err != nil {
			t.Errorf("DeregisterTargets(deregistered, unknown) = %v, want nil (idempotent)", err)
		}
		waitTargets(t, lbs, s.Name, ids[1:])
		if err := lbs.RegisterTargets(ctx, s.Name); err != nil {
			t.Errorf("RegisterTargets(no IDs) = %v, want nil", err)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		lbs, ctx := newDriver(t), t.Context()
		name := unique("cloudtest-missing")
		if _, err := lbs.GetLoadBalancer(ctx, name); !errors.Is(err, clouds.ErrNotFound) {
			t.Errorf("GetLoadBalancer(missing) = %v, want ErrNotFound", err)
		}
		if err := lbs.RegisterTargets(ctx, name, missingID); !errors.Is(err, clouds.ErrNotFound) {
			t.Errorf("RegisterTargets(missing load balancer) = %v, want ErrNotFound", err)
		}
		if err := lbs.DeregisterTargets(ctx, name, missingID); !errors.Is(err, clouds.ErrNotFound) {
			t.Errorf("DeregisterTargets(missing load balancer) = %v, want ErrNotFound", err)
		}
		if err := lbs.DeleteLoadBalancer(ctx, name); err != nil {
			t.Errorf("DeleteLoadBalancer(missing) = %v, want nil (idempotent)", err)
		}
	})

	t.Run("CanceledContext", func(t *testing.T) {
		t.Parallel()
		lbs := newDriver(t)
		s := newSpec()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := lbs.CreateLoadBalancer(ctx, s); !errors.Is(err, context.Canceled) {
			_ = lbs.DeleteLoadBalancer(context.Background(), s.Name)
			t.Fatalf("CreateLoadBalancer(cancelled ctx) = %v, want an error wrapping context.Canceled", err)
		}
		if _, err := lbs.GetLoadBalancer(ctx, s.Name); !errors.Is(err, context.Canceled) {
			t.Errorf("GetLoadBalancer(cancelled ctx) = %v, want an error wrapping context.Canceled", err)
		}
		// A retry with a live context converges.
		create(t, lbs, s)
	})
}
