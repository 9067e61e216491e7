package openstack_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/algos-dev/algos/clouds"
	"github.com/algos-dev/algos/clouds/openstack"
	"github.com/algos-dev/algos/clouds/openstack/osfake"
)

// TestCapacityNoValidHost: a zone whose hosts have no room for a GPU flavor fails the
// server with Nova's NoValidHost; the driver answers *CapacityError naming the zone and
// flavor, deletes the failed server, and the other zone still launches.
func TestCapacityNoValidHost(t *testing.T) {
	t.Parallel()
	h, ctx := newHarness(t, osfake.Options{}), t.Context()
	const gpu = "g1.a100x2"
	t.Cleanup(h.fake.StockOut("az-1", gpu))

	_, err := h.CreateInstance(ctx, clouds.InstanceSpec{InstanceType: gpu, Zone: "az-1", UserData: sleeper})
	var ce *clouds.CapacityError
	if !errors.As(err, &ce) || !errors.Is(err, clouds.ErrCapacity) {
		t.Fatalf("CreateInstance in a stocked-out zone = %v, want *CapacityError", err)
	}
	if ce.Zone != "az-1" || ce.InstanceType != gpu || ce.Spot || !strings.HasPrefix(ce.Msg, "No valid host was found") {
		t.Errorf("CapacityError = %+v, want zone az-1, type %s, Nova's message", ce, gpu)
	}
	waitFor(t, "the failed server deleted", func() bool { return h.fake.ServerCount() == 0 })

	// Other flavors in that zone, and the flavor in the other zone, still launch.
	for _, spec := range []clouds.InstanceSpec{{InstanceType: "m1.small", Zone: "az-1"}, {InstanceType: gpu, Zone: "az-2"}} {
		in, err := h.CreateInstance(ctx, spec)
		if err != nil {
			t.Fatalf("CreateInstance(%s in %s): %v", spec.InstanceType, spec.Zone, err)
		}
		if in.Zone != spec.Zone || in.InstanceType != spec.InstanceType {
			t.Errorf("instance = %+v, want %s in %s", in, spec.InstanceType, spec.Zone)
		}
	}
	// Without a zone, Nova's scheduler skips the stocked-out one.
	in, err := h.CreateInstance(ctx, clouds.InstanceSpec{InstanceType: gpu})
	if err != nil || in.Zone != "az-2" {
		t.Errorf("CreateInstance(%s, any zone) = %+v, %v; want it in az-2", gpu, in, err)
	}
}

// TestUserDataRoundTrip: user data reaches Nova byte for byte (even when it is itself
// valid base64, which gophercloud would otherwise send undecoded), for single instances
// and group members, and is never logged.
func TestUserDataRoundTrip(t *testing.T) {
	t.Parallel()
	h, ctx := newHarness(t, osfake.Options{}), t.Context()
	for _, ud := range []string{
		"#cloud-config\nruncmd:\n  - [algos, agent, --join-token, s3cr3t-join-token]\n# ünïcødé ✓\n",
		"QUJDRA==", // valid base64 on its own
	} {
		in, err := h.CreateInstance(ctx, clouds.InstanceSpec{InstanceType: "m1.small", UserData: ud})
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := h.fake.UserData(in.ID); !ok || got != ud {
			t.Errorf("user data at Nova = %q, want %q", got, ud)
		}
	}

	ud := "#!/bin/sh\nexec algos agent --join-token s3cr3t-join-token\n"
	spec := clouds.GroupSpec{Name: "ud", Min: 0, Max: 2, Desired: 2,
		Template: clouds.InstanceSpec{InstanceType: "m1.large", UserData: ud, Tags: map[string]string{"pool": "ud"}}}
	if _, err := h.CreateGroup(ctx, spec); err != nil {
		t.Fatal(err)
	}
	var members []clouds.Instance
	waitFor(t, "two members", func() bool {
		var err error
		members, err = h.ListMembers(ctx, "ud")
		return err == nil && len(members) == 2
	})
	for _, m := range members {
		if got, _ := h.fake.UserData(m.ID); got != ud {
			t.Errorf("member %s user data = %q, want %q", m.ID, got, ud)
		}
		if m.Tags["pool"] != "ud" || m.InstanceType != "m1.large" {
			t.Errorf("member %+v lacks the template's tags or type", m)
		}
	}
	if err := h.DeleteGroup(ctx, "ud"); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"s3cr3t-join-token", osfake.Password} {
		if strings.Contains(h.logs.String(), secret) {
			t.Errorf("the driver logged %q", secret)
		}
	}
}

// TestInstanceTypes: flavors become instance types with GPUs from PCI aliases and vGPU
// traits, arch from traits, prices from the config and an offering per zone.
func TestInstanceTypes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, osfake.Options{}, func(c *openstack.Config) {
		c.PricePerHour = map[string]float64{"g1.h100x8": 98.32, "m1.small": 0.02}
	})
	types, err := h.InstanceTypes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]clouds.InstanceType{}
	for _, it := range types {
		byName[it.Name] = it
		if len(it.Offerings) != 2 || it.Offerings[0].Spot || !it.Offerings[0].Available {
			t.Errorf("%s: offerings %+v, want one on-demand offering in each of the two zones", it.Name, it.Offerings)
		}
		for _, o := range it.Offerings {
			if o.PricePerHour != it.PricePerHour {
				t.Errorf("%s: offering price %v, want %v", it.Name, o.PricePerHour, it.PricePerHour)
			}
		}
	}
	cases := []struct {
		name  string
		gpus  []clouds.GPU
		arch  string
		vcpu  int
		price float64
	}{
		{"m1.small", nil, "amd64", 1, 0.02},
		{"g1.a100x2", []clouds.GPU{{Model: "NVIDIA A100", Count: 2, MemoryMiB: 40960}}, "amd64", 24, 0},
		{"g1.h100x8", []clouds.GPU{{Model: "NVIDIA H100", Count: 8, MemoryMiB: 81920}}, "amd64", 96, 98.32},
		{"g1.l4-vgpu", []clouds.GPU{{Model: "NVIDIA L4", Count: 1, MemoryMiB: 24576}}, "amd64", 8, 0},
		{"a1.large", nil, "arm64", 4, 0},
	}
	for _, tc := range cases {
		it, ok := byName[tc.name]
		if !ok {
			t.Errorf("no instance type %s", tc.name)
			continue
		}
		if !slices.Equal(it.GPUs, tc.gpus) || it.Arch != tc.arch || it.VCPU != tc.vcpu || it.PricePerHour != tc.price || it.MemoryMiB == 0 {
			t.Errorf("%s = %+v, want GPUs %v, arch %s, %d vCPUs, price %v", tc.name, it, tc.gpus, tc.arch, tc.vcpu, tc.price)
		}
	}

	// A site's own alias table replaces the defaults.
	custom := newHarness(t, osfake.Options{Flavors: []osfake.Flavor{
		{ID: "1", Name: "gpu.big", VCPUs: 8, RAMMiB: 1024, ExtraSpecs: map[string]string{"pci_passthrough:alias": "bigcard:4, nic:1"}},
	}}, func(c *openstack.Config) {
		c.GPUAliases = map[string]openstack.GPUModel{"bigcard": {Model: "NVIDIA B200", MemoryMiB: 184320}}
	})
	types, err = custom.InstanceTypes(t.Context())
	want := []clouds.GPU{{Model: "NVIDIA B200", Count: 4, MemoryMiB: 184320}}
	if err != nil || len(types) != 1 || !slices.Equal(types[0].GPUs, want) {
		t.Errorf("InstanceTypes with a custom alias table = %+v, %v; want GPUs %v (the nic alias is no GPU)", types, err, want)
	}
}

// TestInstanceDisks: InstanceSpec.Disks become volumes Nova creates with the server and
// deletes with it.
func TestInstanceDisks(t *testing.T) {
	t.Parallel()
	h, ctx := newHarness(t, osfake.Options{}), t.Context()
	in, err := h.CreateInstance(ctx, clouds.InstanceSpec{InstanceType: "m1.small",
		Disks: []clouds.DiskSpec{{SizeGiB: 10}, {SizeGiB: 20, Type: "ssd"}}})
	if err != nil {
		t.Fatal(err)
	}
	if n := h.fake.VolumeCount(); n != 2 {
		t.Errorf("volumes after launch = %d, want 2", n)
	}
	if _, err := h.CreateInstance(ctx, clouds.InstanceSpec{InstanceType: "m1.small", Disks: []clouds.DiskSpec{{SizeGiB: 0}}}); !errors.Is(err, clouds.ErrInvalid) {
		t.Errorf("CreateInstance with a 0 GiB disk = %v, want ErrInvalid", err)
	}
	if err := h.DeleteInstance(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "volumes deleted with the server", func() bool { return h.fake.VolumeCount() == 0 })
}

// TestGroupZones: a group with one zone is pinned to it; unknown zones are ErrInvalid;
// a group being deleted cannot be resized.
func TestGroupZones(t *testing.T) {
	t.Parallel()
	h, ctx := newHarness(t, osfake.Options{Zones: []string{"az-1", "az-2", "az-3"}}), t.Context()
	spec := clouds.GroupSpec{Name: "pinned", Zones: []string{"az-3"}, Min: 0, Max: 4, Desired: 4,
		Template: clouds.InstanceSpec{InstanceType: "m1.small"}}
	if _, err := h.CreateGroup(ctx, spec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "four running members in az-3", func() bool {
		members, err := h.ListMembers(ctx, "pinned")
		if err != nil || len(members) != 4 {
			return false
		}
		for _, m := range members {
			if m.State != clouds.StateRunning || m.Zone != "az-3" {
				return false
			}
		}
		return true
	})
	g, err := h.GetGroup(ctx, "pinned")
	if err != nil || !slices.Equal(g.Zones, []string{"az-3"}) || g.InstanceType != "m1.small" || g.CreatedAt.IsZero() {
		t.Errorf("GetGroup = %+v, %v; want zones [az-3], m1.small, a creation time", g, err)
	}
	bad := spec
	bad.Name, bad.Zones = "nowhere", []string{"az-9"}
	if _, err := h.CreateGroup(ctx, bad); !errors.Is(err, clouds.ErrInvalid) {
		t.Errorf("CreateGroup(unknown zone) = %v, want ErrInvalid", err)
	}
	bad.Name, bad.Zones = "9-starts-with-a-digit", nil
	if _, err := h.CreateGroup(ctx, bad); !errors.Is(err, clouds.ErrInvalid) {
		t.Errorf("CreateGroup(name Heat refuses) = %v, want ErrInvalid", err)
	}
	if err := h.DeleteGroup(ctx, "pinned"); err != nil {
		t.Fatal(err)
	}
	// Heat refuses updates to a stack being deleted (409): the group is gone for resizing.
	if err := h.ResizeGroup(ctx, "pinned", 1); !errors.Is(err, clouds.ErrNotFound) {
		t.Errorf("ResizeGroup while the stack is deleted = %v, want ErrNotFound", err)
	}
	waitFor(t, "the stack and its servers gone", func() bool { return h.fake.StackCount() == 0 && h.fake.ServerCount() == 0 })
}

// TestLoadBalancerFloatingIP: a public load balancer gets a floating IP from the pool as
// its address, and loses it when deleted; an https listener needs a certificate.
func TestLoadBalancerFloatingIP(t *testing.T) {
	t.Parallel()
	h, ctx := newHarness(t, osfake.Options{}, func(c *openstack.Config) { c.FloatingIPPool = osfake.ExternalNetworkName }), t.Context()
	if _, err := h.CreateLoadBalancer(ctx, clouds.LoadBalancerSpec{Name: "web", Protocol: clouds.ProtocolHTTPS, Port: 443}); !errors.Is(err, clouds.ErrInvalid) {
		t.Errorf("https without a certificate = %v, want ErrInvalid", err)
	}
	spec := clouds.LoadBalancerSpec{Name: "web", Protocol: clouds.ProtocolHTTPS, Port: 443, TargetPort: 8080,
		CertificateID: "https://barbican.example.com/v1/containers/0000", HealthCheck: clouds.HealthCheck{Protocol: clouds.ProtocolHTTP, Path: "/healthz"}}
	lb, err := h.CreateLoadBalancer(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(lb.Address, "172.24.4.") || lb.Port != 443 {
		t.Errorf("load balancer = %+v, want a floating address on 443", lb)
	}
	internal := spec
	internal.Name, internal.Internal = "internal", true
	lbi, err := h.CreateLoadBalancer(ctx, internal)
	if err != nil || !strings.HasPrefix(lbi.Address, "10.0.200.") {
		t.Errorf("internal load balancer = %+v, %v; want its VIP as address", lbi, err)
	}
	id := runningInstance(t, h, "")
	if err := h.RegisterTargets(ctx, "web", id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the target healthy", func() bool {
		got, err := h.GetLoadBalancer(ctx, "web")
		return err == nil && len(got.Targets) == 1 && got.Targets[0].Health == clouds.TargetHealthy && got.Address == lb.Address
	})
	if err := h.DeleteInstance(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deleted target unhealthy", func() bool {
		got, err := h.GetLoadBalancer(ctx, "web")
		return err == nil && len(got.Targets) == 1 && got.Targets[0].Health == clouds.TargetUnhealthy
	})
	for _, name := range []string{"web", "internal"} {
		if err := h.DeleteLoadBalancer(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	if n := h.fake.FloatingIPCount(); n != 0 {
		t.Errorf("floating IPs after delete = %d, want 0", n)
	}
	waitFor(t, "load balancers gone", func() bool { return h.fake.LoadBalancerCount() == 0 })
}

// TestNoService: a capability whose service the catalog lacks answers ErrNoService, and
// an image name needs Glance while an image ID does not.
func TestNoService(t *testing.T) {
	t.Parallel()
	h, ctx := newHarness(t, osfake.Options{Omit: []string{"load-balancer", "orchestration", "image"}}), t.Context()
	if _, err := h.CreateLoadBalancer(ctx, clouds.LoadBalancerSpec{Name: "x", Port: 80}); !errors.Is(err, openstack.ErrNoService) || !errors.Is(err, clouds.ErrInvalid) {
		t.Errorf("CreateLoadBalancer without Octavia = %v, want ErrNoService and ErrInvalid", err)
	}
	if _, err := h.GetGroup(ctx, "x"); !errors.Is(err, openstack.ErrNoService) {
		t.Errorf("GetGroup without Heat = %v, want ErrNoService", err)
	}
	if _, err := h.CreateInstance(ctx, clouds.InstanceSpec{InstanceType: "m1.small", Image: "cirros"}); !errors.Is(err, openstack.ErrNoService) || !errors.Is(err, clouds.ErrInvalid) {
		t.Errorf("CreateInstance(image name) without Glance = %v, want ErrNoService and ErrInvalid", err)
	}
	in, err := h.CreateInstance(ctx, clouds.InstanceSpec{InstanceType: "m1.small", Image: h.fake.ImageID("ubuntu-24.04")})
	if err != nil {
		t.Fatalf("CreateInstance(image ID) without Glance: %v", err)
	}
	if err := h.DeleteInstance(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
}
