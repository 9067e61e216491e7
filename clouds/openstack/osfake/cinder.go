package osfake

import (
	"net/http"
	"sort"
	"time"
)

type volume struct {
	id, name, description, zone, volumeType string
	size                                    int
	status                                  string
	metadata                                map[string]string
	created, changed, attachedAt            time.Time
	serverID, pendingServer, device         string
}

func (s *Server) routeCinder(mux *http.ServeMux) {
	const p = "/volume/v3/{project}"
	mux.HandleFunc("POST "+p+"/volumes", s.cinderCreate)
	mux.HandleFunc("GET "+p+"/volumes/detail", s.cinderList)
	mux.HandleFunc("GET "+p+"/volumes", s.cinderList)
	mux.HandleFunc("GET "+p+"/volumes/{id}", s.cinderGet)
	mux.HandleFunc("DELETE "+p+"/volumes/{id}", s.cinderDelete)
}

// newVolume adds a volume in state creating. The caller holds s.mu.
func (s *Server) newVolume(name string, size int, zone, vtype string, md map[string]string, now time.Time) *volume {
	if vtype == "" {
		vtype = s.opts.VolumeTypes[0]
	}
	v := &volume{id: newID(), name: name, size: size, zone: zone, volumeType: vtype, status: "creating",
		metadata: map[string]string{}, created: now, changed: now}
	for k, val := range md {
		v.metadata[k] = val
	}
	s.volumes[v.id] = v
	return v
}

func (s *Server) cinderCreate(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Volume struct {
			Name        string            `json:"name"`
			Description string            `json:"description"`
			Size        int               `json:"size"`
			Zone        string            `json:"availability_zone"`
			VolumeType  string            `json:"volume_type"`
			Metadata    map[string]string `json:"metadata"`
		} `json:"volume"`
	}
	if err := decode(r, &req); err != nil {
		novaFault(w, http.StatusBadRequest, "Malformed request body: %v", err)
		return
	}
	in := req.Volume
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case in.Size < 1:
		novaFault(w, http.StatusBadRequest, "Invalid input received: size must be an integer and greater than 0.")
		return
	case in.Zone != "" && !contains(s.opts.Zones, in.Zone):
		novaFault(w, http.StatusBadRequest, "Invalid input received: Availability zone '%s' is invalid.", in.Zone)
		return
	case in.VolumeType != "" && !contains(s.opts.VolumeTypes, in.VolumeType):
		novaFault(w, http.StatusNotFound, "Volume type with name %s could not be found.", in.VolumeType)
		return
	}
	if q := s.opts.GigabytesQuota; q > 0 {
		used := 0
		for _, v := range s.volumes {
			used += v.size
		}
		if used+in.Size > q {
			novaFault(w, http.StatusRequestEntityTooLarge, "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. Requested %dG, quota is %dG and %dG has been consumed.", in.Size, q, used)
			return
		}
	}
	zone := in.Zone
	if zone == "" {
		zone = s.opts.Zones[0]
	}
	v := s.newVolume(in.Name, in.Size, zone, in.VolumeType, in.Metadata, time.Now())
	v.description = in.Description
	writeJSON(w, http.StatusAccepted, map[string]any{"volume": s.volumeView(v)})
}

// advanceVolumes moves volumes through creating, attaching, detaching and deleting. The
// caller holds s.mu.
func (s *Server) advanceVolumes(now time.Time) {
	for id, v := range s.volumes {
		if now.Sub(v.changed) < s.opts.VolumeDelay {
			continue
		}
		switch v.status {
		case "creating":
			v.status = "available"
		case "attaching":
			if sv := s.servers[v.pendingServer]; sv == nil || sv.deleting {
				v.status, v.pendingServer, v.device = "available", "", ""
				continue
			}
			v.status, v.serverID, v.pendingServer, v.attachedAt = "in-use", v.pendingServer, "", now
		case "detaching":
			v.status, v.serverID, v.device = "available", "", ""
		case "deleting":
			delete(s.volumes, id)
		}
	}
}

func (s *Server) volumeView(v *volume) map[string]any {
	attachments := []any{}
	if v.serverID != "" {
		attachments = append(attachments, map[string]any{
			"id": v.id, "attachment_id": "att-" + v.id, "volume_id": v.id, "server_id": v.serverID,
			"host_name": nil, "device": v.device, "attached_at": v.attachedAt.UTC().Format(isoMicro)})
	}
	var name, desc any
	if v.name != "" {
		name = v.name
	}
	if v.description != "" {
		desc = v.description
	}
	return map[string]any{
		"id": v.id, "name": name, "description": desc, "status": v.status, "size": v.size,
		"availability_zone": v.zone, "volume_type": v.volumeType, "metadata": orEmpty(v.metadata),
		"attachments": attachments, "created_at": v.created.UTC().Format(isoMicro), "updated_at": nil,
		"bootable": "false", "encrypted": false, "multiattach": false, "user_id": "u-" + Username,
		"os-vol-tenant-attr:tenant_id": ProjectID, "snapshot_id": nil, "source_volid": nil,
		"replication_status": "disabled", "consistencygroup_id": nil,
		"links": []any{map[string]any{"rel": "self", "href": s.URL + "/volume/v3/" + ProjectID + "/volumes/" + v.id}},
	}
}

func (s *Server) cinderList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	list := make([]*volume, 0, len(s.volumes))
	for _, v := range s.volumes {
		if (q.Has("name") && v.name != q.Get("name")) || (q.Has("status") && v.status != q.Get("status")) {
			continue
		}
		list = append(list, v)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].created.After(list[j].created) })
	out := []any{}
	for _, v := range list {
		out = append(out, s.volumeView(v))
	}
	writeJSON(w, http.StatusOK, map[string]any{"volumes": out})
}

func (s *Server) cinderGet(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.volumes[r.PathValue("id")]
	if v == nil {
		novaFault(w, http.StatusNotFound, "Volume %s could not be found.", r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"volume": s.volumeView(v)})
}

func (s *Server) cinderDelete(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.volumes[r.PathValue("id")]
	if v == nil {
		novaFault(w, http.StatusNotFound, "Volume %s could not be found.", r.PathValue("id"))
		return
	}
	switch v.status {
	case "available", "error":
		v.status, v.changed = "deleting", time.Now()
	case "deleting":
	default:
		novaFault(w, http.StatusBadRequest, "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots or be disassociated from snapshots after volume transfer.")
		return
	}
	w.WriteHeader(http.StatusAccepted)
}
