package openstack

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/listeners"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/loadbalancers"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/monitors"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/pools"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"

	"github.com/algos-dev/algos/clouds"
)

// Tags the driver keeps on a load balancer for what Octavia's objects do not hold.
const (
	tagTargetPort = "algos:target-port="
	tagHealthPort = "algos:health-port="
)

// CreateLoadBalancer creates an Octavia load balancer on Config.Subnet (or Config.Network)
// in one fully populated call: a listener on Port (TCP, HTTP, or TERMINATED_HTTPS with
// CertificateID as the Barbican container ref), a ROUND_ROBIN pool (HTTP behind an https
// listener) and a health monitor from HealthCheck (delay, timeout, max_retries and
// max_retries_down in Octavia's bounds). Tags become Octavia tags "key=value". A
// non-internal load balancer gets a floating IP from Config.FloatingIPPool on its VIP
// port when the pool is set. Octavia names are not unique: the driver looks the name up
// first, so two concurrent creates of one name may both succeed. Zones are ignored
// (Octavia places amphorae itself). Errors: ErrAlreadyExists, ErrInvalid, *QuotaError.
func (d *Driver) CreateLoadBalancer(ctx context.Context, spec clouds.LoadBalancerSpec) (clouds.LoadBalancer, error) {
	op := "create load balancer " + spec.Name
	if err := ctx.Err(); err != nil {
		return clouds.LoadBalancer{}, d.wrap(op, err)
	}
	if err := d.need(d.lb, "load-balancer"); err != nil {
		return clouds.LoadBalancer{}, err
	}
	opts, err := d.lbOpts(spec)
	if err != nil {
		return clouds.LoadBalancer{}, &Error{Op: op, Kind: clouds.ErrInvalid, Message: err.Error()}
	}
	switch _, err := d.findLB(ctx, op, spec.Name); {
	case err == nil:
		return clouds.LoadBalancer{}, &Error{Op: op, Kind: clouds.ErrAlreadyExists, Message: fmt.Sprintf("a load balancer named %q exists", spec.Name)}
	case !errors.Is(err, clouds.ErrNotFound):
		return clouds.LoadBalancer{}, err
	}
	lb, err := loadbalancers.Create(ctx, d.lb, opts).Extract()
	if err != nil {
		return clouds.LoadBalancer{}, d.wrap(op, err)
	}
	d.log.Info("load balancer created", "load_balancer", spec.Name, "load_balancer_id", lb.ID)
	address := lb.VipAddress
	if !spec.Internal && d.floatingNet != "" {
		fip, err := floatingips.Create(ctx, d.network, floatingips.CreateOpts{
			FloatingNetworkID: d.floatingNet, PortID: lb.VipPortID, Description: "algos load balancer " + spec.Name}).Extract()
		if err != nil {
			// Converge: a retry would find the name taken.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
			defer cancel()
			if derr := d.DeleteLoadBalancer(ctx, spec.Name); derr != nil {
				d.log.Warn("could not delete a load balancer left without its floating IP", "load_balancer", spec.Name, "error", derr)
			}
			return clouds.LoadBalancer{}, d.wrap(op+": floating IP", err)
		}
		address = fip.FloatingIP
	}
	return clouds.LoadBalancer{Name: lb.Name, ID: lb.ID, Address: address, Port: spec.Port}, nil
}

// lbOpts builds the fully populated create request.
func (d *Driver) lbOpts(spec clouds.LoadBalancerSpec) (loadbalancers.CreateOpts, error) {
	var opts loadbalancers.CreateOpts
	targetPort := spec.TargetPort
	if targetPort == 0 {
		targetPort = spec.Port
	}
	hc := spec.HealthCheck
	switch {
	case spec.Name == "":
		return opts, errors.New("name is empty")
	case spec.Port < 1 || spec.Port > 65535 || targetPort < 1 || targetPort > 65535 || hc.Port < 0 || hc.Port > 65535:
		return opts, fmt.Errorf("ports %d → %d (health %d): want 1..65535", spec.Port, targetPort, hc.Port)
	case spec.Protocol == clouds.ProtocolHTTPS && spec.CertificateID == "":
		return opts, errors.New("an https listener needs CertificateID (a Barbican secret container ref)")
	case d.cfg.Subnet == "" && d.cfg.Network == "":
		return opts, errors.New("set Config.Subnet (or Config.Network) for load balancer VIPs and members")
	}
	listener := listeners.CreateOpts{ProtocolPort: spec.Port, Name: spec.Name}
	pool := &pools.CreateOpts{LBMethod: pools.LBMethodRoundRobin, Name: spec.Name}
	switch spec.Protocol {
	case clouds.ProtocolTCP, "":
		listener.Protocol, pool.Protocol = listeners.ProtocolTCP, pools.ProtocolTCP
	case clouds.ProtocolHTTP:
		listener.Protocol, pool.Protocol = listeners.ProtocolHTTP, pools.ProtocolHTTP
	case clouds.ProtocolHTTPS:
		listener.Protocol, pool.Protocol = listeners.Protocol("TERMINATED_HTTPS"), pools.ProtocolHTTP
		listener.DefaultTlsContainerRef = spec.CertificateID
	default:
		return opts, fmt.Errorf("protocol %q: want tcp, http or https", spec.Protocol)
	}
	secs := func(v time.Duration, def int) int {
		if v <= 0 {
			return def
		}
		return max(1, int((v+time.Second-1)/time.Second))
	}
	retries := func(n int) int { return min(max(n, 1), 10) }
	mon := monitors.CreateOpts{Delay: secs(hc.Interval, 5), Timeout: secs(hc.Timeout, 5),
		MaxRetries: retries(hc.HealthyThreshold), MaxRetriesDown: retries(hc.UnhealthyThreshold)}
	if hc.HealthyThreshold == 0 {
		mon.MaxRetries = 3
	}
	if hc.UnhealthyThreshold == 0 {
		mon.MaxRetriesDown = 3
	}
	mon.Timeout = min(mon.Timeout, mon.Delay)
	switch hc.Protocol {
	case clouds.ProtocolHTTP, clouds.ProtocolHTTPS:
		mon.Type, mon.HTTPMethod, mon.ExpectedCodes = strings.ToUpper(string(hc.Protocol)), "GET", "200-399"
		mon.URLPath = hc.Path
		if mon.URLPath == "" {
			mon.URLPath = "/"
		}
	case clouds.ProtocolTCP, "":
		mon.Type = monitors.TypeTCP
	default:
		return opts, fmt.Errorf("health check protocol %q: want tcp, http or https", hc.Protocol)
	}
	pool.Monitor = mon
	listener.DefaultPool = pool
	opts = loadbalancers.CreateOpts{Name: spec.Name, Description: "algos", VipSubnetID: d.cfg.Subnet,
		Listeners: []listeners.CreateOpts{listener}, Tags: []string{tagTargetPort + strconv.Itoa(targetPort)}}
	if d.cfg.Subnet == "" {
		opts.VipNetworkID = d.cfg.Network
	}
	if hc.Port != 0 && hc.Port != targetPort {
		opts.Tags = append(opts.Tags, tagHealthPort+strconv.Itoa(hc.Port))
	}
	keys := make([]string, 0, len(spec.Tags))
	for k := range spec.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		opts.Tags = append(opts.Tags, k+"="+spec.Tags[k])
	}
	return opts, nil
}

// findLB finds a load balancer by name (the oldest when several share it). Errors:
// ErrNotFound.
func (d *Driver) findLB(ctx context.Context, op, name string) (*loadbalancers.LoadBalancer, error) {
	if err := ctx.Err(); err != nil {
		return nil, d.wrap(op, err)
	}
	if err := d.need(d.lb, "load-balancer"); err != nil {
		return nil, err
	}
	if name == "" {
		return nil, &Error{Op: op, Kind: clouds.ErrNotFound, Message: "no load balancer with an empty name"}
	}
	pages, err := loadbalancers.List(d.lb, loadbalancers.ListOpts{Name: name}).AllPages(ctx)
	if err != nil {
		return nil, d.wrap(op, err)
	}
	list, err := loadbalancers.ExtractLoadBalancers(pages)
	if err != nil {
		return nil, d.wrap(op, err)
	}
	var found *loadbalancers.LoadBalancer
	for i := range list {
		if list[i].Name == name && (found == nil || list[i].CreatedAt.Before(found.CreatedAt)) {
			found = &list[i]
		}
	}
	if found == nil {
		return nil, &Error{Op: op, Kind: clouds.ErrNotFound, Message: fmt.Sprintf("no load balancer named %q", name)}
	}
	return found, nil
}

// tagInt reads one of the driver's numeric tags.
func tagInt(tags []string, prefix string) int {
	for _, t := range tags {
		if v, ok := strings.CutPrefix(t, prefix); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

// GetLoadBalancer returns the load balancer, its address (the floating IP when it has
// one, else the VIP) and its targets: pool members named by instance ID, with health from
// operating_status (ONLINE healthy; ERROR unhealthy; OFFLINE, NO_MONITOR, DRAINING and
// members being created or deleted unknown). Errors: ErrNotFound.
func (d *Driver) GetLoadBalancer(ctx context.Context, name string) (clouds.LoadBalancer, error) {
	op := "get load balancer " + name
	lb, err := d.findLB(ctx, op, name)
	if err != nil {
		return clouds.LoadBalancer{}, err
	}
	out := clouds.LoadBalancer{Name: lb.Name, ID: lb.ID, Address: lb.VipAddress}
	if len(lb.Listeners) > 0 {
		l, err := listeners.Get(ctx, d.lb, lb.Listeners[0].ID).Extract()
		if err != nil && !isStatus(err, 404) {
			return clouds.LoadBalancer{}, d.wrap(op, err)
		}
		if l != nil {
			out.Port = l.ProtocolPort
		}
	}
	if d.network != nil && lb.VipPortID != "" {
		pages, err := floatingips.List(d.network, floatingips.ListOpts{PortID: lb.VipPortID}).AllPages(ctx)
		if err != nil {
			return clouds.LoadBalancer{}, d.wrap(op, err)
		}
		if fips, err := floatingips.ExtractFloatingIPs(pages); err == nil && len(fips) > 0 {
			out.Address = fips[0].FloatingIP
		}
	}
	members, err := d.members(ctx, op, lb)
	if err != nil {
		return clouds.LoadBalancer{}, err
	}
	for _, m := range members {
		h := clouds.TargetUnknown
		switch {
		case m.ProvisioningStatus != "ACTIVE":
		case m.OperatingStatus == "ONLINE":
			h = clouds.TargetHealthy
		case m.OperatingStatus == "ERROR":
			h = clouds.TargetUnhealthy
		}
		out.Targets = append(out.Targets, clouds.Target{InstanceID: m.Name, Health: h})
	}
	return out, nil
}

// members lists the members of the load balancer's pool.
func (d *Driver) members(ctx context.Context, op string, lb *loadbalancers.LoadBalancer) ([]pools.Member, error) {
	if len(lb.Pools) == 0 {
		return nil, nil
	}
	pages, err := pools.ListMembers(d.lb, lb.Pools[0].ID, pools.ListMembersOpts{}).AllPages(ctx)
	if err != nil {
		return nil, d.wrap(op, err)
	}
	list, err := pools.ExtractMembers(pages)
	return list, d.wrap(op, err)
}

// RegisterTargets adds each instance's private address as a pool member named by its ID,
// on the target port. Octavia accepts one change at a time (409 while the load balancer
// is PENDING_UPDATE): the driver waits, polling every Config.PollInterval. Idempotent.
// Errors: ErrNotFound for the load balancer, ErrInvalid for an unknown instance or one
// without an address yet.
func (d *Driver) RegisterTargets(ctx context.Context, name string, instanceIDs ...string) error {
	op := "register targets of load balancer " + name
	lb, err := d.findLB(ctx, op, name)
	if err != nil {
		return err
	}
	if len(lb.Pools) == 0 {
		return &Error{Op: op, Kind: clouds.ErrInvalid, Message: "the load balancer has no pool"}
	}
	poolID := lb.Pools[0].ID
	port := tagInt(lb.Tags, tagTargetPort)
	var monitorPort *int
	if hp := tagInt(lb.Tags, tagHealthPort); hp != 0 {
		monitorPort = &hp
	}
	for _, id := range instanceIDs {
		srv, err := servers.Get(ctx, d.compute, id).Extract()
		if err != nil {
			if isStatus(err, 404) {
				return &Error{Op: op, Kind: clouds.ErrInvalid, Message: fmt.Sprintf("no instance %s", id), Err: err}
			}
			return d.wrap(op, err)
		}
		addr, _ := addresses(srv.Addresses)
		if addr == "" {
			return &Error{Op: op, Kind: clouds.ErrInvalid, Message: fmt.Sprintf("instance %s has no address yet: register it once it runs", id)}
		}
		opts := pools.CreateMemberOpts{Name: id, Address: addr, ProtocolPort: port, SubnetID: d.cfg.Subnet, MonitorPort: monitorPort}
		err = d.poll(ctx, func() (bool, error) {
			members, err := d.members(ctx, op, lb)
			if err != nil {
				return false, err
			}
			for _, m := range members {
				// Registered: by this driver (named by the ID), or by someone else at the
				// same address and port (Octavia would refuse a duplicate).
				if (m.Name == id || (m.Address == addr && m.ProtocolPort == port)) && m.ProvisioningStatus != "PENDING_DELETE" {
					return true, nil
				}
			}
			_, err = pools.CreateMember(ctx, d.lb, poolID, opts).Extract()
			if isStatus(err, 409) {
				return false, nil // immutable for now, or a concurrent register: look again
			}
			return err == nil, d.wrap(op, err)
		})
		if err != nil {
			return d.wrap(op, err)
		}
	}
	return nil
}

// DeregisterTargets deletes the pool members named by the instance IDs, waiting out
// Octavia's PENDING_UPDATE as RegisterTargets does. Unknown IDs are skipped. Errors:
// ErrNotFound for the load balancer.
func (d *Driver) DeregisterTargets(ctx context.Context, name string, instanceIDs ...string) error {
	op := "deregister targets of load balancer " + name
	lb, err := d.findLB(ctx, op, name)
	if err != nil {
		return err
	}
	for _, id := range instanceIDs {
		err := d.poll(ctx, func() (bool, error) {
			members, err := d.members(ctx, op, lb)
			if err != nil {
				return false, err
			}
			for _, m := range members {
				if m.Name != id || m.ProvisioningStatus == "PENDING_DELETE" {
					continue
				}
				err := pools.DeleteMember(ctx, d.lb, lb.Pools[0].ID, m.ID).ExtractErr()
				if isStatus(err, 409) {
					return false, nil
				}
				if err != nil && !isStatus(err, 404) {
					return false, d.wrap(op, err)
				}
			}
			return true, nil
		})
		if err != nil {
			return d.wrap(op, err)
		}
	}
	return nil
}

// DeleteLoadBalancer deletes the load balancer with its listener, pool and monitor
// (cascade), and its floating IP. It does not wait for Octavia to finish (GetLoadBalancer
// finds it PENDING_DELETE meanwhile), but waits out a PENDING_UPDATE. Idempotent.
func (d *Driver) DeleteLoadBalancer(ctx context.Context, name string) error {
	op := "delete load balancer " + name
	lb, err := d.findLB(ctx, op, name)
	if errors.Is(err, clouds.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if lb.ProvisioningStatus == "PENDING_DELETE" {
		return nil
	}
	if d.network != nil && lb.VipPortID != "" {
		pages, err := floatingips.List(d.network, floatingips.ListOpts{PortID: lb.VipPortID}).AllPages(ctx)
		if err != nil {
			return d.wrap(op, err)
		}
		fips, err := floatingips.ExtractFloatingIPs(pages)
		if err != nil {
			return d.wrap(op, err)
		}
		for _, f := range fips {
			if err := floatingips.Delete(ctx, d.network, f.ID).ExtractErr(); err != nil && !isStatus(err, 404) {
				return d.wrap(op, err)
			}
		}
	}
	err = d.poll(ctx, func() (bool, error) {
		err := loadbalancers.Delete(ctx, d.lb, lb.ID, loadbalancers.DeleteOpts{Cascade: true}).ExtractErr()
		if isStatus(err, 409) {
			return false, nil
		}
		return true, err
	})
	if err != nil && !isStatus(err, 404) {
		return d.wrap(op, err)
	}
	d.log.Info("load balancer deleted", "load_balancer", name, "load_balancer_id", lb.ID)
	return nil
}

// resolveFloatingPool finds Config.FloatingIPPool's network (an ID or a name).
func (d *Driver) resolveFloatingPool(ctx context.Context) error {
	const op = "find the floating IP pool"
	if err := d.need(d.network, "network"); err != nil {
		return err
	}
	for _, opts := range []networks.ListOpts{{ID: d.cfg.FloatingIPPool}, {Name: d.cfg.FloatingIPPool}} {
		pages, err := networks.List(d.network, opts).AllPages(ctx)
		if err != nil {
			return d.wrap(op, err)
		}
		list, err := networks.ExtractNetworks(pages)
		if err != nil {
			return d.wrap(op, err)
		}
		if len(list) > 0 {
			d.floatingNet = list[0].ID
			return nil
		}
	}
	return &Error{Op: op, Kind: clouds.ErrInvalid, Message: fmt.Sprintf("no network %q for Config.FloatingIPPool", d.cfg.FloatingIPPool)}
}
