package osfake

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// stack is a Heat stack running one OS::Heat::AutoScalingGroup.
type stack struct {
	id, name               string
	params                 map[string]string // user-given values, as Heat stores them
	tmpl                   *hotTemplate
	groupName              string // the ASG's resource name
	action, status, reason string
	created, updated       time.Time
	nestedID, nestedName   string
	members                []*asgMember
	pending                bool // membership not yet reconciled with the template
}

type asgMember struct {
	name, serverID string
	created        time.Time
	unhealthy      bool
	def            string // the member's resolved server properties, to spot changes
}

func (s *Server) routeHeat(mux *http.ServeMux) {
	const p = "/heat-api/v1/{project}"
	mux.HandleFunc("POST "+p+"/stacks", s.heatCreate)
	mux.HandleFunc("GET "+p+"/stacks", s.heatList)
	mux.HandleFunc("GET "+p+"/stacks/{ident}", s.heatFind)
	mux.HandleFunc("GET "+p+"/stacks/{name}/{id}", s.heatGet)
	mux.HandleFunc("PATCH "+p+"/stacks/{name}/{id}", s.heatUpdate)
	mux.HandleFunc("PUT "+p+"/stacks/{name}/{id}", s.heatUpdate)
	mux.HandleFunc("DELETE "+p+"/stacks/{name}/{id}", s.heatDelete)
	mux.HandleFunc("GET "+p+"/stacks/{name}/{id}/resources", s.heatResources)
	mux.HandleFunc("PATCH "+p+"/stacks/{name}/{id}/resources/{resource}", s.heatMarkUnhealthy)
}

// heatFault writes Heat's error body.
func heatFault(w http.ResponseWriter, status int, typ, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	writeJSON(w, status, map[string]any{"code": status, "title": http.StatusText(status), "explanation": msg,
		"error": map[string]any{"message": msg, "traceback": nil, "type": typ}})
}

func (s *Server) stackByName(name string) *stack {
	for _, st := range s.stacks {
		if st.name == name || st.id == name {
			return st
		}
	}
	return nil
}

func (s *Server) heatCreate(w http.ResponseWriter, r *http.Request) {
	var req stackReq
	if err := decode(r, &req); err != nil {
		heatFault(w, 400, "HTTPBadRequest", "Malformed request body: %v", err)
		return
	}
	tmpl, err := parseTemplate(req.Template)
	if err != nil {
		heatFault(w, 400, "HTTPBadRequest", "%v", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stackByName(req.Name) != nil {
		heatFault(w, http.StatusConflict, "StackExists", "The Stack (%s) already exists.", req.Name)
		return
	}
	now := time.Now()
	st := &stack{id: newID(), name: req.Name, params: map[string]string{}, tmpl: tmpl,
		action: "CREATE", status: "IN_PROGRESS", reason: "Stack CREATE started", created: now, pending: true}
	for k, v := range req.Parameters {
		st.params[k] = paramString(v)
	}
	if _, status, typ, msg := s.resolve(st); status != 0 {
		heatFault(w, status, typ, "%s", msg)
		return
	}
	st.nestedID, st.nestedName = newID(), st.name+"-"+st.groupName+"-"+shortID()
	s.stacks[st.id] = st
	writeJSON(w, http.StatusCreated, map[string]any{"stack": map[string]any{"id": st.id, "links": s.stackLinks(st)}})
}

func (s *Server) stackURL(name, id string) string {
	return s.URL + "/heat-api/v1/" + ProjectID + "/stacks/" + name + "/" + id
}

func (s *Server) stackLinks(st *stack) []any {
	return []any{map[string]any{"href": s.stackURL(st.name, st.id), "rel": "self"}}
}

func (s *Server) heatUpdate(w http.ResponseWriter, r *http.Request) {
	var req stackReq
	if err := decode(r, &req); err != nil {
		heatFault(w, 400, "HTTPBadRequest", "Malformed request body: %v", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.lockedStack(w, r)
	if st == nil {
		return
	}
	if st.action == "DELETE" {
		heatFault(w, http.StatusConflict, "ActionInProgress", "Stack %s already has an action (DELETE) in progress.", st.name)
		return
	}
	next := *st
	if len(req.Template) > 0 {
		tmpl, err := parseTemplate(req.Template)
		if err != nil {
			heatFault(w, 400, "HTTPBadRequest", "%v", err)
			return
		}
		next.tmpl = tmpl
	} else if r.Method == http.MethodPut {
		heatFault(w, 400, "HTTPBadRequest", "A template is required for a full stack update (PUT).")
		return
	}
	next.params = map[string]string{}
	if r.Method == http.MethodPatch {
		for k, v := range st.params {
			next.params[k] = v
		}
	}
	for k, v := range req.Parameters {
		next.params[k] = paramString(v)
	}
	if _, status, typ, msg := s.resolve(&next); status != 0 {
		heatFault(w, status, typ, "%s", msg)
		return
	}
	st.tmpl, st.params = next.tmpl, next.params
	st.action, st.status, st.reason, st.updated, st.pending = "UPDATE", "IN_PROGRESS", "Stack UPDATE started", time.Now(), true
	w.WriteHeader(http.StatusAccepted)
}

func (s *Server) heatDelete(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.lockedStack(w, r)
	if st == nil {
		return
	}
	now := time.Now()
	st.action, st.status, st.reason, st.updated, st.pending = "DELETE", "IN_PROGRESS", "Stack DELETE started", now, false
	for _, m := range st.members {
		if sv := s.servers[m.serverID]; sv != nil {
			s.deleteServer(sv, now)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// advanceStacks runs every stack's group. The caller holds s.mu.
func (s *Server) advanceStacks(now time.Time) {
	for id, st := range s.stacks {
		if st.action == "DELETE" {
			live := false
			for _, m := range st.members {
				live = live || s.servers[m.serverID] != nil
			}
			if !live {
				delete(s.stacks, id)
			}
			continue
		}
		if st.pending {
			st.pending = false
			if !s.apply(st, now) {
				continue
			}
		}
		if st.status != "IN_PROGRESS" {
			continue
		}
		done := true
		for _, m := range st.members {
			sv := s.servers[m.serverID]
			switch {
			case sv == nil || sv.deleting:
			case sv.status == "ERROR":
				st.status = "FAILED"
				st.reason = fmt.Sprintf("Resource %s failed: ResourceInError: resources.%s.resources.%s: Went to status ERROR due to \"Message: %s, Code: 500\"",
					st.action, st.groupName, m.name, sv.fault)
			case sv.status != "ACTIVE":
				done = false
			}
		}
		if st.status == "IN_PROGRESS" && done {
			st.status, st.reason = "COMPLETE", fmt.Sprintf("Stack %s completed successfully", st.action)
		}
	}
}

// apply makes the group's members match the template as Heat's AutoScalingGroup does:
// on scale-in failed and unhealthy members go first, then the oldest; unhealthy members
// and members of an older definition are replaced; new members fill up to desired. It
// reports false when the stack failed.
func (s *Server) apply(st *stack, now time.Time) bool {
	g, _, _, msg := s.resolve(st)
	if g == nil {
		st.status, st.reason = "FAILED", msg
		return false
	}
	failed := func(m *asgMember) bool {
		sv := s.servers[m.serverID]
		return m.unhealthy || (sv != nil && sv.status == "ERROR")
	}
	sort.SliceStable(st.members, func(i, j int) bool {
		fi, fj := failed(st.members[i]), failed(st.members[j])
		if fi != fj {
			return fi
		}
		return st.members[i].created.Before(st.members[j].created)
	})
	drop := func(m *asgMember) {
		if sv := s.servers[m.serverID]; sv != nil {
			s.deleteServer(sv, now)
		}
	}
	if n := len(st.members) - g.desired; n > 0 {
		for _, m := range st.members[:n] {
			drop(m)
		}
		st.members = st.members[n:]
	}
	kept := st.members[:0]
	for _, m := range st.members {
		if failed(m) || m.def != g.def {
			drop(m)
			continue
		}
		kept = append(kept, m)
	}
	st.members = kept
	for len(st.members) < g.desired {
		m := &asgMember{name: shortID(), created: now, def: g.def}
		req := g.server
		req.name = truncate(st.nestedName, 40) + "-" + m.name + "-" + shortID()[:6]
		sv, _, errMsg := s.createServer(req, now)
		if sv == nil {
			st.status = "FAILED"
			st.reason = fmt.Sprintf("Resource %s failed: resources.%s.resources.%s: %s", st.action, st.groupName, m.name, errMsg)
			return false
		}
		sv.stack, sv.stackMember, sv.stackGroup = st.id, m.name, st.groupName
		m.serverID = sv.id
		st.members = append(st.members, m)
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// lockedStack returns the stack named by the request's name and id, or writes a 404.
// The caller holds s.mu.
func (s *Server) lockedStack(w http.ResponseWriter, r *http.Request) *stack {
	st := s.stacks[r.PathValue("id")]
	if st == nil || st.name != r.PathValue("name") {
		heatFault(w, http.StatusNotFound, "EntityNotFound", "The Stack (%s) could not be found.", r.PathValue("name"))
		return nil
	}
	return st
}

func (s *Server) stackView(st *stack) map[string]any {
	params := map[string]any{"OS::stack_name": st.name, "OS::stack_id": st.id, "OS::project_id": ProjectID}
	for name, p := range st.tmpl.Parameters {
		v, ok := st.params[name]
		if !ok {
			v = paramString(p.Default)
		}
		if p.Hidden {
			v = "******"
		}
		params[name] = v
	}
	var updated any
	if !st.updated.IsZero() {
		updated = st.updated.UTC().Format(isoZ)
	}
	return map[string]any{
		"id": st.id, "stack_name": st.name, "stack_status": st.action + "_" + st.status, "stack_status_reason": st.reason,
		"creation_time": st.created.UTC().Format(isoZ), "updated_time": updated, "deletion_time": nil,
		"parameters": params, "description": st.tmpl.Description, "template_description": st.tmpl.Description,
		"disable_rollback": true, "timeout_mins": nil, "tags": nil, "links": s.stackLinks(st), "outputs": []any{},
		"capabilities": []any{}, "notification_topics": []any{}, "parent": nil, "stack_owner": Username,
	}
}

func (s *Server) heatList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []any{}
	for _, st := range s.stacks {
		if q.Has("name") && st.name != q.Get("name") {
			continue
		}
		v := s.stackView(st)
		delete(v, "parameters")
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"stacks": out})
}

// heatFind redirects a stack name or ID to the stack's canonical URL, as Heat does.
func (s *Server) heatFind(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	st := s.stackByName(r.PathValue("ident"))
	s.mu.Unlock()
	if st == nil {
		heatFault(w, http.StatusNotFound, "EntityNotFound", "The Stack (%s) could not be found.", r.PathValue("ident"))
		return
	}
	http.Redirect(w, r, s.stackURL(st.name, st.id), http.StatusFound)
}

func (s *Server) heatGet(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.lockedStack(w, r); st != nil {
		writeJSON(w, http.StatusOK, map[string]any{"stack": s.stackView(st)})
	}
}

func (s *Server) heatResources(w http.ResponseWriter, r *http.Request) {
	depth, _ := strconv.Atoi(r.URL.Query().Get("nested_depth"))
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.lockedStack(w, r)
	if st == nil {
		return
	}
	status := st.action + "_" + st.status
	out := []any{map[string]any{
		"resource_name": st.groupName, "logical_resource_id": st.groupName, "physical_resource_id": st.nestedID,
		"resource_type": "OS::Heat::AutoScalingGroup", "resource_status": status, "resource_status_reason": st.reason,
		"creation_time": st.created.UTC().Format(isoNoZone), "updated_time": st.created.UTC().Format(isoNoZone),
		"required_by": []any{}, "links": []any{
			map[string]any{"href": s.stackURL(st.name, st.id) + "/resources/" + st.groupName, "rel": "self"},
			map[string]any{"href": s.stackURL(st.name, st.id), "rel": "stack"},
			map[string]any{"href": s.stackURL(st.nestedName, st.nestedID), "rel": "nested"}},
	}}
	if depth >= 1 {
		for _, m := range st.members {
			mstatus, reason := "CREATE_COMPLETE", "state changed"
			if m.unhealthy {
				mstatus, reason = "CHECK_FAILED", "marked unhealthy"
			}
			out = append(out, map[string]any{
				"resource_name": m.name, "logical_resource_id": m.name, "physical_resource_id": m.serverID,
				"resource_type": "OS::Nova::Server", "resource_status": mstatus, "resource_status_reason": reason,
				"parent_resource": st.groupName, "required_by": []any{},
				"creation_time": m.created.UTC().Format(isoNoZone), "updated_time": m.created.UTC().Format(isoNoZone),
				"links": []any{
					map[string]any{"href": s.stackURL(st.nestedName, st.nestedID) + "/resources/" + m.name, "rel": "self"},
					map[string]any{"href": s.stackURL(st.nestedName, st.nestedID), "rel": "stack"}},
			})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"resources": out})
}

// heatMarkUnhealthy marks a group member (a resource of the group's nested stack) unhealthy.
func (s *Server) heatMarkUnhealthy(w http.ResponseWriter, r *http.Request) {
	var req struct {
		MarkUnhealthy bool `json:"mark_unhealthy"`
	}
	if err := decode(r, &req); err != nil {
		heatFault(w, 400, "HTTPBadRequest", "Malformed request body: %v", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name, id, res := r.PathValue("name"), r.PathValue("id"), r.PathValue("resource")
	for _, st := range s.stacks {
		if st.name == name && st.id == id && res == st.groupName {
			writeJSON(w, http.StatusOK, nil)
			return
		}
		if st.nestedName != name || st.nestedID != id {
			continue
		}
		for _, m := range st.members {
			if m.name == res {
				m.unhealthy = req.MarkUnhealthy
				writeJSON(w, http.StatusOK, nil)
				return
			}
		}
	}
	heatFault(w, http.StatusNotFound, "ResourceNotFound", "The Resource (%s) could not be found in Stack %s.", res, strings.TrimSpace(name))
}

// StackCount returns how many stacks exist (deleting ones included).
func (s *Server) StackCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	return len(s.stacks)
}
