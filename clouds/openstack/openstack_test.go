package openstack_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/algos-dev/algos/clouds"
	"github.com/algos-dev/algos/clouds/cloudtest"
	"github.com/algos-dev/algos/clouds/openstack"
	"github.com/algos-dev/algos/clouds/openstack/osfake"
)

const sleeper = "#!/bin/sh\nexec sleep 600\n"

// harness is the real driver authenticated against its own fake; it implements
// cloudtest.Faults.
type harness struct {
	*openstack.Driver
	fake *osfake.Server
	logs *syncBuffer
}

var _ cloudtest.Faults = (*harness)(nil)

// StockOut makes instanceType out of capacity in the fake's first zone until t ends.
func (h *harness) StockOut(t *testing.T, instanceType string) (out, in string) {
	zones := h.fake.Zones()
	t.Cleanup(h.fake.StockOut(zones[0], instanceType))
	return zones[0], zones[1]
}

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

// config is a driver config for fake with fast polling and retries.
func config(t *testing.T, fake *osfake.Server, logs io.Writer) openstack.Config {
	return openstack.Config{
		AuthURL: fake.AuthURL(), Region: osfake.Region, DomainName: osfake.DomainName,
		Username: osfake.Username, Password: osfake.Password, ProjectName: osfake.ProjectName,
		Network: fake.NetworkID(), Subnet: fake.SubnetID(), Image: "cirros",
		Logger:       slog.New(slog.NewTextHandler(io.MultiWriter(logs, t.Output()), &slog.HandlerOptions{Level: slog.LevelDebug})),
		PollInterval: 2 * time.Millisecond, MaxBackoff: 2 * time.Millisecond,
	}
}

// newHarness starts a fake and a driver on it; mod adjusts the config.
func newHarness(t *testing.T, opts osfake.Options, mod ...func(*openstack.Config)) *harness {
	t.Helper()
	fake := osfake.New(opts)
	t.Cleanup(fake.Close)
	logs := &syncBuffer{}
	cfg := config(t, fake, logs)
	for _, m := range mod {
		m(&cfg)
	}
	d, err := openstack.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &harness{Driver: d, fake: fake, logs: logs}
}

// harnesses gives every (sub)test its own fake, shared by newDriver and the suites'
// instance helpers of that test.
var harnesses sync.Map // *testing.T → *harness

func harnessFor(t *testing.T) *harness {
	if h, ok := harnesses.Load(t); ok {
		return h.(*harness)
	}
	h := newHarness(t, osfake.Options{})
	harnesses.Store(t, h)
	t.Cleanup(func() { harnesses.Delete(t) })
	return h
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// runningInstance launches an instance in zone and waits until it runs; it is deleted
// when t ends.
func runningInstance(t *testing.T, h *harness, zone string) string {
	t.Helper()
	ctx := t.Context()
	in, err := h.CreateInstance(ctx, clouds.InstanceSpec{InstanceType: "m1.small", Zone: zone, UserData: sleeper})
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

func TestCompute(t *testing.T) {
	t.Parallel()
	spec := clouds.InstanceSpec{InstanceType: "m1.small", UserData: sleeper, Tags: map[string]string{"suite": "compute"}}
	cloudtest.TestCompute(t, func(t *testing.T) clouds.Compute { return harnessFor(t) }, spec)
}

func TestGroups(t *testing.T) {
	t.Parallel()
	spec := clouds.InstanceSpec{InstanceType: "m1.small", UserData: sleeper, Tags: map[string]string{"suite": "groups"}}
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
	const zone = "az-1" // the first zone of every harness's fake
	spec := clouds.DiskSpec{SizeGiB: 10, Type: "ssd", Zone: zone, Tags: map[string]string{"suite": "disks"}}
	instance := func(t *testing.T) string { return runningInstance(t, harnessFor(t), zone) }
	cloudtest.TestDisks(t, func(t *testing.T) clouds.Disks { return harnessFor(t) }, spec, instance)
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	ok := openstack.Config{AuthURL: "https://keystone.example.com/v3", Username: "u", Password: "p", ProjectName: "p", DomainName: "Default"}
	cases := []struct {
		name  string
		mod   func(*openstack.Config)
		valid bool
	}{
		{"password", func(*openstack.Config) {}, true},
		{"application credential", func(c *openstack.Config) {
			*c = openstack.Config{AuthURL: c.AuthURL, ApplicationCredentialID: "id", ApplicationCredentialSecret: "s"}
		}, true},
		{"cloud", func(c *openstack.Config) { *c = openstack.Config{Cloud: "mycloud", Region: "r"} }, true},
		{"environment", func(c *openstack.Config) { *c = openstack.Config{} }, true},
		{"cloud and credentials", func(c *openstack.Config) { c.Cloud = "mycloud" }, false},
		{"both credentials", func(c *openstack.Config) { c.ApplicationCredentialID, c.ApplicationCredentialSecret = "id", "s" }, false},
		{"no project", func(c *openstack.Config) { c.ProjectName = "" }, false},
		{"no domain", func(c *openstack.Config) { c.DomainName = "" }, false},
		{"half an application credential", func(c *openstack.Config) {
			*c = openstack.Config{AuthURL: c.AuthURL, ApplicationCredentialID: "id"}
		}, false},
		{"credentials without auth URL", func(c *openstack.Config) { c.AuthURL = "" }, false},
		{"bad auth URL", func(c *openstack.Config) { c.AuthURL = "keystone:5000" }, false},
		{"negative price", func(c *openstack.Config) { c.PricePerHour = map[string]float64{"m1.small": -1} }, false},
		{"negative poll interval", func(c *openstack.Config) { c.PollInterval = -time.Second }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := ok
			tc.mod(&c)
			if err := c.Validate(); (err == nil) != tc.valid {
				t.Errorf("Validate() = %v, want valid %v", err, tc.valid)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	fake := osfake.New(osfake.Options{})
	t.Cleanup(fake.Close)
	logs := &syncBuffer{}
	bad := config(t, fake, logs)
	bad.Password = "wrong"
	if _, err := openstack.New(t.Context(), bad); !errors.Is(err, clouds.ErrAuth) {
		t.Errorf("New(wrong password) = %v, want ErrAuth", err)
	}
	appCred := config(t, fake, logs)
	appCred.Username, appCred.Password, appCred.ProjectName, appCred.DomainName = "", "", "", ""
	appCred.ApplicationCredentialID, appCred.ApplicationCredentialSecret = osfake.ApplicationCredentialID, osfake.ApplicationCredentialSecret
	d, err := openstack.New(t.Context(), appCred)
	if err != nil {
		t.Fatalf("New(application credential): %v", err)
	}
	// An expired token is replaced transparently.
	fake.RevokeTokens()
	if _, err := d.ListInstances(t.Context(), clouds.Filter{}); err != nil {
		t.Errorf("ListInstances after the token was revoked: %v", err)
	}
	for _, secret := range []string{osfake.Password, osfake.ApplicationCredentialSecret} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the driver logged %q", secret)
		}
	}
}

func TestErrorMapping(t *testing.T) {
	t.Parallel()
	h, ctx := newHarness(t, osfake.Options{InstanceQuota: 1, GigabytesQuota: 15}), t.Context()
	small := clouds.InstanceSpec{InstanceType: "m1.small", UserData: sleeper}
	id := runningInstance(t, h, "")

	if _, err := h.CreateInstance(ctx, small); !isQuota(err, "instances") {
		t.Errorf("CreateInstance beyond the instance quota = %v, want *QuotaError for instances", err)
	}
	if _, err := h.CreateDisk(ctx, clouds.DiskSpec{Name: "big", SizeGiB: 20}); !isQuota(err, "gigabytes") {
		t.Errorf("CreateDisk beyond the gigabytes quota = %v, want *QuotaError for gigabytes", err)
	}
	if _, err := h.CreateDisk(ctx, clouds.DiskSpec{Name: "typo", SizeGiB: 1, Type: "nvme"}); !errors.Is(err, clouds.ErrInvalid) {
		t.Errorf("CreateDisk(unknown type) = %v, want ErrInvalid", err)
	}
	for _, spec := range []clouds.InstanceSpec{
		{InstanceType: "m1.nonexistent"}, {InstanceType: "m1.small", Image: "no-such-image"},
		{InstanceType: "m1.small", Zone: "az-9"}, {InstanceType: "m1.small", Spot: true},
		{InstanceType: "m1.small", UserData: strings.Repeat("x", 60000)},
	} {
		if _, err := h.CreateInstance(ctx, spec); !errors.Is(err, clouds.ErrInvalid) {
			t.Errorf("CreateInstance(%+v) = %v, want ErrInvalid", spec, err)
		}
	}

	cases := []struct {
		name  string
		fault osfake.Fault
		call  func() error
		check func(error) bool
		want  string
	}{
		{"nova quota 403", osfake.Fault{Method: "GET", PathSuffix: "/servers/" + id, Status: 403,
			Body: `{"forbidden": {"code": 403, "message": "Quota exceeded for cores: Requested 8, but already used 20 of 20 cores"}}`},
			func() error { _, err := h.GetInstance(ctx, id); return err },
			func(err error) bool { return isQuota(err, "vcpus") }, "*QuotaError for vcpus"},
		{"octavia quota 403", osfake.Fault{Method: "POST", PathSuffix: "/loadbalancers", Status: 403,
			Body: `{"faultcode": "Client", "faultstring": "Quota has been met for resources: Load Balancer", "debuginfo": null}`},
			func() error {
				_, err := h.CreateLoadBalancer(ctx, clouds.LoadBalancerSpec{Name: "q", Protocol: clouds.ProtocolTCP, Port: 80})
				return err
			},
			func(err error) bool { return isQuota(err, "load balancer") }, "*QuotaError for load balancer"},
		{"policy 403", osfake.Fault{Method: "GET", PathSuffix: "/servers/" + id, Status: 403,
			Body: `{"forbidden": {"code": 403, "message": "Policy doesn't allow os_compute_api:servers:show to be performed."}}`},
			func() error { _, err := h.GetInstance(ctx, id); return err },
			func(err error) bool { return errors.Is(err, clouds.ErrAuth) && !errors.Is(err, clouds.ErrQuota) }, "ErrAuth"},
		{"401 after re-authentication", osfake.Fault{Method: "GET", PathSuffix: "/servers/" + id, Status: 401, Times: 2},
			func() error { _, err := h.GetInstance(ctx, id); return err },
			func(err error) bool { return errors.Is(err, clouds.ErrAuth) }, "ErrAuth"},
		{"404", osfake.Fault{},
			func() error { _, err := h.GetDisk(ctx, "0b0b0b0b-0000-4000-8000-000000000000"); return err },
			func(err error) bool { return errors.Is(err, clouds.ErrNotFound) }, "ErrNotFound"},
		{"500", osfake.Fault{Method: "GET", PathSuffix: "/servers/detail", Status: 500,
			Body: `{"computeFault": {"code": 500, "message": "Unexpected API Error."}}`},
			func() error { _, err := h.ListInstances(ctx, clouds.Filter{}); return err },
			func(err error) bool {
				return err != nil && !errors.Is(err, clouds.ErrInvalid) && !errors.Is(err, clouds.ErrNotFound) && !errors.Is(err, clouds.ErrAuth)
			}, "an unclassified error"},
	}
	for _, tc := range cases {
		remove := func() {}
		if tc.fault.Status != 0 {
			remove = h.fake.Inject(tc.fault)
		}
		err := tc.call()
		remove()
		if !tc.check(err) {
			t.Errorf("%s: got %v, want %s", tc.name, err, tc.want)
		}
		var oe *openstack.Error
		var rc gophercloud.ErrUnexpectedResponseCode
		if err != nil && (!errors.As(err, &oe) || !errors.As(err, &rc)) {
			t.Errorf("%s: %v is not an *openstack.Error wrapping gophercloud's ErrUnexpectedResponseCode", tc.name, err)
		}
	}
}

func isQuota(err error, resource string) bool {
	var q *clouds.QuotaError
	return errors.As(err, &q) && errors.Is(err, clouds.ErrQuota) && q.Resource == resource && q.Region == osfake.Region
}

func TestRetry(t *testing.T) {
	t.Parallel()
	h, ctx := newHarness(t, osfake.Options{}), t.Context()
	h.fake.Throttle(3)
	before := h.fake.Calls("GET", "/servers/detail")
	if _, err := h.ListInstances(ctx, clouds.Filter{}); err != nil {
		t.Fatalf("ListInstances through three 429s: %v", err)
	}
	if n := h.fake.Calls("GET", "/servers/detail") - before; n != 4 {
		t.Errorf("ListInstances made %d requests, want 4 (three throttled, one served)", n)
	}
	h.fake.Inject(osfake.Fault{Method: "POST", PathSuffix: "/servers", Status: http.StatusServiceUnavailable, Times: 2})
	in, err := h.CreateInstance(ctx, clouds.InstanceSpec{InstanceType: "m1.small"})
	if err != nil {
		t.Fatalf("CreateInstance through two 503s: %v", err)
	}
	t.Cleanup(func() { _ = h.DeleteInstance(context.Background(), in.ID) })

	// Past MaxRetries the throttling error comes back, unclassified.
	h.fake.Throttle(20)
	_, err = h.ListInstances(ctx, clouds.Filter{})
	if rc := (gophercloud.ErrUnexpectedResponseCode{}); !errors.As(err, &rc) || rc.Actual != 429 || errors.Is(err, clouds.ErrInvalid) {
		t.Errorf("ListInstances throttled past MaxRetries = %v, want the 429", err)
	}
}

// TestRetryBoundedByContext: a long backoff ends with the context.
func TestRetryBoundedByContext(t *testing.T) {
	t.Parallel()
	h := newHarness(t, osfake.Options{}, func(c *openstack.Config) { c.MaxBackoff = time.Hour; c.MaxRetries = 100 })
	h.fake.Inject(osfake.Fault{Status: 429, Times: 1000, Header: http.Header{"Retry-After": {"3600"}}})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := h.ListInstances(ctx, clouds.Filter{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ListInstances while throttled with a 50ms deadline = %v, want DeadlineExceeded", err)
	}
}
