package gcp_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/algos-dev/algos/clouds"
	"github.com/algos-dev/algos/clouds/cloudtest"
	"github.com/algos-dev/algos/clouds/gcp"
	"github.com/algos-dev/algos/clouds/gcp/gcpfake"
)

// harness is the real driver on its own fake GCE; it implements cloudtest.Faults.
type harness struct {
	*gcp.Driver
	fake *gcpfake.Server
}

var _ cloudtest.Faults = (*harness)(nil)

// StockOut makes the fake's first zone run out of instanceType's machine type.
func (h *harness) StockOut(t *testing.T, instanceType string) (out, in string) {
	zones := h.fake.Options().Zones
	mt, _, _ := strings.Cut(instanceType, "+")
	if mt == "" {
		mt = gcp.DefaultInstanceType
	}
	h.fake.StockOut(zones[0], mt)
	t.Cleanup(func() { h.fake.Restock(zones[0], mt) })
	return zones[0], zones[1]
}

// newHarness starts a fake and a driver on it, both closed when t ends.
func newHarness(t *testing.T, mod ...func(*gcp.Config)) *harness {
	t.Helper()
	fake := gcpfake.New(gcpfake.Options{})
	t.Cleanup(fake.Close)
	o := fake.Options()
	cfg := gcp.Config{
		Project:               o.Project,
		Region:                o.Region,
		Endpoint:              fake.URL(),
		WithoutAuthentication: true,
		Logger:                slog.New(slog.NewTextHandler(t.Output(), nil)),
		Retry:                 gcp.RetryPolicy{Initial: time.Millisecond, Max: 5 * time.Millisecond},
	}
	for _, m := range mod {
		m(&cfg)
	}
	d, err := gcp.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return &harness{Driver: d, fake: fake}
}

// harnesses remembers the harness of each conformance case, so that the suites' helpers
// (targets, instance) create instances behind the driver the case uses.
type harnesses struct {
	mu sync.Mutex
	m  map[*testing.T]*harness
}

func (hs *harnesses) get(t *testing.T) *harness {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.m == nil {
		hs.m = make(map[*testing.T]*harness)
	}
	h, ok := hs.m[t]
	if !ok {
		h = newHarness(t)
		hs.m[t] = h
		t.Cleanup(func() {
			hs.mu.Lock()
			delete(hs.m, t)
			hs.mu.Unlock()
		})
	}
	return h
}

// running creates an instance in zone ("" for any) and waits until it runs; it is deleted
// when t ends.
func (h *harness) running(t *testing.T, zone string) string {
	t.Helper()
	ctx := t.Context()
	in, err := h.CreateInstance(ctx, clouds.InstanceSpec{Zone: zone, Tags: map[string]string{"role": "target"}})
	if err != nil {
		t.Fatalf("CreateInstance: %v", err)
	}
	t.Cleanup(func() { _ = h.DeleteInstance(context.Background(), in.ID) })
	waitFor(t, "instance running", func() bool {
		got, err := h.GetInstance(ctx, in.ID)
		return err == nil && got.State == clouds.StateRunning
	})
	return in.ID
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const userData = "#cloud-config\nruncmd:\n  - [sh, -c, 'exec sleep 600']\n"

func TestCompute(t *testing.T) {
	t.Parallel()
	spec := clouds.InstanceSpec{InstanceType: "e2-medium", UserData: userData, Tags: map[string]string{"suite": "compute"}}
	cloudtest.TestCompute(t, func(t *testing.T) clouds.Compute { return newHarness(t) }, spec)
}

func TestGroups(t *testing.T) {
	t.Parallel()
	spec := clouds.InstanceSpec{InstanceType: "n2-standard-2", UserData: userData, Tags: map[string]string{"suite": "groups"}}
	cloudtest.TestGroups(t, func(t *testing.T) clouds.Groups { return newHarness(t) }, spec)
}

func TestLoadBalancers(t *testing.T) {
	t.Parallel()
	var hs harnesses
	spec := clouds.LoadBalancerSpec{
		Protocol:    clouds.ProtocolTCP,
		Port:        8080,
		TargetPort:  8080,
		HealthCheck: clouds.HealthCheck{Protocol: clouds.ProtocolHTTP, Path: "/healthz"},
		Tags:        map[string]string{"suite": "loadbalancers"},
	}
	cloudtest.TestLoadBalancers(t, func(t *testing.T) clouds.LoadBalancers { return hs.get(t) }, spec,
		func(t *testing.T) []string {
			h := hs.get(t)
			return []string{h.running(t, ""), h.running(t, "")}
		})
}

func TestDisks(t *testing.T) {
	t.Parallel()
	var hs harnesses
	spec := clouds.DiskSpec{SizeGiB: 20, Type: "pd-ssd", Zone: "us-central1-b", Tags: map[string]string{"suite": "disks"}}
	cloudtest.TestDisks(t, func(t *testing.T) clouds.Disks { return hs.get(t) }, spec,
		func(t *testing.T) string { return hs.get(t).running(t, spec.Zone) })
}

// TestUserDataInMetadata checks that user data lands in the "user-data" metadata key that
// cloud-init reads, next to the display name and exact tags, and is never logged.
func TestUserDataInMetadata(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var mu sync.Mutex
	h := newHarness(t, func(c *gcp.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(writerFunc(func(p []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			return logs.Write(p)
		}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	const secret = "join-token-5f2d9c"
	ud := "#!/bin/sh\nexec algos agent --join-token " + secret + "\n"
	in, err := h.CreateInstance(t.Context(), clouds.InstanceSpec{Name: "Agent #1", UserData: ud, Tags: map[string]string{"pool": "gpu"}})
	if err != nil {
		t.Fatalf("CreateInstance: %v", err)
	}
	name := strings.Split(in.ID, "/")[1]
	raw, ok := h.fake.Instance(in.Zone, name)
	if !ok {
		t.Fatalf("the fake has no instance %s", in.ID)
	}
	md := map[string]string{}
	for _, it := range raw.GetMetadata().GetItems() {
		md[it.GetKey()] = it.GetValue()
	}
	if md[gcp.MetadataUserData] != ud {
		t.Errorf("metadata %q = %q, want the user data", gcp.MetadataUserData, md[gcp.MetadataUserData])
	}
	if _, ok := md["startup-script"]; ok {
		t.Error("user data also in startup-script: it would run twice on images with both cloud-init and the guest agent")
	}
	if md[gcp.MetadataName] != "Agent #1" || in.Name != "Agent #1" {
		t.Errorf("display name: metadata %q, Instance.Name %q, want %q", md[gcp.MetadataName], in.Name, "Agent #1")
	}
	if !strings.HasPrefix(name, "agent-1-") {
		t.Errorf("GCE name %q, want a sanitized prefix of the display name", name)
	}
	if err := h.DeleteInstance(t.Context(), in.ID); err != nil {
		t.Fatalf("DeleteInstance: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if logs.Len() == 0 {
		t.Fatal("the driver logged nothing; the check below would prove nothing")
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("logs contain the user data's join token:\n%s", logs.String())
	}
}

// TestGroupMembersCarryUserData checks that a group's members boot with the template's user
// data and the group label, through the regional instance template.
func TestGroupMembersCarryUserData(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	spec := clouds.GroupSpec{Name: "pool-a100", Min: 0, Max: 2, Desired: 2,
		Template: clouds.InstanceSpec{InstanceType: "a2-highgpu-1g", Spot: true, UserData: userData, Tags: map[string]string{"pool": "a100"}}}
	g, err := h.CreateGroup(t.Context(), spec)
	if err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	t.Cleanup(func() { _ = h.DeleteGroup(context.Background(), spec.Name) })
	if g.InstanceType != "a2-highgpu-1g" || !g.Spot || !maps.Equal(g.Tags, spec.Template.Tags) || g.Max != 2 {
		t.Errorf("CreateGroup = %+v", g)
	}
	members := h.fake.Instances()
	if len(members) != 2 {
		t.Fatalf("the fake has %d instances, want 2 members", len(members))
	}
	for _, in := range members {
		md := map[string]string{}
		for _, it := range in.GetMetadata().GetItems() {
			md[it.GetKey()] = it.GetValue()
		}
		if md[gcp.MetadataUserData] != userData || in.GetLabels()[gcp.LabelGroup] != spec.Name ||
			in.GetScheduling().GetProvisioningModel() != "SPOT" || in.GetScheduling().GetOnHostMaintenance() != "TERMINATE" {
			t.Errorf("member %s: metadata %v, labels %v, scheduling %v", in.GetName(), md, in.GetLabels(), in.GetScheduling())
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestLabels checks that tags become valid GCE labels, round-trip exactly, and filter
// lists exactly.
func TestLabels(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := t.Context()
	tags := map[string]string{"Team Name": "ML/Ops", "cost-center": "42", "9lives": "UPPER.case", "empty": ""}
	in, err := h.CreateInstance(ctx, clouds.InstanceSpec{Tags: tags})
	if err != nil {
		t.Fatalf("CreateInstance: %v", err)
	}
	raw, _ := h.fake.Instance(in.Zone, strings.Split(in.ID, "/")[1])
	want := map[string]string{"team_name": "ml_ops", "cost-center": "42", "t_9lives": "upper_case", "empty": ""}
	if got := raw.GetLabels(); !maps.Equal(got, want) {
		t.Errorf("labels = %v, want %v", got, want)
	}
	got, err := h.GetInstance(ctx, in.ID)
	if err != nil {
		t.Fatalf("GetInstance: %v", err)
	}
	if !maps.Equal(got.Tags, tags) {
		t.Errorf("Tags = %v, want %v exactly", got.Tags, tags)
	}
	for _, tc := range []struct {
		filter map[string]string
		want   int
	}{
		{map[string]string{"Team Name": "ML/Ops"}, 1},
		{map[string]string{"Team Name": "ml_ops"}, 0}, // same label, other tag
		{map[string]string{"cost-center": "42", "empty": ""}, 1},
		{map[string]string{"cost-center": "43"}, 0},
	} {
		list, err := h.ListInstances(ctx, clouds.Filter{Tags: tc.filter})
		if err != nil {
			t.Fatalf("ListInstances(%v): %v", tc.filter, err)
		}
		if len(list) != tc.want {
			t.Errorf("ListInstances(%v) = %d instances, want %d", tc.filter, len(list), tc.want)
		}
	}
	if _, err := h.CreateInstance(ctx, clouds.InstanceSpec{Tags: map[string]string{"a b": "1", "A_b": "2"}}); !errors.Is(err, clouds.ErrInvalid) {
		t.Errorf("CreateInstance(tags colliding as labels) = %v, want ErrInvalid", err)
	}
}

func TestSanitizeLabel(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 70)
	for _, tc := range []struct{ in, key, value string }{
		{"team", "team", "team"},
		{"Team Name", "team_name", "team_name"},
		{"9lives", "t_9lives", "9lives"},
		{"", "t_", ""},
		{"_x", "t__x", "_x"},
		{"Grüße", "gr__e", "gr__e"},
		{long, long[:63], long[:63]},
	} {
		if got := gcp.SanitizeLabelKey(tc.in); got != tc.key {
			t.Errorf("SanitizeLabelKey(%q) = %q, want %q", tc.in, got, tc.key)
		}
		if got := gcp.SanitizeLabel(tc.in); got != tc.value {
			t.Errorf("SanitizeLabel(%q) = %q, want %q", tc.in, got, tc.value)
		}
	}
}

// TestGPUAndSpot checks GPU machine types (bundled and attached), spot scheduling and extra
// disks as the fake stores them.
func TestGPUAndSpot(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := t.Context()
	for _, tc := range []struct {
		typ    string
		spot   bool
		accels int
	}{
		{"a2-highgpu-1g", true, 1},
		{"n1-standard-8+nvidia-tesla-t4:1", false, 1},
		{"g2-standard-24", false, 1},
	} {
		spec := clouds.InstanceSpec{InstanceType: tc.typ, Spot: tc.spot, Disks: []clouds.DiskSpec{{Name: "data", SizeGiB: 100, Type: "pd-ssd"}}}
		in, err := h.CreateInstance(ctx, spec)
		if err != nil {
			t.Fatalf("CreateInstance(%s): %v", tc.typ, err)
		}
		if in.InstanceType != tc.typ || in.Spot != tc.spot {
			t.Errorf("%s: InstanceType %q Spot %v, want %q %v", tc.typ, in.InstanceType, in.Spot, tc.typ, tc.spot)
		}
		raw, _ := h.fake.Instance(in.Zone, strings.Split(in.ID, "/")[1])
		sch := raw.GetScheduling()
		if sch.GetOnHostMaintenance() != "TERMINATE" {
			t.Errorf("%s: onHostMaintenance %q, want TERMINATE", tc.typ, sch.GetOnHostMaintenance())
		}
		if spot := sch.GetProvisioningModel() == "SPOT"; spot != tc.spot {
			t.Errorf("%s: provisioningModel %q, want spot %v", tc.typ, sch.GetProvisioningModel(), tc.spot)
		}
		if n := len(raw.GetGuestAccelerators()); n != tc.accels {
			t.Errorf("%s: %d guest accelerators, want %d", tc.typ, n, tc.accels)
		}
		if n := len(raw.GetDisks()); n != 2 || !raw.GetDisks()[1].GetAutoDelete() {
			t.Errorf("%s: disks %v, want boot and an auto-deleted data disk", tc.typ, raw.GetDisks())
		}
	}
	if _, err := h.CreateInstance(ctx, clouds.InstanceSpec{InstanceType: "n1-standard-8+nvidia-tesla-t4"}); !errors.Is(err, clouds.ErrInvalid) {
		t.Errorf("CreateInstance(accelerator without count) = %v, want ErrInvalid", err)
	}
	if _, err := h.CreateInstance(ctx, clouds.InstanceSpec{InstanceType: "z9-mega-1"}); !errors.Is(err, clouds.ErrInvalid) {
		t.Errorf("CreateInstance(unknown machine type) = %v, want ErrInvalid", err)
	}
}

// TestCapacityOneZone checks that a GPU stockout in one zone is a *CapacityError for that
// zone, type and spot, and that the next zone launches.
func TestCapacityOneZone(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := t.Context()
	h.fake.StockOut("us-central1-a", "a3-highgpu-8g")
	spec := clouds.InstanceSpec{InstanceType: "a3-highgpu-8g", Spot: true, Zone: "us-central1-a"}
	_, err := h.CreateInstance(ctx, spec)
	var ce *clouds.CapacityError
	if !errors.As(err, &ce) || ce.Zone != "us-central1-a" || ce.InstanceType != "a3-highgpu-8g" || !ce.Spot {
		t.Fatalf("CreateInstance in stocked-out zone = %v, want *CapacityError{us-central1-a a3-highgpu-8g spot}", err)
	}
	if !strings.Contains(ce.Msg, "ZONE_RESOURCE_POOL_EXHAUSTED") {
		t.Errorf("CapacityError.Msg = %q, want GCE's code in it", ce.Msg)
	}
	spec.Zone = "us-central1-b"
	in, err := h.CreateInstance(ctx, spec)
	if err != nil {
		t.Fatalf("CreateInstance in the next zone: %v", err)
	}
	if in.Zone != "us-central1-b" {
		t.Errorf("Zone = %q, want us-central1-b", in.Zone)
	}
	list, err := h.ListInstances(ctx, clouds.Filter{})
	if err != nil || len(list) != 1 {
		t.Errorf("ListInstances = %d instances, %v; want only the one launched", len(list), err)
	}
}

func TestInstanceTypes(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	types, err := h.InstanceTypes(t.Context())
	if err != nil {
		t.Fatalf("InstanceTypes: %v", err)
	}
	byName := map[string]clouds.InstanceType{}
	for _, it := range types {
		byName[it.Name] = it
	}
	a3, ok := byName["a3-highgpu-8g"]
	if !ok {
		t.Fatalf("no a3-highgpu-8g among %d types", len(types))
	}
	if want := []clouds.GPU{{Model: "NVIDIA H100", Count: 8, MemoryMiB: 80 << 10}}; !slices.Equal(a3.GPUs, want) {
		t.Errorf("a3-highgpu-8g GPUs = %v, want %v", a3.GPUs, want)
	}
	if a3.VCPU != 208 || a3.MemoryMiB != 1872<<10 || a3.PricePerHour < 80 || a3.Arch != "amd64" {
		t.Errorf("a3-highgpu-8g = %+v", a3)
	}
	var zones []string
	spot := false
	for _, o := range a3.Offerings {
		if !o.Spot {
			zones = append(zones, o.Zone)
		}
		spot = spot || o.Spot
	}
	if !slices.Equal(zones, []string{"us-central1-a", "us-central1-b"}) || !spot {
		t.Errorf("a3-highgpu-8g offerings %+v, want on demand and spot in zones a and b only", a3.Offerings)
	}
	for name, want := range map[string]clouds.GPU{
		"a2-highgpu-1g":                   {Model: "NVIDIA A100", Count: 1, MemoryMiB: 40 << 10},
		"a2-ultragpu-8g":                  {Model: "NVIDIA A100", Count: 8, MemoryMiB: 80 << 10},
		"g2-standard-4":                   {Model: "NVIDIA L4", Count: 1, MemoryMiB: 24 << 10},
		"n1-standard-8+nvidia-tesla-t4:1": {Model: "NVIDIA T4", Count: 1, MemoryMiB: 16 << 10},
	} {
		if got := byName[name].GPUs; len(got) != 1 || got[0] != want {
			t.Errorf("%s GPUs = %v, want %v", name, got, want)
		}
	}
	if n2 := byName["n2-standard-2"]; n2.GPUCount() != 0 || n2.VCPU != 2 || n2.PricePerHour == 0 {
		t.Errorf("n2-standard-2 = %+v", n2)
	}
	again, err := h.InstanceTypes(t.Context())
	if n := h.fake.Calls("GET", "/machineTypes"); err != nil || len(again) != len(types) || n != 3 {
		t.Errorf("second InstanceTypes: %d types, %v, %d machine type lists; want the cached answer (3 lists, one per zone, in all)", len(again), err, n)
	}
	cat := gcp.Catalog()
	i := slices.IndexFunc(cat, func(it clouds.InstanceType) bool { return it.Name == "a3-highgpu-8g" })
	if i < 0 {
		t.Fatal("Catalog() lacks a3-highgpu-8g")
	}
	if cat[i].GPUCount() != 8 || cat[i].GPUs[0].MemoryMiB != 80<<10 || cat[i].Offerings != nil {
		t.Errorf("Catalog() a3-highgpu-8g = %+v", cat[i])
	}
}
