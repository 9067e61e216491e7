package azure_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/algos-dev/algos/clouds"
	"github.com/algos-dev/algos/clouds/azure"
	"github.com/algos-dev/algos/clouds/azure/azurefake"
)

// TestErrorMapping sends Azure's error answers, on the wire, to a VM create and a VM read,
// and checks what each becomes.
func TestErrorMapping(t *testing.T) {
	t.Parallel()
	const quotaMsg = "Operation could not be completed as it results in exceeding approved standardNCADSA100v4Family Cores quota. Location: eastus, Current Limit: 0, Additional Required: 24."
	cases := []struct {
		name          string
		api           string
		status        int
		code, message string
		want          error // a sentinel; nil: none of them
		capacity      bool  // a *CapacityError naming the spec's zone and size
		quota         string
	}{
		{"not found", "VirtualMachinesClient.Get", 404, "ResourceNotFound", "", clouds.ErrNotFound, false, ""},
		{"resource group not found", "VirtualMachinesClient.Get", 404, "ResourceGroupNotFound", "", clouds.ErrNotFound, false, ""},
		{"authorization failed", "VirtualMachinesClient.Get", 403, "AuthorizationFailed", "no read permission", clouds.ErrAuth, false, ""},
		{"invalid token", "VirtualMachinesClient.Get", 401, "InvalidAuthenticationToken", "", clouds.ErrAuth, false, ""},
		{"sku not available", "VirtualMachinesClient.BeginCreateOrUpdate", 409, "SkuNotAvailable", "not available in zone 2", clouds.ErrCapacity, true, ""},
		{"overconstrained", "VirtualMachinesClient.BeginCreateOrUpdate", 409, "OverconstrainedZonalAllocationRequest", "", clouds.ErrCapacity, true, ""},
		{"quota", "VirtualMachinesClient.BeginCreateOrUpdate", 409, "OperationNotAllowed", quotaMsg, clouds.ErrQuota, false, "vcpus"},
		{"quota exceeded", "VirtualMachinesClient.BeginCreateOrUpdate", 409, "QuotaExceeded", "", clouds.ErrQuota, false, ""},
		{"not allowed, not quota", "VirtualMachinesClient.BeginCreateOrUpdate", 409, "OperationNotAllowed", "VM is being deallocated", clouds.ErrInvalid, false, ""},
		{"invalid parameter", "VirtualMachinesClient.BeginCreateOrUpdate", 400, "InvalidParameter", "bad size", clouds.ErrInvalid, false, ""},
		{"server error after retries", "VirtualMachinesClient.Get", 503, "ServiceUnavailable", "", nil, false, ""},
	}
	sentinels := []error{clouds.ErrNotFound, clouds.ErrAlreadyExists, clouds.ErrInvalid, clouds.ErrCapacity, clouds.ErrQuota, clouds.ErrAuth}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, azurefake.Options{})
			ctx := t.Context()
			spec := clouds.InstanceSpec{InstanceType: size, Zone: "2"}
			var err error
			if strings.HasSuffix(tc.api, ".Get") {
				in := runningInstance(t, h, "1")
				h.fake.FailNext(tc.api, 10, tc.status, tc.code, tc.message)
				_, err = h.GetInstance(ctx, in)
			} else {
				h.fake.FailNext(tc.api, 1, tc.status, tc.code, tc.message)
				_, err = h.CreateInstance(ctx, spec)
				waitFor(t, "failed launch cleaned up", func() bool { return h.fake.Counts() == azurefake.Counts{} })
			}
			if err == nil {
				t.Fatal("got no error")
			}
			for _, s := range sentinels {
				if got := errors.Is(err, s); got != (s == tc.want) {
					t.Errorf("errors.Is(%v, %v) = %v", err, s, got)
				}
			}
			var re *azcore.ResponseError
			if !errors.As(err, &re) || re.StatusCode != tc.status || re.ErrorCode != tc.code {
				t.Errorf("error %v does not unwrap to the Azure error %d %s", err, tc.status, tc.code)
			}
			var ce *clouds.CapacityError
			if errors.As(err, &ce) != tc.capacity {
				t.Errorf("errors.As(*CapacityError) = %v, want %v", !tc.capacity, tc.capacity)
			} else if tc.capacity && (ce.Zone != spec.Zone || ce.InstanceType != size || ce.Spot) {
				t.Errorf("CapacityError = %+v, want zone %s, size %s, on demand", ce, spec.Zone, size)
			}
			var qe *clouds.QuotaError
			if errors.As(err, &qe) && (qe.Resource != tc.quota || qe.Region != "eastus") {
				t.Errorf("QuotaError = %+v, want resource %q in eastus", qe, tc.quota)
			}
			if tc.message != "" && !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q lacks Azure's message %q", err, tc.message)
			}
		})
	}
	t.Run("credential", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, azurefake.Options{})
		h.fake.Credential().SetError(errors.New("no managed identity endpoint"))
		if _, err := h.ListInstances(t.Context(), clouds.Filter{}); !errors.Is(err, clouds.ErrAuth) {
			t.Errorf("ListInstances without a token = %v, want ErrAuth", err)
		}
	})
}

// TestRetryThrottling checks that 429s are retried by azcore's policy (backoff configured
// by the harness) until they stop, and surface as a non-sentinel error when they do not.
func TestRetryThrottling(t *testing.T) {
	t.Parallel()
	h := newHarness(t, azurefake.Options{})
	ctx := t.Context()
	id := runningInstance(t, h, "1")
	const api = "VirtualMachinesClient.Get"

	before := h.fake.Calls(api)
	h.fake.FailNext(api, 2, http.StatusTooManyRequests, "TooManyRequests", "throttled")
	if _, err := h.GetInstance(ctx, id); err != nil {
		t.Fatalf("GetInstance after two 429s: %v", err)
	}
	if got := h.fake.Calls(api) - before; got != 3 {
		t.Errorf("GetInstance made %d requests, want 3 (two throttled, one served)", got)
	}

	before = h.fake.Calls(api)
	h.fake.FailNext(api, 100, http.StatusTooManyRequests, "TooManyRequests", "throttled")
	_, err := h.GetInstance(ctx, id)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusTooManyRequests || errors.Is(err, clouds.ErrNotFound) {
		t.Errorf("GetInstance while throttled = %v, want the 429", err)
	}
	if got := h.fake.Calls(api) - before; got != 4 {
		t.Errorf("GetInstance while throttled made %d requests, want 4 (MaxRetries 3)", got)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := h.GetInstance(cctx, id); !errors.Is(err, context.Canceled) {
		t.Errorf("GetInstance(cancelled) while throttled = %v, want context.Canceled", err)
	}
}

// TestConsistencyRetry checks the driver's own retries: a NIC update refused with
// AnotherOperationInProgress, and a disk attach whose VM changed underneath (412).
func TestConsistencyRetry(t *testing.T) {
	t.Parallel()
	h := newHarness(t, azurefake.Options{})
	ctx := t.Context()
	id := runningInstance(t, h, "1")

	lb, err := h.CreateLoadBalancer(ctx, clouds.LoadBalancerSpec{Name: "retry", Internal: true, Protocol: clouds.ProtocolTCP, Port: 80})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.DeleteLoadBalancer(context.Background(), "retry") })
	if lb.Address == "" || !strings.HasPrefix(lb.Address, "10.") {
		t.Errorf("internal load balancer address = %q, want a private address", lb.Address)
	}
	h.fake.FailNext("InterfacesClient.BeginCreateOrUpdate", 2, http.StatusConflict, "AnotherOperationInProgress", "retry later")
	if err := h.RegisterTargets(ctx, "retry", id); err != nil {
		t.Fatalf("RegisterTargets through two conflicts: %v", err)
	}
	got, err := h.GetLoadBalancer(ctx, "retry")
	if err != nil || len(got.Targets) != 1 || got.Targets[0].InstanceID != id {
		t.Errorf("GetLoadBalancer = %+v, %v; want target %s", got, err, id)
	}

	disk, err := h.CreateDisk(ctx, clouds.DiskSpec{Name: "data", SizeGiB: 8, Zone: "1"})
	if err != nil {
		t.Fatal(err)
	}
	h.fake.FailNext("VirtualMachinesClient.BeginUpdate", 1, http.StatusPreconditionFailed, "PreconditionFailed", "etag changed")
	if err := h.AttachDisk(ctx, disk.ID, id); err != nil {
		t.Fatalf("AttachDisk through a lost ETag race: %v", err)
	}
	if d, err := h.GetDisk(ctx, disk.ID); err != nil || d.State != clouds.DiskInUse || d.InstanceID != id || d.Type != azure.DefaultDiskType {
		t.Errorf("GetDisk = %+v, %v; want in use by %s, type %s", d, err, id, azure.DefaultDiskType)
	}
	if err := h.DetachDisk(ctx, disk.ID, id); err != nil {
		t.Fatal(err)
	}
	if err := h.DeleteDisk(ctx, disk.ID); err != nil {
		t.Fatal(err)
	}
	if err := h.DeregisterTargets(ctx, "retry", id); err != nil {
		t.Fatal(err)
	}
}

// TestCapacity checks a stockout in one zone (an allocation failure at the end of the
// create, the failed VM cleaned up), a restricted size (SkuNotAvailable at once) and spot.
func TestCapacity(t *testing.T) {
	t.Parallel()
	h := newHarness(t, azurefake.Options{})
	ctx := t.Context()
	const gpu = "Standard_NC24ads_A100_v4"
	defer h.fake.StockOut("1", gpu)()
	for _, spot := range []bool{false, true} {
		_, err := h.CreateInstance(ctx, clouds.InstanceSpec{InstanceType: gpu, Zone: "1", Spot: spot})
		var ce *clouds.CapacityError
		if !errors.As(err, &ce) || ce.Zone != "1" || ce.InstanceType != gpu || ce.Spot != spot {
			t.Fatalf("CreateInstance(spot %v) in stocked-out zone = %v, want *CapacityError for zone 1", spot, err)
		}
		if errorCode(err) != "ZonalAllocationFailed" {
			t.Errorf("Azure error code = %q, want ZonalAllocationFailed", errorCode(err))
		}
	}
	waitFor(t, "failed VMs and their NICs deleted", func() bool { return h.fake.Counts() == azurefake.Counts{} })
	in, err := h.CreateInstance(ctx, clouds.InstanceSpec{InstanceType: gpu, Zone: "2"})
	if err != nil {
		t.Fatalf("CreateInstance in zone 2: %v", err)
	}
	if err := h.DeleteInstance(ctx, in.ID); err != nil {
		t.Fatal(err)
	}

	h.fake.RestrictSKU(gpu, "3")
	_, err = h.CreateInstance(ctx, clouds.InstanceSpec{InstanceType: gpu, Zone: "3"})
	if !errors.Is(err, clouds.ErrCapacity) || errorCode(err) != "SkuNotAvailable" {
		t.Errorf("CreateInstance of a restricted size = %v, want a SkuNotAvailable capacity error", err)
	}
	if _, err := h.CreateInstance(ctx, clouds.InstanceSpec{InstanceType: "Standard_Nope_v9"}); !errors.Is(err, clouds.ErrInvalid) {
		t.Errorf("CreateInstance of an unknown size = %v, want ErrInvalid", err)
	}
	waitFor(t, "nothing left", func() bool { return h.fake.Counts() == azurefake.Counts{} })

	// Regional (no zones): Azure says AllocationFailed and names no zone.
	r := newHarness(t, azurefake.Options{}, func(c *azure.Config) { c.Zones = nil })
	defer r.fake.StockOut("", size)()
	_, err = r.CreateInstance(ctx, clouds.InstanceSpec{InstanceType: size})
	var ce *clouds.CapacityError
	if !errors.As(err, &ce) || ce.Zone != "" || ce.InstanceType != size || errorCode(err) != "AllocationFailed" {
		t.Errorf("regional CreateInstance while stocked out = %v, want an AllocationFailed *CapacityError without zone", err)
	}
	waitFor(t, "nothing left", func() bool { return r.fake.Counts() == azurefake.Counts{} })
}

func errorCode(err error) string {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

// TestUserDataRoundTrip checks that user data reaches Azure as custom data, byte for byte,
// for VMs and scale set members, is not readable back through ARM, and is never logged.
func TestUserDataRoundTrip(t *testing.T) {
	t.Parallel()
	h := newHarness(t, azurefake.Options{})
	ctx := t.Context()
	userData := "#cloud-config\nruncmd:\n  - [algos, agent, --join-token, s3cr3t-join-token]\n# ünïcødé ✓\n"
	in, err := h.CreateInstance(ctx, clouds.InstanceSpec{Name: "ud", InstanceType: size, UserData: userData})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := h.fake.CustomData(in.ID); !ok || got != userData {
		t.Errorf("custom data at Azure = %q, want %q", got, userData)
	}
	if vm, _ := h.fake.VM(in.ID); vm.Properties.OSProfile.CustomData != nil || vm.Properties.UserData != nil {
		t.Errorf("ARM returns the VM's custom data or user data: %+v", vm.Properties.OSProfile)
	}
	if err := h.DeleteInstance(ctx, in.ID); err != nil {
		t.Fatal(err)
	}

	spec := clouds.GroupSpec{Name: "ud", Min: 0, Max: 2, Desired: 2,
		Template: clouds.InstanceSpec{InstanceType: size, UserData: userData, Tags: map[string]string{"pool": "ud"}}}
	if _, err := h.CreateGroup(ctx, spec); err != nil {
		t.Fatal(err)
	}
	var members []clouds.Instance
	waitFor(t, "two members", func() bool {
		members, err = h.ListMembers(ctx, "ud")
		return err == nil && len(members) == 2
	})
	for _, m := range members {
		if got, _ := h.fake.CustomData(m.ID); got != userData {
			t.Errorf("member %s custom data = %q, want %q", m.ID, got, userData)
		}
		if !strings.HasPrefix(m.ID, "ud_") || m.Tags["pool"] != "ud" || m.InstanceType != size || len(m.Tags) != 1 {
			t.Errorf("member %+v: want ID ud_<n>, the template's tags only, size %s", m, size)
		}
	}
	if err := h.DeleteGroup(ctx, "ud"); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 65536)
	if _, err := h.CreateInstance(ctx, clouds.InstanceSpec{InstanceType: size, UserData: big}); !errors.Is(err, clouds.ErrInvalid) {
		t.Errorf("CreateInstance with 64 KiB of user data = %v, want ErrInvalid", err)
	}
	if logs := h.logs.String(); strings.Contains(logs, "s3cr3t-join-token") || strings.Contains(logs, "Y2xvdWQtY29uZmln") {
		t.Errorf("the driver logged user data:\n%s", logs)
	}
}

// TestSpotTagsImage checks what a VM is created with.
func TestSpotTagsImage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, azurefake.Options{})
	ctx := t.Context()
	spec := clouds.InstanceSpec{Name: "GPU worker #1", InstanceType: "Standard_NC4as_T4_v3", Zone: "3", Spot: true,
		Image: "microsoft-dsvm:ubuntu-hpc:2204:latest", Tags: map[string]string{"pool": "p"},
		Disks: []clouds.DiskSpec{{SizeGiB: 64}, {SizeGiB: 128, Type: "Premium_LRS"}}}
	in, err := h.CreateInstance(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(in.ID, "gpu-worker-1-") || in.Name != spec.Name || !in.Spot || in.Zone != "3" || in.PrivateAddress == "" {
		t.Errorf("instance = %+v", in)
	}
	if len(in.Tags) != 1 || in.Tags["pool"] != "p" {
		t.Errorf("Tags = %v, want the caller's only", in.Tags)
	}
	vm, _ := h.fake.VM(in.ID)
	p := vm.Properties
	if string(*p.Priority) != "Spot" || string(*p.EvictionPolicy) != "Delete" || *p.BillingProfile.MaxPrice != -1 {
		t.Errorf("spot settings = %v %v %v", *p.Priority, *p.EvictionPolicy, *p.BillingProfile.MaxPrice)
	}
	if img := p.StorageProfile.ImageReference; *img.Publisher != "microsoft-dsvm" || *img.Offer != "ubuntu-hpc" || *img.SKU != "2204" || *img.Version != "latest" {
		t.Errorf("image = %+v", img)
	}
	if *p.OSProfile.ComputerName != in.ID || !*p.OSProfile.LinuxConfiguration.DisablePasswordAuthentication {
		t.Errorf("OS profile = %+v", p.OSProfile)
	}
	if c := h.fake.Counts(); c.Disks != 2 || c.NICs != 1 {
		t.Errorf("fake holds %+v, want 2 data disks and 1 NIC", c)
	}
	if _, err := h.CreateInstance(ctx, clouds.InstanceSpec{InstanceType: size, Image: "ubuntu"}); !errors.Is(err, clouds.ErrInvalid) {
		t.Errorf("CreateInstance with image %q = %v, want ErrInvalid", "ubuntu", err)
	}
	if err := h.DeleteInstance(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "VM, NIC and data disks deleted together", func() bool { return h.fake.Counts() == azurefake.Counts{} })
}

// TestMemberIDs checks that scale set member IDs work with Compute and across groups.
func TestMemberIDs(t *testing.T) {
	t.Parallel()
	h := newHarness(t, azurefake.Options{})
	ctx := t.Context()
	for _, name := range []string{"a", "b"} {
		if _, err := h.CreateGroup(ctx, clouds.GroupSpec{Name: name, Max: 2, Desired: 1, Zones: []string{"2"},
			Template: clouds.InstanceSpec{InstanceType: size}}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = h.DeleteGroup(context.Background(), name) })
	}
	var a []clouds.Instance
	waitFor(t, "a member running", func() bool {
		var err error
		a, err = h.ListMembers(ctx, "a")
		return err == nil && len(a) == 1 && a[0].State == clouds.StateRunning
	})
	got, err := h.GetInstance(ctx, a[0].ID)
	if err != nil || got.ID != a[0].ID || got.Zone != "2" || got.State != clouds.StateRunning || !strings.HasPrefix(got.Name, "a0000") {
		t.Errorf("GetInstance(member %s) = %+v, %v", a[0].ID, got, err)
	}
	if err := h.DeleteInstance(ctx, a[0].ID); !errors.Is(err, clouds.ErrInvalid) {
		t.Errorf("DeleteInstance(member) = %v, want ErrInvalid (use RemoveMember)", err)
	}
	if err := h.RemoveMember(ctx, "b", a[0].ID, true); err != nil {
		t.Errorf("RemoveMember(b, member of a) = %v, want nil", err)
	}
	if g, _ := h.GetGroup(ctx, "b"); g.Desired != 1 {
		t.Errorf("group b desired = %d after removing a's member from it, want 1", g.Desired)
	}
	if _, err := h.GetInstance(ctx, "a_99"); !errors.Is(err, clouds.ErrNotFound) {
		t.Errorf("GetInstance(a_99) = %v, want ErrNotFound", err)
	}
}

// TestLoadBalancerSpecs checks what Azure Load Balancer cannot do and a public frontend.
func TestLoadBalancerSpecs(t *testing.T) {
	t.Parallel()
	h := newHarness(t, azurefake.Options{})
	ctx := t.Context()
	if _, err := h.CreateLoadBalancer(ctx, clouds.LoadBalancerSpec{Name: "tls", Protocol: clouds.ProtocolHTTPS, Port: 443}); !errors.Is(err, clouds.ErrInvalid) {
		t.Errorf("https load balancer = %v, want ErrInvalid", err)
	}
	lb, err := h.CreateLoadBalancer(ctx, clouds.LoadBalancerSpec{Name: "web", Protocol: clouds.ProtocolHTTP, Port: 80, TargetPort: 8080,
		HealthCheck: clouds.HealthCheck{Protocol: clouds.ProtocolHTTP, Path: "/healthz"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(lb.Address, "20.") || !strings.HasSuffix(lb.ID, "/loadBalancers/web") || lb.Port != 80 {
		t.Errorf("load balancer = %+v, want a public address", lb)
	}
	id := runningInstance(t, h, "1")
	if err := h.RegisterTargets(ctx, "web", id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "target healthy", func() bool {
		got, err := h.GetLoadBalancer(ctx, "web")
		return err == nil && len(got.Targets) == 1 && got.Targets[0].Health == clouds.TargetHealthy
	})
	// Deleting the load balancer takes the NIC out of the pool first, then the public IP.
	if err := h.DeleteLoadBalancer(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if c := h.fake.Counts(); c.LoadBalancers != 0 || c.PublicIPs != 0 {
		t.Errorf("after DeleteLoadBalancer the fake holds %+v", c)
	}
}

// TestInstanceTypes checks the catalog and its offerings from ResourceSKUs.
func TestInstanceTypes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, azurefake.Options{})
	h.fake.RestrictSKU("Standard_NC24ads_A100_v4", "2")
	types, err := h.InstanceTypes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]clouds.InstanceType{}
	for _, it := range types {
		byName[it.Name] = it
	}
	nd := byName["Standard_ND96isr_H100_v5"]
	want := clouds.GPU{Model: "NVIDIA H100", Count: 8, MemoryMiB: 80 * 1024}
	if len(nd.GPUs) != 1 || nd.GPUs[0] != want || nd.GPUCount() != 8 || nd.VCPU != 96 || nd.MemoryMiB != 1900*1024 || nd.Arch != "amd64" || nd.PricePerHour <= 0 {
		t.Errorf("Standard_ND96isr_H100_v5 = %+v, want 96 vCPUs, 1900 GiB and %+v", nd, want)
	}
	// The fake offers ND H100 v5 in zones 1 and 2, not as spot (LowPriorityCapable False).
	wantOfferings := []clouds.Offering{{Zone: "1", Available: true, PricePerHour: nd.PricePerHour}, {Zone: "2", Available: true, PricePerHour: nd.PricePerHour}}
	if !slices.Equal(nd.Offerings, wantOfferings) {
		t.Errorf("ND96isr_H100_v5 offerings = %+v, want %+v", nd.Offerings, wantOfferings)
	}
	nc := byName["Standard_NC24ads_A100_v4"]
	if nc.GPUs[0] != (clouds.GPU{Model: "NVIDIA A100", Count: 1, MemoryMiB: 80 * 1024}) || len(nc.Offerings) != 6 {
		t.Errorf("NC24ads_A100_v4 = %+v, want 1 A100 80 GB offered on demand and spot in 3 zones", nc)
	}
	for _, o := range nc.Offerings {
		if o.Available != (o.Zone != "2") {
			t.Errorf("NC24ads_A100_v4 offering %+v: zone 2 is restricted, the others are not", o)
		}
	}
	if t4 := byName["Standard_NC64as_T4_v3"]; t4.GPUCount() != 4 || t4.GPUs[0].Model != "NVIDIA T4" || len(t4.Offerings) != 0 {
		t.Errorf("NC64as_T4_v3 = %+v, want 4 T4 and no offerings (the fake does not list it)", t4)
	}
	if d := byName["Standard_D2s_v5"]; d.GPUs != nil || d.VCPU != 2 || d.MemoryMiB != 8192 {
		t.Errorf("Standard_D2s_v5 = %+v", d)
	}
	if _, ok := byName["Standard_B1s"]; ok {
		t.Error("a size outside the catalog is listed")
	}

	const api = "ResourceSKUsClient.NewListPager"
	calls := h.fake.Calls(api)
	again, err := h.InstanceTypes(t.Context())
	if err != nil || h.fake.Calls(api) != calls {
		t.Errorf("second InstanceTypes: %v, %d more ResourceSKUs calls; want the cache", err, h.fake.Calls(api)-calls)
	}
	again[0].GPUs, again[0].Offerings[0].Zone = nil, "changed"
	if third, _ := h.InstanceTypes(t.Context()); third[0].Offerings[0].Zone == "changed" {
		t.Error("InstanceTypes returns the cache's slices")
	}
	if cat := azure.Catalog(); len(cat) != len(types) || cat[0].Offerings != nil {
		t.Errorf("Catalog() = %d types with offerings %v, want %d without", len(cat), cat[0].Offerings, len(types))
	}

	// Without permission to read resource SKUs, offerings come from the table.
	h2 := newHarness(t, azurefake.Options{})
	h2.fake.FailNext(api, 1, http.StatusForbidden, "AuthorizationFailed", "no sku read")
	types, err = h2.InstanceTypes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range types {
		if len(it.Offerings) != 6 {
			t.Errorf("%s: %d offerings from the table, want on demand and spot in 3 zones", it.Name, len(it.Offerings))
		}
	}
	if _, err := h2.InstanceTypes(t.Context()); err != nil || h2.fake.Calls(api) != 2 {
		t.Errorf("after a failed ResourceSKUs read the table was cached (%d calls, %v), want a retry", h2.fake.Calls(api), err)
	}
}

// TestConfig checks Validate and New.
func TestConfig(t *testing.T) {
	t.Parallel()
	fake := azurefake.New(azurefake.Options{})
	good := azure.Config{SubscriptionID: "s", ResourceGroup: "rg", Location: "eastus", SubnetID: fake.SubnetID(), SSHPublicKey: sshKey,
		Credential: fake.Credential()}
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate(good) = %v", err)
	}
	for name, mod := range map[string]func(*azure.Config){
		"no subscription":   func(c *azure.Config) { c.SubscriptionID = "" },
		"no location":       func(c *azure.Config) { c.Location = "" },
		"bad subnet":        func(c *azure.Config) { c.SubnetID = "default" },
		"no ssh key":        func(c *azure.Config) { c.SSHPublicKey = "" },
		"partial principal": func(c *azure.Config) { c.ClientID, c.ClientSecret = "id", "secret" },
		"empty zone":        func(c *azure.Config) { c.Zones = []string{"1", ""} },
	} {
		c := good
		mod(&c)
		if err := c.Validate(); !errors.Is(err, clouds.ErrInvalid) {
			t.Errorf("%s: Validate = %v, want ErrInvalid", name, err)
		}
		if _, err := azure.New(t.Context(), c); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	c := good
	c.ClientOptions = fake.ClientOptions()
	c.ClientOptions.Retry = policy.RetryOptions{}
	if _, err := azure.New(t.Context(), c); err != nil {
		t.Errorf("New(good) = %v", err)
	}
}
