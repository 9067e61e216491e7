package gcp_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/googleapi"

	"github.com/algos-dev/algos/clouds"
	"github.com/algos-dev/algos/clouds/gcp"
	"github.com/algos-dev/algos/clouds/gcp/gcpfake"
)

// TestErrorMapping injects GCE errors, answered directly or through the operation, and
// checks the sentinel the driver returns (and no other), and the typed error's fields.
func TestErrorMapping(t *testing.T) {
	t.Parallel()
	const (
		get    = "get"    // GetInstance: direct errors of GET .../instances/NAME
		create = "create" // CreateInstance: errors of POST .../instances and its operation
	)
	capacity := func(t *testing.T, err error) {
		var ce *clouds.CapacityError
		if !errors.As(err, &ce) || ce.Zone != "us-central1-a" || ce.InstanceType != gcp.DefaultInstanceType {
			t.Errorf("error %v: want *CapacityError for us-central1-a, %s", err, gcp.DefaultInstanceType)
		}
	}
	quota := func(resource string) func(*testing.T, error) {
		return func(t *testing.T, err error) {
			var qe *clouds.QuotaError
			if !errors.As(err, &qe) || qe.Resource != resource {
				t.Errorf("error %v: want *QuotaError for %q", err, resource)
			} else if strings.Contains(resource, "gpus") && qe.Region != "us-central1" {
				t.Errorf("QuotaError.Region = %q, want us-central1 (from the operation's quotaInfo)", qe.Region)
			}
		}
	}
	sdk := func(t *testing.T, err error) {
		var ge *googleapi.Error
		if !errors.As(err, &ge) {
			t.Errorf("error %v does not reach the SDK's *googleapi.Error", err)
		}
	}
	for _, tc := range []struct {
		name  string
		call  string
		fault gcpfake.Fault
		want  error
		check func(*testing.T, error)
	}{
		{"404 notFound", get, gcpfake.Fault{Code: 404, Reason: "notFound"}, clouds.ErrNotFound, sdk},
		{"409 alreadyExists", create, gcpfake.Fault{Code: 409, Reason: "alreadyExists"}, clouds.ErrAlreadyExists, sdk},
		{"400 invalid", create, gcpfake.Fault{Code: 400, Reason: "invalid"}, clouds.ErrInvalid, sdk},
		{"400 resourceInUseByAnotherResource", get, gcpfake.Fault{Code: 400, Reason: "resourceInUseByAnotherResource"}, clouds.ErrInvalid, sdk},
		{"404 on create: a missing reference", create, gcpfake.Fault{Code: 404, Reason: "notFound"}, clouds.ErrInvalid, sdk},
		{"401 required", get, gcpfake.Fault{Code: 401, Reason: "required"}, clouds.ErrAuth, sdk},
		{"403 forbidden", get, gcpfake.Fault{Code: 403, Reason: "forbidden"}, clouds.ErrAuth, sdk},
		{"403 insufficientPermissions", create, gcpfake.Fault{Code: 403, Reason: "insufficientPermissions"}, clouds.ErrAuth, sdk},
		{"403 quotaExceeded", create, gcpfake.Fault{Code: 403, Reason: "quotaExceeded"}, clouds.ErrQuota, quota("")},
		{"429 past the retries", get, gcpfake.Fault{Code: 429, Reason: "rateLimitExceeded", Times: 100}, clouds.ErrQuota, quota("api requests")},
		{"403 userRateLimitExceeded past the retries", get, gcpfake.Fault{Code: 403, Reason: "userRateLimitExceeded", Times: 100}, clouds.ErrQuota, quota("api requests")},
		{"503 resourcePoolExhausted", create, gcpfake.Fault{Code: 503, Reason: "resourcePoolExhausted"}, clouds.ErrCapacity, capacity},
		{"operation ZONE_RESOURCE_POOL_EXHAUSTED", create, gcpfake.Fault{Code: 503, Reason: "ZONE_RESOURCE_POOL_EXHAUSTED", InOperation: true}, clouds.ErrCapacity, capacity},
		{"operation ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS", create, gcpfake.Fault{Code: 503, Reason: "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS", InOperation: true}, clouds.ErrCapacity, capacity},
		{"operation STOCKOUT", create, gcpfake.Fault{Code: 503, Reason: "STOCKOUT", InOperation: true}, clouds.ErrCapacity, capacity},
		{"operation QUOTA_EXCEEDED", create, gcpfake.Fault{Code: 403, Reason: "QUOTA_EXCEEDED", InOperation: true, QuotaMetric: "compute.googleapis.com/gpus_all_regions"}, clouds.ErrQuota, quota("compute.googleapis.com/gpus_all_regions")},
		{"operation RESOURCE_ALREADY_EXISTS", create, gcpfake.Fault{Code: 409, Reason: "RESOURCE_ALREADY_EXISTS", InOperation: true}, clouds.ErrAlreadyExists, nil},
		{"operation PERMISSION_DENIED", create, gcpfake.Fault{Code: 403, Reason: "PERMISSION_DENIED", InOperation: true}, clouds.ErrAuth, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			ctx := t.Context()
			f := tc.fault
			var err error
			switch tc.call {
			case get:
				f.Method, f.Path = http.MethodGet, "/instances/x"
				h.fake.Fail(f)
				_, err = h.GetInstance(ctx, "us-central1-a/x/1")
			case create:
				f.Method, f.Path = http.MethodPost, "/zones/us-central1-a/instances"
				h.fake.Fail(f)
				var in clouds.Instance
				in, err = h.CreateInstance(ctx, clouds.InstanceSpec{Zone: "us-central1-a"})
				if err == nil {
					_ = h.DeleteInstance(context.Background(), in.ID)
				}
			}
			for _, s := range []error{clouds.ErrNotFound, clouds.ErrAlreadyExists, clouds.ErrInvalid, clouds.ErrCapacity, clouds.ErrQuota, clouds.ErrAuth} {
				if got := errors.Is(err, s); got != (s == tc.want) {
					t.Errorf("errors.Is(%v, %v) = %v", err, s, got)
				}
			}
			if tc.check != nil {
				tc.check(t, err)
			}
		})
	}
}

// TestRetry checks that throttling and unavailability are retried, that a mutation retried
// runs once, and that retries stop with the context.
func TestRetry(t *testing.T) {
	t.Parallel()
	t.Run("429 then success", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := t.Context()
		in, err := h.CreateInstance(ctx, clouds.InstanceSpec{})
		if err != nil {
			t.Fatalf("CreateInstance: %v", err)
		}
		h.fake.Fail(gcpfake.Fault{Method: http.MethodGet, Path: "/instances/", Code: 429, Reason: "rateLimitExceeded", Times: 3})
		before := h.fake.Calls(http.MethodGet, "/instances/")
		if _, err := h.GetInstance(ctx, in.ID); err != nil {
			t.Fatalf("GetInstance after three 429s: %v", err)
		}
		if n := h.fake.Calls(http.MethodGet, "/instances/") - before; n != 4 {
			t.Errorf("GetInstance made %d calls, want 4 (three throttled, one answered)", n)
		}
	})
	t.Run("503 on insert then success, launched once", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := t.Context()
		h.fake.Fail(gcpfake.Fault{Method: http.MethodPost, Path: "/instances", Code: 503, Reason: "backendError", Times: 2})
		h.fake.Fail(gcpfake.Fault{Method: http.MethodGet, Path: "/operations/", Code: 429, Reason: "rateLimitExceeded", Times: 2})
		if _, err := h.CreateInstance(ctx, clouds.InstanceSpec{Tags: map[string]string{"retry": "yes"}}); err != nil {
			t.Fatalf("CreateInstance: %v", err)
		}
		list, err := h.ListInstances(ctx, clouds.Filter{Tags: map[string]string{"retry": "yes"}})
		if err != nil || len(list) != 1 {
			t.Errorf("ListInstances = %d, %v; want exactly one instance", len(list), err)
		}
	})
	t.Run("insert answered 503 after acting runs once", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx := t.Context()
		// GCE launched it but the answer was lost: the retry carries the same request ID
		// and gets the first call's operation.
		h.fake.Fail(gcpfake.Fault{Method: http.MethodPost, Path: "/instances", Code: 503, Reason: "backendError", AfterAction: true})
		if _, err := h.CreateInstance(ctx, clouds.InstanceSpec{Tags: map[string]string{"once": "yes"}}); err != nil {
			t.Fatalf("CreateInstance: %v", err)
		}
		if n := h.fake.Calls(http.MethodPost, "/instances"); n != 2 {
			t.Errorf("%d inserts sent, want 2 (the lost one and its retry)", n)
		}
		list, err := h.ListInstances(ctx, clouds.Filter{Tags: map[string]string{"once": "yes"}})
		if err != nil || len(list) != 1 {
			t.Errorf("ListInstances = %d, %v; want exactly one instance", len(list), err)
		}
	})
	t.Run("context ends the retries", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, func(c *gcp.Config) {
			c.Retry = gcp.RetryPolicy{Initial: 20 * time.Millisecond, Max: 20 * time.Millisecond, Attempts: 1000}
		})
		h.fake.Fail(gcpfake.Fault{Path: "/instances/", Code: 429, Reason: "rateLimitExceeded", Times: 1000})
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		_, err := h.GetInstance(ctx, "us-central1-a/x/1")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("GetInstance throttled past its deadline = %v, want an error wrapping context.DeadlineExceeded", err)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	ok := gcp.Config{Project: "my-project-1", Region: "europe-west4", Zones: []string{"europe-west4-a"}}
	if err := ok.Validate(); err != nil {
		t.Errorf("Validate(%+v) = %v", ok, err)
	}
	for name, mod := range map[string]func(*gcp.Config){
		"no project":          func(c *gcp.Config) { c.Project = "" },
		"bad project":         func(c *gcp.Config) { c.Project = "My Project" },
		"no region":           func(c *gcp.Config) { c.Region = "" },
		"zone of other place": func(c *gcp.Config) { c.Zones = []string{"us-east1-b"} },
		"two credentials":     func(c *gcp.Config) { c.CredentialsFile, c.CredentialsJSON = "/k.json", []byte("{}") },
		"no auth and creds":   func(c *gcp.Config) { c.WithoutAuthentication, c.CredentialsFile = true, "/k.json" },
		"negative retry":      func(c *gcp.Config) { c.Retry.Attempts = -1 },
	} {
		c := ok
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate(%+v) = nil, want an error", name, c)
		}
	}
	if _, err := gcp.New(t.Context(), gcp.Config{Region: "us-central1"}); !errors.Is(err, clouds.ErrInvalid) {
		t.Errorf("New(no project) = %v, want ErrInvalid", err)
	}
	bad := gcp.Config{Project: "my-project-1", Region: "us-central1", CredentialsJSON: []byte(`{"type":"gdch_service_account"}`)}
	if _, err := gcp.New(t.Context(), bad); !errors.Is(err, clouds.ErrAuth) {
		t.Errorf("New(credentials of an unaccepted type) = %v, want ErrAuth", err)
	}
}
