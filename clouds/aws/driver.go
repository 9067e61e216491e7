// Package aws is the clouds driver for Amazon Web Services, on aws-sdk-go-v2: EC2 instances
// (clouds.Compute), Auto Scaling groups with one launch template per group (clouds.Groups),
// Elastic Load Balancing v2 network and application load balancers (clouds.LoadBalancers),
// EBS volumes (clouds.Disks) and a catalog of instance types with their per-zone offerings
// (clouds.InstanceTypes).
//
// Credentials come the way AWS users expect: the SDK's default chain (environment, shared
// config and credentials files, SSO, web identity, container and instance roles), a named
// profile, or static keys in Config. They are never logged, nor is user data.
//
// Instance states are normalized as follows: pending → pending; running → running;
// shutting-down and stopping → stopping; terminated and stopped → terminated (algos never
// restarts a stopped instance: for it, stopped is "will not run again"). Volume states:
// creating → creating; available → available; in-use → in-use; deleting → deleting;
// deleted → ErrNotFound; error (creation failed; it will never become available) →
// deleting, so that pollers give up waiting for it and delete it.
//
// AWS error codes map to the clouds errors in errors.go. Throttling (RequestLimitExceeded,
// Throttling, ThrottlingException …) and transient 5xx errors are retried by the SDK's
// standard retryer with exponential backoff and jitter (capacity and quota errors are not
// retried: they fail fast so callers can fall back to another zone or type); eventual
// consistency (an ID this driver just created reported not found, a launch template not yet
// visible to Auto Scaling, a target group still in use by a load balancer being deleted)
// is retried by the driver's own loop, bounded by Config.ConsistencyTimeout and ctx.
package aws

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/algos-dev/algos/clouds"
)

var (
	_ clouds.Compute       = (*Driver)(nil)
	_ clouds.Groups        = (*Driver)(nil)
	_ clouds.LoadBalancers = (*Driver)(nil)
	_ clouds.Disks         = (*Driver)(nil)
	_ clouds.InstanceTypes = (*Driver)(nil)
)

// Config configures a Driver. Zero values take the defaults noted.
type Config struct {
	// Region, e.g. "us-east-1". Required.
	Region string
	// Profile names a profile of the shared config and credentials files; "" uses the
	// default chain (AWS_PROFILE included). Not with static credentials.
	Profile string
	// AccessKeyID, SecretAccessKey and SessionToken are optional static credentials; when
	// empty, the default chain or Profile provides them. Never logged.
	AccessKeyID, SecretAccessKey, SessionToken string
	// Endpoint overrides every service's endpoint (aws.Config.BaseEndpoint): for tests
	// against a loopback server such as awsfake.
	Endpoint string
	// Subnets maps each zone the driver may use to the subnet its instances, groups and load
	// balancers get there. Empty: instances go to the default VPC (zone by
	// InstanceSpec.Zone), groups need GroupSpec.Zones, and load balancers are unavailable.
	Subnets map[string]string
	// SecurityGroups are attached to every instance and application load balancer; empty
	// uses the VPC's default group.
	SecurityGroups []string
	// VPC is the VPC of Subnets, where target groups are created. Required for load
	// balancers.
	VPC string
	// Image is the AMI launched when InstanceSpec.Image is empty.
	Image string
	// Logger receives the driver's logs; nil discards them.
	Logger *slog.Logger
	// MaxRetries is how many times the SDK retries a throttled or transiently failed call
	// after the first attempt (0: 4; negative: no retries).
	MaxRetries int
	// MaxBackoff caps the SDK's delay between retries (20s).
	MaxBackoff time.Duration
	// PollInterval is the first delay of the driver's own waits (eventual consistency,
	// waiters); later delays double up to 16 × PollInterval, with jitter (1s).
	PollInterval time.Duration
	// ConsistencyTimeout bounds how long the driver waits out eventual consistency, e.g. a
	// just-created instance reported not found (30s).
	ConsistencyTimeout time.Duration
	// DeregistrationDelay is how long a load balancer drains a deregistered target (30s;
	// AWS's own default is 300s).
	DeregistrationDelay time.Duration
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = 4
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.MaxBackoff, 20*time.Second)
	def(&c.PollInterval, time.Second)
	def(&c.ConsistencyTimeout, 30*time.Second)
	def(&c.DeregistrationDelay, 30*time.Second)
	c.Subnets = maps.Clone(c.Subnets)
	c.SecurityGroups = slices.Clone(c.SecurityGroups)
	return c
}

// Validate reports what is wrong with c.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf("aws: "+format, args...)) }
	if c.Region == "" {
		add("Config.Region is empty: set the region, e.g. us-east-1")
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		add("set both Config.AccessKeyID and Config.SecretAccessKey, or neither to use the default credential chain")
	}
	if c.SessionToken != "" && c.AccessKeyID == "" {
		add("Config.SessionToken needs Config.AccessKeyID and Config.SecretAccessKey")
	}
	if c.Profile != "" && c.AccessKeyID != "" {
		add("set Config.Profile or static credentials, not both")
	}
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("Config.Endpoint %q is not an http(s) URL", c.Endpoint)
		}
	}
	for zone, subnet := range c.Subnets {
		if zone == "" || subnet == "" {
			add("Config.Subnets has an empty zone or subnet (%q: %q)", zone, subnet)
		}
	}
	for name, d := range map[string]time.Duration{"MaxBackoff": c.MaxBackoff, "PollInterval": c.PollInterval,
		"ConsistencyTimeout": c.ConsistencyTimeout, "DeregistrationDelay": c.DeregistrationDelay} {
		if d < 0 {
			add("Config.%s %v is negative", name, d)
		}
	}
	if c.DeregistrationDelay > time.Hour {
		add("Config.DeregistrationDelay %v is over AWS's limit of one hour", c.DeregistrationDelay)
	}
	return errors.Join(errs...)
}

// String describes c without its secrets.
func (c Config) String() string {
	creds := "default chain"
	switch {
	case c.AccessKeyID != "":
		creds = "static key " + c.AccessKeyID
	case c.Profile != "":
		creds = "profile " + c.Profile
	}
	return fmt.Sprintf("aws.Config{Region: %s, credentials: %s, Endpoint: %q, zones: %v}", c.Region, creds, c.Endpoint, slices.Sorted(maps.Keys(c.Subnets)))
}

// GoString is String, so that %#v does not print the secrets either.
func (c Config) GoString() string { return c.String() }

// LogValue keeps secrets out of logs.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Driver talks to one region of one AWS account. It is safe for concurrent use.
type Driver struct {
	cfg   Config
	log   *slog.Logger
	ec2   *ec2.Client
	asg   *autoscaling.Client
	elb   *elb.Client
	zones []string // sorted keys of cfg.Subnets
	next  atomic.Uint64

	mu        sync.Mutex
	created   map[string]time.Time   // IDs this driver created, for eventual consistency
	attaching map[string]*sync.Mutex // instance ID → lock held while choosing a device
	catalog   []clouds.InstanceType
	catalogAt time.Time
}

// New loads the AWS configuration (region, credentials as Config says, retry policy,
// endpoint override) and returns a Driver. It makes no API call: bad credentials show up as
// ErrAuth on the first one.
func New(ctx context.Context, cfg Config) (*Driver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(cfg.Region),
		config.WithRetryer(func() aws.Retryer { return newRetryer(cfg) }),
	}
	if cfg.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(cfg.Profile))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	if cfg.Endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(cfg.Endpoint))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("aws: load configuration (profile %q): %w: %w", cfg.Profile, clouds.ErrAuth, err)
	}
	return &Driver{
		cfg:       cfg,
		log:       cfg.Logger.With("component", "clouds/aws", "region", cfg.Region),
		ec2:       ec2.NewFromConfig(awsCfg),
		asg:       autoscaling.NewFromConfig(awsCfg),
		elb:       elb.NewFromConfig(awsCfg),
		zones:     slices.Sorted(maps.Keys(cfg.Subnets)),
		created:   make(map[string]time.Time),
		attaching: make(map[string]*sync.Mutex),
	}, nil
}

// placement resolves a zone request: the zone and, with Config.Subnets, its subnet. An
// empty zone picks the configured zones in turn, or leaves the choice to AWS.
func (d *Driver) placement(zone string) (string, string, error) {
	if len(d.zones) == 0 {
		return zone, "", nil
	}
	if zone == "" {
		zone = d.zones[int(d.next.Add(1)-1)%len(d.zones)]
	}
	subnet, ok := d.cfg.Subnets[zone]
	if !ok {
		return "", "", fmt.Errorf("aws: zone %q has no subnet in Config.Subnets (zones: %v): %w", zone, d.zones, clouds.ErrInvalid)
	}
	return zone, subnet, nil
}

// remember records an ID this driver created, so that "not found" for it is waited out.
func (d *Driver) remember(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	for old, at := range d.created {
		if now.Sub(at) > d.cfg.ConsistencyTimeout {
			delete(d.created, old)
		}
	}
	d.created[id] = now
}

// fresh reports whether id was created by this driver within ConsistencyTimeout.
func (d *Driver) fresh(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	at, ok := d.created[id]
	return ok && time.Since(at) < d.cfg.ConsistencyTimeout
}

// forget drops what the driver keeps about a deleted instance or volume.
func (d *Driver) forget(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.created, id)
	delete(d.attaching, id)
}

// clientToken is an idempotency token: the SDK's retries of one call reuse it, so a retried
// RunInstances or CreateVolume never launches twice.
func clientToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
