// Package cloudacct keeps the cloud accounts node pools provision in: their settings, their
// credentials sealed at rest (never returned by the API, never logged), and one driver per
// account, built on demand from the cloud's factory.
package cloudacct

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/clouds"
	"github.com/algos-dev/algos/controlplane/registry"
	"github.com/algos-dev/algos/controlplane/secrets"
	"github.com/algos-dev/algos/controlplane/store"
)

// ErrInvalid: a malformed account, an unknown cloud, or credentials the cloud's driver refuses.
var ErrInvalid = errors.New("invalid cloud account")

// Factory builds a cloud's driver from an account's settings and credentials (both the cloud's
// own JSON; credentials may be empty: the cloud's default chain). The driver must implement
// clouds.Groups; it may implement the other capabilities.
type Factory func(ctx context.Context, settings, credentials json.RawMessage) (clouds.Groups, error)

// Config configures a Service.
type Config struct {
	Store     store.Store
	Box       *secrets.Box
	Factories map[string]Factory // by cloud name: "aws", "gcp", "azure", "openstack"
	Logger    *slog.Logger
	Now       func() time.Time
}

// Service is safe for concurrent use.
type Service struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	drivers map[string]clouds.Groups // by account name
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Box == nil {
		return nil, errors.New("cloudacct: Store and Box are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg, log: cfg.Logger.With("component", "cloudacct"), drivers: map[string]clouds.Groups{}}, nil
}

// Clouds lists the clouds this control plane can provision in.
func (s *Service) Clouds() []string {
	out := make([]string, 0, len(s.cfg.Factories))
	for c := range s.cfg.Factories {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

func orEmpty(b json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(b)) == 0 {
		return json.RawMessage("{}")
	}
	return b
}

// build makes a driver, turning a factory's refusal into ErrInvalid.
func (s *Service) build(ctx context.Context, cloud string, settings, creds json.RawMessage) (clouds.Groups, error) {
	f := s.cfg.Factories[cloud]
	if f == nil {
		return nil, fmt.Errorf("%w: cloud %q is not built into this control plane (it has: %s)", ErrInvalid, cloud, strings.Join(s.Clouds(), ", "))
	}
	if !json.Valid(orEmpty(settings)) || !json.Valid(orEmpty(creds)) {
		return nil, fmt.Errorf("%w: settings and credentials must be JSON objects", ErrInvalid)
	}
	d, err := f(ctx, orEmpty(settings), orEmpty(creds))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, cloud, err)
	}
	return d, nil
}

// Create stores an account after its driver accepted the settings and credentials.
func (s *Service) Create(ctx context.Context, in api.CreateCloudAccount) (api.CloudAccount, error) {
	if err := registry.ValidName("cloud account", in.Name); err != nil {
		return api.CloudAccount{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	d, err := s.build(ctx, in.Cloud, in.Settings, in.Credentials)
	if err != nil {
		return api.CloudAccount{}, err
	}
	sealed, err := s.cfg.Box.Seal(orEmpty(in.Credentials), in.Name)
	if err != nil {
		return api.CloudAccount{}, err
	}
	now := s.cfg.Now().UTC()
	a := store.CloudAccount{Name: in.Name, Cloud: in.Cloud, Settings: orEmpty(in.Settings), Credentials: sealed, CreatedAt: now, UpdatedAt: now}
	if err := s.cfg.Store.CreateCloudAccount(ctx, a); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return api.CloudAccount{}, fmt.Errorf("cloud account %s exists already: %w", in.Name, store.ErrConflict)
		}
		return api.CloudAccount{}, err
	}
	s.mu.Lock()
	s.drivers[in.Name] = d
	s.mu.Unlock()
	s.log.Info("cloud account created", "account", in.Name, "cloud", in.Cloud)
	return toAPI(a), nil
}

// Update replaces an account's settings and credentials (empty credentials keep the old ones).
func (s *Service) Update(ctx context.Context, name string, in api.CreateCloudAccount) (api.CloudAccount, error) {
	a, err := s.cfg.Store.GetCloudAccount(ctx, name)
	if err != nil {
		return api.CloudAccount{}, fmt.Errorf("cloud account %s: %w", name, err)
	}
	if in.Cloud != "" && in.Cloud != a.Cloud {
		return api.CloudAccount{}, fmt.Errorf("%w: an account's cloud cannot change (%s → %s)", ErrInvalid, a.Cloud, in.Cloud)
	}
	creds := in.Credentials
	if len(bytes.TrimSpace(creds)) == 0 {
		if creds, err = s.cfg.Box.Open(a.Credentials, name); err != nil {
			return api.CloudAccount{}, err
		}
	}
	settings := in.Settings
	if len(bytes.TrimSpace(settings)) == 0 {
		settings = a.Settings
	}
	d, err := s.build(ctx, a.Cloud, settings, creds)
	if err != nil {
		return api.CloudAccount{}, err
	}
	if a.Credentials, err = s.cfg.Box.Seal(orEmpty(creds), name); err != nil {
		return api.CloudAccount{}, err
	}
	a.Settings, a.UpdatedAt = orEmpty(settings), s.cfg.Now().UTC()
	if err := s.cfg.Store.UpdateCloudAccount(ctx, a); err != nil {
		return api.CloudAccount{}, err
	}
	s.mu.Lock()
	s.drivers[name] = d
	s.mu.Unlock()
	return toAPI(a), nil
}

// Get reads an account, without credentials.
func (s *Service) Get(ctx context.Context, name string) (api.CloudAccount, error) {
	a, err := s.cfg.Store.GetCloudAccount(ctx, name)
	if err != nil {
		return api.CloudAccount{}, fmt.Errorf("cloud account %s: %w", name, err)
	}
	return toAPI(a), nil
}

// List lists accounts, without credentials.
func (s *Service) List(ctx context.Context) ([]api.CloudAccount, error) {
	as, err := s.cfg.Store.ListCloudAccounts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.CloudAccount, 0, len(as))
	for _, a := range as {
		out = append(out, toAPI(a))
	}
	return out, nil
}

// Delete deletes an account that no pool uses. Idempotent.
func (s *Service) Delete(ctx context.Context, name string) error {
	ps, err := s.cfg.Store.ListPools(ctx)
	if err != nil {
		return err
	}
	for _, p := range ps {
		var spec api.PoolSpec
		if json.Unmarshal(p.Spec, &spec) == nil && spec.Account == name {
			return fmt.Errorf("cloud account %s is used by node pool %s: delete the pool first: %w", name, p.Name, store.ErrConflict)
		}
	}
	if err := s.cfg.Store.DeleteCloudAccount(ctx, name); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.drivers, name)
	s.mu.Unlock()
	return nil
}

// Groups returns the driver of an account and its cloud, building it on first use after a
// restart (credentials opened in memory only).
func (s *Service) Groups(ctx context.Context, name string) (clouds.Groups, string, error) {
	a, err := s.cfg.Store.GetCloudAccount(ctx, name)
	if err != nil {
		return nil, "", fmt.Errorf("cloud account %s: %w", name, err)
	}
	s.mu.Lock()
	d := s.drivers[name]
	s.mu.Unlock()
	if d != nil {
		return d, a.Cloud, nil
	}
	creds, err := s.cfg.Box.Open(a.Credentials, name)
	if err != nil {
		return nil, "", err
	}
	if d, err = s.build(ctx, a.Cloud, a.Settings, creds); err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	s.drivers[name] = d
	s.mu.Unlock()
	return d, a.Cloud, nil
}

func toAPI(a store.CloudAccount) api.CloudAccount {
	return api.CloudAccount{Name: a.Name, Cloud: a.Cloud, Settings: json.RawMessage(a.Settings), CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}
