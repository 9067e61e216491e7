// Package gcpfake is a stateful loopback server speaking the Google Compute Engine REST API
// (compute/v1 JSON, at the paths the Go REST clients of cloud.google.com/go/compute/apiv1
// call), for testing the gcp driver through its real SDK: point a client at URL() with
// option.WithEndpoint and option.WithoutAuthentication.
//
// It keeps state like the real service, in one project and one region:
//   - instances go PROVISIONING → STAGING → RUNNING over Options.BootDelay after insert,
//     and STOPPING for Options.StopDelay after delete, then vanish (with their auto-delete
//     disks; other disks are detached);
//   - regional managed instance groups create and delete members to match targetSize,
//     spread over their zones (zones out of capacity are skipped), recreate members that
//     vanish, and report currentAction and lastAttempt errors;
//   - regional instance templates, zonal persistent disks (users kept on attach and
//     detach), regional health checks, backend services (getHealth: a running member is
//     HEALTHY, others UNHEALTHY) and forwarding rules, and zonal unmanaged instance groups;
//   - machine types and accelerator types per zone, and the region with its zones.
//
// Every mutation answers a zonal, regional or global Operation that is RUNNING in the
// response and DONE on the first poll (so op.Wait returns without sleeping); a requestId
// seen before returns the first call's operation without acting again. Errors use Google's
// JSON format ({"error":{"code","message","errors":[{"reason","domain","message"}]}}), and
// an operation that fails carries error.errors[].code and httpErrorStatusCode as GCE's do.
// References are validated as GCE does (names, zones, machine types, labels, GPUs without
// onHostMaintenance TERMINATE, resources in use).
//
// Faults: StockOut makes launches of a machine type in a zone fail with
// ZONE_RESOURCE_POOL_EXHAUSTED (in the insert operation, as GCE reports it; a managed
// group launches elsewhere); Fail injects an error for the next matching calls, answered
// directly or through the operation.
package gcpfake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// apiBase is the prefix of the selfLinks the fake issues, as GCE's.
const apiBase = "https://www.googleapis.com/compute/v1/"

// Options configures a Server; zero fields take defaults.
type Options struct {
	Project   string        // "test-project"
	Region    string        // "us-central1"
	Zones     []string      // Region + "-a", "-b", "-c"
	BootDelay time.Duration // insert to RUNNING: 20ms
	StopDelay time.Duration // delete to gone: 20ms
	// MachineTypes are offered in their zones; DefaultMachineTypes() when nil.
	MachineTypes []MachineType
}

// Fault is an error injected into the next Times calls (1 when zero) whose method is
// Method ("" for any) and whose URL path contains Path ("" for any).
type Fault struct {
	Method  string
	Path    string
	Code    int    // HTTP status: the call's, or the operation's httpErrorStatusCode
	Reason  string // errors[].reason, or the operation's errors[].code
	Message string // "" for a default
	Times   int
	// InOperation answers a mutation with an operation that ends in this error (the call
	// itself succeeds and changes nothing), as GCE reports stockouts and quota.
	InOperation bool
	// QuotaMetric, with InOperation, adds errorDetails.quotaInfo (metricName, region).
	QuotaMetric string
	// AfterAction performs the call and then answers the error instead of its result, as
	// when an answer is lost on the way back.
	AfterAction bool
}

// Server is the fake. Its methods are safe for concurrent use.
type Server struct {
	opts Options
	srv  *httptest.Server
	mux  *http.ServeMux

	mu        sync.Mutex // guards everything below; held for each whole request
	ids       uint64
	ips       int
	calls     []string
	faults    []*Fault
	stockouts map[string]bool // "zone/machineType"
	ops       map[string]*computepb.Operation
	byRequest map[string]*computepb.Operation
	instances map[string]*instance // "zone/name"
	disks     map[string]*disk     // "zone/name"
	templates map[string]*computepb.InstanceTemplate
	migs      map[string]*mig
	igs       map[string]*unmanagedGroup // "zone/name"
	checks    map[string]*computepb.HealthCheck
	backends  map[string]*computepb.BackendService
	rules     map[string]*computepb.ForwardingRule
}

// New starts a Server on a loopback port; Close stops it.
func New(opts Options) *Server {
	if opts.Project == "" {
		opts.Project = "test-project"
	}
	if opts.Region == "" {
		opts.Region = "us-central1"
	}
	if len(opts.Zones) == 0 {
		opts.Zones = []string{opts.Region + "-a", opts.Region + "-b", opts.Region + "-c"}
	}
	if opts.BootDelay == 0 {
		opts.BootDelay = 20 * time.Millisecond
	}
	if opts.StopDelay == 0 {
		opts.StopDelay = 20 * time.Millisecond
	}
	if opts.MachineTypes == nil {
		opts.MachineTypes = DefaultMachineTypes(opts.Zones)
	}
	s := &Server{
		opts:      opts,
		mux:       http.NewServeMux(),
		stockouts: make(map[string]bool),
		ops:       make(map[string]*computepb.Operation),
		byRequest: make(map[string]*computepb.Operation),
		instances: make(map[string]*instance),
		disks:     make(map[string]*disk),
		templates: make(map[string]*computepb.InstanceTemplate),
		migs:      make(map[string]*mig),
		igs:       make(map[string]*unmanagedGroup),
		checks:    make(map[string]*computepb.HealthCheck),
		backends:  make(map[string]*computepb.BackendService),
		rules:     make(map[string]*computepb.ForwardingRule),
	}
	s.routes()
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the endpoint to give the clients (option.WithEndpoint).
func (s *Server) URL() string { return s.srv.URL }

// Options returns the options in effect (defaults applied).
func (s *Server) Options() Options { return s.opts }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// StockOut makes launches of machineType in zone fail with ZONE_RESOURCE_POOL_EXHAUSTED
// until Restock.
func (s *Server) StockOut(zone, machineType string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stockouts[zone+"/"+machineType] = true
}

// Restock undoes StockOut.
func (s *Server) Restock(zone, machineType string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.stockouts, zone+"/"+machineType)
}

// Fail injects f.
func (s *Server) Fail(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Times == 0 {
		f.Times = 1
	}
	s.faults = append(s.faults, &f)
}

// Calls counts the calls so far whose method is method ("" for any) and whose path
// contains path.
func (s *Server) Calls(method, path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		m, p, _ := strings.Cut(c, " ")
		if (method == "" || m == method) && strings.Contains(p, path) {
			n++
		}
	}
	return n
}

// Instance returns a copy of the instance as GCE stores it, for assertions.
func (s *Server) Instance(zone, name string) (*computepb.Instance, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	in, ok := s.instances[zone+"/"+name]
	if !ok {
		return nil, false
	}
	return proto.Clone(in.res).(*computepb.Instance), true
}

// Instances returns copies of every instance, sorted by zone and name, for assertions on
// instances whose names the test does not know (a group's members).
func (s *Server) Instances() []*computepb.Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	keys := make([]string, 0, len(s.instances))
	for k := range s.instances {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]*computepb.Instance, 0, len(keys))
	for _, k := range keys {
		out = append(out, proto.Clone(s.instances[k].res).(*computepb.Instance))
	}
	return out
}

// apiError is an error answered in Google's JSON error format.
type apiError struct {
	code   int
	reason string
	msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.code, e.reason, e.msg) }

func notFound(path string) *apiError {
	return &apiError{http.StatusNotFound, "notFound", fmt.Sprintf("The resource '%s' was not found", path)}
}

func alreadyExists(path string) *apiError {
	return &apiError{http.StatusConflict, "alreadyExists", fmt.Sprintf("The resource '%s' already exists", path)}
}

func invalid(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "invalid", fmt.Sprintf(format, args...)}
}

func inUse(path, by string) *apiError {
	return &apiError{http.StatusBadRequest, "resourceInUseByAnotherResource", fmt.Sprintf("The resource '%s' is already being used by '%s'", path, by)}
}

// handler answers one route: a resource, a list, or an operation.
type handler func(r *http.Request) (proto.Message, error)

// handle registers pattern (after "/compute/v1/projects/{project}/") with a project check.
func (s *Server) handle(pattern string, h handler) {
	method, path, _ := strings.Cut(pattern, " ")
	s.mux.HandleFunc(method+" /compute/v1/projects/{project}/"+path, func(w http.ResponseWriter, r *http.Request) {
		if p := r.PathValue("project"); p != s.opts.Project {
			writeError(w, notFound("projects/"+p))
			return
		}
		msg, err := h(r)
		if err != nil {
			writeError(w, err)
			return
		}
		if op, ok := msg.(*computepb.Operation); ok && r.Method != http.MethodGet {
			if rid := r.URL.Query().Get("requestId"); rid != "" {
				s.byRequest[rid] = op
			}
			msg = pending(op)
		}
		write(w, msg)
	})
}

// serve counts the call, applies faults and deduplicates request IDs, then routes.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, r.Method+" "+r.URL.Path)
	s.advance(time.Now())
	mutation := r.Method != http.MethodGet && !strings.HasSuffix(r.URL.Path, "/listManagedInstances") &&
		!strings.HasSuffix(r.URL.Path, "/listInstances") && !strings.HasSuffix(r.URL.Path, "/getHealth")
	if rid := r.URL.Query().Get("requestId"); mutation && rid != "" {
		if op, ok := s.byRequest[rid]; ok {
			write(w, op)
			return
		}
	}
	for _, f := range s.faults {
		if f.Times <= 0 || (f.Method != "" && f.Method != r.Method) || !strings.Contains(r.URL.Path, f.Path) {
			continue
		}
		f.Times--
		msg := f.Message
		if msg == "" {
			msg = "injected fault " + f.Reason
		}
		if f.AfterAction {
			s.mux.ServeHTTP(httptest.NewRecorder(), r)
		}
		if !f.InOperation || !mutation || f.AfterAction {
			writeError(w, &apiError{f.Code, f.Reason, msg})
			return
		}
		e := &computepb.Errors{Code: ptr(f.Reason), Message: ptr(msg)}
		if f.QuotaMetric != "" {
			e.ErrorDetails = []*computepb.ErrorDetails{{QuotaInfo: &computepb.QuotaExceededInfo{
				MetricName: ptr(f.QuotaMetric), LimitName: ptr(f.QuotaMetric + "-per-project-region"),
				Dimensions: map[string]string{"region": s.opts.Region}, Limit: ptr(0.0),
			}}}
		}
		op := s.failedOp(scopeOf(r.URL.Path), r.URL.Path, f.Code, e)
		if rid := r.URL.Query().Get("requestId"); rid != "" {
			s.byRequest[rid] = op
		}
		write(w, pending(op))
		return
	}
	s.mux.ServeHTTP(w, r)
}

var scopeRE = regexp.MustCompile(`/(zones|regions)/([^/]+)/`)

// scopeOf is the operation scope of a resource path: "zones/z", "regions/r" or "global".
func scopeOf(path string) string {
	if m := scopeRE.FindStringSubmatch(path); m != nil {
		return m[1] + "/" + m[2]
	}
	return "global"
}

// operation records a successful operation on target in scope and returns it DONE.
func (s *Server) operation(scope, target, kind string) *computepb.Operation {
	return s.newOp(scope, target, kind, 0, nil)
}

// failedOp records an operation that ended in e, with HTTP status code.
func (s *Server) failedOp(scope, target string, code int, e *computepb.Errors) *computepb.Operation {
	return s.newOp(scope, target, "", code, e)
}

func (s *Server) newOp(scope, target, kind string, code int, e *computepb.Errors) *computepb.Operation {
	s.ids++
	now := time.Now().Format(time.RFC3339Nano)
	name := fmt.Sprintf("operation-%d-%s", time.Now().UnixNano(), randHex(4))
	op := &computepb.Operation{
		Kind:          ptr("compute#operation"),
		Id:            ptr(s.ids),
		Name:          ptr(name),
		OperationType: ptr(kind),
		TargetLink:    ptr(target),
		Status:        computepb.Operation_DONE.Enum(),
		Progress:      ptr(int32(100)),
		InsertTime:    ptr(now),
		StartTime:     ptr(now),
		EndTime:       ptr(now),
		SelfLink:      ptr(s.link(scope + "/operations/" + name)),
	}
	switch {
	case strings.HasPrefix(scope, "zones/"):
		op.Zone = ptr(s.link(scope))
	case strings.HasPrefix(scope, "regions/"):
		op.Region = ptr(s.link(scope))
	}
	if e != nil {
		op.Error = &computepb.Error{Errors: []*computepb.Errors{e}}
		op.HttpErrorStatusCode = ptr(int32(code))
		op.HttpErrorMessage = ptr(strings.ToUpper(http.StatusText(code)))
	}
	s.ops[scope+"/"+name] = op
	return op
}

// pending is op as the mutating call answers it: still RUNNING, without the outcome.
func pending(op *computepb.Operation) *computepb.Operation {
	p := proto.Clone(op).(*computepb.Operation)
	p.Status = computepb.Operation_RUNNING.Enum()
	p.Progress = ptr(int32(0))
	p.EndTime, p.Error, p.HttpErrorStatusCode, p.HttpErrorMessage = nil, nil, nil, nil
	return p
}

func (s *Server) getOperation(scope string) handler {
	return func(r *http.Request) (proto.Message, error) {
		sc := scope
		if sc != "global" {
			sc += "/" + r.PathValue("scope")
		}
		op, ok := s.ops[sc+"/"+r.PathValue("op")]
		if !ok {
			return nil, notFound(s.path(sc + "/operations/" + r.PathValue("op")))
		}
		return op, nil
	}
}

// path is a resource's partial URL; link its selfLink.
func (s *Server) path(rel string) string { return "projects/" + s.opts.Project + "/" + rel }
func (s *Server) link(rel string) string { return apiBase + s.path(rel) }

// decode reads a JSON request body into m.
func decode(r *http.Request, m proto.Message) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return invalid("reading the request body: %v", err)
	}
	if len(b) == 0 {
		return nil
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, m); err != nil {
		return invalid("Invalid JSON payload received. %v", err)
	}
	return nil
}

func write(w http.ResponseWriter, m proto.Message) {
	b, err := protojson.Marshal(m)
	if err != nil {
		writeError(w, &apiError{http.StatusInternalServerError, "backendError", err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, err error) {
	e, ok := err.(*apiError)
	if !ok {
		e = &apiError{http.StatusInternalServerError, "backendError", err.Error()}
	}
	body := map[string]any{"error": map[string]any{
		"code":    e.code,
		"message": e.msg,
		"errors":  []map[string]string{{"message": e.msg, "domain": "global", "reason": e.reason}},
	}}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(e.code)
	_ = json.NewEncoder(w).Encode(body)
}

// lastSegment returns what follows the last "/" of a reference.
func lastSegment(u string) string { return u[strings.LastIndexByte(u, '/')+1:] }

// zoneOf returns the zone of a zonal reference, "" when there is none.
func zoneOf(u string) string {
	_, rest, ok := strings.Cut(u, "zones/")
	if !ok {
		return ""
	}
	z, _, _ := strings.Cut(rest, "/")
	return z
}

var (
	nameRE       = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
	labelKeyRE   = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	labelValueRE = regexp.MustCompile(`^[a-z0-9_-]{0,63}$`)
)

func checkName(name string) error {
	if !nameRE.MatchString(name) {
		return invalid("Invalid value for field 'resource.name': '%s'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'", name)
	}
	return nil
}

func checkLabels(labels map[string]string) error {
	if len(labels) > 64 {
		return invalid("Invalid value for field 'resource.labels': too many labels (%d, at most 64)", len(labels))
	}
	for k, v := range labels {
		if !labelKeyRE.MatchString(k) || !labelValueRE.MatchString(v) {
			return invalid("Invalid value for field 'resource.labels': '%s: %s'. Label keys and values must match GCE's label rules", k, v)
		}
	}
	return nil
}

func (s *Server) knownZone(zone string) bool {
	for _, z := range s.opts.Zones {
		if z == zone {
			return true
		}
	}
	return false
}

func (s *Server) checkZone(zone string) error {
	if !s.knownZone(zone) {
		return invalid("Invalid value for field 'zone': '%s'. Unknown zone.", zone)
	}
	return nil
}

func (s *Server) checkRegion(r *http.Request) error {
	if reg := r.PathValue("region"); reg != s.opts.Region {
		return invalid("Invalid value for field 'region': '%s'. Unknown region.", reg)
	}
	return nil
}

func (s *Server) nextID() uint64 {
	s.ids++
	return 1_000_000_000_000 + s.ids*7919
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func ptr[T any](v T) *T { return &v }

func nowStamp() string { return time.Now().Format(time.RFC3339Nano) }
