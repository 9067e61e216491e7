// Package pool reconciles node pools: it drives each pool's cloud instance group towards the
// pool's spec, boots members with user data that starts `algos agent` with the pool's join
// token, replaces members whose agent never registers or stops heartbeating, forgets nodes
// whose instance is gone, and tears everything down when a pool is deleted.
package pool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/clouds"
	"github.com/algos-dev/algos/controlplane/cloudacct"
	"github.com/algos-dev/algos/controlplane/fleet"
	"github.com/algos-dev/algos/controlplane/registry"
	"github.com/algos-dev/algos/controlplane/store"
)

// ErrInvalid: a malformed pool spec; the message says what to change.
var ErrInvalid = errors.New("invalid pool")

// UserDataFunc renders the boot script of a pool's instances on a cloud: it must start
// `algos agent` with the join token (a secret: pass it in the environment, never on a command
// line).
type UserDataFunc func(pool, cloud, joinToken string) (string, error)

// Config configures a Reconciler.
type Config struct {
	Store    store.Store
	Fleet    *fleet.Fleet
	Clouds   map[string]clouds.Groups // clouds that need no account, by name: "local"
	Accounts *cloudacct.Service       // cloud accounts (aws, gcp, azure, openstack); may be nil
	UserData UserDataFunc
	Logger   *slog.Logger
	// Interval between reconciles of every pool (default 5s); a change triggers one at once.
	Interval time.Duration
	// BootTimeout: a member whose agent has not registered this long after launch, or whose
	// node stopped heartbeating this long ago, is replaced (default 3m).
	BootTimeout time.Duration
	// ScaleDownAfter: a node of an autoscaled pool (min_size < max_size) that has run no worker
	// this long is drained and removed, down to min_size (default 5m).
	ScaleDownAfter time.Duration
	Now            func() time.Time
}

// Reconciler is safe for concurrent use.
type Reconciler struct {
	cfg     Config
	log     *slog.Logger
	trigger chan struct{}

	mu     sync.Mutex
	status map[string]string
	opMu   sync.Mutex // one reconcile at a time
	events eventLog

	demandMu  sync.Mutex
	demand    map[string]time.Time // pool (or anyPool(gpu)) → when a call last found no ready node
	anyTaken  map[string]time.Time // anyPool(gpu) → until when a pool that grew for it stands
	idleSince map[string]time.Time // node ID → since when it has run no worker
	needs     map[string]need      // pool → nodes the worker autoscaler wants beyond the ready ones
}

// Demand records that a call is waiting for a node of pool ("" = any pool) and whether it
// needs GPUs, and triggers a reconcile, which grows an autoscaled pool from zero. A call for
// any pool grows one pool of its kind (a GPU pool only for GPU work, never for CPU work). It
// never blocks.
func (r *Reconciler) Demand(pool string, gpu bool) {
	r.demandMu.Lock()
	if r.demand == nil {
		r.demand = map[string]time.Time{}
	}
	key := pool
	if pool == "" {
		key = anyPool(gpu)
	}
	r.demand[key] = r.cfg.Now()
	r.demandMu.Unlock()
	r.Trigger()
}

// anyPool is the demand key of a call for any pool of a kind.
func anyPool(gpu bool) string {
	if gpu {
		return "\x00any-gpu"
	}
	return "\x00any-cpu"
}

// wants reports whether calls want this (memberless) pool to grow: a call for this pool in the
// last d, or a call for any pool of its kind that no other pool has taken up since.
func (r *Reconciler) wants(pool string, spec api.PoolSpec, d time.Duration) bool {
	r.demandMu.Lock()
	defer r.demandMu.Unlock()
	now := r.cfg.Now()
	if t, ok := r.demand[pool]; ok && now.Sub(t) < d {
		return true
	}
	key := anyPool(spec.GPUCount > 0 || spec.GPUType != "")
	t, ok := r.demand[key]
	if !ok || now.Sub(t) >= d || now.Before(r.anyTaken[key]) {
		return false
	}
	// This pool takes the calls for any pool of its kind; the next pool may take them only
	// after this one had time to boot a node.
	if r.anyTaken == nil {
		r.anyTaken = map[string]time.Time{}
	}
	r.anyTaken[key] = now.Add(r.cfg.BootTimeout)
	return true
}

// Events returns a pool's recent events, oldest first (kept in memory: a restart forgets them).
func (r *Reconciler) Events(ctx context.Context, name string) ([]api.PoolEvent, error) {
	if _, err := r.cfg.Store.GetPool(ctx, name); err != nil {
		return nil, fmt.Errorf("node pool %s: %w", name, err)
	}
	return r.events.list(name), nil
}

func (r *Reconciler) event(pool, typ, reason, format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	r.events.add(pool, typ, reason, msg, r.cfg.Now().UTC())
	if typ == "Warning" {
		r.log.Warn(msg, "pool", pool, "reason", reason)
	}
}

// New returns a Reconciler.
func New(cfg Config) (*Reconciler, error) {
	if cfg.Store == nil || cfg.Fleet == nil || cfg.UserData == nil {
		return nil, errors.New("pool: Store, Fleet and UserData are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Second
	}
	if cfg.BootTimeout <= 0 {
		cfg.BootTimeout = 3 * time.Minute
	}
	if cfg.ScaleDownAfter <= 0 {
		cfg.ScaleDownAfter = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Reconciler{cfg: cfg, log: cfg.Logger.With("component", "pool"), trigger: make(chan struct{}, 1), status: map[string]string{}}, nil
}

// Trigger asks for a reconcile soon. It never blocks.
func (r *Reconciler) Trigger() {
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

// Run reconciles every pool each Interval and on Trigger until ctx ends.
func (r *Reconciler) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		r.ReconcileAll(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-r.trigger:
		}
	}
}

// ReconcileAll reconciles every pool once.
func (r *Reconciler) ReconcileAll(ctx context.Context) {
	ps, err := r.cfg.Store.ListPools(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Error("list pools", "err", err)
		}
		return
	}
	for _, p := range ps {
		if err := r.reconcile(ctx, p); err != nil && ctx.Err() == nil {
			status := "error: " + err.Error()
			r.mu.Lock()
			repeated := r.status[p.Name] == status
			r.mu.Unlock()
			if !repeated { // the same failure every interval is logged once, and counted as an event
				r.log.Warn("reconcile failed", "pool", p.Name, "err", err)
			}
			r.event(p.Name, "Warning", "ReconcileFailed", "%v", err)
			r.setStatus(p.Name, status)
		}
	}
}

func (r *Reconciler) setStatus(pool, s string) {
	r.mu.Lock()
	r.status[pool] = s
	r.mu.Unlock()
}

// driver returns the driver a pool of cloud provisions with: the cloud account's when one is
// named (its cloud must match), else the account-less cloud's (local).
func (r *Reconciler) driver(ctx context.Context, cloud, account string) (clouds.Groups, error) {
	if account != "" {
		if r.cfg.Accounts == nil {
			return nil, fmt.Errorf("%w: this control plane has no cloud accounts", ErrInvalid)
		}
		g, c, err := r.cfg.Accounts.Groups(ctx, account)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: cloud account %q does not exist: create it with POST /v1/cloud-accounts", ErrInvalid, account)
		}
		if err != nil {
			return nil, err
		}
		if c != cloud {
			return nil, fmt.Errorf("%w: cloud account %s is a %s account, not %s", ErrInvalid, account, c, cloud)
		}
		return g, nil
	}
	g := r.cfg.Clouds[cloud]
	if g == nil {
		names := make([]string, 0, len(r.cfg.Clouds))
		for n := range r.cfg.Clouds {
			names = append(names, n)
		}
		sort.Strings(names)
		hint := ""
		if r.cfg.Accounts != nil && slices.Contains(r.cfg.Accounts.Clouds(), cloud) {
			hint = ": name a cloud account of that cloud in the pool's \"account\""
		}
		return nil, fmt.Errorf("%w: cloud %q needs a cloud account (clouds usable without one: %s)%s", ErrInvalid, cloud, strings.Join(names, ", "), hint)
	}
	return g, nil
}

func groupName(pool string) string { return "algos-" + pool }

// reconcile drives one pool's group towards its spec.
func (r *Reconciler) reconcile(ctx context.Context, p store.Pool) error {
	r.opMu.Lock()
	defer r.opMu.Unlock()
	var spec api.PoolSpec
	if err := json.Unmarshal(p.Spec, &spec); err != nil {
		return fmt.Errorf("pool spec: %w", err)
	}
	g, err := r.driver(ctx, p.Cloud, spec.Account)
	if err != nil {
		return err
	}
	name := groupName(p.Name)
	if p.Deleting {
		if err := g.DeleteGroup(ctx, name); err != nil {
			return fmt.Errorf("delete group: %w", err)
		}
		for _, n := range r.cfg.Fleet.Nodes() {
			if n.Pool == p.Name {
				if err := r.cfg.Fleet.Remove(ctx, n.ID); err != nil {
					return err
				}
			}
		}
		if err := r.cfg.Store.DeletePool(ctx, p.Name); err != nil {
			return err
		}
		r.mu.Lock()
		delete(r.status, p.Name)
		r.mu.Unlock()
		r.events.forget(p.Name)
		r.log.Info("pool deleted", "pool", p.Name)
		return nil
	}
	grp, err := g.GetGroup(ctx, name)
	switch {
	case errors.Is(err, clouds.ErrNotFound):
		// A new group gets a fresh join token: the plain token lives only in the group's
		// template, and a token that leaked with an old group stops working.
		token, hash, err := fleet.NewJoinToken()
		if err != nil {
			return err
		}
		p.JoinTokenHash, p.UpdatedAt = hash, r.cfg.Now().UTC()
		if err := r.cfg.Store.UpdatePool(ctx, p); err != nil {
			return err
		}
		ud, err := r.cfg.UserData(p.Name, p.Cloud, token)
		if err != nil {
			return err
		}
		tags := map[string]string{"algos-pool": p.Name}
		for k, v := range spec.Labels {
			tags[k] = v
		}
		base := clouds.GroupSpec{Name: name, Min: spec.MinSize, Max: spec.MaxSize, Desired: spec.DesiredSize,
			Template: clouds.InstanceSpec{Name: name, Image: spec.Image, Spot: spec.Spot, Tags: tags, UserData: ud}}
		if err := r.createWithFallback(ctx, g, p.Name, base, spec); err != nil {
			return err
		}
		r.setStatus(p.Name, fmt.Sprintf("group created, launching %d node(s)", spec.DesiredSize))
		return nil
	case err != nil:
		return fmt.Errorf("get group: %w", err)
	}
	if grp.Desired != spec.DesiredSize {
		if err := g.ResizeGroup(ctx, name, spec.DesiredSize); err != nil {
			if errors.Is(err, clouds.ErrCapacity) {
				r.event(p.Name, "Warning", "CapacityUnavailable", "resizing to %d: %v", spec.DesiredSize, err)
			}
			return fmt.Errorf("resize group to %d: %w", spec.DesiredSize, err)
		}
		r.event(p.Name, "Normal", "Resized", "desired size %d → %d", grp.Desired, spec.DesiredSize)
	}
	members, err := g.ListMembers(ctx, name)
	if err != nil {
		return fmt.Errorf("list members: %w", err)
	}
	byInstance := map[string]*fleet.Node{}
	for _, n := range r.cfg.Fleet.Nodes() {
		if n.Pool == p.Name {
			byInstance[n.InstanceID] = n
		}
	}
	now := r.cfg.Now()
	active, ready := map[string]bool{}, 0
	for _, m := range members {
		if !m.State.Active() {
			continue
		}
		active[m.ID] = true
		n := byInstance[m.ID]
		switch {
		case n != nil && r.cfg.Fleet.Ready(n):
			ready++
		case n == nil && now.Sub(m.LaunchedAt) > r.cfg.BootTimeout:
			r.event(p.Name, "Warning", "BootTimeout", "instance %s did not register within %s; replacing it (see its console log)", m.ID, r.cfg.BootTimeout)
			if err := g.RemoveMember(ctx, name, m.ID, false); err != nil {
				return err
			}
		case n != nil && !n.LastSeen().IsZero() && now.Sub(n.LastSeen()) > r.cfg.BootTimeout:
			r.event(p.Name, "Warning", "NodeLost", "node %s (instance %s) stopped heartbeating %s ago; replacing it", n.ID, m.ID, now.Sub(n.LastSeen()).Round(time.Second))
			if err := g.RemoveMember(ctx, name, m.ID, false); err != nil {
				return err
			}
		}
	}
	for inst, n := range byInstance {
		if !active[inst] {
			if err := r.cfg.Fleet.Remove(ctx, n.ID); err != nil {
				return err
			}
			r.event(p.Name, "Normal", "NodeRemoved", "node %s removed: its instance %s is gone", n.ID, inst)
		}
	}
	if spec.MinSize < spec.MaxSize {
		if err := r.autoscale(ctx, g, p, spec, byInstance, active, ready); err != nil {
			return err
		}
	}
	r.setStatus(p.Name, fmt.Sprintf("%d of %d node(s) ready", ready, spec.DesiredSize))
	return nil
}

// autoscale grows a pool from zero when calls wait for it, and drains and removes nodes that
// have run no worker for ScaleDownAfter, down to the pool's min_size. A draining node takes no
// new calls and goes only once it is still idle at the next pass (no call can be running on a
// node without workers).
func (r *Reconciler) autoscale(ctx context.Context, g clouds.Groups, p store.Pool, spec api.PoolSpec, byInstance map[string]*fleet.Node, active map[string]bool, ready int) error {
	now := r.cfg.Now()
	if len(active) == 0 && spec.DesiredSize < spec.MaxSize && r.wants(p.Name, spec, 30*time.Second) {
		return r.setDesired(ctx, g, p, spec, spec.DesiredSize+1, "ScaledUp", "a call is waiting for a node: desired size %d → %d")
	}
	// Workers that fit no ready node: grow by what the nodes still booting do not cover.
	booting := max(spec.DesiredSize-ready, 0)
	if n := r.needOf(p.Name); n > booting && spec.DesiredSize < spec.MaxSize {
		return r.setDesired(ctx, g, p, spec, min(spec.DesiredSize+n-booting, spec.MaxSize), "ScaledUp",
			"workers the autoscaler wants fit no ready node: desired size %d → %d")
	}
	r.demandMu.Lock()
	if r.idleSince == nil {
		r.idleSince = map[string]time.Time{}
	}
	r.demandMu.Unlock()
	for inst, n := range byInstance {
		if !active[inst] || !r.cfg.Fleet.Ready(n) {
			continue
		}
		r.demandMu.Lock()
		since, seen := r.idleSince[n.ID]
		switch {
		case !n.Idle():
			delete(r.idleSince, n.ID)
			seen = false
		case !seen:
			r.idleSince[n.ID] = now
		}
		r.demandMu.Unlock()
		if !seen || now.Sub(since) < r.cfg.ScaleDownAfter || spec.DesiredSize <= spec.MinSize {
			if n.Draining() && !n.Idle() {
				n.SetDraining(false)
			}
			continue
		}
		if !n.Draining() {
			n.SetDraining(true) // no new calls; removed at the next pass if still idle
			r.event(p.Name, "Normal", "Draining", "node %s has run no worker for %s: draining it", n.ID, now.Sub(since).Round(time.Second))
			continue
		}
		if err := g.RemoveMember(ctx, groupName(p.Name), inst, true); err != nil {
			return fmt.Errorf("remove idle member %s: %w", inst, err)
		}
		if err := r.cfg.Fleet.Remove(ctx, n.ID); err != nil {
			return err
		}
		r.demandMu.Lock()
		delete(r.idleSince, n.ID)
		r.demandMu.Unlock()
		spec.DesiredSize--
		if err := r.saveSpec(ctx, p, spec); err != nil {
			return err
		}
		r.event(p.Name, "Normal", "ScaledDown", "node %s removed after %s without work: desired size %d → %d", n.ID, now.Sub(since).Round(time.Second), spec.DesiredSize+1, spec.DesiredSize)
	}
	return nil
}

func (r *Reconciler) setDesired(ctx context.Context, g clouds.Groups, p store.Pool, spec api.PoolSpec, desired int, reason, format string) error {
	old := spec.DesiredSize
	spec.DesiredSize = desired
	if err := g.ResizeGroup(ctx, groupName(p.Name), desired); err != nil {
		return fmt.Errorf("resize group to %d: %w", desired, err)
	}
	if err := r.saveSpec(ctx, p, spec); err != nil {
		return err
	}
	r.event(p.Name, "Normal", reason, format, old, desired)
	return nil
}

func (r *Reconciler) saveSpec(ctx context.Context, p store.Pool, spec api.PoolSpec) error {
	b, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	p.Spec, p.UpdatedAt = b, r.cfg.Now().UTC()
	return r.cfg.Store.UpdatePool(ctx, p)
}

func validate(name string, s *api.PoolSpec) error {
	if err := registry.ValidName("pool", name); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if s.MaxSize == 0 && s.MinSize == 0 && s.DesiredSize == 0 {
		s.MinSize, s.DesiredSize, s.MaxSize = 1, 1, 1
	}
	if s.GPUCount < 0 {
		return fmt.Errorf("%w: gpu_count must not be negative", ErrInvalid)
	}
	switch s.MinIsolation {
	case "", "none", "basic", "full":
	default:
		return fmt.Errorf("%w: min_isolation %q: use none, basic or full", ErrInvalid, s.MinIsolation)
	}
	if s.MaxSize < 1 || s.MinSize < 0 || s.MinSize > s.MaxSize || s.DesiredSize < s.MinSize || s.DesiredSize > s.MaxSize {
		return fmt.Errorf("%w: sizes: need 0 <= min_size <= desired_size <= max_size and max_size >= 1 (got %d, %d, %d)", ErrInvalid, s.MinSize, s.DesiredSize, s.MaxSize)
	}
	return nil
}

// Create stores a pool and creates its group at once.
func (r *Reconciler) Create(ctx context.Context, in api.CreatePool) (api.Pool, error) {
	if err := validate(in.Name, &in.Spec); err != nil {
		return api.Pool{}, err
	}
	g, err := r.driver(ctx, in.Spec.Cloud, in.Spec.Account)
	if err != nil {
		return api.Pool{}, err
	}
	if err := checkCapacity(ctx, g, in.Spec); err != nil {
		return api.Pool{}, err
	}
	spec, _ := json.Marshal(in.Spec)
	now := r.cfg.Now().UTC()
	p := store.Pool{Name: in.Name, Cloud: in.Spec.Cloud, Spec: spec, CreatedAt: now, UpdatedAt: now}
	if err := r.cfg.Store.CreatePool(ctx, p); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return api.Pool{}, fmt.Errorf("node pool %s exists already: %w", in.Name, store.ErrConflict)
		}
		return api.Pool{}, err
	}
	if err := r.reconcile(ctx, p); err != nil {
		// What the cloud refuses outright (a bad spec, credentials it rejects, a quota) is the
		// caller's to fix: the pool is not kept. Capacity and transient failures are retried.
		if errors.Is(err, clouds.ErrInvalid) || errors.Is(err, clouds.ErrAuth) || errors.Is(err, clouds.ErrQuota) {
			_ = r.cfg.Store.DeletePool(context.WithoutCancel(ctx), in.Name)
			r.events.forget(in.Name)
			return api.Pool{}, fmt.Errorf("%w: the cloud refused the pool: %v", ErrInvalid, err)
		}
		r.setStatus(p.Name, "error: "+err.Error())
	}
	return r.Get(ctx, in.Name)
}

// Update replaces a pool's spec; its cloud cannot change.
func (r *Reconciler) Update(ctx context.Context, name string, spec api.PoolSpec) (api.Pool, error) {
	p, err := r.cfg.Store.GetPool(ctx, name)
	if err != nil {
		return api.Pool{}, fmt.Errorf("node pool %s: %w", name, err)
	}
	if spec.Cloud == "" {
		spec.Cloud = p.Cloud
	}
	if spec.Cloud != p.Cloud {
		return api.Pool{}, fmt.Errorf("%w: a pool's cloud cannot change (%s → %s): create a new pool", ErrInvalid, p.Cloud, spec.Cloud)
	}
	if err := validate(name, &spec); err != nil {
		return api.Pool{}, err
	}
	if spec.Account != specAccount(p) {
		return api.Pool{}, fmt.Errorf("%w: a pool's cloud account cannot change: create a new pool", ErrInvalid)
	}
	g, err := r.driver(ctx, spec.Cloud, spec.Account)
	if err != nil {
		return api.Pool{}, err
	}
	if err := checkCapacity(ctx, g, spec); err != nil {
		return api.Pool{}, err
	}
	p.Spec, _ = json.Marshal(spec)
	p.UpdatedAt = r.cfg.Now().UTC()
	if err := r.cfg.Store.UpdatePool(ctx, p); err != nil {
		return api.Pool{}, err
	}
	if err := r.reconcile(ctx, p); err != nil {
		r.setStatus(p.Name, "error: "+err.Error())
	}
	return r.Get(ctx, name)
}

// Delete tears a pool down: its group, its instances and its nodes. Idempotent.
func (r *Reconciler) Delete(ctx context.Context, name string) error {
	p, err := r.cfg.Store.GetPool(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	p.Deleting = true
	if err := r.cfg.Store.UpdatePool(ctx, p); err != nil {
		return err
	}
	return r.reconcile(ctx, p)
}

// Get returns a pool with its observed state.
func (r *Reconciler) Get(ctx context.Context, name string) (api.Pool, error) {
	p, err := r.cfg.Store.GetPool(ctx, name)
	if err != nil {
		return api.Pool{}, fmt.Errorf("node pool %s: %w", name, err)
	}
	return r.toAPI(p), nil
}

// List returns every pool.
func (r *Reconciler) List(ctx context.Context) ([]api.Pool, error) {
	ps, err := r.cfg.Store.ListPools(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.Pool, 0, len(ps))
	for _, p := range ps {
		out = append(out, r.toAPI(p))
	}
	return out, nil
}

func (r *Reconciler) toAPI(p store.Pool) api.Pool {
	out := api.Pool{Name: p.Name, CreatedAt: p.CreatedAt, NodeIDs: []string{}}
	_ = json.Unmarshal(p.Spec, &out.Spec)
	for _, n := range r.cfg.Fleet.Nodes() {
		if n.Pool == p.Name && r.cfg.Fleet.Ready(n) {
			out.NodeIDs = append(out.NodeIDs, n.ID)
		}
	}
	out.Size = len(out.NodeIDs)
	r.mu.Lock()
	out.Status = r.status[p.Name]
	r.mu.Unlock()
	if p.Deleting {
		out.Status = "deleting"
	}
	return out
}

// InstanceTypes lists the instance types of the clouds this control plane can provision in
// (account-less clouds, and each cloud account), filtered.
func (r *Reconciler) InstanceTypes(ctx context.Context, f api.InstanceTypeFilter) ([]api.InstanceType, error) {
	type source struct {
		cloud string
		g     clouds.Groups
	}
	var srcs []source
	for cloud, g := range r.cfg.Clouds {
		srcs = append(srcs, source{cloud, g})
	}
	if r.cfg.Accounts != nil {
		accts, err := r.cfg.Accounts.List(ctx)
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for _, a := range accts {
			if seen[a.Cloud] || (f.Cloud != "" && a.Cloud != f.Cloud) {
				continue // one account per cloud answers for its catalog
			}
			g, _, err := r.cfg.Accounts.Groups(ctx, a.Name)
			if err != nil {
				r.log.Warn("cloud account unusable", "account", a.Name, "err", err)
				continue
			}
			seen[a.Cloud] = true
			srcs = append(srcs, source{a.Cloud, g})
		}
	}
	sort.Slice(srcs, func(i, j int) bool { return srcs[i].cloud < srcs[j].cloud })
	known := false
	out := []api.InstanceType{}
	for _, src := range srcs {
		if f.Cloud != "" && src.cloud != f.Cloud {
			continue
		}
		known = true
		it, ok := src.g.(clouds.InstanceTypes)
		if !ok {
			continue
		}
		types, err := it.InstanceTypes(ctx)
		if err != nil {
			return nil, fmt.Errorf("instance types of %s: %w", src.cloud, err)
		}
		for _, t := range types {
			if a, ok := matchType(src.cloud, t, f); ok {
				out = append(out, a)
			}
		}
	}
	if f.Cloud != "" && !known {
		return nil, fmt.Errorf("%w: cloud %q is not usable here: neither built in without an account nor with a cloud account", ErrInvalid, f.Cloud)
	}
	return out, nil
}

func specAccount(p store.Pool) string {
	var spec api.PoolSpec
	_ = json.Unmarshal(p.Spec, &spec)
	return spec.Account
}

func matchType(cloud string, t clouds.InstanceType, f api.InstanceTypeFilter) (api.InstanceType, bool) {
	a := api.InstanceType{Cloud: cloud, Name: t.Name, Arch: t.Arch, VCPU: t.VCPU, MemoryMiB: t.MemoryMiB, PricePerHour: t.PricePerHour,
		GPUs: []api.GPUOffer{}, Offerings: []api.Offering{}}
	gpus, modelOK := 0, f.GPUModel == ""
	for _, g := range t.GPUs {
		a.GPUs = append(a.GPUs, api.GPUOffer{Model: g.Model, Count: g.Count, MemoryMiB: g.MemoryMiB})
		gpus += g.Count
		if f.GPUModel != "" && strings.Contains(strings.ToLower(g.Model), strings.ToLower(f.GPUModel)) {
			modelOK = true
		}
	}
	for _, o := range t.Offerings {
		if f.Region == "" || strings.HasPrefix(o.Zone, f.Region) {
			a.Offerings = append(a.Offerings, api.Offering{Zone: o.Zone, Spot: o.Spot, Available: o.Available, PricePerHour: o.PricePerHour})
		}
	}
	ok := modelOK && gpus >= f.MinGPUs && t.MemoryMiB >= f.MinMemoryMiB && (f.Region == "" || len(a.Offerings) > 0)
	return a, ok
}

// checkCapacity checks a pool spec against its cloud's instance types, when the cloud lists
// them: the instance type must exist and carry the GPUs the spec asks for.
func checkCapacity(ctx context.Context, g clouds.Groups, s api.PoolSpec) error {
	it, ok := g.(clouds.InstanceTypes)
	if !ok || s.InstanceType == "" {
		if s.GPUCount > 0 && s.InstanceType == "" {
			return fmt.Errorf("%w: a GPU pool needs an instance_type that carries its GPUs", ErrInvalid)
		}
		return nil
	}
	types, err := it.InstanceTypes(ctx)
	if err != nil {
		return fmt.Errorf("instance types of %s: %w", s.Cloud, err)
	}
	var names []string
	for _, t := range types {
		names = append(names, t.Name)
		if t.Name != s.InstanceType {
			continue
		}
		if s.GPUCount == 0 && s.GPUType == "" {
			return nil
		}
		for _, g := range t.GPUs {
			if g.Count >= s.GPUCount && (s.GPUType == "" || strings.Contains(strings.ToLower(g.Model), strings.ToLower(s.GPUType))) {
				return nil
			}
		}
		return fmt.Errorf("%w: instance type %s of cloud %s does not carry %d × %q GPUs", ErrInvalid, s.InstanceType, s.Cloud, s.GPUCount, s.GPUType)
	}
	return fmt.Errorf("%w: cloud %s has no instance type %q (it has: %s)", ErrInvalid, s.Cloud, s.InstanceType, strings.Join(names, ", "))
}

// createWithFallback creates the pool's group, falling back on capacity errors: first without
// the zone that has no capacity, then with the next instance type of the spec. Each fallback is
// an event; the group's own provider may still rebalance across the zones it was given.
func (r *Reconciler) createWithFallback(ctx context.Context, g clouds.Groups, pool string, base clouds.GroupSpec, spec api.PoolSpec) error {
	types := append([]string{spec.InstanceType}, spec.FallbackInstanceTypes...)
	var last error
	for _, it := range types {
		zones := append([]string(nil), spec.Zones...)
		for {
			gs := base
			gs.Template.InstanceType, gs.Zones = it, zones
			_, err := g.CreateGroup(ctx, gs)
			if err == nil {
				r.event(pool, "Normal", "GroupCreated", "group %s created: %d × %s in zones %v", gs.Name, gs.Desired, orDefault(it), zonesOrAny(zones))
				return nil
			}
			var ce *clouds.CapacityError
			if !errors.As(err, &ce) {
				return fmt.Errorf("create group: %w", err)
			}
			last = err
			next := without(zones, ce.Zone)
			if ce.Zone == "" || len(next) == len(zones) || len(next) == 0 {
				r.event(pool, "Warning", "CapacityUnavailable", "no capacity for %s in zones %v: %v", orDefault(it), zonesOrAny(zones), err)
				break
			}
			r.event(pool, "Warning", "ZoneFallback", "no capacity for %s in zone %s; trying zones %v", orDefault(it), ce.Zone, next)
			zones = next
		}
	}
	return fmt.Errorf("create group: no capacity for any allowed instance type and zone: %w", last)
}

func without(zs []string, z string) []string {
	out := make([]string, 0, len(zs))
	for _, x := range zs {
		if x != z {
			out = append(out, x)
		}
	}
	return out
}

func orDefault(it string) string {
	if it == "" {
		return "the default instance type"
	}
	return it
}

func zonesOrAny(zs []string) any {
	if len(zs) == 0 {
		return "any"
	}
	return zs
}
