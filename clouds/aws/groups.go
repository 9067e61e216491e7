package aws

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/algos-dev/algos/clouds"
)

// statusDeleting is an Auto Scaling group's Status while it is being deleted.
const statusDeleting = "Delete in progress"

var templateNameChars = regexp.MustCompile(`^[a-zA-Z0-9().\-/_]+$`)

// templateName is the name of a group's launch template: "algos-group-" and the group
// name, or a hash of it where the name does not fit EC2's rules for template names (3 to
// 128 characters of letters, digits and ( ) . - / _).
func templateName(group string) string {
	const prefix = "algos-group-"
	if len(prefix)+len(group) <= 128 && templateNameChars.MatchString(group) {
		return prefix + group
	}
	sum := sha256.Sum256([]byte(group))
	return prefix + hex.EncodeToString(sum[:20])
}

// CreateGroup creates a launch template named "algos-group-<name>" (image, instance type,
// user data, tags, security groups, disks) and an Auto Scaling group using it through a mixed
// instances policy with one instance type: 100% on-demand, or 100% spot with the
// price-capacity-optimized strategy and capacity rebalancing. Members go to the subnets of
// GroupSpec.Zones (all of Config.Subnets when nil); Auto Scaling launches them
// asynchronously and routes around zones out of capacity. Template tags and Name propagate
// to members. A failed create removes the launch template it made. Errors:
// ErrAlreadyExists, ErrInvalid, *QuotaError. Auto Scaling answers both "launch template
// not visible yet" and a spec it rejects with ValidationError, so the latter is reported
// only after Config.ConsistencyTimeout of retries.
func (d *Driver) CreateGroup(ctx context.Context, spec clouds.GroupSpec) (clouds.Group, error) {
	const op = "create group"
	if err := canceled(ctx, op); err != nil {
		return clouds.Group{}, err
	}
	if err := spec.Validate(); err != nil {
		return clouds.Group{}, &Error{Op: op, Err: err}
	}
	t := spec.Template
	if t.Image == "" {
		t.Image = d.cfg.Image
	}
	switch {
	case t.Image == "":
		return clouds.Group{}, invalid(op, "group %q: no image: set Template.Image or Config.Image to an AMI ID", spec.Name)
	case t.InstanceType == "":
		return clouds.Group{}, invalid(op, "group %q: Template.InstanceType is empty", spec.Name)
	case len(t.Disks) > len(diskDevices):
		return clouds.Group{}, invalid(op, "group %q: %d extra disks: at most %d", spec.Name, len(t.Disks), len(diskDevices))
	}
	zones := spec.Zones
	if len(zones) == 0 {
		zones = d.zones
	}
	var subnets []string
	for _, z := range zones {
		_, subnet, err := d.placement(z)
		if err != nil {
			return clouds.Group{}, err
		}
		if subnet != "" {
			subnets = append(subnets, subnet)
		}
	}
	if len(zones) == 0 {
		return clouds.Group{}, invalid(op, "group %q: no zones: set GroupSpec.Zones or Config.Subnets", spec.Name)
	}
	if _, err := d.describeGroup(ctx, spec.Name); err == nil {
		return clouds.Group{}, &Error{Op: op, Kind: clouds.ErrAlreadyExists, Err: fmt.Errorf("group %s exists", spec.Name)}
	} else if !isNotFound(err) {
		return clouds.Group{}, d.wrap(ctx, op, err, target{})
	}
	if err := d.createTemplate(ctx, spec.Name, t); err != nil {
		return clouds.Group{}, err
	}
	tags := nameTags(t.Name, t.Tags)
	var asgTags []asgtypes.Tag
	for _, k := range sortedKeys(tags) {
		asgTags = append(asgTags, asgtypes.Tag{Key: aws.String(k), Value: aws.String(tags[k]), PropagateAtLaunch: aws.Bool(true),
			ResourceId: aws.String(spec.Name), ResourceType: aws.String("auto-scaling-group")})
	}
	onDemand := int32(100)
	if t.Spot {
		onDemand = 0
	}
	in := &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(spec.Name),
		MinSize:              aws.Int32(int32(spec.Min)),
		MaxSize:              aws.Int32(int32(spec.Max)),
		DesiredCapacity:      aws.Int32(int32(spec.Desired)),
		MixedInstancesPolicy: &asgtypes.MixedInstancesPolicy{
			LaunchTemplate: &asgtypes.LaunchTemplate{
				LaunchTemplateSpecification: &asgtypes.LaunchTemplateSpecification{
					LaunchTemplateName: aws.String(templateName(spec.Name)), Version: aws.String("$Default")},
				Overrides: []asgtypes.LaunchTemplateOverrides{{InstanceType: aws.String(t.InstanceType)}},
			},
			InstancesDistribution: &asgtypes.InstancesDistribution{
				OnDemandBaseCapacity:                aws.Int32(0),
				OnDemandPercentageAboveBaseCapacity: aws.Int32(onDemand),
				SpotAllocationStrategy:              aws.String("price-capacity-optimized"),
			},
		},
		CapacityRebalance: aws.Bool(t.Spot),
		Tags:              asgTags,
	}
	if len(subnets) > 0 {
		in.VPCZoneIdentifier = aws.String(strings.Join(subnets, ","))
	} else {
		in.AvailabilityZones = zones
	}
	// A launch template just created may not be visible to Auto Scaling yet: it answers
	// ValidationError, retried within ConsistencyTimeout (the spec was validated above, so
	// a ValidationError is most likely that).
	err := d.consistently(ctx, func(err error) bool { return errCode(err) == "ValidationError" }, func() error {
		_, err := d.asg.CreateAutoScalingGroup(ctx, in)
		return err
	})
	if err != nil {
		if errCode(err) != "AlreadyExists" {
			d.deleteTemplate(context.WithoutCancel(ctx), templateName(spec.Name))
		}
		return clouds.Group{}, d.wrap(ctx, op+" "+spec.Name, err, target{create: true})
	}
	d.log.Info("group created", "group", spec.Name, "instance_type", t.InstanceType, "spot", t.Spot, "desired", spec.Desired)
	return clouds.Group{
		Name: spec.Name, Min: spec.Min, Max: spec.Max, Desired: spec.Desired, Zones: slices.Clone(zones),
		InstanceType: t.InstanceType, Spot: t.Spot, Tags: maps.Clone(t.Tags), CreatedAt: time.Now(),
	}, nil
}

// createTemplate creates the group's launch template. A template of that name without a
// group is what a failed or interrupted CreateGroup left: it is replaced.
func (d *Driver) createTemplate(ctx context.Context, name string, t clouds.InstanceSpec) error {
	const op = "create launch template"
	tags := nameTags(t.Name, t.Tags)
	data := &ec2types.RequestLaunchTemplateData{
		ImageId:          aws.String(t.Image),
		InstanceType:     ec2types.InstanceType(t.InstanceType),
		SecurityGroupIds: d.cfg.SecurityGroups,
		TagSpecifications: []ec2types.LaunchTemplateTagSpecificationRequest{
			{ResourceType: ec2types.ResourceTypeInstance, Tags: ec2Tags(tags)},
			{ResourceType: ec2types.ResourceTypeVolume, Tags: ec2Tags(tags)},
		},
	}
	if t.UserData != "" {
		data.UserData = aws.String(base64.StdEncoding.EncodeToString([]byte(t.UserData)))
	}
	for i, disk := range t.Disks {
		if disk.SizeGiB <= 0 {
			return invalid(op, "disk %d: SizeGiB %d: want > 0", i, disk.SizeGiB)
		}
		data.BlockDeviceMappings = append(data.BlockDeviceMappings, ec2types.LaunchTemplateBlockDeviceMappingRequest{
			DeviceName: aws.String(diskDevices[i]),
			Ebs: &ec2types.LaunchTemplateEbsBlockDeviceRequest{
				VolumeSize: aws.Int32(int32(disk.SizeGiB)), VolumeType: ec2types.VolumeType(volumeType(disk.Type)),
				DeleteOnTermination: aws.Bool(true),
			},
		})
	}
	in := &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String(templateName(name)),
		LaunchTemplateData: data,
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeLaunchTemplate,
			Tags: ec2Tags(map[string]string{"algos:group": name})}},
	}
	_, err := d.ec2.CreateLaunchTemplate(ctx, in)
	if errCode(err) == "InvalidLaunchTemplateName.AlreadyExistsException" {
		d.log.Warn("replacing a launch template left without its group", "group", name)
		d.deleteTemplate(ctx, templateName(name))
		_, err = d.ec2.CreateLaunchTemplate(ctx, in)
	}
	return d.wrap(ctx, op+" "+name, err, target{instanceType: t.InstanceType, create: true})
}

func (d *Driver) deleteTemplate(ctx context.Context, name string) {
	_, err := d.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateName: aws.String(name)})
	if err != nil && codes[errCode(err)] != kindNotFound {
		d.log.Warn("delete launch template", "group", name, "error", err)
	}
}

// describeGroup returns the group, or an *Error wrapping ErrNotFound.
func (d *Driver) describeGroup(ctx context.Context, name string) (asgtypes.AutoScalingGroup, error) {
	out, err := d.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{
		AutoScalingGroupNames: []string{name}})
	if err != nil {
		return asgtypes.AutoScalingGroup{}, err
	}
	for _, g := range out.AutoScalingGroups {
		if aws.ToString(g.AutoScalingGroupName) == name {
			return g, nil
		}
	}
	return asgtypes.AutoScalingGroup{}, notFound("describe group", "group %s does not exist", name)
}

// getGroup is describeGroup with errors wrapped for op.
func (d *Driver) getGroup(ctx context.Context, op, name string) (asgtypes.AutoScalingGroup, error) {
	if err := canceled(ctx, op); err != nil {
		return asgtypes.AutoScalingGroup{}, err
	}
	g, err := d.describeGroup(ctx, name)
	if err != nil && !isNotFound(err) {
		err = d.wrap(ctx, op+" "+name, err, target{})
	}
	return g, err
}

// GetGroup describes the group. A group being deleted is still returned until its members
// are gone. Errors: ErrNotFound.
func (d *Driver) GetGroup(ctx context.Context, name string) (clouds.Group, error) {
	g, err := d.getGroup(ctx, "get group", name)
	if err != nil {
		return clouds.Group{}, err
	}
	return toGroup(g), nil
}

func toGroup(g asgtypes.AutoScalingGroup) clouds.Group {
	out := clouds.Group{
		Name:      aws.ToString(g.AutoScalingGroupName),
		Min:       int(aws.ToInt32(g.MinSize)),
		Max:       int(aws.ToInt32(g.MaxSize)),
		Desired:   int(aws.ToInt32(g.DesiredCapacity)),
		Zones:     slices.Sorted(slices.Values(g.AvailabilityZones)),
		Tags:      map[string]string{},
		CreatedAt: aws.ToTime(g.CreatedTime),
	}
	if p := g.MixedInstancesPolicy; p != nil {
		if p.LaunchTemplate != nil && len(p.LaunchTemplate.Overrides) > 0 {
			out.InstanceType = aws.ToString(p.LaunchTemplate.Overrides[0].InstanceType)
		}
		if dist := p.InstancesDistribution; dist != nil {
			out.Spot = aws.ToInt32(dist.OnDemandBaseCapacity) == 0 && aws.ToInt32(dist.OnDemandPercentageAboveBaseCapacity) == 0
		}
	}
	for _, t := range g.Tags {
		if k := aws.ToString(t.Key); aws.ToBool(t.PropagateAtLaunch) && k != tagName {
			out.Tags[k] = aws.ToString(t.Value)
		}
	}
	return out
}

// ResizeGroup sets the desired capacity (SetDesiredCapacity, ignoring cooldowns); Auto
// Scaling launches or terminates members asynchronously. Errors: ErrNotFound, ErrInvalid
// (outside Min..Max, or the group is being deleted).
func (d *Driver) ResizeGroup(ctx context.Context, name string, desired int) error {
	const op = "resize group"
	g, err := d.getGroup(ctx, op, name)
	if err != nil {
		return err
	}
	lo, hi := int(aws.ToInt32(g.MinSize)), int(aws.ToInt32(g.MaxSize))
	switch {
	case desired < lo || desired > hi:
		return invalid(op, "group %s: desired %d outside min %d..max %d", name, desired, lo, hi)
	case aws.ToString(g.Status) == statusDeleting:
		return invalid(op, "group %s is being deleted", name)
	case desired == int(aws.ToInt32(g.DesiredCapacity)):
		return nil
	}
	_, err = d.asg.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
		AutoScalingGroupName: aws.String(name), DesiredCapacity: aws.Int32(int32(desired)), HonorCooldown: aws.Bool(false)})
	if err != nil {
		return d.groupErr(ctx, op, name, err)
	}
	d.log.Info("group resized", "group", name, "desired", desired)
	return nil
}

// groupErr classifies an error of a call on an existing group: a ValidationError from a
// group that no longer exists is ErrNotFound (Auto Scaling answers both the same way).
func (d *Driver) groupErr(ctx context.Context, op, name string, err error) error {
	if errCode(err) == "ValidationError" && ctx.Err() == nil {
		if _, derr := d.describeGroup(ctx, name); isNotFound(derr) {
			return &Error{Op: op + " " + name, Code: "ValidationError", Kind: clouds.ErrNotFound, Err: err}
		}
	}
	return d.wrap(ctx, op+" "+name, err, target{})
}

// ListMembers lists the group's members with EC2's view of each (state, addresses, tags),
// or Auto Scaling's when EC2 does not list the instance yet. Members Auto Scaling is
// terminating are stopping at least.
func (d *Driver) ListMembers(ctx context.Context, name string) ([]clouds.Instance, error) {
	const op = "list members"
	g, err := d.getGroup(ctx, op, name)
	if err != nil {
		return nil, err
	}
	byID := map[string]clouds.Instance{}
	var ids []string
	for _, m := range g.Instances {
		ids = append(ids, aws.ToString(m.InstanceId))
	}
	for chunk := range slices.Chunk(ids, 100) {
		got, err := d.describeInstances(ctx, &ec2.DescribeInstancesInput{
			Filters: []ec2types.Filter{{Name: aws.String("instance-id"), Values: chunk}}})
		if err != nil {
			return nil, d.wrap(ctx, op+" "+name, err, target{})
		}
		for _, in := range got {
			byID[in.ID] = in
		}
	}
	tags := toGroup(g).Tags
	var out []clouds.Instance
	for _, m := range g.Instances {
		id := aws.ToString(m.InstanceId)
		in, ok := byID[id]
		if !ok {
			in = clouds.Instance{ID: id, InstanceType: aws.ToString(m.InstanceType), Zone: aws.ToString(m.AvailabilityZone),
				Tags: maps.Clone(tags), State: lifecycleState(m.LifecycleState)}
		}
		if s := lifecycleState(m.LifecycleState); in.State.Active() && !s.Active() {
			in.State = s
		}
		out = append(out, in)
	}
	return out, nil
}

func lifecycleState(s asgtypes.LifecycleState) clouds.InstanceState {
	switch {
	case strings.HasPrefix(string(s), "Pending"):
		return clouds.StatePending
	case s == asgtypes.LifecycleStateTerminated, s == asgtypes.LifecycleStateDetached:
		return clouds.StateTerminated
	case strings.HasPrefix(string(s), "Terminating"), s == asgtypes.LifecycleStateDetaching:
		return clouds.StateStopping
	}
	return clouds.StateRunning
}

// RemoveMember terminates one member with TerminateInstanceInAutoScalingGroup, after
// checking that it is a member of this group (the API only takes the instance ID).
// Errors: ErrNotFound for the group, ErrInvalid when decrement would go below Min.
func (d *Driver) RemoveMember(ctx context.Context, name, instanceID string, decrement bool) error {
	const op = "remove member"
	g, err := d.getGroup(ctx, op, name)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(g.Instances, func(m asgtypes.Instance) bool { return aws.ToString(m.InstanceId) == instanceID })
	if i < 0 || !lifecycleState(g.Instances[i].LifecycleState).Active() {
		return nil
	}
	if lo := int(aws.ToInt32(g.MinSize)); decrement && int(aws.ToInt32(g.DesiredCapacity))-1 < lo {
		return invalid(op, "group %s: removing %s with decrement would go below min %d: lower Min or remove without decrement", name, instanceID, lo)
	}
	_, err = d.asg.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String(instanceID), ShouldDecrementDesiredCapacity: aws.Bool(decrement)})
	if err != nil {
		if errCode(err) == "ValidationError" && ctx.Err() == nil {
			// Gone from the group in the meantime: nothing to do; or the group is gone.
			if g, derr := d.describeGroup(ctx, name); derr == nil &&
				!slices.ContainsFunc(g.Instances, func(m asgtypes.Instance) bool {
					return aws.ToString(m.InstanceId) == instanceID && lifecycleState(m.LifecycleState).Active()
				}) {
				return nil
			}
		}
		return d.groupErr(ctx, op, name, err)
	}
	d.log.Info("group member removed", "group", name, "instance_id", instanceID, "decrement", decrement)
	return nil
}

// DeleteGroup force-deletes the group (Auto Scaling terminates its members) and deletes its
// launch template. It returns once the deletion is accepted; the group is listed, with
// members stopping, until they are terminated. Idempotent, and also cleans up a launch
// template left by a failed CreateGroup.
func (d *Driver) DeleteGroup(ctx context.Context, name string) error {
	const op = "delete group"
	g, err := d.getGroup(ctx, op, name)
	switch {
	case isNotFound(err):
	case err != nil:
		return err
	case aws.ToString(g.Status) != statusDeleting:
		_, err := d.asg.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(name), ForceDelete: aws.Bool(true)})
		if err != nil {
			if err := d.groupErr(ctx, op, name, err); !isNotFound(err) {
				return err
			}
		}
		d.log.Info("group deleted", "group", name)
	}
	_, err = d.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateName: aws.String(templateName(name))})
	if err != nil && codes[errCode(err)] != kindNotFound {
		return d.wrap(ctx, op+" "+name+": launch template", err, target{})
	}
	return nil
}
