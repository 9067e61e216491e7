package aws_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/algos-dev/algos/clouds"
	"github.com/algos-dev/algos/clouds/aws"
	"github.com/algos-dev/algos/clouds/aws/awsfake"
)

// checkKind asserts that err is exactly of the wanted kind: the sentinel (nil: none of
// them), and for capacity and quota the typed error's fields.
func checkKind(t *testing.T, err error, want error) {
	t.Helper()
	if err == nil {
		if want != nil {
			t.Fatalf("no error, want %v", want)
		}
		return
	}
	sentinels := []error{clouds.ErrNotFound, clouds.ErrAlreadyExists, clouds.ErrInvalid, clouds.ErrCapacity, clouds.ErrQuota, clouds.ErrAuth}
	for _, s := range sentinels {
		wantIt := false
		switch w := want.(type) {
		case *clouds.CapacityError:
			wantIt = s == clouds.ErrCapacity
			var ce *clouds.CapacityError
			if errors.As(err, &ce) && (ce.Zone != w.Zone || ce.InstanceType != w.InstanceType || ce.Spot != w.Spot || ce.Msg == "") {
				t.Errorf("CapacityError = %+v, want zone %q, type %q, spot %v and AWS's message", ce, w.Zone, w.InstanceType, w.Spot)
			}
		case *clouds.QuotaError:
			wantIt = s == clouds.ErrQuota
			var qe *clouds.QuotaError
			if errors.As(err, &qe) && (qe.Resource != w.Resource || qe.Region != "us-east-1" || qe.Msg == "") {
				t.Errorf("QuotaError = %+v, want resource %q in us-east-1 with AWS's message", qe, w.Resource)
			}
		default:
			wantIt = s == want
		}
		if errors.Is(err, s) != wantIt {
			t.Errorf("errors.Is(%v, %v) = %v, want %v", err, s, !wantIt, wantIt)
		}
	}
}

// TestErrorMapping injects each AWS error code, in the service's own XML error format and
// HTTP status, into the call a driver method makes, and checks the clouds error it becomes.
func TestErrorMapping(t *testing.T) {
	t.Parallel()
	const zone, typ = "us-east-1b", "m7i.large"
	createInstance := func(spot bool) func(context.Context, *harness) error {
		return func(ctx context.Context, h *harness) error {
			_, err := h.CreateInstance(ctx, clouds.InstanceSpec{InstanceType: typ, Zone: zone, Spot: spot})
			return err
		}
	}
	getInstance := func(ctx context.Context, h *harness) error {
		_, err := h.GetInstance(ctx, "i-0123456789abcdef0")
		return err
	}
	createDisk := func(ctx context.Context, h *harness) error {
		_, err := h.CreateDisk(ctx, clouds.DiskSpec{Zone: zone, SizeGiB: 1})
		return err
	}
	getDisk := func(ctx context.Context, h *harness) error {
		_, err := h.GetDisk(ctx, "vol-0123456789abcdef0")
		return err
	}
	createGroup := func(ctx context.Context, h *harness) error {
		_, err := h.CreateGroup(ctx, clouds.GroupSpec{Name: "g", Max: 1, Template: clouds.InstanceSpec{InstanceType: typ}})
		return err
	}
	getGroup := func(ctx context.Context, h *harness) error {
		_, err := h.GetGroup(ctx, "g")
		return err
	}
	createLB := func(ctx context.Context, h *harness) error {
		_, err := h.CreateLoadBalancer(ctx, clouds.LoadBalancerSpec{Name: "lb", Protocol: clouds.ProtocolTCP, Port: 80, TargetPort: 80})
		return err
	}
	capacity := &clouds.CapacityError{Zone: zone, InstanceType: typ}
	cases := []struct {
		action, code string
		call         func(context.Context, *harness) error
		want         error
	}{
		{"RunInstances", "InsufficientInstanceCapacity", createInstance(false), capacity},
		{"RunInstances", "InsufficientCapacity", createInstance(false), capacity},
		{"RunInstances", "Unsupported", createInstance(false), capacity},
		{"RunInstances", "InsufficientInstanceCapacity", createInstance(true), &clouds.CapacityError{Zone: zone, InstanceType: typ, Spot: true}},
		{"RunInstances", "SpotMaxPriceTooLow", createInstance(true), &clouds.CapacityError{Zone: zone, InstanceType: typ, Spot: true}},
		{"RunInstances", "InstanceLimitExceeded", createInstance(false), &clouds.QuotaError{Resource: "instances"}},
		{"RunInstances", "VcpuLimitExceeded", createInstance(false), &clouds.QuotaError{Resource: "vcpus"}},
		{"RunInstances", "AuthFailure", createInstance(false), clouds.ErrAuth},
		{"RunInstances", "UnauthorizedOperation", createInstance(false), clouds.ErrAuth},
		{"RunInstances", "InvalidParameterValue", createInstance(false), clouds.ErrInvalid},
		// A create naming a missing security group is the caller's mistake, not a missing object.
		{"RunInstances", "InvalidGroup.NotFound", createInstance(false), clouds.ErrInvalid},
		{"DescribeInstances", "InvalidInstanceID.NotFound", getInstance, clouds.ErrNotFound},
		{"DescribeInstances", "InvalidGroup.NotFound", getInstance, clouds.ErrNotFound},
		{"DescribeInstances", "RequestLimitExceeded", getInstance, nil},
		{"DescribeVolumes", "InvalidVolume.NotFound", getDisk, clouds.ErrNotFound},
		{"CreateVolume", "InsufficientVolumeCapacity", createDisk, &clouds.CapacityError{Zone: zone, InstanceType: "gp3"}},
		{"CreateVolume", "VolumeLimitExceeded", createDisk, &clouds.QuotaError{Resource: "volumes"}},
		{"CreateAutoScalingGroup", "AlreadyExists", createGroup, clouds.ErrAlreadyExists},
		{"CreateAutoScalingGroup", "LimitExceeded", createGroup, &clouds.QuotaError{}},
		{"DescribeAutoScalingGroups", "AccessDenied", getGroup, clouds.ErrAuth},
		{"DescribeAutoScalingGroups", "Throttling", getGroup, nil},
		{"CreateLoadBalancer", "DuplicateLoadBalancerName", createLB, clouds.ErrAlreadyExists},
		{"CreateLoadBalancer", "TooManyLoadBalancers", createLB, &clouds.QuotaError{Resource: "load balancers"}},
		{"CreateLoadBalancer", "InvalidClientTokenId", createLB, clouds.ErrAuth},
		{"CreateLoadBalancer", "SignatureDoesNotMatch", createLB, clouds.ErrAuth},
		{"CreateLoadBalancer", "ValidationError", createLB, clouds.ErrInvalid},
		{"CreateTargetGroup", "TooManyTargetGroups", createLB, &clouds.QuotaError{Resource: "target groups"}},
		{"DescribeLoadBalancers", "LoadBalancerNotFound", func(ctx context.Context, h *harness) error {
			_, err := h.GetLoadBalancer(ctx, "lb")
			return err
		}, clouds.ErrNotFound},
	}
	for _, tc := range cases {
		name := tc.action + "/" + tc.code
		if ce, ok := tc.want.(*clouds.CapacityError); ok && ce.Spot {
			name += "/spot"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, awsfake.Options{}, func(c *aws.Config) { c.MaxRetries = -1 })
			h.fake.FailNext(tc.action, tc.code, 1)
			err := tc.call(t.Context(), h)
			if err == nil {
				t.Fatalf("no error, want one for %s", tc.code)
			}
			checkKind(t, err, tc.want)
			var ae *aws.Error
			var api smithy.APIError
			if !errors.As(err, &ae) || ae.Code != tc.code || !errors.As(err, &api) || api.ErrorCode() != tc.code {
				t.Errorf("error %v: want an *aws.Error and a smithy.APIError with code %s", err, tc.code)
			}
			if n := h.fake.Calls(tc.action); n != 1 {
				t.Errorf("%s called %d times, want 1", tc.action, n)
			}
		})
	}
}

// TestAuth signs with credentials the fake does not accept: the fake checks SigV4
// signatures as AWS does and answers each service's own code.
func TestAuth(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, key, secret string }{
		{"wrong secret", awsfake.AccessKeyID, "not-the-secret"},
		{"unknown key", "AKIAUNKNOWNUNKNOWN00", awsfake.SecretAccessKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, awsfake.Options{}, func(c *aws.Config) { c.AccessKeyID, c.SecretAccessKey = tc.key, tc.secret })
			ctx := t.Context()
			_, err := h.CreateInstance(ctx, clouds.InstanceSpec{InstanceType: "m7i.large"})
			checkKind(t, err, clouds.ErrAuth)
			_, err = h.GetGroup(ctx, "g")
			checkKind(t, err, clouds.ErrAuth)
			_, err = h.GetLoadBalancer(ctx, "lb")
			checkKind(t, err, clouds.ErrAuth)
			if strings.Contains(fmt.Sprint(err), tc.secret) {
				t.Errorf("error %v carries the secret", err)
			}
		})
	}
}

// TestRetries: throttling is retried with backoff, by the SDK's retryer; capacity errors
// (HTTP 500 at EC2) are not.
func TestRetries(t *testing.T) {
	t.Parallel()
	t.Run("ThrottledTwice", func(t *testing.T) {
		t.Parallel()
		h, ctx := newHarness(t, awsfake.Options{}), t.Context()
		h.fake.FailNext("RunInstances", "RequestLimitExceeded", 2)
		in, err := h.CreateInstance(ctx, clouds.InstanceSpec{InstanceType: "m7i.large", Tags: map[string]string{"t": "throttle"}})
		if err != nil {
			t.Fatalf("CreateInstance after two throttles: %v", err)
		}
		if n := h.fake.Calls("RunInstances"); n != 3 {
			t.Errorf("RunInstances called %d times, want 3", n)
		}
		list, err := h.ListInstances(ctx, clouds.Filter{Tags: map[string]string{"t": "throttle"}})
		if err != nil || len(list) != 1 || list[0].ID != in.ID {
			t.Errorf("ListInstances = %v, %v: want exactly %s", list, err, in.ID)
		}
		h.fake.FailNext("DescribeAutoScalingGroups", "Throttling", 2)
		if _, err := h.GetGroup(ctx, "missing"); !errors.Is(err, clouds.ErrNotFound) {
			t.Errorf("GetGroup after two throttles = %v, want ErrNotFound", err)
		}
		h.fake.FailNext("DescribeLoadBalancers", "Throttling", 2)
		if _, err := h.GetLoadBalancer(ctx, "missing"); !errors.Is(err, clouds.ErrNotFound) {
			t.Errorf("GetLoadBalancer after two throttles = %v, want ErrNotFound", err)
		}
	})
	t.Run("ThrottledPastMaxRetries", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, awsfake.Options{}, func(c *aws.Config) { c.MaxRetries = 2 })
		h.fake.FailNext("DescribeInstances", "RequestLimitExceeded", 10)
		_, err := h.ListInstances(t.Context(), clouds.Filter{})
		checkKind(t, err, nil)
		if errors.As(err, new(*aws.Error)) && !strings.Contains(err.Error(), "RequestLimitExceeded") {
			t.Errorf("error %v does not name the throttling", err)
		}
		if n := h.fake.Calls("DescribeInstances"); n != 3 {
			t.Errorf("DescribeInstances called %d times, want 3 (1 + MaxRetries)", n)
		}
	})
	t.Run("TransientServerError", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, awsfake.Options{})
		h.fake.FailNext("RunInstances", "InternalError", 1)
		if _, err := h.CreateInstance(t.Context(), clouds.InstanceSpec{InstanceType: "m7i.large"}); err != nil {
			t.Errorf("CreateInstance after one InternalError: %v", err)
		}
	})
	t.Run("CapacityNotRetried", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, awsfake.Options{})
		h.fake.FailNext("RunInstances", "InsufficientInstanceCapacity", 1)
		_, err := h.CreateInstance(t.Context(), clouds.InstanceSpec{InstanceType: "m7i.large", Zone: "us-east-1a"})
		checkKind(t, err, &clouds.CapacityError{Zone: "us-east-1a", InstanceType: "m7i.large"})
		if n := h.fake.Calls("RunInstances"); n != 1 {
			t.Errorf("RunInstances called %d times, want 1: capacity errors fail fast", n)
		}
	})
}

// TestCapacityOneZone: a stockout of one type in one zone is a CapacityError for that zone
// only; a zone that does not offer the type is one too (Unsupported); a group spanning the
// zones gets its members where there is capacity.
func TestCapacityOneZone(t *testing.T) {
	t.Parallel()
	h, ctx := newHarness(t, awsfake.Options{}), t.Context()
	zones := h.fake.Zones() // p5.48xlarge is offered in the first two only
	undo := h.fake.StockOut(zones[0], "p5.48xlarge")
	defer undo()
	for _, z := range []string{zones[0], zones[2]} {
		_, err := h.CreateInstance(ctx, clouds.InstanceSpec{InstanceType: "p5.48xlarge", Zone: z})
		checkKind(t, err, &clouds.CapacityError{Zone: z, InstanceType: "p5.48xlarge"})
	}
	in, err := h.CreateInstance(ctx, clouds.InstanceSpec{InstanceType: "p5.48xlarge", Zone: zones[1], Spot: true})
	if err != nil || in.Zone != zones[1] || !in.Spot {
		t.Fatalf("CreateInstance(spot, %s) = %+v, %v: want a spot instance there", zones[1], in, err)
	}
	if _, err := h.CreateInstance(ctx, clouds.InstanceSpec{InstanceType: "m7i.large", Zone: zones[0]}); err != nil {
		t.Errorf("another type in the stocked-out zone: %v", err)
	}

	spec := clouds.GroupSpec{Name: "p5", Zones: zones, Max: 2, Desired: 2, Template: clouds.InstanceSpec{InstanceType: "p5.48xlarge", Spot: true}}
	if _, err := h.CreateGroup(ctx, spec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two members in "+zones[1], func() bool {
		members, err := h.ListMembers(ctx, "p5")
		n := 0
		for _, m := range members {
			if m.Zone == zones[1] && m.State.Active() && m.Spot {
				n++
			}
		}
		return err == nil && n == 2 && len(members) == 2
	})
	if g, err := h.GetGroup(ctx, "p5"); err != nil || !g.Spot || g.InstanceType != "p5.48xlarge" {
		t.Errorf("GetGroup = %+v, %v: want a spot group of p5.48xlarge", g, err)
	}
}

// TestEventualConsistency: objects just created are invisible for a few requests, as on
// AWS; the driver waits that out for what it created and nothing else.
func TestEventualConsistency(t *testing.T) {
	t.Parallel()
	h, ctx := newHarness(t, awsfake.Options{}), t.Context()
	h.fake.Lag(3)
	in, err := h.CreateInstance(ctx, clouds.InstanceSpec{InstanceType: "m7i.large"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.GetInstance(ctx, in.ID); err != nil {
		t.Errorf("GetInstance just after create: %v, want the instance", err)
	}
	if n := h.fake.Calls("DescribeInstances"); n != 4 {
		t.Errorf("DescribeInstances called %d times, want 4 (3 not found, then found)", n)
	}
	doomed, err := h.CreateInstance(ctx, clouds.InstanceSpec{InstanceType: "m7i.large"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.DeleteInstance(ctx, doomed.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := h.GetInstance(ctx, doomed.ID); err != nil || got.State.Active() {
		t.Errorf("instance deleted just after create = %+v, %v: want it stopping or terminated, not leaked", got, err)
	}
	disk, err := h.CreateDisk(ctx, clouds.DiskSpec{Zone: in.Zone, SizeGiB: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.GetDisk(ctx, disk.ID); err != nil {
		t.Errorf("GetDisk just after create: %v", err)
	}
	if _, err := h.CreateGroup(ctx, clouds.GroupSpec{Name: "lagged", Max: 1, Desired: 1, Template: clouds.InstanceSpec{InstanceType: "m7i.large"}}); err != nil {
		t.Errorf("CreateGroup with its launch template lagging: %v", err)
	}
	before := h.fake.Calls("DescribeInstances")
	if _, err := h.GetInstance(ctx, "i-00000000000000000"); !errors.Is(err, clouds.ErrNotFound) {
		t.Errorf("GetInstance(unknown) = %v, want ErrNotFound", err)
	}
	if n := h.fake.Calls("DescribeInstances") - before; n != 1 {
		t.Errorf("GetInstance(unknown) made %d calls, want 1: only IDs the driver created are waited for", n)
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	ok := aws.Config{Region: "us-east-1"}
	cases := []struct {
		name string
		mod  func(*aws.Config)
		ok   bool
	}{
		{"minimal", func(*aws.Config) {}, true},
		{"static", func(c *aws.Config) { c.AccessKeyID, c.SecretAccessKey, c.SessionToken = "AKIA", "s", "t" }, true},
		{"no region", func(c *aws.Config) { c.Region = "" }, false},
		{"key without secret", func(c *aws.Config) { c.AccessKeyID = "AKIA" }, false},
		{"token without keys", func(c *aws.Config) { c.SessionToken = "t" }, false},
		{"profile and keys", func(c *aws.Config) { c.Profile, c.AccessKeyID, c.SecretAccessKey = "p", "AKIA", "s" }, false},
		{"bad endpoint", func(c *aws.Config) { c.Endpoint = "localhost:1234" }, false},
		{"empty subnet", func(c *aws.Config) { c.Subnets = map[string]string{"us-east-1a": ""} }, false},
		{"negative poll", func(c *aws.Config) { c.PollInterval = -1 }, false},
	}
	for _, tc := range cases {
		c := ok
		tc.mod(&c)
		if err := c.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok %v", tc.name, err, tc.ok)
		}
		if _, err := aws.New(t.Context(), c); !tc.ok && err == nil {
			t.Errorf("%s: New accepted an invalid config", tc.name)
		}
	}
	c := aws.Config{Region: "us-east-1", AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "very-secret", SessionToken: "token-secret"}
	for _, s := range []string{c.String(), fmt.Sprint(c), c.LogValue().String()} {
		if strings.Contains(s, "very-secret") || strings.Contains(s, "token-secret") {
			t.Errorf("Config printed with its secrets: %s", s)
		}
	}
}

// TestContextBoundsRetries: the SDK's backoff between throttled attempts and the driver's
// own eventual-consistency loop both end when ctx does, with an error wrapping ctx.Err().
func TestContextBoundsRetries(t *testing.T) {
	t.Parallel()
	h := newHarness(t, awsfake.Options{}, func(c *aws.Config) {
		c.MaxRetries, c.MaxBackoff = 20, time.Minute
		c.PollInterval, c.ConsistencyTimeout = time.Second, time.Minute
	})
	h.fake.FailNext("DescribeInstances", "RequestLimitExceeded", 100)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := h.ListInstances(ctx, clouds.Filter{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ListInstances while throttled past the deadline = %v, want context.DeadlineExceeded", err)
	}

	h.fake.Lag(1 << 20)
	in, err := h.CreateInstance(t.Context(), clouds.InstanceSpec{InstanceType: "m7i.large"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := h.GetInstance(ctx, in.ID); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("GetInstance of an instance never visible = %v, want context.DeadlineExceeded", err)
	}
}
