package azure

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"

	"github.com/algos-dev/algos/clouds"
)

// ipConfigName is the name of the one IP configuration of every NIC the driver creates.
const ipConfigName = "ipconfig"

// nicName is the name of the network interface of VM name.
func nicName(vm string) string { return vm + "-nic" }

// CreateInstance creates a network interface and a VM using it (both, and the VM's disks,
// deleted with the VM) and polls the VM's creation to its end, so that allocation failures
// are returned as *clouds.CapacityError; a failed launch is cleaned up before returning.
// The instance ID is the VM name, uniqueName(spec.Name). Spot instances are Azure Spot VMs
// (priority Spot, eviction policy Delete, max price -1: up to the on-demand price).
func (d *Driver) CreateInstance(ctx context.Context, spec clouds.InstanceSpec) (clouds.Instance, error) {
	if spec.InstanceType == "" {
		return clouds.Instance{}, fmt.Errorf("azure: create instance: InstanceType is empty: set an Azure VM size such as %q: %w",
			"Standard_D2s_v5", clouds.ErrInvalid)
	}
	img, err := imageReference(spec.Image)
	if err != nil {
		return clouds.Instance{}, fmt.Errorf("azure: create instance: %w", err)
	}
	cd, err := customData(spec.UserData)
	if err != nil {
		return clouds.Instance{}, fmt.Errorf("azure: create instance: %w", err)
	}
	name := uniqueName(spec.Name)
	disks, err := dataDisks(name, spec.Disks)
	if err != nil {
		return clouds.Instance{}, fmt.Errorf("azure: create instance: %w", err)
	}
	zone := d.pickZone(spec.Zone)
	l := &launch{zone: zone, size: spec.InstanceType, spot: spec.Spot}
	what := fmt.Sprintf("create VM %q", name)

	nic, err := d.createNIC(ctx, nicName(name), spec.Tags)
	if err != nil {
		d.cleanupLaunch(ctx, name, false)
		return clouds.Instance{}, d.mapError(err, fmt.Sprintf("create network interface for VM %q", name), nil)
	}
	vm := armcompute.VirtualMachine{
		Location: &d.cfg.Location,
		Tags:     d.instanceTags(spec),
		Properties: &armcompute.VirtualMachineProperties{
			HardwareProfile: &armcompute.HardwareProfile{VMSize: to.Ptr(armcompute.VirtualMachineSizeTypes(spec.InstanceType))},
			StorageProfile: &armcompute.StorageProfile{
				ImageReference: img,
				OSDisk: &armcompute.OSDisk{
					Name:         to.Ptr(name + "-os"),
					CreateOption: to.Ptr(armcompute.DiskCreateOptionTypesFromImage),
					DeleteOption: to.Ptr(armcompute.DiskDeleteOptionTypesDelete),
					ManagedDisk:  &armcompute.ManagedDiskParameters{StorageAccountType: to.Ptr(armcompute.StorageAccountTypes(DefaultDiskType))},
				},
				DataDisks: disks,
			},
			OSProfile: d.osProfile(name, cd),
			NetworkProfile: &armcompute.NetworkProfile{NetworkInterfaces: []*armcompute.NetworkInterfaceReference{{
				ID:         nic.ID,
				Properties: &armcompute.NetworkInterfaceReferenceProperties{Primary: to.Ptr(true), DeleteOption: to.Ptr(armcompute.DeleteOptionsDelete)},
			}}},
		},
	}
	if zone != "" {
		vm.Zones = []*string{to.Ptr(zone)}
	}
	if spec.Spot {
		vm.Properties.Priority = to.Ptr(armcompute.VirtualMachinePriorityTypesSpot)
		vm.Properties.EvictionPolicy = to.Ptr(armcompute.VirtualMachineEvictionPolicyTypesDelete)
		vm.Properties.BillingProfile = &armcompute.BillingProfile{MaxPrice: to.Ptr(-1.0)}
	}
	// If-None-Match: * makes the PUT a create, never an update of a VM that has the name.
	p, err := d.vms.BeginCreateOrUpdate(ctx, d.cfg.ResourceGroup, name, vm,
		&armcompute.VirtualMachinesClientBeginCreateOrUpdateOptions{IfNoneMatch: to.Ptr("*")})
	if err == nil {
		_, err = wait(ctx, d, p)
	}
	if err != nil {
		d.cleanupLaunch(ctx, name, true)
		if isPreconditionFailed(err) {
			return clouds.Instance{}, fmt.Errorf("azure: %s: %w", what, clouds.ErrAlreadyExists)
		}
		return clouds.Instance{}, d.mapError(err, what, l)
	}
	d.log.Info("instance created", "instance_id", name, "instance_type", spec.InstanceType, "zone", zone, "spot", spec.Spot)
	in, err := d.GetInstance(ctx, name)
	if err != nil { // created, but the read failed: report what we know
		d.log.Warn("read new instance", "instance_id", name, "error", err)
		in = clouds.Instance{ID: name, Name: displayName(spec.Name, name), State: clouds.StatePending, InstanceType: spec.InstanceType,
			Zone: d.zoneOrRegion(zone), Spot: spec.Spot, Tags: spec.Tags, LaunchedAt: time.Now()}
	}
	return in, nil
}

func (d *Driver) instanceTags(spec clouds.InstanceSpec) map[string]*string {
	if spec.Name == "" {
		return azureTags(spec.Tags)
	}
	return azureTags(spec.Tags, tagName, spec.Name)
}

// osProfile is the Linux OS profile of VM computerName: SSH key only, custom data cd.
func (d *Driver) osProfile(computerName string, cd *string) *armcompute.OSProfile {
	return &armcompute.OSProfile{
		ComputerName:       &computerName,
		AdminUsername:      &d.cfg.AdminUsername,
		CustomData:         cd,
		LinuxConfiguration: d.linuxConfig(),
	}
}

func (d *Driver) linuxConfig() *armcompute.LinuxConfiguration {
	return &armcompute.LinuxConfiguration{
		DisablePasswordAuthentication: to.Ptr(true),
		SSH: &armcompute.SSHConfiguration{PublicKeys: []*armcompute.SSHPublicKey{{
			Path:    to.Ptr("/home/" + d.cfg.AdminUsername + "/.ssh/authorized_keys"),
			KeyData: &d.cfg.SSHPublicKey,
		}}},
	}
}

func (d *Driver) createNIC(ctx context.Context, name string, tags map[string]string) (armnetwork.Interface, error) {
	nic := armnetwork.Interface{
		Location: &d.cfg.Location,
		Tags:     azureTags(tags),
		Properties: &armnetwork.InterfacePropertiesFormat{IPConfigurations: []*armnetwork.InterfaceIPConfiguration{{
			Name: to.Ptr(ipConfigName),
			Properties: &armnetwork.InterfaceIPConfigurationPropertiesFormat{
				Subnet:                    &armnetwork.Subnet{ID: &d.cfg.SubnetID},
				PrivateIPAllocationMethod: to.Ptr(armnetwork.IPAllocationMethodDynamic),
				Primary:                   to.Ptr(true),
			},
		}}},
	}
	p, err := d.nics.BeginCreateOrUpdate(ctx, d.cfg.ResourceGroup, name, nic, nil)
	if err != nil {
		return armnetwork.Interface{}, err
	}
	res, err := wait(ctx, d, p)
	return res.Interface, err
}

// cleanupLaunch removes what a failed launch left, best effort and even when ctx is done
// (bounded by Config.ConsistencyTimeout): the VM if Azure kept it (a failed allocation
// leaves it in state Failed; its NIC and disks go with it: deleteOption Delete), else the
// NIC.
func (d *Driver) cleanupLaunch(ctx context.Context, name string, vmTried bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.ConsistencyTimeout)
	defer cancel()
	if vmTried {
		_, err := d.vms.Get(ctx, d.cfg.ResourceGroup, name, nil)
		if err == nil {
			var p poller[armcompute.VirtualMachinesClientDeleteResponse]
			if p, err = d.vms.BeginDelete(ctx, d.cfg.ResourceGroup, name, nil); err == nil {
				_, err = wait(ctx, d, p)
			}
			if err != nil && !isNotFound(err) {
				d.log.Warn("clean up failed launch: delete VM", "instance_id", name, "error", err)
			} else {
				d.log.Info("failed launch cleaned up", "instance_id", name)
			}
			return
		}
		if !isNotFound(err) {
			d.log.Warn("clean up failed launch: get VM", "instance_id", name, "error", err)
			return
		}
	}
	p, err := d.nics.BeginDelete(ctx, d.cfg.ResourceGroup, nicName(name), nil)
	if err == nil {
		_, err = wait(ctx, d, p)
	}
	if err != nil && !isNotFound(err) {
		d.log.Warn("clean up failed launch: delete network interface", "instance_id", name, "error", err)
	}
}

// GetInstance returns a VM, or a scale set member when id has a member's shape
// ("<scale set>_<instance id>").
func (d *Driver) GetInstance(ctx context.Context, id string) (clouds.Instance, error) {
	if id == "" {
		return clouds.Instance{}, fmt.Errorf("azure: get instance: empty ID: %w", clouds.ErrNotFound)
	}
	if set, inst, ok := splitMemberID(id); ok {
		in, err := d.getMember(ctx, set, inst)
		if err == nil || !isNotFound(err) {
			return in, d.mapError(err, fmt.Sprintf("get scale set %q member %s", set, inst), nil)
		}
	}
	res, err := d.vms.Get(ctx, d.cfg.ResourceGroup, id, &armcompute.VirtualMachinesClientGetOptions{Expand: to.Ptr(armcompute.InstanceViewTypesInstanceView)})
	if err != nil {
		return clouds.Instance{}, d.mapError(err, fmt.Sprintf("get VM %q", id), nil)
	}
	addr := ""
	if nic := primaryNIC(&res.VirtualMachine); nic != "" {
		n, err := d.nics.Get(ctx, d.cfg.ResourceGroup, lastSegment(nic), nil)
		if err != nil && ctx.Err() != nil {
			return clouds.Instance{}, d.mapError(err, fmt.Sprintf("get VM %q", id), nil)
		}
		addr = privateIP(&n.Interface)
	}
	return d.vmInstance(&res.VirtualMachine, addr), nil
}

// ListInstances lists the resource group's VMs (scale set members are listed by
// ListMembers) and filters them by tag here: the VM list API has no tag filter.
func (d *Driver) ListInstances(ctx context.Context, filter clouds.Filter) ([]clouds.Instance, error) {
	var vms []*armcompute.VirtualMachine
	pager := d.vms.NewListPager(d.cfg.ResourceGroup, &armcompute.VirtualMachinesClientListOptions{Expand: to.Ptr(armcompute.ExpandTypeForListVMsInstanceView)})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, d.mapError(err, "list VMs", nil)
		}
		for _, vm := range page.Value {
			if vm != nil && filter.Match(userTags(vm.Tags)) {
				vms = append(vms, vm)
			}
		}
	}
	if len(vms) == 0 {
		return nil, nil
	}
	addrs, err := d.privateIPs(ctx)
	if err != nil {
		return nil, d.mapError(err, "list network interfaces", nil)
	}
	out := make([]clouds.Instance, 0, len(vms))
	for _, vm := range vms {
		out = append(out, d.vmInstance(vm, addrs[strings.ToLower(primaryNIC(vm))]))
	}
	return out, nil
}

// privateIPs maps the resource group's NIC IDs (lower case) to their private addresses.
func (d *Driver) privateIPs(ctx context.Context) (map[string]string, error) {
	m := map[string]string{}
	pager := d.nics.NewListPager(d.cfg.ResourceGroup, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, n := range page.Value {
			if n != nil && n.ID != nil {
				m[strings.ToLower(*n.ID)] = privateIP(n)
			}
		}
	}
	return m, nil
}

// DeleteInstance deletes the VM (its NIC and disks go with it: deleteOption Delete) and
// returns once Azure accepted the request; GetInstance reports it stopping until it is
// gone. A scale set member is not deleted here (ErrInvalid: use RemoveMember).
func (d *Driver) DeleteInstance(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	if set, inst, ok := splitMemberID(id); ok {
		_, err := d.getMember(ctx, set, inst)
		switch {
		case err == nil:
			return fmt.Errorf("azure: delete instance %q: it is a member of scale set %q: use RemoveMember: %w", id, set, clouds.ErrInvalid)
		case !isNotFound(err):
			return d.mapError(err, fmt.Sprintf("get scale set %q member %s", set, inst), nil)
		}
	}
	_, err := d.vms.BeginDelete(ctx, d.cfg.ResourceGroup, id, nil)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return d.mapError(err, fmt.Sprintf("delete VM %q", id), nil)
	}
	d.log.Info("instance deleting", "instance_id", id)
	return nil
}

func (d *Driver) vmInstance(vm *armcompute.VirtualMachine, addr string) clouds.Instance {
	in := clouds.Instance{ID: deref(vm.Name), Tags: userTags(vm.Tags), PrivateAddress: addr}
	n, _ := tag(vm.Tags, tagName)
	in.Name = displayName(n, in.ID)
	in.Zone = d.zoneOrRegion(firstZone(vm.Zones))
	var statuses []*armcompute.InstanceViewStatus
	if p := vm.Properties; p != nil {
		if p.HardwareProfile != nil {
			in.InstanceType = string(deref(p.HardwareProfile.VMSize))
		}
		in.Spot = deref(p.Priority) == armcompute.VirtualMachinePriorityTypesSpot
		in.LaunchedAt = deref(p.TimeCreated)
		if p.InstanceView != nil {
			statuses = p.InstanceView.Statuses
		}
		in.State = normalizeState(deref(p.ProvisioningState), statuses)
	} else {
		in.State = clouds.StatePending
	}
	return in
}

// normalizeState maps a VM's provisioning state and instance view statuses to the four
// clouds states (see the package comment).
func normalizeState(provisioning string, statuses []*armcompute.InstanceViewStatus) clouds.InstanceState {
	prov, power := strings.ToLower(provisioning), ""
	for _, s := range statuses {
		c := strings.ToLower(deref(s.Code))
		if v, ok := strings.CutPrefix(c, "powerstate/"); ok {
			power = v
		} else if v, ok := strings.CutPrefix(c, "provisioningstate/"); ok && prov == "" {
			prov, _, _ = strings.Cut(v, "/") // "failed/AllocationFailed"
		}
	}
	if prov == "deleting" {
		return clouds.StateStopping
	}
	switch power {
	case "starting":
		return clouds.StatePending
	case "running":
		return clouds.StateRunning
	case "stopping", "deallocating":
		return clouds.StateStopping
	case "stopped", "deallocated", "deleted":
		return clouds.StateTerminated
	}
	switch prov {
	case "failed", "canceled":
		return clouds.StateTerminated
	case "succeeded":
		return clouds.StateRunning
	}
	return clouds.StatePending // creating, updating, migrating, or nothing reported yet
}

func (d *Driver) zoneOrRegion(zone string) string {
	if zone == "" {
		return d.cfg.Location
	}
	return zone
}

func displayName(tagged, resource string) string {
	if tagged != "" {
		return tagged
	}
	return resource
}

func firstZone(zones []*string) string {
	if len(zones) == 0 {
		return ""
	}
	return deref(zones[0])
}

// primaryNIC is the resource ID of the VM's primary (or first) network interface.
func primaryNIC(vm *armcompute.VirtualMachine) string {
	if vm.Properties == nil || vm.Properties.NetworkProfile == nil {
		return ""
	}
	id := ""
	for _, r := range vm.Properties.NetworkProfile.NetworkInterfaces {
		if r == nil || r.ID == nil {
			continue
		}
		if id == "" || (r.Properties != nil && deref(r.Properties.Primary)) {
			id = *r.ID
		}
	}
	return id
}

// privateIP is the private address of the NIC's primary (or first) IP configuration.
func privateIP(n *armnetwork.Interface) string {
	if n == nil || n.Properties == nil {
		return ""
	}
	addr := ""
	for _, c := range n.Properties.IPConfigurations {
		if c == nil || c.Properties == nil {
			continue
		}
		if addr == "" || deref(c.Properties.Primary) {
			addr = deref(c.Properties.PrivateIPAddress)
		}
	}
	return addr
}

// splitMemberID splits "<scale set>_<instance id>" (Uniform orchestration's member names).
func splitMemberID(id string) (set, instance string, ok bool) {
	i := strings.LastIndexByte(id, '_')
	if i <= 0 || i == len(id)-1 {
		return "", "", false
	}
	if _, err := strconv.ParseUint(id[i+1:], 10, 32); err != nil {
		return "", "", false
	}
	return id[:i], id[i+1:], true
}
