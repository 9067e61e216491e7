package gcpfake

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// instance is a VM: its resource and its lifecycle.
type instance struct {
	res     *computepb.Instance
	created time.Time
	deleted time.Time // zero while not being deleted
	mig     string    // the managed group that owns it
}

// disk is a persistent disk and its lifecycle.
type disk struct {
	res     *computepb.Disk
	created time.Time
	deleted time.Time
}

// diskTypes are the disk types the fake accepts.
var diskTypes = map[string]bool{
	"pd-standard": true, "pd-balanced": true, "pd-ssd": true, "pd-extreme": true,
	"hyperdisk-balanced": true, "hyperdisk-extreme": true, "hyperdisk-throughput": true, "hyperdisk-ml": true,
}

func (s *Server) routes() {
	s.handle("GET zones/{scope}/operations/{op}", s.getOperation("zones"))
	s.handle("GET regions/{scope}/operations/{op}", s.getOperation("regions"))
	s.handle("GET global/operations/{op}", s.getOperation("global"))
	s.handle("GET regions/{region}", s.getRegion)
	s.handle("GET aggregated/machineTypes", s.listMachineTypes)
	s.handle("GET aggregated/acceleratorTypes", s.listAcceleratorTypes)
	s.handle("GET zones/{zone}/machineTypes", s.zonalMachineTypes)
	s.handle("GET zones/{zone}/acceleratorTypes", s.zonalAcceleratorTypes)

	s.handle("GET aggregated/instances", s.listInstances)
	s.handle("POST zones/{zone}/instances", s.insertInstance)
	s.handle("GET zones/{zone}/instances/{name}", s.getInstance)
	s.handle("DELETE zones/{zone}/instances/{name}", s.deleteInstance)
	s.handle("POST zones/{zone}/instances/{name}/attachDisk", s.attachDisk)
	s.handle("POST zones/{zone}/instances/{name}/detachDisk", s.detachDisk)

	s.handle("POST zones/{zone}/disks", s.insertDisk)
	s.handle("GET zones/{zone}/disks/{name}", s.getDisk)
	s.handle("DELETE zones/{zone}/disks/{name}", s.deleteDisk)

	s.groupRoutes()
	s.lbRoutes()
}

// advance moves every resource along its lifecycle to now and reconciles managed groups.
// Called with s.mu held, at the start of each request.
func (s *Server) advance(now time.Time) {
	for key, in := range s.instances {
		if !in.deleted.IsZero() {
			if now.Sub(in.deleted) >= s.opts.StopDelay {
				s.remove(key, in)
			} else {
				in.res.Status = ptr("STOPPING")
			}
			continue
		}
		switch age := now.Sub(in.created); {
		case age >= s.opts.BootDelay:
			if in.res.GetStatus() != "RUNNING" {
				in.res.LastStartTimestamp = ptr(nowStamp())
			}
			in.res.Status = ptr("RUNNING")
		case age >= s.opts.BootDelay/2:
			in.res.Status = ptr("STAGING")
		default:
			in.res.Status = ptr("PROVISIONING")
		}
	}
	for key, d := range s.disks {
		switch {
		case !d.deleted.IsZero() && now.Sub(d.deleted) >= s.opts.StopDelay:
			delete(s.disks, key)
		case !d.deleted.IsZero():
			d.res.Status = ptr("DELETING")
		case now.Sub(d.created) >= s.opts.BootDelay/2:
			d.res.Status = ptr("READY")
		default:
			d.res.Status = ptr("CREATING")
		}
	}
	names := make([]string, 0, len(s.migs))
	for n := range s.migs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		s.reconcile(s.migs[n], now)
	}
}

// remove drops a deleted instance: its auto-delete disks go with it, others are detached,
// and it leaves unmanaged instance groups.
func (s *Server) remove(key string, in *instance) {
	delete(s.instances, key)
	link := in.res.GetSelfLink()
	for _, ad := range in.res.GetDisks() {
		dk := zoneOf(ad.GetSource()) + "/" + lastSegment(ad.GetSource())
		d, ok := s.disks[dk]
		if !ok {
			continue
		}
		if ad.GetAutoDelete() {
			delete(s.disks, dk)
			continue
		}
		d.res.Users = slices.DeleteFunc(d.res.Users, func(u string) bool { return u == link })
	}
	for _, g := range s.igs {
		delete(g.members, key)
	}
}

// launch validates and creates an instance in zone, as instances.insert and managed groups
// do. A stockout is an apiError with reason ZONE_RESOURCE_POOL_EXHAUSTED.
func (s *Server) launch(zone string, res *computepb.Instance, mig string, now time.Time) *apiError {
	name := res.GetName()
	if err := checkName(name); err != nil {
		return err.(*apiError)
	}
	if err := s.checkZone(zone); err != nil {
		return err.(*apiError)
	}
	key := zone + "/" + name
	if _, ok := s.instances[key]; ok {
		return alreadyExists(s.path("zones/" + key))
	}
	mtName := lastSegment(res.GetMachineType())
	mt, ok := s.machineType(zone, mtName)
	if !ok {
		return invalid("Invalid value for field 'resource.machineType': '%s'. Machine type with name '%s' does not exist in zone '%s'.", res.GetMachineType(), mtName, zone)
	}
	gpus := mt.GPUs > 0
	var accels []*computepb.AcceleratorConfig
	for _, ga := range res.GetGuestAccelerators() {
		at := lastSegment(ga.GetAcceleratorType())
		if !s.acceleratorIn(zone, at) || ga.GetAcceleratorCount() < 1 {
			return invalid("Invalid value for field 'resource.guestAccelerators[0].acceleratorType': '%s'. Accelerator type '%s' does not exist in zone '%s'.", ga.GetAcceleratorType(), at, zone)
		}
		accels = append(accels, &computepb.AcceleratorConfig{AcceleratorType: ptr(s.link("zones/" + zone + "/acceleratorTypes/" + at)), AcceleratorCount: ptr(ga.GetAcceleratorCount())})
		gpus = true
	}
	if mt.GPUs > 0 {
		accels = []*computepb.AcceleratorConfig{{AcceleratorType: ptr(s.link("zones/" + zone + "/acceleratorTypes/" + mt.Accelerator)), AcceleratorCount: ptr(int32(mt.GPUs))}}
	}
	if gpus && res.GetScheduling().GetOnHostMaintenance() != "TERMINATE" {
		return invalid("Invalid resource usage: 'Instances with guest accelerators do not support live migration.'")
	}
	if err := checkLabels(res.GetLabels()); err != nil {
		return err.(*apiError)
	}
	type newDisk struct {
		name, typ string
		size      int64
		labels    map[string]string
	}
	plans := make([]*newDisk, len(res.GetDisks()))
	boots := 0
	for i, ad := range res.GetDisks() {
		if ad.GetBoot() {
			boots++
		}
		ip := ad.GetInitializeParams()
		if ip == nil {
			return invalid("Invalid value for field 'resource.disks[%d]': the fake creates disks only from initializeParams", i)
		}
		nd := &newDisk{name: ip.GetDiskName(), typ: lastSegment(ip.GetDiskType()), size: ip.GetDiskSizeGb(), labels: ip.GetLabels()}
		if nd.name == "" {
			nd.name = name
			if !ad.GetBoot() {
				nd.name = fmt.Sprintf("%s-%d", name, i)
			}
		}
		if nd.typ == "" {
			nd.typ = "pd-standard"
		}
		if nd.size == 0 {
			nd.size = 10
		}
		if !diskTypes[nd.typ] {
			return invalid("Invalid value for field 'resource.disks[%d].initializeParams.diskType': '%s'.", i, ip.GetDiskType())
		}
		if err := checkLabels(nd.labels); err != nil {
			return err.(*apiError)
		}
		if _, taken := s.disks[zone+"/"+nd.name]; taken {
			return alreadyExists(s.path("zones/" + zone + "/disks/" + nd.name))
		}
		plans[i] = nd
	}
	if boots != 1 {
		return invalid("Invalid value for field 'resource.disks': exactly one boot disk is required")
	}
	if s.stockouts[zone+"/"+mtName] {
		return &apiError{http.StatusServiceUnavailable, "ZONE_RESOURCE_POOL_EXHAUSTED",
			fmt.Sprintf("The zone '%s' does not have enough resources available to fulfill the request. Try a different zone, or try again later.", s.path("zones/"+zone))}
	}

	out := proto.Clone(res).(*computepb.Instance)
	link := s.link("zones/" + key)
	out.Kind = ptr("compute#instance")
	out.Id = ptr(s.nextID())
	out.Zone = ptr(s.link("zones/" + zone))
	out.MachineType = ptr(s.link("zones/" + zone + "/machineTypes/" + mtName))
	out.SelfLink = ptr(link)
	out.CreationTimestamp = ptr(nowStamp())
	out.Status = ptr("PROVISIONING")
	out.GuestAccelerators = accels
	out.Disks = nil
	for i, ad := range res.GetDisks() {
		nd := plans[i]
		dlink := s.link("zones/" + zone + "/disks/" + nd.name)
		s.disks[zone+"/"+nd.name] = &disk{created: now.Add(-s.opts.BootDelay), res: &computepb.Disk{
			Kind: ptr("compute#disk"), Id: ptr(s.nextID()), Name: ptr(nd.name), SizeGb: ptr(nd.size),
			Type: ptr(s.link("zones/" + zone + "/diskTypes/" + nd.typ)), Zone: ptr(s.link("zones/" + zone)),
			Labels: nd.labels, SelfLink: ptr(dlink), Status: ptr("READY"), Users: []string{link},
			CreationTimestamp: ptr(nowStamp()),
		}}
		device := ad.GetDeviceName()
		if device == "" {
			device = fmt.Sprintf("persistent-disk-%d", i)
		}
		out.Disks = append(out.Disks, &computepb.AttachedDisk{
			Kind: ptr("compute#attachedDisk"), Source: ptr(dlink), DeviceName: ptr(device), Boot: ptr(ad.GetBoot()),
			AutoDelete: ptr(ad.GetAutoDelete()), Mode: ptr("READ_WRITE"), Type: ptr("PERSISTENT"),
			Index: ptr(int32(i)), DiskSizeGb: ptr(nd.size),
		})
	}
	for i, ni := range out.GetNetworkInterfaces() {
		s.ips++
		ni.Name = ptr(fmt.Sprintf("nic%d", i))
		ni.Network = ptr(s.link("global/networks/" + lastSegment(ni.GetNetwork())))
		ni.NetworkIP = ptr(fmt.Sprintf("10.128.%d.%d", s.ips/250, s.ips%250+2))
		for _, ac := range ni.GetAccessConfigs() {
			ac.NatIP = ptr(fmt.Sprintf("34.118.%d.%d", s.ips/250, s.ips%250+2))
		}
	}
	s.instances[key] = &instance{res: out, created: now, mig: mig}
	return nil
}

func (s *Server) insertInstance(r *http.Request) (proto.Message, error) {
	zone := r.PathValue("zone")
	res := &computepb.Instance{}
	if err := decode(r, res); err != nil {
		return nil, err
	}
	if err := s.launch(zone, res, "", time.Now()); err != nil {
		if err.reason == "ZONE_RESOURCE_POOL_EXHAUSTED" {
			e := &computepb.Errors{Code: ptr(err.reason), Message: ptr(err.msg)}
			return s.failedOp("zones/"+zone, s.link("zones/"+zone+"/instances/"+res.GetName()), err.code, e), nil
		}
		return nil, err
	}
	return s.operation("zones/"+zone, s.link("zones/"+zone+"/instances/"+res.GetName()), "insert"), nil
}

func (s *Server) instance(r *http.Request) (*instance, error) {
	zone, name := r.PathValue("zone"), r.PathValue("name")
	if err := s.checkZone(zone); err != nil {
		return nil, err
	}
	in, ok := s.instances[zone+"/"+name]
	if !ok {
		return nil, notFound(s.path("zones/" + zone + "/instances/" + name))
	}
	return in, nil
}

func (s *Server) getInstance(r *http.Request) (proto.Message, error) {
	in, err := s.instance(r)
	if err != nil {
		return nil, err
	}
	return in.res, nil
}

func (s *Server) deleteInstance(r *http.Request) (proto.Message, error) {
	in, err := s.instance(r)
	if err != nil {
		return nil, err
	}
	if in.deleted.IsZero() {
		in.deleted = time.Now()
		in.res.Status = ptr("STOPPING")
	}
	return s.operation(scopeOf(r.URL.Path), in.res.GetSelfLink(), "delete"), nil
}

// condRE is one term of the list filters the fake understands: (labels.KEY = "VALUE").
var condRE = regexp.MustCompile(`^\s*\(\s*labels\.([a-z][a-z0-9_-]*)\s*=\s*"([^"]*)"\s*\)`)

// parseFilter reads a list filter made of label terms, all of which must hold.
func parseFilter(f string) (map[string]string, error) {
	conds := make(map[string]string)
	rest := f
	for strings.TrimSpace(rest) != "" {
		m := condRE.FindStringSubmatch(rest)
		if m == nil {
			return nil, invalid("Invalid value for field 'filter': '%s'. (The fake understands only terms (labels.KEY = \"VALUE\").)", f)
		}
		conds[m[1]] = m[2]
		rest = rest[len(m[0]):]
	}
	return conds, nil
}

func (s *Server) listInstances(r *http.Request) (proto.Message, error) {
	conds, err := parseFilter(r.URL.Query().Get("filter"))
	if err != nil {
		return nil, err
	}
	out := &computepb.InstanceAggregatedList{Kind: ptr("compute#instanceAggregatedList"), Items: make(map[string]*computepb.InstancesScopedList)}
	for _, z := range s.opts.Zones {
		sl := &computepb.InstancesScopedList{}
		for key, in := range s.instances {
			if zoneOf("zones/"+key) != z {
				continue
			}
			match := true
			for k, v := range conds {
				if got, ok := in.res.GetLabels()[k]; !ok || got != v {
					match = false
				}
			}
			if match {
				sl.Instances = append(sl.Instances, in.res)
			}
		}
		if len(sl.Instances) == 0 {
			sl.Warning = &computepb.Warning{Code: ptr("NO_RESULTS_ON_PAGE"), Message: ptr("There are no results for scope 'zones/" + z + "' on this page.")}
		}
		out.Items["zones/"+z] = sl
	}
	return out, nil
}

func (s *Server) attachDisk(r *http.Request) (proto.Message, error) {
	in, err := s.instance(r)
	if err != nil {
		return nil, err
	}
	ad := &computepb.AttachedDisk{}
	if err := decode(r, ad); err != nil {
		return nil, err
	}
	zone := r.PathValue("zone")
	dz, dn := zoneOf(ad.GetSource()), lastSegment(ad.GetSource())
	d, ok := s.disks[dz+"/"+dn]
	if !ok || !d.deleted.IsZero() {
		return nil, notFound(s.path("zones/" + dz + "/disks/" + dn))
	}
	if dz != zone {
		return nil, invalid("Invalid value for field 'resource.source': '%s'. Disk must be in the instance's zone '%s'.", ad.GetSource(), zone)
	}
	if len(d.res.GetUsers()) > 0 {
		return nil, inUse(s.path("zones/"+dz+"/disks/"+dn), d.res.GetUsers()[0])
	}
	device := ad.GetDeviceName()
	if device == "" {
		device = dn
	}
	for _, x := range in.res.GetDisks() {
		if x.GetDeviceName() == device {
			return nil, invalid("Invalid value for field 'resource.deviceName': '%s'. Device name already in use.", device)
		}
	}
	d.res.Users = append(d.res.Users, in.res.GetSelfLink())
	d.res.LastAttachTimestamp = ptr(nowStamp())
	in.res.Disks = append(in.res.Disks, &computepb.AttachedDisk{
		Kind: ptr("compute#attachedDisk"), Source: ptr(d.res.GetSelfLink()), DeviceName: ptr(device),
		AutoDelete: ptr(ad.GetAutoDelete()), Boot: ptr(false), Mode: ptr("READ_WRITE"), Type: ptr("PERSISTENT"),
		Index: ptr(int32(len(in.res.Disks))), DiskSizeGb: ptr(d.res.GetSizeGb()),
	})
	return s.operation("zones/"+zone, in.res.GetSelfLink(), "attachDisk"), nil
}

func (s *Server) detachDisk(r *http.Request) (proto.Message, error) {
	in, err := s.instance(r)
	if err != nil {
		return nil, err
	}
	device := r.URL.Query().Get("deviceName")
	i := slices.IndexFunc(in.res.GetDisks(), func(ad *computepb.AttachedDisk) bool { return ad.GetDeviceName() == device })
	if i < 0 {
		return nil, invalid("Invalid value for field 'deviceName': '%s'. No attached disk found with that device name.", device)
	}
	ad := in.res.Disks[i]
	if ad.GetBoot() {
		return nil, invalid("Invalid value for field 'deviceName': '%s'. The boot disk cannot be detached.", device)
	}
	in.res.Disks = slices.Delete(in.res.Disks, i, i+1)
	if d, ok := s.disks[zoneOf(ad.GetSource())+"/"+lastSegment(ad.GetSource())]; ok {
		d.res.Users = slices.DeleteFunc(d.res.Users, func(u string) bool { return u == in.res.GetSelfLink() })
		d.res.LastDetachTimestamp = ptr(nowStamp())
	}
	return s.operation(scopeOf(r.URL.Path), in.res.GetSelfLink(), "detachDisk"), nil
}

func (s *Server) insertDisk(r *http.Request) (proto.Message, error) {
	zone := r.PathValue("zone")
	if err := s.checkZone(zone); err != nil {
		return nil, err
	}
	res := &computepb.Disk{}
	if err := decode(r, res); err != nil {
		return nil, err
	}
	if err := checkName(res.GetName()); err != nil {
		return nil, err
	}
	key := zone + "/" + res.GetName()
	if _, ok := s.disks[key]; ok {
		return nil, alreadyExists(s.path("zones/" + zone + "/disks/" + res.GetName()))
	}
	typ := lastSegment(res.GetType())
	if typ == "" {
		typ = "pd-standard"
	}
	if !diskTypes[typ] {
		return nil, invalid("Invalid value for field 'resource.type': '%s'. Unknown disk type.", res.GetType())
	}
	if res.GetSizeGb() < 1 {
		return nil, invalid("Invalid value for field 'resource.sizeGb': '%d'.", res.GetSizeGb())
	}
	if err := checkLabels(res.GetLabels()); err != nil {
		return nil, err
	}
	d := proto.Clone(res).(*computepb.Disk)
	d.Kind = ptr("compute#disk")
	d.Id = ptr(s.nextID())
	d.Type = ptr(s.link("zones/" + zone + "/diskTypes/" + typ))
	d.Zone = ptr(s.link("zones/" + zone))
	d.SelfLink = ptr(s.link("zones/" + key))
	d.Status = ptr("CREATING")
	d.CreationTimestamp = ptr(nowStamp())
	d.Users = nil
	s.disks[key] = &disk{res: d, created: time.Now()}
	return s.operation("zones/"+zone, d.GetSelfLink(), "insert"), nil
}

func (s *Server) disk(r *http.Request) (*disk, error) {
	zone, name := r.PathValue("zone"), r.PathValue("name")
	if err := s.checkZone(zone); err != nil {
		return nil, err
	}
	d, ok := s.disks[zone+"/"+name]
	if !ok {
		return nil, notFound(s.path("zones/" + zone + "/disks/" + name))
	}
	return d, nil
}

func (s *Server) getDisk(r *http.Request) (proto.Message, error) {
	d, err := s.disk(r)
	if err != nil {
		return nil, err
	}
	return d.res, nil
}

func (s *Server) deleteDisk(r *http.Request) (proto.Message, error) {
	d, err := s.disk(r)
	if err != nil {
		return nil, err
	}
	if users := d.res.GetUsers(); len(users) > 0 {
		return nil, inUse(s.path("zones/"+r.PathValue("zone")+"/disks/"+r.PathValue("name")), users[0])
	}
	if d.deleted.IsZero() {
		d.deleted = time.Now()
		d.res.Status = ptr("DELETING")
	}
	return s.operation(scopeOf(r.URL.Path), d.res.GetSelfLink(), "delete"), nil
}
