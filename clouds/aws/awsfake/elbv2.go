package awsfake

import (
	"regexp"
	"slices"
	"strings"
	"time"
)

var elbNamePattern = regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?$`)

type loadBalancer struct {
	arn, name, dns, scheme, kind string
	zones, subnets, groups       []string
	tags                         map[string]string
	created, changed             time.Time
	state                        string // provisioning, active
}

type targetGroup struct {
	arn, name, protocol string
	port                int
	hc                  [3]string // protocol, port, path
	hcNums              [4]int    // interval, timeout, healthy, unhealthy
	lbs                 []string
	targets             map[string]*target
	attrs               map[string]string
	inUseUntil          time.Time
}

type target struct {
	port  int
	state string // initial, healthy, unhealthy, draining
	since time.Time
}

type listener struct {
	arn, lb, protocol, tg string
	port                  int
	certs                 []string
}

func (s *Server) elbActions() map[string]func(params) ([]node, *apiError) {
	return map[string]func(params) ([]node, *apiError){
		"CreateLoadBalancer":          s.createLoadBalancer,
		"DescribeLoadBalancers":       s.describeLoadBalancers,
		"DeleteLoadBalancer":          s.deleteLoadBalancer,
		"CreateTargetGroup":           s.createTargetGroup,
		"DescribeTargetGroups":        s.describeTargetGroups,
		"DeleteTargetGroup":           s.deleteTargetGroup,
		"ModifyTargetGroupAttributes": s.modifyTargetGroupAttributes,
		"CreateListener":              s.createListener,
		"DescribeListeners":           s.describeListeners,
		"RegisterTargets":             s.registerTargets,
		"DeregisterTargets":           s.deregisterTargets,
		"DescribeTargetHealth":        s.describeTargetHealth,
	}
}

func (s *Server) tickTargets(now time.Time) {
	for _, lb := range s.lbs {
		if lb.state == "provisioning" && now.Sub(lb.changed) >= s.opts.Settle {
			lb.state, lb.changed = "active", now
		}
	}
	for _, tg := range s.tgs {
		for id, t := range tg.targets {
			in := s.instances[id]
			switch {
			case t.state == "draining":
				if now.Sub(t.since) >= s.opts.Drain {
					delete(tg.targets, id)
				}
			case in == nil || in.state == "terminated" || in.state == "shutting-down":
				t.state, t.since = "draining", now
			case t.state == "initial" && now.Sub(t.since) < s.opts.Health:
			case in.state == "running" && len(tg.lbs) > 0:
				t.state = "healthy"
			default:
				t.state = "unhealthy"
			}
		}
	}
}

func checkELBName(name, what string) *apiError {
	if !elbNamePattern.MatchString(name) || strings.HasPrefix(name, "internal-") {
		return errorf("ValidationError", "%s name '%s' must have at most 32 characters, contain only alphanumeric characters or hyphens, and must not begin or end with a hyphen", what, name)
	}
	return nil
}

func (s *Server) lbByName(name string) *loadBalancer {
	for _, lb := range s.lbs {
		if lb.name == name {
			return lb
		}
	}
	return nil
}

func (s *Server) createLoadBalancer(p params) ([]node, *apiError) {
	name := p.get("Name")
	if aerr := checkELBName(name, "Load balancer"); aerr != nil {
		return nil, aerr
	}
	lb := &loadBalancer{name: name, scheme: p.get("Scheme"), kind: p.get("Type"), groups: p.list("SecurityGroups.member"),
		tags: tagsOf(p.structs("Tags.member")), created: time.Now(), state: "provisioning"}
	lb.changed = lb.created
	if lb.kind == "" {
		lb.kind = "application"
	}
	if lb.scheme == "" {
		lb.scheme = "internet-facing"
	}
	if lb.kind != "application" && lb.kind != "network" {
		return nil, errorf("ValidationError", "Load balancer type '%s' is not supported here.", lb.kind)
	}
	for _, subnet := range p.list("Subnets.member") {
		z, ok := s.zoneOfSubnet(subnet)
		if !ok {
			return nil, errorf("SubnetNotFound", "The subnet ID '%s' is not valid", subnet)
		}
		lb.subnets, lb.zones = append(lb.subnets, subnet), append(lb.zones, z)
	}
	switch {
	case len(lb.subnets) == 0:
		return nil, errorf("ValidationError", "At least one subnet must be specified.")
	case lb.kind == "application" && len(lb.subnets) < 2:
		return nil, errorf("ValidationError", "At least two subnets in two different Availability Zones must be specified")
	}
	for _, g := range lb.groups {
		if g != s.SecurityGroup() {
			return nil, errorf("InvalidSecurityGroup", "One or more security groups are invalid")
		}
	}
	if old := s.lbByName(name); old != nil {
		if old.kind == lb.kind && old.scheme == lb.scheme && slices.Equal(old.subnets, lb.subnets) {
			return []node{el("LoadBalancers", el("member", s.lbXML(old)...))}, nil
		}
		return nil, errorf("DuplicateLoadBalancerName", "A load balancer with the same name '%s' exists, but with different settings", name)
	}
	short := "app"
	if lb.kind == "network" {
		short = "net"
	}
	suffix := newID("x")[2:18]
	lb.arn = "arn:aws:elasticloadbalancing:" + s.opts.Region + ":123456789012:loadbalancer/" + short + "/" + name + "/" + suffix
	lb.dns = name + "-" + suffix + ".elb." + s.opts.Region + ".amazonaws.com"
	if lb.scheme == "internal" {
		lb.dns = "internal-" + lb.dns
	}
	s.lbs[lb.arn] = lb
	return []node{el("LoadBalancers", el("member", s.lbXML(lb)...))}, nil
}

func (s *Server) lbXML(lb *loadBalancer) []node {
	var zones, groups []node
	for i, z := range lb.zones {
		zones = append(zones, el("member", leaf("ZoneName", z), leaf("SubnetId", lb.subnets[i])))
	}
	for _, g := range lb.groups {
		groups = append(groups, leaf("member", g))
	}
	return []node{
		leaf("LoadBalancerArn", lb.arn), leaf("DNSName", lb.dns), leaf("CanonicalHostedZoneId", "Z26RNL4JYFTOTI"),
		leaf("CreatedTime", timeText(lb.created)), leaf("LoadBalancerName", lb.name), leaf("Scheme", lb.scheme),
		leaf("VpcId", s.VPC()), el("State", leaf("Code", lb.state)), leaf("Type", lb.kind),
		el("AvailabilityZones", zones...), el("SecurityGroups", groups...), leaf("IpAddressType", "ipv4"),
	}
}

func lbNotFound() *apiError {
	return errorf("LoadBalancerNotFound", "One or more load balancers not found")
}

func (s *Server) describeLoadBalancers(p params) ([]node, *apiError) {
	arns, names := p.list("LoadBalancerArns.member"), p.list("Names.member")
	var out []node
	for _, arn := range arns {
		lb, ok := s.lbs[arn]
		if !ok {
			return nil, lbNotFound()
		}
		out = append(out, el("member", s.lbXML(lb)...))
	}
	for _, name := range names {
		lb := s.lbByName(name)
		if lb == nil {
			return nil, lbNotFound()
		}
		out = append(out, el("member", s.lbXML(lb)...))
	}
	if len(arns) == 0 && len(names) == 0 {
		for _, arn := range sortedKeys(s.lbs) {
			out = append(out, el("member", s.lbXML(s.lbs[arn])...))
		}
	}
	return []node{el("LoadBalancers", out...)}, nil
}

func (s *Server) deleteLoadBalancer(p params) ([]node, *apiError) {
	arn := p.get("LoadBalancerArn")
	if _, ok := s.lbs[arn]; !ok {
		return nil, nil // AWS: deleting a deleted load balancer succeeds
	}
	delete(s.lbs, arn)
	for id, l := range s.listeners {
		if l.lb == arn {
			delete(s.listeners, id)
		}
	}
	now := time.Now()
	for _, tg := range s.tgs {
		if i := slices.Index(tg.lbs, arn); i >= 0 {
			tg.lbs = slices.Delete(tg.lbs, i, i+1)
			tg.inUseUntil = now.Add(s.opts.Settle) // AWS takes a moment to let go
		}
	}
	return nil, nil
}

func (s *Server) tgByName(name string) *targetGroup {
	for _, tg := range s.tgs {
		if tg.name == name {
			return tg
		}
	}
	return nil
}

func (s *Server) createTargetGroup(p params) ([]node, *apiError) {
	name := p.get("Name")
	if aerr := checkELBName(name, "Target group"); aerr != nil {
		return nil, aerr
	}
	tg := &targetGroup{name: name, protocol: p.get("Protocol"), targets: map[string]*target{}, attrs: map[string]string{}}
	var aerr *apiError
	if tg.port, aerr = p.int("Port", 0); aerr != nil {
		return nil, aerr
	}
	switch {
	case !slices.Contains([]string{"HTTP", "HTTPS", "TCP", "TLS", "UDP", "TCP_UDP"}, tg.protocol):
		return nil, errorf("ValidationError", "A protocol must be specified (got '%s')", tg.protocol)
	case tg.port < 1 || tg.port > 65535:
		return nil, errorf("ValidationError", "A port between 1 and 65535 must be specified")
	case p.get("VpcId") != s.VPC():
		return nil, errorf("ValidationError", "The VPC ID '%s' is not found", p.get("VpcId"))
	case p.get("TargetType") != "" && p.get("TargetType") != "instance":
		return nil, errorf("ValidationError", "Target type '%s' is not supported here", p.get("TargetType"))
	}
	web := tg.protocol == "HTTP" || tg.protocol == "HTTPS"
	tg.hc = [3]string{p.get("HealthCheckProtocol"), p.get("HealthCheckPort"), p.get("HealthCheckPath")}
	if tg.hc[0] == "" {
		tg.hc[0] = map[bool]string{true: "HTTP", false: "TCP"}[web]
	}
	if tg.hc[1] == "" {
		tg.hc[1] = "traffic-port"
	}
	if tg.hc[2] == "" && tg.hc[0] != "TCP" {
		tg.hc[2] = "/"
	}
	for i, k := range []string{"HealthCheckIntervalSeconds", "HealthCheckTimeoutSeconds", "HealthyThresholdCount", "UnhealthyThresholdCount"} {
		if tg.hcNums[i], aerr = p.int(k, []int{30, 5, 5, 2}[i]); aerr != nil {
			return nil, aerr
		}
	}
	if web && tg.hc[0] == "TCP" {
		return nil, errorf("ValidationError", "Health check protocol 'TCP' is not supported for target groups with the '%s' protocol", tg.protocol)
	}
	if old := s.tgByName(name); old != nil {
		if old.protocol == tg.protocol && old.port == tg.port {
			return []node{el("TargetGroups", el("member", tgXML(old)...))}, nil
		}
		return nil, errorf("DuplicateTargetGroupName", "A target group with the same name '%s' exists, but with different settings", name)
	}
	tg.arn = "arn:aws:elasticloadbalancing:" + s.opts.Region + ":123456789012:targetgroup/" + name + "/" + newID("x")[2:18]
	s.tgs[tg.arn] = tg
	return []node{el("TargetGroups", el("member", tgXML(tg)...))}, nil
}

func tgXML(tg *targetGroup) []node {
	var lbs []node
	for _, arn := range tg.lbs {
		lbs = append(lbs, leaf("member", arn))
	}
	return []node{
		leaf("TargetGroupArn", tg.arn), leaf("TargetGroupName", tg.name), leaf("Protocol", tg.protocol),
		leaf("Port", itoa(tg.port)), leaf("VpcId", "vpc-0fake"), leaf("HealthCheckProtocol", tg.hc[0]),
		leaf("HealthCheckPort", tg.hc[1]), leaf("HealthCheckEnabled", "true"),
		leaf("HealthCheckIntervalSeconds", itoa(tg.hcNums[0])), leaf("HealthCheckTimeoutSeconds", itoa(tg.hcNums[1])),
		leaf("HealthyThresholdCount", itoa(tg.hcNums[2])), leaf("UnhealthyThresholdCount", itoa(tg.hcNums[3])),
		opt("HealthCheckPath", tg.hc[2]), el("LoadBalancerArns", lbs...), leaf("TargetType", "instance"),
		leaf("IpAddressType", "ipv4"),
	}
}

func tgNotFound() *apiError {
	return errorf("TargetGroupNotFound", "One or more target groups not found")
}

func (s *Server) describeTargetGroups(p params) ([]node, *apiError) {
	var tgs []*targetGroup
	if arn := p.get("LoadBalancerArn"); arn != "" {
		if _, ok := s.lbs[arn]; !ok {
			return nil, lbNotFound()
		}
		for _, id := range sortedKeys(s.tgs) {
			if slices.Contains(s.tgs[id].lbs, arn) {
				tgs = append(tgs, s.tgs[id])
			}
		}
	}
	for _, arn := range p.list("TargetGroupArns.member") {
		tg, ok := s.tgs[arn]
		if !ok {
			return nil, tgNotFound()
		}
		tgs = append(tgs, tg)
	}
	for _, name := range p.list("Names.member") {
		tg := s.tgByName(name)
		if tg == nil {
			return nil, tgNotFound()
		}
		tgs = append(tgs, tg)
	}
	var out []node
	for _, tg := range tgs {
		out = append(out, el("member", tgXML(tg)...))
	}
	return []node{el("TargetGroups", out...)}, nil
}

func (s *Server) deleteTargetGroup(p params) ([]node, *apiError) {
	arn := p.get("TargetGroupArn")
	tg, ok := s.tgs[arn]
	if !ok {
		return nil, nil
	}
	if len(tg.lbs) > 0 || time.Now().Before(tg.inUseUntil) {
		return nil, errorf("ResourceInUse", "Target group '%s' is currently in use by a listener or a rule", arn)
	}
	delete(s.tgs, arn)
	return nil, nil
}

func (s *Server) modifyTargetGroupAttributes(p params) ([]node, *apiError) {
	tg, ok := s.tgs[p.get("TargetGroupArn")]
	if !ok {
		return nil, tgNotFound()
	}
	var out []node
	for _, a := range p.structs("Attributes.member") {
		tg.attrs[a.get("Key")] = a.get("Value")
	}
	for _, k := range sortedKeys(tg.attrs) {
		out = append(out, el("member", leaf("Key", k), leaf("Value", tg.attrs[k])))
	}
	return []node{el("Attributes", out...)}, nil
}

func (s *Server) createListener(p params) ([]node, *apiError) {
	lb, ok := s.lbs[p.get("LoadBalancerArn")]
	if !ok {
		return nil, lbNotFound()
	}
	l := &listener{lb: lb.arn, protocol: p.get("Protocol")}
	for _, c := range p.structs("Certificates.member") {
		l.certs = append(l.certs, c.get("CertificateArn"))
	}
	var aerr *apiError
	if l.port, aerr = p.int("Port", 0); aerr != nil {
		return nil, aerr
	}
	actions := p.structs("DefaultActions.member")
	if len(actions) != 1 || actions[0].get("Type") != "forward" {
		return nil, errorf("ValidationError", "Exactly one forward default action is supported here")
	}
	tg, ok := s.tgs[actions[0].get("TargetGroupArn")]
	if !ok {
		return nil, tgNotFound()
	}
	l.tg = tg.arn
	lbProtocols := map[string][]string{"application": {"HTTP", "HTTPS"}, "network": {"TCP", "TLS", "UDP", "TCP_UDP"}}[lb.kind]
	switch {
	case !slices.Contains(lbProtocols, l.protocol):
		return nil, errorf("ValidationError", "Listener protocol '%s' must be one of '%s'", l.protocol, strings.Join(lbProtocols, ", "))
	case !slices.Contains(lbProtocols, tg.protocol):
		return nil, errorf("IncompatibleProtocols", "The target group protocol '%s' is not compatible with a %s load balancer", tg.protocol, lb.kind)
	case (l.protocol == "HTTPS" || l.protocol == "TLS") && len(l.certs) == 0:
		return nil, errorf("ValidationError", "A certificate must be specified for %s listeners", l.protocol)
	case l.port < 1 || l.port > 65535:
		return nil, errorf("ValidationError", "A port between 1 and 65535 must be specified")
	case len(tg.lbs) > 0 && !slices.Contains(tg.lbs, lb.arn):
		return nil, errorf("TargetGroupAssociationLimit", "The following target groups cannot be associated with more than one load balancer: %s", tg.arn)
	}
	for _, other := range s.listeners {
		if other.lb == lb.arn && other.port == l.port {
			return nil, errorf("DuplicateListener", "A listener already exists on this port for this load balancer")
		}
	}
	l.arn = strings.Replace(lb.arn, ":loadbalancer/", ":listener/", 1) + "/" + newID("x")[2:18]
	s.listeners[l.arn] = l
	if !slices.Contains(tg.lbs, lb.arn) {
		tg.lbs = append(tg.lbs, lb.arn)
	}
	return []node{el("Listeners", el("member", listenerXML(l)...))}, nil
}

func listenerXML(l *listener) []node {
	var certs []node
	for _, c := range l.certs {
		certs = append(certs, el("member", leaf("CertificateArn", c)))
	}
	return []node{leaf("ListenerArn", l.arn), leaf("LoadBalancerArn", l.lb), leaf("Port", itoa(l.port)),
		leaf("Protocol", l.protocol), el("Certificates", certs...),
		el("DefaultActions", el("member", leaf("Type", "forward"), leaf("TargetGroupArn", l.tg)))}
}

func (s *Server) describeListeners(p params) ([]node, *apiError) {
	arn := p.get("LoadBalancerArn")
	if _, ok := s.lbs[arn]; !ok {
		return nil, lbNotFound()
	}
	var out []node
	for _, id := range sortedKeys(s.listeners) {
		if l := s.listeners[id]; l.lb == arn {
			out = append(out, el("member", listenerXML(l)...))
		}
	}
	return []node{el("Listeners", out...)}, nil
}

type targetRef struct {
	id   string
	port int
}

func readTargets(p params) ([]targetRef, *apiError) {
	var out []targetRef
	for _, t := range p.structs("Targets.member") {
		port, aerr := t.int("Port", 0)
		if aerr != nil {
			return nil, aerr
		}
		out = append(out, targetRef{id: t.get("Id"), port: port})
	}
	if len(out) == 0 {
		return nil, errorf("ValidationError", "Targets must contain at least one target")
	}
	return out, nil
}

func (s *Server) registerTargets(p params) ([]node, *apiError) {
	tg, ok := s.tgs[p.get("TargetGroupArn")]
	if !ok {
		return nil, tgNotFound()
	}
	refs, aerr := readTargets(p)
	if aerr != nil {
		return nil, aerr
	}
	for _, r := range refs {
		in, ok := s.instances[r.id]
		if !ok || !instanceIDPattern.MatchString(r.id) {
			return nil, errorf("InvalidTarget", "The following targets are not valid instances: '%s'", r.id)
		}
		if in.state != "running" {
			return nil, errorf("InvalidTarget", "The following targets are not in a running state and cannot be registered: '%s'", r.id)
		}
	}
	now := time.Now()
	for _, r := range refs {
		if t, ok := tg.targets[r.id]; ok && t.state != "draining" {
			continue
		}
		port := r.port
		if port == 0 {
			port = tg.port
		}
		tg.targets[r.id] = &target{port: port, state: "initial", since: now}
	}
	return nil, nil
}

func (s *Server) deregisterTargets(p params) ([]node, *apiError) {
	tg, ok := s.tgs[p.get("TargetGroupArn")]
	if !ok {
		return nil, tgNotFound()
	}
	refs, aerr := readTargets(p)
	if aerr != nil {
		return nil, aerr
	}
	for _, r := range refs {
		if _, ok := tg.targets[r.id]; !ok {
			return nil, errorf("InvalidTarget", "The following targets are not registered in target group '%s': '%s'", tg.arn, r.id)
		}
	}
	now := time.Now()
	for _, r := range refs {
		if t := tg.targets[r.id]; t.state != "draining" {
			t.state, t.since = "draining", now
		}
	}
	return nil, nil
}

func (s *Server) describeTargetHealth(p params) ([]node, *apiError) {
	tg, ok := s.tgs[p.get("TargetGroupArn")]
	if !ok {
		return nil, tgNotFound()
	}
	reasons := map[string][2]string{
		"initial":   {"Elb.RegistrationInProgress", "Target registration is in progress"},
		"unhealthy": {"Target.FailedHealthChecks", "Health checks failed"},
		"draining":  {"Target.DeregistrationInProgress", "Target deregistration is in progress"},
	}
	var out []node
	for _, id := range sortedKeys(tg.targets) {
		t := tg.targets[id]
		state := t.state
		if state != "draining" && len(tg.lbs) == 0 {
			state = "unused"
		}
		r := reasons[state]
		out = append(out, el("member", el("Target", leaf("Id", id), leaf("Port", itoa(t.port))),
			leaf("HealthCheckPort", itoa(t.port)),
			el("TargetHealth", leaf("State", state), opt("Reason", r[0]), opt("Description", r[1]))))
	}
	return []node{el("TargetHealthDescriptions", out...)}, nil
}
