package osfake

import (
	"fmt"
	"net/http"
)

// routeGlanceNeutron serves image listing (Glance v2) and the external networks and
// floating IPs of Neutron v2.0.
func (s *Server) routeGlanceNeutron(mux *http.ServeMux) {
	mux.HandleFunc("GET /image/v2/images", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		s.mu.Lock()
		defer s.mu.Unlock()
		out := []any{}
		for id, name := range s.images {
			if (q.Has("name") && q.Get("name") != name) || (q.Has("id") && q.Get("id") != id) ||
				(q.Has("status") && q.Get("status") != "active") {
				continue
			}
			out = append(out, map[string]any{"id": id, "name": name, "status": "active", "visibility": "public",
				"container_format": "bare", "disk_format": "qcow2", "min_disk": 0, "min_ram": 0, "protected": false,
				"created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z", "tags": []any{},
				"self": "/v2/images/" + id, "file": "/v2/images/" + id + "/file", "schema": "/v2/schemas/image", "size": 1024})
		}
		writeJSON(w, http.StatusOK, map[string]any{"images": out, "schema": "/v2/schemas/images", "first": "/v2/images"})
	})
	mux.HandleFunc("GET /network/v2.0/networks", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		nets := []map[string]any{
			{"id": s.networkID, "name": "private", "router:external": false, "subnets": []string{s.subnetID}},
			{"id": s.publicNetID, "name": ExternalNetworkName, "router:external": true, "subnets": []string{}},
		}
		out := []any{}
		for _, n := range nets {
			if (q.Has("name") && q.Get("name") != n["name"]) || (q.Has("id") && q.Get("id") != n["id"]) {
				continue
			}
			n["status"], n["admin_state_up"], n["tenant_id"], n["project_id"] = "ACTIVE", true, ProjectID, ProjectID
			out = append(out, n)
		}
		writeJSON(w, http.StatusOK, map[string]any{"networks": out})
	})
	mux.HandleFunc("POST /network/v2.0/floatingips", s.neutronCreateFIP)
	mux.HandleFunc("GET /network/v2.0/floatingips", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		s.mu.Lock()
		defer s.mu.Unlock()
		out := []any{}
		for _, f := range s.fips {
			if q.Has("port_id") && q.Get("port_id") != f.portID {
				continue
			}
			out = append(out, f.view())
		}
		writeJSON(w, http.StatusOK, map[string]any{"floatingips": out})
	})
	mux.HandleFunc("DELETE /network/v2.0/floatingips/{id}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.fips[r.PathValue("id")] == nil {
			writeJSON(w, http.StatusNotFound, map[string]any{"NeutronError": map[string]any{
				"type": "FloatingIPNotFound", "message": "Floating IP " + r.PathValue("id") + " could not be found", "detail": ""}})
			return
		}
		delete(s.fips, r.PathValue("id"))
		w.WriteHeader(http.StatusNoContent)
	})
}

type floatingIP struct {
	id, addr, portID, fixed, networkID string
}

func (f *floatingIP) view() map[string]any {
	return map[string]any{"id": f.id, "floating_ip_address": f.addr, "port_id": f.portID, "fixed_ip_address": f.fixed,
		"floating_network_id": f.networkID, "status": "ACTIVE", "tenant_id": ProjectID, "project_id": ProjectID,
		"router_id": "r-1", "description": "", "tags": []any{}, "revision_number": 1}
}

func (s *Server) neutronCreateFIP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		FIP struct {
			NetworkID string `json:"floating_network_id"`
			PortID    string `json:"port_id"`
		} `json:"floatingip"`
	}
	if err := decode(r, &req); err != nil || req.FIP.NetworkID != s.publicNetID {
		writeJSON(w, http.StatusBadRequest, map[string]any{"NeutronError": map[string]any{
			"type": "BadRequest", "message": fmt.Sprintf("Bad floatingip request: network %q is not external", req.FIP.NetworkID), "detail": ""}})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fixed := ""
	for _, lb := range s.lbs {
		if lb.vipPort == req.FIP.PortID {
			fixed = lb.vip
		}
	}
	s.nextVIP++
	f := &floatingIP{id: newID(), addr: fmt.Sprintf("172.24.4.%d", s.nextVIP%250+2), portID: req.FIP.PortID, fixed: fixed, networkID: s.publicNetID}
	s.fips[f.id] = f
	writeJSON(w, http.StatusCreated, map[string]any{"floatingip": f.view()})
}
