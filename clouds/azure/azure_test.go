package azure_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/algos-dev/algos/clouds"
	"github.com/algos-dev/algos/clouds/azure"
	"github.com/algos-dev/algos/clouds/azure/azurefake"
	"github.com/algos-dev/algos/clouds/cloudtest"
)

const (
	sleeper = "#!/bin/sh\nexec sleep 600\n"
	sshKey  = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBnotarealkeyjustfortestsxxxxxxxxxxxxxxxx algos@test"
	// size is the VM size of the suites' instances.
	size = "Standard_D2s_v5"
)

// harness is the real driver against its own fake, implementing cloudtest.Faults.
type harness struct {
	*azure.Driver
	fake *azurefake.Server
	logs *syncBuffer
}

// StockOut makes size out of capacity in the fake's first zone until t ends.
func (h *harness) StockOut(t *testing.T, size string) (out, in string) {
	zones := h.fake.Zones()
	t.Cleanup(h.fake.StockOut(zones[0], size))
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

// newHarness starts a fake and a driver on it with fast polling and retries; mod adjusts
// the config.
func newHarness(t *testing.T, opts azurefake.Options, mod ...func(*azure.Config)) *harness {
	t.Helper()
	fake := azurefake.New(opts)
	co := fake.ClientOptions()
	co.Retry = policy.RetryOptions{MaxRetries: 3, RetryDelay: time.Millisecond, MaxRetryDelay: 5 * time.Millisecond}
	logs := &syncBuffer{}
	cfg := azure.Config{
		SubscriptionID:     fake.SubscriptionID(),
		ResourceGroup:      fake.ResourceGroup(),
		Location:           fake.Location(),
		Zones:              fake.Zones(),
		SubnetID:           fake.SubnetID(),
		Credential:         fake.Credential(),
		ClientOptions:      co,
		SSHPublicKey:       sshKey,
		Logger:             slog.New(slog.NewTextHandler(io.MultiWriter(logs, t.Output()), &slog.HandlerOptions{Level: slog.LevelDebug})),
		PollInterval:       5 * time.Millisecond,
		ConsistencyTimeout: 5 * time.Second,
	}
	for _, m := range mod {
		m(&cfg)
	}
	d, err := azure.New(t.Context(), cfg)
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
	h := newHarness(t, azurefake.Options{})
	harnesses.Store(t, h)
	t.Cleanup(func() {
		harnesses.Delete(t)
		h.checkEmpty(t)
	})
	return h
}

// checkEmpty waits until the fake holds nothing: every suite case deletes what it created
// (deletions finish asynchronously), so anything left is a leak.
func (h *harness) checkEmpty(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for h.fake.Counts() != (azurefake.Counts{}) {
		if time.Now().After(deadline) {
			t.Errorf("resources left in the fake after the test: %+v", h.fake.Counts())
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runningInstance launches an instance in zone and waits until it runs; it is deleted when
// t ends.
func runningInstance(t *testing.T, h *harness, zone string) string {
	t.Helper()
	ctx := t.Context()
	in, err := h.CreateInstance(ctx, clouds.InstanceSpec{Name: "target", InstanceType: size, Zone: zone, UserData: sleeper})
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

// waitFor polls cond until it holds, failing after a generous deadline; it never asserts
// how long anything took.
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
	spec := clouds.InstanceSpec{InstanceType: size, UserData: sleeper, Tags: map[string]string{"suite": "compute"}}
	cloudtest.TestCompute(t, func(t *testing.T) clouds.Compute { return harnessFor(t) }, spec)
}

func TestGroups(t *testing.T) {
	t.Parallel()
	spec := clouds.InstanceSpec{InstanceType: size, UserData: sleeper, Tags: map[string]string{"suite": "groups"}}
	cloudtest.TestGroups(t, func(t *testing.T) clouds.Groups { return harnessFor(t) }, spec)
}

func TestLoadBalancers(t *testing.T) {
	t.Parallel()
	spec := clouds.LoadBalancerSpec{
		Protocol: clouds.ProtocolTCP, Port: 80, TargetPort: 8080,
		HealthCheck: clouds.HealthCheck{Protocol: clouds.ProtocolTCP, Interval: 5 * time.Second, HealthyThreshold: 2, UnhealthyThreshold: 2},
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
	const zone = "1" // a zone of every harness's fake
	spec := clouds.DiskSpec{SizeGiB: 16, Type: "Premium_LRS", Zone: zone, Tags: map[string]string{"suite": "disks"}}
	instance := func(t *testing.T) string { return runningInstance(t, harnessFor(t), zone) }
	cloudtest.TestDisks(t, func(t *testing.T) clouds.Disks { return harnessFor(t) }, spec, instance)
}
