// Package artifact prepares algorithm versions on a node: it downloads a version's source
// artifact once (verified against its digest), unpacks it safely, and builds what the runtime
// needs — a virtualenv with requirements for Python, a binary for Go — caching the result by
// digest so that every later worker of the version starts at once.
package artifact

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/algos-dev/algos/api"
)

// ErrBuild: preparing the version failed; the message carries the end of the build log.
var ErrBuild = errors.New("build failed")

// FetchFunc opens the artifact with a digest.
type FetchFunc func(ctx context.Context, digest string) (io.ReadCloser, error)

// Config configures a Cache.
type Config struct {
	Dir    string // artifacts are unpacked under Dir/<hex>
	Fetch  FetchFunc
	Logger *slog.Logger
	// Python is the interpreter for Python algorithms (default: python3 resolved to its real
	// executable). Go is the go command (default: "go" on PATH, else /usr/local/go/bin/go).
	Python string
	Go     string
	// Algos is the algos binary, which carries the exec runner (default: os.Executable).
	Algos string
	// PythonRunner is runner.py; PythonPackage are the files written beside it (the Algorithmia
	// package, see python.Package), by slash-separated path relative to runner.py's directory;
	// GoSDK are the files of the Go SDK module, by path relative to the module root (see
	// sdk.GoModule).
	PythonRunner  []byte
	PythonPackage map[string][]byte
	GoSDK         map[string][]byte
	// BuildTimeout bounds preparing one version (default 10m).
	BuildTimeout time.Duration
	// FailureTTL: a failed preparation is answered from memory this long (default 10s).
	FailureTTL time.Duration
}

// Prepared is a version ready to start workers.
type Prepared struct {
	Dir  string   // working directory of the workers
	Argv []string // command line of a worker
	Env  []string // environment of a worker
}

type flight struct {
	done chan struct{}
	p    *Prepared
	err  error
	at   time.Time
}

// Cache is safe for concurrent use: concurrent Prepare calls of one digest share one download
// and build.
type Cache struct {
	cfg Config
	log *slog.Logger

	pythonOnce func() (string, error)

	mu      sync.Mutex
	flights map[string]*flight // digest + runtime settings → preparation
}

// New returns a Cache.
func New(cfg Config) (*Cache, error) {
	if cfg.Dir == "" || cfg.Fetch == nil {
		return nil, errors.New("artifact: Dir and Fetch are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BuildTimeout <= 0 {
		cfg.BuildTimeout = 10 * time.Minute
	}
	if cfg.FailureTTL <= 0 {
		cfg.FailureTTL = 10 * time.Second
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	return &Cache{cfg: cfg, log: cfg.Logger.With("component", "artifact"), flights: map[string]*flight{}, pythonOnce: sync.OnceValues(findPython)}, nil
}

// Prepare returns the prepared version, downloading and building it on first use. It blocks
// until done or ctx ends; a preparation in progress continues for the next caller when ctx ends.
func (c *Cache) Prepare(ctx context.Context, v api.NodeVersion) (*Prepared, error) {
	key := v.Digest + "|" + v.Manifest.Runtime + "|" + strings.Join(v.Manifest.Entrypoint, "\x00") + "|" + v.Manifest.Output
	c.mu.Lock()
	f := c.flights[key]
	if f != nil {
		select {
		case <-f.done:
			if f.err != nil && time.Since(f.at) > c.cfg.FailureTTL {
				f = nil // retry a failure after its TTL
			}
		default:
		}
	}
	if f == nil {
		f = &flight{done: make(chan struct{})}
		c.flights[key] = f
		go func() {
			bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.BuildTimeout)
			defer cancel()
			f.p, f.err = c.prepare(bctx, v)
			f.at = time.Now()
			close(f.done)
		}()
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.p, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *Cache) prepare(ctx context.Context, v api.NodeVersion) (*Prepared, error) {
	hexd, ok := strings.CutPrefix(v.Digest, "sha256:")
	if !ok || len(hexd) != 64 {
		return nil, fmt.Errorf("artifact digest %q: want sha256:<64 hex>", v.Digest)
	}
	dir := filepath.Join(c.cfg.Dir, hexd)
	src := filepath.Join(dir, "src")
	if _, err := os.Stat(src); err != nil {
		start := time.Now()
		if err := c.download(ctx, v.Digest, dir); err != nil {
			return nil, err
		}
		c.log.Info("artifact unpacked", "version", v.ID, "digest", v.Digest, "ms", time.Since(start).Milliseconds())
	}
	start := time.Now()
	var p *Prepared
	var err error
	switch v.Manifest.Runtime {
	case api.RuntimePython:
		p, err = c.preparePython(ctx, dir, src, v.Manifest)
	case api.RuntimeGo:
		p, err = c.prepareGo(ctx, dir, src, v.Manifest)
	case api.RuntimeExec:
		p, err = c.prepareExec(src, v.Manifest)
	default:
		err = fmt.Errorf("runtime %q is not supported by this agent", v.Manifest.Runtime)
	}
	if err != nil {
		return nil, err
	}
	c.log.Info("version prepared", "version", v.ID, "runtime", v.Manifest.Runtime, "ms", time.Since(start).Milliseconds())
	return p, nil
}

// download fetches, verifies and unpacks an artifact into dir/src, atomically.
func (c *Cache) download(ctx context.Context, digest, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rc, err := c.cfg.Fetch(ctx, digest)
	if err != nil {
		return fmt.Errorf("download artifact %s: %w", digest, err)
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(dir, "download-*.tar.gz")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), rc); err != nil {
		return fmt.Errorf("download artifact %s: %w", digest, err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != digest {
		return fmt.Errorf("artifact %s arrived with digest %s: refusing it", digest, got)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	staging, err := os.MkdirTemp(dir, "unpack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(staging)
	if err := Unpack(tmp, staging); err != nil {
		return fmt.Errorf("unpack artifact %s: %w", digest, err)
	}
	// Sandboxed workers run as another uid and read their source; what they see of the node
	// is confined by the sandbox, not by these modes.
	if err := os.Chmod(staging, 0o755); err != nil {
		return err
	}
	return os.Rename(staging, filepath.Join(dir, "src"))
}

func baseEnv(extraPath string) []string {
	path := "/usr/local/bin:/usr/bin:/bin"
	if extraPath != "" {
		path = extraPath + ":" + path
	}
	return []string{"PATH=" + path, "LANG=C.UTF-8", "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1", "HOME=/tmp"}
}

// writeJSONFile writes v as the file's content.
func writeJSONFile(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// tail returns the last n bytes of s.
func tail(s []byte, n int) string {
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return strings.TrimSpace(string(s))
}
