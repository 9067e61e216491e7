package awsfake

import (
	"regexp"
	"slices"
	"sort"
	"time"
)

var (
	volumeIDPattern = regexp.MustCompile(`^vol-[0-9a-f]{8,17}$`)
	devicePattern   = regexp.MustCompile(`^/dev/(sd|xvd)[b-z]$`)
)

type volume struct {
	id, zone, volumeType string
	size                 int
	state                string // creating, available, in-use, deleting
	tags                 map[string]string
	created, changed     time.Time
	attachment           *attachment
}

type attachment struct {
	instanceID, device string
	state              string // attaching, attached, detaching
	since              time.Time
	deleteOnTerm       bool
}

func (s *Server) newVolume(zone, volumeType string, size int, tags map[string]string, now time.Time) *volume {
	if volumeType == "" {
		volumeType = "gp2"
	}
	v := &volume{id: newID("vol"), zone: zone, volumeType: volumeType, size: size, state: "creating", tags: tags, created: now, changed: now}
	s.volumes[v.id] = v
	s.newHidden(v.id)
	return v
}

func (s *Server) tickVolumes(now time.Time) {
	for id, v := range s.volumes {
		switch {
		case v.state == "creating" && now.Sub(v.changed) >= s.opts.Settle:
			v.state, v.changed = "available", now
		case v.state == "deleting" && now.Sub(v.changed) >= s.opts.Settle:
			delete(s.volumes, id)
		}
		a := v.attachment
		switch {
		case a == nil:
		case a.state == "attaching" && now.Sub(a.since) >= s.opts.Settle:
			a.state, a.since = "attached", now
		case a.state == "detaching" && now.Sub(a.since) >= s.opts.Shutdown:
			if in := s.instances[a.instanceID]; in != nil {
				delete(in.devices, a.device)
			}
			v.attachment, v.state, v.changed = nil, "available", now
		}
	}
}

// findVolume resolves one volume ID; hidden and deleting volumes are not found.
func (s *Server) findVolume(id string) (*volume, *apiError) {
	if !volumeIDPattern.MatchString(id) {
		return nil, errorf("InvalidVolumeID.Malformed", "Invalid id: %q (expecting \"vol-...\")", id)
	}
	v, ok := s.volumes[id]
	if !ok || s.isHidden(id) {
		return nil, errorf("InvalidVolume.NotFound", "The volume '%s' does not exist.", id)
	}
	return v, nil
}

func (s *Server) createVolume(p params) ([]node, *apiError) {
	if token := p.get("ClientToken"); token != "" {
		if v, ok := s.volumes[s.tokens[token]]; ok {
			return volumeXML(v), nil
		}
	}
	zone := p.get("AvailabilityZone")
	if !slices.Contains(s.opts.Zones, zone) {
		return nil, errorf("InvalidParameterValue", "Invalid availability zone: [%s]", zone)
	}
	size, aerr := p.int("Size", 0)
	if aerr != nil {
		return nil, aerr
	}
	if size < 1 || size > 16384 {
		return nil, errorf("InvalidParameterValue", "Volume of %dGiB is out of the range 1..16384.", size)
	}
	switch t := p.get("VolumeType"); t {
	case "", "gp2", "gp3", "io1", "io2", "st1", "sc1", "standard":
	default:
		return nil, errorf("InvalidParameterValue", "Value (%s) for parameter volumeType is invalid.", t)
	}
	tags := map[string]string{}
	for _, ts := range p.structs("TagSpecification") {
		if ts.get("ResourceType") == "volume" {
			tags = tagsOf(ts.structs("Tag"))
		}
	}
	v := s.newVolume(zone, p.get("VolumeType"), size, tags, time.Now())
	if token := p.get("ClientToken"); token != "" {
		s.tokens[token] = v.id
	}
	return volumeXML(v), nil
}

func volumeXML(v *volume) []node {
	var tags, atts []node
	for _, k := range sortedKeys(v.tags) {
		tags = append(tags, el("", leaf("key", k), leaf("value", v.tags[k])))
	}
	if a := v.attachment; a != nil {
		atts = append(atts, el("", leaf("volumeId", v.id), leaf("instanceId", a.instanceID),
			leaf("device", a.device), leaf("status", a.state), leaf("attachTime", timeText(a.since)),
			leaf("deleteOnTermination", boolText(a.deleteOnTerm))))
	}
	return []node{
		leaf("volumeId", v.id), leaf("size", itoa(v.size)), leaf("availabilityZone", v.zone),
		leaf("status", v.state), leaf("createTime", timeText(v.created)), leaf("volumeType", v.volumeType),
		leaf("encrypted", "false"), leaf("multiAttachEnabled", "false"),
		el("attachmentSet", items("item", atts)...),
		el("tagSet", items("item", tags)...),
	}
}

func (s *Server) describeVolumes(p params) ([]node, *apiError) {
	var vs []*volume
	if ids := p.list("VolumeId"); len(ids) > 0 {
		for _, id := range ids {
			v, aerr := s.findVolume(id)
			if aerr != nil {
				return nil, aerr
			}
			vs = append(vs, v)
		}
	} else {
		for _, v := range s.volumes {
			if _, hidden := s.hidden[v.id]; !hidden {
				vs = append(vs, v)
			}
		}
	}
	filters := p.structs("Filter")
	var out []node
	sort.Slice(vs, func(i, j int) bool { return vs[i].id < vs[j].id })
	for _, v := range vs {
		if !filterMatch(filters, func(name string) []string {
			if vals, ok := tagAttr(v.tags, name); ok {
				return vals
			}
			switch name {
			case "status":
				return []string{v.state}
			case "volume-id":
				return []string{v.id}
			case "availability-zone":
				return []string{v.zone}
			case "attachment.instance-id":
				if v.attachment != nil {
					return []string{v.attachment.instanceID}
				}
			}
			return nil
		}) {
			continue
		}
		out = append(out, el("", volumeXML(v)...))
	}
	return []node{el("volumeSet", items("item", out)...)}, nil
}

func attachmentXML(v *volume, a *attachment) []node {
	return []node{leaf("volumeId", v.id), leaf("instanceId", a.instanceID), leaf("device", a.device),
		leaf("status", a.state), leaf("attachTime", timeText(a.since)), leaf("deleteOnTermination", boolText(a.deleteOnTerm))}
}

func (s *Server) attachVolume(p params) ([]node, *apiError) {
	v, aerr := s.findVolume(p.get("VolumeId"))
	if aerr != nil {
		return nil, aerr
	}
	ins, aerr := s.findInstances([]string{p.get("InstanceId")})
	if aerr != nil {
		return nil, aerr
	}
	in, device := ins[0], p.get("Device")
	switch {
	case in.state == "terminated" || in.state == "shutting-down":
		return nil, errorf("IncorrectInstanceState", "The instance '%s' is not in a valid state for this operation.", in.id)
	case v.attachment != nil || v.state == "in-use":
		return nil, errorf("VolumeInUse", "%s is already attached to an instance", v.id)
	case v.state != "available":
		return nil, errorf("IncorrectState", "Volume '%s' is in the '%s' state.", v.id, v.state)
	case v.zone != in.zone:
		return nil, errorf("InvalidVolume.ZoneMismatch", "The volume '%s' is not in the same availability zone as instance '%s'", v.id, in.id)
	case !devicePattern.MatchString(device):
		return nil, errorf("InvalidParameterValue", "Value (%s) for parameter device is invalid. %s is not a valid EBS device name.", device, device)
	case in.devices[device] != "":
		return nil, errorf("InvalidParameterValue", "Invalid value '%s' for unixDevice. Attachment point %s is already in use", device, device)
	}
	now := time.Now()
	v.attachment = &attachment{instanceID: in.id, device: device, state: "attaching", since: now}
	v.state, v.changed = "in-use", now
	in.devices[device] = v.id
	return attachmentXML(v, v.attachment), nil
}

func (s *Server) detachVolume(p params) ([]node, *apiError) {
	v, aerr := s.findVolume(p.get("VolumeId"))
	if aerr != nil {
		return nil, aerr
	}
	a := v.attachment
	if a == nil {
		return nil, errorf("IncorrectState", "Volume '%s' is in the '%s' state.", v.id, v.state)
	}
	if id := p.get("InstanceId"); id != "" && id != a.instanceID {
		return nil, errorf("InvalidAttachment.NotFound", "Volume '%s' is not attached to instance '%s'.", v.id, id)
	}
	if a.state != "detaching" {
		a.state, a.since = "detaching", time.Now()
	}
	return attachmentXML(v, a), nil
}

func (s *Server) deleteVolume(p params) ([]node, *apiError) {
	v, aerr := s.findVolume(p.get("VolumeId"))
	if aerr != nil {
		return nil, aerr
	}
	if v.attachment != nil {
		return nil, errorf("VolumeInUse", "Volume %s is currently attached to %s", v.id, v.attachment.instanceID)
	}
	if v.state != "deleting" {
		v.state, v.changed = "deleting", time.Now()
	}
	return []node{leaf("return", "true")}, nil
}
