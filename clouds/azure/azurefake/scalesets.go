package azurefake

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	computefake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8/fake"
)

// setState is a scale set in Uniform orchestration: it keeps sku.capacity members.
type setState struct {
	set      armcompute.VirtualMachineScaleSet
	members  map[int]*member
	nextID   int
	deleteAt time.Time
}

type member struct {
	id       int
	zone     string
	created  time.Time
	ready    time.Time
	deleteAt time.Time
	failed   bool // no zone of the scale set had capacity
}

func (m *member) phase(now time.Time) (prov, power string) {
	switch {
	case !m.deleteAt.IsZero():
		return "Deleting", "deallocating"
	case m.failed:
		return "Failed", "deallocated"
	case now.Before(m.ready):
		return "Creating", "starting"
	}
	return "Succeeded", "running"
}

func (s *Server) computeSets(srv *computefake.VirtualMachineScaleSetsServer, vms *computefake.VirtualMachineScaleSetVMsServer) {
	srv.BeginCreateOrUpdate = s.setPut
	srv.BeginUpdate = func(_ context.Context, rg, name string, body armcompute.VirtualMachineScaleSetUpdate, _ *armcompute.VirtualMachineScaleSetsClientBeginUpdateOptions) (resp azfake.PollerResponder[armcompute.VirtualMachineScaleSetsClientUpdateResponse], e azfake.ErrorResponder) {
		s.mu.Lock()
		defer s.mu.Unlock()
		now := time.Now()
		st, er := s.liveSet(rg, name, now)
		if er != nil {
			return resp, *er
		}
		if body.SKU != nil && body.SKU.Capacity != nil {
			if *body.SKU.Capacity < 0 || *body.SKU.Capacity > 1000 {
				return resp, invalid()
			}
			st.set.SKU.Capacity = body.SKU.Capacity
		}
		if body.Tags != nil {
			st.set.Tags = body.Tags
		}
		s.scale(st, now)
		return done(http.StatusOK, armcompute.VirtualMachineScaleSetsClientUpdateResponse{VirtualMachineScaleSet: clone(st.set)}), e
	}
	srv.Get = func(_ context.Context, rg, name string, _ *armcompute.VirtualMachineScaleSetsClientGetOptions) (resp azfake.Responder[armcompute.VirtualMachineScaleSetsClientGetResponse], e azfake.ErrorResponder) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.advance(time.Now())
		st := s.sets[strings.ToLower(name)]
		if !s.rgOK(rg) || st == nil {
			return resp, notFound()
		}
		set := clone(st.set)
		if !st.deleteAt.IsZero() {
			set.Properties.ProvisioningState = ptr("Deleting")
		}
		return ok(armcompute.VirtualMachineScaleSetsClientGetResponse{VirtualMachineScaleSet: set}), e
	}
	srv.BeginDelete = func(_ context.Context, rg, name string, _ *armcompute.VirtualMachineScaleSetsClientBeginDeleteOptions) (resp azfake.PollerResponder[armcompute.VirtualMachineScaleSetsClientDeleteResponse], e azfake.ErrorResponder) {
		s.mu.Lock()
		defer s.mu.Unlock()
		now := time.Now()
		s.advance(now)
		if !s.rgOK(rg) {
			return resp, rgNotFound()
		}
		st := s.sets[strings.ToLower(name)]
		if st == nil {
			return done(http.StatusNoContent, armcompute.VirtualMachineScaleSetsClientDeleteResponse{}), e
		}
		if st.deleteAt.IsZero() {
			st.deleteAt = now.Add(s.opts.Latency)
			for _, m := range st.members {
				if m.deleteAt.IsZero() {
					m.deleteAt = st.deleteAt
				}
			}
		}
		return done(http.StatusOK, armcompute.VirtualMachineScaleSetsClientDeleteResponse{}), e
	}
	srv.BeginDeleteInstances = func(_ context.Context, rg, name string, ids armcompute.VirtualMachineScaleSetVMInstanceRequiredIDs, _ *armcompute.VirtualMachineScaleSetsClientBeginDeleteInstancesOptions) (resp azfake.PollerResponder[armcompute.VirtualMachineScaleSetsClientDeleteInstancesResponse], e azfake.ErrorResponder) {
		s.mu.Lock()
		defer s.mu.Unlock()
		now := time.Now()
		st, er := s.liveSet(rg, name, now)
		if er != nil {
			return resp, *er
		}
		var del []*member
		for _, id := range ids.InstanceIDs {
			n, err := strconv.Atoi(deref(id))
			m := st.members[n]
			if err != nil || m == nil {
				return resp, invalid()
			}
			if m.deleteAt.IsZero() {
				del = append(del, m)
			}
		}
		for _, m := range del { // Uniform: the deleted instances leave the capacity
			m.deleteAt = now.Add(s.opts.Latency)
			*st.set.SKU.Capacity--
		}
		return done(http.StatusOK, armcompute.VirtualMachineScaleSetsClientDeleteInstancesResponse{}), e
	}
	vms.NewListPager = func(rg, name string, o *armcompute.VirtualMachineScaleSetVMsClientListOptions) azfake.PagerResponder[armcompute.VirtualMachineScaleSetVMsClientListResponse] {
		s.mu.Lock()
		defer s.mu.Unlock()
		now := time.Now()
		s.advance(now)
		st := s.sets[strings.ToLower(name)]
		if !s.rgOK(rg) || st == nil {
			return pageErr[armcompute.VirtualMachineScaleSetVMsClientListResponse](http.StatusNotFound, "ResourceNotFound")
		}
		expand := o != nil && deref(o.Expand) == "instanceView"
		var list armcompute.VirtualMachineScaleSetVMListResult
		for _, id := range slices.Sorted(maps.Keys(st.members)) {
			vm := s.renderMember(st, st.members[id], now, expand)
			list.Value = append(list.Value, &vm)
		}
		return onePage(armcompute.VirtualMachineScaleSetVMsClientListResponse{VirtualMachineScaleSetVMListResult: list})
	}
	vms.Get = func(_ context.Context, rg, name, instanceID string, o *armcompute.VirtualMachineScaleSetVMsClientGetOptions) (resp azfake.Responder[armcompute.VirtualMachineScaleSetVMsClientGetResponse], e azfake.ErrorResponder) {
		s.mu.Lock()
		defer s.mu.Unlock()
		now := time.Now()
		s.advance(now)
		st := s.sets[strings.ToLower(name)]
		if !s.rgOK(rg) || st == nil {
			return resp, errResp(http.StatusNotFound, "ParentResourceNotFound")
		}
		n, err := strconv.Atoi(instanceID)
		m := st.members[n]
		if err != nil || m == nil {
			return resp, errResp(http.StatusNotFound, "NotFound")
		}
		expand := o != nil && deref(o.Expand) == armcompute.InstanceViewTypesInstanceView
		return ok(armcompute.VirtualMachineScaleSetVMsClientGetResponse{VirtualMachineScaleSetVM: s.renderMember(st, m, now, expand)}), e
	}
}

// liveSet is the scale set name, not being deleted, or the error Azure answers.
func (s *Server) liveSet(rg, name string, now time.Time) (*setState, *azfake.ErrorResponder) {
	s.advance(now)
	st := s.sets[strings.ToLower(name)]
	switch {
	case !s.rgOK(rg):
		er := rgNotFound()
		return nil, &er
	case st == nil:
		er := notFound()
		return nil, &er
	case !st.deleteAt.IsZero():
		er := errResp(http.StatusConflict, "OperationNotAllowed")
		return nil, &er
	}
	return st, nil
}

func (s *Server) setPut(_ context.Context, rg, name string, body armcompute.VirtualMachineScaleSet, o *armcompute.VirtualMachineScaleSetsClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armcompute.VirtualMachineScaleSetsClientCreateOrUpdateResponse], e azfake.ErrorResponder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.advance(now)
	key := strings.ToLower(name)
	old := s.sets[key]
	switch {
	case !s.rgOK(rg):
		return resp, rgNotFound()
	case old != nil && o != nil && deref(o.IfNoneMatch) == "*":
		return resp, errResp(http.StatusPreconditionFailed, "PreconditionFailed")
	case old != nil:
		return resp, errResp(http.StatusConflict, "PropertyChangeNotAllowed") // the fake updates scale sets by PATCH only
	}
	p := body.Properties
	if p == nil || p.VirtualMachineProfile == nil || body.SKU == nil || body.SKU.Capacity == nil || *body.SKU.Capacity < 0 ||
		deref(p.OrchestrationMode) != armcompute.OrchestrationModeUniform || len(name) > 64 || strings.ContainsAny(name, " /\\") {
		return resp, invalid()
	}
	vp := p.VirtualMachineProfile
	if vp.OSProfile == nil || vp.NetworkProfile == nil || len(vp.NetworkProfile.NetworkInterfaceConfigurations) == 0 {
		return resp, invalid()
	}
	prefix := deref(vp.OSProfile.ComputerNamePrefix)
	custom, bad := s.checkOSProfile(deref(vp.OSProfile.AdminUsername), vp.OSProfile.LinuxConfiguration, vp.OSProfile.CustomData)
	size := deref(body.SKU.Name)
	switch {
	case bad || prefix == "" || len(prefix) > 15 || s.sku(size) == nil:
		return resp, invalid()
	case deref(vp.Priority) == armcompute.VirtualMachinePriorityTypesSpot && vp.EvictionPolicy == nil:
		return resp, invalid()
	}
	for _, z := range body.Zones {
		if !s.zoneOK(deref(z)) {
			return resp, invalid()
		}
		if s.restricted(size, deref(z)) {
			return resp, errResp(http.StatusConflict, "SkuNotAvailable")
		}
	}
	st := &setState{set: clone(body), members: map[int]*member{}}
	st.set.ID = ptr(s.id("Microsoft.Compute", "virtualMachineScaleSets", name))
	st.set.Name, st.set.Type = &name, ptr("Microsoft.Compute/virtualMachineScaleSets")
	st.set.Properties.VirtualMachineProfile.OSProfile.CustomData = nil
	st.set.Properties.ProvisioningState = ptr("Succeeded")
	st.set.Properties.TimeCreated = ptr(now.UTC())
	st.set.Properties.UniqueID = ptr(randomID())
	s.sets[key] = st
	if custom != "" {
		s.custom[key] = custom
	}
	s.scale(st, now)
	return done(http.StatusCreated, armcompute.VirtualMachineScaleSetsClientCreateOrUpdateResponse{VirtualMachineScaleSet: clone(st.set)}), e
}

// scale creates or deletes members until capacity are not being deleted. New members go
// to the zone with the fewest members among those with capacity for the size (best-effort
// zone balance); with none, a member fails. Scale-in deletes the highest instance IDs.
func (s *Server) scale(st *setState, now time.Time) {
	want := int(deref(st.set.SKU.Capacity))
	size := deref(st.set.SKU.Name)
	var live []*member
	for _, id := range slices.Sorted(maps.Keys(st.members)) {
		if m := st.members[id]; m.deleteAt.IsZero() {
			live = append(live, m)
		}
	}
	for i := len(live) - 1; i >= want; i-- {
		live[i].deleteAt = now.Add(s.opts.Latency)
	}
	var zones []string
	for _, z := range st.set.Zones {
		zones = append(zones, deref(z))
	}
	for n := len(live); n < want; n++ {
		m := &member{id: st.nextID, created: now, ready: now.Add(s.opts.Latency)}
		st.nextID++
		if len(zones) > 0 {
			best, count := "", 0
			for _, z := range zones {
				if s.stockedOut(z, size) {
					continue
				}
				c := 0
				for _, o := range live {
					if o.zone == z {
						c++
					}
				}
				if best == "" || c < count {
					best, count = z, c
				}
			}
			m.zone = best
			if best == "" {
				m.zone, m.failed = zones[0], true
			}
		} else if s.stockedOut("", size) {
			m.failed = true
		}
		st.members[m.id] = m
		live = append(live, m)
	}
}

func (s *Server) renderMember(st *setState, m *member, now time.Time, expand bool) armcompute.VirtualMachineScaleSetVM {
	setName := deref(st.set.Name)
	id := strconv.Itoa(m.id)
	prefix := deref(st.set.Properties.VirtualMachineProfile.OSProfile.ComputerNamePrefix)
	computer := prefix + strings.ToUpper(leftPad(strconv.FormatInt(int64(m.id), 36), 6))
	prov, power := m.phase(now)
	vm := armcompute.VirtualMachineScaleSetVM{
		ID:         ptr(deref(st.set.ID) + "/virtualMachines/" + id),
		Name:       ptr(setName + "_" + id),
		InstanceID: &id,
		Location:   st.set.Location,
		SKU:        &armcompute.SKU{Name: st.set.SKU.Name, Tier: st.set.SKU.Tier},
		Type:       ptr("Microsoft.Compute/virtualMachineScaleSets/virtualMachines"),
		Properties: &armcompute.VirtualMachineScaleSetVMProperties{
			ProvisioningState:  &prov,
			TimeCreated:        ptr(m.created.UTC()),
			LatestModelApplied: ptr(true),
			OSProfile:          &armcompute.OSProfile{ComputerName: &computer, AdminUsername: st.set.Properties.VirtualMachineProfile.OSProfile.AdminUsername},
		},
	}
	if m.zone != "" {
		vm.Zones = []*string{ptr(m.zone)}
	}
	if expand {
		vm.Properties.InstanceView = &armcompute.VirtualMachineScaleSetVMInstanceView{
			ComputerName: &computer,
			Statuses: []*armcompute.InstanceViewStatus{
				{Code: ptr("ProvisioningState/" + strings.ToLower(prov))},
				{Code: ptr("PowerState/" + power)},
			},
		}
	}
	return vm
}

func leftPad(s string, n int) string {
	for len(s) < n {
		s = "0" + s
	}
	return s
}
