package azure

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"

	"github.com/algos-dev/algos/clouds"
)

// CreateDisk creates an empty managed disk named uniqueName(spec.Name) (its ID; Name is
// kept in a tag) of spec.Type (a disk SKU: "Premium_LRS", "StandardSSD_LRS" (default),
// "PremiumV2_LRS" …) in spec.Zone, and polls the creation to its end.
func (d *Driver) CreateDisk(ctx context.Context, spec clouds.DiskSpec) (clouds.Disk, error) {
	if spec.SizeGiB <= 0 {
		return clouds.Disk{}, fmt.Errorf("azure: create disk: SizeGiB %d: want a positive size: %w", spec.SizeGiB, clouds.ErrInvalid)
	}
	name := uniqueName(spec.Name)
	disk := armcompute.Disk{
		Location: &d.cfg.Location,
		Tags:     azureTags(spec.Tags),
		SKU:      &armcompute.DiskSKU{Name: diskSKU(spec.Type)},
		Properties: &armcompute.DiskProperties{
			CreationData: &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionEmpty)},
			DiskSizeGB:   to.Ptr(int32(spec.SizeGiB)),
		},
	}
	if spec.Name != "" {
		disk.Tags = azureTags(spec.Tags, tagName, spec.Name)
	}
	if spec.Zone != "" {
		disk.Zones = []*string{to.Ptr(spec.Zone)}
	}
	what := fmt.Sprintf("create disk %q", name)
	p, err := d.disks.BeginCreateOrUpdate(ctx, d.cfg.ResourceGroup, name, disk, nil)
	var res armcompute.DisksClientCreateOrUpdateResponse
	if err == nil {
		res, err = wait(ctx, d, p)
	}
	if err != nil {
		d.cleanupDisk(ctx, name)
		return clouds.Disk{}, d.mapError(err, what, &launch{zone: spec.Zone, size: spec.Type})
	}
	d.log.Info("disk created", "disk_id", name, "size_gib", spec.SizeGiB, "zone", spec.Zone)
	return d.diskOf(&res.Disk), nil
}

func (d *Driver) cleanupDisk(ctx context.Context, name string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.ConsistencyTimeout)
	defer cancel()
	p, err := d.disks.BeginDelete(ctx, d.cfg.ResourceGroup, name, nil)
	if err == nil {
		_, err = wait(ctx, d, p)
	}
	if err != nil && !isNotFound(err) {
		d.log.Warn("clean up failed disk", "disk_id", name, "error", err)
	}
}

// GetDisk returns the managed disk; InstanceID is the VM it is attached to.
func (d *Driver) GetDisk(ctx context.Context, id string) (clouds.Disk, error) {
	disk, err := d.getDisk(ctx, id)
	if err != nil {
		return clouds.Disk{}, err
	}
	return d.diskOf(disk), nil
}

func (d *Driver) getDisk(ctx context.Context, id string) (*armcompute.Disk, error) {
	if id == "" {
		return nil, fmt.Errorf("azure: get disk: empty ID: %w", clouds.ErrNotFound)
	}
	res, err := d.disks.Get(ctx, d.cfg.ResourceGroup, id, nil)
	if err != nil {
		return nil, d.mapError(err, fmt.Sprintf("get disk %q", id), nil)
	}
	return &res.Disk, nil
}

func (d *Driver) diskOf(disk *armcompute.Disk) clouds.Disk {
	out := clouds.Disk{ID: deref(disk.Name), Tags: userTags(disk.Tags), Zone: firstZone(disk.Zones), State: clouds.DiskCreating}
	n, _ := tag(disk.Tags, tagName)
	out.Name = displayName(n, out.ID)
	if disk.SKU != nil {
		out.Type = string(deref(disk.SKU.Name))
	}
	if disk.ManagedBy != nil {
		out.InstanceID = lastSegment(*disk.ManagedBy)
	}
	if p := disk.Properties; p != nil {
		out.SizeGiB = int(deref(p.DiskSizeGB))
		switch prov, state := strings.ToLower(deref(p.ProvisioningState)), deref(p.DiskState); {
		case prov == "deleting":
			out.State = clouds.DiskDeleting
		case prov == "creating" || prov == "":
			out.State = clouds.DiskCreating
		case state == armcompute.DiskStateAttached || state == armcompute.DiskStateReserved || out.InstanceID != "":
			out.State = clouds.DiskInUse
		default:
			out.State = clouds.DiskAvailable
		}
	}
	return out
}

// AttachDisk adds the disk to the VM's data disks (first free LUN) with an update guarded
// by the VM's ETag, and polls it to its end. A zone mismatch, or a disk attached to another
// VM, is ErrInvalid.
func (d *Driver) AttachDisk(ctx context.Context, diskID, instanceID string) error {
	disk, err := d.getDisk(ctx, diskID)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("attach disk %q to %q", diskID, instanceID)
	if owner := lastSegment(deref(disk.ManagedBy)); owner != "" {
		if strings.EqualFold(owner, instanceID) {
			return nil
		}
		return fmt.Errorf("azure: %s: it is attached to %q: detach it first: %w", what, owner, clouds.ErrInvalid)
	}
	if instanceID == "" {
		return fmt.Errorf("azure: %s: empty instance ID: %w", what, clouds.ErrNotFound)
	}
	err = d.updateDataDisks(ctx, instanceID, func(vm *armcompute.VirtualMachine, disks []*armcompute.DataDisk) ([]*armcompute.DataDisk, error) {
		if vz, dz := firstZone(vm.Zones), firstZone(disk.Zones); vz != dz {
			return nil, fmt.Errorf("disk in zone %q, VM in zone %q: %w", dz, vz, clouds.ErrInvalid)
		}
		if slices.ContainsFunc(disks, sameDisk(deref(disk.ID))) {
			return nil, nil
		}
		lun := int32(0)
		for slices.ContainsFunc(disks, func(dd *armcompute.DataDisk) bool { return deref(dd.Lun) == lun }) {
			lun++
		}
		return append(disks, &armcompute.DataDisk{
			Lun:          &lun,
			CreateOption: to.Ptr(armcompute.DiskCreateOptionTypesAttach),
			ManagedDisk:  &armcompute.ManagedDiskParameters{ID: disk.ID},
			DeleteOption: to.Ptr(armcompute.DiskDeleteOptionTypesDetach),
		}), nil
	})
	if err != nil {
		return d.mapError(err, what, nil)
	}
	d.log.Info("disk attached", "disk_id", diskID, "instance_id", instanceID)
	return nil
}

// DetachDisk removes the disk from the VM's data disks and polls the update to its end.
func (d *Driver) DetachDisk(ctx context.Context, diskID, instanceID string) error {
	disk, err := d.getDisk(ctx, diskID)
	if errors.Is(err, clouds.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if owner := lastSegment(deref(disk.ManagedBy)); owner == "" || !strings.EqualFold(owner, instanceID) {
		return nil
	}
	err = d.updateDataDisks(ctx, instanceID, func(_ *armcompute.VirtualMachine, disks []*armcompute.DataDisk) ([]*armcompute.DataDisk, error) {
		i := slices.IndexFunc(disks, sameDisk(deref(disk.ID)))
		if i < 0 {
			return nil, nil
		}
		return slices.Delete(disks, i, i+1), nil
	})
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return d.mapError(err, fmt.Sprintf("detach disk %q from %q", diskID, instanceID), nil)
	}
	d.log.Info("disk detached", "disk_id", diskID, "instance_id", instanceID)
	return nil
}

func sameDisk(id string) func(*armcompute.DataDisk) bool {
	return func(dd *armcompute.DataDisk) bool {
		return dd != nil && dd.ManagedDisk != nil && strings.EqualFold(deref(dd.ManagedDisk.ID), id)
	}
}

// updateDataDisks reads the VM, lets change compute its new data disks (nil: nothing to
// do) and PATCHes them with If-Match: the VM's ETag, retrying the whole read-modify-write
// when another update won the race (412) or Azure asks for a retry. Errors are unmapped,
// except change's own.
func (d *Driver) updateDataDisks(ctx context.Context, vmName string, change func(*armcompute.VirtualMachine, []*armcompute.DataDisk) ([]*armcompute.DataDisk, error)) error {
	again := func(err error) bool { return transient(err) || isPreconditionFailed(err) }
	return d.consistently(ctx, "update VM data disks", again, func() error {
		res, err := d.vms.Get(ctx, d.cfg.ResourceGroup, vmName, nil)
		if err != nil {
			return err
		}
		vm := &res.VirtualMachine
		var disks []*armcompute.DataDisk
		if vm.Properties != nil && vm.Properties.StorageProfile != nil {
			disks = vm.Properties.StorageProfile.DataDisks
		}
		next, err := change(vm, slices.Clone(disks))
		if err != nil || next == nil {
			return err
		}
		update := armcompute.VirtualMachineUpdate{Properties: &armcompute.VirtualMachineProperties{
			StorageProfile: &armcompute.StorageProfile{DataDisks: next},
		}}
		p, err := d.vms.BeginUpdate(ctx, d.cfg.ResourceGroup, vmName, update, &armcompute.VirtualMachinesClientBeginUpdateOptions{IfMatch: vm.Etag})
		if err != nil {
			return err
		}
		_, err = wait(ctx, d, p)
		return err
	})
}

// DeleteDisk deletes a detached disk and polls the deletion to its end. An attached disk
// is ErrInvalid (Azure refuses too).
func (d *Driver) DeleteDisk(ctx context.Context, id string) error {
	disk, err := d.getDisk(ctx, id)
	if errors.Is(err, clouds.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if owner := lastSegment(deref(disk.ManagedBy)); owner != "" {
		return fmt.Errorf("azure: delete disk %q: attached to %q: detach it first: %w", id, owner, clouds.ErrInvalid)
	}
	p, err := d.disks.BeginDelete(ctx, d.cfg.ResourceGroup, id, nil)
	if err == nil {
		_, err = wait(ctx, d, p)
	}
	if err != nil && !isNotFound(err) {
		return d.mapError(err, fmt.Sprintf("delete disk %q", id), nil)
	}
	d.log.Info("disk deleted", "disk_id", id)
	return nil
}
