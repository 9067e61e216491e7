// Package registry owns algorithms and their immutable versions: publishing source artifacts
// into the blob store, semantic versions, and the in-memory resolution cache that keeps the
// call path free of database work.
package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/Masterminds/semver/v3"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/store"
)

// Config configures a Registry.
type Config struct {
	Store  store.Store
	Bucket *blob.Bucket // source artifacts live under "artifacts/"
	Logger *slog.Logger
	// MaxArtifactBytes bounds an uploaded source artifact (default api.MaxSourceBytes).
	MaxArtifactBytes int64
	// NegativeTTL is how long an unknown algorithm stays cached as unknown (default 1s).
	NegativeTTL time.Duration
}

// Validate checks the configuration and fills defaults.
func (c *Config) Validate() error {
	if c.Store == nil || c.Bucket == nil {
		return errors.New("registry: Store and Bucket are required")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxArtifactBytes <= 0 {
		c.MaxArtifactBytes = api.MaxSourceBytes
	}
	if c.NegativeTTL <= 0 {
		c.NegativeTTL = time.Second
	}
	return nil
}

// Resolved is a version selected for a call. It is shared and must not be modified.
type Resolved struct {
	ID       string // "owner/name/1.2.3"
	Owner    string
	Name     string
	Version  string
	Digest   string
	Manifest api.Manifest
	Public   bool
}

// entry caches one algorithm and its versions, sorted ascending.
type entry struct {
	missing  bool
	settings api.Manifest
	loadedAt time.Time
	semvers  []*semver.Version
	versions []*Resolved
}

// Registry is safe for concurrent use.
type Registry struct {
	cfg Config
	log *slog.Logger

	mu    sync.RWMutex
	cache map[string]*entry // "owner/name"

	pubMu sync.Mutex // serializes publishes: the next version number depends on the last
}

// New returns a registry.
func New(cfg Config) (*Registry, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Registry{cfg: cfg, log: cfg.Logger.With("component", "registry"), cache: map[string]*entry{}}, nil
}

func (r *Registry) invalidate(owner, name string) {
	r.mu.Lock()
	delete(r.cache, owner+"/"+name)
	r.mu.Unlock()
}

// load returns the cached entry of an algorithm, reading the store on a miss.
func (r *Registry) load(ctx context.Context, owner, name string) (*entry, error) {
	key := owner + "/" + name
	r.mu.RLock()
	e := r.cache[key]
	r.mu.RUnlock()
	if e != nil && (!e.missing || time.Since(e.loadedAt) < r.cfg.NegativeTTL) {
		return e, nil
	}
	e = &entry{loadedAt: time.Now()}
	a, err := r.cfg.Store.GetAlgorithm(ctx, owner, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		e.missing = true
	case err != nil:
		return nil, err
	case len(a.Settings) > 0:
		if err := json.Unmarshal(a.Settings, &e.settings); err != nil {
			r.log.Error("unreadable algorithm settings", "algorithm", key, "err", err)
		}
	}
	var vs []store.Version
	if !e.missing {
		if vs, err = r.cfg.Store.ListVersions(ctx, owner, name); err != nil {
			return nil, err
		}
	}
	for _, v := range vs {
		res, sv, err := toResolved(v)
		if err != nil {
			r.log.Error("skipping unreadable version", "algorithm", key, "version", v.Semver, "err", err)
			continue
		}
		res.Manifest = effective(res.Manifest, e.settings)
		e.semvers = append(e.semvers, sv)
		e.versions = append(e.versions, res)
	}
	sortByVersion(e)
	r.mu.Lock()
	r.cache[key] = e
	r.mu.Unlock()
	return e, nil
}

func sortByVersion(e *entry) {
	idx := make([]int, len(e.semvers))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return e.semvers[a].Compare(e.semvers[b]) })
	svs, rs := make([]*semver.Version, len(idx)), make([]*Resolved, len(idx))
	for i, k := range idx {
		svs[i], rs[i] = e.semvers[k], e.versions[k]
	}
	e.semvers, e.versions = svs, rs
}

func toResolved(v store.Version) (*Resolved, *semver.Version, error) {
	sv, err := semver.StrictNewVersion(v.Semver)
	if err != nil {
		return nil, nil, err
	}
	var m api.Manifest
	if err := json.Unmarshal(v.Manifest, &m); err != nil {
		return nil, nil, err
	}
	return &Resolved{ID: v.Owner + "/" + v.Name + "/" + v.Semver, Owner: v.Owner, Name: v.Name, Version: v.Semver, Digest: v.Digest, Manifest: m, Public: v.Public}, sv, nil
}

// Resolve selects the version of owner/name that spec ("1.2.3", "1.2.*", "1.*", "latest" or "")
// names for a caller account: private versions are visible to their owner only, and to others
// an unknown algorithm and a private one look the same (ErrNotFound). It reads the store only
// on a cache miss.
func (r *Registry) Resolve(ctx context.Context, owner, name, spec, caller string) (*Resolved, error) {
	vs, err := parseSpec(spec)
	if err != nil {
		return nil, err
	}
	e, err := r.load(ctx, owner, name)
	if err != nil {
		return nil, err
	}
	if e.missing {
		return nil, fmt.Errorf("algorithm %s/%s: %w", owner, name, ErrNotFound)
	}
	owned := caller == owner
	i := vs.pick(e.semvers, func(i int) bool { return owned || e.versions[i].Public })
	if i < 0 {
		if spec == "" || spec == "latest" {
			return nil, fmt.Errorf("algorithm %s/%s has no published version you may call: %w", owner, name, ErrNotFound)
		}
		return nil, fmt.Errorf("algorithm %s/%s has no version matching %s: %w", owner, name, spec, ErrNotFound)
	}
	return e.versions[i], nil
}

// VersionByID returns a version by its ID "owner/name/1.2.3", whatever its visibility.
func (r *Registry) VersionByID(ctx context.Context, id string) (*Resolved, error) {
	parts := strings.Split(id, "/")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: version ID %q: want owner/name/1.2.3", ErrInvalid, id)
	}
	e, err := r.load(ctx, parts[0], parts[1])
	if err != nil {
		return nil, err
	}
	for _, v := range e.versions {
		if v.Version == parts[2] {
			return v, nil
		}
	}
	return nil, fmt.Errorf("version %s: %w", id, ErrNotFound)
}

// CreateAlgorithm creates an algorithm with default settings for its versions.
func (r *Registry) CreateAlgorithm(ctx context.Context, owner string, in api.CreateAlgorithm) (api.Algorithm, error) {
	if err := ValidName("algorithm", in.Name); err != nil {
		return api.Algorithm{}, err
	}
	if err := validateSettings(in.Settings); err != nil {
		return api.Algorithm{}, err
	}
	details, err := validateDetails(in.Details)
	if err != nil {
		return api.Algorithm{}, err
	}
	settings, err := json.Marshal(in.Settings)
	if err != nil {
		return api.Algorithm{}, err
	}
	now := time.Now().UTC()
	desc := in.Description
	if desc == "" {
		desc = in.Settings.Description
	}
	a := store.Algorithm{ID: owner + "/" + in.Name, Owner: owner, Name: in.Name, Description: desc, Settings: settings, CreatedAt: now, UpdatedAt: now}
	if err := r.cfg.Store.CreateAlgorithm(ctx, a); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return api.Algorithm{}, fmt.Errorf("algorithm %s/%s exists already: %w", owner, in.Name, ErrConflict)
		}
		return api.Algorithm{}, err
	}
	if details != nil {
		if err := r.cfg.Store.PutAlgorithmDetails(ctx, owner, in.Name, *details); err != nil {
			// Not created half: without its details it is gone again (best effort).
			_ = r.cfg.Store.DeleteAlgorithm(context.WithoutCancel(ctx), owner, in.Name)
			return api.Algorithm{}, err
		}
	}
	r.invalidate(owner, in.Name)
	return r.toAPI(ctx, a, owner)
}

// GetAlgorithm reads an algorithm. Callers other than the owner see it only when it has a
// public version.
func (r *Registry) GetAlgorithm(ctx context.Context, owner, name, caller string) (api.Algorithm, error) {
	a, err := r.cfg.Store.GetAlgorithm(ctx, owner, name)
	if err != nil {
		return api.Algorithm{}, fmt.Errorf("algorithm %s/%s: %w", owner, name, err)
	}
	if caller != owner {
		if _, err := r.Resolve(ctx, owner, name, "latest", caller); err != nil {
			return api.Algorithm{}, fmt.Errorf("algorithm %s/%s: %w", owner, name, ErrNotFound)
		}
	}
	return r.toAPI(ctx, a, caller)
}

// UpdateAlgorithm replaces an algorithm's description and version defaults.
func (r *Registry) UpdateAlgorithm(ctx context.Context, owner, name string, in api.CreateAlgorithm) (api.Algorithm, error) {
	if err := validateSettings(in.Settings); err != nil {
		return api.Algorithm{}, err
	}
	details, err := validateDetails(in.Details)
	if err != nil {
		return api.Algorithm{}, err
	}
	a, err := r.cfg.Store.GetAlgorithm(ctx, owner, name)
	if err != nil {
		return api.Algorithm{}, fmt.Errorf("algorithm %s/%s: %w", owner, name, err)
	}
	if a.Settings, err = json.Marshal(in.Settings); err != nil {
		return api.Algorithm{}, err
	}
	a.Description = in.Description
	a.UpdatedAt = time.Now().UTC()
	if err := r.cfg.Store.UpdateAlgorithm(ctx, a); err != nil {
		return api.Algorithm{}, err
	}
	if details != nil {
		if err := r.cfg.Store.PutAlgorithmDetails(ctx, owner, name, *details); err != nil {
			return api.Algorithm{}, err
		}
	}
	r.invalidate(owner, name)
	return r.toAPI(ctx, a, owner)
}

// DeleteAlgorithm deletes an algorithm and its versions. Idempotent. Artifacts stay in the blob
// store: they are content-addressed and may be shared.
func (r *Registry) DeleteAlgorithm(ctx context.Context, owner, name string) error {
	err := r.cfg.Store.DeleteAlgorithm(ctx, owner, name)
	r.invalidate(owner, name)
	return err
}

// toAPI converts an algorithm; latest_version is the latest the caller may see.
func (r *Registry) toAPI(ctx context.Context, a store.Algorithm, caller string) (api.Algorithm, error) {
	out := api.Algorithm{Owner: a.Owner, Name: a.Name, Description: a.Description, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
	if len(a.Settings) > 0 {
		if err := json.Unmarshal(a.Settings, &out.Settings); err != nil {
			return out, fmt.Errorf("algorithm %s/%s: settings: %w", a.Owner, a.Name, err)
		}
	}
	d, err := r.cfg.Store.GetAlgorithmDetails(ctx, a.Owner, a.Name)
	if err != nil {
		return out, fmt.Errorf("algorithm %s/%s: %w", a.Owner, a.Name, err)
	}
	out.Details = DetailsAPI(d)
	if v, err := r.Resolve(ctx, a.Owner, a.Name, "latest", caller); err == nil {
		out.LatestVersion, out.LatestDigest = v.Version, v.Digest
		// Settings without a runtime (an algorithm published with the CLI from its
		// algorithm.json) show the code fields the latest version runs with.
		if out.Settings.Runtime == "" {
			out.Settings.Runtime = v.Manifest.Runtime
			out.Settings.Entrypoint = v.Manifest.Entrypoint
			if v.Manifest.Runtime == api.RuntimeExec {
				out.Settings.Output = v.Manifest.Output
			}
		}
	}
	return out, nil
}

// ListVersions lists the versions of an algorithm (oldest first) that the caller may see.
func (r *Registry) ListVersions(ctx context.Context, owner, name, caller string) ([]api.Version, error) {
	e, err := r.load(ctx, owner, name)
	if err != nil {
		return nil, err
	}
	if e.missing {
		return nil, fmt.Errorf("algorithm %s/%s: %w", owner, name, ErrNotFound)
	}
	out := []api.Version{}
	for _, v := range e.versions {
		if caller == owner || v.Public {
			out = append(out, versionAPI(v))
		}
	}
	if len(out) == 0 && caller != owner {
		return nil, fmt.Errorf("algorithm %s/%s: %w", owner, name, ErrNotFound)
	}
	return out, nil
}

// ResolveAPI is Resolve in the API's terms.
func (r *Registry) ResolveAPI(ctx context.Context, owner, name, spec, caller string) (api.Version, error) {
	v, err := r.Resolve(ctx, owner, name, spec, caller)
	if err != nil {
		return api.Version{}, err
	}
	return versionAPI(v), nil
}

func versionAPI(v *Resolved) api.Version {
	vis := api.Private
	if v.Public {
		vis = api.Public
	}
	return api.Version{Owner: v.Owner, Name: v.Name, Version: v.Version, Digest: v.Digest, Manifest: v.Manifest, Visibility: vis}
}

// Publish stores a source artifact and creates the next version of an existing algorithm.
// The artifact's manifest overrides the algorithm's settings field by field.
func (r *Registry) Publish(ctx context.Context, owner, name string, artifact io.Reader, o api.PublishOptions) (api.Version, error) {
	a, err := r.cfg.Store.GetAlgorithm(ctx, owner, name)
	if err != nil {
		return api.Version{}, fmt.Errorf("algorithm %s/%s: %w (create it first, or publish with the CLI, which does)", owner, name, err)
	}
	b, err := io.ReadAll(io.LimitReader(artifact, r.cfg.MaxArtifactBytes+1))
	if err != nil {
		return api.Version{}, fmt.Errorf("read artifact: %w", err)
	}
	if int64(len(b)) > r.cfg.MaxArtifactBytes {
		return api.Version{}, fmt.Errorf("%w: the source artifact is above %d bytes", ErrTooLarge, r.cfg.MaxArtifactBytes)
	}
	m, files, err := inspectArtifact(b)
	if err != nil {
		return api.Version{}, err
	}
	var base api.Manifest
	if len(a.Settings) > 0 {
		_ = json.Unmarshal(a.Settings, &base)
	}
	// The algorithm's settings win over the source's algorithm.json: they are the declared
	// configuration (Terraform's, or the API's). Operational settings are not frozen into the
	// version: they apply at call time (effective), where removing one restores the version's.
	m = overlay(m, codeSettings(base))
	if o.Visibility != "" {
		m.Visibility = o.Visibility
	}
	if m, err = normalize(m, files); err != nil {
		return api.Version{}, err
	}
	sum := sha256.Sum256(b)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	if err := r.putArtifact(ctx, digest, b); err != nil {
		return api.Version{}, err
	}
	manifest, _ := json.Marshal(m)

	r.pubMu.Lock()
	defer r.pubMu.Unlock()
	existing, err := r.cfg.Store.ListVersions(ctx, owner, name)
	if err != nil {
		return api.Version{}, err
	}
	svs := make([]*semver.Version, 0, len(existing))
	for _, v := range existing {
		if sv, err := semver.StrictNewVersion(v.Semver); err == nil {
			svs = append(svs, sv)
		}
	}
	sortVersions(svs)
	next, err := nextVersion(svs, o.Bump, o.Version)
	if err != nil {
		return api.Version{}, err
	}
	v := store.Version{
		ID: owner + "/" + name + "/" + next.String(), Owner: owner, Name: name, Semver: next.String(),
		Digest: digest, Manifest: manifest, ReleaseNotes: o.ReleaseNotes, Public: m.Visibility == api.Public,
		CreatedAt: time.Now().UTC(),
	}
	if err := r.cfg.Store.CreateVersion(ctx, v); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return api.Version{}, fmt.Errorf("version %s of %s/%s exists already: %w", v.Semver, owner, name, ErrConflict)
		}
		return api.Version{}, err
	}
	r.invalidate(owner, name)
	r.log.Info("published", "algorithm", owner+"/"+name, "version", v.Semver, "digest", digest)
	res, _, _ := toResolved(v)
	out := versionAPI(res)
	out.ReleaseNotes, out.CreatedAt = v.ReleaseNotes, v.CreatedAt
	return out, nil
}

func artifactKey(digest string) string {
	return "artifacts/" + strings.Replace(digest, ":", "/", 1) + ".tar.gz"
}

func (r *Registry) putArtifact(ctx context.Context, digest string, b []byte) error {
	key := artifactKey(digest)
	if ok, err := r.cfg.Bucket.Exists(ctx, key); err == nil && ok {
		return nil
	}
	if err := r.cfg.Bucket.Upload(ctx, key, bytes.NewReader(b), &blob.WriterOptions{ContentType: "application/gzip"}); err != nil {
		return fmt.Errorf("store artifact %s: %w", digest, err)
	}
	return nil
}

// Artifact opens a source artifact by digest. The caller closes the reader.
func (r *Registry) Artifact(ctx context.Context, digest string) (io.ReadCloser, error) {
	if !strings.HasPrefix(digest, "sha256:") || len(digest) != len("sha256:")+64 {
		return nil, fmt.Errorf("%w: digest %q", ErrInvalid, digest)
	}
	if _, err := hex.DecodeString(digest[len("sha256:"):]); err != nil {
		return nil, fmt.Errorf("%w: digest %q", ErrInvalid, digest)
	}
	rd, err := r.cfg.Bucket.NewReader(ctx, artifactKey(digest), nil)
	if err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return nil, fmt.Errorf("artifact %s: %w", digest, ErrNotFound)
		}
		return nil, err
	}
	return rd, nil
}

// KeepWarm returns the latest version of every algorithm whose scaling asks for workers kept
// warm (min_instances > 0): the versions the autoscaler holds up without calls. It reads each
// algorithm through the cache.
func (r *Registry) KeepWarm(ctx context.Context) ([]*Resolved, error) {
	as, err := r.cfg.Store.ListAlgorithms(ctx, "")
	if err != nil {
		return nil, err
	}
	var out []*Resolved
	for _, a := range as {
		v, err := r.Resolve(ctx, a.Owner, a.Name, "latest", a.Owner)
		if errors.Is(err, ErrNotFound) {
			continue // no version yet
		}
		if err != nil {
			return nil, err
		}
		if v.Manifest.Scaling.MinInstances > 0 {
			out = append(out, v)
		}
	}
	return out, nil
}

// ---- Catalog: an algorithm's details (summary, README, tags, …) and the effective manifest ----

var tagRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// validateDetails checks the details of a create or update and returns them as stored: tags
// lowercased, trimmed and without duplicates. nil stays nil (nothing to store).
func validateDetails(d *api.AlgorithmDetails) (*store.AlgorithmDetails, error) {
	if d == nil {
		return nil, nil
	}
	bad := func(format string, a ...any) (*store.AlgorithmDetails, error) {
		return nil, fmt.Errorf("%w: details: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	if n := utf8.RuneCountInString(d.Summary); n > api.MaxSummaryChars {
		return bad("the summary has %d characters: keep it to %d, and put the rest in the README", n, api.MaxSummaryChars)
	}
	if len(d.README) > api.MaxREADMEBytes {
		return bad("the README has %d bytes: keep it to %d", len(d.README), api.MaxREADMEBytes)
	}
	if n := utf8.RuneCountInString(d.License); n > api.MaxLicenseChars {
		return bad("the license has %d characters: name it, e.g. with its SPDX identifier (MIT, Apache-2.0)", n)
	}
	var tags []string
	if d.Tags != nil {
		tags = make([]string, 0, len(d.Tags))
	}
	for _, t := range d.Tags {
		t = strings.ToLower(strings.TrimSpace(t))
		if !tagRE.MatchString(t) || len(t) > api.MaxTagChars {
			return bad("tag %q: use 1 to %d lowercase letters, digits or '-', starting with a letter or digit", t, api.MaxTagChars)
		}
		if !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	if len(tags) > api.MaxTags {
		return bad("%d tags: use at most %d", len(tags), api.MaxTags)
	}
	for what, b := range map[string][]byte{"sample_input": d.SampleInput, "sample_output": d.SampleOutput} {
		if len(b) > api.MaxSampleBytes {
			return bad("%s has %d bytes: keep it to %d", what, len(b), api.MaxSampleBytes)
		}
		if len(b) > 0 && !json.Valid(b) {
			return bad("%s is not JSON: send a text sample as a JSON string", what)
		}
	}
	return &store.AlgorithmDetails{Summary: d.Summary, README: d.README, Tags: tags, License: d.License,
		SampleInput: d.SampleInput, SampleOutput: d.SampleOutput}, nil
}

// DetailsAPI converts stored details.
func DetailsAPI(d store.AlgorithmDetails) api.AlgorithmDetails {
	return api.AlgorithmDetails{Summary: d.Summary, README: d.README, Tags: d.Tags, License: d.License,
		SampleInput: d.SampleInput, SampleOutput: d.SampleOutput}
}

// Effective is the manifest a version runs with under its algorithm's current settings: the
// version's code fields with the algorithm's operational settings (resources, scaling, timeout,
// price, node pool) applied where set. Calls use it; so does the catalog.
func Effective(version, settings api.Manifest) api.Manifest { return effective(version, settings) }
