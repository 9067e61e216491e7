package aws

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/algos-dev/algos/clouds"
)

// tagName is the EC2 tag holding an instance's, volume's or group's display name.
const tagName = "Name"

// diskDevices are the device names for extra disks, in order.
var diskDevices = []string{"/dev/sdf", "/dev/sdg", "/dev/sdh", "/dev/sdi", "/dev/sdj", "/dev/sdk",
	"/dev/sdl", "/dev/sdm", "/dev/sdn", "/dev/sdo", "/dev/sdp"}

// CreateInstance launches one instance with RunInstances (idempotent across the SDK's
// retries through a client token) and returns it pending. InstanceSpec.Image defaults to
// Config.Image; InstanceType is required; Zone picks the zone's subnet from Config.Subnets
// ("" takes the configured zones in turn). Spot launches a one-time spot instance that
// terminates on interruption. Each of InstanceSpec.Disks becomes an EBS volume attached at
// /dev/sdf, /dev/sdg, … and deleted with the instance. Name becomes the "Name" tag.
// Errors: *CapacityError (with the zone and type), *QuotaError, ErrInvalid, ErrAuth.
func (d *Driver) CreateInstance(ctx context.Context, spec clouds.InstanceSpec) (clouds.Instance, error) {
	const op = "create instance"
	if err := canceled(ctx, op); err != nil {
		return clouds.Instance{}, err
	}
	image := spec.Image
	if image == "" {
		image = d.cfg.Image
	}
	switch {
	case image == "":
		return clouds.Instance{}, invalid(op, "no image: set InstanceSpec.Image or Config.Image to an AMI ID")
	case spec.InstanceType == "":
		return clouds.Instance{}, invalid(op, "InstanceSpec.InstanceType is empty: name an EC2 instance type, e.g. g5.xlarge")
	case len(spec.Disks) > len(diskDevices):
		return clouds.Instance{}, invalid(op, "%d extra disks: at most %d", len(spec.Disks), len(diskDevices))
	}
	zone, subnet, err := d.placement(spec.Zone)
	if err != nil {
		return clouds.Instance{}, err
	}
	tags := nameTags(spec.Name, spec.Tags)
	in := &ec2.RunInstancesInput{
		ImageId:      aws.String(image),
		InstanceType: ec2types.InstanceType(spec.InstanceType),
		MinCount:     aws.Int32(1),
		MaxCount:     aws.Int32(1),
		ClientToken:  aws.String(clientToken()),
		TagSpecifications: []ec2types.TagSpecification{
			{ResourceType: ec2types.ResourceTypeInstance, Tags: ec2Tags(tags)},
			{ResourceType: ec2types.ResourceTypeVolume, Tags: ec2Tags(tags)},
		},
		SecurityGroupIds: d.cfg.SecurityGroups,
	}
	if spec.UserData != "" {
		in.UserData = aws.String(base64.StdEncoding.EncodeToString([]byte(spec.UserData)))
	}
	if subnet != "" {
		in.SubnetId = aws.String(subnet)
	} else if zone != "" {
		in.Placement = &ec2types.Placement{AvailabilityZone: aws.String(zone)}
	}
	if spec.Spot {
		in.InstanceMarketOptions = &ec2types.InstanceMarketOptionsRequest{
			MarketType: ec2types.MarketTypeSpot,
			SpotOptions: &ec2types.SpotMarketOptions{
				SpotInstanceType:             ec2types.SpotInstanceTypeOneTime,
				InstanceInterruptionBehavior: ec2types.InstanceInterruptionBehaviorTerminate,
			},
		}
	}
	for i, disk := range spec.Disks {
		if disk.SizeGiB <= 0 {
			return clouds.Instance{}, invalid(op, "disk %d: SizeGiB %d: want > 0", i, disk.SizeGiB)
		}
		in.BlockDeviceMappings = append(in.BlockDeviceMappings, ec2types.BlockDeviceMapping{
			DeviceName: aws.String(diskDevices[i]),
			Ebs: &ec2types.EbsBlockDevice{
				VolumeSize:          aws.Int32(int32(disk.SizeGiB)),
				VolumeType:          ec2types.VolumeType(volumeType(disk.Type)),
				DeleteOnTermination: aws.Bool(true),
			},
		})
	}
	out, err := d.ec2.RunInstances(ctx, in)
	if err != nil {
		return clouds.Instance{}, d.wrap(ctx, op, err, target{zone: zone, instanceType: spec.InstanceType, spot: spec.Spot, create: true})
	}
	if len(out.Instances) != 1 {
		return clouds.Instance{}, &Error{Op: op, Err: fmt.Errorf("RunInstances returned %d instances, want 1", len(out.Instances))}
	}
	got := toInstance(out.Instances[0])
	d.remember(got.ID)
	d.log.Info("instance created", "instance_id", got.ID, "zone", got.Zone, "instance_type", got.InstanceType, "spot", got.Spot)
	return got, nil
}

// GetInstance describes one instance. An instance this driver created moments ago that
// EC2 does not list yet is waited for (up to Config.ConsistencyTimeout). Terminated
// instances stay listed by EC2 for about an hour. Errors: ErrNotFound.
func (d *Driver) GetInstance(ctx context.Context, id string) (clouds.Instance, error) {
	const op = "get instance"
	if err := canceled(ctx, op); err != nil {
		return clouds.Instance{}, err
	}
	var got []clouds.Instance
	err := d.consistently(ctx, d.notYet(id), func() error {
		var err error
		got, err = d.describeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		return err
	})
	if err != nil {
		return clouds.Instance{}, d.wrap(ctx, op+" "+id, err, target{})
	}
	if len(got) == 0 {
		return clouds.Instance{}, notFound(op, "instance %s does not exist", id)
	}
	return got[0], nil
}

// notYet says whether a not-found error for id is worth retrying: id was created by this
// driver so recently that EC2 may not list it yet.
func (d *Driver) notYet(id string) func(error) bool {
	return func(err error) bool {
		return codes[errCode(err)] == kindNotFound && d.fresh(id)
	}
}

// ListInstances lists the instances carrying every tag of filter (EC2 tag filters),
// terminated ones included, page by page.
func (d *Driver) ListInstances(ctx context.Context, filter clouds.Filter) ([]clouds.Instance, error) {
	const op = "list instances"
	if err := canceled(ctx, op); err != nil {
		return nil, err
	}
	in := &ec2.DescribeInstancesInput{}
	for _, k := range sortedKeys(filter.Tags) {
		in.Filters = append(in.Filters, ec2types.Filter{Name: aws.String("tag:" + k), Values: []string{filter.Tags[k]}})
	}
	got, err := d.describeInstances(ctx, in)
	if err != nil {
		return nil, d.wrap(ctx, op, err, target{})
	}
	return got, nil
}

func (d *Driver) describeInstances(ctx context.Context, in *ec2.DescribeInstancesInput) ([]clouds.Instance, error) {
	var out []clouds.Instance
	p := ec2.NewDescribeInstancesPaginator(d.ec2, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				out = append(out, toInstance(i))
			}
		}
	}
	return out, nil
}

// DeleteInstance terminates the instance (its launch-time disks go with it; attached
// standalone disks are detached). It returns once EC2 has accepted the termination, with
// the instance shutting-down (stopping); poll GetInstance for terminated. Idempotent.
func (d *Driver) DeleteInstance(ctx context.Context, id string) error {
	const op = "delete instance"
	if err := canceled(ctx, op); err != nil {
		return err
	}
	err := d.consistently(ctx, d.notYet(id), func() error {
		_, err := d.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
		return err
	})
	if err != nil {
		if codes[errCode(err)] == kindNotFound {
			return nil
		}
		return d.wrap(ctx, op+" "+id, err, target{})
	}
	d.forget(id)
	d.log.Info("instance terminated", "instance_id", id)
	return nil
}

// toInstance normalizes an EC2 instance (see the package doc for states).
func toInstance(i ec2types.Instance) clouds.Instance {
	tags := fromEC2Tags(i.Tags)
	name := tags[tagName]
	delete(tags, tagName)
	in := clouds.Instance{
		ID:             aws.ToString(i.InstanceId),
		Name:           name,
		InstanceType:   string(i.InstanceType),
		Spot:           i.InstanceLifecycle == ec2types.InstanceLifecycleTypeSpot,
		Tags:           tags,
		PrivateAddress: aws.ToString(i.PrivateIpAddress),
		PublicAddress:  aws.ToString(i.PublicIpAddress),
		LaunchedAt:     aws.ToTime(i.LaunchTime),
		State:          clouds.StatePending,
	}
	if i.Placement != nil {
		in.Zone = aws.ToString(i.Placement.AvailabilityZone)
	}
	if i.State != nil {
		in.State = instanceState(i.State.Name)
	}
	return in
}

func instanceState(s ec2types.InstanceStateName) clouds.InstanceState {
	switch s {
	case ec2types.InstanceStateNameRunning:
		return clouds.StateRunning
	case ec2types.InstanceStateNameShuttingDown, ec2types.InstanceStateNameStopping:
		return clouds.StateStopping
	case ec2types.InstanceStateNameTerminated, ec2types.InstanceStateNameStopped:
		return clouds.StateTerminated
	}
	return clouds.StatePending
}

// nameTags returns tags with name as the "Name" tag (when not empty).
func nameTags(name string, tags map[string]string) map[string]string {
	out := maps.Clone(tags)
	if out == nil {
		out = map[string]string{}
	}
	if name != "" {
		out[tagName] = name
	}
	return out
}

func ec2Tags(m map[string]string) []ec2types.Tag {
	var out []ec2types.Tag
	for _, k := range sortedKeys(m) {
		out = append(out, ec2types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

func fromEC2Tags(tags []ec2types.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// volumeType is the EBS type for DiskSpec.Type: "" is gp3.
func volumeType(t string) string {
	if t == "" {
		return "gp3"
	}
	return strings.ToLower(t)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
