package openstack

import (
	"context"
	"fmt"
	"maps"

	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumes"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/volumeattach"

	"github.com/algos-dev/algos/clouds"
)

// CreateDisk creates a Cinder volume (size, volume_type from Type, availability_zone from
// Zone, Tags as metadata). Cinder names are not unique: the driver looks the name up
// first, so two concurrent creates of one name may both succeed. It does not wait: a
// volume Cinder cannot place goes to status error, reported as deleting. Errors:
// ErrAlreadyExists, ErrInvalid (unknown type or zone, size below 1), *QuotaError.
func (d *Driver) CreateDisk(ctx context.Context, spec clouds.DiskSpec) (clouds.Disk, error) {
	op := "create disk " + spec.Name
	if err := ctx.Err(); err != nil {
		return clouds.Disk{}, d.wrap(op, err)
	}
	if err := d.need(d.volume, "block-storage"); err != nil {
		return clouds.Disk{}, err
	}
	if spec.SizeGiB < 1 {
		return clouds.Disk{}, &Error{Op: op, Kind: clouds.ErrInvalid, Message: fmt.Sprintf("SizeGiB %d: want at least 1", spec.SizeGiB)}
	}
	if spec.Name != "" {
		pages, err := volumes.List(d.volume, volumes.ListOpts{Name: spec.Name}).AllPages(ctx)
		if err != nil {
			return clouds.Disk{}, d.wrap(op, err)
		}
		list, err := volumes.ExtractVolumes(pages)
		if err != nil {
			return clouds.Disk{}, d.wrap(op, err)
		}
		for _, v := range list {
			if v.Name == spec.Name && v.Status != "deleting" {
				return clouds.Disk{}, &Error{Op: op, Kind: clouds.ErrAlreadyExists, Message: fmt.Sprintf("volume %s is named %q", v.ID, spec.Name)}
			}
		}
	}
	v, err := volumes.Create(ctx, d.volume, volumes.CreateOpts{Size: spec.SizeGiB, Name: spec.Name, AvailabilityZone: spec.Zone,
		VolumeType: spec.Type, Metadata: maps.Clone(spec.Tags), Description: "algos"}, nil).Extract()
	if err != nil {
		if isStatus(err, 404) { // Cinder's VolumeTypeNotFound
			return clouds.Disk{}, &Error{Op: op, Status: 404, Kind: clouds.ErrInvalid, Message: faultOf(err), Err: err}
		}
		return clouds.Disk{}, d.wrap(op, err)
	}
	d.log.Info("disk created", "disk_id", v.ID, "size_gib", v.Size, "zone", v.AvailabilityZone)
	return disk(v), nil
}

// disk converts a Cinder volume: available; in-use, attaching, detaching and reserved are
// in-use; deleting and the error states are deleting; creating and the rest (downloading,
// extending, backing-up, …) creating.
func disk(v *volumes.Volume) clouds.Disk {
	out := clouds.Disk{ID: v.ID, Name: v.Name, SizeGiB: v.Size, Type: v.VolumeType, Zone: v.AvailabilityZone,
		Tags: maps.Clone(v.Metadata)}
	if out.Tags == nil {
		out.Tags = map[string]string{}
	}
	if len(v.Attachments) > 0 {
		out.InstanceID = v.Attachments[0].ServerID
	}
	switch v.Status {
	case "available":
		out.State = clouds.DiskAvailable
	case "in-use", "attaching", "detaching", "reserved":
		out.State = clouds.DiskInUse
	case "deleting", "error", "error_deleting", "error_restoring", "error_extending", "error_managing":
		out.State = clouds.DiskDeleting
	default:
		out.State = clouds.DiskCreating
	}
	return out
}

// GetDisk returns the volume. Errors: ErrNotFound.
func (d *Driver) GetDisk(ctx context.Context, id string) (clouds.Disk, error) {
	if err := d.need(d.volume, "block-storage"); err != nil {
		return clouds.Disk{}, err
	}
	v, err := volumes.Get(ctx, d.volume, id).Extract()
	if err != nil {
		return clouds.Disk{}, d.wrap("get disk "+id, err)
	}
	return disk(v), nil
}

// AttachDisk attaches the volume through Nova (os-volume_attachments); the volume is
// in-use once Cinder reports the attachment. Idempotent when attached (or being attached)
// to the instance. Errors: ErrNotFound (disk or instance), ErrInvalid (attached or being
// attached elsewhere, another zone, a volume or server in a state Nova refuses).
func (d *Driver) AttachDisk(ctx context.Context, diskID, instanceID string) error {
	op := "attach disk " + diskID + " to " + instanceID
	if err := d.need(d.volume, "block-storage"); err != nil {
		return err
	}
	v, err := volumes.Get(ctx, d.volume, diskID).Extract()
	if err != nil {
		return d.wrap(op, err)
	}
	srv, err := servers.Get(ctx, d.compute, instanceID).Extract()
	if err != nil {
		return d.wrap(op, err)
	}
	invalid := func(format string, args ...any) error {
		return &Error{Op: op, Kind: clouds.ErrInvalid, Message: fmt.Sprintf(format, args...)}
	}
	for _, a := range v.Attachments {
		if a.ServerID == instanceID {
			return nil
		}
		return invalid("attached to instance %s: detach it first", a.ServerID)
	}
	if v.Status == "attaching" || v.Status == "reserved" {
		if ok, err := d.attachedVia(ctx, instanceID, diskID); err != nil || ok {
			return d.wrap(op, err)
		}
		return invalid("being attached to another instance")
	}
	if v.AvailabilityZone != "" && srv.AvailabilityZone != "" && v.AvailabilityZone != srv.AvailabilityZone {
		return invalid("disk in zone %s, instance in zone %s", v.AvailabilityZone, srv.AvailabilityZone)
	}
	if _, err := volumeattach.Create(ctx, d.compute, instanceID, volumeattach.CreateOpts{VolumeID: diskID}).Extract(); err != nil {
		return d.wrap(op, err)
	}
	d.log.Info("disk attached", "disk_id", diskID, "instance_id", instanceID)
	return nil
}

// attachedVia reports whether Nova lists the volume among the server's attachments.
func (d *Driver) attachedVia(ctx context.Context, instanceID, diskID string) (bool, error) {
	pages, err := volumeattach.List(d.compute, instanceID).AllPages(ctx)
	if err != nil {
		return false, err
	}
	list, err := volumeattach.ExtractVolumeAttachments(pages)
	if err != nil {
		return false, err
	}
	for _, a := range list {
		if a.VolumeID == diskID {
			return true, nil
		}
	}
	return false, nil
}

// DetachDisk detaches the volume from the instance through Nova; it becomes available
// once Cinder is done. Idempotent: a volume that does not exist, is not attached to the
// instance, or is already detaching returns nil.
func (d *Driver) DetachDisk(ctx context.Context, diskID, instanceID string) error {
	op := "detach disk " + diskID + " from " + instanceID
	if err := d.need(d.volume, "block-storage"); err != nil {
		return err
	}
	v, err := volumes.Get(ctx, d.volume, diskID).Extract()
	if isStatus(err, 404) {
		return nil
	}
	if err != nil {
		return d.wrap(op, err)
	}
	attached := false
	for _, a := range v.Attachments {
		attached = attached || a.ServerID == instanceID
	}
	if !attached || v.Status == "detaching" {
		return nil
	}
	err = volumeattach.Delete(ctx, d.compute, instanceID, diskID).ExtractErr()
	if err != nil && !isStatus(err, 404) {
		return d.wrap(op, err)
	}
	d.log.Info("disk detached", "disk_id", diskID, "instance_id", instanceID)
	return nil
}

// DeleteDisk deletes a detached volume. It does not wait (the volume is deleting).
// Idempotent. Errors: ErrInvalid while attached, attaching or detaching.
func (d *Driver) DeleteDisk(ctx context.Context, id string) error {
	op := "delete disk " + id
	if err := d.need(d.volume, "block-storage"); err != nil {
		return err
	}
	v, err := volumes.Get(ctx, d.volume, id).Extract()
	if isStatus(err, 404) {
		return nil
	}
	if err != nil {
		return d.wrap(op, err)
	}
	switch {
	case v.Status == "deleting":
		return nil
	case len(v.Attachments) > 0 || v.Status == "in-use" || v.Status == "attaching" || v.Status == "detaching" || v.Status == "reserved":
		return &Error{Op: op, Kind: clouds.ErrInvalid, Message: fmt.Sprintf("volume is %s: detach it first", v.Status)}
	}
	err = volumes.Delete(ctx, d.volume, id, volumes.DeleteOpts{}).ExtractErr()
	if err != nil && !isStatus(err, 404) {
		return d.wrap(op, err)
	}
	d.log.Info("disk deleted", "disk_id", id)
	return nil
}
