// Package openstack is the clouds driver for OpenStack, on gophercloud v2: Nova servers
// (clouds.Compute), Heat stacks running an OS::Heat::AutoScalingGroup (clouds.Groups),
// Octavia load balancers (clouds.LoadBalancers), Cinder volumes attached through Nova
// (clouds.Disks) and Nova flavors as data (clouds.InstanceTypes).
//
// Credentials come the way OpenStack users keep them: a clouds.yaml entry (Config.Cloud),
// explicit password or application-credential fields, or, when all are empty, OS_CLOUD or
// the OS_* environment variables. The driver authenticates once in New and
// re-authenticates when a token expires. It never logs credentials or user data.
//
// Throttling (HTTP 429) and unavailable services (503) are retried inside every call with
// exponential backoff and jitter, bounded by the call's context and Config.MaxRetries.
// Polling (scheduling, load balancer provisioning) uses Config.PollInterval, never
// gophercloud's one-second WaitFor helpers.
//
// Instance states: BUILD and REBUILD are pending; ACTIVE and the states a running server
// passes through (REBOOT, RESIZE, MIGRATING, RESCUE …) are running; a server with task
// state deleting, powering-off, suspending, pausing or shelving is stopping; SHUTOFF,
// SUSPENDED, PAUSED, SHELVED, SHELVED_OFFLOADED, SOFT_DELETED, DELETED and ERROR are
// terminated: the machine does not run and algos never resumes it (as the aws driver
// reports a stopped EC2 instance). Instance IDs are server UUIDs, which the agent reads as
// `uuid` from the metadata service's openstack/latest/meta_data.json.
//
// OpenStack has no spot market: a spec with Spot set is ErrInvalid, and offerings are
// on-demand only. Nor does it have a price API: prices come from Config.PricePerHour.
package openstack

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	gos "github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/config/clouds"

	algoclouds "github.com/algos-dev/algos/clouds"
)

var (
	_ algoclouds.Compute       = (*Driver)(nil)
	_ algoclouds.Groups        = (*Driver)(nil)
	_ algoclouds.InstanceTypes = (*Driver)(nil)
	_ algoclouds.LoadBalancers = (*Driver)(nil)
	_ algoclouds.Disks         = (*Driver)(nil)
)

// computeMicroversion is the Nova API microversion the driver speaks (Pike and later):
// server views embed the flavor (original_name, extra_specs).
const computeMicroversion = "2.47"

// Config configures a Driver. Credentials are one of: Cloud (a clouds.yaml entry);
// AuthURL with Username and Password (and a project) or with an application credential;
// or nothing, which reads OS_CLOUD or the OS_* environment variables.
type Config struct {
	AuthURL     string // Keystone v3 endpoint, e.g. https://keystone.example.com:5000/v3
	Region      string // region of the endpoints to use; "" for the catalog's first
	ProjectID   string // project scope of password authentication (or ProjectName)
	ProjectName string
	DomainName  string // user and project domain for names ("Default" on most clouds)
	Username    string
	Password    string // never logged
	// ApplicationCredentialID and ApplicationCredentialSecret authenticate instead of a
	// user and password; the credential carries its own project scope.
	ApplicationCredentialID     string
	ApplicationCredentialSecret string // never logged
	// Cloud names an entry of clouds.yaml (searched where the openstack CLI searches:
	// OS_CLIENT_CONFIG_FILE, ./clouds.yaml, ~/.config/openstack, /etc/openstack).
	Cloud string

	// Network is the network ID servers get their port on; "" lets Nova allocate
	// ("auto", the project's only network or an auto-allocated one).
	Network string
	// Subnet is the subnet ID load balancer VIPs and members use; "" uses Network.
	Subnet string
	// Image is the image (name or ID) of specs without one.
	Image string
	// KeyName is the Nova key pair injected into servers ("" for none).
	KeyName string
	// SecurityGroups are applied to every server (names; nil for the project's default).
	SecurityGroups []string
	// FloatingIPPool is the external network (name or ID) non-internal load balancers get a
	// floating IP from, on their VIP port. "" leaves them on the VIP address.
	FloatingIPPool string
	// PricePerHour is the on-demand USD price per hour of flavors, by flavor name: OpenStack
	// has no price API. Flavors not listed are priced 0.
	PricePerHour map[string]float64
	// GPUAliases maps the PCI passthrough aliases of flavors' extra specs (and vGPU trait
	// names) to GPU models, case-insensitively; nil uses DefaultGPUAliases.
	GPUAliases map[string]GPUModel

	// Logger receives the driver's logs; nil discards them.
	Logger *slog.Logger
	// PollInterval is how often the driver polls while it waits (a server's scheduling, a
	// load balancer leaving PENDING_UPDATE); 1s when zero.
	PollInterval time.Duration
	// MaxRetries bounds the retries of a throttled (429) or unavailable (503) call; 6 when
	// zero, none when negative.
	MaxRetries int
	// MaxBackoff caps the delay between retries; 20s when zero.
	MaxBackoff time.Duration
	// HTTPClient makes the API calls; nil uses a default client.
	HTTPClient *http.Client
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.PollInterval == 0 {
		c.PollInterval = time.Second
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = 6
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 20 * time.Second
	}
	if c.GPUAliases == nil {
		c.GPUAliases = DefaultGPUAliases()
	} else {
		aliases := make(map[string]GPUModel, len(c.GPUAliases))
		for k, v := range c.GPUAliases {
			aliases[strings.ToLower(k)] = v
		}
		c.GPUAliases = aliases
	}
	return c
}

// Validate reports what is wrong with c, every problem at once.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf("openstack: "+format, args...)) }
	password := c.Username != "" || c.Password != ""
	appCred := c.ApplicationCredentialID != "" || c.ApplicationCredentialSecret != ""
	switch {
	case c.Cloud != "":
		if c.AuthURL != "" || password || appCred || c.ProjectID != "" || c.ProjectName != "" || c.DomainName != "" {
			add("Config.Cloud names a clouds.yaml entry: leave AuthURL and the credential fields empty, or drop Cloud")
		}
	case c.AuthURL != "":
		if u, err := url.Parse(c.AuthURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("Config.AuthURL %q is not an http(s) URL", c.AuthURL)
		}
		switch {
		case password && appCred:
			add("set either Username and Password or an application credential, not both")
		case appCred:
			if c.ApplicationCredentialID == "" || c.ApplicationCredentialSecret == "" {
				add("an application credential needs both ApplicationCredentialID and ApplicationCredentialSecret")
			}
		case password:
			if c.Username == "" || c.Password == "" {
				add("password authentication needs both Username and Password")
			}
			if c.ProjectID == "" && c.ProjectName == "" {
				add("password authentication needs ProjectID or ProjectName (the project to scope the token to)")
			}
			if c.DomainName == "" {
				add("password authentication needs DomainName (\"Default\" on most clouds)")
			}
		default:
			add("Config.AuthURL is set without credentials: set Username and Password or an application credential")
		}
	case password || appCred || c.ProjectID != "" || c.ProjectName != "":
		add("credentials are set without Config.AuthURL: set AuthURL (or use Cloud, or OS_* variables with all fields empty)")
	}
	if c.PollInterval < 0 {
		add("Config.PollInterval %v is negative", c.PollInterval)
	}
	if c.MaxBackoff < 0 {
		add("Config.MaxBackoff %v is negative", c.MaxBackoff)
	}
	for name, p := range c.PricePerHour {
		if p < 0 {
			add("Config.PricePerHour[%q] = %v is negative", name, p)
		}
	}
	for _, g := range c.SecurityGroups {
		if g == "" {
			add("Config.SecurityGroups has an empty name")
		}
	}
	return errors.Join(errs...)
}

// Driver is the OpenStack cloud. It is safe for concurrent use and holds no goroutines:
// there is nothing to close.
type Driver struct {
	cfg    Config
	log    *slog.Logger
	region string

	// Service clients; compute is always present, the others are nil when the catalog
	// lacks the service (their capability's methods then return ErrNoService).
	compute, volume, lb, heat, image, network *gophercloud.ServiceClient

	mu          sync.Mutex // guards the caches below
	flavors     []flavor
	flavorsAt   time.Time
	floatingNet string // FloatingIPPool resolved to a network ID
}

// New authenticates and finds the services in the catalog: compute v2 (required), block
// storage v3, load balancer v2, orchestration v1, image v2 and network v2 (each optional:
// a missing one makes its capability's methods return ErrNoService). Errors: ErrAuth for
// rejected credentials, ErrInvalid for a bad Config or an unusable catalog.
func New(ctx context.Context, cfg Config) (*Driver, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", err, algoclouds.ErrInvalid)
	}
	d := &Driver{cfg: cfg, log: cfg.Logger.With("component", "clouds/openstack")}
	ao, eo, tlsConfig, err := cfg.authOptions()
	if err != nil {
		return nil, fmt.Errorf("openstack: credentials: %w: %w", err, algoclouds.ErrInvalid)
	}
	ao.AllowReauth = true
	pc, err := gos.NewClient(ao.IdentityEndpoint)
	if err != nil {
		return nil, fmt.Errorf("openstack: auth URL %q: %w: %w", ao.IdentityEndpoint, err, algoclouds.ErrInvalid)
	}
	if cfg.HTTPClient != nil {
		pc.HTTPClient = *cfg.HTTPClient
	}
	if tlsConfig != nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tlsConfig
		pc.HTTPClient.Transport = tr
	}
	pc.UserAgent.Prepend("algos")
	pc.RetryFunc = d.retry
	if err := gos.Authenticate(ctx, pc, ao); err != nil {
		return nil, d.wrap("authenticate", err)
	}
	d.region = eo.Region
	if d.compute, err = gos.NewComputeV2(pc, eo); err != nil {
		return nil, d.wrap("find the compute endpoint", err)
	}
	d.compute.Microversion = computeMicroversion
	optional := []struct {
		name string
		dst  **gophercloud.ServiceClient
		make func(*gophercloud.ProviderClient, gophercloud.EndpointOpts) (*gophercloud.ServiceClient, error)
	}{
		{"block-storage", &d.volume, gos.NewBlockStorageV3},
		{"load-balancer", &d.lb, gos.NewLoadBalancerV2},
		{"orchestration", &d.heat, gos.NewOrchestrationV1},
		{"image", &d.image, gos.NewImageV2},
		{"network", &d.network, gos.NewNetworkV2},
	}
	for _, s := range optional {
		sc, err := s.make(pc, eo)
		if err != nil {
			var nf *gophercloud.ErrEndpointNotFound
			if !errors.As(err, &nf) {
				return nil, d.wrap("find the "+s.name+" endpoint", err)
			}
			d.log.Info("service not in the catalog; its capability is unavailable", "service", s.name, "region", eo.Region)
			continue
		}
		*s.dst = sc
	}
	if cfg.FloatingIPPool != "" {
		if err := d.resolveFloatingPool(ctx); err != nil {
			return nil, err
		}
	}
	d.log.Info("authenticated", "auth_url", ao.IdentityEndpoint, "region", eo.Region)
	return d, nil
}

// authOptions returns gophercloud's options for c's credentials.
func (c Config) authOptions() (gophercloud.AuthOptions, gophercloud.EndpointOpts, *tls.Config, error) {
	if c.Cloud != "" || (c.AuthURL == "" && os.Getenv("OS_CLOUD") != "") {
		var opts []clouds.ParseOption
		if c.Cloud != "" {
			opts = append(opts, clouds.WithCloudName(c.Cloud))
		}
		if c.Region != "" {
			opts = append(opts, clouds.WithRegion(c.Region))
		}
		return clouds.Parse(opts...)
	}
	if c.AuthURL == "" {
		return c.fromEnv()
	}
	eo := gophercloud.EndpointOpts{Region: c.Region}
	return gophercloud.AuthOptions{
		IdentityEndpoint:            c.AuthURL,
		Username:                    c.Username,
		Password:                    c.Password,
		DomainName:                  c.DomainName,
		TenantID:                    c.ProjectID,
		TenantName:                  c.ProjectName,
		ApplicationCredentialID:     c.ApplicationCredentialID,
		ApplicationCredentialSecret: c.ApplicationCredentialSecret,
	}, eo, nil, nil
}

// fromEnv reads the OS_* variables an openrc file sets (OS_AUTH_URL, OS_USERNAME,
// OS_PASSWORD, OS_PROJECT_ID or OS_PROJECT_NAME, OS_USER_DOMAIN_NAME or
// OS_PROJECT_DOMAIN_NAME or OS_DOMAIN_NAME, OS_APPLICATION_CREDENTIAL_ID and _SECRET,
// OS_REGION_NAME) and validates them as Config fields.
func (c Config) fromEnv() (gophercloud.AuthOptions, gophercloud.EndpointOpts, *tls.Config, error) {
	env := func(keys ...string) string {
		for _, k := range keys {
			if v := os.Getenv(k); v != "" {
				return v
			}
		}
		return ""
	}
	e := Config{
		AuthURL: env("OS_AUTH_URL"), Username: env("OS_USERNAME"), Password: env("OS_PASSWORD"),
		ProjectID: env("OS_PROJECT_ID", "OS_TENANT_ID"), ProjectName: env("OS_PROJECT_NAME", "OS_TENANT_NAME"),
		DomainName:              env("OS_USER_DOMAIN_NAME", "OS_PROJECT_DOMAIN_NAME", "OS_DOMAIN_NAME"),
		ApplicationCredentialID: env("OS_APPLICATION_CREDENTIAL_ID"), ApplicationCredentialSecret: env("OS_APPLICATION_CREDENTIAL_SECRET"),
		Region: c.Region,
	}
	if e.Region == "" {
		e.Region = env("OS_REGION_NAME")
	}
	if e.AuthURL == "" {
		return gophercloud.AuthOptions{}, gophercloud.EndpointOpts{}, nil,
			errors.New("no credentials: set Config.Cloud, Config.AuthURL with credentials, OS_CLOUD, or the OS_* variables of an openrc file")
	}
	if err := e.Validate(); err != nil {
		return gophercloud.AuthOptions{}, gophercloud.EndpointOpts{}, nil, fmt.Errorf("from the OS_* environment: %w", err)
	}
	return e.authOptions()
}

// retry is gophercloud's RetryFunc: it waits and returns nil (retry) for 429 and 503
// answers, up to Config.MaxRetries times, with exponential backoff from 100ms and full
// jitter (honouring a longer Retry-After), capped at Config.MaxBackoff and bounded by ctx.
// Every other error is returned as it is.
func (d *Driver) retry(ctx context.Context, method, u string, _ *gophercloud.RequestOpts, err error, failCount uint) error {
	var rc gophercloud.ErrUnexpectedResponseCode
	if !errors.As(err, &rc) || (rc.Actual != http.StatusTooManyRequests && rc.Actual != http.StatusServiceUnavailable) ||
		int(failCount) > d.cfg.MaxRetries {
		return err
	}
	ceiling := min(d.cfg.MaxBackoff, 100*time.Millisecond<<min(failCount-1, 20))
	wait := ceiling/2 + rand.N(ceiling/2+1)
	if s, perr := strconv.Atoi(rc.ResponseHeader.Get("Retry-After")); perr == nil {
		wait = min(max(wait, time.Duration(s)*time.Second), d.cfg.MaxBackoff)
	}
	path := u
	if pu, perr := url.Parse(u); perr == nil {
		path = pu.Path
	}
	d.log.Debug("retrying", "method", method, "path", path, "status", rc.Actual, "attempt", failCount, "wait", wait)
	if err := sleep(ctx, wait); err != nil {
		return fmt.Errorf("%w (retrying after HTTP %d)", err, rc.Actual)
	}
	return nil
}

// sleep waits for d or until ctx is done, returning ctx.Err() then.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// poll calls fn every PollInterval (jittered ±25%) until it reports done or fails, or ctx
// is done.
func (d *Driver) poll(ctx context.Context, fn func() (bool, error)) error {
	for {
		done, err := fn()
		if done || err != nil {
			return err
		}
		wait := d.cfg.PollInterval*3/4 + rand.N(d.cfg.PollInterval/2+1)
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// need returns ErrNoService for a service the catalog lacks.
func (d *Driver) need(sc *gophercloud.ServiceClient, service string) error {
	if sc == nil {
		return &Error{Op: service, Kind: algoclouds.ErrInvalid, Err: ErrNoService,
			Message: "the cloud's catalog has no " + service + " endpoint in this region"}
	}
	return nil
}
