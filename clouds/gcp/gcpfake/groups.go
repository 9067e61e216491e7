package gcpfake

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// mig is a regional managed instance group.
type mig struct {
	res     *computepb.InstanceGroupManager
	members []*member
}

// member is a managed instance: a name in a zone, and what the group does with it.
type member struct {
	name, zone string
	removing   bool // deleteInstances or a smaller target size: goes away with its VM
	recreating bool // recreateInstances: a new VM of the same name follows the old one
	lastErr    *computepb.Errors
}

func (s *Server) groupRoutes() {
	s.handle("POST regions/{region}/instanceTemplates", s.insertTemplate)
	s.handle("GET regions/{region}/instanceTemplates/{name}", s.getTemplate)
	s.handle("DELETE regions/{region}/instanceTemplates/{name}", s.deleteTemplate)

	s.handle("POST regions/{region}/instanceGroupManagers", s.insertMIG)
	s.handle("GET regions/{region}/instanceGroupManagers/{name}", s.getMIG)
	s.handle("DELETE regions/{region}/instanceGroupManagers/{name}", s.deleteMIG)
	s.handle("POST regions/{region}/instanceGroupManagers/{name}/resize", s.resizeMIG)
	s.handle("POST regions/{region}/instanceGroupManagers/{name}/listManagedInstances", s.listManaged)
	s.handle("POST regions/{region}/instanceGroupManagers/{name}/deleteInstances", s.deleteManaged)
	s.handle("POST regions/{region}/instanceGroupManagers/{name}/recreateInstances", s.recreateManaged)
}

func (s *Server) insertTemplate(r *http.Request) (proto.Message, error) {
	if err := s.checkRegion(r); err != nil {
		return nil, err
	}
	t := &computepb.InstanceTemplate{}
	if err := decode(r, t); err != nil {
		return nil, err
	}
	if err := checkName(t.GetName()); err != nil {
		return nil, err
	}
	rel := "regions/" + s.opts.Region + "/instanceTemplates/" + t.GetName()
	if _, ok := s.templates[t.GetName()]; ok {
		return nil, alreadyExists(s.path(rel))
	}
	p := t.GetProperties()
	if p == nil {
		return nil, invalid("Required field 'resource.properties' not specified")
	}
	if mt := p.GetMachineType(); !s.machineTypeAnywhere(mt) {
		return nil, invalid("Invalid value for field 'resource.properties.machineType': '%s'. Machine type with name '%s' does not exist.", mt, mt)
	}
	if err := checkLabels(p.GetLabels()); err != nil {
		return nil, err
	}
	t.Kind = ptr("compute#instanceTemplate")
	t.Id = ptr(s.nextID())
	t.Region = ptr(s.link("regions/" + s.opts.Region))
	t.SelfLink = ptr(s.link(rel))
	t.CreationTimestamp = ptr(nowStamp())
	s.templates[t.GetName()] = t
	return s.operation("regions/"+s.opts.Region, t.GetSelfLink(), "insert"), nil
}

func (s *Server) template(r *http.Request) (*computepb.InstanceTemplate, error) {
	if err := s.checkRegion(r); err != nil {
		return nil, err
	}
	t, ok := s.templates[r.PathValue("name")]
	if !ok {
		return nil, notFound(s.path("regions/" + s.opts.Region + "/instanceTemplates/" + r.PathValue("name")))
	}
	return t, nil
}

func (s *Server) getTemplate(r *http.Request) (proto.Message, error) { return s.template(r) }

func (s *Server) deleteTemplate(r *http.Request) (proto.Message, error) {
	t, err := s.template(r)
	if err != nil {
		return nil, err
	}
	for _, g := range s.migs {
		if lastSegment(g.res.GetInstanceTemplate()) == t.GetName() {
			return nil, inUse(s.path("regions/"+s.opts.Region+"/instanceTemplates/"+t.GetName()), g.res.GetSelfLink())
		}
	}
	delete(s.templates, t.GetName())
	return s.operation("regions/"+s.opts.Region, t.GetSelfLink(), "delete"), nil
}

func (s *Server) insertMIG(r *http.Request) (proto.Message, error) {
	if err := s.checkRegion(r); err != nil {
		return nil, err
	}
	res := &computepb.InstanceGroupManager{}
	if err := decode(r, res); err != nil {
		return nil, err
	}
	if err := checkName(res.GetName()); err != nil {
		return nil, err
	}
	rel := "regions/" + s.opts.Region + "/instanceGroupManagers/" + res.GetName()
	if _, ok := s.migs[res.GetName()]; ok {
		return nil, alreadyExists(s.path(rel))
	}
	if b := res.GetBaseInstanceName(); len(b) > 58 || checkName(b) != nil {
		return nil, invalid("Invalid value for field 'resource.baseInstanceName': '%s'.", b)
	}
	if _, ok := s.templates[lastSegment(res.GetInstanceTemplate())]; !ok {
		return nil, invalid("Invalid value for field 'resource.instanceTemplate': '%s'. The referenced instance template does not exist.", res.GetInstanceTemplate())
	}
	if res.GetTargetSize() < 0 {
		return nil, invalid("Invalid value for field 'resource.targetSize': '%d'.", res.GetTargetSize())
	}
	dp := res.GetDistributionPolicy()
	if dp == nil {
		dp = &computepb.DistributionPolicy{}
		res.DistributionPolicy = dp
	}
	if len(dp.GetZones()) == 0 {
		for _, z := range s.opts.Zones {
			dp.Zones = append(dp.Zones, &computepb.DistributionPolicyZoneConfiguration{Zone: ptr(s.link("zones/" + z))})
		}
	}
	for _, z := range dp.GetZones() {
		if !s.knownZone(zoneOf(z.GetZone())) {
			return nil, invalid("Invalid value for field 'resource.distributionPolicy.zones': '%s'.", z.GetZone())
		}
		z.Zone = ptr(s.link("zones/" + zoneOf(z.GetZone())))
	}
	switch dp.GetTargetShape() {
	case "", "EVEN":
		dp.TargetShape = ptr("EVEN")
	case "BALANCED", "ANY", "ANY_SINGLE_ZONE":
		if res.GetUpdatePolicy().GetInstanceRedistributionType() != "NONE" {
			return nil, invalid("Invalid value for field 'resource.updatePolicy.instanceRedistributionType': target shape %s requires NONE.", dp.GetTargetShape())
		}
	default:
		return nil, invalid("Invalid value for field 'resource.distributionPolicy.targetShape': '%s'.", dp.GetTargetShape())
	}
	res.Kind = ptr("compute#instanceGroupManager")
	res.Id = ptr(s.nextID())
	res.Region = ptr(s.link("regions/" + s.opts.Region))
	res.SelfLink = ptr(s.link(rel))
	res.InstanceGroup = ptr(s.link("regions/" + s.opts.Region + "/instanceGroups/" + res.GetName()))
	res.InstanceTemplate = ptr(s.link("regions/" + s.opts.Region + "/instanceTemplates/" + lastSegment(res.GetInstanceTemplate())))
	res.CreationTimestamp = ptr(nowStamp())
	g := &mig{res: res}
	s.migs[res.GetName()] = g
	s.reconcile(g, time.Now())
	return s.operation("regions/"+s.opts.Region, res.GetSelfLink(), "insert"), nil
}

func (s *Server) group(r *http.Request) (*mig, error) {
	if err := s.checkRegion(r); err != nil {
		return nil, err
	}
	g, ok := s.migs[r.PathValue("name")]
	if !ok {
		return nil, notFound(s.path("regions/" + s.opts.Region + "/instanceGroupManagers/" + r.PathValue("name")))
	}
	return g, nil
}

func (s *Server) getMIG(r *http.Request) (proto.Message, error) {
	g, err := s.group(r)
	if err != nil {
		return nil, err
	}
	sum := &computepb.InstanceGroupManagerActionsSummary{}
	stable := true
	for _, mi := range s.managed(g) {
		switch mi.GetCurrentAction() {
		case "CREATING":
			sum.Creating = ptr(sum.GetCreating() + 1)
		case "DELETING":
			sum.Deleting = ptr(sum.GetDeleting() + 1)
		case "RECREATING":
			sum.Recreating = ptr(sum.GetRecreating() + 1)
		default:
			sum.None = ptr(sum.GetNone() + 1)
			continue
		}
		stable = false
	}
	g.res.CurrentActions = sum
	g.res.Status = &computepb.InstanceGroupManagerStatus{IsStable: ptr(stable)}
	return g.res, nil
}

func (s *Server) deleteMIG(r *http.Request) (proto.Message, error) {
	g, err := s.group(r)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	for _, m := range g.members {
		if in, ok := s.instances[m.zone+"/"+m.name]; ok && in.deleted.IsZero() {
			in.deleted = now
			in.res.Status = ptr("STOPPING")
		}
	}
	delete(s.migs, g.res.GetName())
	return s.operation("regions/"+s.opts.Region, g.res.GetSelfLink(), "delete"), nil
}

func (s *Server) resizeMIG(r *http.Request) (proto.Message, error) {
	g, err := s.group(r)
	if err != nil {
		return nil, err
	}
	size, err := strconv.Atoi(r.URL.Query().Get("size"))
	if err != nil || size < 0 {
		return nil, invalid("Invalid value for field 'size': '%s'.", r.URL.Query().Get("size"))
	}
	g.res.TargetSize = ptr(int32(size))
	s.reconcile(g, time.Now())
	return s.operation("regions/"+s.opts.Region, g.res.GetSelfLink(), "compute.regionInstanceGroupManagers.resize"), nil
}

// managed describes a group's members as listManagedInstances does.
func (s *Server) managed(g *mig) []*computepb.ManagedInstance {
	var out []*computepb.ManagedInstance
	for _, m := range g.members {
		mi := &computepb.ManagedInstance{Instance: ptr(s.link("zones/" + m.zone + "/instances/" + m.name)), Name: ptr(m.name)}
		in := s.instances[m.zone+"/"+m.name]
		if in != nil {
			mi.Id = ptr(in.res.GetId())
			mi.InstanceStatus = ptr(in.res.GetStatus())
		}
		switch {
		case m.removing:
			mi.CurrentAction = ptr("DELETING")
		case m.recreating:
			mi.CurrentAction = ptr("RECREATING")
		case in == nil || in.res.GetStatus() != "RUNNING":
			mi.CurrentAction = ptr("CREATING")
		default:
			mi.CurrentAction = ptr("NONE")
		}
		if m.lastErr != nil {
			mi.LastAttempt = &computepb.ManagedInstanceLastAttempt{Errors: &computepb.ManagedInstanceLastAttemptErrors{Errors: []*computepb.Errors{m.lastErr}}}
		}
		out = append(out, mi)
	}
	return out
}

func (s *Server) listManaged(r *http.Request) (proto.Message, error) {
	g, err := s.group(r)
	if err != nil {
		return nil, err
	}
	return &computepb.RegionInstanceGroupManagersListInstancesResponse{ManagedInstances: s.managed(g)}, nil
}

// members finds the members named by instance URLs; unknown ones are an error unless skip.
func (s *Server) members(g *mig, urls []string, skip bool) ([]*member, error) {
	var out []*member
	for _, u := range urls {
		i := slices.IndexFunc(g.members, func(m *member) bool { return m.zone == zoneOf(u) && m.name == lastSegment(u) })
		if i < 0 {
			if skip {
				continue
			}
			return nil, invalid("Invalid value for field 'instances': '%s'. The instance is not a member of the group.", u)
		}
		out = append(out, g.members[i])
	}
	return out, nil
}

func (s *Server) deleteManaged(r *http.Request) (proto.Message, error) {
	g, err := s.group(r)
	if err != nil {
		return nil, err
	}
	req := &computepb.RegionInstanceGroupManagersDeleteInstancesRequest{}
	if err := decode(r, req); err != nil {
		return nil, err
	}
	ms, err := s.members(g, req.GetInstances(), req.GetSkipInstancesOnValidationError())
	if err != nil {
		return nil, err
	}
	now := time.Now()
	for _, m := range ms {
		if m.removing {
			continue
		}
		m.removing = true
		g.res.TargetSize = ptr(max(0, g.res.GetTargetSize()-1))
		s.stop(m, now)
	}
	return s.operation("regions/"+s.opts.Region, g.res.GetSelfLink(), "compute.regionInstanceGroupManagers.deleteInstances"), nil
}

func (s *Server) recreateManaged(r *http.Request) (proto.Message, error) {
	g, err := s.group(r)
	if err != nil {
		return nil, err
	}
	req := &computepb.RegionInstanceGroupManagersRecreateRequest{}
	if err := decode(r, req); err != nil {
		return nil, err
	}
	ms, err := s.members(g, req.GetInstances(), false)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	for _, m := range ms {
		if !m.removing {
			m.recreating = true
			s.stop(m, now)
		}
	}
	return s.operation("regions/"+s.opts.Region, g.res.GetSelfLink(), "compute.regionInstanceGroupManagers.recreateInstances"), nil
}

// stop starts deleting a member's VM.
func (s *Server) stop(m *member, now time.Time) {
	if in, ok := s.instances[m.zone+"/"+m.name]; ok && in.deleted.IsZero() {
		in.deleted = now
		in.res.Status = ptr("STOPPING")
	}
}

// reconcile makes a group's members match its target size and gives every member a VM.
func (s *Server) reconcile(g *mig, now time.Time) {
	g.members = slices.DeleteFunc(g.members, func(m *member) bool {
		_, ok := s.instances[m.zone+"/"+m.name]
		return m.removing && !ok
	})
	active := 0
	for _, m := range g.members {
		if !m.removing {
			active++
		}
	}
	t := s.templates[lastSegment(g.res.GetInstanceTemplate())]
	for ; active < int(g.res.GetTargetSize()); active++ {
		g.members = append(g.members, &member{name: g.res.GetBaseInstanceName() + "-" + randHex(2), zone: s.pickZone(g, t)})
	}
	for ; active > int(g.res.GetTargetSize()); active-- {
		victim := s.victim(g)
		victim.removing = true
		s.stop(victim, now)
	}
	if t == nil {
		return
	}
	for _, m := range g.members {
		if _, ok := s.instances[m.zone+"/"+m.name]; ok || m.removing {
			continue
		}
		m.recreating = false
		if err := s.launch(m.zone, s.fromTemplate(g, t, m), g.res.GetName(), now); err != nil {
			m.lastErr = &computepb.Errors{Code: ptr(err.reason), Message: ptr(err.msg)}
		} else {
			m.lastErr = nil
		}
	}
}

// pickZone is the group's zone with the fewest active members among those not out of
// capacity for the template's machine type (the first zone when all are).
func (s *Server) pickZone(g *mig, t *computepb.InstanceTemplate) string {
	zones := g.res.GetDistributionPolicy().GetZones()
	best, bestN := zoneOf(zones[0].GetZone()), -1
	for _, zc := range zones {
		z := zoneOf(zc.GetZone())
		if t != nil && s.stockouts[z+"/"+lastSegment(t.GetProperties().GetMachineType())] {
			continue
		}
		n := 0
		for _, m := range g.members {
			if m.zone == z && !m.removing {
				n++
			}
		}
		if bestN < 0 || n < bestN {
			best, bestN = z, n
		}
	}
	return best
}

// victim picks the member a smaller target size removes: one without a VM, else one not
// running, else the newest.
func (s *Server) victim(g *mig) *member {
	var pick *member
	rank := -1
	for _, m := range g.members {
		if m.removing {
			continue
		}
		r := 0
		if in, ok := s.instances[m.zone+"/"+m.name]; !ok {
			r = 2
		} else if in.res.GetStatus() != "RUNNING" {
			r = 1
		}
		if r >= rank {
			pick, rank = m, r
		}
	}
	return pick
}

// fromTemplate is the instance a group launches for a member.
func (s *Server) fromTemplate(g *mig, t *computepb.InstanceTemplate, m *member) *computepb.Instance {
	p := proto.Clone(t.GetProperties()).(*computepb.InstanceProperties)
	md := p.GetMetadata()
	if md == nil {
		md = &computepb.Metadata{}
	}
	md.Items = append(md.Items,
		&computepb.Items{Key: ptr("created-by"), Value: ptr(s.path("regions/" + s.opts.Region + "/instanceGroupManagers/" + g.res.GetName()))},
		&computepb.Items{Key: ptr("instance-template"), Value: ptr(s.path("regions/" + s.opts.Region + "/instanceTemplates/" + t.GetName()))})
	return &computepb.Instance{
		Name:              ptr(m.name),
		Description:       p.Description,
		MachineType:       ptr(s.link("zones/" + m.zone + "/machineTypes/" + lastSegment(p.GetMachineType()))),
		Labels:            p.GetLabels(),
		Metadata:          md,
		Disks:             p.GetDisks(),
		NetworkInterfaces: p.GetNetworkInterfaces(),
		Scheduling:        p.GetScheduling(),
		GuestAccelerators: p.GetGuestAccelerators(),
		ServiceAccounts:   p.GetServiceAccounts(),
	}
}
