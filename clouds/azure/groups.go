package azure

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"

	"github.com/algos-dev/algos/clouds"
)

// maxGroupSize is a Uniform scale set's limit with single placement group off.
const maxGroupSize = 1000

// CreateGroup creates a virtual machine scale set in Uniform orchestration named
// spec.Name with sku capacity spec.Desired, and returns once Azure accepted it (members
// are created asynchronously). Min and Max, which a scale set lacks, are kept in tags.
// Azure's PUT is an upsert: the driver reads the name first and answers ErrAlreadyExists
// when a scale set has it, and sends If-None-Match: * so that a concurrent create loses
// (412, also ErrAlreadyExists) instead of overwriting. Zone balance is best effort
// (zoneBalance false), so that Azure places members in the zones that have capacity;
// overprovisioning is off, so ListMembers shows exactly Desired members.
func (d *Driver) CreateGroup(ctx context.Context, spec clouds.GroupSpec) (clouds.Group, error) {
	if err := spec.Validate(); err != nil {
		return clouds.Group{}, fmt.Errorf("azure: create group: %w", err)
	}
	t := spec.Template
	what := fmt.Sprintf("create scale set %q", spec.Name)
	if t.InstanceType == "" {
		return clouds.Group{}, fmt.Errorf("azure: %s: Template.InstanceType is empty: %w", what, clouds.ErrInvalid)
	}
	if spec.Max > maxGroupSize {
		return clouds.Group{}, fmt.Errorf("azure: %s: Max %d is above a scale set's %d: %w", what, spec.Max, maxGroupSize, clouds.ErrInvalid)
	}
	img, err := imageReference(t.Image)
	if err != nil {
		return clouds.Group{}, fmt.Errorf("azure: %s: %w", what, err)
	}
	cd, err := customData(t.UserData)
	if err != nil {
		return clouds.Group{}, fmt.Errorf("azure: %s: %w", what, err)
	}
	var disks []*armcompute.VirtualMachineScaleSetDataDisk
	for i, s := range t.Disks {
		if s.SizeGiB <= 0 {
			return clouds.Group{}, fmt.Errorf("azure: %s: disk %d: SizeGiB %d: %w", what, i, s.SizeGiB, clouds.ErrInvalid)
		}
		disks = append(disks, &armcompute.VirtualMachineScaleSetDataDisk{
			Lun: to.Ptr(int32(i)), CreateOption: to.Ptr(armcompute.DiskCreateOptionTypesEmpty),
			DiskSizeGB: to.Ptr(int32(s.SizeGiB)), DeleteOption: to.Ptr(armcompute.DiskDeleteOptionTypesDelete),
			ManagedDisk: &armcompute.VirtualMachineScaleSetManagedDiskParameters{
				StorageAccountType: to.Ptr(armcompute.StorageAccountTypes(*diskSKU(s.Type)))},
		})
	}
	if _, err := d.sets.Get(ctx, d.cfg.ResourceGroup, spec.Name, nil); err == nil {
		return clouds.Group{}, fmt.Errorf("azure: %s: %w", what, clouds.ErrAlreadyExists)
	} else if !isNotFound(err) {
		return clouds.Group{}, d.mapError(err, what, nil)
	}
	zones := spec.Zones
	if len(zones) == 0 {
		zones = d.cfg.Zones
	}
	profile := &armcompute.VirtualMachineScaleSetVMProfile{
		OSProfile: &armcompute.VirtualMachineScaleSetOSProfile{
			ComputerNamePrefix: to.Ptr(sanitize(spec.Name, 9, "algos")),
			AdminUsername:      &d.cfg.AdminUsername,
			CustomData:         cd,
			LinuxConfiguration: d.linuxConfig(),
		},
		StorageProfile: &armcompute.VirtualMachineScaleSetStorageProfile{
			ImageReference: img,
			OSDisk: &armcompute.VirtualMachineScaleSetOSDisk{
				CreateOption: to.Ptr(armcompute.DiskCreateOptionTypesFromImage),
				DeleteOption: to.Ptr(armcompute.DiskDeleteOptionTypesDelete),
				ManagedDisk:  &armcompute.VirtualMachineScaleSetManagedDiskParameters{StorageAccountType: to.Ptr(armcompute.StorageAccountTypes(DefaultDiskType))},
			},
			DataDisks: disks,
		},
		NetworkProfile: &armcompute.VirtualMachineScaleSetNetworkProfile{NetworkInterfaceConfigurations: []*armcompute.VirtualMachineScaleSetNetworkConfiguration{{
			Name: to.Ptr("nic"),
			Properties: &armcompute.VirtualMachineScaleSetNetworkConfigurationProperties{
				Primary: to.Ptr(true),
				IPConfigurations: []*armcompute.VirtualMachineScaleSetIPConfiguration{{
					Name:       to.Ptr(ipConfigName),
					Properties: &armcompute.VirtualMachineScaleSetIPConfigurationProperties{Subnet: &armcompute.APIEntityReference{ID: &d.cfg.SubnetID}},
				}},
			},
		}}},
	}
	if t.Spot {
		profile.Priority = to.Ptr(armcompute.VirtualMachinePriorityTypesSpot)
		profile.EvictionPolicy = to.Ptr(armcompute.VirtualMachineEvictionPolicyTypesDelete)
		profile.BillingProfile = &armcompute.BillingProfile{MaxPrice: to.Ptr(-1.0)}
	}
	set := armcompute.VirtualMachineScaleSet{
		Location: &d.cfg.Location,
		Tags:     azureTags(t.Tags, tagMin, strconv.Itoa(spec.Min), tagMax, strconv.Itoa(spec.Max)),
		SKU:      &armcompute.SKU{Name: &t.InstanceType, Tier: to.Ptr("Standard"), Capacity: to.Ptr(int64(spec.Desired))},
		Properties: &armcompute.VirtualMachineScaleSetProperties{
			OrchestrationMode:     to.Ptr(armcompute.OrchestrationModeUniform),
			UpgradePolicy:         &armcompute.UpgradePolicy{Mode: to.Ptr(armcompute.UpgradeModeManual)},
			Overprovision:         to.Ptr(false),
			SinglePlacementGroup:  to.Ptr(false),
			VirtualMachineProfile: profile,
		},
	}
	if len(zones) > 0 {
		set.Zones = to.SliceOfPtrs(zones...)
		set.Properties.ZoneBalance = to.Ptr(false)
	}
	_, err = d.sets.BeginCreateOrUpdate(ctx, d.cfg.ResourceGroup, spec.Name, set,
		&armcompute.VirtualMachineScaleSetsClientBeginCreateOrUpdateOptions{IfNoneMatch: to.Ptr("*")})
	if err != nil {
		if isPreconditionFailed(err) {
			return clouds.Group{}, fmt.Errorf("azure: %s: %w", what, clouds.ErrAlreadyExists)
		}
		l := &launch{size: t.InstanceType, spot: t.Spot}
		if len(zones) == 1 {
			l.zone = zones[0]
		}
		return clouds.Group{}, d.mapError(err, what, l)
	}
	d.log.Info("group created", "group", spec.Name, "instance_type", t.InstanceType, "desired", spec.Desired, "zones", zones)
	g, err := d.GetGroup(ctx, spec.Name)
	if err != nil {
		return clouds.Group{}, err
	}
	return g, nil
}

// GetGroup returns the scale set as a group. A scale set the driver did not create (no
// min and max tags) reports Min 0 and Max 1000.
func (d *Driver) GetGroup(ctx context.Context, name string) (clouds.Group, error) {
	set, err := d.getSet(ctx, name)
	if err != nil {
		return clouds.Group{}, err
	}
	return groupOf(set), nil
}

func (d *Driver) getSet(ctx context.Context, name string) (*armcompute.VirtualMachineScaleSet, error) {
	if name == "" {
		return nil, fmt.Errorf("azure: get scale set: empty name: %w", clouds.ErrNotFound)
	}
	res, err := d.sets.Get(ctx, d.cfg.ResourceGroup, name, nil)
	if err != nil {
		return nil, d.mapError(err, fmt.Sprintf("get scale set %q", name), nil)
	}
	return &res.VirtualMachineScaleSet, nil
}

func groupOf(set *armcompute.VirtualMachineScaleSet) clouds.Group {
	g := clouds.Group{Name: deref(set.Name), Max: maxGroupSize, Tags: userTags(set.Tags)}
	if v, ok := tag(set.Tags, tagMin); ok {
		g.Min, _ = strconv.Atoi(v)
	}
	if v, ok := tag(set.Tags, tagMax); ok {
		g.Max, _ = strconv.Atoi(v)
	}
	if set.SKU != nil {
		g.Desired = int(deref(set.SKU.Capacity))
		g.InstanceType = deref(set.SKU.Name)
	}
	for _, z := range set.Zones {
		g.Zones = append(g.Zones, deref(z))
	}
	if p := set.Properties; p != nil {
		g.CreatedAt = deref(p.TimeCreated)
		if p.VirtualMachineProfile != nil {
			g.Spot = deref(p.VirtualMachineProfile.Priority) == armcompute.VirtualMachinePriorityTypesSpot
		}
	}
	return g
}

// ResizeGroup sets the scale set's sku capacity and returns once Azure accepted it. Azure
// picks which members go when scaling in (its default scale-in policy).
func (d *Driver) ResizeGroup(ctx context.Context, name string, desired int) error {
	set, err := d.getSet(ctx, name)
	if err != nil {
		return err
	}
	g := groupOf(set)
	if desired < g.Min || desired > g.Max {
		return fmt.Errorf("azure: resize scale set %q to %d: outside min %d..max %d: %w", name, desired, g.Min, g.Max, clouds.ErrInvalid)
	}
	if desired == g.Desired {
		return nil
	}
	if err := d.setCapacity(ctx, set, desired); err != nil {
		return err
	}
	d.log.Info("group resized", "group", name, "desired", desired)
	return nil
}

// setCapacity updates the scale set's capacity without waiting for the members.
func (d *Driver) setCapacity(ctx context.Context, set *armcompute.VirtualMachineScaleSet, capacity int) error {
	name := deref(set.Name)
	update := armcompute.VirtualMachineScaleSetUpdate{SKU: &armcompute.SKU{Capacity: to.Ptr(int64(capacity))}}
	if set.SKU != nil {
		update.SKU.Name, update.SKU.Tier = set.SKU.Name, set.SKU.Tier
	}
	err := d.consistently(ctx, "update scale set", transient, func() error {
		_, err := d.sets.BeginUpdate(ctx, d.cfg.ResourceGroup, name, update, nil)
		return err
	})
	l := &launch{size: deref(update.SKU.Name)}
	return d.mapError(err, fmt.Sprintf("set scale set %q capacity to %d", name, capacity), l)
}

// ListMembers lists the scale set's VMs with their instance views. Member IDs are their
// resource names, "<scale set>_<instance id>": what IMDS compute/name says on the member.
func (d *Driver) ListMembers(ctx context.Context, name string) ([]clouds.Instance, error) {
	set, err := d.getSet(ctx, name)
	if err != nil {
		return nil, err
	}
	var out []clouds.Instance
	pager := d.setVMs.NewListPager(d.cfg.ResourceGroup, name, &armcompute.VirtualMachineScaleSetVMsClientListOptions{Expand: to.Ptr("instanceView")})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, d.mapError(err, fmt.Sprintf("list scale set %q members", name), nil)
		}
		for _, m := range page.Value {
			if m != nil {
				out = append(out, d.memberInstance(set, m))
			}
		}
	}
	return out, nil
}

func (d *Driver) getMember(ctx context.Context, set, instance string) (clouds.Instance, error) {
	s, err := d.sets.Get(ctx, d.cfg.ResourceGroup, set, nil)
	if err != nil {
		return clouds.Instance{}, err
	}
	m, err := d.setVMs.Get(ctx, d.cfg.ResourceGroup, set, instance, &armcompute.VirtualMachineScaleSetVMsClientGetOptions{Expand: to.Ptr(armcompute.InstanceViewTypesInstanceView)})
	if err != nil {
		return clouds.Instance{}, err
	}
	return d.memberInstance(&s.VirtualMachineScaleSet, &m.VirtualMachineScaleSetVM), nil
}

// memberInstance converts a scale set VM. Its Tags are the scale set's (the template's):
// Azure does not copy them onto members.
func (d *Driver) memberInstance(set *armcompute.VirtualMachineScaleSet, m *armcompute.VirtualMachineScaleSetVM) clouds.Instance {
	g := groupOf(set)
	in := clouds.Instance{
		ID:           deref(m.Name),
		InstanceType: g.InstanceType,
		Zone:         d.zoneOrRegion(firstZone(m.Zones)),
		Spot:         g.Spot,
		Tags:         g.Tags,
	}
	if in.ID == "" {
		in.ID = g.Name + "_" + deref(m.InstanceID)
	}
	in.Name = in.ID
	if m.SKU != nil && m.SKU.Name != nil {
		in.InstanceType = *m.SKU.Name
	}
	var statuses []*armcompute.InstanceViewStatus
	if p := m.Properties; p != nil {
		in.LaunchedAt = deref(p.TimeCreated)
		if p.OSProfile != nil && p.OSProfile.ComputerName != nil {
			in.Name = *p.OSProfile.ComputerName
		}
		if p.InstanceView != nil {
			statuses = p.InstanceView.Statuses
			if p.InstanceView.ComputerName != nil {
				in.Name = *p.InstanceView.ComputerName
			}
		}
		in.State = normalizeState(deref(p.ProvisioningState), statuses)
	} else {
		in.State = clouds.StatePending
	}
	return in
}

// RemoveMember deletes one member with DeleteInstances, which in Uniform orchestration
// lowers the capacity by one. Without decrement the driver waits for the deletion and then
// sets the capacity back, so that the scale set creates a replacement (with a new instance
// ID). A member already being deleted, or not (any more) in the scale set, changes nothing.
func (d *Driver) RemoveMember(ctx context.Context, group, instanceID string, decrement bool) error {
	set, err := d.getSet(ctx, group)
	if err != nil {
		return err
	}
	g := groupOf(set)
	setName, inst, ok := splitMemberID(instanceID)
	if !ok || !strings.EqualFold(setName, g.Name) {
		return nil // not a member of this group
	}
	what := fmt.Sprintf("remove member %q of scale set %q", instanceID, group)
	m, err := d.setVMs.Get(ctx, d.cfg.ResourceGroup, g.Name, inst, nil)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return d.mapError(err, what, nil)
	}
	if m.Properties != nil && strings.EqualFold(deref(m.Properties.ProvisioningState), "Deleting") {
		return nil
	}
	if decrement && g.Desired-1 < g.Min {
		return fmt.Errorf("azure: %s: desired %d would go below min %d: %w", what, g.Desired-1, g.Min, clouds.ErrInvalid)
	}
	ids := armcompute.VirtualMachineScaleSetVMInstanceRequiredIDs{InstanceIDs: []*string{&inst}}
	err = d.consistently(ctx, "delete scale set instances", transient, func() error {
		p, err := d.sets.BeginDeleteInstances(ctx, d.cfg.ResourceGroup, g.Name, ids, nil)
		if err == nil && !decrement {
			_, err = wait(ctx, d, p)
		}
		return err
	})
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return d.mapError(err, what, nil)
	}
	d.log.Info("group member removed", "group", g.Name, "instance_id", instanceID, "decrement", decrement)
	if decrement {
		return nil
	}
	set, err = d.getSet(ctx, g.Name)
	if err != nil {
		return err
	}
	if now := groupOf(set).Desired; now < g.Desired {
		return d.setCapacity(ctx, set, g.Desired)
	}
	return nil
}

// DeleteGroup deletes the scale set (members, their NICs and disks go with it) and returns
// once Azure accepted the request. GetGroup finds it until the deletion ends.
func (d *Driver) DeleteGroup(ctx context.Context, name string) error {
	if name == "" {
		return nil
	}
	if _, err := d.sets.BeginDelete(ctx, d.cfg.ResourceGroup, name, nil); err != nil {
		if isNotFound(err) {
			return nil
		}
		return d.mapError(err, fmt.Sprintf("delete scale set %q", name), nil)
	}
	d.log.Info("group deleting", "group", name)
	return nil
}
