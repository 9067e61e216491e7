// Package gcp is the Google Compute Engine driver: clouds.Compute, clouds.Groups,
// clouds.LoadBalancers, clouds.Disks and clouds.InstanceTypes on the GCE REST API
// (cloud.google.com/go/compute/apiv1), in one project and one region.
//
// What each capability maps to:
//   - Compute: zonal instances (instances.insert/get/aggregatedList/delete). An instance ID is
//     "zone/name/numericID": the numeric ID tells apart a VM that a managed instance group
//     recreated under the same name, so a replaced instance is a new ID (the old one becomes
//     ErrNotFound). User data goes in the "user-data" metadata key, which cloud-init's GCE
//     datasource reads (Ubuntu, Container-Optimized OS and most cloud-init images); images
//     without cloud-init (Debian's, which run only "startup-script") do not run it. Spot is
//     Scheduling{ProvisioningModel: SPOT, InstanceTerminationAction: DELETE}. Machine types
//     with bundled GPUs (a2, a3, g2) get onHostMaintenance TERMINATE; an N1 type with
//     attached GPUs is named "n1-standard-8+nvidia-tesla-t4:1" and becomes guestAccelerators.
//   - Groups: a regional managed instance group built from a regional instance template of
//     the same name (regional, not global: the template lives and dies with the group, in
//     the group's region, and names do not collide across regions). Min and Max, which a
//     MIG does not have, are kept in the MIG's description. Zones are spread with target
//     shape BALANCED, so the MIG routes around a zone that is out of capacity.
//   - LoadBalancers: a regional passthrough network load balancer: a regional health
//     check (regional like the backend service it serves), a regional backend service (EXTERNAL, or INTERNAL when Internal) whose backends
//     are one unmanaged instance group per zone, and a regional forwarding rule. Targets are
//     instance group memberships.
//   - Disks: zonal persistent disks; a disk ID is "zone/name".
//   - InstanceTypes: machine types offered in the driver's zones (machineTypes.list and
//     acceleratorTypes.list per zone), enriched with catalog data (GPU models and memory,
//     us-central1 list prices); spot offerings carry no price (0: unknown).
//
// Tags become GCE labels, sanitized to GCE's label rules (see SanitizeLabel and
// SanitizeLabelKey; two tags that sanitize to the same key are ErrInvalid), so that they show
// in the console and narrow lists server-side; the exact tags are also kept (as JSON in the
// "algos-tags" metadata key of instances and templates, and in the description of disks and
// forwarding rules), so Instance.Tags, Group.Tags and Disk.Tags round-trip and
// ListInstances matches them exactly. Group members also carry the label "algos_group".
//
// Every call that changes something waits for its long-running operation (op.Wait, bounded
// by ctx); an operation that ends in error is mapped like a direct error. Throttling (429,
// rateLimitExceeded) and unavailability (503) are retried with exponential backoff and
// jitter (Config.Retry), bounded by ctx; mutations carry a requestId, so a retried insert
// never launches twice. Errors map to the clouds sentinels as errors.go says.
package gcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/auth/credentials"
	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/option"

	"github.com/algos-dev/algos/clouds"
)

var (
	_ clouds.Compute       = (*Driver)(nil)
	_ clouds.Groups        = (*Driver)(nil)
	_ clouds.LoadBalancers = (*Driver)(nil)
	_ clouds.Disks         = (*Driver)(nil)
	_ clouds.InstanceTypes = (*Driver)(nil)
)

// Defaults used when a spec leaves a field empty.
const (
	// DefaultImage has cloud-init, which runs the "user-data" metadata key.
	DefaultImage = "projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64"
	// DefaultInstanceType is used when InstanceSpec.InstanceType is empty.
	DefaultInstanceType = "e2-medium"
	// DefaultDiskType is used when DiskSpec.Type is empty.
	DefaultDiskType = "pd-balanced"
	// DefaultNetwork is used when Config.Network is empty.
	DefaultNetwork = "global/networks/default"
)

// Config configures a Driver. Credentials come from CredentialsFile, CredentialsJSON or,
// when both are empty, Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS,
// gcloud's user credentials, or the metadata server on GCE).
type Config struct {
	Project string // GCP project ID (required)
	Region  string // e.g. "us-central1" (required)
	// Zones are the zones of Region the driver launches in; empty means every zone of the
	// region, as regions.get lists them (fetched once, on first use).
	Zones []string
	// Network is the VPC network: a name, or a partial or full URL. Default "default".
	Network string
	// Subnetwork is the subnetwork in Region: a name, or a partial or full URL. Empty lets
	// GCE pick the network's subnetwork in the region (auto-mode networks).
	Subnetwork string
	// ServiceAccount is the email of the service account instances run as (with the
	// cloud-platform scope); empty runs them with none.
	ServiceAccount string
	// ExternalIP gives each instance an ephemeral external IPv4 address (ONE_TO_ONE_NAT).
	// Without it instances are private and need Cloud NAT to reach the internet.
	ExternalIP bool
	// CredentialsFile is a JSON key or credential configuration file (service_account,
	// authorized_user, external_account or impersonated_service_account); optional.
	CredentialsFile string
	// CredentialsJSON is the same as the file's content, for credentials stored elsewhere
	// (the control plane's sealed cloud accounts). Never logged.
	CredentialsJSON []byte
	// Endpoint overrides the API endpoint ("https://compute.googleapis.com"); for tests.
	Endpoint string
	// WithoutAuthentication sends requests without credentials; for tests against a
	// loopback server.
	WithoutAuthentication bool
	// Retry bounds the retries of throttled and unavailable calls.
	Retry RetryPolicy
	// CatalogTTL is how long InstanceTypes caches its answer (10 minutes when zero).
	CatalogTTL time.Duration
	// Logger receives the driver's logs; nil discards them. Credentials and user data are
	// never logged.
	Logger *slog.Logger
}

// RetryPolicy is the backoff for throttled (429, rateLimitExceeded) and unavailable (503)
// calls: the n-th wait is a random duration in [0, min(Max, Initial·2ⁿ)) ("full jitter"),
// for at most Attempts calls in all, and never past the context's deadline.
type RetryPolicy struct {
	Initial  time.Duration // 500ms when zero
	Max      time.Duration // 30s when zero
	Attempts int           // 8 when zero
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Network == "" {
		c.Network = DefaultNetwork
	}
	if c.Retry.Initial == 0 {
		c.Retry.Initial = 500 * time.Millisecond
	}
	if c.Retry.Max == 0 {
		c.Retry.Max = 30 * time.Second
	}
	if c.Retry.Attempts == 0 {
		c.Retry.Attempts = 8
	}
	if c.CatalogTTL == 0 {
		c.CatalogTTL = 10 * time.Minute
	}
	return c
}

var (
	projectRE = regexp.MustCompile(`^(?:[a-z0-9.-]+:)?[a-z][-a-z0-9]{4,28}[a-z0-9]$`)
	regionRE  = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+$`)
)

// Validate reports what is wrong with c after defaults are applied.
func (c Config) Validate() error {
	var errs []error
	if c.Project == "" {
		errs = append(errs, errors.New("gcp: Config.Project is empty: set the GCP project ID"))
	} else if !projectRE.MatchString(c.Project) {
		errs = append(errs, fmt.Errorf("gcp: Config.Project %q is not a GCP project ID", c.Project))
	}
	if c.Region == "" {
		errs = append(errs, errors.New("gcp: Config.Region is empty: set a region such as us-central1"))
	} else if !regionRE.MatchString(c.Region) {
		errs = append(errs, fmt.Errorf("gcp: Config.Region %q is not a GCE region name such as us-central1", c.Region))
	}
	for _, z := range c.Zones {
		if !strings.HasPrefix(z, c.Region+"-") || !nameRE.MatchString(z) {
			errs = append(errs, fmt.Errorf("gcp: Config.Zones: %q is not a zone of region %q", z, c.Region))
		}
	}
	if c.CredentialsFile != "" && len(c.CredentialsJSON) > 0 {
		errs = append(errs, errors.New("gcp: set Config.CredentialsFile or Config.CredentialsJSON, not both"))
	}
	if c.WithoutAuthentication && (c.CredentialsFile != "" || len(c.CredentialsJSON) > 0) {
		errs = append(errs, errors.New("gcp: Config.WithoutAuthentication excludes credentials"))
	}
	if c.Retry.Initial < 0 || c.Retry.Max < 0 || c.Retry.Attempts < 0 {
		errs = append(errs, errors.New("gcp: Config.Retry has a negative field"))
	}
	if c.CatalogTTL < 0 {
		errs = append(errs, fmt.Errorf("gcp: Config.CatalogTTL %v is negative", c.CatalogTTL))
	}
	return errors.Join(errs...)
}

// Driver is the GCE cloud. It is safe for concurrent use; Close releases its connections.
type Driver struct {
	cfg Config
	log *slog.Logger

	instances    *compute.InstancesClient
	migs         *compute.RegionInstanceGroupManagersClient
	templates    *compute.RegionInstanceTemplatesClient
	backends     *compute.RegionBackendServicesClient
	rules        *compute.ForwardingRulesClient
	healthChecks *compute.RegionHealthChecksClient
	groups       *compute.InstanceGroupsClient
	disks        *compute.DisksClient
	machineTypes *compute.MachineTypesClient
	accelerators *compute.AcceleratorTypesClient
	regions      *compute.RegionsClient
	closers      []func() error

	nextZone atomic.Uint64 // round robin over zones for CreateInstance without a zone

	mu          sync.Mutex // guards the fields below
	zoneList    []string
	catalog     []clouds.InstanceType
	catalogTime time.Time
}

// New returns a Driver for cfg. It resolves credentials but makes no API call (zones and
// the catalog are fetched on first use). Errors: ErrAuth when credentials cannot be found
// or read, ErrInvalid for a Config that fails Validate.
func New(ctx context.Context, cfg Config) (*Driver, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", clouds.ErrInvalid, err)
	}
	opts, err := clientOptions(cfg)
	if err != nil {
		return nil, err
	}
	d := &Driver{cfg: cfg, log: cfg.Logger.With("component", "clouds/gcp", "project", cfg.Project, "region", cfg.Region)}
	if len(cfg.Zones) > 0 {
		d.zoneList = append([]string(nil), cfg.Zones...)
	}
	fail := func(what string, err error) (*Driver, error) {
		_ = d.Close()
		return nil, fmt.Errorf("gcp: %s client: %w", what, err)
	}
	if d.instances, err = compute.NewInstancesRESTClient(ctx, opts...); err != nil {
		return fail("instances", err)
	}
	d.closers = append(d.closers, d.instances.Close)
	if d.migs, err = compute.NewRegionInstanceGroupManagersRESTClient(ctx, opts...); err != nil {
		return fail("instance group managers", err)
	}
	d.closers = append(d.closers, d.migs.Close)
	if d.templates, err = compute.NewRegionInstanceTemplatesRESTClient(ctx, opts...); err != nil {
		return fail("instance templates", err)
	}
	d.closers = append(d.closers, d.templates.Close)
	if d.backends, err = compute.NewRegionBackendServicesRESTClient(ctx, opts...); err != nil {
		return fail("backend services", err)
	}
	d.closers = append(d.closers, d.backends.Close)
	if d.rules, err = compute.NewForwardingRulesRESTClient(ctx, opts...); err != nil {
		return fail("forwarding rules", err)
	}
	d.closers = append(d.closers, d.rules.Close)
	if d.healthChecks, err = compute.NewRegionHealthChecksRESTClient(ctx, opts...); err != nil {
		return fail("health checks", err)
	}
	d.closers = append(d.closers, d.healthChecks.Close)
	if d.groups, err = compute.NewInstanceGroupsRESTClient(ctx, opts...); err != nil {
		return fail("instance groups", err)
	}
	d.closers = append(d.closers, d.groups.Close)
	if d.disks, err = compute.NewDisksRESTClient(ctx, opts...); err != nil {
		return fail("disks", err)
	}
	d.closers = append(d.closers, d.disks.Close)
	if d.machineTypes, err = compute.NewMachineTypesRESTClient(ctx, opts...); err != nil {
		return fail("machine types", err)
	}
	d.closers = append(d.closers, d.machineTypes.Close)
	if d.accelerators, err = compute.NewAcceleratorTypesRESTClient(ctx, opts...); err != nil {
		return fail("accelerator types", err)
	}
	d.closers = append(d.closers, d.accelerators.Close)
	if d.regions, err = compute.NewRegionsRESTClient(ctx, opts...); err != nil {
		return fail("regions", err)
	}
	d.closers = append(d.closers, d.regions.Close)
	return d, nil
}

// clientOptions resolves credentials once for every client. The SDK's own request logging
// (GOOGLE_SDK_GO_LOGGING_LEVEL) is silenced: it would log request bodies, user data
// included.
func clientOptions(cfg Config) ([]option.ClientOption, error) {
	opts := []option.ClientOption{option.WithLogger(slog.New(slog.DiscardHandler))}
	if cfg.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(cfg.Endpoint))
	}
	if cfg.WithoutAuthentication {
		return append(opts, option.WithoutAuthentication()), nil
	}
	detect := &credentials.DetectOptions{Scopes: []string{"https://www.googleapis.com/auth/cloud-platform"}}
	raw := cfg.CredentialsJSON
	if cfg.CredentialsFile != "" {
		b, err := os.ReadFile(cfg.CredentialsFile)
		if err != nil {
			return nil, fmt.Errorf("gcp: read credentials file: %w: %w", clouds.ErrAuth, err)
		}
		raw = b
	}
	if len(raw) > 0 {
		var head struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			return nil, fmt.Errorf("gcp: credentials are not JSON: %w", clouds.ErrAuth)
		}
		kinds := map[string]credentials.CredType{
			"service_account":              credentials.ServiceAccount,
			"authorized_user":              credentials.AuthorizedUser,
			"external_account":             credentials.ExternalAccount,
			"impersonated_service_account": credentials.ImpersonatedServiceAccount,
		}
		kind, ok := kinds[head.Type]
		if !ok {
			return nil, fmt.Errorf("gcp: credentials of type %q are not accepted (want service_account, authorized_user, external_account or impersonated_service_account): %w", head.Type, clouds.ErrAuth)
		}
		c, err := credentials.NewCredentialsFromJSON(kind, raw, detect)
		if err != nil {
			return nil, fmt.Errorf("gcp: credentials: %w: %w", clouds.ErrAuth, err)
		}
		return append(opts, option.WithAuthCredentials(c)), nil
	}
	c, err := credentials.DetectDefault(detect)
	if err != nil {
		return nil, fmt.Errorf("gcp: application default credentials: %w: %w", clouds.ErrAuth, err)
	}
	return append(opts, option.WithAuthCredentials(c)), nil
}

// Close releases the clients' connections. Calls after Close fail.
func (d *Driver) Close() error {
	var errs []error
	for _, c := range d.closers {
		errs = append(errs, c())
	}
	d.closers = nil
	return errors.Join(errs...)
}

// zones returns the zones the driver launches in: Config.Zones, or the region's zones.
func (d *Driver) zones(ctx context.Context) ([]string, error) {
	d.mu.Lock()
	zs := d.zoneList
	d.mu.Unlock()
	if zs != nil {
		return zs, nil
	}
	var region *computepb.Region
	err := d.retry(ctx, func(ctx context.Context) (err error) {
		region, err = d.regions.Get(ctx, &computepb.GetRegionRequest{Project: d.cfg.Project, Region: d.cfg.Region})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("gcp: zones of region %s: %w", d.cfg.Region, mapError(err, errCtx{}))
	}
	for _, u := range region.GetZones() {
		zs = append(zs, lastSegment(u))
	}
	if len(zs) == 0 {
		return nil, fmt.Errorf("gcp: region %s lists no zones: %w", d.cfg.Region, clouds.ErrInvalid)
	}
	d.mu.Lock()
	d.zoneList = zs
	d.mu.Unlock()
	return zs, nil
}

// pickZone returns zone when set (checking that it is in the region), else the next zone in
// round robin.
func (d *Driver) pickZone(ctx context.Context, zone string) (string, error) {
	if zone != "" {
		if !d.inRegion(zone) {
			return "", fmt.Errorf("gcp: zone %q is not in region %s: %w", zone, d.cfg.Region, clouds.ErrInvalid)
		}
		return zone, nil
	}
	zs, err := d.zones(ctx)
	if err != nil {
		return "", err
	}
	return zs[int(d.nextZone.Add(1)-1)%len(zs)], nil
}

func (d *Driver) inRegion(zone string) bool {
	return strings.HasPrefix(zone, d.cfg.Region+"-") && nameRE.MatchString(zone)
}

// nameRE is GCE's rule for resource names (RFC 1035 labels).
var nameRE = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

func validName(s string) bool { return nameRE.MatchString(s) }

// lastSegment returns what follows the last "/" of a resource URL.
func lastSegment(u string) string { return u[strings.LastIndexByte(u, '/')+1:] }

// Resource paths, partial URLs that the API accepts wherever it takes a reference.
func (d *Driver) zonePath(zone string) string { return "projects/" + d.cfg.Project + "/zones/" + zone }
func (d *Driver) regionPath() string          { return "projects/" + d.cfg.Project + "/regions/" + d.cfg.Region }
func (d *Driver) instancePath(zone, name string) string {
	return d.zonePath(zone) + "/instances/" + name
}
func (d *Driver) diskPath(zone, name string) string { return d.zonePath(zone) + "/disks/" + name }

// networkPath and subnetworkPath accept names or URLs.
func (d *Driver) networkPath() string {
	if strings.Contains(d.cfg.Network, "/") {
		return d.cfg.Network
	}
	return "projects/" + d.cfg.Project + "/global/networks/" + d.cfg.Network
}

func (d *Driver) subnetworkPath() string {
	if d.cfg.Subnetwork == "" || strings.Contains(d.cfg.Subnetwork, "/") {
		return d.cfg.Subnetwork
	}
	return d.regionPath() + "/subnetworks/" + d.cfg.Subnetwork
}

// parseTime reads GCE's RFC 3339 timestamps; "" or garbage is the zero time.
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
