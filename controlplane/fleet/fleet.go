// Package fleet keeps the registered nodes: registration with a pool's join token, node
// credentials, heartbeats, and the in-memory live view that the router reads on every call.
package fleet

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/store"
)

var (
	// ErrUnauthorized: a wrong join token or node credential.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrInvalid: a malformed registration.
	ErrInvalid = errors.New("invalid request")
	// ErrNotFound: an unknown node.
	ErrNotFound = store.ErrNotFound
	// ErrForbidden: a node its pool refuses (its sandbox is too weak).
	ErrForbidden = errors.New("forbidden")
)

// Config configures a Fleet.
type Config struct {
	Store  store.Store
	Logger *slog.Logger
	// HeartbeatInterval is what agents are told to use (default 2s).
	HeartbeatInterval time.Duration
	// DeadAfter: a node not heard from this long is not ready (default 3 heartbeats + 1s).
	DeadAfter time.Duration
	Now       func() time.Time
}

// Node is the live view of one node. Fields other than the atomics are immutable.
type Node struct {
	ID          string
	Pool        string
	InstanceID  string
	Address     string
	Capacity    api.Capacity
	tokenHash   [32]byte
	invokeToken string

	mu       sync.Mutex
	lastSeen time.Time
	workers  []api.WorkerStats
	draining bool
	gpus     []api.GPUDevice // from the latest heartbeat that carried them
	warm     []api.WarmOrder // the autoscaler's floors, answered to the next heartbeat
}

// SetWarm replaces the workers the autoscaler wants kept warm on the node (sent to its agent
// in the answer to its next heartbeat).
func (n *Node) SetWarm(w []api.WarmOrder) {
	n.mu.Lock()
	n.warm = w
	n.mu.Unlock()
}

// Warm returns the node's current warm orders.
func (n *Node) Warm() []api.WarmOrder {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.warm
}

// GPUs returns the node's GPUs with their used memory as last reported.
func (n *Node) GPUs() []api.GPUDevice {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.gpus != nil {
		return n.gpus
	}
	return n.Capacity.GPUDevices
}

// Draining reports whether the node takes no new calls (it is about to be removed).
func (n *Node) Draining() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.draining
}

// SetDraining marks a node as taking no new calls, or takes the mark back.
func (n *Node) SetDraining(d bool) {
	n.mu.Lock()
	n.draining = d
	n.mu.Unlock()
}

// Idle reports whether the node last reported no worker at all (no call can be running on it).
func (n *Node) Idle() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, w := range n.workers {
		if w.Workers > 0 || w.Queued > 0 {
			return false
		}
	}
	return true
}

// InvokeToken is the secret to present to the agent, empty until its first heartbeat.
func (n *Node) InvokeToken() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.invokeToken
}

// Workers returns the node's last reported worker stats.
func (n *Node) Workers() []api.WorkerStats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.workers
}

// LastSeen is when the node last sent a heartbeat (zero if never since this process started).
func (n *Node) LastSeen() time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.lastSeen
}

// Fleet is safe for concurrent use.
type Fleet struct {
	cfg Config
	log *slog.Logger

	mu      sync.RWMutex
	nodes   map[string]*Node
	changed chan struct{} // closed and replaced whenever a node becomes ready or goes away
}

// New returns a fleet with the nodes known to the store (not ready until they heartbeat).
func New(ctx context.Context, cfg Config) (*Fleet, error) {
	if cfg.Store == nil {
		return nil, errors.New("fleet: Store is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 2 * time.Second
	}
	if cfg.DeadAfter <= 0 {
		cfg.DeadAfter = 3*cfg.HeartbeatInterval + time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	f := &Fleet{cfg: cfg, log: cfg.Logger.With("component", "fleet"), nodes: map[string]*Node{}, changed: make(chan struct{})}
	ns, err := cfg.Store.ListNodes(ctx)
	if err != nil {
		return nil, err
	}
	for _, sn := range ns {
		f.nodes[sn.ID] = fromStore(sn)
	}
	return f, nil
}

func fromStore(sn store.Node) *Node {
	n := &Node{ID: sn.ID, Pool: sn.Pool, InstanceID: sn.InstanceID, Address: sn.Address}
	copy(n.tokenHash[:], sn.TokenHash)
	_ = json.Unmarshal(sn.Capacity, &n.Capacity)
	return n
}

func (f *Fleet) notify() {
	f.mu.Lock()
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
}

// Changed returns a channel closed at the next change of the set of ready nodes.
func (f *Fleet) Changed() <-chan struct{} {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.changed
}

func randomToken(prefix string) (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return prefix + hex.EncodeToString(b), nil
}

// NewJoinToken returns a fresh join token and the hash the pool stores.
func NewJoinToken() (token string, hash []byte, err error) {
	token, err = randomToken("join_")
	if err != nil {
		return "", nil, err
	}
	h := sha256.Sum256([]byte(token))
	return token, h[:], nil
}

// Register admits an agent that presents its pool's join token. An instance that registers again
// (its agent restarted, or the control plane forgot it) keeps its node ID and gets a new
// credential.
func (f *Fleet) Register(ctx context.Context, joinToken string, in api.RegisterNode) (api.NodeRegistration, error) {
	var out api.NodeRegistration
	if joinToken == "" {
		return out, fmt.Errorf("%w: registration needs the pool's join token", ErrUnauthorized)
	}
	jh := sha256.Sum256([]byte(joinToken))
	pool, err := f.cfg.Store.PoolByJoinTokenHash(ctx, jh[:])
	if errors.Is(err, store.ErrNotFound) {
		return out, fmt.Errorf("%w: unknown or rotated join token", ErrUnauthorized)
	}
	if err != nil {
		return out, err
	}
	if pool.Deleting {
		return out, fmt.Errorf("%w: pool %s is being deleted", ErrUnauthorized, pool.Name)
	}
	if err := isolated(pool, in.Capacity.Sandbox); err != nil {
		f.log.Warn("node refused: its sandbox is weaker than its pool requires", "pool", pool.Name, "instance_id", in.InstanceID, "err", err)
		return out, err
	}
	u, err := url.Parse(in.Address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return out, fmt.Errorf("%w: address %q: want the agent's base URL, e.g. http://10.0.0.5:7070", ErrInvalid, in.Address)
	}
	if in.InstanceID == "" || len(in.InvokeToken) < 16 {
		return out, fmt.Errorf("%w: instance_id and an invoke_token of at least 16 characters are required", ErrInvalid)
	}
	id := ""
	f.mu.RLock()
	for _, n := range f.nodes {
		if n.InstanceID == in.InstanceID && n.Pool == pool.Name {
			id = n.ID
		}
	}
	f.mu.RUnlock()
	if id == "" {
		if id, err = randomToken("node_"); err != nil {
			return out, err
		}
		id = id[:len("node_")+12]
	}
	token, err := randomToken("nodetok_")
	if err != nil {
		return out, err
	}
	th := sha256.Sum256([]byte(token))
	capJSON, _ := json.Marshal(in.Capacity)
	now := f.cfg.Now().UTC()
	sn := store.Node{ID: id, Pool: pool.Name, InstanceID: in.InstanceID, Address: in.Address, TokenHash: th[:], Capacity: capJSON, RegisteredAt: now, LastSeenAt: now}
	if err := f.cfg.Store.UpsertNode(ctx, sn); err != nil {
		return out, err
	}
	// The node is ready at its first heartbeat, not now: the agent has not yet received its
	// credential, without which it cannot fetch what a call needs.
	n := fromStore(sn)
	n.invokeToken = in.InvokeToken
	f.mu.Lock()
	f.nodes[id] = n
	f.mu.Unlock()
	f.log.Info("node registered", "node_id", id, "pool", pool.Name, "instance_id", in.InstanceID, "address", in.Address)
	return api.NodeRegistration{NodeID: id, Token: token, HeartbeatInterval: f.cfg.HeartbeatInterval.String()}, nil
}

// isolationRank orders sandbox levels.
var isolationRank = map[string]int{"none": 0, "basic": 1, "full": 2}

// isolated checks a registering node's sandbox against its pool's min_isolation.
func isolated(pool store.Pool, sb *api.SandboxInfo) error {
	var spec api.PoolSpec
	if json.Unmarshal(pool.Spec, &spec) != nil || spec.MinIsolation == "" {
		return nil
	}
	level, driver := "none", "none (the agent reports no sandbox)"
	if sb != nil {
		level, driver = sb.Level, sb.Driver
	}
	if isolationRank[level] >= isolationRank[spec.MinIsolation] {
		return nil
	}
	msg := fmt.Sprintf("pool %s requires worker isolation %s, and this node's sandbox is %s (level %s)", pool.Name, spec.MinIsolation, driver, level)
	if sb != nil && len(sb.Problems) > 0 {
		msg += ": " + strings.Join(sb.Problems, "; ")
	}
	return fmt.Errorf("%w: %s", ErrForbidden, msg)
}

// Authenticate checks a node credential; it reads memory only.
func (f *Fleet) Authenticate(nodeID, token string) (*Node, error) {
	f.mu.RLock()
	n := f.nodes[nodeID]
	f.mu.RUnlock()
	if n == nil { // as a wrong credential: an agent registers again on 401
		return nil, fmt.Errorf("%w: unknown node %s or wrong credential (register again)", ErrUnauthorized, nodeID)
	}
	h := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(h[:], n.tokenHash[:]) != 1 {
		return nil, fmt.Errorf("%w: wrong node credential", ErrUnauthorized)
	}
	return n, nil
}

// Heartbeat records a node's liveness and workers and returns the reply for the agent: the
// workers to keep warm there.
func (f *Fleet) Heartbeat(n *Node, hb api.Heartbeat) api.HeartbeatReply {
	now := f.cfg.Now()
	n.mu.Lock()
	wasReady := n.invokeToken != "" && now.Sub(n.lastSeen) < f.cfg.DeadAfter
	n.lastSeen = now
	if hb.InvokeToken != "" {
		n.invokeToken = hb.InvokeToken
	}
	n.workers = hb.Workers
	if hb.Capacity != nil {
		n.gpus = hb.Capacity.GPUDevices
	}
	reply := api.HeartbeatReply{Warm: n.warm}
	n.mu.Unlock()
	if !wasReady {
		f.notify()
	}
	return reply
}

// Ready reports whether a node can take calls now.
func (f *Fleet) Ready(n *Node) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.invokeToken != "" && f.cfg.Now().Sub(n.lastSeen) < f.cfg.DeadAfter
}

// Nodes returns every known node sorted by ID.
func (f *Fleet) Nodes() []*Node {
	f.mu.RLock()
	out := make([]*Node, 0, len(f.nodes))
	for _, n := range f.nodes {
		out = append(out, n)
	}
	f.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ReadyNodes returns the nodes that can take calls now.
func (f *Fleet) ReadyNodes() []*Node {
	all := f.Nodes()
	out := all[:0]
	for _, n := range all {
		if f.Ready(n) {
			out = append(out, n)
		}
	}
	return out
}

// Get returns a node by ID.
func (f *Fleet) Get(id string) (*Node, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if n := f.nodes[id]; n != nil {
		return n, nil
	}
	return nil, fmt.Errorf("node %s: %w", id, ErrNotFound)
}

// Remove forgets a node (its instance is gone). Idempotent.
func (f *Fleet) Remove(ctx context.Context, id string) error {
	f.mu.Lock()
	delete(f.nodes, id)
	f.mu.Unlock()
	f.notify()
	return f.cfg.Store.DeleteNode(ctx, id)
}

// API returns the API view of a node.
func (f *Fleet) API(n *Node) api.Node {
	c := n.Capacity
	c.GPUDevices = n.GPUs()
	return api.Node{ID: n.ID, Pool: n.Pool, InstanceID: n.InstanceID, Address: n.Address, Capacity: c, Ready: f.Ready(n), Workers: n.Workers(), LastSeenAt: n.LastSeen()}
}
