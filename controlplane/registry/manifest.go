package registry

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/algos-dev/algos/api"
)

// Defaults of a version's manifest.
const (
	DefaultTimeout      = 300  // seconds
	MaxTimeout          = 3000 // seconds
	DefaultMaxInstances = 4
	// MaxInstancesLimit bounds max_instances (workers of a version on a node, and the
	// autoscaler's total), and MaxKeepWarm min_instances: an algorithm's settings must not be
	// able to fill the installation's nodes.
	MaxInstancesLimit  = 256
	MaxKeepWarm        = 16
	DefaultQueueSize   = 100
	DefaultIdleTimeout = "5m"
)

var nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)

// ValidName checks an account or algorithm name.
func ValidName(kind, s string) error {
	if !nameRE.MatchString(s) {
		return fmt.Errorf("%w: %s name %q: use 1 to 64 letters, digits, '-' or '_', starting with a letter", ErrInvalid, kind, s)
	}
	return nil
}

// effective is the manifest a call runs with: the version's (immutable code: runtime,
// entrypoint, output) with the algorithm's current operational settings (resources, scaling,
// timeout, price, node pool) applied field by field where they are set. Operational settings
// are the deployment's, changed in place (as a Terraform update does) without a new version.
func effective(v, settings api.Manifest) api.Manifest {
	m := v
	r, sr := &m.Resources, settings.Resources
	if sr.CPU != 0 {
		r.CPU = sr.CPU
	}
	if sr.MemoryMiB != 0 {
		r.MemoryMiB = sr.MemoryMiB
	}
	if sr.GPUs != 0 {
		r.GPUs = sr.GPUs
	}
	if sr.GPUMemMiB != 0 {
		r.GPUMemMiB = sr.GPUMemMiB
	}
	sc, ss := &m.Scaling, settings.Scaling
	if ss.MinInstances != 0 {
		sc.MinInstances = ss.MinInstances
	}
	if ss.MaxInstances != 0 {
		sc.MaxInstances = ss.MaxInstances
	}
	if ss.IdleTimeout != "" {
		sc.IdleTimeout = ss.IdleTimeout
	}
	if ss.TargetConcurrency != 0 {
		sc.TargetConcurrency = ss.TargetConcurrency
	}
	if ss.QueueSize != 0 {
		sc.QueueSize = ss.QueueSize
	}
	if settings.Timeout != 0 {
		m.Timeout = settings.Timeout
	}
	if settings.Price != 0 {
		m.Price = settings.Price
	}
	if settings.NodePool != "" {
		m.NodePool = settings.NodePool
	}
	if settings.CallOthers != nil {
		m.CallOthers = settings.CallOthers
	}
	if settings.Network {
		m.Network = true
	}
	if ss.Predictive != nil {
		sc.Predictive = ss.Predictive
	}
	if n, err := normalize(m, nil); err == nil {
		return n
	}
	return v // settings validated at write; an old invalid combination keeps the version's own
}

// validateSettings checks an algorithm's settings (version defaults and operational settings);
// unset fields are fine.
func validateSettings(s api.Manifest) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: settings: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	switch s.Runtime {
	case "", api.RuntimePython, api.RuntimeGo, api.RuntimeExec:
	default:
		return bad("runtime %q: use python, go or exec", s.Runtime)
	}
	switch s.Output {
	case "", "auto", api.ContentJSON, api.ContentText, api.ContentBinary:
	default:
		return bad("output %q: use auto, json, text or binary", s.Output)
	}
	switch s.Visibility {
	case "", api.Public, api.Private:
	default:
		return bad("visibility %q: use public or private", s.Visibility)
	}
	if s.Timeout < 0 || s.Timeout > MaxTimeout {
		return bad("timeout %d: use 1 to %d seconds", s.Timeout, MaxTimeout)
	}
	sc := s.Scaling
	if sc.MinInstances < 0 || sc.MaxInstances < 0 || sc.QueueSize < 0 || sc.TargetConcurrency < 0 {
		return bad("scaling values must not be negative")
	}
	if sc.MaxInstances > MaxInstancesLimit || sc.MinInstances > MaxKeepWarm {
		return bad("scaling: max_instances is at most %d and min_instances at most %d (warm workers hold nodes whether called or not)", MaxInstancesLimit, MaxKeepWarm)
	}
	if sc.MaxInstances > 0 && sc.MinInstances > sc.MaxInstances {
		return bad("scaling: min_instances %d is above max_instances %d", sc.MinInstances, sc.MaxInstances)
	}
	if sc.IdleTimeout != "" {
		if d, err := time.ParseDuration(sc.IdleTimeout); err != nil || d <= 0 {
			return bad("idle_timeout %q: use a duration such as 30s or 5m", sc.IdleTimeout)
		}
	}
	if r := s.Resources; r.CPU < 0 || r.MemoryMiB < 0 || r.GPUs < 0 || r.GPUMemMiB < 0 {
		return bad("resources must not be negative")
	}
	if s.Price < 0 {
		return bad("price_per_call must not be negative")
	}
	if s.NodePool != "" {
		if err := ValidName("node pool", s.NodePool); err != nil {
			return err
		}
	}
	return nil
}

// codeSettings keeps the fields of an algorithm's settings that shape a version's code and
// publication (runtime, entrypoint, output, visibility, description); the operational ones
// apply at call time through effective, so that removing one restores the version's own.
func codeSettings(s api.Manifest) api.Manifest {
	return api.Manifest{Runtime: s.Runtime, Entrypoint: s.Entrypoint, Output: s.Output, Visibility: s.Visibility, Description: s.Description}
}

// overlay returns base with the fields set in m replacing base's.
func overlay(base, m api.Manifest) api.Manifest {
	out := base
	if m.Description != "" {
		out.Description = m.Description
	}
	if m.Runtime != "" {
		out.Runtime = m.Runtime
	}
	if len(m.Entrypoint) > 0 {
		out.Entrypoint = m.Entrypoint
	}
	if m.Output != "" {
		out.Output = m.Output
	}
	if m.Resources != (api.Resources{}) {
		out.Resources = m.Resources
	}
	if m.Scaling != (api.Scaling{}) {
		out.Scaling = m.Scaling
	}
	if m.Timeout != 0 {
		out.Timeout = m.Timeout
	}
	if m.Visibility != "" {
		out.Visibility = m.Visibility
	}
	if m.Price != 0 {
		out.Price = m.Price
	}
	if m.NodePool != "" {
		out.NodePool = m.NodePool
	}
	return out
}

// normalize fills defaults and checks a manifest. files, when not nil, is the set of paths in
// the artifact, to check that the entrypoint exists.
func normalize(m api.Manifest, files map[string]bool) (api.Manifest, error) {
	bad := func(format string, a ...any) (api.Manifest, error) {
		return m, fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	switch m.Runtime {
	case api.RuntimePython:
		if len(m.Entrypoint) == 0 {
			m.Entrypoint = []string{"main.py"}
		}
		if len(m.Entrypoint) != 1 || !strings.HasSuffix(m.Entrypoint[0], ".py") {
			return bad("python entrypoint %q: name one .py file that defines apply(input)", m.Entrypoint)
		}
	case api.RuntimeGo:
		if len(m.Entrypoint) == 0 {
			m.Entrypoint = []string{"."}
		}
		if len(m.Entrypoint) != 1 {
			return bad("go entrypoint %q: name one package directory, e.g. \".\"", m.Entrypoint)
		}
		if files != nil && !files["go.mod"] {
			return bad("a go algorithm needs a go.mod at the root of its source directory")
		}
	case api.RuntimeExec:
		if len(m.Entrypoint) == 0 || m.Entrypoint[0] == "" {
			return bad("an exec algorithm needs an entrypoint: the command line to run per call, e.g. [\"./run.sh\"]")
		}
		switch m.Output {
		case "", "auto", api.ContentJSON, api.ContentText, api.ContentBinary:
		default:
			return bad("output %q: use auto, json, text or binary", m.Output)
		}
	case "":
		return bad("no runtime: set \"runtime\" (python, go or exec) in the source's algorithm.json or in the algorithm's settings")
	default:
		return bad("runtime %q: use python, go or exec", m.Runtime)
	}
	if m.Runtime != api.RuntimeExec && m.Output != "" {
		return bad("output is for exec algorithms only")
	}
	if ep := m.Entrypoint[0]; files != nil && m.Runtime != api.RuntimeGo && (m.Runtime == api.RuntimePython || strings.HasPrefix(ep, "./")) {
		if p := path.Clean(strings.TrimPrefix(ep, "./")); !files[p] {
			return bad("entrypoint %s is not in the source directory", ep)
		}
	}
	if m.Timeout == 0 {
		m.Timeout = DefaultTimeout
	}
	if m.Timeout < 0 || m.Timeout > MaxTimeout {
		return bad("timeout %d: use 1 to %d seconds", m.Timeout, MaxTimeout)
	}
	if m.Visibility == "" {
		m.Visibility = api.Public
	}
	if m.Visibility != api.Public && m.Visibility != api.Private {
		return bad("visibility %q: use public or private", m.Visibility)
	}
	s := &m.Scaling
	if s.MaxInstances == 0 {
		s.MaxInstances = DefaultMaxInstances
	}
	if s.QueueSize == 0 {
		s.QueueSize = DefaultQueueSize
	}
	if s.IdleTimeout == "" {
		s.IdleTimeout = DefaultIdleTimeout
	}
	if d, err := time.ParseDuration(s.IdleTimeout); err != nil || d <= 0 {
		return bad("idle_timeout %q: use a duration such as 30s or 5m", s.IdleTimeout)
	}
	if s.MinInstances < 0 || s.MaxInstances < 1 || s.MinInstances > s.MaxInstances || s.QueueSize < 0 || s.TargetConcurrency < 0 {
		return bad("scaling: need 0 <= min_instances <= max_instances, max_instances >= 1, queue_size >= 0")
	}
	if s.MaxInstances > MaxInstancesLimit || s.MinInstances > MaxKeepWarm {
		return bad("scaling: max_instances is at most %d and min_instances at most %d", MaxInstancesLimit, MaxKeepWarm)
	}
	if r := m.Resources; r.CPU < 0 || r.MemoryMiB < 0 || r.GPUs < 0 || r.GPUMemMiB < 0 {
		return bad("resources must not be negative")
	}
	if m.Price < 0 {
		return bad("price_per_call must not be negative")
	}
	return m, nil
}

// inspectArtifact reads a gzipped tar source artifact: its manifest (empty when it has no
// algorithm.json: the algorithm's settings must then name the runtime) and its file list. It
// refuses paths that are absolute or leave the directory, links and special files.
func inspectArtifact(b []byte) (api.Manifest, map[string]bool, error) {
	var m api.Manifest
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return m, nil, fmt.Errorf("%w: the artifact is not a gzipped tar (publish with `algos algo publish DIR`): %v", ErrInvalid, err)
	}
	tr := tar.NewReader(gz)
	files := map[string]bool{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return m, nil, fmt.Errorf("%w: corrupt artifact: %v", ErrInvalid, err)
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return m, nil, fmt.Errorf("%w: artifact path %q leaves the source directory", ErrInvalid, h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeReg:
		default:
			return m, nil, fmt.Errorf("%w: artifact entry %q is not a regular file or directory", ErrInvalid, h.Name)
		}
		files[name] = true
		if name == api.ManifestFile {
			dec := json.NewDecoder(io.LimitReader(tr, 1<<20))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&m); err != nil {
				return m, nil, fmt.Errorf("%w: %s: %v", ErrInvalid, api.ManifestFile, err)
			}
		}
	}
	return m, files, nil
}
