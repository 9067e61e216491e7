package azure

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"

	"github.com/algos-dev/algos/clouds"
)

// Names of the parts of every load balancer the driver creates.
const (
	lbFrontend = "frontend"
	lbPool     = "backend"
	lbProbe    = "probe"
	lbRule     = "rule"
)

// pipName is the name of the public IP address of load balancer lb.
func pipName(lb string) string { return lb + "-ip" }

// CreateLoadBalancer creates a Standard load balancer named spec.Name: one frontend (a new
// Standard static public IP "<name>-ip", or a private address in Config.SubnetID when
// Internal), one backend pool, one health probe and one rule from Port to TargetPort. Azure
// Load Balancer works at layer 4: ProtocolHTTP is forwarded as TCP (its health check may
// be HTTP) and ProtocolHTTPS, which needs TLS termination (Application Gateway), is
// ErrInvalid. It polls the creation to its end; Address is set.
func (d *Driver) CreateLoadBalancer(ctx context.Context, spec clouds.LoadBalancerSpec) (clouds.LoadBalancer, error) {
	what := fmt.Sprintf("create load balancer %q", spec.Name)
	lb, err := d.lbModel(spec)
	if err != nil {
		return clouds.LoadBalancer{}, fmt.Errorf("azure: %s: %w", what, err)
	}
	if _, err := d.lbs.Get(ctx, d.cfg.ResourceGroup, spec.Name, nil); err == nil {
		return clouds.LoadBalancer{}, fmt.Errorf("azure: %s: %w", what, clouds.ErrAlreadyExists)
	} else if !isNotFound(err) {
		return clouds.LoadBalancer{}, d.mapError(err, what, nil)
	}
	fe := lb.Properties.FrontendIPConfigurations[0].Properties
	if !spec.Internal {
		pip := armnetwork.PublicIPAddress{
			Location: &d.cfg.Location,
			Tags:     azureTags(spec.Tags),
			SKU:      &armnetwork.PublicIPAddressSKU{Name: to.Ptr(armnetwork.PublicIPAddressSKUNameStandard)},
			Properties: &armnetwork.PublicIPAddressPropertiesFormat{
				PublicIPAllocationMethod: to.Ptr(armnetwork.IPAllocationMethodStatic),
			},
		}
		if zones := lbZones(spec, d.cfg.Zones); len(zones) > 0 {
			pip.Zones = to.SliceOfPtrs(zones...)
		}
		p, err := d.pips.BeginCreateOrUpdate(ctx, d.cfg.ResourceGroup, pipName(spec.Name), pip, nil)
		var res armnetwork.PublicIPAddressesClientCreateOrUpdateResponse
		if err == nil {
			res, err = wait(ctx, d, p)
		}
		if err != nil {
			d.deletePublicIP(ctx, spec.Name)
			return clouds.LoadBalancer{}, d.mapError(err, fmt.Sprintf("create public IP for load balancer %q", spec.Name), nil)
		}
		fe.PublicIPAddress = &armnetwork.PublicIPAddress{ID: res.ID}
	}
	p, err := d.lbs.BeginCreateOrUpdate(ctx, d.cfg.ResourceGroup, spec.Name, lb, nil)
	if err == nil {
		_, err = wait(ctx, d, p)
	}
	if err != nil {
		if !spec.Internal {
			d.deletePublicIP(ctx, spec.Name)
		}
		return clouds.LoadBalancer{}, d.mapError(err, what, nil)
	}
	d.log.Info("load balancer created", "load_balancer", spec.Name, "internal", spec.Internal, "port", spec.Port)
	return d.GetLoadBalancer(ctx, spec.Name)
}

func lbZones(spec clouds.LoadBalancerSpec, def []string) []string {
	if len(spec.Zones) > 0 {
		return spec.Zones
	}
	return def
}

// lbModel is the load balancer of spec, without its public IP.
func (d *Driver) lbModel(spec clouds.LoadBalancerSpec) (armnetwork.LoadBalancer, error) {
	switch {
	case spec.Name == "":
		return armnetwork.LoadBalancer{}, fmt.Errorf("name is empty: %w", clouds.ErrInvalid)
	case spec.Port < 1 || spec.Port > 65535 || spec.TargetPort < 0 || spec.TargetPort > 65535:
		return armnetwork.LoadBalancer{}, fmt.Errorf("port %d, target port %d: want 1..65535: %w", spec.Port, spec.TargetPort, clouds.ErrInvalid)
	case spec.Protocol == clouds.ProtocolHTTPS:
		return armnetwork.LoadBalancer{}, fmt.Errorf("protocol https: Azure Load Balancer works at layer 4; terminate TLS on the targets and use tcp: %w", clouds.ErrInvalid)
	case spec.Protocol != "" && spec.Protocol != clouds.ProtocolTCP && spec.Protocol != clouds.ProtocolHTTP:
		return armnetwork.LoadBalancer{}, fmt.Errorf("protocol %q: want tcp or http: %w", spec.Protocol, clouds.ErrInvalid)
	}
	target := spec.TargetPort
	if target == 0 {
		target = spec.Port
	}
	hc := spec.HealthCheck
	probe := &armnetwork.ProbePropertiesFormat{
		Protocol:          to.Ptr(armnetwork.ProbeProtocolTCP),
		Port:              to.Ptr(int32(target)),
		IntervalInSeconds: to.Ptr(int32(max(5, int(hc.Interval/time.Second)))),
		NumberOfProbes:    to.Ptr(int32(max(1, hc.UnhealthyThreshold))),
		ProbeThreshold:    to.Ptr(int32(max(1, hc.HealthyThreshold))),
	}
	if hc.Port != 0 {
		probe.Port = to.Ptr(int32(hc.Port))
	}
	switch hc.Protocol {
	case clouds.ProtocolHTTP, clouds.ProtocolHTTPS:
		probe.Protocol = to.Ptr(armnetwork.ProbeProtocolHTTP)
		if hc.Protocol == clouds.ProtocolHTTPS {
			probe.Protocol = to.Ptr(armnetwork.ProbeProtocolHTTPS)
		}
		probe.RequestPath = to.Ptr(cmpOr(hc.Path, "/"))
	case "", clouds.ProtocolTCP:
	default:
		return armnetwork.LoadBalancer{}, fmt.Errorf("health check protocol %q: %w", hc.Protocol, clouds.ErrInvalid)
	}
	id := d.lbID(spec.Name)
	fe := &armnetwork.FrontendIPConfigurationPropertiesFormat{}
	var feZones []*string
	if spec.Internal {
		fe.Subnet = &armnetwork.Subnet{ID: &d.cfg.SubnetID}
		fe.PrivateIPAllocationMethod = to.Ptr(armnetwork.IPAllocationMethodDynamic)
		feZones = to.SliceOfPtrs(lbZones(spec, d.cfg.Zones)...)
	}
	return armnetwork.LoadBalancer{
		Location: &d.cfg.Location,
		Tags:     azureTags(spec.Tags),
		SKU:      &armnetwork.LoadBalancerSKU{Name: to.Ptr(armnetwork.LoadBalancerSKUNameStandard), Tier: to.Ptr(armnetwork.LoadBalancerSKUTierRegional)},
		Properties: &armnetwork.LoadBalancerPropertiesFormat{
			FrontendIPConfigurations: []*armnetwork.FrontendIPConfiguration{{Name: to.Ptr(lbFrontend), Properties: fe, Zones: feZones}},
			BackendAddressPools:      []*armnetwork.BackendAddressPool{{Name: to.Ptr(lbPool)}},
			Probes:                   []*armnetwork.Probe{{Name: to.Ptr(lbProbe), Properties: probe}},
			LoadBalancingRules: []*armnetwork.LoadBalancingRule{{
				Name: to.Ptr(lbRule),
				Properties: &armnetwork.LoadBalancingRulePropertiesFormat{
					Protocol:                to.Ptr(armnetwork.TransportProtocolTCP),
					FrontendPort:            to.Ptr(int32(spec.Port)),
					BackendPort:             to.Ptr(int32(target)),
					FrontendIPConfiguration: &armnetwork.SubResource{ID: to.Ptr(id + "/frontendIPConfigurations/" + lbFrontend)},
					BackendAddressPool:      &armnetwork.SubResource{ID: to.Ptr(id + "/backendAddressPools/" + lbPool)},
					Probe:                   &armnetwork.SubResource{ID: to.Ptr(id + "/probes/" + lbProbe)},
					EnableTCPReset:          to.Ptr(true),
					DisableOutboundSnat:     to.Ptr(true),
				},
			}},
		},
	}, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (d *Driver) lbID(name string) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/loadBalancers/%s",
		d.cfg.SubscriptionID, d.cfg.ResourceGroup, name)
}

// GetLoadBalancer returns the load balancer, its address and its targets: the instances
// whose NICs are in its backend pool, with the health its rule's Health API reports
// (Up → healthy, Down → unhealthy, not yet probed → unknown).
func (d *Driver) GetLoadBalancer(ctx context.Context, name string) (clouds.LoadBalancer, error) {
	lb, err := d.getLB(ctx, name)
	if err != nil {
		return clouds.LoadBalancer{}, err
	}
	out := clouds.LoadBalancer{Name: deref(lb.Name), ID: deref(lb.ID)}
	p := lb.Properties
	if p == nil {
		return out, nil
	}
	for _, r := range p.LoadBalancingRules {
		if r != nil && r.Properties != nil {
			out.Port = int(deref(r.Properties.FrontendPort))
			break
		}
	}
	for _, fe := range p.FrontendIPConfigurations {
		if fe == nil || fe.Properties == nil {
			continue
		}
		if addr := deref(fe.Properties.PrivateIPAddress); addr != "" && fe.Properties.PublicIPAddress == nil {
			out.Address = addr
		} else if pip := fe.Properties.PublicIPAddress; pip != nil && pip.ID != nil {
			res, err := d.pips.Get(ctx, d.cfg.ResourceGroup, lastSegment(*pip.ID), nil)
			if err != nil {
				return clouds.LoadBalancer{}, d.mapError(err, fmt.Sprintf("get public IP of load balancer %q", name), nil)
			}
			if res.Properties != nil {
				out.Address = deref(res.Properties.IPAddress)
			}
		}
		break
	}
	configs := poolConfigs(lb)
	if len(configs) == 0 {
		return out, nil
	}
	health := d.targetHealth(ctx, lb)
	if err := ctx.Err(); err != nil {
		return clouds.LoadBalancer{}, fmt.Errorf("azure: get load balancer %q: %w", name, err)
	}
	for _, c := range configs {
		h, ok := health[strings.ToLower(c)]
		if !ok {
			h = clouds.TargetUnknown
		}
		out.Targets = append(out.Targets, clouds.Target{InstanceID: instanceOfIPConfig(c), Health: h})
	}
	return out, nil
}

func (d *Driver) getLB(ctx context.Context, name string) (*armnetwork.LoadBalancer, error) {
	if name == "" {
		return nil, fmt.Errorf("azure: get load balancer: empty name: %w", clouds.ErrNotFound)
	}
	res, err := d.lbs.Get(ctx, d.cfg.ResourceGroup, name, nil)
	if err != nil {
		return nil, d.mapError(err, fmt.Sprintf("get load balancer %q", name), nil)
	}
	return &res.LoadBalancer, nil
}

// targetHealth asks the first rule's Health API; on failure every target is unknown.
func (d *Driver) targetHealth(ctx context.Context, lb *armnetwork.LoadBalancer) map[string]clouds.TargetHealth {
	rule := ""
	for _, r := range lb.Properties.LoadBalancingRules {
		if r != nil && r.Name != nil {
			rule = *r.Name
			break
		}
	}
	if rule == "" {
		return nil
	}
	p, err := d.lbRules.BeginHealth(ctx, d.cfg.ResourceGroup, deref(lb.Name), rule, nil)
	var res armnetwork.LoadBalancerLoadBalancingRulesClientHealthResponse
	if err == nil {
		res, err = wait(ctx, d, p)
	}
	if err != nil {
		d.log.Debug("load balancer health", "load_balancer", deref(lb.Name), "error", err)
		return nil
	}
	m := map[string]clouds.TargetHealth{}
	for _, a := range res.LoadBalancerBackendAddresses {
		if a == nil || a.NetworkInterfaceIPConfigurationID == nil {
			continue
		}
		h := clouds.TargetUnknown
		switch strings.ToLower(deref(a.State)) {
		case "up":
			h = clouds.TargetHealthy
		case "down":
			h = clouds.TargetUnhealthy
		}
		m[strings.ToLower(*a.NetworkInterfaceIPConfigurationID)] = h
	}
	return m
}

// poolConfigs are the NIC IP configuration IDs in the load balancer's backend pools.
func poolConfigs(lb *armnetwork.LoadBalancer) []string {
	var ids []string
	for _, pool := range lb.Properties.BackendAddressPools {
		if pool == nil || pool.Properties == nil {
			continue
		}
		for _, c := range pool.Properties.BackendIPConfigurations {
			if c != nil && c.ID != nil && !slices.Contains(ids, *c.ID) {
				ids = append(ids, *c.ID)
			}
		}
	}
	return ids
}

// instanceOfIPConfig is the instance ID of a NIC IP configuration ID: the VM of
// ".../networkInterfaces/<vm>-nic/..." or the member of a scale set NIC
// (".../virtualMachineScaleSets/<set>/virtualMachines/<n>/networkInterfaces/...").
func instanceOfIPConfig(id string) string {
	if set := segmentAfter(id, "virtualMachineScaleSets"); set != "" {
		return set + "_" + segmentAfter(id, "virtualMachines")
	}
	nic := segmentAfter(id, "networkInterfaces")
	return strings.TrimSuffix(nic, "-nic")
}

// RegisterTargets adds each VM's primary NIC IP configuration to the backend pool.
// Scale set members are ErrInvalid: they join through the scale set's model.
func (d *Driver) RegisterTargets(ctx context.Context, name string, instanceIDs ...string) error {
	return d.setMembership(ctx, name, instanceIDs, true)
}

// DeregisterTargets removes each VM's NIC IP configurations from the backend pool; unknown
// instances are skipped.
func (d *Driver) DeregisterTargets(ctx context.Context, name string, instanceIDs ...string) error {
	return d.setMembership(ctx, name, instanceIDs, false)
}

func (d *Driver) setMembership(ctx context.Context, name string, ids []string, in bool) error {
	lb, err := d.getLB(ctx, name)
	if err != nil {
		return err
	}
	pool := d.lbID(deref(lb.Name)) + "/backendAddressPools/" + lbPool
	for _, id := range ids {
		if _, _, ok := splitMemberID(id); ok && in {
			return fmt.Errorf("azure: register %q with load balancer %q: scale set members join through the scale set's network profile: %w", id, name, clouds.ErrInvalid)
		}
		vm, err := d.vms.Get(ctx, d.cfg.ResourceGroup, id, nil)
		if err != nil {
			if isNotFound(err) && !in {
				continue
			}
			return d.mapError(err, fmt.Sprintf("get VM %q for load balancer %q", id, name), nil)
		}
		nic := primaryNIC(&vm.VirtualMachine)
		if nic == "" {
			return fmt.Errorf("azure: VM %q has no network interface: %w", id, clouds.ErrInvalid)
		}
		if err := d.updatePool(ctx, lastSegment(nic), pool, in); err != nil {
			if isNotFound(err) && !in {
				continue
			}
			return d.mapError(err, fmt.Sprintf("update network interface of %q for load balancer %q", id, name), nil)
		}
	}
	return nil
}

// updatePool adds the NIC's primary IP configuration to pool (in) or removes every IP
// configuration of the NIC from it: a read-modify-write under the NIC's lock (this process)
// whose PUT carries If-Match: the NIC's ETag (other writers), so that it neither overwrites a
// concurrent change nor re-creates a NIC deleted meanwhile with its VM (Azure's PUT is an
// upsert); a lost race (412) is retried from the read. Errors are unmapped.
func (d *Driver) updatePool(ctx context.Context, nicName, pool string, in bool) error {
	unlock := d.nicLocks.lock(strings.ToLower(nicName))
	defer unlock()
	again := func(err error) bool { return transient(err) || isPreconditionFailed(err) }
	return d.consistently(ctx, "update network interface", again, func() error {
		res, err := d.nics.Get(ctx, d.cfg.ResourceGroup, nicName, nil)
		if err != nil {
			return err
		}
		nic := res.Interface
		if nic.Properties == nil {
			return errors.New("network interface has no properties")
		}
		changed := false
		for i, c := range nic.Properties.IPConfigurations {
			if c == nil || c.Properties == nil {
				continue
			}
			has := slices.IndexFunc(c.Properties.LoadBalancerBackendAddressPools, func(p *armnetwork.BackendAddressPool) bool {
				return p != nil && strings.EqualFold(deref(p.ID), pool)
			})
			switch {
			case in && has < 0 && (i == 0 || deref(c.Properties.Primary)):
				c.Properties.LoadBalancerBackendAddressPools = append(c.Properties.LoadBalancerBackendAddressPools, &armnetwork.BackendAddressPool{ID: &pool})
				changed = true
			case !in && has >= 0:
				c.Properties.LoadBalancerBackendAddressPools = slices.Delete(c.Properties.LoadBalancerBackendAddressPools, has, has+1)
				changed = true
			}
			if in && changed {
				break
			}
		}
		if !changed {
			return nil
		}
		put := ctx
		if nic.Etag != nil {
			put = policy.WithHTTPHeader(ctx, http.Header{"If-Match": {*nic.Etag}})
		}
		p, err := d.nics.BeginCreateOrUpdate(put, d.cfg.ResourceGroup, nicName, nic, nil)
		if err != nil {
			return err
		}
		_, err = wait(ctx, d, p)
		return err
	})
}

// DeleteLoadBalancer takes every NIC out of the backend pool, deletes the load balancer
// and then its public IP, polling each to its end.
func (d *Driver) DeleteLoadBalancer(ctx context.Context, name string) error {
	if name == "" {
		return nil
	}
	lb, err := d.getLB(ctx, name)
	if errors.Is(err, clouds.ErrNotFound) {
		return d.mapError(d.deletePublicIPErr(ctx, name), fmt.Sprintf("delete public IP of load balancer %q", name), nil)
	}
	if err != nil {
		return err
	}
	pool := d.lbID(deref(lb.Name)) + "/backendAddressPools/" + lbPool
	for _, c := range poolConfigs(lb) {
		if segmentAfter(c, "virtualMachineScaleSets") != "" {
			continue
		}
		if err := d.updatePool(ctx, segmentAfter(c, "networkInterfaces"), pool, false); err != nil && !isNotFound(err) {
			return d.mapError(err, fmt.Sprintf("remove %s from load balancer %q", instanceOfIPConfig(c), name), nil)
		}
	}
	err = d.consistently(ctx, "delete load balancer", transient, func() error {
		p, err := d.lbs.BeginDelete(ctx, d.cfg.ResourceGroup, name, nil)
		if err == nil {
			_, err = wait(ctx, d, p)
		}
		return err
	})
	if err != nil && !isNotFound(err) {
		return d.mapError(err, fmt.Sprintf("delete load balancer %q", name), nil)
	}
	if err := d.deletePublicIPErr(ctx, name); err != nil {
		return d.mapError(err, fmt.Sprintf("delete public IP of load balancer %q", name), nil)
	}
	d.log.Info("load balancer deleted", "load_balancer", name)
	return nil
}

// deletePublicIPErr deletes the load balancer's public IP; not found is success.
func (d *Driver) deletePublicIPErr(ctx context.Context, lb string) error {
	err := d.consistently(ctx, "delete public IP", transient, func() error {
		p, err := d.pips.BeginDelete(ctx, d.cfg.ResourceGroup, pipName(lb), nil)
		if err == nil {
			_, err = wait(ctx, d, p)
		}
		return err
	})
	if isNotFound(err) {
		return nil
	}
	return err
}

// deletePublicIP cleans up after a failed create, even when ctx is done.
func (d *Driver) deletePublicIP(ctx context.Context, lb string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.ConsistencyTimeout)
	defer cancel()
	if err := d.deletePublicIPErr(ctx, lb); err != nil {
		d.log.Warn("clean up failed load balancer: delete public IP", "load_balancer", lb, "error", err)
	}
}
