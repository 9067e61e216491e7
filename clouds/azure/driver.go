package azure

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"

	"github.com/algos-dev/algos/clouds"
)

var (
	_ clouds.Compute       = (*Driver)(nil)
	_ clouds.Groups        = (*Driver)(nil)
	_ clouds.LoadBalancers = (*Driver)(nil)
	_ clouds.Disks         = (*Driver)(nil)
	_ clouds.InstanceTypes = (*Driver)(nil)
)

// DefaultImage is the image URN of instances whose InstanceSpec.Image is empty.
const DefaultImage = "Canonical:ubuntu-24_04-lts:server:latest"

// Config configures a Driver. Zero values take the defaults noted.
type Config struct {
	// SubscriptionID, ResourceGroup and Location ("eastus") say where everything is created.
	// The resource group must exist. Required.
	SubscriptionID, ResourceGroup, Location string
	// Zones are the availability zones ("1", "2", "3") instances without InstanceSpec.Zone
	// and groups without GroupSpec.Zones are spread over. Empty: regional (no zone), and
	// instances report Location as their Zone.
	Zones []string
	// SubnetID is the resource ID of the subnet every network interface and internal load
	// balancer goes in ("/subscriptions/…/virtualNetworks/…/subnets/…"). Required.
	SubnetID string
	// TenantID, ClientID and ClientSecret are an optional service principal; all three or
	// none. Without them (and without Credential) the driver uses
	// azidentity.NewDefaultAzureCredential. Never logged.
	TenantID, ClientID, ClientSecret string
	// Credential, when set, is used instead of the above (tests: azfake.TokenCredential).
	Credential azcore.TokenCredential
	// ClientOptions are passed to every ARM client (tests: a fake transport). A zero Retry
	// gets the driver's defaults: 5 retries, 1s first delay, 60s longest delay.
	ClientOptions *arm.ClientOptions
	// AdminUsername is the Linux administrator of every VM ("algos").
	AdminUsername string
	// SSHPublicKey ("ssh-rsa AAAA…" or "ssh-ed25519 …") is authorized for AdminUsername;
	// Azure requires one for Linux VMs without a password (passwords are disabled). Required.
	SSHPublicKey string
	// Logger receives the driver's logs; nil discards them.
	Logger *slog.Logger
	// PollInterval is how often long-running operations are polled, and the first delay of
	// the driver's own retries (5s; azcore refuses less than 1s outside test binaries).
	PollInterval time.Duration
	// ConsistencyTimeout bounds the driver's own retries of one call (60s).
	ConsistencyTimeout time.Duration
	// CatalogTTL is how long InstanceTypes caches what ResourceSKUs reports (1h).
	CatalogTTL time.Duration
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.AdminUsername == "" {
		c.AdminUsername = "algos"
	}
	if c.PollInterval == 0 {
		c.PollInterval = 5 * time.Second
	}
	if c.ConsistencyTimeout == 0 {
		c.ConsistencyTimeout = time.Minute
	}
	if c.CatalogTTL == 0 {
		c.CatalogTTL = time.Hour
	}
	return c
}

// Validate reports what is wrong with c after defaults are applied. Errors wrap
// clouds.ErrInvalid.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("azure: "+format+": %w", append(a, clouds.ErrInvalid)...))
	}
	for _, f := range []struct{ name, v string }{
		{"SubscriptionID", c.SubscriptionID}, {"ResourceGroup", c.ResourceGroup},
		{"Location", c.Location}, {"SubnetID", c.SubnetID}, {"SSHPublicKey", c.SSHPublicKey},
	} {
		if strings.TrimSpace(f.v) == "" {
			bad("Config.%s is empty", f.name)
		}
	}
	if c.SubnetID != "" && (!strings.HasPrefix(strings.ToLower(c.SubnetID), "/subscriptions/") ||
		!strings.Contains(strings.ToLower(c.SubnetID), "/subnets/")) {
		bad("Config.SubnetID %q is not a subnet resource ID (/subscriptions/…/virtualNetworks/…/subnets/…)", c.SubnetID)
	}
	if c.SSHPublicKey != "" && !strings.HasPrefix(c.SSHPublicKey, "ssh-") && !strings.HasPrefix(c.SSHPublicKey, "ecdsa-") {
		bad("Config.SSHPublicKey is not an OpenSSH public key (\"ssh-rsa AAAA…\")")
	}
	if n := countSet(c.TenantID, c.ClientID, c.ClientSecret); n != 0 && n != 3 {
		bad("Config.TenantID, ClientID and ClientSecret: set all three for a service principal, or none")
	}
	for _, z := range c.Zones {
		if strings.TrimSpace(z) == "" {
			bad("Config.Zones has an empty zone")
		}
	}
	if c.PollInterval < 0 || c.ConsistencyTimeout < 0 || c.CatalogTTL < 0 {
		bad("Config.PollInterval, ConsistencyTimeout and CatalogTTL must not be negative")
	}
	return errors.Join(errs...)
}

func countSet(vs ...string) int {
	n := 0
	for _, v := range vs {
		if v != "" {
			n++
		}
	}
	return n
}

// Driver is the Azure cloud. It implements clouds.Compute, clouds.Groups,
// clouds.LoadBalancers, clouds.Disks and clouds.InstanceTypes, and is safe for concurrent
// use. It holds no resources of its own: there is nothing to close.
type Driver struct {
	cfg Config
	log *slog.Logger

	vms      *armcompute.VirtualMachinesClient
	sets     *armcompute.VirtualMachineScaleSetsClient
	setVMs   *armcompute.VirtualMachineScaleSetVMsClient
	disks    *armcompute.DisksClient
	skus     *armcompute.ResourceSKUsClient
	nics     *armnetwork.InterfacesClient
	lbs      *armnetwork.LoadBalancersClient
	lbRules  *armnetwork.LoadBalancerLoadBalancingRulesClient
	pips     *armnetwork.PublicIPAddressesClient
	nicLocks keyedMutex // serializes this process's read-modify-writes of one NIC

	catalogMu sync.Mutex
	catalog   []clouds.InstanceType
	catalogAt time.Time

	zoneNext sync.Mutex
	zoneIdx  int
}

// New builds the ARM clients. It makes no request: credentials are checked by the first
// call, whose error then wraps clouds.ErrAuth.
func New(ctx context.Context, cfg Config) (*Driver, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cred, err := credential(cfg)
	if err != nil {
		return nil, fmt.Errorf("azure: credentials: %w: %w", clouds.ErrAuth, err)
	}
	cred = authCredential{cred}
	opts := &arm.ClientOptions{}
	if cfg.ClientOptions != nil {
		o := *cfg.ClientOptions
		opts = &o
	}
	if r := &opts.Retry; r.MaxRetries == 0 && r.RetryDelay == 0 && r.MaxRetryDelay == 0 {
		r.MaxRetries, r.RetryDelay, r.MaxRetryDelay = 5, time.Second, time.Minute
	}
	compute, err := armcompute.NewClientFactory(cfg.SubscriptionID, cred, opts)
	if err != nil {
		return nil, fmt.Errorf("azure: compute client: %w", err)
	}
	network, err := armnetwork.NewClientFactory(cfg.SubscriptionID, cred, opts)
	if err != nil {
		return nil, fmt.Errorf("azure: network client: %w", err)
	}
	return &Driver{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "clouds/azure", "resource_group", cfg.ResourceGroup, "location", cfg.Location),
		vms:     compute.NewVirtualMachinesClient(),
		sets:    compute.NewVirtualMachineScaleSetsClient(),
		setVMs:  compute.NewVirtualMachineScaleSetVMsClient(),
		disks:   compute.NewDisksClient(),
		skus:    compute.NewResourceSKUsClient(),
		nics:    network.NewInterfacesClient(),
		lbs:     network.NewLoadBalancersClient(),
		lbRules: network.NewLoadBalancerLoadBalancingRulesClient(),
		pips:    network.NewPublicIPAddressesClient(),
	}, nil
}

func credential(cfg Config) (azcore.TokenCredential, error) {
	switch {
	case cfg.Credential != nil:
		return cfg.Credential, nil
	case cfg.ClientSecret != "":
		return azidentity.NewClientSecretCredential(cfg.TenantID, cfg.ClientID, cfg.ClientSecret, nil)
	default:
		return azidentity.NewDefaultAzureCredential(nil)
	}
}

// authCredential makes every failure to get a token an error wrapping clouds.ErrAuth, so
// that a missing or rejected credential reads the same whichever credential type failed.
type authCredential struct{ azcore.TokenCredential }

func (c authCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := c.TokenCredential.GetToken(ctx, opts)
	if err != nil && ctx.Err() == nil {
		err = fmt.Errorf("azure: get token: %w: %w", clouds.ErrAuth, err)
	}
	return tok, err
}

// pickZone returns spec's zone, or the next of Config.Zones (round robin), or "" (regional).
func (d *Driver) pickZone(zone string) string {
	if zone != "" || len(d.cfg.Zones) == 0 {
		return zone
	}
	d.zoneNext.Lock()
	defer d.zoneNext.Unlock()
	z := d.cfg.Zones[d.zoneIdx%len(d.cfg.Zones)]
	d.zoneIdx++
	return z
}

// keyedMutex is a set of mutexes by key, created on use and dropped when unused.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

// lock locks key and returns its unlock.
func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyedEntry{}
	}
	e := k.locks[key]
	if e == nil {
		e = &keyedEntry{}
		k.locks[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
