// Package connector serves the Data API's connectors: files in external object stores,
// addressed Algorithmia-style as s3://bucket/key, s3+label://bucket/key, gs://bucket/key and
// azure://container/blob, plus blob://path for the store an administrator made the default.
// Files stream both ways through gocloud.dev/blob (S3 with aws-sdk-go-v2, GCS, Azure Blob);
// none is ever held whole in memory.
//
// A connector belongs to an account, or to the platform (created by administrators, usable by
// every account). A request's connector name resolves to the caller's own connector of that
// name first, else to the platform-wide one; another account's connector is answered as
// missing. A connector lists the buckets requests may name and, optionally, the folders
// (prefixes) they may reach, and whether they may read and write. The key's data scope gates
// everything first, as in the Data API.
//
// Credentials are sealed at rest with controlplane/secrets, opened in memory only to build
// clients, and never returned, logged or put in an error: answers say has_credentials. A
// connector never falls back to the control plane's own cloud credentials (instance roles,
// $AWS_*, application default credentials): without credentials it is anonymous.
//
// Every connection to a store goes through a dialer that checks the resolved address and
// refuses loopback, private, link-local (the metadata service), unspecified and multicast
// addresses, unless the control plane's configuration or (set by an administrator) the
// connector allows private endpoints. Every remote operation runs under a deadline: Timeout
// for one request, and for a transfer Timeout without progress or MaxTransfer in all.
package connector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/auth"
	"github.com/algos-dev/algos/controlplane/secrets"
	"github.com/algos-dev/algos/controlplane/store"
)

// Store is the part of the store connectors use.
type Store interface {
	GetAccount(ctx context.Context, name string) (store.Account, error)
	store.ConnectorStore
}

// Defaults of Config.
const (
	DefaultTimeout     = 30 * time.Second
	DefaultMaxTransfer = 6 * time.Hour
	// MaxBuckets and MaxPrefixes bound a connector's lists.
	MaxBuckets  = 100
	MaxPrefixes = 100
)

// Config configures the connector service.
type Config struct {
	Store Store
	Box   *secrets.Box
	// DefaultConnector is the platform-wide connector that serves blob://: a name ("s3+lake":
	// blob://bucket/path is s3+lake://bucket/path) or a URI ("s3+lake://bucket/prefix":
	// blob://path is s3+lake://bucket/prefix/path). Empty: blob:// is not configured.
	DefaultConnector string
	// AllowPrivateEndpoints lets every connector reach loopback, private and link-local
	// addresses (an S3-compatible store on the private network, emulators in tests).
	AllowPrivateEndpoints bool
	// Timeout bounds one remote request, and how long a transfer may go without moving a
	// byte (default DefaultTimeout). MaxTransfer bounds a whole transfer (default
	// DefaultMaxTransfer).
	Timeout     time.Duration
	MaxTransfer time.Duration
	Logger      *slog.Logger
	Now         func() time.Time
}

// Validate checks the configuration and fills defaults.
func (c *Config) Validate() error {
	if c.Store == nil || c.Box == nil {
		return errors.New("connector: Store and Box are required")
	}
	if c.Timeout < 0 || c.MaxTransfer < 0 {
		return errors.New("connector: Timeout and MaxTransfer must not be negative")
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxTransfer == 0 {
		c.MaxTransfer = DefaultMaxTransfer
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if _, err := parseDefault(c.DefaultConnector); err != nil {
		return fmt.Errorf("connector: DefaultConnector: %w", err)
	}
	return nil
}

// defaultStore is the parsed DefaultConnector.
type defaultStore struct {
	name   string // "" when none is configured
	bucket string // "" when blob:// paths start with the bucket
	prefix string
}

func parseDefault(s string) (defaultStore, error) {
	if s == "" {
		return defaultStore{}, nil
	}
	name, rest, isURI := strings.Cut(s, "://")
	canonical, _, err := ParseName(name)
	if err != nil {
		return defaultStore{}, err
	}
	d := defaultStore{name: canonical}
	if !isURI {
		return d, nil
	}
	rest = strings.TrimSuffix(rest, "/")
	d.bucket, d.prefix, _ = strings.Cut(rest, "/")
	if err := ValidBucket(d.bucket); err != nil {
		return defaultStore{}, err
	}
	if d.prefix != "" {
		if d.prefix, err = cleanPrefix(d.prefix); err != nil {
			return defaultStore{}, err
		}
	}
	return d, nil
}

// Service is the connectors' service. It is safe for concurrent use.
type Service struct {
	cfg  Config
	log  *slog.Logger
	def  defaultStore
	mu   sync.Mutex
	live map[string]*remote // by owner "\x00" name
}

// New returns the connector service.
func New(cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	def, _ := parseDefault(cfg.DefaultConnector)
	return &Service{cfg: cfg, log: cfg.Logger.With("component", "connector"), def: def, live: map[string]*remote{}}, nil
}

// sealContext binds sealed credentials to their connector: moved to another record, they do
// not open.
func sealContext(owner, name string) string { return "connector:" + owner + "/" + name }

// describe names a connector in messages.
func describe(c store.Connector) string {
	if c.Owner == "" {
		return "the platform connector " + c.Name
	}
	return "the connector " + c.Name + " of " + c.Owner
}

func toAPI(c store.Connector) api.Connector {
	return api.Connector{
		Name: c.Name, Kind: c.Kind, Owner: c.Owner, Platform: c.Owner == "",
		Buckets: nonNil(c.Buckets), Prefixes: nonNil(c.Prefixes), Read: c.Read, Write: c.Write,
		Endpoint: c.Endpoint, Region: c.Region, AllowPrivateEndpoints: c.AllowPrivate,
		HasCredentials: len(c.Credentials) > 0, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

var regionRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

// cleanEndpoint checks an endpoint URL and returns it without a trailing "/", with its host.
// Its errors quote it only when it carries no user information (which could be a secret).
func cleanEndpoint(s string) (string, string, error) {
	if s == "" {
		return "", "", nil
	}
	u, err := url.Parse(s)
	show := fmt.Sprintf("%q", s)
	if err != nil || u.User != nil {
		show = "the endpoint"
	}
	switch {
	case err != nil:
		return "", "", fmt.Errorf("%w: %s is not a URL: use https://host[:port][/path]", ErrInvalid, show)
	case u.Scheme != "http" && u.Scheme != "https":
		return "", "", fmt.Errorf("%w: %s: the endpoint must be an http:// or https:// URL", ErrInvalid, show)
	case u.User != nil:
		return "", "", fmt.Errorf("%w: the endpoint must not carry credentials: put them in \"credentials\"", ErrInvalid)
	case u.Hostname() == "":
		return "", "", fmt.Errorf("%w: %s names no host", ErrInvalid, show)
	case u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return "", "", fmt.Errorf("%w: %s: the endpoint takes no query or fragment", ErrInvalid, show)
	}
	return strings.TrimSuffix(u.String(), "/"), u.Hostname(), nil
}

// checkSettings checks the settings of a connector being created or updated and normalizes
// its lists (prefixes without a trailing "/", no duplicates).
func checkSettings(c *store.Connector) error {
	if len(c.Buckets) == 0 {
		return fmt.Errorf("%w: missing bucket: list the buckets (Azure: containers) the connector may reach in \"buckets\"", ErrInvalid)
	}
	if len(c.Buckets) > MaxBuckets || len(c.Prefixes) > MaxPrefixes {
		return fmt.Errorf("%w: at most %d buckets and %d prefixes", ErrInvalid, MaxBuckets, MaxPrefixes)
	}
	var buckets []string
	for _, b := range c.Buckets {
		if err := ValidBucket(b); err != nil {
			return err
		}
		if !slices.Contains(buckets, b) {
			buckets = append(buckets, b)
		}
	}
	prefixes := []string{}
	for _, p := range c.Prefixes {
		cp, err := cleanPrefix(p)
		if err != nil {
			return err
		}
		if !slices.Contains(prefixes, cp) {
			prefixes = append(prefixes, cp)
		}
	}
	if c.Region != "" && !regionRE.MatchString(c.Region) {
		return fmt.Errorf("%w: region %q: use the store's region name, as us-east-1", ErrInvalid, c.Region)
	}
	c.Buckets, c.Prefixes = buckets, prefixes
	return nil
}

// checkEndpoint refuses, up front, an endpoint whose address the dialer would refuse.
func (s *Service) checkEndpoint(ctx context.Context, c store.Connector) (string, error) {
	endpoint, host, err := cleanEndpoint(c.Endpoint)
	if err != nil || host == "" || s.cfg.AllowPrivateEndpoints || c.AllowPrivate {
		return endpoint, err
	}
	if err := checkHost(ctx, host); err != nil {
		return "", fmt.Errorf("endpoint of %s: %w", c.Name, err)
	}
	return endpoint, nil
}

// prepare checks a connector's settings and credentials (by building its clients) and seals
// the credentials into it.
func (s *Service) prepare(ctx context.Context, c *store.Connector, rawCreds []byte) error {
	if err := checkSettings(c); err != nil {
		return err
	}
	endpoint, err := s.checkEndpoint(ctx, *c)
	if err != nil {
		return err
	}
	c.Endpoint = endpoint
	cr, err := parseCredentials(c.Kind, rawCreds)
	if err != nil {
		return err
	}
	if _, err := newRemote(ctx, *c, cr, true); err != nil {
		return err
	}
	c.Credentials = nil
	if !emptyCredentials(rawCreds) {
		if c.Credentials, err = s.cfg.Box.Seal(rawCreds, sealContext(c.Owner, c.Name)); err != nil {
			return err
		}
	}
	return nil
}

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

// CreateConnector creates a connector of the caller's account, or (administrators only) of
// another account or platform-wide.
func (s *Service) CreateConnector(ctx context.Context, p *auth.Principal, in api.CreateConnector) (api.Connector, error) {
	if in.Name == api.ConnectorBlob {
		return api.Connector{}, fmt.Errorf("%w: blob is the name of the default store: create a connector such as s3+lake and have the administrator make it the default", ErrInvalid)
	}
	name, kind, err := ParseName(in.Name)
	if err != nil {
		return api.Connector{}, err
	}
	if in.Kind != "" && in.Kind != kind {
		return api.Connector{}, fmt.Errorf("%w: kind %q does not match the name %q, whose kind is %s", ErrInvalid, in.Kind, in.Name, kind)
	}
	owner := p.Account
	switch {
	case in.Platform && in.Owner != "":
		return api.Connector{}, fmt.Errorf("%w: a connector is platform-wide or has an owner, not both", ErrInvalid)
	case in.Platform:
		owner = ""
	case in.Owner != "":
		owner = in.Owner
	}
	if (owner != p.Account) && !p.Admin {
		if owner == "" {
			return api.Connector{}, fmt.Errorf("%w: only an administrator creates platform-wide connectors", ErrForbidden)
		}
		return api.Connector{}, fmt.Errorf("%w: this key belongs to %s and may not create connectors of %s", ErrForbidden, p.Account, owner)
	}
	if in.AllowPrivateEndpoints && !p.Admin {
		return api.Connector{}, fmt.Errorf("%w: only an administrator may allow a connector private endpoints", ErrForbidden)
	}
	if owner != "" {
		if _, err := s.cfg.Store.GetAccount(ctx, owner); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return api.Connector{}, fmt.Errorf("%w: no account %s", ErrNotFound, owner)
			}
			return api.Connector{}, err
		}
	}
	now := s.cfg.Now().UTC()
	c := store.Connector{
		Owner: owner, Name: name, Kind: kind, Buckets: in.Buckets, Prefixes: in.Prefixes,
		Read: boolOr(in.Read, true), Write: boolOr(in.Write, false), Endpoint: in.Endpoint, Region: in.Region,
		AllowPrivate: in.AllowPrivateEndpoints, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.prepare(ctx, &c, in.Credentials); err != nil {
		return api.Connector{}, err
	}
	if err := s.cfg.Store.CreateConnector(ctx, c); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return api.Connector{}, fmt.Errorf("%w: %s exists already", ErrConflict, describe(c))
		}
		return api.Connector{}, err
	}
	s.log.Info("connector created", "connector", c.Name, "owner", c.Owner, "kind", c.Kind, "by", p.Account)
	return toAPI(c), nil
}

// find returns the connector a management request addresses (see api.ConnectorScope). A
// connector of another account is not found unless the caller is an administrator.
func (s *Service) find(ctx context.Context, p *auth.Principal, name string, sc api.ConnectorScope) (store.Connector, error) {
	canonical, _, err := ParseName(name)
	if err != nil {
		return store.Connector{}, err
	}
	missing := fmt.Errorf("%w: no connector %s: list yours and the platform's with GET /v1/connectors", ErrNotFound, canonical)
	switch {
	case sc.Platform && sc.Owner != "":
		return store.Connector{}, fmt.Errorf("%w: ask for a platform-wide connector or an account's, not both", ErrInvalid)
	case sc.Platform:
		c, err := s.cfg.Store.GetConnector(ctx, "", canonical)
		if errors.Is(err, store.ErrNotFound) {
			err = missing
		}
		return c, err
	case sc.Owner != "" && sc.Owner != p.Account:
		if !p.Admin {
			return store.Connector{}, missing
		}
		c, err := s.cfg.Store.GetConnector(ctx, sc.Owner, canonical)
		if errors.Is(err, store.ErrNotFound) {
			err = missing
		}
		return c, err
	}
	return s.resolve(ctx, p.Account, canonical)
}

// resolve returns the connector name of owner, else the platform-wide one.
func (s *Service) resolve(ctx context.Context, owner, name string) (store.Connector, error) {
	c, err := s.cfg.Store.GetConnector(ctx, owner, name)
	if errors.Is(err, store.ErrNotFound) {
		c, err = s.cfg.Store.GetConnector(ctx, "", name)
	}
	if errors.Is(err, store.ErrNotFound) {
		return store.Connector{}, fmt.Errorf("%w: no connector %s: create one with POST /v1/connectors, or ask an administrator for a platform-wide one", ErrNotFound, name)
	}
	return c, err
}

// mayManage checks that p may change c: its owner, or an administrator.
func mayManage(p *auth.Principal, c store.Connector) error {
	if p.Admin || c.Owner != "" && c.Owner == p.Account {
		return nil
	}
	return fmt.Errorf("%w: only an administrator or its owner changes %s", ErrForbidden, describe(c))
}

// GetConnector returns a connector: the caller's, another account's (administrators) or a
// platform-wide one (which every account may read; no answer carries credentials).
func (s *Service) GetConnector(ctx context.Context, p *auth.Principal, name string, sc api.ConnectorScope) (api.Connector, error) {
	c, err := s.find(ctx, p, name, sc)
	if err != nil {
		return api.Connector{}, err
	}
	return toAPI(c), nil
}

// ListConnectors returns the connectors the caller may use, its own then the platform-wide
// ones, each by name; an administrator may list another account's (owner).
func (s *Service) ListConnectors(ctx context.Context, p *auth.Principal, owner string) ([]api.Connector, error) {
	if owner == "" {
		owner = p.Account
	}
	if owner != p.Account && !p.Admin {
		return nil, fmt.Errorf("%w: this key belongs to %s and may not list the connectors of %s", ErrForbidden, p.Account, owner)
	}
	out := []api.Connector{}
	for _, o := range []string{owner, ""} {
		cs, err := s.cfg.Store.ListConnectors(ctx, o)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			out = append(out, toAPI(c))
		}
	}
	return out, nil
}

// UpdateConnector changes a connector of the caller's (administrators: any connector).
func (s *Service) UpdateConnector(ctx context.Context, p *auth.Principal, name string, sc api.ConnectorScope, in api.UpdateConnector) (api.Connector, error) {
	c, err := s.find(ctx, p, name, sc)
	if err != nil {
		return api.Connector{}, err
	}
	if err := mayManage(p, c); err != nil {
		return api.Connector{}, err
	}
	if !p.Admin {
		if in.AllowPrivateEndpoints != nil && *in.AllowPrivateEndpoints && !c.AllowPrivate {
			return api.Connector{}, fmt.Errorf("%w: only an administrator may allow a connector private endpoints", ErrForbidden)
		}
		if c.AllowPrivate && in.Endpoint != nil && *in.Endpoint != c.Endpoint {
			return api.Connector{}, fmt.Errorf("%w: an administrator allowed %s private endpoints: only an administrator changes its endpoint", ErrForbidden, describe(c))
		}
	}
	if in.Buckets != nil {
		c.Buckets = *in.Buckets
	}
	if in.Prefixes != nil {
		c.Prefixes = *in.Prefixes
	}
	c.Read, c.Write = boolOr(in.Read, c.Read), boolOr(in.Write, c.Write)
	if in.Endpoint != nil {
		c.Endpoint = *in.Endpoint
	}
	if in.Region != nil {
		c.Region = *in.Region
	}
	c.AllowPrivate = boolOr(in.AllowPrivateEndpoints, c.AllowPrivate)
	raw := []byte(in.Credentials)
	if in.Credentials == nil && len(c.Credentials) > 0 {
		if raw, err = s.cfg.Box.Open(c.Credentials, sealContext(c.Owner, c.Name)); err != nil {
			return api.Connector{}, err
		}
	}
	if err := s.prepare(ctx, &c, raw); err != nil {
		return api.Connector{}, err
	}
	c.UpdatedAt = s.cfg.Now().UTC()
	if err := s.cfg.Store.UpdateConnector(ctx, c); err != nil {
		return api.Connector{}, err
	}
	s.forget(c)
	s.log.Info("connector updated", "connector", c.Name, "owner", c.Owner, "by", p.Account)
	return toAPI(c), nil
}

// DeleteConnector deletes a connector (its files stay in their store). Idempotent: a
// connector that does not exist is deleted already.
func (s *Service) DeleteConnector(ctx context.Context, p *auth.Principal, name string, sc api.ConnectorScope) error {
	c, err := s.find(ctx, p, name, sc)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := mayManage(p, c); err != nil {
		return err
	}
	if err := s.cfg.Store.DeleteConnector(ctx, c.Owner, c.Name); err != nil {
		return err
	}
	s.forget(c)
	s.log.Info("connector deleted", "connector", c.Name, "owner", c.Owner, "by", p.Account)
	return nil
}

func liveKey(c store.Connector) string { return c.Owner + "\x00" + c.Name }

// forget drops the clients of a changed or deleted connector.
func (s *Service) forget(c store.Connector) {
	s.mu.Lock()
	r := s.live[liveKey(c)]
	delete(s.live, liveKey(c))
	s.mu.Unlock()
	if r != nil {
		r.close()
	}
}

// remote returns the clients of c, building them when c changed since they were built (by
// this replica or another).
func (s *Service) remote(ctx context.Context, c store.Connector) (*remote, error) {
	allow := s.cfg.AllowPrivateEndpoints || c.AllowPrivate
	version := remoteVersion(c, allow)
	s.mu.Lock()
	r := s.live[liveKey(c)]
	s.mu.Unlock()
	if r != nil && r.version == version {
		return r, nil
	}
	var raw []byte
	if len(c.Credentials) > 0 {
		var err error
		if raw, err = s.cfg.Box.Open(c.Credentials, sealContext(c.Owner, c.Name)); err != nil {
			return nil, fmt.Errorf("%s: %w", describe(c), err)
		}
	}
	cr, err := parseCredentials(c.Kind, raw)
	if err != nil {
		return nil, fmt.Errorf("%s: stored credentials: %w", describe(c), err)
	}
	if r, err = newRemote(ctx, c, cr, allow); err != nil {
		return nil, err
	}
	s.mu.Lock()
	old := s.live[liveKey(c)]
	s.live[liveKey(c)] = r
	s.mu.Unlock()
	if old != nil {
		old.close()
	}
	return r, nil
}
