package gcp

import (
	"context"
	"fmt"
	"strings"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/algos-dev/algos/clouds"
)

// diskState normalizes GCE's disk status: CREATING and RESTORING are creating, READY is
// available or, with users, in-use, DELETING is deleting. FAILED and UNAVAILABLE disks are
// creating: they never become available, delete them.
func diskState(d *computepb.Disk) clouds.DiskState {
	switch d.GetStatus() {
	case "READY":
		if len(d.GetUsers()) > 0 {
			return clouds.DiskInUse
		}
		return clouds.DiskAvailable
	case "DELETING":
		return clouds.DiskDeleting
	}
	return clouds.DiskCreating
}

// parseDiskID takes apart a disk ID, "zone/name".
func parseDiskID(id string) (zone, name string, ok bool) {
	zone, name, ok = strings.Cut(id, "/")
	return zone, name, ok && validName(zone) && validName(name)
}

// toDisk converts GCE's disk; InstanceID is the first user's ID, fetched (a disk's users
// are URLs, without the instance's numeric ID).
func (d *Driver) toDisk(ctx context.Context, disk *computepb.Disk) clouds.Disk {
	zone := lastSegment(disk.GetZone())
	out := clouds.Disk{
		ID:      zone + "/" + disk.GetName(),
		Name:    disk.GetName(),
		SizeGiB: int(disk.GetSizeGb()),
		Type:    lastSegment(disk.GetType()),
		Zone:    zone,
		State:   diskState(disk),
		Tags:    tagsOfDesc(disk.GetDescription(), disk.GetLabels()),
	}
	if users := disk.GetUsers(); len(users) > 0 {
		if in, err := d.getInstance(ctx, zoneOf(users[0]), lastSegment(users[0])); err == nil {
			out.InstanceID = instanceID(zoneOf(users[0]), in.GetName(), in.GetId())
		}
	}
	return out
}

// getDisk gets a disk by ID; ErrNotFound for IDs the driver did not issue.
func (d *Driver) getDisk(ctx context.Context, id string) (*computepb.Disk, error) {
	zone, name, ok := parseDiskID(id)
	if !ok {
		return nil, fmt.Errorf("gcp: disk %q: not an ID this driver issued: %w", id, clouds.ErrNotFound)
	}
	var disk *computepb.Disk
	err := d.retry(ctx, func(ctx context.Context) (err error) {
		disk, err = d.disks.Get(ctx, &computepb.GetDiskRequest{Project: d.cfg.Project, Zone: zone, Disk: name})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("gcp: disk %s: %w", id, mapError(err, errCtx{zone: zone}))
	}
	return disk, nil
}

// CreateDisk inserts a zonal persistent disk named spec.Name (a GCE name; "" gets a random
// one) in spec.Zone (or the next of the driver's zones), of type spec.Type (pd-balanced
// when empty), and waits for the operation. Errors: ErrAlreadyExists, ErrInvalid,
// *CapacityError, *QuotaError.
func (d *Driver) CreateDisk(ctx context.Context, spec clouds.DiskSpec) (clouds.Disk, error) {
	if err := ctx.Err(); err != nil {
		return clouds.Disk{}, fmt.Errorf("gcp: create disk: %w", err)
	}
	name := spec.Name
	if name == "" {
		name = instanceName("disk")
	}
	if !validName(name) {
		return clouds.Disk{}, fmt.Errorf("gcp: disk name %q: want lower-case letters, digits and '-', starting with a letter, at most 63 characters: %w", name, clouds.ErrInvalid)
	}
	if spec.SizeGiB <= 0 {
		return clouds.Disk{}, fmt.Errorf("gcp: disk %s: size %d GiB: %w", name, spec.SizeGiB, clouds.ErrInvalid)
	}
	zone, err := d.pickZone(ctx, spec.Zone)
	if err != nil {
		return clouds.Disk{}, fmt.Errorf("gcp: create disk %s: %w", name, err)
	}
	labels, err := labelsFor(spec.Tags, nil)
	if err != nil {
		return clouds.Disk{}, err
	}
	typ := spec.Type
	if typ == "" {
		typ = DefaultDiskType
	}
	res := &computepb.Disk{
		Name:        ptr(name),
		SizeGb:      ptr(int64(spec.SizeGiB)),
		Type:        ptr(d.zonePath(zone) + "/diskTypes/" + typ),
		Labels:      labels,
		Description: ptr(descTags(spec.Tags)),
	}
	err = d.do(ctx, errCtx{zone: zone, create: true}, func(ctx context.Context, rid string) (*compute.Operation, error) {
		return d.disks.Insert(ctx, &computepb.InsertDiskRequest{Project: d.cfg.Project, Zone: zone, DiskResource: res, RequestId: ptr(rid)})
	})
	if err != nil {
		return clouds.Disk{}, fmt.Errorf("gcp: create disk %s in %s: %w", name, zone, err)
	}
	d.log.Info("disk created", "disk", name, "zone", zone, "size_gib", spec.SizeGiB, "type", typ)
	disk, err := d.getDisk(ctx, zone+"/"+name)
	if err != nil {
		return clouds.Disk{}, err
	}
	return d.toDisk(ctx, disk), nil
}

// GetDisk gets the disk. Errors: ErrNotFound.
func (d *Driver) GetDisk(ctx context.Context, id string) (clouds.Disk, error) {
	if err := ctx.Err(); err != nil {
		return clouds.Disk{}, fmt.Errorf("gcp: get disk: %w", err)
	}
	disk, err := d.getDisk(ctx, id)
	if err != nil {
		return clouds.Disk{}, err
	}
	return d.toDisk(ctx, disk), nil
}

// sameInstance reports whether a disk user URL names the instance in zone.
func sameInstance(user, zone, name string) bool {
	return zoneOf(user) == zone && lastSegment(user) == name
}

// AttachDisk attaches the disk read-write (instances.attachDisk, device name = disk name,
// not auto-deleted) and waits for the operation. Idempotent when already attached there.
// Errors: ErrNotFound (disk or instance), ErrInvalid (attached elsewhere, other zone).
func (d *Driver) AttachDisk(ctx context.Context, diskID, instanceID string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("gcp: attach disk: %w", err)
	}
	disk, err := d.getDisk(ctx, diskID)
	if err != nil {
		return err
	}
	in, err := d.lookup(ctx, instanceID)
	if err != nil {
		return fmt.Errorf("gcp: attach disk %s: %w", diskID, err)
	}
	zone := lastSegment(disk.GetZone())
	if iz := lastSegment(in.GetZone()); iz != zone {
		return fmt.Errorf("gcp: attach disk %s to %s: the disk is in zone %s, the instance in %s: %w", diskID, instanceID, zone, iz, clouds.ErrInvalid)
	}
	for _, u := range disk.GetUsers() {
		if sameInstance(u, zone, in.GetName()) {
			return nil
		}
		return fmt.Errorf("gcp: attach disk %s to %s: attached to %s: detach it first: %w", diskID, instanceID, lastSegment(u), clouds.ErrInvalid)
	}
	err = d.do(ctx, errCtx{zone: zone}, func(ctx context.Context, rid string) (*compute.Operation, error) {
		return d.instances.AttachDisk(ctx, &computepb.AttachDiskInstanceRequest{
			Project: d.cfg.Project, Zone: zone, Instance: in.GetName(), RequestId: ptr(rid),
			AttachedDiskResource: &computepb.AttachedDisk{
				Source:     ptr(d.diskPath(zone, disk.GetName())),
				DeviceName: ptr(disk.GetName()),
				AutoDelete: ptr(false),
				Mode:       ptr("READ_WRITE"),
				Type:       ptr("PERSISTENT"),
			},
		})
	})
	if err != nil {
		return fmt.Errorf("gcp: attach disk %s to %s: %w", diskID, instanceID, err)
	}
	d.log.Info("disk attached", "disk", disk.GetName(), "instance", in.GetName(), "zone", zone)
	return nil
}

// DetachDisk detaches the disk (instances.detachDisk by its device name) and waits for the
// operation. Idempotent: a missing disk or instance, or a disk not attached to the
// instance, returns nil.
func (d *Driver) DetachDisk(ctx context.Context, diskID, instanceID string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("gcp: detach disk: %w", err)
	}
	disk, err := d.getDisk(ctx, diskID)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	in, err := d.lookup(ctx, instanceID)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("gcp: detach disk %s: %w", diskID, err)
	}
	zone := lastSegment(disk.GetZone())
	device := ""
	for _, ad := range in.GetDisks() {
		if src := ad.GetSource(); zoneOf(src) == zone && lastSegment(src) == disk.GetName() {
			device = ad.GetDeviceName()
		}
	}
	if device == "" {
		return nil
	}
	err = d.do(ctx, errCtx{zone: zone}, func(ctx context.Context, rid string) (*compute.Operation, error) {
		return d.instances.DetachDisk(ctx, &computepb.DetachDiskInstanceRequest{
			Project: d.cfg.Project, Zone: zone, Instance: in.GetName(), DeviceName: device, RequestId: ptr(rid),
		})
	})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("gcp: detach disk %s from %s: %w", diskID, instanceID, err)
	}
	d.log.Info("disk detached", "disk", disk.GetName(), "instance", in.GetName(), "zone", zone)
	return nil
}

// DeleteDisk deletes a detached disk and waits for the operation. Idempotent. Errors:
// ErrInvalid while attached (GCE's resourceInUseByAnotherResource).
func (d *Driver) DeleteDisk(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("gcp: delete disk: %w", err)
	}
	disk, err := d.getDisk(ctx, id)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if users := disk.GetUsers(); len(users) > 0 {
		return fmt.Errorf("gcp: delete disk %s: attached to %s: detach it first: %w", id, lastSegment(users[0]), clouds.ErrInvalid)
	}
	zone := lastSegment(disk.GetZone())
	err = d.do(ctx, errCtx{zone: zone}, func(ctx context.Context, rid string) (*compute.Operation, error) {
		return d.disks.Delete(ctx, &computepb.DeleteDiskRequest{Project: d.cfg.Project, Zone: zone, Disk: disk.GetName(), RequestId: ptr(rid)})
	})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("gcp: delete disk %s: %w", id, err)
	}
	d.log.Info("disk deleted", "disk", disk.GetName(), "zone", zone)
	return nil
}
