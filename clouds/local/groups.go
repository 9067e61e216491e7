package local

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/algos-dev/algos/clouds"
)

// group is a set of instances the driver keeps at Desired. op serializes every membership
// change of the group (reconcile, resize, remove, delete); it is held across process starts
// and stops and is taken before Driver.mu.
type group struct {
	op chan struct{} // a one-slot semaphore, so that waiting for it can honour ctx

	// guarded by Driver.mu
	spec      clouds.GroupSpec // spec.Desired is the current desired size
	createdAt time.Time
	members   map[string]bool
	deleted   bool
}

func (g *group) lock(ctx context.Context) error {
	select {
	case g.op <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *group) unlock() { <-g.op }

func (g *group) snapshot() clouds.Group {
	return clouds.Group{
		Name:         g.spec.Name,
		Min:          g.spec.Min,
		Max:          g.spec.Max,
		Desired:      g.spec.Desired,
		Zones:        slices.Clone(g.spec.Zones),
		InstanceType: InstanceType,
		Tags:         maps.Clone(g.spec.Template.Tags),
		CreatedAt:    g.createdAt,
	}
}

// CreateGroup records the group and starts its Desired members before returning. A member
// that fails to start is logged and retried by Run. Errors: ErrAlreadyExists, ErrInvalid (a
// spec that fails Validate, a zone other than "local", another instance type), *CapacityError
// (spot), ErrClosed.
func (d *Driver) CreateGroup(ctx context.Context, spec clouds.GroupSpec) (clouds.Group, error) {
	if err := ctx.Err(); err != nil {
		return clouds.Group{}, fmt.Errorf("create group: %w", err)
	}
	if err := spec.Validate(); err != nil {
		return clouds.Group{}, fmt.Errorf("create group: %w", err)
	}
	for _, z := range spec.Zones {
		if z != Zone {
			return clouds.Group{}, fmt.Errorf("create group %q: zone %q: the local cloud has only %q: %w", spec.Name, z, Zone, clouds.ErrInvalid)
		}
	}
	spec.Template.Zone = ""
	if err := checkSpec(spec.Template); err != nil {
		return clouds.Group{}, fmt.Errorf("create group %q: %w", spec.Name, err)
	}
	spec.Zones = slices.Clone(spec.Zones)
	spec.Template.Tags = maps.Clone(spec.Template.Tags)
	g := &group{op: make(chan struct{}, 1), spec: spec, createdAt: time.Now(), members: make(map[string]bool)}

	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return clouds.Group{}, fmt.Errorf("create group %q: %w", spec.Name, ErrClosed)
	}
	if _, ok := d.groups[spec.Name]; ok {
		d.mu.Unlock()
		return clouds.Group{}, fmt.Errorf("group %q: %w", spec.Name, clouds.ErrAlreadyExists)
	}
	d.groups[spec.Name] = g
	out := g.snapshot()
	d.mu.Unlock()
	d.log.Info("group created", "group", spec.Name, "desired", spec.Desired)

	if err := d.reconcile(ctx, g); err != nil {
		d.log.Warn("group members not all started; Run retries", "group", spec.Name, "error", err)
	}
	return out, nil
}

// GetGroup never blocks. Errors: ErrNotFound.
func (d *Driver) GetGroup(ctx context.Context, name string) (clouds.Group, error) {
	if err := ctx.Err(); err != nil {
		return clouds.Group{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	g, ok := d.groups[name]
	if !ok {
		return clouds.Group{}, fmt.Errorf("group %q: %w", name, clouds.ErrNotFound)
	}
	return g.snapshot(), nil
}

// ResizeGroup sets the desired size and starts or deletes members (newest first) before
// returning; it blocks while deleted members stop. A member that fails to start is logged and
// retried by Run. Errors: ErrNotFound, ErrInvalid outside Min..Max.
func (d *Driver) ResizeGroup(ctx context.Context, name string, desired int) error {
	g, err := d.lockGroup(ctx, name)
	if err != nil {
		return fmt.Errorf("resize group: %w", err)
	}
	defer g.unlock()
	d.mu.Lock()
	if desired < g.spec.Min || desired > g.spec.Max {
		d.mu.Unlock()
		return fmt.Errorf("resize group %q to %d: outside min %d..max %d: %w", name, desired, g.spec.Min, g.spec.Max, clouds.ErrInvalid)
	}
	g.spec.Desired = desired
	d.mu.Unlock()
	d.log.Info("group resized", "group", name, "desired", desired)
	if err := d.reconcileLocked(ctx, g); err != nil {
		d.log.Warn("group members not all started; Run retries", "group", name, "error", err)
	}
	return nil
}

// ListMembers never blocks. It returns members oldest first, terminated ones (exited on
// their own, not yet replaced by Run) included. Errors: ErrNotFound.
func (d *Driver) ListMembers(ctx context.Context, name string) ([]clouds.Instance, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	g, ok := d.groups[name]
	if !ok {
		d.mu.Unlock()
		return nil, fmt.Errorf("group %q: %w", name, clouds.ErrNotFound)
	}
	var out []clouds.Instance
	for id := range g.members {
		if in, ok := d.instances[id]; ok {
			out = append(out, in.snapshot())
		}
	}
	d.mu.Unlock()
	sortInstances(out)
	return out, nil
}

// RemoveMember deletes the member (blocking as DeleteInstance does) and, without decrement,
// starts its replacement before returning. Idempotent. Errors: ErrNotFound for the group,
// ErrInvalid when decrement would go below Min.
func (d *Driver) RemoveMember(ctx context.Context, name, instanceID string, decrement bool) error {
	g, err := d.lockGroup(ctx, name)
	if err != nil {
		return fmt.Errorf("remove member: %w", err)
	}
	defer g.unlock()
	d.mu.Lock()
	if !g.members[instanceID] {
		d.mu.Unlock()
		return nil
	}
	if decrement {
		if g.spec.Desired-1 < g.spec.Min {
			d.mu.Unlock()
			return fmt.Errorf("remove member %s of group %q: desired %d is min: %w", instanceID, name, g.spec.Desired, clouds.ErrInvalid)
		}
		g.spec.Desired--
	}
	delete(g.members, instanceID)
	d.mu.Unlock()
	d.log.Info("group member removed", "group", name, "instance_id", instanceID, "decrement", decrement)
	if err := d.DeleteInstance(ctx, instanceID); err != nil {
		return fmt.Errorf("remove member: %w", err)
	}
	if !decrement {
		if err := d.reconcileLocked(ctx, g); err != nil {
			d.log.Warn("group member not replaced; Run retries", "group", name, "error", err)
		}
	}
	return nil
}

// DeleteGroup deletes every member in parallel and blocks until they have stopped; the name
// stays taken (ErrAlreadyExists) until then. Idempotent.
func (d *Driver) DeleteGroup(ctx context.Context, name string) error {
	g, err := d.lockGroup(ctx, name)
	if errors.Is(err, clouds.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete group: %w", err)
	}
	defer g.unlock()
	d.mu.Lock()
	g.deleted = true
	ids := slices.Collect(maps.Keys(g.members))
	d.mu.Unlock()
	err = d.deleteAll(ctx, ids)
	d.mu.Lock()
	if d.groups[name] == g {
		delete(d.groups, name)
	}
	d.mu.Unlock()
	d.log.Info("group deleted", "group", name, "members", len(ids))
	if err != nil {
		return fmt.Errorf("delete group %q: %w", name, err)
	}
	return nil
}

// lockGroup finds a live group and takes its op lock. Errors: ErrNotFound, ctx.Err().
func (d *Driver) lockGroup(ctx context.Context, name string) (*group, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	g, ok := d.groups[name]
	d.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("group %q: %w", name, clouds.ErrNotFound)
	}
	if err := g.lock(ctx); err != nil {
		return nil, err
	}
	d.mu.Lock()
	deleted := g.deleted
	d.mu.Unlock()
	if deleted {
		g.unlock()
		return nil, fmt.Errorf("group %q: %w", name, clouds.ErrNotFound)
	}
	return g, nil
}

// reconcileAll brings every group to its desired size; Run calls it.
func (d *Driver) reconcileAll(ctx context.Context) {
	d.mu.Lock()
	groups := slices.Collect(maps.Values(d.groups))
	d.mu.Unlock()
	for _, g := range groups {
		if err := d.reconcile(ctx, g); err != nil && ctx.Err() == nil {
			d.log.Warn("group reconcile failed; retrying", "group", g.spec.Name, "error", err)
		}
	}
}

func (d *Driver) reconcile(ctx context.Context, g *group) error {
	if err := g.lock(ctx); err != nil {
		return err
	}
	defer g.unlock()
	return d.reconcileLocked(ctx, g)
}

// reconcileLocked deletes members that are no longer active (exited, or deleted through
// Compute), deletes the newest active members beyond Desired, and starts members up to
// Desired. The caller holds g's op lock.
func (d *Driver) reconcileLocked(ctx context.Context, g *group) error {
	d.mu.Lock()
	if g.deleted || d.closed {
		d.mu.Unlock()
		return nil
	}
	var live []*instance
	var remove []string
	for id := range g.members {
		in, ok := d.instances[id]
		switch {
		case !ok:
			delete(g.members, id)
		case in.info.State.Active():
			live = append(live, in)
		default:
			remove = append(remove, id)
			delete(g.members, id)
			d.log.Warn("replacing group member that stopped", "group", g.spec.Name, "instance_id", id)
		}
	}
	sort.Slice(live, func(i, j int) bool { return live[i].info.LaunchedAt.Before(live[j].info.LaunchedAt) })
	for _, in := range live[min(g.spec.Desired, len(live)):] {
		remove = append(remove, in.info.ID)
		delete(g.members, in.info.ID)
	}
	missing := g.spec.Desired - len(live)
	name, tmpl := g.spec.Name, g.spec.Template
	d.mu.Unlock()

	err := d.deleteAll(ctx, remove)
	if tmpl.Name == "" {
		tmpl.Name = name
	}
	for range missing {
		in, cerr := d.CreateInstance(ctx, tmpl)
		if cerr != nil {
			return errors.Join(err, cerr)
		}
		d.mu.Lock()
		g.members[in.ID] = true
		d.mu.Unlock()
		d.log.Info("group member started", "group", name, "instance_id", in.ID)
	}
	return err
}
