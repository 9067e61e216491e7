package azurefake

import (
	"context"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	computefake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8/fake"
)

type vmState struct {
	vm       armcompute.VirtualMachine // as stored: no custom data, no computed state
	ready    time.Time                 // provisioning ends
	deleteAt time.Time                 // zero unless deleting
	failed   string                    // the allocation error code when creation failed
	etag     int
}

// phase is the VM's provisioning state and power state now.
func (v *vmState) phase(now time.Time) (prov, power string) {
	switch {
	case v.failed != "":
		return "Failed", "deallocated"
	case !v.deleteAt.IsZero():
		return "Deleting", "deallocating"
	case now.Before(v.ready):
		return "Creating", "starting"
	}
	return "Succeeded", "running"
}

func (s *Server) computeVMs(srv *computefake.VirtualMachinesServer) {
	srv.BeginCreateOrUpdate = s.vmCreate
	srv.BeginUpdate = s.vmUpdate
	srv.BeginDelete = func(_ context.Context, rg, name string, _ *armcompute.VirtualMachinesClientBeginDeleteOptions) (resp azfake.PollerResponder[armcompute.VirtualMachinesClientDeleteResponse], e azfake.ErrorResponder) {
		s.mu.Lock()
		defer s.mu.Unlock()
		now := time.Now()
		s.advance(now)
		if !s.rgOK(rg) {
			return resp, rgNotFound()
		}
		v := s.vms[strings.ToLower(name)]
		if v == nil {
			return done(http.StatusNoContent, armcompute.VirtualMachinesClientDeleteResponse{}), e
		}
		if v.deleteAt.IsZero() {
			v.deleteAt = now.Add(s.opts.Latency)
		}
		return done(http.StatusOK, armcompute.VirtualMachinesClientDeleteResponse{}), e
	}
	srv.Get = func(_ context.Context, rg, name string, o *armcompute.VirtualMachinesClientGetOptions) (resp azfake.Responder[armcompute.VirtualMachinesClientGetResponse], e azfake.ErrorResponder) {
		s.mu.Lock()
		defer s.mu.Unlock()
		now := time.Now()
		s.advance(now)
		if !s.rgOK(rg) {
			return resp, rgNotFound()
		}
		v := s.vms[strings.ToLower(name)]
		if v == nil {
			return resp, notFound()
		}
		expand := o != nil && deref(o.Expand) == armcompute.InstanceViewTypesInstanceView
		return ok(armcompute.VirtualMachinesClientGetResponse{VirtualMachine: s.renderVM(v, now, expand)}), e
	}
	srv.NewListPager = func(rg string, o *armcompute.VirtualMachinesClientListOptions) azfake.PagerResponder[armcompute.VirtualMachinesClientListResponse] {
		s.mu.Lock()
		defer s.mu.Unlock()
		now := time.Now()
		s.advance(now)
		if !s.rgOK(rg) {
			return pageErr[armcompute.VirtualMachinesClientListResponse](http.StatusNotFound, "ResourceGroupNotFound")
		}
		expand := o != nil && deref(o.Expand) == armcompute.ExpandTypeForListVMsInstanceView
		var list armcompute.VirtualMachineListResult
		for _, v := range s.vms {
			vm := s.renderVM(v, now, expand)
			list.Value = append(list.Value, &vm)
		}
		return onePage(armcompute.VirtualMachinesClientListResponse{VirtualMachineListResult: list})
	}
}

func (s *Server) renderVM(v *vmState, now time.Time, expand bool) armcompute.VirtualMachine {
	vm := clone(v.vm)
	prov, power := v.phase(now)
	vm.Etag = ptr(strconv.Itoa(v.etag))
	vm.Properties.ProvisioningState = &prov
	if expand {
		provCode := "ProvisioningState/" + strings.ToLower(prov)
		if v.failed != "" {
			provCode += "/" + v.failed
		}
		vm.Properties.InstanceView = &armcompute.VirtualMachineInstanceView{
			ComputerName: vm.Properties.OSProfile.ComputerName,
			Statuses: []*armcompute.InstanceViewStatus{
				{Code: &provCode, Level: ptr(armcompute.StatusLevelTypesInfo)},
				{Code: ptr("PowerState/" + power), Level: ptr(armcompute.StatusLevelTypesInfo)},
			},
		}
	}
	return vm
}

func (s *Server) vmCreate(_ context.Context, rg, name string, body armcompute.VirtualMachine, o *armcompute.VirtualMachinesClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armcompute.VirtualMachinesClientCreateOrUpdateResponse], e azfake.ErrorResponder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.advance(now)
	key := strings.ToLower(name)
	switch {
	case !s.rgOK(rg):
		return resp, rgNotFound()
	case s.vms[key] != nil && o != nil && deref(o.IfNoneMatch) == "*":
		return resp, errResp(http.StatusPreconditionFailed, "PreconditionFailed")
	case s.vms[key] != nil:
		return resp, errResp(http.StatusConflict, "PropertyChangeNotAllowed") // the fake updates VMs by PATCH only
	}
	p := body.Properties
	if p == nil || p.HardwareProfile == nil || p.OSProfile == nil || p.StorageProfile == nil || p.NetworkProfile == nil {
		return resp, invalid()
	}
	size, zone := string(deref(p.HardwareProfile.VMSize)), ""
	if len(body.Zones) > 0 {
		zone = deref(body.Zones[0])
	}
	custom, bad := s.checkOSProfile(deref(p.OSProfile.AdminUsername), p.OSProfile.LinuxConfiguration, p.OSProfile.CustomData)
	switch {
	case bad:
		return resp, invalid()
	case deref(p.Priority) == armcompute.VirtualMachinePriorityTypesSpot && p.EvictionPolicy == nil:
		return resp, invalid()
	case s.sku(size) == nil || len(body.Zones) > 1 || (zone != "" && !s.zoneOK(zone)):
		return resp, invalid()
	case s.restricted(size, zone):
		return resp, errResp(http.StatusConflict, "SkuNotAvailable")
	}
	var nics []*nicState
	for _, ref := range p.NetworkProfile.NetworkInterfaces {
		n := s.nics[strings.ToLower(segmentAfter(deref(ref.ID), "networkInterfaces"))]
		switch {
		case n == nil:
			return resp, errResp(http.StatusBadRequest, "InvalidResourceReference")
		case n.vm != "":
			return resp, errResp(http.StatusBadRequest, "NicInUse")
		}
		nics = append(nics, n)
	}
	if len(nics) == 0 {
		return resp, invalid()
	}
	disks, er := s.checkDataDisks(name, zone, p.StorageProfile.DataDisks)
	if er != nil {
		return resp, *er
	}
	v := &vmState{vm: clone(body), ready: now.Add(s.opts.Latency), etag: 1}
	v.vm.ID = ptr(s.id("Microsoft.Compute", "virtualMachines", name))
	v.vm.Name, v.vm.Type = &name, ptr("Microsoft.Compute/virtualMachines")
	v.vm.Properties.OSProfile.CustomData = nil
	v.vm.Properties.TimeCreated = ptr(now.UTC())
	v.vm.Properties.VMID = ptr(randomID())
	if s.stockedOut(zone, size) {
		v.failed = "ZonalAllocationFailed"
		if zone == "" {
			v.failed = "AllocationFailed"
		}
	}
	for _, n := range nics {
		n.vm = key
	}
	if v.failed == "" {
		s.attach(key, zone, disks, v.vm.Properties.StorageProfile.DataDisks, now)
	}
	s.vms[key] = v
	if custom != "" {
		s.custom[key] = custom
	}
	resp.AddNonTerminalResponse(http.StatusCreated, nil)
	if v.failed != "" {
		resp.SetTerminalError(http.StatusOK, v.failed) // an async operation that ended Failed
		return resp, e
	}
	resp.SetTerminalResponse(http.StatusOK, armcompute.VirtualMachinesClientCreateOrUpdateResponse{VirtualMachine: s.renderVM(v, now, false)}, nil)
	return resp, e
}

// checkOSProfile checks a Linux OS profile as Azure does (an admin, SSH keys when password
// authentication is off, custom data of at most 65535 decoded bytes) and returns the
// decoded custom data.
func (s *Server) checkOSProfile(admin string, linux *armcompute.LinuxConfiguration, customData *string) (custom string, bad bool) {
	if admin == "" || linux == nil {
		return "", true
	}
	if deref(linux.DisablePasswordAuthentication) && (linux.SSH == nil || len(linux.SSH.PublicKeys) == 0 || deref(linux.SSH.PublicKeys[0].KeyData) == "") {
		return "", true
	}
	if customData == nil {
		return "", false
	}
	b, err := base64.StdEncoding.DecodeString(*customData)
	if err != nil || len(b) > 65535 {
		return "", true
	}
	return string(b), false
}

// checkDataDisks validates the data disks VM vm (in zone) is to have and returns the
// existing managed disks among them, by index of want (nil for Empty disks, which attach
// creates).
func (s *Server) checkDataDisks(vm, zone string, want []*armcompute.DataDisk) ([]*diskState, *azfake.ErrorResponder) {
	luns := map[int32]bool{}
	out := make([]*diskState, len(want))
	for i, dd := range want {
		if dd == nil || dd.Lun == nil || luns[*dd.Lun] {
			er := invalid()
			return nil, &er
		}
		luns[*dd.Lun] = true
		switch deref(dd.CreateOption) {
		case armcompute.DiskCreateOptionTypesEmpty:
			if deref(dd.DiskSizeGB) <= 0 {
				er := invalid()
				return nil, &er
			}
		case armcompute.DiskCreateOptionTypesAttach:
			if dd.ManagedDisk == nil {
				er := invalid()
				return nil, &er
			}
			d := s.disks[strings.ToLower(segmentAfter(deref(dd.ManagedDisk.ID), "disks"))]
			switch {
			case d == nil:
				er := errResp(http.StatusNotFound, "NotFound")
				return nil, &er
			case d.owner != "" && d.owner != strings.ToLower(vm):
				er := errResp(http.StatusConflict, "OperationNotAllowed")
				return nil, &er
			case firstZone(d.disk.Zones) != zone:
				er := errResp(http.StatusBadRequest, "BadRequest")
				return nil, &er
			}
			out[i] = d
		default:
			er := invalid()
			return nil, &er
		}
	}
	return out, nil
}

// attach creates the Empty data disks of VM key and marks the attached ones as its own,
// filling in their IDs.
func (s *Server) attach(key, zone string, attached []*diskState, want []*armcompute.DataDisk, now time.Time) {
	for i, dd := range want {
		d := attached[i]
		if d == nil { // Empty: a new managed disk
			name := deref(dd.Name)
			if name == "" {
				name = key + "-data" + strconv.Itoa(int(deref(dd.Lun)))
			}
			typ := armcompute.DiskStorageAccountTypesStandardSSDLRS
			if dd.ManagedDisk != nil && dd.ManagedDisk.StorageAccountType != nil {
				typ = armcompute.DiskStorageAccountTypes(*dd.ManagedDisk.StorageAccountType)
			}
			d = s.newDisk(name, armcompute.Disk{
				Location: &s.opts.Location, SKU: &armcompute.DiskSKU{Name: &typ},
				Properties: &armcompute.DiskProperties{DiskSizeGB: dd.DiskSizeGB},
			}, zone, now)
			dd.Name = &name
			if dd.ManagedDisk == nil {
				dd.ManagedDisk = &armcompute.ManagedDiskParameters{}
			}
		}
		d.owner = key
		dd.ManagedDisk.ID = d.disk.ID
		dd.CreateOption = ptr(armcompute.DiskCreateOptionTypesAttach)
	}
}

func (s *Server) vmUpdate(_ context.Context, rg, name string, body armcompute.VirtualMachineUpdate, o *armcompute.VirtualMachinesClientBeginUpdateOptions) (resp azfake.PollerResponder[armcompute.VirtualMachinesClientUpdateResponse], e azfake.ErrorResponder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.advance(now)
	if !s.rgOK(rg) {
		return resp, rgNotFound()
	}
	key := strings.ToLower(name)
	v := s.vms[key]
	switch {
	case v == nil:
		return resp, notFound()
	case o != nil && o.IfMatch != nil && *o.IfMatch != strconv.Itoa(v.etag):
		return resp, errResp(http.StatusPreconditionFailed, "PreconditionFailed")
	case !v.deleteAt.IsZero() || v.failed != "":
		return resp, errResp(http.StatusConflict, "OperationNotAllowed")
	}
	if body.Tags != nil {
		v.vm.Tags = body.Tags
	}
	if p := body.Properties; p != nil && p.StorageProfile != nil && p.StorageProfile.DataDisks != nil {
		want := clone(p.StorageProfile.DataDisks)
		zone := firstZone(v.vm.Zones)
		old := v.vm.Properties.StorageProfile.DataDisks
		attached, er := s.checkDataDisks(name, zone, want)
		if er != nil {
			return resp, *er
		}
		for _, dd := range old { // detach the disks that are no longer listed
			id := strings.ToLower(deref(dd.ManagedDisk.ID))
			still := false
			for _, w := range want {
				still = still || (w.ManagedDisk != nil && strings.ToLower(deref(w.ManagedDisk.ID)) == id)
			}
			if d := s.disks[strings.ToLower(segmentAfter(id, "disks"))]; d != nil && !still {
				d.owner = ""
			}
		}
		s.attach(key, zone, attached, want, now)
		v.vm.Properties.StorageProfile.DataDisks = want
	}
	v.etag++
	return async(http.StatusOK, http.StatusOK, armcompute.VirtualMachinesClientUpdateResponse{VirtualMachine: s.renderVM(v, now, false)}), e
}

// removeVM deletes a VM whose deletion is over, with its NICs and disks as their
// deleteOption says.
func (s *Server) removeVM(key string, v *vmState) {
	delete(s.vms, key)
	delete(s.custom, key)
	p := v.vm.Properties
	for _, ref := range p.NetworkProfile.NetworkInterfaces {
		nk := strings.ToLower(segmentAfter(deref(ref.ID), "networkInterfaces"))
		if n := s.nics[nk]; n != nil {
			n.vm = ""
			if ref.Properties != nil && deref(ref.Properties.DeleteOption) == armcompute.DeleteOptionsDelete {
				delete(s.nics, nk)
			}
		}
	}
	for _, dd := range p.StorageProfile.DataDisks {
		if dd.ManagedDisk == nil {
			continue
		}
		dk := strings.ToLower(segmentAfter(deref(dd.ManagedDisk.ID), "disks"))
		if d := s.disks[dk]; d != nil && d.owner == key {
			d.owner = ""
			if deref(dd.DeleteOption) == armcompute.DiskDeleteOptionTypesDelete {
				delete(s.disks, dk)
			}
		}
	}
}

// VM returns the VM as ARM would (with its instance view), and whether it exists.
func (s *Server) VM(name string) (armcompute.VirtualMachine, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.advance(now)
	v := s.vms[strings.ToLower(name)]
	if v == nil {
		return armcompute.VirtualMachine{}, false
	}
	return s.renderVM(v, now, true), true
}

func firstZone(zones []*string) string {
	if len(zones) == 0 {
		return ""
	}
	return deref(zones[0])
}
