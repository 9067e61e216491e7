package gcp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"

	"github.com/algos-dev/algos/clouds"
)

// maxLBName leaves room in 63 characters for an instance group's "-<zone letter>" suffix.
const maxLBName = 50

// A load balancer named N is, all regional: health check N, backend service N, forwarding
// rule N (whose existence is the load balancer's), and unmanaged instance groups N-a, N-b…
// (one per zone, named by the zone's suffix), the backend service's backends.

// igName is the unmanaged instance group of load balancer lb in zone.
func (d *Driver) igName(lb, zone string) string {
	return lb + "-" + strings.TrimPrefix(zone, d.cfg.Region+"-")
}

// lbSpec checks a spec against what a passthrough load balancer does. Errors: ErrInvalid.
func lbSpec(spec clouds.LoadBalancerSpec) (clouds.LoadBalancerSpec, error) {
	fail := func(format string, args ...any) (clouds.LoadBalancerSpec, error) {
		return spec, fmt.Errorf("gcp: load balancer %q: %s: %w", spec.Name, fmt.Sprintf(format, args...), clouds.ErrInvalid)
	}
	if !validName(spec.Name) || len(spec.Name) > maxLBName {
		return fail("want a name of lower-case letters, digits and '-', starting with a letter, at most %d characters", maxLBName)
	}
	switch spec.Protocol {
	case "", clouds.ProtocolTCP, clouds.ProtocolHTTP:
	default:
		return fail("protocol %q: a GCE passthrough load balancer forwards TCP (http included) and does not terminate TLS; terminate it on the targets and use tcp", spec.Protocol)
	}
	if spec.Port < 1 || spec.Port > 65535 {
		return fail("port %d", spec.Port)
	}
	if spec.TargetPort == 0 {
		spec.TargetPort = spec.Port
	}
	if spec.TargetPort != spec.Port {
		return fail("target port %d differs from port %d: a GCE passthrough load balancer does not translate ports", spec.TargetPort, spec.Port)
	}
	hc := &spec.HealthCheck
	if hc.Protocol == "" {
		hc.Protocol = clouds.ProtocolTCP
	}
	if hc.Port == 0 {
		hc.Port = spec.TargetPort
	}
	if hc.Interval == 0 {
		hc.Interval = 5 * time.Second
	}
	if hc.Timeout == 0 {
		hc.Timeout = min(5*time.Second, hc.Interval)
	}
	if hc.HealthyThreshold == 0 {
		hc.HealthyThreshold = 2
	}
	if hc.UnhealthyThreshold == 0 {
		hc.UnhealthyThreshold = 2
	}
	if hc.Timeout > hc.Interval {
		return fail("health check timeout %v exceeds its interval %v", hc.Timeout, hc.Interval)
	}
	return spec, nil
}

func (d *Driver) healthCheck(spec clouds.LoadBalancerSpec) *computepb.HealthCheck {
	hc := spec.HealthCheck
	secs := func(t time.Duration) *int32 { return ptr(int32(max(1, (t+time.Second-1)/time.Second))) }
	out := &computepb.HealthCheck{
		Name:               ptr(spec.Name),
		CheckIntervalSec:   secs(hc.Interval),
		TimeoutSec:         secs(hc.Timeout),
		HealthyThreshold:   ptr(int32(hc.HealthyThreshold)),
		UnhealthyThreshold: ptr(int32(hc.UnhealthyThreshold)),
	}
	path := hc.Path
	if path == "" {
		path = "/"
	}
	switch hc.Protocol {
	case clouds.ProtocolHTTP:
		out.Type = ptr("HTTP")
		out.HttpHealthCheck = &computepb.HTTPHealthCheck{Port: ptr(int32(hc.Port)), RequestPath: ptr(path)}
	case clouds.ProtocolHTTPS:
		out.Type = ptr("HTTPS")
		out.HttpsHealthCheck = &computepb.HTTPSHealthCheck{Port: ptr(int32(hc.Port)), RequestPath: ptr(path)}
	default:
		out.Type = ptr("TCP")
		out.TcpHealthCheck = &computepb.TCPHealthCheck{Port: ptr(int32(hc.Port))}
	}
	return out
}

// CreateLoadBalancer creates, waiting for each operation, a regional health check, one
// unmanaged instance group per zone (spec.Zones, or the driver's), a regional backend
// service over them (EXTERNAL, or INTERNAL when spec.Internal) and a regional forwarding
// rule on spec.Port with an ephemeral address. What was created is deleted again when a
// later step fails. Only tcp (and http, forwarded as TCP) listeners, with TargetPort equal
// to Port: GCE's passthrough load balancers neither terminate TLS nor translate ports.
// Errors: ErrAlreadyExists, ErrInvalid, *QuotaError.
func (d *Driver) CreateLoadBalancer(ctx context.Context, spec clouds.LoadBalancerSpec) (clouds.LoadBalancer, error) {
	if err := ctx.Err(); err != nil {
		return clouds.LoadBalancer{}, fmt.Errorf("gcp: create load balancer: %w", err)
	}
	spec, err := lbSpec(spec)
	if err != nil {
		return clouds.LoadBalancer{}, err
	}
	labels, err := labelsFor(spec.Tags, nil)
	if err != nil {
		return clouds.LoadBalancer{}, err
	}
	zones := spec.Zones
	if len(zones) == 0 {
		if zones, err = d.zones(ctx); err != nil {
			return clouds.LoadBalancer{}, fmt.Errorf("gcp: create load balancer %s: %w", spec.Name, err)
		}
	}
	for _, z := range zones {
		if !d.inRegion(z) {
			return clouds.LoadBalancer{}, fmt.Errorf("gcp: create load balancer %s: zone %q is not in region %s: %w", spec.Name, z, d.cfg.Region, clouds.ErrInvalid)
		}
	}
	name := spec.Name
	ec := errCtx{create: true}
	err = d.do(ctx, ec, func(ctx context.Context, rid string) (*compute.Operation, error) {
		return d.healthChecks.Insert(ctx, &computepb.InsertRegionHealthCheckRequest{
			Project: d.cfg.Project, Region: d.cfg.Region, HealthCheckResource: d.healthCheck(spec), RequestId: ptr(rid),
		})
	})
	if err != nil {
		return clouds.LoadBalancer{}, fmt.Errorf("gcp: create load balancer %s: health check: %w", name, err)
	}
	scheme := "EXTERNAL"
	if spec.Internal {
		scheme = "INTERNAL"
	}
	steps := func() error {
		bs := &computepb.BackendService{
			Name:                ptr(name),
			LoadBalancingScheme: ptr(scheme),
			Protocol:            ptr("TCP"),
			HealthChecks:        []string{d.regionPath() + "/healthChecks/" + name},
		}
		if spec.Internal {
			bs.Network = ptr(d.networkPath())
		}
		for _, z := range zones {
			ig := &computepb.InstanceGroup{Name: ptr(d.igName(name, z)), Network: ptr(d.networkPath())}
			err := d.do(ctx, ec, func(ctx context.Context, rid string) (*compute.Operation, error) {
				return d.groups.Insert(ctx, &computepb.InsertInstanceGroupRequest{
					Project: d.cfg.Project, Zone: z, InstanceGroupResource: ig, RequestId: ptr(rid),
				})
			})
			if err != nil && !errors.Is(err, clouds.ErrAlreadyExists) { // left by a failed create
				return fmt.Errorf("instance group in %s: %w", z, err)
			}
			bs.Backends = append(bs.Backends, &computepb.Backend{
				Group: ptr(d.zonePath(z) + "/instanceGroups/" + d.igName(name, z)), BalancingMode: ptr("CONNECTION"),
			})
		}
		err := d.do(ctx, ec, func(ctx context.Context, rid string) (*compute.Operation, error) {
			return d.backends.Insert(ctx, &computepb.InsertRegionBackendServiceRequest{
				Project: d.cfg.Project, Region: d.cfg.Region, BackendServiceResource: bs, RequestId: ptr(rid),
			})
		})
		if err != nil {
			return fmt.Errorf("backend service: %w", err)
		}
		fr := &computepb.ForwardingRule{
			Name:                ptr(name),
			IPProtocol:          ptr("TCP"),
			Ports:               []string{strconv.Itoa(spec.Port)},
			BackendService:      ptr(d.regionPath() + "/backendServices/" + name),
			LoadBalancingScheme: ptr(scheme),
			Labels:              labels,
			Description:         ptr(descTags(spec.Tags)),
		}
		if spec.Internal {
			fr.Network = ptr(d.networkPath())
			if s := d.subnetworkPath(); s != "" {
				fr.Subnetwork = ptr(s)
			}
		}
		err = d.do(ctx, ec, func(ctx context.Context, rid string) (*compute.Operation, error) {
			return d.rules.Insert(ctx, &computepb.InsertForwardingRuleRequest{
				Project: d.cfg.Project, Region: d.cfg.Region, ForwardingRuleResource: fr, RequestId: ptr(rid),
			})
		})
		if err != nil {
			return fmt.Errorf("forwarding rule: %w", err)
		}
		return nil
	}
	if err := steps(); err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if derr := d.deleteLB(cctx, name, zones); derr != nil {
			d.log.Warn("parts of a load balancer that failed to create not deleted", "load_balancer", name, "error", derr)
		}
		return clouds.LoadBalancer{}, fmt.Errorf("gcp: create load balancer %s: %w", name, err)
	}
	d.log.Info("load balancer created", "load_balancer", name, "port", spec.Port, "internal", spec.Internal, "zones", zones)
	return d.GetLoadBalancer(ctx, name)
}

// backendService gets a load balancer's backend service and the zones of its instance
// groups (zone → group name). Errors: ErrNotFound.
func (d *Driver) backendService(ctx context.Context, name string) (map[string]string, error) {
	if !validName(name) {
		return nil, fmt.Errorf("gcp: load balancer %q: %w", name, clouds.ErrNotFound)
	}
	var bs *computepb.BackendService
	err := d.retry(ctx, func(ctx context.Context) (err error) {
		bs, err = d.backends.Get(ctx, &computepb.GetRegionBackendServiceRequest{Project: d.cfg.Project, Region: d.cfg.Region, BackendService: name})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("gcp: load balancer %s: %w", name, mapError(err, errCtx{}))
	}
	groups := make(map[string]string)
	for _, b := range bs.GetBackends() {
		if u := b.GetGroup(); strings.Contains(u, "/instanceGroups/") {
			groups[zoneOf(u)] = lastSegment(u)
		}
	}
	return groups, nil
}

// GetLoadBalancer returns the forwarding rule's address and port and the targets with
// their health (backendServices.getHealth per instance group): HEALTHY is healthy,
// UNHEALTHY and TIMEOUT unhealthy, anything else (UNKNOWN, DRAINING, not yet checked)
// unknown. Errors: ErrNotFound.
func (d *Driver) GetLoadBalancer(ctx context.Context, name string) (clouds.LoadBalancer, error) {
	if err := ctx.Err(); err != nil {
		return clouds.LoadBalancer{}, fmt.Errorf("gcp: get load balancer: %w", err)
	}
	if !validName(name) {
		return clouds.LoadBalancer{}, fmt.Errorf("gcp: load balancer %q: %w", name, clouds.ErrNotFound)
	}
	var fr *computepb.ForwardingRule
	err := d.retry(ctx, func(ctx context.Context) (err error) {
		fr, err = d.rules.Get(ctx, &computepb.GetForwardingRuleRequest{Project: d.cfg.Project, Region: d.cfg.Region, ForwardingRule: name})
		return err
	})
	if err != nil {
		return clouds.LoadBalancer{}, fmt.Errorf("gcp: load balancer %s: %w", name, mapError(err, errCtx{}))
	}
	lb := clouds.LoadBalancer{Name: name, ID: d.regionPath() + "/forwardingRules/" + name, Address: fr.GetIPAddress()}
	if ps := fr.GetPorts(); len(ps) > 0 {
		lb.Port, _ = strconv.Atoi(ps[0])
	} else if pr := fr.GetPortRange(); pr != "" {
		first, _, _ := strings.Cut(pr, "-")
		lb.Port, _ = strconv.Atoi(first)
	}
	groups, err := d.backendService(ctx, name)
	if err != nil {
		return clouds.LoadBalancer{}, err
	}
	for zone, ig := range groups {
		members, err := d.igMembers(ctx, zone, ig)
		if err != nil {
			return clouds.LoadBalancer{}, fmt.Errorf("gcp: load balancer %s: %w", name, err)
		}
		if len(members) == 0 {
			continue
		}
		health, err := d.igHealth(ctx, name, zone, ig)
		if err != nil {
			return clouds.LoadBalancer{}, fmt.Errorf("gcp: load balancer %s: %w", name, err)
		}
		ins, err := d.fetchInstances(ctx, zone, members)
		if err != nil {
			return clouds.LoadBalancer{}, fmt.Errorf("gcp: load balancer %s: targets: %w", name, err)
		}
		for _, in := range ins {
			h, ok := health[in.GetName()]
			if !ok {
				h = clouds.TargetUnknown
			}
			lb.Targets = append(lb.Targets, clouds.Target{InstanceID: instanceID(zone, in.GetName(), in.GetId()), Health: h})
		}
	}
	return lb, nil
}

// igMembers lists the names of an instance group's instances; errors mapped.
func (d *Driver) igMembers(ctx context.Context, zone, ig string) ([]string, error) {
	var names []string
	err := d.retry(ctx, func(ctx context.Context) error {
		names = names[:0]
		it := d.groups.ListInstances(ctx, &computepb.ListInstancesInstanceGroupsRequest{
			Project: d.cfg.Project, Zone: zone, InstanceGroup: ig,
			InstanceGroupsListInstancesRequestResource: &computepb.InstanceGroupsListInstancesRequest{InstanceState: ptr("ALL")},
		})
		for {
			m, err := it.Next()
			if err == iterator.Done {
				return nil
			}
			if err != nil {
				return err
			}
			names = append(names, lastSegment(m.GetInstance()))
		}
	})
	if err != nil {
		return nil, fmt.Errorf("instance group %s: %w", ig, mapError(err, errCtx{zone: zone}))
	}
	return names, nil
}

// igHealth returns the normalized health of an instance group's instances, by name.
func (d *Driver) igHealth(ctx context.Context, lb, zone, ig string) (map[string]clouds.TargetHealth, error) {
	var gh *computepb.BackendServiceGroupHealth
	err := d.retry(ctx, func(ctx context.Context) (err error) {
		gh, err = d.backends.GetHealth(ctx, &computepb.GetHealthRegionBackendServiceRequest{
			Project: d.cfg.Project, Region: d.cfg.Region, BackendService: lb,
			ResourceGroupReferenceResource: &computepb.ResourceGroupReference{Group: ptr(d.zonePath(zone) + "/instanceGroups/" + ig)},
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("health of %s: %w", ig, mapError(err, errCtx{zone: zone}))
	}
	out := make(map[string]clouds.TargetHealth)
	for _, hs := range gh.GetHealthStatus() {
		h := clouds.TargetUnknown
		switch hs.GetHealthState() {
		case "HEALTHY":
			h = clouds.TargetHealthy
		case "UNHEALTHY", "TIMEOUT":
			h = clouds.TargetUnhealthy
		}
		out[lastSegment(hs.GetInstance())] = h
	}
	return out, nil
}

// fetchInstances gets instances of one zone by name, eight at a time; missing ones (deleted
// meanwhile) are left out.
func (d *Driver) fetchInstances(ctx context.Context, zone string, names []string) ([]*computepb.Instance, error) {
	out := make([]*computepb.Instance, len(names))
	errs := make([]error, len(names))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			in, err := d.getInstance(ctx, zone, n)
			if err != nil && !isNotFound(err) {
				errs[i] = err
			}
			out[i] = in
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var got []*computepb.Instance
	for _, in := range out {
		if in != nil {
			got = append(got, in)
		}
	}
	return got, nil
}

// RegisterTargets adds the instances to their zone's instance group (instanceGroups.
// addInstances), skipping those already in it. Errors: ErrNotFound for the load balancer or
// an instance, ErrInvalid for an instance in a zone the load balancer does not cover.
func (d *Driver) RegisterTargets(ctx context.Context, name string, instanceIDs ...string) error {
	return d.changeTargets(ctx, name, instanceIDs, true)
}

// DeregisterTargets removes the instances from their zone's instance group (instanceGroups.
// removeInstances). Unknown instances, and instances that are not targets, are skipped.
// Errors: ErrNotFound for the load balancer.
func (d *Driver) DeregisterTargets(ctx context.Context, name string, instanceIDs ...string) error {
	return d.changeTargets(ctx, name, instanceIDs, false)
}

func (d *Driver) changeTargets(ctx context.Context, name string, ids []string, add bool) error {
	verb := "deregister"
	if add {
		verb = "register"
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("gcp: %s targets: %w", verb, err)
	}
	groups, err := d.backendService(ctx, name)
	if err != nil {
		return err
	}
	byZone := make(map[string][]string) // zone → instance names
	for _, id := range ids {
		in, err := d.lookup(ctx, id)
		if err != nil {
			if !add && isNotFound(err) {
				continue
			}
			return fmt.Errorf("gcp: %s targets of %s: %w", verb, name, err)
		}
		zone := lastSegment(in.GetZone())
		if _, ok := groups[zone]; !ok {
			if !add {
				continue
			}
			return fmt.Errorf("gcp: register target %s with %s: zone %s is not one of the load balancer's: %w", id, name, zone, clouds.ErrInvalid)
		}
		byZone[zone] = append(byZone[zone], in.GetName())
	}
	for zone, names := range byZone {
		ig := groups[zone]
		current, err := d.igMembers(ctx, zone, ig)
		if err != nil {
			return fmt.Errorf("gcp: %s targets of %s: %w", verb, name, err)
		}
		in := make(map[string]bool, len(current))
		for _, n := range current {
			in[n] = true
		}
		var refs []*computepb.InstanceReference
		for _, n := range names {
			if in[n] != add {
				refs = append(refs, &computepb.InstanceReference{Instance: ptr(d.instancePath(zone, n))})
				in[n] = add
			}
		}
		if len(refs) == 0 {
			continue
		}
		err = d.do(ctx, errCtx{zone: zone}, func(ctx context.Context, rid string) (*compute.Operation, error) {
			if add {
				return d.groups.AddInstances(ctx, &computepb.AddInstancesInstanceGroupRequest{
					Project: d.cfg.Project, Zone: zone, InstanceGroup: ig, RequestId: ptr(rid),
					InstanceGroupsAddInstancesRequestResource: &computepb.InstanceGroupsAddInstancesRequest{Instances: refs},
				})
			}
			return d.groups.RemoveInstances(ctx, &computepb.RemoveInstancesInstanceGroupRequest{
				Project: d.cfg.Project, Zone: zone, InstanceGroup: ig, RequestId: ptr(rid),
				InstanceGroupsRemoveInstancesRequestResource: &computepb.InstanceGroupsRemoveInstancesRequest{Instances: refs},
			})
		})
		if err != nil {
			return fmt.Errorf("gcp: %s targets of %s in %s: %w", verb, name, zone, err)
		}
		d.log.Info("load balancer targets changed", "load_balancer", name, "zone", zone, "register", add, "targets", len(refs))
	}
	return nil
}

// DeleteLoadBalancer deletes the forwarding rule, the backend service, the instance groups
// and the health check, in that order, waiting for each. Idempotent: missing parts are
// skipped, so it also cleans up after a create that died half-way.
func (d *Driver) DeleteLoadBalancer(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("gcp: delete load balancer: %w", err)
	}
	if !validName(name) {
		return nil
	}
	zones, err := d.zones(ctx)
	if err != nil {
		return fmt.Errorf("gcp: delete load balancer %s: %w", name, err)
	}
	zones = slices.Clone(zones)
	if groups, err := d.backendService(ctx, name); err == nil {
		for z := range groups {
			zones = append(zones, z)
		}
	} else if !isNotFound(err) {
		return err
	}
	if err := d.deleteLB(ctx, name, zones); err != nil {
		return fmt.Errorf("gcp: delete load balancer %s: %w", name, err)
	}
	d.log.Info("load balancer deleted", "load_balancer", name)
	return nil
}

// deleteLB deletes every part of load balancer name, with instance groups in zones.
func (d *Driver) deleteLB(ctx context.Context, name string, zones []string) error {
	del := func(start func(ctx context.Context, rid string) (*compute.Operation, error)) error {
		if err := d.do(ctx, errCtx{}, start); err != nil && !isNotFound(err) {
			return err
		}
		return nil
	}
	p, r := d.cfg.Project, d.cfg.Region
	err := del(func(ctx context.Context, rid string) (*compute.Operation, error) {
		return d.rules.Delete(ctx, &computepb.DeleteForwardingRuleRequest{Project: p, Region: r, ForwardingRule: name, RequestId: ptr(rid)})
	})
	if err != nil {
		return fmt.Errorf("forwarding rule: %w", err)
	}
	err = del(func(ctx context.Context, rid string) (*compute.Operation, error) {
		return d.backends.Delete(ctx, &computepb.DeleteRegionBackendServiceRequest{Project: p, Region: r, BackendService: name, RequestId: ptr(rid)})
	})
	if err != nil {
		return fmt.Errorf("backend service: %w", err)
	}
	seen := make(map[string]bool)
	for _, z := range zones {
		if seen[z] {
			continue
		}
		seen[z] = true
		err = del(func(ctx context.Context, rid string) (*compute.Operation, error) {
			return d.groups.Delete(ctx, &computepb.DeleteInstanceGroupRequest{Project: p, Zone: z, InstanceGroup: d.igName(name, z), RequestId: ptr(rid)})
		})
		if err != nil {
			return fmt.Errorf("instance group in %s: %w", z, err)
		}
	}
	err = del(func(ctx context.Context, rid string) (*compute.Operation, error) {
		return d.healthChecks.Delete(ctx, &computepb.DeleteRegionHealthCheckRequest{Project: p, Region: r, HealthCheck: name, RequestId: ptr(rid)})
	})
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	return nil
}
