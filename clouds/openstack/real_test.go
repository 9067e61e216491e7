package openstack_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/algos-dev/algos/clouds"
	"github.com/algos-dev/algos/clouds/cloudtest"
	"github.com/algos-dev/algos/clouds/openstack"
)

// TestRealCloud runs the conformance suites against a real OpenStack cloud, with the
// credentials of OS_CLOUD (clouds.yaml) or an openrc's OS_* variables. It is opt-in (it
// launches real servers, which costs money or quota):
//
//	ALGOS_CLOUDTEST_OPENSTACK=1 OS_CLOUD=mycloud \
//	ALGOS_CLOUDTEST_OPENSTACK_FLAVOR=m1.small ALGOS_CLOUDTEST_OPENSTACK_IMAGE=cirros \
//	ALGOS_CLOUDTEST_OPENSTACK_NETWORK=<network ID> ALGOS_CLOUDTEST_OPENSTACK_SUBNET=<subnet ID> \
//	ALGOS_CLOUDTEST_OPENSTACK_ZONE=nova go test -run TestRealCloud -timeout 60m ./clouds/openstack/
//
// The load balancer suite runs when SUBNET is set, the disk suite when ZONE is set.
func TestRealCloud(t *testing.T) {
	if os.Getenv("ALGOS_CLOUDTEST_OPENSTACK") != "1" {
		t.Skip("opt-in: set ALGOS_CLOUDTEST_OPENSTACK=1 with OS_CLOUD or OS_* credentials (and ALGOS_CLOUDTEST_OPENSTACK_FLAVOR, _IMAGE, _NETWORK, _SUBNET, _ZONE) to run against a real cloud")
	}
	env := func(k, def string) string {
		if v := os.Getenv("ALGOS_CLOUDTEST_OPENSTACK_" + k); v != "" {
			return v
		}
		return def
	}
	cfg := openstack.Config{Image: env("IMAGE", "cirros"), Network: env("NETWORK", ""), Subnet: env("SUBNET", ""),
		PollInterval: 2 * time.Second}
	newDriver := func(t *testing.T) *openstack.Driver {
		d, err := openstack.New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	spec := clouds.InstanceSpec{InstanceType: env("FLAVOR", "m1.small"), UserData: "#!/bin/sh\ntrue\n", Tags: map[string]string{"algos-cloudtest": "1"}}
	t.Run("Compute", func(t *testing.T) {
		cloudtest.TestCompute(t, func(t *testing.T) clouds.Compute { return newDriver(t) }, spec)
	})
	t.Run("Groups", func(t *testing.T) {
		cloudtest.TestGroups(t, func(t *testing.T) clouds.Groups { return newDriver(t) }, spec)
	})
	running := func(t *testing.T, d *openstack.Driver, zone string) string {
		s := spec
		s.Zone = zone
		in, err := d.CreateInstance(t.Context(), s)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.DeleteInstance(context.Background(), in.ID) })
		for deadline := time.Now().Add(10 * time.Minute); ; time.Sleep(5 * time.Second) {
			got, err := d.GetInstance(t.Context(), in.ID)
			if err == nil && got.State == clouds.StateRunning {
				return in.ID
			}
			if time.Now().After(deadline) {
				t.Fatalf("instance %s not running after 10 minutes: %+v, %v", in.ID, got, err)
			}
		}
	}
	if cfg.Subnet != "" {
		t.Run("LoadBalancers", func(t *testing.T) {
			lb := clouds.LoadBalancerSpec{Protocol: clouds.ProtocolTCP, Port: 80, TargetPort: 22,
				HealthCheck: clouds.HealthCheck{Protocol: clouds.ProtocolTCP, Interval: 5 * time.Second}}
			targets := func(t *testing.T) []string {
				d := newDriver(t)
				return []string{running(t, d, ""), running(t, d, "")}
			}
			cloudtest.TestLoadBalancers(t, func(t *testing.T) clouds.LoadBalancers { return newDriver(t) }, lb, targets)
		})
	}
	if zone := env("ZONE", ""); zone != "" {
		t.Run("Disks", func(t *testing.T) {
			disk := clouds.DiskSpec{SizeGiB: 1, Zone: zone}
			instance := func(t *testing.T) string { return running(t, newDriver(t), zone) }
			cloudtest.TestDisks(t, func(t *testing.T) clouds.Disks { return newDriver(t) }, disk, instance)
		})
	}
}
