// Package router carries a call from the control plane to a worker: it picks a ready node
// (one with a warm, free worker of the version first), holds the call while no node is ready,
// and forwards it to the node's agent in one hop over pooled keep-alive connections.
package router

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/fleet"
	"github.com/algos-dev/algos/controlplane/registry"
)

// Agent protocol: what the control plane sends to an agent's POST /v1/invoke/{version ID}.
const (
	HeaderTimeout = "X-Algos-Timeout-Ms" // the call's remaining time
	HeaderStdout  = "X-Algos-Stdout"     // "1": return the call's log
	HeaderCaller  = "X-Algos-Caller"     // account the call is made for
	HeaderDigest  = "X-Algos-Digest"     // the version's artifact digest (a version deleted and published again differs)
	// HeaderColdStart on an agent's reply: the call waited this many milliseconds for a new worker.
	HeaderColdStart = "X-Algos-Cold-Start-Ms"
	// HeaderLogged marks an agent reply that is a Logged document instead of a bare response line.
	HeaderLogged = "X-Algos-Logged"
)

// Logged is an agent reply carrying the call's log with the worker's response line.
type Logged struct {
	Response json.RawMessage `json:"response"`
	Log      string          `json:"log"`
}

// Config configures a Router.
type Config struct {
	Fleet  *fleet.Fleet
	Logger *slog.Logger
	// Transport to agents (default: keep-alive pool sized for many concurrent calls).
	Transport http.RoundTripper
	// MaxReplyBytes bounds an agent's reply (default 64 MiB).
	MaxReplyBytes int64
	// NoNode is told when a call finds no ready node for a version (pool "" = any pool; gpu:
	// the version needs GPUs), so that a pool can grow from zero. It must not block.
	NoNode func(pool string, gpu bool)
}

// Reply is a worker's answer to a call.
type Reply struct {
	Response []byte // the worker's response line: {"result":…,"metadata":…} or {"error":…}
	Log      *string
	NodeID   string
	// ColdStart is how long the call waited for a new worker (0: a warm one served it).
	ColdStart time.Duration
}

// Router is safe for concurrent use.
type Router struct {
	cfg    Config
	log    *slog.Logger
	client *http.Client

	mu       sync.Mutex
	inflight map[string]*load // node ID → load

	vmu      sync.Mutex
	versions map[string]*versionLoad // version ID → its calls, for the autoscaler
}

// versionLoad counts one version's calls.
type versionLoad struct {
	inFlight  atomic.Int64 // calls in the router: waiting for a node or on one
	waiting   atomic.Int64 // calls waiting for a ready node
	completed atomic.Int64 // calls finished (any outcome), since the start
	busy      atomic.Int64 // nanoseconds spent on nodes by finished calls
}

// VersionLoad is a snapshot of one version's calls (see Router.Load).
type VersionLoad struct {
	InFlight  int           // calls in flight now, waiting ones included
	Waiting   int           // calls waiting for a ready node now
	Completed int64         // calls finished since the router started
	Busy      time.Duration // their total time on nodes
}

// Load returns a snapshot of the calls of every version that has had one.
func (r *Router) Load() map[string]VersionLoad {
	r.vmu.Lock()
	defer r.vmu.Unlock()
	out := make(map[string]VersionLoad, len(r.versions))
	for id, l := range r.versions {
		out[id] = VersionLoad{InFlight: int(l.inFlight.Load()), Waiting: int(l.waiting.Load()), Completed: l.completed.Load(), Busy: time.Duration(l.busy.Load())}
	}
	return out
}

func (r *Router) versionLoad(id string) *versionLoad {
	r.vmu.Lock()
	defer r.vmu.Unlock()
	l := r.versions[id]
	if l == nil {
		l = &versionLoad{}
		r.versions[id] = l
	}
	return l
}

type load struct {
	total     atomic.Int64
	mu        sync.Mutex
	byVersion map[string]int
}

// New returns a router.
func New(cfg Config) (*Router, error) {
	if cfg.Fleet == nil {
		return nil, errors.New("router: Fleet is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxReplyBytes <= 0 {
		cfg.MaxReplyBytes = 64 << 20
	}
	if cfg.Transport == nil {
		cfg.Transport = &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 512,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		}
	}
	return &Router{cfg: cfg, log: cfg.Logger.With("component", "router"), client: &http.Client{Transport: cfg.Transport}, inflight: map[string]*load{}, versions: map[string]*versionLoad{}}, nil
}

func (r *Router) loadOf(id string) *load {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.inflight[id]
	if l == nil {
		l = &load{byVersion: map[string]int{}}
		r.inflight[id] = l
	}
	return l
}

// pick chooses a node: one with an idle warm worker of the version (reported workers minus
// calls this router has in flight there), else the least loaded ready node.
func (r *Router) pick(version, pool string, gpu bool, near string) (*fleet.Node, *load) {
	var best, warm, home *fleet.Node
	var bestLoad, warmLoad, homeLoad *load
	homeWarm := false
	bestGPU := false
	for _, n := range r.cfg.Fleet.ReadyNodes() {
		if (pool != "" && n.Pool != pool) || n.Draining() {
			continue
		}
		hasGPU := len(n.GPUs()) > 0 || n.Capacity.GPUs > 0
		if gpu && !hasGPU {
			continue // GPU work never goes to a node without GPUs
		}
		l := r.loadOf(n.ID)
		// CPU work prefers nodes without GPUs: a GPU node is a last resort for it.
		better := best == nil || (!gpu && bestGPU && !hasGPU) ||
			((gpu || bestGPU == hasGPU) && l.total.Load() < bestLoad.total.Load())
		if better {
			best, bestLoad, bestGPU = n, l, hasGPU
		}
		if n.ID == near {
			home, homeLoad = n, l
		}
		for _, w := range n.Workers() {
			if w.Version != version {
				continue
			}
			l.mu.Lock()
			free := w.Workers - l.byVersion[version]
			l.mu.Unlock()
			if free > 0 && n.ID == near {
				homeWarm = true
			}
			if free > 0 && (warm == nil || l.total.Load() < warmLoad.total.Load()) {
				warm, warmLoad = n, l
			}
		}
	}
	switch {
	case home != nil && (homeWarm || warm == nil): // co-location: the caller's own node
		return home, homeLoad
	case warm != nil:
		return warm, warmLoad
	}
	return best, bestLoad
}

// CallOptions are a call's options as the router needs them.
type CallOptions struct {
	Caller string
	Stdout bool
	// Node, when set, is the node the call comes from (a call from inside an algorithm): it
	// takes the call when it has a free warm worker of the version, or when no node has one.
	Node string
}

// Invoke runs a call on a node and returns the worker's reply. The call's ctx deadline bounds it,
// including the wait for a ready node. Errors answered by the agent come back as *api.Error.
func (r *Router) Invoke(ctx context.Context, v *registry.Resolved, requestLine []byte, o CallOptions) (*Reply, error) {
	vl := r.versionLoad(v.ID)
	vl.inFlight.Add(1)
	defer vl.inFlight.Add(-1)
	var n *fleet.Node
	var l *load
	waiting := false
	defer func() {
		if waiting {
			vl.waiting.Add(-1)
		}
	}()
	for {
		changed := r.cfg.Fleet.Changed()
		gpu := v.Manifest.Resources.GPUs > 0 || v.Manifest.Resources.GPUMemMiB > 0
		if n, l = r.pick(v.ID, v.Manifest.NodePool, gpu, o.Node); n != nil {
			break
		}
		if !waiting {
			waiting = true
			vl.waiting.Add(1)
		}
		if r.cfg.NoNode != nil {
			r.cfg.NoNode(v.Manifest.NodePool, gpu)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			where := "no node is ready"
			if v.Manifest.NodePool != "" {
				where = "no node of pool " + v.Manifest.NodePool + " (the algorithm's node_pool) is ready"
			}
			return nil, &api.Error{Status: http.StatusServiceUnavailable, ErrorBody: api.ErrorBody{
				ErrorType: api.ErrTypeUnavailable,
				Message:   where + " to run this call before its deadline: check `algos pool list` and the node pool's status",
			}}
		case <-time.After(time.Second): // a node may turn ready without a change notice (heartbeat)
		}
	}
	if waiting {
		waiting = false
		vl.waiting.Add(-1)
	}
	l.total.Add(1)
	l.mu.Lock()
	l.byVersion[v.ID]++
	l.mu.Unlock()
	start := time.Now()
	defer func() {
		vl.busy.Add(int64(time.Since(start)))
		vl.completed.Add(1)
		l.total.Add(-1)
		l.mu.Lock()
		l.byVersion[v.ID]--
		l.mu.Unlock()
	}()
	return r.forward(ctx, n, v, requestLine, o)
}

func (r *Router) forward(ctx context.Context, n *fleet.Node, v *registry.Resolved, requestLine []byte, o CallOptions) (*Reply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.Address+"/v1/invoke/"+v.ID, bytes.NewReader(requestLine))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+n.InvokeToken())
	req.Header.Set("Content-Type", "application/json")
	if dl, ok := ctx.Deadline(); ok {
		req.Header.Set(HeaderTimeout, strconv.FormatInt(time.Until(dl).Milliseconds(), 10))
	}
	req.Header.Set(HeaderDigest, v.Digest)
	if o.Stdout {
		req.Header.Set(HeaderStdout, "1")
	}
	if o.Caller != "" {
		req.Header.Set(HeaderCaller, o.Caller)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		r.log.Warn("agent unreachable", "node_id", n.ID, "err", err)
		return nil, &api.Error{Status: http.StatusBadGateway, ErrorBody: api.ErrorBody{ErrorType: api.ErrTypeUnavailable,
			Message: "the node running this call could not be reached; retry the call"}}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.cfg.MaxReplyBytes+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("read agent reply: %w", err)
	}
	if int64(len(body)) > r.cfg.MaxReplyBytes {
		return nil, &api.Error{Status: http.StatusBadGateway, ErrorBody: api.ErrorBody{ErrorType: api.ErrTypeAlgorithm,
			Message: fmt.Sprintf("the algorithm's result is larger than %d bytes: write large results to the Data API and return their URI", r.cfg.MaxReplyBytes)}}
	}
	if resp.StatusCode != http.StatusOK {
		var env api.ErrorEnvelope
		if json.Unmarshal(body, &env) != nil || env.Error.Message == "" {
			env.Error = api.ErrorBody{ErrorType: api.ErrTypeInternal, Message: fmt.Sprintf("the node answered %d", resp.StatusCode)}
		}
		e := &api.Error{Status: resp.StatusCode, ErrorBody: env.Error}
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			return nil, &RetryError{Err: e, RetryAfter: ra}
		}
		return nil, e
	}
	out := &Reply{NodeID: n.ID, Response: body}
	if ms, err := strconv.ParseInt(resp.Header.Get(HeaderColdStart), 10, 64); err == nil {
		out.ColdStart = max(time.Duration(ms)*time.Millisecond, time.Millisecond)
	}
	if resp.Header.Get(HeaderLogged) == "1" {
		var lg Logged
		if err := json.Unmarshal(body, &lg); err != nil {
			return nil, fmt.Errorf("decode agent reply: %w", err)
		}
		out.Response, out.Log = lg.Response, &lg.Log
	}
	return out, nil
}

// RetryError is an agent error that came with a Retry-After (a full queue).
type RetryError struct {
	Err        *api.Error
	RetryAfter string
}

func (e *RetryError) Error() string { return e.Err.Error() }
func (e *RetryError) Unwrap() error { return e.Err }

// NodeLog is the recent log of a version's workers on one node.
type NodeLog struct {
	NodeID string
	Log    []byte
}

// Logs collects the recent worker log of a version from every ready node, each bounded by ctx.
// Nodes that do not answer are skipped.
func (r *Router) Logs(ctx context.Context, v *registry.Resolved) []NodeLog {
	var out []NodeLog
	for _, n := range r.cfg.Fleet.ReadyNodes() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.Address+"/v1/logs/"+v.ID, nil)
		if err != nil {
			continue
		}
		req.Header.Set("Authorization", "Bearer "+n.InvokeToken())
		resp, err := r.client.Do(req)
		if err != nil {
			r.log.Warn("fetching worker logs failed", "node_id", n.ID, "err", err)
			continue
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err == nil && resp.StatusCode == http.StatusOK && len(b) > 0 {
			out = append(out, NodeLog{NodeID: n.ID, Log: b})
		}
	}
	return out
}
