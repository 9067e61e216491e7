package catalog

import (
	"encoding/json"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/registry"
	"github.com/algos-dev/algos/controlplane/store"
)

// version is what the catalog keeps of a version: what it runs with under the algorithm's
// current settings (registry.Effective), as calls see it.
type version struct {
	sv      *semver.Version
	id      string // "owner/name/1.2.3", the metrics' key
	public  bool
	notes   string
	runtime string
	gpu     bool
	price   float64
	created time.Time
}

// view is an algorithm as one audience sees it: anyone (its public versions) or its owner
// (all of them).
type view struct {
	versions []int // indexes into doc.versions, ascending
	latest   int   // index into doc.versions of the latest release (no prerelease); -1: none
	runtime  string
	gpu      bool
	price    float64
}

// doc is an algorithm in the catalog. It is immutable once built: a change builds a new one.
type doc struct {
	key      string // "owner/name"
	text     docText
	squashed string // squash(name)
	details  store.AlgorithmDetails
	created  time.Time
	updated  time.Time
	versions []version // ascending
	public   view
	all      view
}

// newDoc builds the document of an algorithm. Unreadable settings or versions (written by a
// newer release, or damaged) are logged and left out, as the registry does.
func newDoc(ca store.CatalogAlgorithm, log *slog.Logger) *doc {
	a := ca.Algorithm
	key := a.Owner + "/" + a.Name
	var settings api.Manifest
	if len(a.Settings) > 0 {
		if err := json.Unmarshal(a.Settings, &settings); err != nil {
			log.Warn("unreadable algorithm settings", "algorithm", key, "err", err)
		}
	}
	d := &doc{
		key:      key,
		text:     docText{owner: a.Owner, name: a.Name, summary: ca.Details.Summary, description: a.Description, readme: ca.Details.README, tags: ca.Details.Tags},
		squashed: squash(a.Name),
		details:  ca.Details,
		created:  a.CreatedAt,
		updated:  a.UpdatedAt,
	}
	for _, v := range ca.Versions {
		sv, err := semver.StrictNewVersion(v.Semver)
		if err != nil {
			log.Warn("skipping unreadable version", "algorithm", key, "version", v.Semver, "err", err)
			continue
		}
		var m api.Manifest
		if err := json.Unmarshal(v.Manifest, &m); err != nil {
			log.Warn("skipping unreadable version", "algorithm", key, "version", v.Semver, "err", err)
			continue
		}
		m = registry.Effective(m, settings)
		d.versions = append(d.versions, version{sv: sv, id: key + "/" + v.Semver, public: v.Public, notes: v.ReleaseNotes,
			runtime: m.Runtime, gpu: needsGPU(m.Resources), price: m.Price, created: v.CreatedAt})
	}
	slices.SortStableFunc(d.versions, func(x, y version) int { return x.sv.Compare(y.sv) })
	d.public = d.view(settings, func(v version) bool { return v.public })
	d.all = d.view(settings, func(version) bool { return true })
	return d
}

func needsGPU(r api.Resources) bool { return r.GPUs > 0 || r.GPUMemMiB > 0 }

// view selects the versions keep admits. Without any, runtime, GPU and price come from the
// algorithm's settings.
func (d *doc) view(settings api.Manifest, keep func(version) bool) view {
	w := view{latest: -1, runtime: settings.Runtime, gpu: needsGPU(settings.Resources), price: settings.Price}
	for i, v := range d.versions {
		if keep(v) {
			w.versions = append(w.versions, i)
			if v.sv.Prerelease() == "" {
				w.latest = i
			}
		}
	}
	// The latest release decides, as a call to "latest" would; a prerelease only when there is
	// no release.
	pick := w.latest
	if pick < 0 && len(w.versions) > 0 {
		pick = w.versions[len(w.versions)-1]
	}
	if pick >= 0 {
		v := d.versions[pick]
		w.runtime, w.gpu, w.price = v.runtime, v.gpu, v.price
	}
	return w
}

// Viewer is who looks at the catalog (*auth.Principal is one).
type Viewer interface {
	// ActsFor reports whether the viewer may call what owner owns as owner may, private
	// versions included: owner itself, a member of organization owner, an administrator.
	ActsFor(owner string) bool
}

// viewFor returns the view of d that v may see, or nil when d is invisible to v: an algorithm
// without a public version exists only for those who act for its owner.
func (d *doc) viewFor(v Viewer) *view {
	if v.ActsFor(d.text.owner) {
		return &d.all
	}
	if len(d.public.versions) == 0 {
		return nil
	}
	return &d.public
}

// entry renders d as w shows it.
func (d *doc) entry(w *view, u usageReader, score float64) api.CatalogEntry {
	e := api.CatalogEntry{
		Owner: d.text.owner, Name: d.text.name, Summary: d.details.Summary, Description: d.text.description,
		Tags: d.details.Tags, License: d.details.License, Visibility: api.Private,
		Runtime: w.runtime, GPU: w.gpu, Price: w.price, Score: math.Round(score*1000) / 1000, UpdatedAt: d.updated,
	}
	if e.Tags == nil {
		e.Tags = []string{}
	}
	if len(d.public.versions) > 0 {
		e.Visibility = api.Public
	}
	if w.latest >= 0 {
		e.LatestVersion = d.versions[w.latest].sv.String()
	}
	ids := make([]string, len(w.versions))
	for i, vi := range w.versions {
		ids[i] = d.versions[vi].id
	}
	e.Calls, e.LatencyP50Ms = u.of(ids...)
	return e
}

// page renders d's catalog page as w shows it.
func (d *doc) page(w *view, u usageReader) api.CatalogAlgorithm {
	out := api.CatalogAlgorithm{
		CatalogEntry: d.entry(w, u, 0),
		README:       d.details.README,
		SampleInput:  d.details.SampleInput,
		SampleOutput: d.details.SampleOutput,
		CreatedAt:    d.created,
		Versions:     make([]api.CatalogVersion, 0, len(w.versions)),
	}
	for i := len(w.versions) - 1; i >= 0; i-- {
		v := d.versions[w.versions[i]]
		vis := api.Private
		if v.public {
			vis = api.Public
		}
		cv := api.CatalogVersion{Version: v.sv.String(), ReleaseNotes: v.notes, Visibility: vis, Runtime: v.runtime,
			GPU: v.gpu, Price: v.price, CreatedAt: v.created}
		cv.Calls, cv.LatencyP50Ms = u.of(v.id)
		out.Versions = append(out.Versions, cv)
	}
	return out
}
