package awsfake

import (
	"slices"
	"sort"
	"strings"
	"time"
)

type group struct {
	name, arn         string
	min, max, desired int
	zones, subnets    []string
	ltName, ltID      string
	mixed             bool
	instanceType      string // the mixed instances policy's override
	onDemandBase      int
	onDemandPercent   int
	spotStrategy      string
	capacityRebalance bool
	tags              []groupTag
	created           time.Time
	members           map[string]bool // instance ID → terminating
	deleting          bool
}

type groupTag struct {
	key, value string
	propagate  bool
}

func (s *Server) autoScalingActions() map[string]func(params) ([]node, *apiError) {
	return map[string]func(params) ([]node, *apiError){
		"CreateAutoScalingGroup":              s.createAutoScalingGroup,
		"DescribeAutoScalingGroups":           s.describeAutoScalingGroups,
		"SetDesiredCapacity":                  s.setDesiredCapacity,
		"TerminateInstanceInAutoScalingGroup": s.terminateInstanceInAutoScalingGroup,
		"DeleteAutoScalingGroup":              s.deleteAutoScalingGroup,
	}
}

func groupNotFound(name string) *apiError {
	return errorf("ValidationError", "AutoScalingGroup name not found - AutoScalingGroup '%s' not found", name)
}

func (s *Server) createAutoScalingGroup(p params) ([]node, *apiError) {
	name := p.get("AutoScalingGroupName")
	if name == "" || len(name) > 255 {
		return nil, errorf("ValidationError", "1 validation error detected: Value at 'autoScalingGroupName' failed to satisfy constraint: Member must have length between 1 and 255")
	}
	if _, ok := s.groups[name]; ok {
		return nil, errorf("AlreadyExists", "AutoScalingGroup by this name already exists - A group with the name %s already exists", name)
	}
	g := &group{name: name, arn: "arn:aws:autoscaling:" + s.opts.Region + ":123456789012:autoScalingGroup:" + newID("uuid")[5:] + ":autoScalingGroupName/" + name,
		created: time.Now(), members: map[string]bool{}, capacityRebalance: p.bool("CapacityRebalance")}
	var aerr *apiError
	if g.min, aerr = p.int("MinSize", -1); aerr != nil {
		return nil, aerr
	}
	if g.max, aerr = p.int("MaxSize", -1); aerr != nil {
		return nil, aerr
	}
	if g.desired, aerr = p.int("DesiredCapacity", g.min); aerr != nil {
		return nil, aerr
	}
	switch {
	case g.min < 0 || g.max < 0:
		return nil, errorf("ValidationError", "MinSize and MaxSize are required.")
	case g.min > g.max:
		return nil, errorf("ValidationError", "Max bound, %d, must be greater than or equal to min bound, %d", g.max, g.min)
	case g.desired < g.min || g.desired > g.max:
		return nil, errorf("ValidationError", "Desired capacity:%d must be between the specified min size:%d and max size:%d", g.desired, g.min, g.max)
	}

	lt := p.sub("LaunchTemplate")
	if mp := p.sub("MixedInstancesPolicy"); len(mp) > 0 {
		g.mixed = true
		lt = mp.sub("LaunchTemplate.LaunchTemplateSpecification")
		if o := mp.structs("LaunchTemplate.Overrides.member"); len(o) > 0 {
			g.instanceType = o[0].get("InstanceType")
		}
		if g.onDemandBase, aerr = mp.int("InstancesDistribution.OnDemandBaseCapacity", 0); aerr != nil {
			return nil, aerr
		}
		if g.onDemandPercent, aerr = mp.int("InstancesDistribution.OnDemandPercentageAboveBaseCapacity", 100); aerr != nil {
			return nil, aerr
		}
		g.spotStrategy = mp.get("InstancesDistribution.SpotAllocationStrategy")
	}
	t, ok := s.template(lt.get("LaunchTemplateName"), lt.get("LaunchTemplateId"))
	if !ok {
		return nil, errorf("ValidationError", "You must use a valid fully-formed launch template. The specified launch template, with template name %s, does not exist.", lt.get("LaunchTemplateName"))
	}
	if g.mixed && t.data.spot {
		return nil, errorf("ValidationError", "Incompatible launch template: You cannot use a launch template that is set to request Spot Instances (InstanceMarketOptions) when you configure an Auto Scaling group with a mixed instances policy.")
	}
	g.ltName, g.ltID = t.name, t.id
	if g.instanceType == "" {
		g.instanceType = t.data.instanceType
	}

	if vpc := p.get("VPCZoneIdentifier"); vpc != "" {
		for _, subnet := range strings.Split(vpc, ",") {
			z, ok := s.zoneOfSubnet(strings.TrimSpace(subnet))
			if !ok {
				return nil, errorf("ValidationError", "The subnet ID '%s' does not exist", subnet)
			}
			g.subnets = append(g.subnets, strings.TrimSpace(subnet))
			g.zones = append(g.zones, z)
		}
	} else {
		for _, z := range p.list("AvailabilityZones.member") {
			if !slices.Contains(s.opts.Zones, z) {
				return nil, errorf("ValidationError", "The availability zone %s is not legitimate", z)
			}
			g.zones = append(g.zones, z)
		}
	}
	if len(g.zones) == 0 {
		return nil, errorf("ValidationError", "At least one Availability Zone or VPC Subnet is required.")
	}
	for _, tp := range p.structs("Tags.member") {
		g.tags = append(g.tags, groupTag{key: tp.get("Key"), value: tp.get("Value"), propagate: tp.bool("PropagateAtLaunch")})
	}
	s.groups[name] = g
	s.reconcile(g, time.Now())
	return nil, nil
}

func (s *Server) tickGroups(now time.Time) {
	for _, g := range s.groups {
		s.reconcile(g, now)
	}
}

// reconcile does what an Auto Scaling group does on its own: forget terminated members,
// notice members terminated behind its back, and launch or terminate to match desired.
func (s *Server) reconcile(g *group, now time.Time) {
	var active []*instance
	for id, terminating := range g.members {
		in := s.instances[id]
		if in == nil || in.state == "terminated" {
			delete(g.members, id)
			continue
		}
		if !terminating && in.state == "shutting-down" {
			g.members[id] = true
			continue
		}
		if !terminating {
			active = append(active, in)
		}
	}
	if g.deleting {
		for _, in := range active {
			g.members[in.id] = true
			s.terminate(in, now)
		}
		if len(g.members) == 0 {
			delete(s.groups, g.name)
		}
		return
	}
	// Newest first: scale-in terminates from the front.
	sort.Slice(active, func(i, j int) bool {
		if !active[i].launched.Equal(active[j].launched) {
			return active[i].launched.After(active[j].launched)
		}
		return active[i].id > active[j].id
	})
	for _, in := range active[:max(0, len(active)-g.desired)] {
		g.members[in.id] = true
		s.terminate(in, now)
	}
	perZone := map[string]int{}
	for _, in := range active {
		perZone[in.zone]++
	}
	for n := len(active); n < g.desired; n++ {
		if !s.launchMember(g, perZone, now) {
			break
		}
	}
}

// launchMember launches one member in the least populated zone that can take it, skipping
// stocked-out zones as a real group does. It reports whether it launched.
func (s *Server) launchMember(g *group, perZone map[string]int, now time.Time) bool {
	t, ok := s.templates[g.ltName]
	if !ok {
		return false // a real group records a failed scaling activity and retries
	}
	ls := t.data
	ls.instanceType = g.instanceType
	ls.spot = ls.spot || (g.mixed && g.onDemandBase == 0 && g.onDemandPercent == 0)
	ls.tags = clone(ls.tags)
	for _, tag := range g.tags {
		if tag.propagate {
			ls.tags[tag.key] = tag.value
		}
	}
	ls.tags["aws:autoscaling:groupName"] = g.name
	zones := slices.Clone(g.zones)
	sort.SliceStable(zones, func(i, j int) bool { return perZone[zones[i]] < perZone[zones[j]] })
	for _, z := range zones {
		if s.checkLaunch(ls, z) != nil {
			continue
		}
		in := s.launch(ls, z, newID("r"), now)
		delete(s.hidden, in.id) // the group's own instances are not subject to lag
		g.members[in.id] = false
		perZone[z]++
		return true
	}
	return false
}

func (s *Server) describeAutoScalingGroups(p params) ([]node, *apiError) {
	names := p.list("AutoScalingGroupNames.member")
	if len(names) == 0 {
		names = sortedKeys(s.groups)
	}
	var out []node
	for _, name := range names {
		if g, ok := s.groups[name]; ok {
			out = append(out, s.groupXML(g))
		}
	}
	return []node{el("AutoScalingGroups", items("member", out)...)}, nil
}

func (s *Server) lifecycle(id string, terminating bool) string {
	in := s.instances[id]
	switch {
	case in == nil || in.state == "terminated":
		return "Terminated"
	case terminating:
		return "Terminating"
	case in.state == "pending":
		return "Pending"
	}
	return "InService"
}

func (g *group) ltXML() node {
	return el("LaunchTemplateSpecification", leaf("LaunchTemplateId", g.ltID), leaf("LaunchTemplateName", g.ltName), leaf("Version", "$Default"))
}

func (s *Server) groupXML(g *group) node {
	var members, tags, zones []node
	for _, id := range sortedKeys(g.members) {
		in := s.instances[id]
		if in == nil {
			continue
		}
		lt := g.ltXML()
		lt.name = "LaunchTemplate"
		members = append(members, el("", leaf("InstanceId", id), leaf("InstanceType", in.instanceType),
			leaf("AvailabilityZone", in.zone), leaf("LifecycleState", s.lifecycle(id, g.members[id])),
			leaf("HealthStatus", "Healthy"), lt, leaf("ProtectedFromScaleIn", "false")))
	}
	for _, t := range g.tags {
		tags = append(tags, el("", leaf("ResourceId", g.name), leaf("ResourceType", "auto-scaling-group"),
			leaf("Key", t.key), leaf("Value", t.value), leaf("PropagateAtLaunch", boolText(t.propagate))))
	}
	for _, z := range g.zones {
		zones = append(zones, leaf("", z))
	}
	var template node
	if g.mixed {
		template = el("MixedInstancesPolicy",
			el("LaunchTemplate", g.ltXML(), el("Overrides", el("member", leaf("InstanceType", g.instanceType)))),
			el("InstancesDistribution", leaf("OnDemandAllocationStrategy", "prioritized"),
				leaf("OnDemandBaseCapacity", itoa(g.onDemandBase)),
				leaf("OnDemandPercentageAboveBaseCapacity", itoa(g.onDemandPercent)),
				opt("SpotAllocationStrategy", g.spotStrategy)))
	} else {
		template = g.ltXML()
		template.name = "LaunchTemplate"
	}
	status := ""
	if g.deleting {
		status = "Delete in progress"
	}
	return el("",
		leaf("AutoScalingGroupName", g.name), leaf("AutoScalingGroupARN", g.arn), template,
		leaf("MinSize", itoa(g.min)), leaf("MaxSize", itoa(g.max)), leaf("DesiredCapacity", itoa(g.desired)),
		leaf("DefaultCooldown", "300"), el("AvailabilityZones", items("member", zones)...),
		leaf("HealthCheckType", "EC2"), leaf("HealthCheckGracePeriod", "300"),
		el("Instances", items("member", members)...), leaf("CreatedTime", timeText(g.created)),
		opt("VPCZoneIdentifier", strings.Join(g.subnets, ",")), opt("Status", status),
		el("Tags", items("member", tags)...),
		el("TerminationPolicies", leaf("member", "Default")),
		leaf("NewInstancesProtectedFromScaleIn", "false"), leaf("CapacityRebalance", boolText(g.capacityRebalance)))
}

func (s *Server) setDesiredCapacity(p params) ([]node, *apiError) {
	name := p.get("AutoScalingGroupName")
	g, ok := s.groups[name]
	if !ok {
		return nil, groupNotFound(name)
	}
	if g.deleting {
		return nil, errorf("ScalingActivityInProgress", "Group %s is being deleted.", name)
	}
	n, aerr := p.int("DesiredCapacity", -1)
	if aerr != nil {
		return nil, aerr
	}
	switch {
	case n > g.max:
		return nil, errorf("ValidationError", "New SetDesiredCapacity value %d is above max value %d for the AutoScaling group.", n, g.max)
	case n < g.min:
		return nil, errorf("ValidationError", "New SetDesiredCapacity value %d is below min value %d for the AutoScaling group.", n, g.min)
	}
	g.desired = n
	s.reconcile(g, time.Now())
	return nil, nil
}

// memberGroup finds the group in which id is a member not being terminated.
func (s *Server) memberGroup(id string) *group {
	for _, g := range s.groups {
		if terminating, ok := g.members[id]; ok && !terminating {
			return g
		}
	}
	return nil
}

func (s *Server) terminateInstanceInAutoScalingGroup(p params) ([]node, *apiError) {
	id := p.get("InstanceId")
	g := s.memberGroup(id)
	if g == nil {
		return nil, errorf("ValidationError", "Instance Id not found - No managed instance found for instance ID: %s", id)
	}
	decrement := p.bool("ShouldDecrementDesiredCapacity")
	if decrement && g.desired-1 < g.min {
		return nil, errorf("ValidationError", "Currently, desiredSize equals minSize (%d). Terminating instance without replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size.", g.min)
	}
	now := time.Now()
	if decrement {
		g.desired--
	}
	g.members[id] = true
	s.terminate(s.instances[id], now)
	s.reconcile(g, now)
	cause := "At " + timeText(now) + " instance " + id + " was taken out of service in response to a user request"
	if decrement {
		cause += ", shrinking the capacity from " + itoa(g.desired+1) + " to " + itoa(g.desired)
	}
	return []node{el("Activity", leaf("ActivityId", newRequestID()), leaf("AutoScalingGroupName", g.name),
		leaf("Description", "Terminating EC2 instance: "+id), leaf("Cause", cause+"."),
		leaf("StartTime", timeText(now)), leaf("StatusCode", "InProgress"), leaf("Progress", "0"))}, nil
}

func (s *Server) deleteAutoScalingGroup(p params) ([]node, *apiError) {
	name := p.get("AutoScalingGroupName")
	g, ok := s.groups[name]
	if !ok {
		return nil, groupNotFound(name)
	}
	if len(g.members) > 0 && !p.bool("ForceDelete") {
		return nil, errorf("ResourceInUse", "You cannot delete an AutoScalingGroup while there are instances or pending Spot instance request(s) still in the group.")
	}
	g.deleting, g.desired, g.min = true, 0, 0
	s.reconcile(g, time.Now())
	return nil, nil
}
