package azurefake

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"
	networkfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9/fake"
)

type nicState struct {
	nic       armnetwork.Interface
	etag      int
	vm        string               // owner VM (lower-case name), "" when none
	poolSince map[string]time.Time // backend pool ID (lower) → when the NIC joined it
}

type pipState struct{ pip armnetwork.PublicIPAddress }

type lbState struct{ lb armnetwork.LoadBalancer }

func (s *Server) networkNICs(srv *networkfake.InterfacesServer) {
	srv.BeginCreateOrUpdate = s.nicPut
	srv.Get = func(_ context.Context, rg, name string, _ *armnetwork.InterfacesClientGetOptions) (resp azfake.Responder[armnetwork.InterfacesClientGetResponse], e azfake.ErrorResponder) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.advance(time.Now())
		n := s.nics[strings.ToLower(name)]
		if !s.rgOK(rg) || n == nil {
			return resp, notFound()
		}
		return ok(armnetwork.InterfacesClientGetResponse{Interface: s.renderNIC(n)}), e
	}
	srv.BeginDelete = func(_ context.Context, rg, name string, _ *armnetwork.InterfacesClientBeginDeleteOptions) (resp azfake.PollerResponder[armnetwork.InterfacesClientDeleteResponse], e azfake.ErrorResponder) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.advance(time.Now())
		if !s.rgOK(rg) {
			return resp, rgNotFound()
		}
		key := strings.ToLower(name)
		n := s.nics[key]
		switch {
		case n == nil:
			return done(http.StatusNoContent, armnetwork.InterfacesClientDeleteResponse{}), e
		case n.vm != "":
			return resp, errResp(http.StatusBadRequest, "NicInUse")
		}
		delete(s.nics, key)
		return async(http.StatusAccepted, http.StatusOK, armnetwork.InterfacesClientDeleteResponse{}), e
	}
	srv.NewListPager = func(rg string, _ *armnetwork.InterfacesClientListOptions) azfake.PagerResponder[armnetwork.InterfacesClientListResponse] {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.advance(time.Now())
		if !s.rgOK(rg) {
			return pageErr[armnetwork.InterfacesClientListResponse](http.StatusNotFound, "ResourceGroupNotFound")
		}
		var list armnetwork.InterfaceListResult
		for _, n := range s.nics {
			nic := s.renderNIC(n)
			list.Value = append(list.Value, &nic)
		}
		return onePage(armnetwork.InterfacesClientListResponse{InterfaceListResult: list})
	}
}

func (s *Server) nicPut(ctx context.Context, rg, name string, body armnetwork.Interface, _ *armnetwork.InterfacesClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armnetwork.InterfacesClientCreateOrUpdateResponse], e azfake.ErrorResponder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.advance(now)
	if !s.rgOK(rg) {
		return resp, rgNotFound()
	}
	if body.Properties == nil || len(body.Properties.IPConfigurations) == 0 {
		return resp, invalid()
	}
	key := strings.ToLower(name)
	old := s.nics[key]
	if match := ifMatch(ctx); match != "" && (old == nil || (match != "*" && match != nicETag(old.etag))) {
		return resp, errResp(http.StatusPreconditionFailed, "PreconditionFailed")
	}
	id := s.id("Microsoft.Network", "networkInterfaces", name)
	nic := clone(body)
	nic.ID, nic.Name, nic.Type = &id, &name, ptr("Microsoft.Network/networkInterfaces")
	nic.Properties.ProvisioningState = ptr(armnetwork.ProvisioningStateSucceeded)
	since := map[string]time.Time{}
	for i, c := range nic.Properties.IPConfigurations {
		if c == nil || c.Name == nil || c.Properties == nil || c.Properties.Subnet == nil || deref(c.Properties.Subnet.ID) == "" {
			return resp, invalid()
		}
		c.ID = ptr(id + "/ipConfigurations/" + *c.Name)
		for _, p := range c.Properties.LoadBalancerBackendAddressPools {
			pid := strings.ToLower(deref(p.ID))
			if !s.poolExists(pid) {
				return resp, errResp(http.StatusBadRequest, "InvalidResourceReference")
			}
			since[pid] = now
			if old != nil {
				if t, ok := old.poolSince[pid]; ok {
					since[pid] = t
				}
			}
		}
		addr := ""
		if old != nil && i < len(old.nic.Properties.IPConfigurations) {
			addr = deref(old.nic.Properties.IPConfigurations[i].Properties.PrivateIPAddress)
		}
		if addr == "" {
			addr = s.nextIP("10.0")
		}
		c.Properties.PrivateIPAddress = &addr
		c.Properties.ProvisioningState = ptr(armnetwork.ProvisioningStateSucceeded)
	}
	n := &nicState{nic: nic, poolSince: since, etag: 1}
	status := http.StatusCreated
	if old != nil {
		n.vm, n.etag, status = old.vm, old.etag+1, http.StatusOK
	}
	s.nics[key] = n
	return async(status, http.StatusOK, armnetwork.InterfacesClientCreateOrUpdateResponse{Interface: s.renderNIC(n)}), e
}

func (s *Server) renderNIC(n *nicState) armnetwork.Interface {
	nic := clone(n.nic)
	nic.Etag = ptr(nicETag(n.etag))
	if n.vm != "" {
		nic.Properties.VirtualMachine = &armnetwork.SubResource{ID: ptr(s.id("Microsoft.Compute", "virtualMachines", n.vm))}
	}
	return nic
}

// poolExists reports whether a backend pool ID (lower case) names a pool of a load balancer.
func (s *Server) poolExists(pid string) bool {
	lb := s.lbs[strings.ToLower(segmentAfter(pid, "loadBalancers"))]
	if lb == nil {
		return false
	}
	return slices.ContainsFunc(lb.lb.Properties.BackendAddressPools, func(p *armnetwork.BackendAddressPool) bool {
		return strings.EqualFold(deref(p.ID), pid)
	})
}

func (s *Server) networkPIPs(srv *networkfake.PublicIPAddressesServer) {
	srv.BeginCreateOrUpdate = func(_ context.Context, rg, name string, body armnetwork.PublicIPAddress, _ *armnetwork.PublicIPAddressesClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armnetwork.PublicIPAddressesClientCreateOrUpdateResponse], e azfake.ErrorResponder) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.rgOK(rg) {
			return resp, rgNotFound()
		}
		for _, z := range body.Zones {
			if !s.zoneOK(deref(z)) {
				return resp, invalid()
			}
		}
		key := strings.ToLower(name)
		pip := clone(body)
		pip.ID, pip.Name = ptr(s.id("Microsoft.Network", "publicIPAddresses", name)), &name
		if pip.Properties == nil {
			pip.Properties = &armnetwork.PublicIPAddressPropertiesFormat{}
		}
		if old := s.pips[key]; old != nil {
			pip.Properties.IPAddress = old.pip.Properties.IPAddress
		} else {
			pip.Properties.IPAddress = ptr(s.nextIP("20.1"))
		}
		pip.Properties.ProvisioningState = ptr(armnetwork.ProvisioningStateSucceeded)
		s.pips[key] = &pipState{pip: pip}
		return async(http.StatusCreated, http.StatusOK, armnetwork.PublicIPAddressesClientCreateOrUpdateResponse{PublicIPAddress: clone(pip)}), e
	}
	srv.Get = func(_ context.Context, rg, name string, _ *armnetwork.PublicIPAddressesClientGetOptions) (resp azfake.Responder[armnetwork.PublicIPAddressesClientGetResponse], e azfake.ErrorResponder) {
		s.mu.Lock()
		defer s.mu.Unlock()
		p := s.pips[strings.ToLower(name)]
		if !s.rgOK(rg) || p == nil {
			return resp, notFound()
		}
		return ok(armnetwork.PublicIPAddressesClientGetResponse{PublicIPAddress: clone(p.pip)}), e
	}
	srv.BeginDelete = func(_ context.Context, rg, name string, _ *armnetwork.PublicIPAddressesClientBeginDeleteOptions) (resp azfake.PollerResponder[armnetwork.PublicIPAddressesClientDeleteResponse], e azfake.ErrorResponder) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.rgOK(rg) {
			return resp, rgNotFound()
		}
		key := strings.ToLower(name)
		p := s.pips[key]
		if p == nil {
			return done(http.StatusNoContent, armnetwork.PublicIPAddressesClientDeleteResponse{}), e
		}
		for _, lb := range s.lbs {
			for _, fe := range lb.lb.Properties.FrontendIPConfigurations {
				if fe.Properties.PublicIPAddress != nil && strings.EqualFold(deref(fe.Properties.PublicIPAddress.ID), deref(p.pip.ID)) {
					return resp, errResp(http.StatusBadRequest, "PublicIPAddressCannotBeDeleted")
				}
			}
		}
		delete(s.pips, key)
		return async(http.StatusAccepted, http.StatusOK, armnetwork.PublicIPAddressesClientDeleteResponse{}), e
	}
}

func (s *Server) networkLBs(srv *networkfake.LoadBalancersServer, rules *networkfake.LoadBalancerLoadBalancingRulesServer) {
	srv.BeginCreateOrUpdate = s.lbPut
	srv.Get = func(_ context.Context, rg, name string, _ *armnetwork.LoadBalancersClientGetOptions) (resp azfake.Responder[armnetwork.LoadBalancersClientGetResponse], e azfake.ErrorResponder) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.advance(time.Now())
		lb := s.lbs[strings.ToLower(name)]
		if !s.rgOK(rg) || lb == nil {
			return resp, notFound()
		}
		return ok(armnetwork.LoadBalancersClientGetResponse{LoadBalancer: s.renderLB(lb)}), e
	}
	srv.BeginDelete = func(_ context.Context, rg, name string, _ *armnetwork.LoadBalancersClientBeginDeleteOptions) (resp azfake.PollerResponder[armnetwork.LoadBalancersClientDeleteResponse], e azfake.ErrorResponder) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.rgOK(rg) {
			return resp, rgNotFound()
		}
		key := strings.ToLower(name)
		lb := s.lbs[key]
		if lb == nil {
			return done(http.StatusNoContent, armnetwork.LoadBalancersClientDeleteResponse{}), e
		}
		delete(s.lbs, key)
		for _, n := range s.nics { // references to the deleted pools go with them
			for _, c := range n.nic.Properties.IPConfigurations {
				c.Properties.LoadBalancerBackendAddressPools = slices.DeleteFunc(c.Properties.LoadBalancerBackendAddressPools, func(p *armnetwork.BackendAddressPool) bool {
					return strings.EqualFold(segmentAfter(deref(p.ID), "loadBalancers"), name)
				})
			}
		}
		return async(http.StatusAccepted, http.StatusOK, armnetwork.LoadBalancersClientDeleteResponse{}), e
	}
	rules.BeginHealth = s.lbHealth
}

func (s *Server) lbPut(_ context.Context, rg, name string, body armnetwork.LoadBalancer, _ *armnetwork.LoadBalancersClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armnetwork.LoadBalancersClientCreateOrUpdateResponse], e azfake.ErrorResponder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.rgOK(rg) {
		return resp, rgNotFound()
	}
	p := body.Properties
	if p == nil || len(p.FrontendIPConfigurations) == 0 || body.SKU == nil || deref(body.SKU.Name) != armnetwork.LoadBalancerSKUNameStandard {
		return resp, invalid()
	}
	key := strings.ToLower(name)
	id := s.id("Microsoft.Network", "loadBalancers", name)
	lb := clone(body)
	lb.ID, lb.Name, lb.Type = &id, &name, ptr("Microsoft.Network/loadBalancers")
	lb.Properties.ProvisioningState = ptr(armnetwork.ProvisioningStateSucceeded)
	children := map[string]bool{}
	name2id := func(kind string, n *string) *string {
		cid := id + "/" + kind + "/" + deref(n)
		children[strings.ToLower(cid)] = true
		return &cid
	}
	for _, fe := range lb.Properties.FrontendIPConfigurations {
		fe.ID = name2id("frontendIPConfigurations", fe.Name)
		switch f := fe.Properties; {
		case f == nil:
			return resp, invalid()
		case f.PublicIPAddress != nil:
			if s.pips[strings.ToLower(segmentAfter(deref(f.PublicIPAddress.ID), "publicIPAddresses"))] == nil {
				return resp, errResp(http.StatusBadRequest, "InvalidResourceReference")
			}
		case f.Subnet != nil && deref(f.Subnet.ID) != "":
			f.PrivateIPAddress = ptr(s.nextIP("10.0"))
		default:
			return resp, invalid()
		}
	}
	for _, bp := range lb.Properties.BackendAddressPools {
		bp.ID = name2id("backendAddressPools", bp.Name)
	}
	for _, pr := range lb.Properties.Probes {
		pr.ID = name2id("probes", pr.Name)
	}
	for _, r := range lb.Properties.LoadBalancingRules {
		r.ID = name2id("loadBalancingRules", r.Name)
		rp := r.Properties
		if rp == nil || rp.FrontendIPConfiguration == nil || rp.BackendAddressPool == nil ||
			!children[strings.ToLower(deref(rp.FrontendIPConfiguration.ID))] || !children[strings.ToLower(deref(rp.BackendAddressPool.ID))] ||
			(rp.Probe != nil && !children[strings.ToLower(deref(rp.Probe.ID))]) {
			return resp, errResp(http.StatusBadRequest, "InvalidResourceReference")
		}
	}
	status := http.StatusCreated
	if s.lbs[key] != nil {
		status = http.StatusOK
	}
	st := &lbState{lb: lb}
	s.lbs[key] = st
	return async(status, http.StatusOK, armnetwork.LoadBalancersClientCreateOrUpdateResponse{LoadBalancer: s.renderLB(st)}), e
}

// renderLB fills each backend pool's read-only backendIPConfigurations from the NICs.
func (s *Server) renderLB(st *lbState) armnetwork.LoadBalancer {
	lb := clone(st.lb)
	for _, bp := range lb.Properties.BackendAddressPools {
		if bp.Properties == nil {
			bp.Properties = &armnetwork.BackendAddressPoolPropertiesFormat{}
		}
		for _, c := range s.poolMembers(deref(bp.ID)) {
			bp.Properties.BackendIPConfigurations = append(bp.Properties.BackendIPConfigurations, &armnetwork.InterfaceIPConfiguration{ID: c.ID})
		}
	}
	return lb
}

// poolMembers are the NIC IP configurations in a backend pool, sorted by ID.
func (s *Server) poolMembers(pool string) []*armnetwork.InterfaceIPConfiguration {
	var out []*armnetwork.InterfaceIPConfiguration
	for _, n := range s.nics {
		for _, c := range n.nic.Properties.IPConfigurations {
			if slices.ContainsFunc(c.Properties.LoadBalancerBackendAddressPools, func(p *armnetwork.BackendAddressPool) bool {
				return strings.EqualFold(deref(p.ID), pool)
			}) {
				out = append(out, c)
			}
		}
	}
	slices.SortFunc(out, func(a, b *armnetwork.InterfaceIPConfiguration) int { return strings.Compare(deref(a.ID), deref(b.ID)) })
	return out
}

// lbHealth is the rule's Health API: a NIC probed for Latency is Up when its VM runs, Down
// otherwise; one that joined more recently is not reported yet.
func (s *Server) lbHealth(_ context.Context, rg, lbName, rule string, _ *armnetwork.LoadBalancerLoadBalancingRulesClientBeginHealthOptions) (resp azfake.PollerResponder[armnetwork.LoadBalancerLoadBalancingRulesClientHealthResponse], e azfake.ErrorResponder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.advance(now)
	st := s.lbs[strings.ToLower(lbName)]
	if !s.rgOK(rg) || st == nil {
		return resp, notFound()
	}
	var pool string
	for _, r := range st.lb.Properties.LoadBalancingRules {
		if strings.EqualFold(deref(r.Name), rule) {
			pool = deref(r.Properties.BackendAddressPool.ID)
		}
	}
	if pool == "" {
		return resp, errResp(http.StatusNotFound, "NotFound")
	}
	var h armnetwork.LoadBalancerHealthPerRule
	var up, down int32
	for _, n := range s.nics {
		since, ok := n.poolSince[strings.ToLower(pool)]
		if !ok || now.Sub(since) < s.opts.Latency {
			continue
		}
		state := "Down"
		if v := s.vms[n.vm]; v != nil {
			if _, power := v.phase(now); power == "running" {
				state = "Up"
			}
		}
		if state == "Up" {
			up++
		} else {
			down++
		}
		for _, c := range n.nic.Properties.IPConfigurations {
			if slices.ContainsFunc(c.Properties.LoadBalancerBackendAddressPools, func(p *armnetwork.BackendAddressPool) bool {
				return strings.EqualFold(deref(p.ID), pool)
			}) {
				h.LoadBalancerBackendAddresses = append(h.LoadBalancerBackendAddresses, &armnetwork.LoadBalancerHealthPerRulePerBackendAddress{
					IPAddress: c.Properties.PrivateIPAddress, NetworkInterfaceIPConfigurationID: c.ID, State: ptr(state), Reason: ptr(state),
				})
			}
		}
	}
	h.Up, h.Down = &up, &down
	return async(http.StatusAccepted, http.StatusOK, armnetwork.LoadBalancerLoadBalancingRulesClientHealthResponse{LoadBalancerHealthPerRule: h}), e
}

func nicETag(n int) string { return fmt.Sprintf("W/\"%d\"", n) }
