// Package catalog is the algorithm catalog: every algorithm's details (summary, README, tags,
// license, sample input and output), what its latest version runs with (runtime, GPU, price),
// its versions with their release notes, its usage (calls, median latency), and full-text
// search over them with ranking, filters and paging.
//
// Search runs on an index held in memory (index.go), so it does no database work but one
// indexed read of the store's change feed (store.CatalogStore), which keeps it current with
// writes made by any process or replica: a caller finds its own write in its next search. The
// index is built from the store when first needed and again after a bulk change.
//
// What a caller sees is what it may call. An algorithm without a public version exists only
// for those who act for its owner (the owner, members of an organization that owns it,
// administrators): for everyone else it is absent from results and totals, and its page
// answers exactly as an unknown algorithm's does. Everyone else sees an algorithm's public
// versions only: its latest version, runtime, GPU, price and usage are theirs.
package catalog

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/store"
)

// Store is what the catalog reads.
type Store interface {
	store.CatalogStore
	GetAlgorithm(ctx context.Context, owner, name string) (store.Algorithm, error)
	ListVersions(ctx context.Context, owner, name string) ([]store.Version, error)
}

// Config configures a Service.
type Config struct {
	Store Store
	// Stats gives the calls and latency of versions (optional: without it, none are shown).
	Stats  Stats
	Logger *slog.Logger
	// MaxIncremental is how many changed algorithms a sync reads one by one; beyond it, the
	// whole catalog is reloaded (default 256).
	MaxIncremental int
}

// Validate checks the configuration and fills defaults.
func (c *Config) Validate() error {
	if c.Store == nil {
		return errors.New("catalog: Store is required")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxIncremental <= 0 {
		c.MaxIncremental = 256
	}
	return nil
}

// MaxQueryBytes bounds the full-text query.
const MaxQueryBytes = 512

// Service is the catalog. It is safe for concurrent use.
type Service struct {
	cfg Config
	log *slog.Logger

	syncMu      chan struct{} // one token: the one sync at a time, the index's only writer
	loaded      bool          // guarded by syncMu
	seq         int64         // the change applied last; guarded by syncMu
	lastStarted time.Time     // when the last successful sync started; guarded by syncMu

	everLoaded atomic.Bool // a reload succeeded once

	mu  sync.RWMutex // readers of idx against the sync's changes to it
	idx *index

	scratch sync.Pool
}

// New returns a catalog. It reads the store at the first search or Sync.
func New(cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, log: cfg.Logger.With("component", "catalog"), syncMu: make(chan struct{}, 1), idx: newIndex(),
		scratch: sync.Pool{New: func() any { return &scratch{} }}}, nil
}

// Sync brings the index up to date with every change committed before it was called. It blocks
// for one read of the change feed, or, at the first sync and after more than MaxIncremental
// changes, for a reload of the whole catalog. Concurrent callers share a sync that started
// after they called.
func (s *Service) Sync(ctx context.Context) error {
	called := time.Now()
	select {
	case s.syncMu <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.syncMu }()
	if s.loaded && s.lastStarted.After(called) {
		return nil // a sync that started after this call has completed
	}
	started := time.Now()
	if err := s.syncLocked(ctx); err != nil {
		return err
	}
	s.lastStarted = started
	return nil
}

func (s *Service) syncLocked(ctx context.Context) error {
	if !s.loaded {
		return s.reload(ctx)
	}
	cs, err := s.cfg.Store.CatalogChanges(ctx, s.seq, s.cfg.MaxIncremental+1)
	if err != nil {
		return err
	}
	if len(cs) == 0 {
		return nil
	}
	if len(cs) > s.cfg.MaxIncremental {
		return s.reload(ctx)
	}
	docs := make([]*doc, len(cs))
	for i, c := range cs {
		if docs[i], err = s.read(ctx, c.Owner, c.Name); err != nil {
			return err
		}
	}
	s.mu.Lock()
	for i, c := range cs {
		if docs[i] == nil {
			s.idx.remove(c.Owner + "/" + c.Name)
		} else {
			s.idx.put(docs[i])
		}
	}
	s.mu.Unlock()
	s.seq = cs[len(cs)-1].Seq
	if s.idx.needsRebuild() { // only this sync writes idx: reading it unlocked is safe
		fresh := buildIndex(s.idx.live())
		s.mu.Lock()
		s.idx = fresh
		s.mu.Unlock()
	}
	return nil
}

// read builds the document of one algorithm; nil when it is gone.
func (s *Service) read(ctx context.Context, owner, name string) (*doc, error) {
	a, err := s.cfg.Store.GetAlgorithm(ctx, owner, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	d, err := s.cfg.Store.GetAlgorithmDetails(ctx, owner, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil // deleted meanwhile: its change comes next
	}
	if err != nil {
		return nil, err
	}
	vs, err := s.cfg.Store.ListVersions(ctx, owner, name)
	if err != nil {
		return nil, err
	}
	return newDoc(store.CatalogAlgorithm{Algorithm: a, Details: d, Versions: vs}, s.log), nil
}

func (s *Service) reload(ctx context.Context) error {
	start := time.Now()
	c, err := s.cfg.Store.LoadCatalog(ctx)
	if err != nil {
		return err
	}
	docs := make([]*doc, len(c.Algorithms))
	versions := 0
	for i, ca := range c.Algorithms {
		docs[i] = newDoc(ca, s.log)
		versions += len(ca.Versions)
	}
	fresh := buildIndex(docs)
	s.mu.Lock()
	s.idx = fresh
	s.mu.Unlock()
	s.seq, s.loaded = c.Seq, true
	s.everLoaded.Store(true)
	s.log.Info("catalog loaded", "algorithms", len(docs), "versions", versions, "tokens", len(fresh.vocab),
		"duration", time.Since(start).Round(time.Millisecond).String())
	return nil
}

// current syncs before a read. Once the catalog is loaded, a failed sync is logged and the
// read served from the index as it is.
func (s *Service) current(ctx context.Context) error {
	err := s.Sync(ctx)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	}
	if !s.everLoaded.Load() {
		return fmt.Errorf("catalog: load: %w", err)
	}
	s.log.Warn("catalog sync failed: serving the index as it is", "err", err)
	return nil
}

// usage reads the stats; a failure shows no usage rather than failing the search.
func (s *Service) usage(ctx context.Context) usageReader {
	if s.cfg.Stats == nil {
		return nil
	}
	u, err := s.cfg.Stats.Usage(ctx)
	if err != nil {
		s.log.Warn("catalog usage unavailable", "err", err)
		return nil
	}
	return u
}

// hit is a search result before rendering.
type hit struct {
	d     *doc
	w     *view
	score float64
}

// compareHits orders results: best score first, then by owner and name.
func compareHits(a, b hit) int {
	if c := cmp.Compare(b.score, a.score); c != 0 {
		return c
	}
	if c := strings.Compare(a.d.text.owner, b.d.text.owner); c != 0 {
		return c
	}
	return strings.Compare(a.d.text.name, b.d.text.name)
}

// Search returns a page of the algorithms v may see that match q, best first. A page's marker
// continues after its last result, so paging is complete and without duplicates while the
// catalog does not change (and, for the algorithms that do not change, while it does).
func (s *Service) Search(ctx context.Context, v Viewer, q api.CatalogQuery) (api.CatalogPage, error) {
	limit := q.Limit
	switch {
	case limit == 0:
		limit = api.DefaultCatalogPage
	case limit < 0 || limit > api.MaxCatalogPage:
		return api.CatalogPage{}, fmt.Errorf("%w: limit %d: use 1 to %d", ErrInvalid, q.Limit, api.MaxCatalogPage)
	}
	if len(q.Q) > MaxQueryBytes {
		return api.CatalogPage{}, fmt.Errorf("%w: the query has %d bytes: use at most %d", ErrInvalid, len(q.Q), MaxQueryBytes)
	}
	var after *hit
	if q.Marker != "" {
		m, err := parseMarker(q.Marker)
		if err != nil {
			return api.CatalogPage{}, err
		}
		after = &m
	}
	tags := make([]string, 0, len(q.Tags))
	for _, t := range q.Tags {
		if t = strings.ToLower(strings.TrimSpace(t)); t != "" {
			tags = append(tags, t)
		}
	}
	if err := s.current(ctx); err != nil {
		return api.CatalogPage{}, err
	}
	usage := s.usage(ctx)
	keep := func(d *doc) *view {
		w := d.viewFor(v)
		switch {
		case w == nil,
			q.Owner != "" && d.text.owner != q.Owner,
			q.GPU != nil && w.gpu != *q.GPU:
			return nil
		}
		for _, t := range tags {
			if !slices.Contains(d.details.Tags, t) {
				return nil
			}
		}
		return w
	}
	ws, stopwordsOnly := queryWords(q.Q)

	sc := s.scratch.Get().(*scratch)
	defer func() {
		clear(sc.hits) // no pooled reference to documents
		sc.hits = sc.hits[:0]
		s.scratch.Put(sc)
	}()
	s.mu.RLock()
	defer s.mu.RUnlock()
	hits := sc.hits[:0]
	switch {
	case stopwordsOnly: // nothing matches words that are not indexed
	case len(ws) == 0:
		for _, d := range s.idx.docs {
			if d != nil {
				if w := keep(d); w != nil {
					hits = append(hits, hit{d, w, 0})
				}
			}
		}
	default:
		s.idx.match(ws, sc, func(d *doc, score float64) {
			if w := keep(d); w != nil {
				hits = append(hits, hit{d, w, score})
			}
		})
	}
	sc.hits = hits
	page := api.CatalogPage{Total: len(hits)}
	if after != nil {
		rest := hits[:0]
		for _, h := range hits {
			if compareHits(h, *after) > 0 {
				rest = append(rest, h)
			}
		}
		hits = rest
	}
	top := first(hits, limit)
	page.Results = make([]api.CatalogEntry, 0, len(top))
	for _, h := range top {
		page.Results = append(page.Results, h.d.entry(h.w, usage, h.score))
	}
	if len(hits) > limit {
		page.NextMarker = marker(top[len(top)-1])
	}
	return page, nil
}

// first returns the first k hits in result order, without ordering the others.
func first(hits []hit, k int) []hit {
	if len(hits) <= k {
		slices.SortFunc(hits, compareHits)
		return hits
	}
	top := make([]hit, 0, k+1)
	for _, h := range hits {
		if len(top) == k && compareHits(h, top[k-1]) >= 0 {
			continue
		}
		i, _ := slices.BinarySearchFunc(top, h, compareHits)
		top = slices.Insert(top, i, h)
		if len(top) > k {
			top = top[:k]
		}
	}
	return top
}

// Get returns the catalog page of owner/name as v sees it; ErrNotFound, the same for an
// unknown algorithm and one v may not see.
func (s *Service) Get(ctx context.Context, v Viewer, owner, name string) (api.CatalogAlgorithm, error) {
	if err := s.current(ctx); err != nil {
		return api.CatalogAlgorithm{}, err
	}
	usage := s.usage(ctx)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if d := s.idx.get(owner + "/" + name); d != nil {
		if w := d.viewFor(v); w != nil {
			return d.page(w, usage), nil
		}
	}
	return api.CatalogAlgorithm{}, fmt.Errorf("algorithm %s/%s is not in the catalog, or not one you may call: %w", owner, name, ErrNotFound)
}

// marker encodes the sort key of a page's last result: the score's bits, owner and name.
func marker(h hit) string {
	b := binary.BigEndian.AppendUint64(nil, math.Float64bits(h.score))
	b = append(b, h.d.text.owner...)
	b = append(b, '/')
	b = append(b, h.d.text.name...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func parseMarker(s string) (hit, error) {
	bad := fmt.Errorf("%w: marker %q is not one a catalog page gave: start again without it", ErrInvalid, s)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 8+3 {
		return hit{}, bad
	}
	owner, name, ok := bytes.Cut(b[8:], []byte("/"))
	score := math.Float64frombits(binary.BigEndian.Uint64(b))
	if !ok || len(owner) == 0 || len(name) == 0 || math.IsNaN(score) {
		return hit{}, bad
	}
	return hit{d: &doc{text: docText{owner: string(owner), name: string(name)}}, score: score}, nil
}
