package gcp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"

	"github.com/algos-dev/algos/clouds"
)

// groupDescPrefix starts a MIG description that keeps the group's bounds, which a MIG
// (without an autoscaler) does not have: "algos-group:{"min":0,"max":3}".
const groupDescPrefix = "algos-group:"

// maxGroupName leaves room in 63 characters for the template's "-" and 8-hex suffix.
const maxGroupName = 54

type groupBounds struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

// bounds reads a MIG's bounds; a MIG the driver did not create has Min 0 and Max its size.
func bounds(mig *computepb.InstanceGroupManager) groupBounds {
	if s, ok := strings.CutPrefix(mig.GetDescription(), groupDescPrefix); ok {
		var b groupBounds
		if json.Unmarshal([]byte(s), &b) == nil {
			return b
		}
	}
	return groupBounds{Min: 0, Max: int(mig.GetTargetSize())}
}

// CreateGroup inserts a regional instance template named after the group (with a random
// suffix, so a failed or concurrent create never collides with a live group's template),
// then a regional MIG of spec.Desired instances across spec.Zones (or the driver's zones)
// with target shape BALANCED, waiting for both operations but not for the members. When
// the MIG cannot be created the template is deleted again. Group names are GCE names of at
// most 54 characters; members are named "<group>-xxxx". Errors: ErrAlreadyExists,
// ErrInvalid, *QuotaError.
func (d *Driver) CreateGroup(ctx context.Context, spec clouds.GroupSpec) (clouds.Group, error) {
	if err := ctx.Err(); err != nil {
		return clouds.Group{}, fmt.Errorf("gcp: create group: %w", err)
	}
	if err := spec.Validate(); err != nil {
		return clouds.Group{}, fmt.Errorf("gcp: create group: %w", err)
	}
	if !validName(spec.Name) || len(spec.Name) > maxGroupName {
		return clouds.Group{}, fmt.Errorf("gcp: group name %q: want lower-case letters, digits and '-', starting with a letter, at most %d characters: %w", spec.Name, maxGroupName, clouds.ErrInvalid)
	}
	zones := spec.Zones
	if len(zones) == 0 {
		var err error
		if zones, err = d.zones(ctx); err != nil {
			return clouds.Group{}, fmt.Errorf("gcp: create group %s: %w", spec.Name, err)
		}
	}
	policy := &computepb.DistributionPolicy{TargetShape: ptr("BALANCED")}
	for _, z := range zones {
		if !d.inRegion(z) {
			return clouds.Group{}, fmt.Errorf("gcp: create group %s: zone %q is not in region %s: %w", spec.Name, z, d.cfg.Region, clouds.ErrInvalid)
		}
		policy.Zones = append(policy.Zones, &computepb.DistributionPolicyZoneConfiguration{Zone: ptr(d.zonePath(z))})
	}
	tmpl, m, err := d.template(spec)
	if err != nil {
		return clouds.Group{}, err
	}
	ec := errCtx{machineType: m.name, spot: spec.Template.Spot, create: true}
	err = d.do(ctx, ec, func(ctx context.Context, rid string) (*compute.Operation, error) {
		return d.templates.Insert(ctx, &computepb.InsertRegionInstanceTemplateRequest{
			Project: d.cfg.Project, Region: d.cfg.Region, InstanceTemplateResource: tmpl, RequestId: ptr(rid),
		})
	})
	if err != nil {
		return clouds.Group{}, fmt.Errorf("gcp: create group %s: template: %w", spec.Name, err)
	}
	desc, _ := json.Marshal(groupBounds{Min: spec.Min, Max: spec.Max})
	mig := &computepb.InstanceGroupManager{
		Name:               ptr(spec.Name),
		BaseInstanceName:   ptr(spec.Name),
		InstanceTemplate:   ptr(d.regionPath() + "/instanceTemplates/" + tmpl.GetName()),
		TargetSize:         ptr(int32(spec.Desired)),
		DistributionPolicy: policy,
		// BALANCED needs proactive redistribution off.
		UpdatePolicy: &computepb.InstanceGroupManagerUpdatePolicy{InstanceRedistributionType: ptr("NONE")},
		Description:  ptr(groupDescPrefix + string(desc)),
	}
	ec.create = false
	err = d.do(ctx, ec, func(ctx context.Context, rid string) (*compute.Operation, error) {
		return d.migs.Insert(ctx, &computepb.InsertRegionInstanceGroupManagerRequest{
			Project: d.cfg.Project, Region: d.cfg.Region, InstanceGroupManagerResource: mig, RequestId: ptr(rid),
		})
	})
	if err != nil {
		// The template is ours alone: remove it even when ctx is what failed.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if derr := d.deleteTemplate(cctx, tmpl.GetName()); derr != nil {
			d.log.Warn("template of a group that failed to create not deleted", "group", spec.Name, "template", tmpl.GetName(), "error", derr)
		}
		if errors.Is(err, clouds.ErrNotFound) {
			err = fmt.Errorf("%w (%w)", clouds.ErrInvalid, err) // a zone or the template is missing
		}
		return clouds.Group{}, fmt.Errorf("gcp: create group %s: %w", spec.Name, err)
	}
	d.log.Info("group created", "group", spec.Name, "desired", spec.Desired, "instance_type", m.name, "zones", zones)
	return d.GetGroup(ctx, spec.Name)
}

// template is the regional instance template for a group.
func (d *Driver) template(spec clouds.GroupSpec) (*computepb.InstanceTemplate, machine, error) {
	m, err := parseMachine(spec.Template.InstanceType)
	if err != nil {
		return nil, machine{}, err
	}
	labels, err := labelsFor(spec.Template.Tags, map[string]string{LabelGroup: spec.Name})
	if err != nil {
		return nil, machine{}, err
	}
	disks, err := d.attachedDisks(spec.Template, "", "", labels)
	if err != nil {
		return nil, machine{}, err
	}
	props := &computepb.InstanceProperties{
		MachineType:       ptr(m.typ),
		Labels:            labels,
		Metadata:          metadataFor(spec.Template),
		Disks:             disks,
		NetworkInterfaces: d.networkInterfaces(),
		ServiceAccounts:   d.serviceAccounts(),
		Scheduling:        m.scheduling(spec.Template.Spot),
	}
	if m.accel != "" {
		props.GuestAccelerators = []*computepb.AcceleratorConfig{{AcceleratorType: ptr(m.accel), AcceleratorCount: ptr(m.accelCount)}}
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	return &computepb.InstanceTemplate{
		Name:        ptr(spec.Name + "-" + hex.EncodeToString(suffix)),
		Description: ptr("instance template of algos group " + spec.Name),
		Properties:  props,
	}, m, nil
}

// getMIG gets a group's MIG; ErrNotFound for names GCE cannot have.
func (d *Driver) getMIG(ctx context.Context, name string) (*computepb.InstanceGroupManager, error) {
	if !validName(name) {
		return nil, fmt.Errorf("gcp: group %q: %w", name, clouds.ErrNotFound)
	}
	var mig *computepb.InstanceGroupManager
	err := d.retry(ctx, func(ctx context.Context) (err error) {
		mig, err = d.migs.Get(ctx, &computepb.GetRegionInstanceGroupManagerRequest{
			Project: d.cfg.Project, Region: d.cfg.Region, InstanceGroupManager: name,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("gcp: group %s: %w", name, mapError(err, errCtx{}))
	}
	return mig, nil
}

// GetGroup returns the group: its MIG, bounds and template. Errors: ErrNotFound.
func (d *Driver) GetGroup(ctx context.Context, name string) (clouds.Group, error) {
	if err := ctx.Err(); err != nil {
		return clouds.Group{}, fmt.Errorf("gcp: get group: %w", err)
	}
	mig, err := d.getMIG(ctx, name)
	if err != nil {
		return clouds.Group{}, err
	}
	b := bounds(mig)
	g := clouds.Group{
		Name:      mig.GetName(),
		Min:       b.Min,
		Max:       b.Max,
		Desired:   int(mig.GetTargetSize()),
		CreatedAt: parseTime(mig.GetCreationTimestamp()),
	}
	for _, z := range mig.GetDistributionPolicy().GetZones() {
		g.Zones = append(g.Zones, lastSegment(z.GetZone()))
	}
	// Templates of other regions or global ones (MIGs not made by the driver) are skipped.
	if u := mig.GetInstanceTemplate(); strings.Contains(u, "/regions/"+d.cfg.Region+"/instanceTemplates/") {
		var tmpl *computepb.InstanceTemplate
		err := d.retry(ctx, func(ctx context.Context) (err error) {
			tmpl, err = d.templates.Get(ctx, &computepb.GetRegionInstanceTemplateRequest{
				Project: d.cfg.Project, Region: d.cfg.Region, InstanceTemplate: lastSegment(u),
			})
			return err
		})
		if err != nil && !isNotFound(err) {
			return clouds.Group{}, fmt.Errorf("gcp: group %s: template: %w", name, mapError(err, errCtx{}))
		}
		if p := tmpl.GetProperties(); p != nil {
			g.InstanceType = machineName(p.GetMachineType(), p.GetGuestAccelerators())
			g.Spot = p.GetScheduling().GetProvisioningModel() == "SPOT"
			g.Tags = tagsOf(p.GetMetadata(), p.GetLabels())
		}
	}
	return g, nil
}

// ResizeGroup sets the MIG's target size (instanceGroupManagers.resize) and waits for the
// operation, not for the members. Idempotent. Errors: ErrNotFound, ErrInvalid outside
// Min..Max.
func (d *Driver) ResizeGroup(ctx context.Context, name string, desired int) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("gcp: resize group: %w", err)
	}
	mig, err := d.getMIG(ctx, name)
	if err != nil {
		return err
	}
	if b := bounds(mig); desired < b.Min || desired > b.Max {
		return fmt.Errorf("gcp: resize group %s to %d: outside min %d..max %d: %w", name, desired, b.Min, b.Max, clouds.ErrInvalid)
	}
	if int(mig.GetTargetSize()) == desired {
		return nil
	}
	err = d.do(ctx, errCtx{}, func(ctx context.Context, rid string) (*compute.Operation, error) {
		return d.migs.Resize(ctx, &computepb.ResizeRegionInstanceGroupManagerRequest{
			Project: d.cfg.Project, Region: d.cfg.Region, InstanceGroupManager: name, Size: int32(desired), RequestId: ptr(rid),
		})
	})
	if err != nil {
		return fmt.Errorf("gcp: resize group %s to %d: %w", name, desired, err)
	}
	d.log.Info("group resized", "group", name, "desired", desired)
	return nil
}

// managedInstances lists a MIG's managed instances; errors mapped.
func (d *Driver) managedInstances(ctx context.Context, name string) ([]*computepb.ManagedInstance, error) {
	var out []*computepb.ManagedInstance
	err := d.retry(ctx, func(ctx context.Context) error {
		out = out[:0]
		it := d.migs.ListManagedInstances(ctx, &computepb.ListManagedInstancesRegionInstanceGroupManagersRequest{
			Project: d.cfg.Project, Region: d.cfg.Region, InstanceGroupManager: name,
		})
		for {
			mi, err := it.Next()
			if err == iterator.Done {
				return nil
			}
			if err != nil {
				return err
			}
			out = append(out, mi)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("gcp: group %s: %w", name, mapError(err, errCtx{}))
	}
	return out, nil
}

// leaving reports whether a managed instance is being removed from its group.
func leaving(mi *computepb.ManagedInstance) bool {
	a := mi.GetCurrentAction()
	return a == "DELETING" || a == "ABANDONING"
}

// ListMembers lists the MIG's managed instances (listManagedInstances) joined with the
// instances that carry the group's label (instances.aggregatedList) for their details.
// Members being deleted, abandoned or recreated are stopping. Members GCE has not created
// yet (no instance ID: waiting for capacity, say) are not listed. Errors: ErrNotFound.
func (d *Driver) ListMembers(ctx context.Context, name string) ([]clouds.Instance, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("gcp: list members: %w", err)
	}
	if !validName(name) {
		return nil, fmt.Errorf("gcp: group %q: %w", name, clouds.ErrNotFound)
	}
	mis, err := d.managedInstances(ctx, name)
	if err != nil {
		return nil, err
	}
	ins, err := d.listInstances(ctx, fmt.Sprintf(`(labels.%s = "%s")`, LabelGroup, name))
	if err != nil {
		return nil, fmt.Errorf("gcp: list members of %s: %w", name, err)
	}
	byID := make(map[uint64]*computepb.Instance, len(ins))
	for _, in := range ins {
		byID[in.GetId()] = in
	}
	var out []clouds.Instance
	for _, mi := range mis {
		if mi.GetId() == 0 {
			continue
		}
		var m clouds.Instance
		if in, ok := byID[mi.GetId()]; ok {
			m = toInstance(in)
		} else {
			zone := zoneOf(mi.GetInstance())
			m = clouds.Instance{
				ID:    instanceID(zone, lastSegment(mi.GetInstance()), mi.GetId()),
				Name:  lastSegment(mi.GetInstance()),
				State: instanceState(mi.GetInstanceStatus()),
				Zone:  zone,
			}
		}
		if a := mi.GetCurrentAction(); (leaving(mi) || a == "RECREATING") && m.State.Active() {
			m.State = clouds.StateStopping
		}
		out = append(out, m)
	}
	return out, nil
}

// zoneOf returns the zone of a zonal resource URL.
func zoneOf(u string) string {
	_, rest, ok := strings.Cut(u, "/zones/")
	if !ok {
		return ""
	}
	zone, _, _ := strings.Cut(rest, "/")
	return zone
}

// RemoveMember deletes one member: with decrement through deleteInstances (the target size
// drops by one), without through recreateInstances (GCE deletes the VM and creates a new
// one of the same name; the new VM has a new ID). Idempotent: an instance that is not a
// member, or is already being removed, returns nil. Errors: ErrNotFound for the group,
// ErrInvalid when decrement would go below Min.
func (d *Driver) RemoveMember(ctx context.Context, group, id string, decrement bool) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("gcp: remove member: %w", err)
	}
	mig, err := d.getMIG(ctx, group)
	if err != nil {
		return err
	}
	zone, name, num, ok := parseInstanceID(id)
	if !ok {
		return nil
	}
	mis, err := d.managedInstances(ctx, group)
	if err != nil {
		return err
	}
	var member *computepb.ManagedInstance
	for _, mi := range mis {
		if mi.GetId() == num && lastSegment(mi.GetInstance()) == name && zoneOf(mi.GetInstance()) == zone && !leaving(mi) {
			member = mi
		}
	}
	if member == nil {
		return nil
	}
	if decrement {
		if b := bounds(mig); int(mig.GetTargetSize())-1 < b.Min {
			return fmt.Errorf("gcp: remove member %s of group %s: size %d would go below min %d: %w", id, group, mig.GetTargetSize()-1, b.Min, clouds.ErrInvalid)
		}
		err = d.do(ctx, errCtx{zone: zone}, func(ctx context.Context, rid string) (*compute.Operation, error) {
			return d.migs.DeleteInstances(ctx, &computepb.DeleteInstancesRegionInstanceGroupManagerRequest{
				Project: d.cfg.Project, Region: d.cfg.Region, InstanceGroupManager: group, RequestId: ptr(rid),
				RegionInstanceGroupManagersDeleteInstancesRequestResource: &computepb.RegionInstanceGroupManagersDeleteInstancesRequest{
					Instances: []string{member.GetInstance()}, SkipInstancesOnValidationError: ptr(true),
				},
			})
		})
	} else {
		err = d.do(ctx, errCtx{zone: zone}, func(ctx context.Context, rid string) (*compute.Operation, error) {
			return d.migs.RecreateInstances(ctx, &computepb.RecreateInstancesRegionInstanceGroupManagerRequest{
				Project: d.cfg.Project, Region: d.cfg.Region, InstanceGroupManager: group, RequestId: ptr(rid),
				RegionInstanceGroupManagersRecreateRequestResource: &computepb.RegionInstanceGroupManagersRecreateRequest{
					Instances: []string{member.GetInstance()},
				},
			})
		})
	}
	if err != nil {
		return fmt.Errorf("gcp: remove member %s of group %s: %w", id, group, err)
	}
	d.log.Info("group member removed", "group", group, "instance", name, "zone", zone, "decrement", decrement)
	return nil
}

// DeleteGroup deletes the MIG (waiting for the operation; GCE deletes the members) and then
// its template. Idempotent. A template left by a create that died half-way is not found
// by it (its name has a random suffix): it holds no resources.
func (d *Driver) DeleteGroup(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("gcp: delete group: %w", err)
	}
	mig, err := d.getMIG(ctx, name)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	err = d.do(ctx, errCtx{}, func(ctx context.Context, rid string) (*compute.Operation, error) {
		return d.migs.Delete(ctx, &computepb.DeleteRegionInstanceGroupManagerRequest{
			Project: d.cfg.Project, Region: d.cfg.Region, InstanceGroupManager: name, RequestId: ptr(rid),
		})
	})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("gcp: delete group %s: %w", name, err)
	}
	if u := mig.GetInstanceTemplate(); strings.Contains(u, "/regions/"+d.cfg.Region+"/instanceTemplates/") && strings.HasPrefix(lastSegment(u), name+"-") {
		if err := d.deleteTemplate(ctx, lastSegment(u)); err != nil {
			return fmt.Errorf("gcp: delete group %s: template: %w", name, err)
		}
	}
	d.log.Info("group deleted", "group", name)
	return nil
}

// deleteTemplate deletes a regional template; a missing one is nil.
func (d *Driver) deleteTemplate(ctx context.Context, name string) error {
	err := d.do(ctx, errCtx{}, func(ctx context.Context, rid string) (*compute.Operation, error) {
		return d.templates.Delete(ctx, &computepb.DeleteRegionInstanceTemplateRequest{
			Project: d.cfg.Project, Region: d.cfg.Region, InstanceTemplate: name, RequestId: ptr(rid),
		})
	})
	if isNotFound(err) {
		return nil
	}
	return err
}
