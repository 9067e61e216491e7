package awsfake

import (
	"encoding/base64"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

var (
	instanceIDPattern = regexp.MustCompile(`^i-[0-9a-f]{8,17}$`)
	ltNamePattern     = regexp.MustCompile(`^[a-zA-Z0-9().\-/_]{3,128}$`)
)

type instance struct {
	id, reservation, imageID, instanceType, zone, subnet string
	state                                                string // pending, running, shutting-down, terminated
	spot                                                 bool
	tags                                                 map[string]string
	securityGroups                                       []string
	privateIP, publicIP                                  string
	launched, changed                                    time.Time         // changed: entered state
	devices                                              map[string]string // device → volume ID, for the block device mapping
}

var stateCodes = map[string]int{"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}

type launchTemplate struct {
	id, name string
	created  time.Time
	data     launchSpec
}

// launchSpec is what RunInstances and launch templates share.
type launchSpec struct {
	imageID, instanceType, userData string
	spot                            bool
	tags, volumeTags                map[string]string
	securityGroups                  []string
	disks                           []diskSpec
}

type diskSpec struct {
	device, volumeType string
	size               int
	deleteOnTerm       bool
}

func (s *Server) ec2Actions() map[string]func(params) ([]node, *apiError) {
	return map[string]func(params) ([]node, *apiError){
		"RunInstances":                  s.runInstances,
		"DescribeInstances":             s.describeInstances,
		"TerminateInstances":            s.terminateInstances,
		"CreateLaunchTemplate":          s.createLaunchTemplate,
		"DeleteLaunchTemplate":          s.deleteLaunchTemplate,
		"DescribeInstanceTypeOfferings": s.describeInstanceTypeOfferings,
		"DescribeSpotPriceHistory":      s.describeSpotPriceHistory,
		"CreateVolume":                  s.createVolume,
		"DescribeVolumes":               s.describeVolumes,
		"AttachVolume":                  s.attachVolume,
		"DetachVolume":                  s.detachVolume,
		"DeleteVolume":                  s.deleteVolume,
	}
}

// readLaunchSpec reads the RunInstances / RequestLaunchTemplateData parameters.
func readLaunchSpec(p params) (launchSpec, *apiError) {
	ls := launchSpec{
		imageID:        p.get("ImageId"),
		instanceType:   p.get("InstanceType"),
		spot:           p.get("InstanceMarketOptions.MarketType") == "spot",
		tags:           map[string]string{},
		volumeTags:     map[string]string{},
		securityGroups: p.list("SecurityGroupId"),
	}
	if u := p.get("UserData"); u != "" {
		b, err := base64.StdEncoding.DecodeString(u)
		if err != nil {
			return ls, errorf("InvalidParameterValue", "Invalid BASE64 encoding of user data.")
		}
		ls.userData = string(b)
	}
	for _, ts := range p.structs("TagSpecification") {
		switch ts.get("ResourceType") {
		case "instance":
			ls.tags = tagsOf(ts.structs("Tag"))
		case "volume":
			ls.volumeTags = tagsOf(ts.structs("Tag"))
		}
	}
	for _, bd := range p.structs("BlockDeviceMapping") {
		size, aerr := bd.int("Ebs.VolumeSize", 8)
		if aerr != nil {
			return ls, aerr
		}
		ls.disks = append(ls.disks, diskSpec{
			device: bd.get("DeviceName"), volumeType: bd.get("Ebs.VolumeType"), size: size,
			deleteOnTerm: bd.get("Ebs.DeleteOnTermination") != "false",
		})
	}
	return ls, nil
}

func (s *Server) offered(instanceType, zone string) bool {
	return slices.Contains(s.opts.Offerings[instanceType], zone)
}

// checkLaunch validates a launch of ls in zone: an error for RunInstances.
func (s *Server) checkLaunch(ls launchSpec, zone string) *apiError {
	switch {
	case ls.imageID == "":
		return errorf("MissingParameter", "The request must contain the parameter ImageId")
	case !strings.HasPrefix(ls.imageID, "ami-"):
		return errorf("InvalidAMIID.Malformed", "Invalid id: %q (expecting \"ami-...\")", ls.imageID)
	case len(s.opts.Offerings[ls.instanceType]) == 0:
		return errorf("InvalidParameterValue", "Invalid value '%s' for InstanceType.", ls.instanceType)
	case !slices.Contains(s.opts.Zones, zone):
		return errorf("InvalidParameterValue", "Invalid availability zone: [%s]", zone)
	case !s.offered(ls.instanceType, zone):
		return errorf("Unsupported", "Your requested instance type (%s) is not supported in your requested Availability Zone (%s).", ls.instanceType, zone)
	case s.stockouts[[2]string{zone, ls.instanceType}]:
		return errorf("InsufficientInstanceCapacity", "We currently do not have sufficient %s capacity in the Availability Zone you requested (%s). Our system will be working on provisioning additional capacity.", ls.instanceType, zone)
	}
	for _, sg := range ls.securityGroups {
		if sg != s.SecurityGroup() {
			return errorf("InvalidGroup.NotFound", "The security group '%s' does not exist", sg)
		}
	}
	return nil
}

// launch creates a pending instance; the caller has checked it.
func (s *Server) launch(ls launchSpec, zone, reservation string, now time.Time) *instance {
	n := len(s.instances) + 10
	in := &instance{
		id: newID("i"), reservation: reservation, imageID: ls.imageID, instanceType: ls.instanceType,
		zone: zone, subnet: subnetOf(zone), state: "pending", spot: ls.spot, tags: clone(ls.tags),
		securityGroups: ls.securityGroups, launched: now, changed: now,
		privateIP: "10.0." + strconv.Itoa(n/250%250) + "." + strconv.Itoa(n%250+2),
		devices:   map[string]string{},
	}
	if len(in.securityGroups) == 0 {
		in.securityGroups = []string{s.SecurityGroup()}
	}
	s.instances[in.id] = in
	s.userData[in.id] = ls.userData
	s.newHidden(in.id)
	root := append([]diskSpec{{device: "/dev/xvda", volumeType: "gp3", size: 8, deleteOnTerm: true}}, ls.disks...)
	for _, d := range root {
		v := s.newVolume(zone, d.volumeType, d.size, clone(ls.volumeTags), now)
		v.state = "in-use"
		v.attachment = &attachment{instanceID: in.id, device: d.device, state: "attached", since: now, deleteOnTerm: d.deleteOnTerm}
		in.devices[d.device] = v.id
	}
	return in
}

func (s *Server) runInstances(p params) ([]node, *apiError) {
	ls, aerr := readLaunchSpec(p)
	if aerr != nil {
		return nil, aerr
	}
	count, aerr := p.int("MaxCount", 1)
	if aerr != nil {
		return nil, aerr
	}
	if token := p.get("ClientToken"); token != "" {
		if id, ok := s.tokens[token]; ok {
			if in, ok := s.instances[id]; ok {
				return s.reservationXML(in.reservation, []*instance{in}), nil
			}
		}
	}
	zone := p.get("Placement.AvailabilityZone")
	if subnet := p.get("SubnetId"); subnet != "" {
		z, ok := s.zoneOfSubnet(subnet)
		if !ok {
			return nil, errorf("InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", subnet)
		}
		if zone != "" && zone != z {
			return nil, errorf("InvalidParameterCombination", "The subnet %s is not in availability zone %s", subnet, zone)
		}
		zone = z
	}
	if zone == "" {
		for _, z := range s.opts.Zones {
			if s.offered(ls.instanceType, z) && !s.stockouts[[2]string{z, ls.instanceType}] {
				zone = z
				break
			}
		}
		if zone == "" && len(s.opts.Zones) > 0 {
			zone = s.opts.Zones[0]
		}
	}
	if aerr := s.checkLaunch(ls, zone); aerr != nil {
		return nil, aerr
	}
	reservation := newID("r")
	now := time.Now()
	var launched []*instance
	for range max(count, 1) {
		in := s.launch(ls, zone, reservation, now)
		launched = append(launched, in)
		if token := p.get("ClientToken"); token != "" {
			s.tokens[token] = in.id
		}
	}
	return s.reservationXML(reservation, launched), nil
}

func (s *Server) reservationXML(reservation string, ins []*instance) []node {
	var xs []node
	for _, in := range ins {
		xs = append(xs, s.instanceXML(in))
	}
	return []node{leaf("reservationId", reservation), leaf("ownerId", "123456789012"), el("groupSet"), el("instancesSet", items("item", xs)...)}
}

func (s *Server) instanceXML(in *instance) node {
	var tags, bdm, groups []node
	for _, k := range sortedKeys(in.tags) {
		tags = append(tags, el("", leaf("key", k), leaf("value", in.tags[k])))
	}
	for _, dev := range sortedKeys(in.devices) {
		v := s.volumes[in.devices[dev]]
		if v == nil || v.attachment == nil {
			continue
		}
		bdm = append(bdm, el("", leaf("deviceName", dev), el("ebs", leaf("volumeId", v.id),
			leaf("status", v.attachment.state), leaf("attachTime", timeText(v.attachment.since)),
			leaf("deleteOnTermination", boolText(v.attachment.deleteOnTerm)))))
	}
	for _, g := range in.securityGroups {
		groups = append(groups, el("", leaf("groupId", g), leaf("groupName", "fake")))
	}
	lifecycle, publicIP, privateIP := "", "", ""
	if in.spot {
		lifecycle = "spot"
	}
	if in.state != "terminated" {
		privateIP = in.privateIP
	}
	if in.state == "running" {
		publicIP = in.publicIP
	}
	return el("",
		leaf("instanceId", in.id), leaf("imageId", in.imageID),
		el("instanceState", leaf("code", itoa(stateCodes[in.state])), leaf("name", in.state)),
		opt("privateIpAddress", privateIP), opt("ipAddress", publicIP),
		leaf("instanceType", in.instanceType), leaf("launchTime", timeText(in.launched)),
		el("placement", leaf("availabilityZone", in.zone), leaf("tenancy", "default")),
		leaf("subnetId", in.subnet), leaf("vpcId", s.VPC()), leaf("architecture", "x86_64"),
		leaf("rootDeviceType", "ebs"), leaf("rootDeviceName", "/dev/xvda"),
		el("blockDeviceMapping", items("item", bdm)...),
		opt("instanceLifecycle", lifecycle),
		el("groupSet", items("item", groups)...),
		el("tagSet", items("item", tags)...),
	)
}

// findInstances resolves InstanceId.N: every ID must exist and be visible.
func (s *Server) findInstances(ids []string) ([]*instance, *apiError) {
	var out []*instance
	var missing []string
	for _, id := range ids {
		if !instanceIDPattern.MatchString(id) {
			return nil, errorf("InvalidInstanceID.Malformed", "Invalid id: %q", id)
		}
		in, ok := s.instances[id]
		if !ok || s.isHidden(id) {
			missing = append(missing, id)
			continue
		}
		out = append(out, in)
	}
	if len(missing) > 0 {
		return nil, errorf("InvalidInstanceID.NotFound", "The instance IDs '%s' do not exist", strings.Join(missing, ", "))
	}
	return out, nil
}

// filterMatch applies ec2query Filter.N to one object's attributes.
func filterMatch(filters []params, attr func(name string) []string) bool {
	for _, f := range filters {
		values, got := f.list("Value"), attr(f.get("Name"))
		if !slices.ContainsFunc(values, func(v string) bool { return slices.Contains(got, v) }) {
			return false
		}
	}
	return true
}

func tagAttr(tags map[string]string, name string) ([]string, bool) {
	if k, ok := strings.CutPrefix(name, "tag:"); ok {
		if v, ok := tags[k]; ok {
			return []string{v}, true
		}
		return nil, true
	}
	if name == "tag-key" {
		return sortedKeys(tags), true
	}
	return nil, false
}

func (s *Server) describeInstances(p params) ([]node, *apiError) {
	var ins []*instance
	if ids := p.list("InstanceId"); len(ids) > 0 {
		found, aerr := s.findInstances(ids)
		if aerr != nil {
			return nil, aerr
		}
		ins = found
	} else {
		for _, in := range s.instances {
			if _, hidden := s.hidden[in.id]; !hidden {
				ins = append(ins, in)
			}
		}
	}
	filters := p.structs("Filter")
	var matched []*instance
	for _, in := range ins {
		ok := filterMatch(filters, func(name string) []string {
			if v, ok := tagAttr(in.tags, name); ok {
				return v
			}
			switch name {
			case "instance-state-name":
				return []string{in.state}
			case "instance-id":
				return []string{in.id}
			case "availability-zone":
				return []string{in.zone}
			case "instance-type":
				return []string{in.instanceType}
			}
			return nil
		})
		if ok {
			matched = append(matched, in)
		}
	}
	sort.Slice(matched, func(i, j int) bool { return matched[i].id < matched[j].id })
	page, next, aerr := paginate(p, len(matched))
	if aerr != nil {
		return nil, aerr
	}
	var rs []node
	for _, in := range matched[page[0]:page[1]] {
		rs = append(rs, el("", s.reservationXML(in.reservation, []*instance{in})...))
	}
	return []node{el("reservationSet", items("item", rs)...), opt("nextToken", next)}, nil
}

// paginate reads MaxResults/NextToken and returns the slice bounds of the page and the
// next token ("" on the last page).
func paginate(p params, n int) ([2]int, string, *apiError) {
	size, aerr := p.int("MaxResults", 1000)
	if aerr != nil {
		return [2]int{}, "", aerr
	}
	start := 0
	if tok := p.get("NextToken"); tok != "" {
		v, err := strconv.Atoi(tok)
		if err != nil || v < 0 || v > n {
			return [2]int{}, "", errorf("InvalidParameterValue", "Invalid NextToken.")
		}
		start = v
	}
	end := min(n, start+max(size, 1))
	next := ""
	if end < n {
		next = strconv.Itoa(end)
	}
	return [2]int{start, end}, next, nil
}

func (s *Server) terminateInstances(p params) ([]node, *apiError) {
	ins, aerr := s.findInstances(p.list("InstanceId"))
	if aerr != nil {
		return nil, aerr
	}
	now := time.Now()
	var changes []node
	for _, in := range ins {
		prev := in.state
		s.terminate(in, now)
		changes = append(changes, el("", leaf("instanceId", in.id),
			el("currentState", leaf("code", itoa(stateCodes[in.state])), leaf("name", in.state)),
			el("previousState", leaf("code", itoa(stateCodes[prev])), leaf("name", prev))))
	}
	return []node{el("instancesSet", items("item", changes)...)}, nil
}

func (s *Server) terminate(in *instance, now time.Time) {
	if in.state == "pending" || in.state == "running" {
		in.state, in.changed = "shutting-down", now
	}
}

func (s *Server) tickInstances(now time.Time) {
	for id, in := range s.instances {
		switch {
		case in.state == "pending" && now.Sub(in.changed) >= s.opts.Boot:
			in.state, in.changed = "running", now
			in.publicIP = "203.0.113." + strconv.Itoa(len(s.instances)%250+1)
		case in.state == "shutting-down" && now.Sub(in.changed) >= s.opts.Shutdown:
			in.state, in.changed = "terminated", now
			for dev, vid := range in.devices {
				if v := s.volumes[vid]; v != nil && v.attachment != nil && v.attachment.instanceID == id {
					if v.attachment.deleteOnTerm {
						delete(s.volumes, vid)
					} else {
						v.attachment, v.state = nil, "available"
					}
				}
				delete(in.devices, dev)
			}
		case in.state == "terminated" && now.Sub(in.changed) >= s.opts.Linger:
			delete(s.instances, id)
		}
	}
}

func (s *Server) createLaunchTemplate(p params) ([]node, *apiError) {
	name := p.get("LaunchTemplateName")
	if !ltNamePattern.MatchString(name) {
		return nil, errorf("InvalidLaunchTemplateName.MalformedException", "A launch template name must be between 3 and 128 characters, and may contain letters, numbers, and the following characters: - ( ) . / _.'")
	}
	if _, ok := s.templates[name]; ok {
		return nil, errorf("InvalidLaunchTemplateName.AlreadyExistsException", "Launch template name already in use.")
	}
	ls, aerr := readLaunchSpec(p.sub("LaunchTemplateData"))
	if aerr != nil {
		return nil, aerr
	}
	lt := &launchTemplate{id: newID("lt"), name: name, created: time.Now(), data: ls}
	s.templates[name] = lt
	s.newHidden(lt.id)
	return []node{s.launchTemplateXML(lt)}, nil
}

func (s *Server) launchTemplateXML(lt *launchTemplate) node {
	return el("launchTemplate", leaf("launchTemplateId", lt.id), leaf("launchTemplateName", lt.name),
		leaf("createTime", timeText(lt.created)), leaf("createdBy", "arn:aws:iam::123456789012:user/fake"),
		leaf("defaultVersionNumber", "1"), leaf("latestVersionNumber", "1"))
}

// template finds a visible launch template by name or ID.
func (s *Server) template(name, id string) (*launchTemplate, bool) {
	for _, lt := range s.templates {
		if (name != "" && lt.name == name) || (id != "" && lt.id == id) {
			return lt, !s.isHidden(lt.id)
		}
	}
	return nil, false
}

func (s *Server) deleteLaunchTemplate(p params) ([]node, *apiError) {
	name, id := p.get("LaunchTemplateName"), p.get("LaunchTemplateId")
	lt, ok := s.template(name, id)
	if !ok {
		if id != "" {
			return nil, errorf("InvalidLaunchTemplateId.NotFound", "The specified launch template, with template ID %s, does not exist.", id)
		}
		return nil, errorf("InvalidLaunchTemplateName.NotFoundException", "The specified launch template, with template name %s, does not exist.", name)
	}
	delete(s.templates, lt.name)
	return []node{s.launchTemplateXML(lt)}, nil
}

func (s *Server) describeInstanceTypeOfferings(p params) ([]node, *apiError) {
	if lt := p.get("LocationType"); lt != "" && lt != "availability-zone" && lt != "region" {
		return nil, errorf("InvalidParameterValue", "Invalid location type %q.", lt)
	}
	byZone := p.get("LocationType") == "availability-zone"
	filters := p.structs("Filter")
	var out []node
	for _, t := range sortedKeys(s.opts.Offerings) {
		locations := s.opts.Offerings[t]
		if !byZone {
			locations = []string{s.opts.Region}
		}
		for _, loc := range locations {
			if !filterMatch(filters, func(name string) []string {
				switch name {
				case "instance-type":
					return []string{t}
				case "location":
					return []string{loc}
				}
				return nil
			}) {
				continue
			}
			lt := "region"
			if byZone {
				lt = "availability-zone"
			}
			out = append(out, el("", leaf("instanceType", t), leaf("locationType", lt), leaf("location", loc)))
		}
	}
	return []node{el("instanceTypeOfferingSet", items("item", out)...)}, nil
}

func (s *Server) describeSpotPriceHistory(p params) ([]node, *apiError) {
	types := p.list("InstanceType")
	now := time.Now()
	var out []node
	for _, key := range sortedKeys(s.opts.SpotPrices) {
		t, zone, _ := strings.Cut(key, "/")
		if len(types) > 0 && !slices.Contains(types, t) {
			continue
		}
		out = append(out, el("", leaf("availabilityZone", zone), leaf("instanceType", t),
			leaf("productDescription", "Linux/UNIX"), leaf("spotPrice", ftoa(s.opts.SpotPrices[key])),
			leaf("timestamp", timeText(now.Add(-time.Hour)))))
	}
	return []node{el("spotPriceHistorySet", items("item", out)...)}, nil
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
