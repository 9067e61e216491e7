package cloudtest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/algos-dev/algos/clouds"
)

// Faults is implemented by test harnesses whose provider can be made to fail on purpose (a
// fake cloud behind a real driver). The suites type-assert the value newDriver returns on it
// and skip the cases that need it when it is absent, so real providers and clouds/local pass
// without it.
type Faults interface {
	// StockOut makes the provider answer launches of instanceType in one zone with its own
	// capacity error (AWS InsufficientInstanceCapacity, GCE ZONE_RESOURCE_POOL_EXHAUSTED,
	// Azure AllocationFailed) until t ends, and returns that zone and another zone in which
	// instanceType still launches. It only affects the provider behind the driver returned
	// for t.
	StockOut(t *testing.T, instanceType string) (out, in string)
}

// testComputeCapacity checks that a stockout in one zone is a *CapacityError naming that zone
// and type, leaves nothing behind, and does not stop launches in another zone.
func testComputeCapacity(t *testing.T, c clouds.Compute, spec clouds.InstanceSpec, create func(*testing.T, clouds.Compute, clouds.InstanceSpec) clouds.Instance) {
	f, ok := c.(Faults)
	if !ok {
		t.Skip("the harness does not implement cloudtest.Faults")
	}
	ctx := t.Context()
	out, in := f.StockOut(t, spec.InstanceType)
	run := unique("run")
	s := withTags(spec, unique("cloudtest"), map[string]string{TagRun: run})
	s.Zone = out
	got, err := c.CreateInstance(ctx, s)
	if err == nil {
		_ = c.DeleteInstance(context.Background(), got.ID)
		t.Fatalf("CreateInstance in stocked-out zone %s succeeded (%s), want *CapacityError", out, got.ID)
	}
	checkCapacityError(t, err, out, s)

	s.Zone = in
	got = create(t, c, s)
	if got.Zone != "" && got.Zone != in {
		t.Errorf("CreateInstance in zone %s: Zone = %q", in, got.Zone)
	}
	eventually(t, "only the launch in zone "+in+" listed", func() (bool, error) {
		list, err := c.ListInstances(ctx, clouds.Filter{Tags: map[string]string{TagRun: run}})
		if err != nil {
			return false, err
		}
		ids := activeIDs(list)
		return len(ids) == 1 && ids[0] == got.ID, errors.New("active " + joinIDs(ids))
	})
}

func checkCapacityError(t *testing.T, err error, zone string, s clouds.InstanceSpec) {
	t.Helper()
	var ce *clouds.CapacityError
	if !errors.As(err, &ce) || !errors.Is(err, clouds.ErrCapacity) {
		t.Fatalf("CreateInstance in stocked-out zone %s = %v, want a *CapacityError", zone, err)
	}
	if ce.Zone != zone {
		t.Errorf("CapacityError.Zone = %q, want %q", ce.Zone, zone)
	}
	if s.InstanceType != "" && ce.InstanceType != s.InstanceType {
		t.Errorf("CapacityError.InstanceType = %q, want %q", ce.InstanceType, s.InstanceType)
	}
	if ce.Spot != s.Spot {
		t.Errorf("CapacityError.Spot = %v, want %v", ce.Spot, s.Spot)
	}
	if errors.Is(err, clouds.ErrInvalid) || errors.Is(err, clouds.ErrQuota) {
		t.Errorf("capacity error %v also matches ErrInvalid or ErrQuota", err)
	}
}

// testGroupCapacity checks that a group spanning a stocked-out zone and a healthy one gets
// all its members in the healthy zone, as provider groups route around a stockout.
func testGroupCapacity(t *testing.T, g clouds.Groups, spec clouds.GroupSpec, create func(*testing.T, clouds.Groups, clouds.GroupSpec) clouds.Group) {
	f, ok := g.(Faults)
	if !ok {
		t.Skip("the harness does not implement cloudtest.Faults")
	}
	out, in := f.StockOut(t, spec.Template.InstanceType)
	spec.Zones = []string{out, in}
	create(t, g, spec)
	eventually(t, fmt.Sprintf("%d running members, all in zone %s", spec.Desired, in), func() (bool, error) {
		members, err := g.ListMembers(t.Context(), spec.Name)
		if err != nil {
			return false, err
		}
		n := 0
		for _, m := range members {
			if !m.State.Active() {
				continue
			}
			if m.Zone == out {
				t.Fatalf("member %s launched in stocked-out zone %s", m.ID, out)
			}
			if m.State != clouds.StateRunning || m.Zone != in {
				return false, fmt.Errorf("member %s: state %s, zone %q", m.ID, m.State, m.Zone)
			}
			n++
		}
		return n == spec.Desired, fmt.Errorf("%d running members", n)
	})
}
