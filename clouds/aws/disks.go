package aws

import (
	"context"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/algos-dev/algos/clouds"
)

// CreateDisk creates an EBS volume (type gp3 unless DiskSpec.Type says otherwise) in
// DiskSpec.Zone, idempotent across the SDK's retries through a client token; Name becomes
// the "Name" tag. It returns the volume creating. Errors: *CapacityError
// (InsufficientVolumeCapacity: InstanceType holds the volume type), *QuotaError, ErrInvalid.
func (d *Driver) CreateDisk(ctx context.Context, spec clouds.DiskSpec) (clouds.Disk, error) {
	const op = "create disk"
	if err := canceled(ctx, op); err != nil {
		return clouds.Disk{}, err
	}
	switch {
	case spec.Zone == "":
		return clouds.Disk{}, invalid(op, "DiskSpec.Zone is empty: EBS volumes live in one zone, that of the instances they attach to")
	case spec.SizeGiB <= 0:
		return clouds.Disk{}, invalid(op, "DiskSpec.SizeGiB %d: want > 0", spec.SizeGiB)
	}
	vt := volumeType(spec.Type)
	out, err := d.ec2.CreateVolume(ctx, &ec2.CreateVolumeInput{
		AvailabilityZone: aws.String(spec.Zone),
		Size:             aws.Int32(int32(spec.SizeGiB)),
		VolumeType:       ec2types.VolumeType(vt),
		ClientToken:      aws.String(clientToken()),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeVolume,
			Tags: ec2Tags(nameTags(spec.Name, spec.Tags))}},
	})
	if err != nil {
		return clouds.Disk{}, d.wrap(ctx, op, err, target{zone: spec.Zone, instanceType: vt, create: true})
	}
	disk := toDisk(ec2types.Volume{VolumeId: out.VolumeId, Size: out.Size, AvailabilityZone: out.AvailabilityZone,
		State: out.State, VolumeType: out.VolumeType, Tags: out.Tags, Attachments: out.Attachments})
	d.remember(disk.ID)
	d.log.Info("disk created", "disk_id", disk.ID, "zone", disk.Zone, "size_gib", disk.SizeGiB)
	return disk, nil
}

// describeVolume returns the volume, waiting out eventual consistency for volumes this
// driver just created. A deleted volume is not found.
func (d *Driver) describeVolume(ctx context.Context, op, id string) (ec2types.Volume, error) {
	if err := canceled(ctx, op); err != nil {
		return ec2types.Volume{}, err
	}
	var out *ec2.DescribeVolumesOutput
	err := d.consistently(ctx, d.notYet(id), func() error {
		var err error
		out, err = d.ec2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{id}})
		return err
	})
	if err != nil {
		return ec2types.Volume{}, d.wrap(ctx, op+" "+id, err, target{})
	}
	if len(out.Volumes) == 0 || out.Volumes[0].State == ec2types.VolumeStateDeleted {
		return ec2types.Volume{}, notFound(op, "disk %s does not exist", id)
	}
	return out.Volumes[0], nil
}

// GetDisk describes the volume (states as in the package doc). Errors: ErrNotFound.
func (d *Driver) GetDisk(ctx context.Context, id string) (clouds.Disk, error) {
	v, err := d.describeVolume(ctx, "get disk", id)
	if err != nil {
		return clouds.Disk{}, err
	}
	return toDisk(v), nil
}

func toDisk(v ec2types.Volume) clouds.Disk {
	tags := fromEC2Tags(v.Tags)
	name := tags[tagName]
	delete(tags, tagName)
	disk := clouds.Disk{
		ID: aws.ToString(v.VolumeId), Name: name, SizeGiB: int(aws.ToInt32(v.Size)), Type: string(v.VolumeType),
		Zone: aws.ToString(v.AvailabilityZone), Tags: tags,
	}
	switch v.State {
	case ec2types.VolumeStateAvailable:
		disk.State = clouds.DiskAvailable
	case ec2types.VolumeStateInUse:
		disk.State = clouds.DiskInUse
	case ec2types.VolumeStateDeleting, ec2types.VolumeStateDeleted, ec2types.VolumeStateError:
		disk.State = clouds.DiskDeleting
	default:
		disk.State = clouds.DiskCreating
	}
	if a := attached(v); a != nil {
		disk.InstanceID = aws.ToString(a.InstanceId)
	}
	return disk
}

// attached returns the volume's attachment that is attaching or attached, or nil.
func attached(v ec2types.Volume) *ec2types.VolumeAttachment {
	for i, a := range v.Attachments {
		if a.State == ec2types.VolumeAttachmentStateAttaching || a.State == ec2types.VolumeAttachmentStateAttached {
			return &v.Attachments[i]
		}
	}
	return nil
}

// AttachDisk attaches the volume to the instance at the first free device of /dev/sdf …
// /dev/sdp. A volume still creating is waited for (the SDK's VolumeAvailable waiter). It
// returns once EC2 has accepted the attachment (attaching); poll GetDisk for in-use.
// Idempotent when attaching or attached to that instance. Errors: ErrNotFound (disk or
// instance), ErrInvalid (attached elsewhere, another zone, no free device).
func (d *Driver) AttachDisk(ctx context.Context, diskID, instanceID string) error {
	const op = "attach disk"
	v, err := d.describeVolume(ctx, op, diskID)
	if err != nil {
		return err
	}
	if a := attached(v); a != nil {
		if aws.ToString(a.InstanceId) == instanceID {
			return nil
		}
		return invalid(op, "disk %s is attached to %s: detach it first", diskID, aws.ToString(a.InstanceId))
	}
	if v.State == ec2types.VolumeStateCreating {
		minDelay, maxDelay, maxWait := d.waitBounds()
		err := ec2.NewVolumeAvailableWaiter(d.ec2, func(o *ec2.VolumeAvailableWaiterOptions) {
			o.MinDelay, o.MaxDelay = minDelay, maxDelay
		}).Wait(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{diskID}}, maxWait)
		if err != nil {
			return d.wrap(ctx, op+" "+diskID+": wait until available", err, target{})
		}
	}

	lock := d.instanceLock(instanceID)
	lock.Lock()
	defer lock.Unlock()
	var ins *ec2.DescribeInstancesOutput
	err = d.consistently(ctx, d.notYet(instanceID), func() error {
		ins, err = d.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{instanceID}})
		return err
	})
	if err != nil {
		return d.wrap(ctx, op+" "+diskID+" to "+instanceID, err, target{})
	}
	if len(ins.Reservations) == 0 || len(ins.Reservations[0].Instances) == 0 {
		return notFound(op, "instance %s does not exist", instanceID)
	}
	in := ins.Reservations[0].Instances[0]
	if z := aws.ToString(in.Placement.AvailabilityZone); z != aws.ToString(v.AvailabilityZone) {
		return invalid(op, "disk %s is in zone %s, instance %s in %s", diskID, aws.ToString(v.AvailabilityZone), instanceID, z)
	}
	used := map[string]bool{}
	for _, m := range in.BlockDeviceMappings {
		used[aws.ToString(m.DeviceName)] = true
	}
	free := slices.IndexFunc(diskDevices, func(dev string) bool { return !used[dev] })
	if free < 0 {
		return invalid(op, "instance %s has no free device in /dev/sdf…/dev/sdp", instanceID)
	}
	_, err = d.ec2.AttachVolume(ctx, &ec2.AttachVolumeInput{
		VolumeId: aws.String(diskID), InstanceId: aws.String(instanceID), Device: aws.String(diskDevices[free])})
	if err != nil {
		return d.wrap(ctx, op+" "+diskID+" to "+instanceID, err, target{})
	}
	d.log.Info("disk attached", "disk_id", diskID, "instance_id", instanceID, "device", diskDevices[free])
	return nil
}

// instanceLock serializes this driver's device choices per instance.
func (d *Driver) instanceLock(id string) *sync.Mutex {
	d.mu.Lock()
	defer d.mu.Unlock()
	l, ok := d.attaching[id]
	if !ok {
		l = new(sync.Mutex)
		d.attaching[id] = l
	}
	return l
}

// DetachDisk detaches the volume from the instance. It returns once EC2 has accepted the
// detachment (detaching); poll GetDisk for available. Idempotent: a volume that does not
// exist, is detached, is detaching, or is attached to another instance returns nil and is
// left as it is.
func (d *Driver) DetachDisk(ctx context.Context, diskID, instanceID string) error {
	const op = "detach disk"
	v, err := d.describeVolume(ctx, op, diskID)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if a := attached(v); a == nil || aws.ToString(a.InstanceId) != instanceID {
		return nil
	}
	_, err = d.ec2.DetachVolume(ctx, &ec2.DetachVolumeInput{VolumeId: aws.String(diskID), InstanceId: aws.String(instanceID)})
	if err != nil {
		switch errCode(err) {
		case "IncorrectState", "InvalidAttachment.NotFound", "InvalidVolume.NotFound":
			return nil // detached in the meantime
		}
		return d.wrap(ctx, op+" "+diskID, err, target{})
	}
	d.log.Info("disk detaching", "disk_id", diskID, "instance_id", instanceID)
	return nil
}

// DeleteDisk deletes the volume. Idempotent. Errors: ErrInvalid while attached or
// detaching (EBS VolumeInUse): detach first and wait for available.
func (d *Driver) DeleteDisk(ctx context.Context, id string) error {
	const op = "delete disk"
	if err := canceled(ctx, op); err != nil {
		return err
	}
	err := d.consistently(ctx, d.notYet(id), func() error {
		_, err := d.ec2.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(id)})
		return err
	})
	if err != nil {
		if codes[errCode(err)] == kindNotFound {
			return nil
		}
		return d.wrap(ctx, op+" "+id, err, target{})
	}
	d.forget(id)
	d.log.Info("disk deleted", "disk_id", id)
	return nil
}
