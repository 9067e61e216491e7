package osfake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// noValidHost is the fault message of Nova's NoValidHost exception.
const noValidHost = "No valid host was found. There are not enough hosts available."

type server struct {
	id, name, flavorID, imageID    string
	reqZone, zone                  string
	status, taskState, vmState     string
	powerState                     int
	metadata                       map[string]string
	userData                       string // base64, as Nova stores it
	keyName                        string
	secGroups                      []string
	addr                           string
	created, scheduled, launched   time.Time
	deleteAt                       time.Time
	deleting                       bool
	fault                          string
	blank                          []blankDisk     // block device mappings to create at scheduling
	bdmVolumes                     map[string]bool // volume ID → delete on termination
	deviceNext                     byte
	stack, stackMember, stackGroup string // set for members of a Heat group
}

type blankDisk struct {
	size                int
	volumeType          string
	deleteOnTermination bool
}

// serverReq is a validated server create, from Nova's API or from Heat.
type serverReq struct {
	name, imageID, flavorID, zone, userData, keyName string
	metadata                                         map[string]string
	secGroups                                        []string
	blank                                            []blankDisk
}

func (s *Server) routeNova(mux *http.ServeMux) {
	const p = "/compute/v2.1"
	mux.HandleFunc("POST "+p+"/servers", s.novaCreate)
	mux.HandleFunc("GET "+p+"/servers/detail", s.novaList)
	mux.HandleFunc("GET "+p+"/servers", s.novaList)
	mux.HandleFunc("GET "+p+"/servers/{id}", s.novaGet)
	mux.HandleFunc("DELETE "+p+"/servers/{id}", s.novaDelete)
	mux.HandleFunc("GET "+p+"/servers/{id}/os-volume_attachments", s.novaListAttachments)
	mux.HandleFunc("POST "+p+"/servers/{id}/os-volume_attachments", s.novaAttach)
	mux.HandleFunc("DELETE "+p+"/servers/{id}/os-volume_attachments/{volume}", s.novaDetach)
	mux.HandleFunc("GET "+p+"/flavors/detail", s.novaFlavors)
	mux.HandleFunc("GET "+p+"/flavors/{id}", s.novaFlavor)
	mux.HandleFunc("GET "+p+"/flavors/{id}/os-extra_specs", s.novaExtraSpecs)
	mux.HandleFunc("GET "+p+"/os-availability-zone", func(w http.ResponseWriter, r *http.Request) {
		var zones []any
		for _, z := range s.opts.Zones {
			zones = append(zones, map[string]any{"zoneName": z, "zoneState": map[string]any{"available": true}, "hosts": nil})
		}
		writeJSON(w, http.StatusOK, map[string]any{"availabilityZoneInfo": zones})
	})
}

// microversion returns the compute microversion a request asks for (2.1 when none).
func microversion(r *http.Request) (major, minor int) {
	v := r.Header.Get("X-OpenStack-Nova-API-Version")
	if h := r.Header.Get("OpenStack-API-Version"); strings.HasPrefix(h, "compute ") {
		v = strings.TrimPrefix(h, "compute ")
	}
	a, b, ok := strings.Cut(strings.TrimSpace(v), ".")
	if !ok {
		return 2, 1
	}
	major, _ = strconv.Atoi(a)
	minor, _ = strconv.Atoi(b)
	return major, minor
}

func atLeast(r *http.Request, minor int) bool {
	ma, mi := microversion(r)
	return ma > 2 || (ma == 2 && mi >= minor)
}

func (s *Server) novaCreate(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Server struct {
			Name           string            `json:"name"`
			ImageRef       string            `json:"imageRef"`
			FlavorRef      string            `json:"flavorRef"`
			Zone           string            `json:"availability_zone"`
			UserData       string            `json:"user_data"`
			Metadata       map[string]string `json:"metadata"`
			KeyName        string            `json:"key_name"`
			Networks       json.RawMessage   `json:"networks"`
			SecurityGroups []struct {
				Name string `json:"name"`
			} `json:"security_groups"`
			BDM []struct {
				SourceType          string `json:"source_type"`
				DestinationType     string `json:"destination_type"`
				UUID                string `json:"uuid"`
				BootIndex           int    `json:"boot_index"`
				VolumeSize          int    `json:"volume_size"`
				VolumeType          string `json:"volume_type"`
				DeleteOnTermination bool   `json:"delete_on_termination"`
			} `json:"block_device_mapping_v2"`
		} `json:"server"`
	}
	if err := decode(r, &req); err != nil {
		novaFault(w, http.StatusBadRequest, "Malformed request body: %v", err)
		return
	}
	in := req.Server
	if atLeast(r, 37) && len(in.Networks) == 0 {
		novaFault(w, http.StatusBadRequest, "Invalid input for field/attribute server. Value: %s. 'networks' is a required property", "...")
		return
	}
	sr := serverReq{name: in.Name, imageID: in.ImageRef, flavorID: in.FlavorRef, zone: in.Zone,
		userData: in.UserData, keyName: in.KeyName, metadata: in.Metadata}
	for _, g := range in.SecurityGroups {
		sr.secGroups = append(sr.secGroups, g.Name)
	}
	for _, b := range in.BDM {
		switch {
		case b.SourceType == "image" && b.BootIndex == 0:
			if sr.imageID == "" {
				sr.imageID = b.UUID
			}
		case b.SourceType == "blank" && b.DestinationType == "volume":
			sr.blank = append(sr.blank, blankDisk{b.VolumeSize, b.VolumeType, b.DeleteOnTermination})
		default:
			novaFault(w, http.StatusBadRequest, "Block Device Mapping is Invalid: unsupported source %q.", b.SourceType)
			return
		}
	}
	s.mu.Lock()
	sv, status, msg := s.createServer(sr, time.Now())
	s.mu.Unlock()
	if sv == nil {
		novaFault(w, status, "%s", msg)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"server": map[string]any{
		"id": sv.id, "links": s.serverLinks(sv.id), "OS-DCF:diskConfig": "MANUAL",
		"security_groups": secGroupsView(sv.secGroups), "adminPass": "fake-admin-pass"}})
}

// createServer validates req as Nova's API does and creates the server in BUILD. The
// caller holds s.mu.
func (s *Server) createServer(req serverReq, now time.Time) (*server, int, string) {
	switch {
	case req.name == "":
		return nil, 400, "Invalid input for field/attribute name. Value: . '' is too short"
	case s.flavor(req.flavorID) == nil || s.flavor(req.flavorID).ID != req.flavorID:
		return nil, 400, fmt.Sprintf("Flavor %s could not be found.", req.flavorID)
	case s.images[req.imageID] == "":
		return nil, 400, fmt.Sprintf("Image %s could not be found.", req.imageID)
	case req.zone != "" && !contains(s.opts.Zones, req.zone):
		return nil, 400, "The requested availability zone is not available"
	case len(req.metadata) > 128:
		return nil, 403, fmt.Sprintf("Quota exceeded for metadata_items: Requested %d, but already used 0 of 128 metadata_items", len(req.metadata))
	}
	if req.userData != "" {
		raw, err := base64.StdEncoding.DecodeString(req.userData)
		if err != nil {
			return nil, 400, "User data needs to be valid base 64."
		}
		if len(req.userData) > 65535 {
			return nil, 400, fmt.Sprintf("User data too large. User data must be no larger than 65535 bytes once base64 encoded. Your data is %d bytes", len(raw))
		}
	}
	for k, v := range req.metadata {
		if k == "" || len(k) > 255 || len(v) > 255 {
			return nil, 400, "Invalid input for field/attribute metadata: keys and values are 1 to 255 characters."
		}
	}
	for _, b := range req.blank {
		if b.size < 1 {
			return nil, 400, "Block Device Mapping is Invalid: volume_size must be positive."
		}
		if b.volumeType != "" && !contains(s.opts.VolumeTypes, b.volumeType) {
			return nil, 400, fmt.Sprintf("Block Device Mapping is Invalid: volume type %s not found.", b.volumeType)
		}
	}
	if q := s.opts.InstanceQuota; q > 0 {
		used := 0
		for _, sv := range s.servers {
			if !sv.deleting {
				used++
			}
		}
		if used >= q {
			return nil, 403, fmt.Sprintf("Quota exceeded for instances: Requested 1, but already used %d of %d instances", used, q)
		}
	}
	sv := &server{
		id: newID(), name: req.name, flavorID: req.flavorID, imageID: req.imageID, reqZone: req.zone,
		status: "BUILD", taskState: "scheduling", vmState: "building",
		metadata: map[string]string{}, userData: req.userData, keyName: req.keyName, secGroups: req.secGroups,
		created: now, blank: req.blank, bdmVolumes: map[string]bool{}, deviceNext: 'b',
	}
	for k, v := range req.metadata {
		sv.metadata[k] = v
	}
	if len(sv.secGroups) == 0 {
		sv.secGroups = []string{"default"}
	}
	s.servers[sv.id] = sv
	return sv, 0, ""
}

// advanceServers schedules, boots and removes servers. The caller holds s.mu.
func (s *Server) advanceServers(now time.Time) {
	for id, sv := range s.servers {
		if sv.deleting {
			if now.Sub(sv.deleteAt) >= s.opts.DeleteDelay {
				s.removeServer(id, sv)
			}
			continue
		}
		if sv.taskState == "scheduling" && now.Sub(sv.created) >= s.opts.SchedulingDelay {
			s.schedule(sv, now)
		}
		if sv.taskState == "spawning" && now.Sub(sv.scheduled) >= s.opts.BuildDelay {
			sv.status, sv.taskState, sv.vmState, sv.powerState, sv.launched = "ACTIVE", "", "active", 1, now
		}
	}
}

// schedule places sv in a zone with capacity for its flavor, or fails it with NoValidHost.
func (s *Server) schedule(sv *server, now time.Time) {
	zones := s.opts.Zones
	if sv.reqZone != "" {
		zones = []string{sv.reqZone}
	}
	var ok []string
	for _, z := range zones {
		if s.stockOut[[2]string{z, sv.flavorID}] == 0 {
			ok = append(ok, z)
		}
	}
	sv.scheduled = now
	if len(ok) == 0 {
		sv.status, sv.taskState, sv.vmState, sv.zone, sv.fault = "ERROR", "", "error", sv.reqZone, noValidHost
		return
	}
	sv.zone = ok[s.nextPick%len(ok)]
	s.nextPick++
	sv.taskState = "spawning"
	s.nextIP++
	sv.addr = fmt.Sprintf("10.0.%d.%d", s.nextIP/250, s.nextIP%250+2)
	for _, b := range sv.blank {
		v := s.newVolume("", b.size, sv.zone, b.volumeType, nil, now)
		v.status, v.serverID, v.device, v.attachedAt = "in-use", sv.id, s.nextDevice(sv), now
		sv.bdmVolumes[v.id] = b.deleteOnTermination
	}
}

func (s *Server) nextDevice(sv *server) string {
	d := "/dev/vd" + string(sv.deviceNext)
	sv.deviceNext++
	return d
}

// removeServer deletes sv for good: its delete-on-termination volumes go, others detach.
func (s *Server) removeServer(id string, sv *server) {
	for _, v := range s.volumes {
		if v.serverID != id && v.pendingServer != id {
			continue
		}
		if sv.bdmVolumes[v.id] {
			delete(s.volumes, v.id)
			continue
		}
		v.status, v.serverID, v.pendingServer, v.device = "available", "", "", ""
	}
	delete(s.servers, id)
}

func (s *Server) novaList(w http.ResponseWriter, r *http.Request) {
	detail := strings.HasSuffix(r.URL.Path, "/detail")
	s.mu.Lock()
	defer s.mu.Unlock()
	list := make([]*server, 0, len(s.servers))
	for _, sv := range s.servers {
		list = append(list, sv)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].created.After(list[j].created) })
	out := []any{}
	for _, sv := range list {
		if detail {
			out = append(out, s.serverView(r, sv))
		} else {
			out = append(out, map[string]any{"id": sv.id, "name": sv.name, "links": s.serverLinks(sv.id)})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"servers": out})
}

func (s *Server) novaGet(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.servers[r.PathValue("id")]
	if sv == nil {
		novaFault(w, http.StatusNotFound, "Instance %s could not be found.", r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"server": s.serverView(r, sv)})
}

func (s *Server) novaDelete(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.servers[r.PathValue("id")]
	if sv == nil {
		novaFault(w, http.StatusNotFound, "Instance %s could not be found.", r.PathValue("id"))
		return
	}
	s.deleteServer(sv, time.Now())
	w.WriteHeader(http.StatusNoContent)
}

// deleteServer starts deleting sv. The caller holds s.mu.
func (s *Server) deleteServer(sv *server, now time.Time) {
	if !sv.deleting {
		sv.deleting, sv.deleteAt, sv.taskState = true, now, "deleting"
	}
}

func (s *Server) serverLinks(id string) []any {
	return []any{map[string]any{"rel": "self", "href": s.URL + "/compute/v2.1/servers/" + id}}
}

func secGroupsView(names []string) []any {
	out := []any{}
	for _, n := range names {
		out = append(out, map[string]any{"name": n})
	}
	return out
}

// serverView is a server as Nova shows it at the request's microversion.
func (s *Server) serverView(r *http.Request, sv *server) map[string]any {
	f := s.flavor(sv.flavorID)
	var flavor any = map[string]any{"id": sv.flavorID, "links": []any{}}
	if atLeast(r, 47) && f != nil {
		fv := map[string]any{"original_name": f.Name, "vcpus": f.VCPUs, "ram": f.RAMMiB, "disk": f.DiskGiB, "ephemeral": 0, "swap": 0}
		fv["extra_specs"] = orEmpty(f.ExtraSpecs)
		flavor = fv
	}
	addresses := map[string]any{}
	if sv.addr != "" {
		addresses["private"] = []any{map[string]any{"version": 4, "addr": sv.addr,
			"OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01"}}
	}
	attached := []any{}
	for _, v := range s.volumes {
		if v.serverID == sv.id {
			attached = append(attached, map[string]any{"id": v.id, "delete_on_termination": sv.bdmVolumes[v.id]})
		}
	}
	var launched, task any
	if !sv.launched.IsZero() {
		launched = sv.launched.UTC().Format(isoMicro)
	}
	if sv.taskState != "" {
		task = sv.taskState
	}
	view := map[string]any{
		"id": sv.id, "name": sv.name, "status": sv.status, "tenant_id": ProjectID, "user_id": "u-" + Username,
		"metadata": orEmpty(sv.metadata), "created": sv.created.UTC().Format(isoZ), "updated": time.Now().UTC().Format(isoZ),
		"hostId": "", "addresses": addresses, "image": map[string]any{"id": sv.imageID, "links": []any{}},
		"flavor": flavor, "key_name": sv.keyName, "security_groups": secGroupsView(sv.secGroups),
		"OS-EXT-AZ:availability_zone": sv.zone, "OS-EXT-STS:task_state": task,
		"OS-EXT-STS:vm_state": sv.vmState, "OS-EXT-STS:power_state": sv.powerState,
		"OS-SRV-USG:launched_at": launched, "OS-SRV-USG:terminated_at": nil,
		"os-extended-volumes:volumes_attached": attached, "accessIPv4": "", "accessIPv6": "",
		"progress": 0, "config_drive": "", "OS-DCF:diskConfig": "MANUAL", "links": s.serverLinks(sv.id),
	}
	if sv.fault != "" {
		view["fault"] = map[string]any{"code": 500, "message": sv.fault, "created": sv.scheduled.UTC().Format(isoZ)}
	}
	return view
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// flavor returns the flavor with that ID, or else that name. The caller holds s.mu.
func (s *Server) flavor(ref string) *Flavor {
	for i := range s.opts.Flavors {
		if s.opts.Flavors[i].ID == ref {
			return &s.opts.Flavors[i]
		}
	}
	for i := range s.opts.Flavors {
		if s.opts.Flavors[i].Name == ref {
			return &s.opts.Flavors[i]
		}
	}
	return nil
}

func (s *Server) flavorView(r *http.Request, f *Flavor) map[string]any {
	v := map[string]any{"id": f.ID, "name": f.Name, "vcpus": f.VCPUs, "ram": f.RAMMiB, "disk": f.DiskGiB,
		"OS-FLV-EXT-DATA:ephemeral": 0, "swap": "", "rxtx_factor": 1.0, "os-flavor-access:is_public": true,
		"links": []any{map[string]any{"rel": "self", "href": s.URL + "/compute/v2.1/flavors/" + f.ID}}}
	if atLeast(r, 61) {
		v["extra_specs"] = orEmpty(f.ExtraSpecs)
	}
	return v
}

func (s *Server) novaFlavors(w http.ResponseWriter, r *http.Request) {
	out := []any{}
	for i := range s.opts.Flavors {
		out = append(out, s.flavorView(r, &s.opts.Flavors[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"flavors": out})
}

func (s *Server) novaFlavor(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	f := s.flavor(r.PathValue("id"))
	s.mu.Unlock()
	if f == nil || f.ID != r.PathValue("id") {
		novaFault(w, http.StatusNotFound, "Flavor %s could not be found.", r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"flavor": s.flavorView(r, f)})
}

func (s *Server) novaExtraSpecs(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	f := s.flavor(r.PathValue("id"))
	s.mu.Unlock()
	if f == nil || f.ID != r.PathValue("id") {
		novaFault(w, http.StatusNotFound, "Flavor %s could not be found.", r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"extra_specs": orEmpty(f.ExtraSpecs)})
}

func attachmentView(v *volume) map[string]any {
	return map[string]any{"id": v.id, "volumeId": v.id, "serverId": firstNonEmpty(v.serverID, v.pendingServer), "device": v.device}
}

func firstNonEmpty(a ...string) string {
	for _, s := range a {
		if s != "" {
			return s
		}
	}
	return ""
}

func (s *Server) novaListAttachments(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("id")
	if s.servers[id] == nil {
		novaFault(w, http.StatusNotFound, "Instance %s could not be found.", id)
		return
	}
	out := []any{}
	for _, v := range s.volumes {
		if v.serverID == id || v.pendingServer == id {
			out = append(out, attachmentView(v))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"volumeAttachments": out})
}

func (s *Server) novaAttach(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Attachment struct {
			VolumeID string `json:"volumeId"`
		} `json:"volumeAttachment"`
	}
	if err := decode(r, &req); err != nil {
		novaFault(w, http.StatusBadRequest, "Malformed request body: %v", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("id")
	sv := s.servers[id]
	if sv == nil {
		novaFault(w, http.StatusNotFound, "Instance %s could not be found.", id)
		return
	}
	if sv.deleting || (sv.vmState != "active" && sv.vmState != "stopped") {
		novaFault(w, http.StatusConflict, "Cannot 'attach_volume' instance %s while it is in vm_state %s", id, sv.vmState)
		return
	}
	v := s.volumes[req.Attachment.VolumeID]
	if v == nil {
		novaFault(w, http.StatusNotFound, "Volume %s could not be found.", req.Attachment.VolumeID)
		return
	}
	if v.status != "available" {
		novaFault(w, http.StatusBadRequest, "Invalid volume: volume %s status must be available or downloading, but is %s", v.id, v.status)
		return
	}
	v.status, v.pendingServer, v.device, v.changed = "attaching", id, s.nextDevice(sv), time.Now()
	writeJSON(w, http.StatusOK, map[string]any{"volumeAttachment": attachmentView(v)})
}

func (s *Server) novaDetach(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, vid := r.PathValue("id"), r.PathValue("volume")
	if s.servers[id] == nil {
		novaFault(w, http.StatusNotFound, "Instance %s could not be found.", id)
		return
	}
	v := s.volumes[vid]
	if v == nil || v.serverID != id {
		novaFault(w, http.StatusNotFound, "Volume %s is not attached to instance %s.", vid, id)
		return
	}
	if v.status != "in-use" {
		novaFault(w, http.StatusBadRequest, "Invalid volume: volume %s status must be in-use, but is %s", vid, v.status)
		return
	}
	v.status, v.changed = "detaching", time.Now()
	w.WriteHeader(http.StatusAccepted)
}

// UserData returns the user data a server was created with, decoded, and whether the
// server exists.
func (s *Server) UserData(id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	sv := s.servers[id]
	if sv == nil {
		return "", false
	}
	b, _ := base64.StdEncoding.DecodeString(sv.userData)
	return string(b), true
}

// VolumeCount returns how many volumes exist (deleting ones included).
func (s *Server) VolumeCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	return len(s.volumes)
}

// ServerCount returns how many servers exist (deleting ones included).
func (s *Server) ServerCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	return len(s.servers)
}
