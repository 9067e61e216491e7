package gcpfake

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// unmanagedGroup is a zonal unmanaged instance group.
type unmanagedGroup struct {
	res     *computepb.InstanceGroup
	members map[string]bool // instance "zone/name"
}

func (s *Server) lbRoutes() {
	s.handle("POST regions/{region}/healthChecks", s.insertHealthCheck)
	s.handle("GET regions/{region}/healthChecks/{name}", s.getHealthCheck)
	s.handle("DELETE regions/{region}/healthChecks/{name}", s.deleteHealthCheck)

	s.handle("POST zones/{zone}/instanceGroups", s.insertIG)
	s.handle("GET zones/{zone}/instanceGroups/{name}", s.getIG)
	s.handle("DELETE zones/{zone}/instanceGroups/{name}", s.deleteIG)
	s.handle("POST zones/{zone}/instanceGroups/{name}/addInstances", s.addToIG)
	s.handle("POST zones/{zone}/instanceGroups/{name}/removeInstances", s.removeFromIG)
	s.handle("POST zones/{zone}/instanceGroups/{name}/listInstances", s.listIG)

	s.handle("POST regions/{region}/backendServices", s.insertBackend)
	s.handle("GET regions/{region}/backendServices/{name}", s.getBackend)
	s.handle("DELETE regions/{region}/backendServices/{name}", s.deleteBackend)
	s.handle("POST regions/{region}/backendServices/{name}/getHealth", s.backendHealth)

	s.handle("POST regions/{region}/forwardingRules", s.insertRule)
	s.handle("GET regions/{region}/forwardingRules/{name}", s.getRule)
	s.handle("DELETE regions/{region}/forwardingRules/{name}", s.deleteRule)
}

func (s *Server) regional(kind, name string) string {
	return "regions/" + s.opts.Region + "/" + kind + "/" + name
}

func (s *Server) insertHealthCheck(r *http.Request) (proto.Message, error) {
	if err := s.checkRegion(r); err != nil {
		return nil, err
	}
	hc := &computepb.HealthCheck{}
	if err := decode(r, hc); err != nil {
		return nil, err
	}
	if err := checkName(hc.GetName()); err != nil {
		return nil, err
	}
	rel := s.regional("healthChecks", hc.GetName())
	if _, ok := s.checks[hc.GetName()]; ok {
		return nil, alreadyExists(s.path(rel))
	}
	ok := false
	switch hc.GetType() {
	case "TCP":
		ok = hc.GetTcpHealthCheck() != nil
	case "HTTP":
		ok = hc.GetHttpHealthCheck() != nil
	case "HTTPS":
		ok = hc.GetHttpsHealthCheck() != nil
	}
	if !ok {
		return nil, invalid("Invalid value for field 'resource.type': '%s'. The health check of that type is missing.", hc.GetType())
	}
	if hc.GetTimeoutSec() > hc.GetCheckIntervalSec() {
		return nil, invalid("Invalid value for field 'resource.timeoutSec': timeout must be less than or equal to the check interval.")
	}
	hc.Kind, hc.Id, hc.SelfLink = ptr("compute#healthCheck"), ptr(s.nextID()), ptr(s.link(rel))
	hc.Region, hc.CreationTimestamp = ptr(s.link("regions/"+s.opts.Region)), ptr(nowStamp())
	s.checks[hc.GetName()] = hc
	return s.operation("regions/"+s.opts.Region, hc.GetSelfLink(), "insert"), nil
}

func (s *Server) healthCheck(r *http.Request) (*computepb.HealthCheck, error) {
	if err := s.checkRegion(r); err != nil {
		return nil, err
	}
	hc, ok := s.checks[r.PathValue("name")]
	if !ok {
		return nil, notFound(s.path(s.regional("healthChecks", r.PathValue("name"))))
	}
	return hc, nil
}

func (s *Server) getHealthCheck(r *http.Request) (proto.Message, error) { return s.healthCheck(r) }

func (s *Server) deleteHealthCheck(r *http.Request) (proto.Message, error) {
	hc, err := s.healthCheck(r)
	if err != nil {
		return nil, err
	}
	for _, bs := range s.backends {
		for _, u := range bs.GetHealthChecks() {
			if lastSegment(u) == hc.GetName() {
				return nil, inUse(s.path(s.regional("healthChecks", hc.GetName())), bs.GetSelfLink())
			}
		}
	}
	delete(s.checks, hc.GetName())
	return s.operation("regions/"+s.opts.Region, hc.GetSelfLink(), "delete"), nil
}

func (s *Server) insertIG(r *http.Request) (proto.Message, error) {
	zone := r.PathValue("zone")
	if err := s.checkZone(zone); err != nil {
		return nil, err
	}
	ig := &computepb.InstanceGroup{}
	if err := decode(r, ig); err != nil {
		return nil, err
	}
	if err := checkName(ig.GetName()); err != nil {
		return nil, err
	}
	key := zone + "/" + ig.GetName()
	if _, ok := s.igs[key]; ok {
		return nil, alreadyExists(s.path("zones/" + zone + "/instanceGroups/" + ig.GetName()))
	}
	ig.Kind, ig.Id = ptr("compute#instanceGroup"), ptr(s.nextID())
	ig.Zone, ig.SelfLink = ptr(s.link("zones/"+zone)), ptr(s.link("zones/"+zone+"/instanceGroups/"+ig.GetName()))
	ig.CreationTimestamp, ig.Size = ptr(nowStamp()), ptr(int32(0))
	s.igs[key] = &unmanagedGroup{res: ig, members: make(map[string]bool)}
	return s.operation("zones/"+zone, ig.GetSelfLink(), "insert"), nil
}

func (s *Server) ig(r *http.Request) (*unmanagedGroup, error) {
	zone, name := r.PathValue("zone"), r.PathValue("name")
	if err := s.checkZone(zone); err != nil {
		return nil, err
	}
	g, ok := s.igs[zone+"/"+name]
	if !ok {
		return nil, notFound(s.path("zones/" + zone + "/instanceGroups/" + name))
	}
	g.res.Size = ptr(int32(len(g.members)))
	return g, nil
}

func (s *Server) getIG(r *http.Request) (proto.Message, error) {
	g, err := s.ig(r)
	if err != nil {
		return nil, err
	}
	return g.res, nil
}

func (s *Server) deleteIG(r *http.Request) (proto.Message, error) {
	g, err := s.ig(r)
	if err != nil {
		return nil, err
	}
	for _, bs := range s.backends {
		for _, b := range bs.GetBackends() {
			if zoneOf(b.GetGroup()) == r.PathValue("zone") && lastSegment(b.GetGroup()) == g.res.GetName() {
				return nil, inUse(s.path("zones/"+r.PathValue("zone")+"/instanceGroups/"+g.res.GetName()), bs.GetSelfLink())
			}
		}
	}
	delete(s.igs, r.PathValue("zone")+"/"+g.res.GetName())
	return s.operation(scopeOf(r.URL.Path), g.res.GetSelfLink(), "delete"), nil
}

func (s *Server) addToIG(r *http.Request) (proto.Message, error) {
	return s.changeIG(r, true)
}

func (s *Server) removeFromIG(r *http.Request) (proto.Message, error) {
	return s.changeIG(r, false)
}

func (s *Server) changeIG(r *http.Request, add bool) (proto.Message, error) {
	g, err := s.ig(r)
	if err != nil {
		return nil, err
	}
	zone := r.PathValue("zone")
	req := &computepb.InstanceGroupsAddInstancesRequest{} // removeInstances has the same shape
	if err := decode(r, req); err != nil {
		return nil, err
	}
	var keys []string
	for _, ref := range req.GetInstances() {
		u := ref.GetInstance()
		key := zoneOf(u) + "/" + lastSegment(u)
		if zoneOf(u) != zone {
			return nil, invalid("Invalid value for field 'instances': '%s'. The instance must be in zone '%s'.", u, zone)
		}
		if _, ok := s.instances[key]; !ok && add {
			return nil, notFound(s.path("zones/" + key))
		}
		if g.members[key] == add {
			reason := "memberAlreadyExists"
			if !add {
				reason = "memberNotFound"
			}
			return nil, &apiError{http.StatusBadRequest, reason, fmt.Sprintf("Instance '%s' membership in '%s' is already as requested.", u, g.res.GetSelfLink())}
		}
		keys = append(keys, key)
	}
	for _, k := range keys {
		if add {
			g.members[k] = true
		} else {
			delete(g.members, k)
		}
	}
	kind := "removeInstances"
	if add {
		kind = "addInstances"
	}
	return s.operation("zones/"+zone, g.res.GetSelfLink(), kind), nil
}

func (s *Server) listIG(r *http.Request) (proto.Message, error) {
	g, err := s.ig(r)
	if err != nil {
		return nil, err
	}
	out := &computepb.InstanceGroupsListInstances{Kind: ptr("compute#instanceGroupsListInstances")}
	keys := make([]string, 0, len(g.members))
	for k := range g.members {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		item := &computepb.InstanceWithNamedPorts{Instance: ptr(s.link("zones/" + zoneOf("zones/"+k) + "/instances/" + lastSegment(k)))}
		if in, ok := s.instances[k]; ok {
			item.Status = ptr(in.res.GetStatus())
		}
		out.Items = append(out.Items, item)
	}
	return out, nil
}

func (s *Server) insertBackend(r *http.Request) (proto.Message, error) {
	if err := s.checkRegion(r); err != nil {
		return nil, err
	}
	bs := &computepb.BackendService{}
	if err := decode(r, bs); err != nil {
		return nil, err
	}
	if err := checkName(bs.GetName()); err != nil {
		return nil, err
	}
	rel := s.regional("backendServices", bs.GetName())
	if _, ok := s.backends[bs.GetName()]; ok {
		return nil, alreadyExists(s.path(rel))
	}
	switch bs.GetLoadBalancingScheme() {
	case "EXTERNAL":
	case "INTERNAL":
		if bs.GetNetwork() == "" {
			return nil, invalid("Invalid value for field 'resource.network': an INTERNAL backend service needs a network.")
		}
	default:
		return nil, invalid("Invalid value for field 'resource.loadBalancingScheme': '%s'.", bs.GetLoadBalancingScheme())
	}
	for _, u := range bs.GetHealthChecks() {
		if _, ok := s.checks[lastSegment(u)]; !ok {
			return nil, notFound(u)
		}
	}
	for _, b := range bs.GetBackends() {
		if _, ok := s.igs[zoneOf(b.GetGroup())+"/"+lastSegment(b.GetGroup())]; !ok {
			return nil, notFound(b.GetGroup())
		}
	}
	bs.Kind, bs.Id, bs.SelfLink = ptr("compute#backendService"), ptr(s.nextID()), ptr(s.link(rel))
	bs.Region, bs.CreationTimestamp = ptr(s.link("regions/"+s.opts.Region)), ptr(nowStamp())
	s.backends[bs.GetName()] = bs
	return s.operation("regions/"+s.opts.Region, bs.GetSelfLink(), "insert"), nil
}

func (s *Server) backend(r *http.Request) (*computepb.BackendService, error) {
	if err := s.checkRegion(r); err != nil {
		return nil, err
	}
	bs, ok := s.backends[r.PathValue("name")]
	if !ok {
		return nil, notFound(s.path(s.regional("backendServices", r.PathValue("name"))))
	}
	return bs, nil
}

func (s *Server) getBackend(r *http.Request) (proto.Message, error) { return s.backend(r) }

func (s *Server) deleteBackend(r *http.Request) (proto.Message, error) {
	bs, err := s.backend(r)
	if err != nil {
		return nil, err
	}
	for _, fr := range s.rules {
		if lastSegment(fr.GetBackendService()) == bs.GetName() {
			return nil, inUse(s.path(s.regional("backendServices", bs.GetName())), fr.GetSelfLink())
		}
	}
	delete(s.backends, bs.GetName())
	return s.operation("regions/"+s.opts.Region, bs.GetSelfLink(), "delete"), nil
}

// backendHealth answers getHealth: a running member is HEALTHY, any other UNHEALTHY.
func (s *Server) backendHealth(r *http.Request) (proto.Message, error) {
	bs, err := s.backend(r)
	if err != nil {
		return nil, err
	}
	ref := &computepb.ResourceGroupReference{}
	if err := decode(r, ref); err != nil {
		return nil, err
	}
	key := zoneOf(ref.GetGroup()) + "/" + lastSegment(ref.GetGroup())
	if !slices.ContainsFunc(bs.GetBackends(), func(b *computepb.Backend) bool {
		return zoneOf(b.GetGroup())+"/"+lastSegment(b.GetGroup()) == key
	}) {
		return nil, invalid("Invalid value for field 'resource.group': '%s'. Not a backend of '%s'.", ref.GetGroup(), bs.GetSelfLink())
	}
	out := &computepb.BackendServiceGroupHealth{Kind: ptr("compute#backendServiceGroupHealth")}
	g := s.igs[key]
	if g == nil {
		return out, nil
	}
	keys := make([]string, 0, len(g.members))
	for k := range g.members {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		in, ok := s.instances[k]
		if !ok {
			continue
		}
		state := "UNHEALTHY"
		if in.res.GetStatus() == "RUNNING" {
			state = "HEALTHY"
		}
		hs := &computepb.HealthStatus{Instance: ptr(in.res.GetSelfLink()), HealthState: ptr(state)}
		if nis := in.res.GetNetworkInterfaces(); len(nis) > 0 {
			hs.IpAddress = ptr(nis[0].GetNetworkIP())
		}
		out.HealthStatus = append(out.HealthStatus, hs)
	}
	return out, nil
}

func (s *Server) insertRule(r *http.Request) (proto.Message, error) {
	if err := s.checkRegion(r); err != nil {
		return nil, err
	}
	fr := &computepb.ForwardingRule{}
	if err := decode(r, fr); err != nil {
		return nil, err
	}
	if err := checkName(fr.GetName()); err != nil {
		return nil, err
	}
	rel := s.regional("forwardingRules", fr.GetName())
	if _, ok := s.rules[fr.GetName()]; ok {
		return nil, alreadyExists(s.path(rel))
	}
	bs, ok := s.backends[lastSegment(fr.GetBackendService())]
	if !ok {
		return nil, notFound(fr.GetBackendService())
	}
	if fr.GetLoadBalancingScheme() != bs.GetLoadBalancingScheme() {
		return nil, invalid("Invalid value for field 'resource.loadBalancingScheme': '%s' differs from the backend service's.", fr.GetLoadBalancingScheme())
	}
	if fr.GetIPProtocol() != "TCP" && fr.GetIPProtocol() != "UDP" {
		return nil, invalid("Invalid value for field 'resource.IPProtocol': '%s'.", fr.GetIPProtocol())
	}
	if n := len(fr.GetPorts()); n == 0 || n > 5 {
		return nil, invalid("Invalid value for field 'resource.ports': between 1 and 5 ports are required.")
	}
	for _, p := range fr.GetPorts() {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, invalid("Invalid value for field 'resource.ports': '%s'.", p)
		}
	}
	if err := checkLabels(fr.GetLabels()); err != nil {
		return nil, err
	}
	s.ips++
	if fr.GetLoadBalancingScheme() == "INTERNAL" {
		fr.IPAddress = ptr(fmt.Sprintf("10.128.200.%d", s.ips%250+2))
	} else {
		fr.IPAddress = ptr(fmt.Sprintf("35.190.%d.%d", s.ips/250, s.ips%250+2))
	}
	fr.Kind, fr.Id, fr.SelfLink = ptr("compute#forwardingRule"), ptr(s.nextID()), ptr(s.link(rel))
	fr.Region, fr.CreationTimestamp = ptr(s.link("regions/"+s.opts.Region)), ptr(nowStamp())
	s.rules[fr.GetName()] = fr
	return s.operation("regions/"+s.opts.Region, fr.GetSelfLink(), "insert"), nil
}

func (s *Server) rule(r *http.Request) (*computepb.ForwardingRule, error) {
	if err := s.checkRegion(r); err != nil {
		return nil, err
	}
	fr, ok := s.rules[r.PathValue("name")]
	if !ok {
		return nil, notFound(s.path(s.regional("forwardingRules", r.PathValue("name"))))
	}
	return fr, nil
}

func (s *Server) getRule(r *http.Request) (proto.Message, error) { return s.rule(r) }

func (s *Server) deleteRule(r *http.Request) (proto.Message, error) {
	fr, err := s.rule(r)
	if err != nil {
		return nil, err
	}
	delete(s.rules, fr.GetName())
	return s.operation("regions/"+s.opts.Region, fr.GetSelfLink(), "delete"), nil
}
