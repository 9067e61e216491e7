package osfake

import (
	"fmt"
	"net/http"
	"sort"
	"time"
)

type loadBalancer struct {
	id, name, description, vip, vipPort string
	tags                                []string
	status                              string // provisioning_status
	created, changed                    time.Time
	listenerID, protocol                string
	port                                int
	poolID                              string
}

type pool struct {
	id, lbID, protocol, algorithm string
	monitorID, monitorType        string
	members                       map[string]*member
}

type member struct {
	id, name, address, subnetID string
	port                        int
	status, operating           string
	created, changed            time.Time
}

func (s *Server) routeOctavia(mux *http.ServeMux) {
	for _, p := range []string{"/load-balancer/v2.0/lbaas", "/load-balancer/v2/lbaas"} {
		mux.HandleFunc("POST "+p+"/loadbalancers", s.octaviaCreate)
		mux.HandleFunc("GET "+p+"/loadbalancers", s.octaviaList)
		mux.HandleFunc("GET "+p+"/loadbalancers/{id}", s.octaviaGet)
		mux.HandleFunc("DELETE "+p+"/loadbalancers/{id}", s.octaviaDelete)
		mux.HandleFunc("GET "+p+"/listeners/{id}", s.octaviaGetListener)
		mux.HandleFunc("GET "+p+"/pools/{id}", s.octaviaGetPool)
		mux.HandleFunc("GET "+p+"/pools/{id}/members", s.octaviaListMembers)
		mux.HandleFunc("POST "+p+"/pools/{id}/members", s.octaviaCreateMember)
		mux.HandleFunc("DELETE "+p+"/pools/{id}/members/{member}", s.octaviaDeleteMember)
	}
}

// octaviaFault writes Octavia's error body.
func octaviaFault(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]any{"faultcode": map[bool]string{true: "Client", false: "Server"}[status < 500],
		"faultstring": fmt.Sprintf(format, args...), "debuginfo": nil})
}

type memberReq struct {
	Name     string `json:"name"`
	Address  string `json:"address"`
	Port     int    `json:"protocol_port"`
	SubnetID string `json:"subnet_id"`
}

func (s *Server) octaviaCreate(w http.ResponseWriter, r *http.Request) {
	var req struct {
		LB struct {
			Name        string   `json:"name"`
			Description string   `json:"description"`
			SubnetID    string   `json:"vip_subnet_id"`
			NetworkID   string   `json:"vip_network_id"`
			Tags        []string `json:"tags"`
			Listeners   []struct {
				Protocol    string `json:"protocol"`
				Port        int    `json:"protocol_port"`
				TLSRef      string `json:"default_tls_container_ref"`
				DefaultPool *struct {
					Algorithm string `json:"lb_algorithm"`
					Protocol  string `json:"protocol"`
					Monitor   *struct {
						Type       string `json:"type"`
						Delay      int    `json:"delay"`
						Timeout    int    `json:"timeout"`
						MaxRetries int    `json:"max_retries"`
					} `json:"healthmonitor"`
					Members []memberReq `json:"members"`
				} `json:"default_pool"`
			} `json:"listeners"`
		} `json:"loadbalancer"`
	}
	if err := decode(r, &req); err != nil {
		octaviaFault(w, http.StatusBadRequest, "Invalid input for field/attribute loadbalancer: %v", err)
		return
	}
	in := req.LB
	if in.SubnetID != s.subnetID && in.NetworkID != s.networkID {
		octaviaFault(w, http.StatusBadRequest, "Validation failure: Subnet %s not found.", in.SubnetID)
		return
	}
	if len(in.Listeners) > 1 {
		octaviaFault(w, http.StatusBadRequest, "Validation failure: the fake supports one listener.")
		return
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextVIP++
	lb := &loadBalancer{id: newID(), name: in.Name, description: in.Description, tags: in.Tags,
		vip: fmt.Sprintf("10.0.200.%d", s.nextVIP%250+2), vipPort: newID(), status: "PENDING_CREATE", created: now, changed: now}
	var pl *pool
	for _, l := range in.Listeners {
		switch {
		case l.Port < 1 || l.Port > 65535:
			octaviaFault(w, http.StatusBadRequest, "Invalid input for field/attribute protocol_port. Value: '%d'.", l.Port)
			return
		case l.Protocol == "TERMINATED_HTTPS" && l.TLSRef == "":
			octaviaFault(w, http.StatusBadRequest, "Validation failure: An SNI or default certificate container reference must be provided for TERMINATED_HTTPS listeners.")
			return
		case !contains([]string{"TCP", "UDP", "HTTP", "HTTPS", "TERMINATED_HTTPS"}, l.Protocol):
			octaviaFault(w, http.StatusBadRequest, "Invalid input for field/attribute protocol. Value: '%s'.", l.Protocol)
			return
		}
		lb.listenerID, lb.protocol, lb.port = newID(), l.Protocol, l.Port
		if p := l.DefaultPool; p != nil {
			pl = &pool{id: newID(), lbID: lb.id, protocol: p.Protocol, algorithm: p.Algorithm, members: map[string]*member{}}
			if m := p.Monitor; m != nil {
				if m.Timeout > m.Delay || m.MaxRetries < 1 || m.MaxRetries > 10 {
					octaviaFault(w, http.StatusBadRequest, "Validation failure: health monitor timeout must not exceed delay, max_retries must be 1..10.")
					return
				}
				pl.monitorID, pl.monitorType = newID(), m.Type
			}
			for _, mr := range p.Members {
				s.addMember(pl, mr, now)
			}
			lb.poolID = pl.id
		}
	}
	s.lbs[lb.id] = lb
	if pl != nil {
		s.pools[pl.id] = pl
	}
	writeJSON(w, http.StatusCreated, map[string]any{"loadbalancer": s.lbView(lb)})
}

func (s *Server) addMember(pl *pool, mr memberReq, now time.Time) *member {
	m := &member{id: newID(), name: mr.Name, address: mr.Address, subnetID: mr.SubnetID, port: mr.Port,
		status: "PENDING_CREATE", operating: "NO_MONITOR", created: now, changed: now}
	if pl.monitorID != "" {
		m.operating = "OFFLINE"
	}
	pl.members[m.id] = m
	return m
}

// advanceOctavia settles provisioning states and runs health checks. The caller holds s.mu.
func (s *Server) advanceOctavia(now time.Time) {
	for id, lb := range s.lbs {
		if now.Sub(lb.changed) < s.opts.LBDelay {
			continue
		}
		switch lb.status {
		case "PENDING_DELETE":
			delete(s.pools, lb.poolID)
			delete(s.lbs, id)
			continue
		case "PENDING_CREATE", "PENDING_UPDATE":
			lb.status = "ACTIVE"
		}
		pl := s.pools[lb.poolID]
		if pl == nil {
			continue
		}
		for mid, m := range pl.members {
			switch {
			case m.status == "PENDING_DELETE" && now.Sub(m.changed) >= s.opts.LBDelay:
				delete(pl.members, mid)
				continue
			case m.status == "PENDING_CREATE" && now.Sub(m.changed) >= s.opts.LBDelay:
				m.status = "ACTIVE"
			}
			if m.status == "ACTIVE" && pl.monitorID != "" && now.Sub(m.created) >= s.opts.HealthDelay {
				m.operating = "ERROR"
				for _, sv := range s.servers {
					if sv.addr == m.address && sv.status == "ACTIVE" && !sv.deleting {
						m.operating = "ONLINE"
					}
				}
			}
		}
	}
}

func (s *Server) lbView(lb *loadBalancer) map[string]any {
	listeners, pools := []any{}, []any{}
	if lb.listenerID != "" {
		listeners = append(listeners, map[string]any{"id": lb.listenerID})
	}
	if lb.poolID != "" {
		pools = append(pools, map[string]any{"id": lb.poolID})
	}
	operating := "ONLINE"
	if lb.status != "ACTIVE" {
		operating = "OFFLINE"
	}
	tags := lb.tags
	if tags == nil {
		tags = []string{}
	}
	return map[string]any{
		"id": lb.id, "name": lb.name, "description": lb.description, "provisioning_status": lb.status,
		"operating_status": operating, "vip_address": lb.vip, "vip_port_id": lb.vipPort,
		"vip_subnet_id": s.subnetID, "vip_network_id": s.networkID, "admin_state_up": true,
		"project_id": ProjectID, "provider": "amphora", "flavor_id": nil, "availability_zone": nil,
		"listeners": listeners, "pools": pools, "tags": tags,
		"created_at": lb.created.UTC().Format(isoNoZone), "updated_at": lb.changed.UTC().Format(isoNoZone),
	}
}

func (s *Server) octaviaList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	list := make([]*loadBalancer, 0, len(s.lbs))
	for _, lb := range s.lbs {
		if q.Has("name") && lb.name != q.Get("name") {
			continue
		}
		list = append(list, lb)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].created.Before(list[j].created) })
	out := []any{}
	for _, lb := range list {
		out = append(out, s.lbView(lb))
	}
	writeJSON(w, http.StatusOK, map[string]any{"loadbalancers": out, "loadbalancers_links": []any{}})
}

func (s *Server) octaviaGet(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lb := s.lbs[r.PathValue("id")]
	if lb == nil {
		octaviaFault(w, http.StatusNotFound, "Load Balancer %s not found.", r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"loadbalancer": s.lbView(lb)})
}

func (s *Server) octaviaDelete(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lb := s.lbs[r.PathValue("id")]
	switch {
	case lb == nil:
		octaviaFault(w, http.StatusNotFound, "Load Balancer %s not found.", r.PathValue("id"))
		return
	case lb.status != "ACTIVE" && lb.status != "ERROR":
		octaviaFault(w, http.StatusConflict, "Invalid state %s of loadbalancer resource %s", lb.status, lb.id)
		return
	case r.URL.Query().Get("cascade") != "true" && (lb.listenerID != "" || lb.poolID != ""):
		octaviaFault(w, http.StatusBadRequest, "Cannot delete Load Balancer %s - it has children", lb.id)
		return
	}
	lb.status, lb.changed = "PENDING_DELETE", time.Now()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) octaviaGetListener(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, lb := range s.lbs {
		if lb.listenerID == r.PathValue("id") {
			writeJSON(w, http.StatusOK, map[string]any{"listener": map[string]any{
				"id": lb.listenerID, "name": lb.name, "protocol": lb.protocol, "protocol_port": lb.port,
				"default_pool_id": lb.poolID, "loadbalancers": []any{map[string]any{"id": lb.id}},
				"provisioning_status": lb.status, "operating_status": "ONLINE", "admin_state_up": true,
				"connection_limit": -1, "project_id": ProjectID, "tags": []any{}}})
			return
		}
	}
	octaviaFault(w, http.StatusNotFound, "Listener %s not found.", r.PathValue("id"))
}

func (s *Server) memberView(pl *pool, m *member) map[string]any {
	return map[string]any{
		"id": m.id, "name": m.name, "address": m.address, "protocol_port": m.port, "subnet_id": m.subnetID,
		"weight": 1, "admin_state_up": true, "provisioning_status": m.status, "operating_status": m.operating,
		"backup": false, "monitor_address": nil, "monitor_port": nil, "project_id": ProjectID, "pool_id": pl.id,
		"tags": []any{}, "created_at": m.created.UTC().Format(isoNoZone), "updated_at": m.changed.UTC().Format(isoNoZone),
	}
}

// lockedPool returns the pool of the request, or writes a 404. The caller holds s.mu.
func (s *Server) lockedPool(w http.ResponseWriter, r *http.Request) *pool {
	pl := s.pools[r.PathValue("id")]
	if pl == nil || s.lbs[pl.lbID] == nil {
		octaviaFault(w, http.StatusNotFound, "Pool %s not found.", r.PathValue("id"))
		return nil
	}
	return pl
}

func (s *Server) octaviaGetPool(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pl := s.lockedPool(w, r)
	if pl == nil {
		return
	}
	lb := s.lbs[pl.lbID]
	members := []any{}
	for _, m := range pl.members {
		members = append(members, map[string]any{"id": m.id})
	}
	writeJSON(w, http.StatusOK, map[string]any{"pool": map[string]any{
		"id": pl.id, "name": "", "lb_algorithm": pl.algorithm, "protocol": pl.protocol, "admin_state_up": true,
		"loadbalancers": []any{map[string]any{"id": pl.lbID}}, "listeners": []any{map[string]any{"id": lb.listenerID}},
		"members": members, "healthmonitor_id": pl.monitorID, "provisioning_status": lb.status,
		"operating_status": "ONLINE", "project_id": ProjectID, "tags": []any{}}})
}

func (s *Server) octaviaListMembers(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pl := s.lockedPool(w, r)
	if pl == nil {
		return
	}
	list := make([]*member, 0, len(pl.members))
	for _, m := range pl.members {
		list = append(list, m)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].created.Before(list[j].created) })
	out := []any{}
	for _, m := range list {
		out = append(out, s.memberView(pl, m))
	}
	writeJSON(w, http.StatusOK, map[string]any{"members": out, "members_links": []any{}})
}

// mutable checks that the pool's load balancer accepts changes, or writes Octavia's 409.
func (s *Server) mutable(w http.ResponseWriter, pl *pool) *loadBalancer {
	lb := s.lbs[pl.lbID]
	if lb.status != "ACTIVE" {
		octaviaFault(w, http.StatusConflict, "Load Balancer %s is immutable and cannot be updated.", lb.id)
		return nil
	}
	return lb
}

func (s *Server) octaviaCreateMember(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Member memberReq `json:"member"`
	}
	if err := decode(r, &req); err != nil {
		octaviaFault(w, http.StatusBadRequest, "Invalid input for field/attribute member: %v", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pl := s.lockedPool(w, r)
	if pl == nil {
		return
	}
	lb := s.mutable(w, pl)
	if lb == nil {
		return
	}
	for _, m := range pl.members {
		if m.address == req.Member.Address && m.port == req.Member.Port {
			octaviaFault(w, http.StatusConflict, "Another member on this pool is already using ip %s on protocol_port %d", m.address, m.port)
			return
		}
	}
	now := time.Now()
	m := s.addMember(pl, req.Member, now)
	lb.status, lb.changed = "PENDING_UPDATE", now
	writeJSON(w, http.StatusCreated, map[string]any{"member": s.memberView(pl, m)})
}

func (s *Server) octaviaDeleteMember(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pl := s.lockedPool(w, r)
	if pl == nil {
		return
	}
	m := pl.members[r.PathValue("member")]
	if m == nil || m.status == "PENDING_DELETE" {
		octaviaFault(w, http.StatusNotFound, "Member %s not found.", r.PathValue("member"))
		return
	}
	lb := s.mutable(w, pl)
	if lb == nil {
		return
	}
	now := time.Now()
	m.status, m.changed = "PENDING_DELETE", now
	lb.status, lb.changed = "PENDING_UPDATE", now
	w.WriteHeader(http.StatusNoContent)
}

// LoadBalancerCount returns how many load balancers exist (deleting ones included).
func (s *Server) LoadBalancerCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	return len(s.lbs)
}

// FloatingIPCount returns how many floating IPs exist.
func (s *Server) FloatingIPCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	return len(s.fips)
}
