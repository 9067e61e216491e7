package aws_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/algos-dev/algos/clouds"
	"github.com/algos-dev/algos/clouds/aws"
	"github.com/algos-dev/algos/clouds/aws/awsfake"
	"github.com/algos-dev/algos/clouds/cloudtest"
)

const sleeper = "#!/bin/sh\nexec sleep 600\n"

// harness is the real driver against its own fake, implementing cloudtest.Faults.
type harness struct {
	*aws.Driver
	fake *awsfake.Server
	logs *syncBuffer
}

// StockOut makes instanceType out of capacity in the fake's first zone until t ends.
func (h *harness) StockOut(t *testing.T, instanceType string) (out, in string) {
	zones := h.fake.Zones()
	t.Cleanup(h.fake.StockOut(zones[0], instanceType))
	return zones[0], zones[1]
}

var _ cloudtest.Faults = (*harness)(nil)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newHarness starts a fake and a driver on it with fast polling; mod adjusts the config.
func newHarness(t *testing.T, opts awsfake.Options, mod ...func(*aws.Config)) *harness {
	t.Helper()
	fake := awsfake.New(opts)
	t.Cleanup(fake.Close)
	logs := &syncBuffer{}
	cfg := aws.Config{
		Region:              fake.Region(),
		AccessKeyID:         awsfake.AccessKeyID,
		SecretAccessKey:     awsfake.SecretAccessKey,
		Endpoint:            fake.URL,
		Subnets:             fake.Subnets(),
		SecurityGroups:      []string{fake.SecurityGroup()},
		VPC:                 fake.VPC(),
		Image:               "ami-0fake",
		Logger:              slog.New(slog.NewTextHandler(io.MultiWriter(logs, t.Output()), nil)),
		MaxBackoff:          5 * time.Millisecond,
		PollInterval:        5 * time.Millisecond,
		ConsistencyTimeout:  5 * time.Second,
		DeregistrationDelay: time.Second,
	}
	for _, m := range mod {
		m(&cfg)
	}
	d, err := aws.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &harness{Driver: d, fake: fake, logs: logs}
}

// harnesses gives every test its own fake, shared by newDriver and the suites' instance
// helpers of that test.
var harnesses sync.Map // *testing.T → *harness

func harnessFor(t *testing.T) *harness {
	if h, ok := harnesses.Load(t); ok {
		return h.(*harness)
	}
	h := newHarness(t, awsfake.Options{})
	harnesses.Store(t, h)
	t.Cleanup(func() { harnesses.Delete(t) })
	return h
}

// runningInstance launches an instance in zone and waits until it runs; it is deleted when
// t ends.
func runningInstance(t *testing.T, h *harness, zone string) string {
	t.Helper()
	ctx := t.Context()
	in, err := h.CreateInstance(ctx, clouds.InstanceSpec{InstanceType: "m7i.large", Zone: zone, UserData: sleeper})
	if err != nil {
		t.Fatalf("CreateInstance: %v", err)
	}
	t.Cleanup(func() { _ = h.DeleteInstance(context.Background(), in.ID) })
	waitFor(t, "instance "+in.ID+" running", func() bool {
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

func TestCompute(t *testing.T) {
	t.Parallel()
	spec := clouds.InstanceSpec{InstanceType: "m7i.large", UserData: sleeper, Tags: map[string]string{"suite": "compute"}}
	cloudtest.TestCompute(t, func(t *testing.T) clouds.Compute { return harnessFor(t) }, spec)
}

func TestGroups(t *testing.T) {
	t.Parallel()
	spec := clouds.InstanceSpec{InstanceType: "m7i.large", UserData: sleeper, Tags: map[string]string{"suite": "groups"}}
	cloudtest.TestGroups(t, func(t *testing.T) clouds.Groups { return harnessFor(t) }, spec)
}

func TestLoadBalancers(t *testing.T) {
	t.Parallel()
	spec := clouds.LoadBalancerSpec{
		Protocol: clouds.ProtocolTCP, Port: 80, TargetPort: 8080,
		HealthCheck: clouds.HealthCheck{Protocol: clouds.ProtocolTCP, Interval: 10 * time.Second, HealthyThreshold: 2, UnhealthyThreshold: 2},
		Tags:        map[string]string{"suite": "loadbalancers"},
	}
	targets := func(t *testing.T) []string {
		h := harnessFor(t)
		zones := h.fake.Zones()
		return []string{runningInstance(t, h, zones[0]), runningInstance(t, h, zones[1])}
	}
	cloudtest.TestLoadBalancers(t, func(t *testing.T) clouds.LoadBalancers { return harnessFor(t) }, spec, targets)
}

func TestDisks(t *testing.T) {
	t.Parallel()
	const zone = "us-east-1a" // the first zone of every harness's fake
	spec := clouds.DiskSpec{SizeGiB: 10, Type: "gp3", Zone: zone, Tags: map[string]string{"suite": "disks"}}
	instance := func(t *testing.T) string { return runningInstance(t, harnessFor(t), zone) }
	cloudtest.TestDisks(t, func(t *testing.T) clouds.Disks { return harnessFor(t) }, spec, instance)
}

func TestApplicationLoadBalancer(t *testing.T) {
	t.Parallel()
	h, ctx := newHarness(t, awsfake.Options{}), t.Context()
	spec := clouds.LoadBalancerSpec{Name: "web", Protocol: clouds.ProtocolHTTPS, Port: 443, TargetPort: 8080,
		CertificateID: "arn:aws:acm:us-east-1:123456789012:certificate/fake",
		HealthCheck:   clouds.HealthCheck{Protocol: clouds.ProtocolHTTP, Path: "/healthz"}}
	if _, err := h.CreateLoadBalancer(ctx, clouds.LoadBalancerSpec{Name: "nocert", Protocol: clouds.ProtocolHTTPS, Port: 443, TargetPort: 80}); !errors.Is(err, clouds.ErrInvalid) {
		t.Errorf("https without certificate = %v, want ErrInvalid", err)
	}
	lb, err := h.CreateLoadBalancer(ctx, spec)
	if err != nil {
		t.Fatalf("CreateLoadBalancer(https): %v", err)
	}
	if !strings.Contains(lb.ID, ":loadbalancer/app/web/") || lb.Address == "" || lb.Port != 443 {
		t.Errorf("load balancer = %+v, want an application load balancer with an address on 443", lb)
	}
	id := runningInstance(t, h, h.fake.Zones()[0])
	if err := h.RegisterTargets(ctx, "web", id); err != nil {
		t.Fatalf("RegisterTargets: %v", err)
	}
	waitFor(t, "target healthy", func() bool {
		got, err := h.GetLoadBalancer(ctx, "web")
		return err == nil && len(got.Targets) == 1 && got.Targets[0].Health == clouds.TargetHealthy
	})
	if err := h.DeleteInstance(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "terminated target drained", func() bool {
		got, err := h.GetLoadBalancer(ctx, "web")
		return err == nil && len(got.Targets) == 0
	})
	if err := h.DeleteLoadBalancer(ctx, "web"); err != nil {
		t.Fatalf("DeleteLoadBalancer: %v", err)
	}
	if n := h.fake.Calls("DeleteTargetGroup"); n < 1 {
		t.Errorf("DeleteTargetGroup calls = %d, want the target group deleted", n)
	}
}

func TestUserDataRoundTrip(t *testing.T) {
	t.Parallel()
	h, ctx := newHarness(t, awsfake.Options{}), t.Context()
	userData := "#cloud-config\nruncmd:\n  - [algos, agent, --join-token, s3cr3t-join-token]\n# ünïcødé ✓\n"
	in, err := h.CreateInstance(ctx, clouds.InstanceSpec{InstanceType: "g5.xlarge", UserData: userData})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := h.fake.UserData(in.ID); !ok || got != userData {
		t.Errorf("user data at EC2 = %q, want %q", got, userData)
	}

	spec := clouds.GroupSpec{Name: "ud", Min: 0, Max: 2, Desired: 2,
		Template: clouds.InstanceSpec{InstanceType: "g5.xlarge", UserData: userData, Tags: map[string]string{"pool": "ud"}}}
	if _, err := h.CreateGroup(ctx, spec); err != nil {
		t.Fatal(err)
	}
	var members []clouds.Instance
	waitFor(t, "two members", func() bool {
		members, err = h.ListMembers(ctx, "ud")
		return err == nil && len(members) == 2
	})
	for _, m := range members {
		if got, _ := h.fake.UserData(m.ID); got != userData {
			t.Errorf("member %s user data = %q, want %q", m.ID, got, userData)
		}
		if m.Tags["pool"] != "ud" || m.InstanceType != "g5.xlarge" {
			t.Errorf("member %+v lacks the template's tags or type", m)
		}
	}
	if err := h.DeleteGroup(ctx, "ud"); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"s3cr3t-join-token", awsfake.SecretAccessKey} {
		if strings.Contains(h.logs.String(), secret) {
			t.Errorf("the driver logged %q:\n%s", secret, h.logs.String())
		}
	}
}

func TestInstanceTypes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, awsfake.Options{})
	zones := h.fake.Zones()
	types, err := h.InstanceTypes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]clouds.InstanceType{}
	for _, it := range types {
		byName[it.Name] = it
	}
	p5, ok := byName["p5.48xlarge"]
	if !ok {
		t.Fatal("no p5.48xlarge")
	}
	want := clouds.GPU{Model: "NVIDIA H100", Count: 8, MemoryMiB: 80 * 1024}
	if len(p5.GPUs) != 1 || p5.GPUs[0] != want || p5.GPUCount() != 8 || p5.VCPU != 192 || p5.Arch != "amd64" || p5.PricePerHour <= 0 {
		t.Errorf("p5.48xlarge = %+v, want 192 vCPUs and %+v", p5, want)
	}
	// The fake offers p5.48xlarge on demand in the first two zones, spot in the second.
	wantOfferings := []clouds.Offering{
		{Zone: zones[0], Available: true, PricePerHour: p5.PricePerHour},
		{Zone: zones[1], Available: true, PricePerHour: p5.PricePerHour},
		{Zone: zones[1], Spot: true, Available: true, PricePerHour: 21.5},
	}
	if !slices.Equal(p5.Offerings, wantOfferings) {
		t.Errorf("p5.48xlarge offerings = %+v, want %+v", p5.Offerings, wantOfferings)
	}
	if g := byName["g5.12xlarge"]; g.GPUCount() != 4 || g.GPUs[0].Model != "NVIDIA A10G" || len(g.Offerings) != 2*len(zones) {
		t.Errorf("g5.12xlarge = %+v, want 4 A10G offered on demand and spot in every zone", g)
	}
	if a := byName["p4d.24xlarge"]; a.GPUs[0] != (clouds.GPU{Model: "NVIDIA A100", Count: 8, MemoryMiB: 40 * 1024}) {
		t.Errorf("p4d.24xlarge GPUs = %+v, want 8 A100 40 GB", a.GPUs)
	}
	if c := byName["c7i.large"]; c.GPUs != nil || c.VCPU != 2 {
		t.Errorf("c7i.large = %+v, want 2 vCPUs and no GPU", c)
	}
	if g := byName["g6.48xlarge"]; len(g.Offerings) != 0 || g.GPUCount() != 8 || g.GPUs[0].Model != "NVIDIA L4" {
		t.Errorf("g6.48xlarge = %+v, want 8 L4 and no offerings (the fake has none)", g)
	}

	calls := h.fake.Calls("DescribeInstanceTypeOfferings")
	if _, err := h.InstanceTypes(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := h.fake.Calls("DescribeInstanceTypeOfferings"); got != calls {
		t.Errorf("second InstanceTypes called DescribeInstanceTypeOfferings again (%d → %d), want the cache", calls, got)
	}
	cat := aws.Catalog()
	cat[0].GPUs[0].Count = 99
	if aws.Catalog()[0].GPUs[0].Count == 99 {
		t.Error("Catalog returns shared slices")
	}
}
