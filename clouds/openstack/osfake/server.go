// Package osfake is a stateful loopback OpenStack for tests: one httptest server speaking
// Keystone v3 (password and application-credential tokens, a service catalog pointing back
// at itself), Nova v2.1, Cinder v3, Octavia v2, Heat v1, and the bits of Glance v2 and
// Neutron v2.0 a driver needs (image names, external networks, floating IPs), with the
// version documents gophercloud asks for on unversioned endpoints.
//
// State is kept as the real services keep it and moves on with time, as they do: a server
// is BUILD (task_state scheduling), then scheduled to a zone (or ERROR with Nova's "No
// valid host was found" fault when its zone and flavor are stocked out), then ACTIVE; a
// deleted server keeps its status with task_state deleting for a moment, then is gone.
// Volumes go creating → available, attaching → in-use, detaching → available, deleting →
// gone; load balancers and members PENDING_* → ACTIVE, and members' operating_status
// OFFLINE → ONLINE (or ERROR when no active server has the member's address). Heat stacks
// run their OS::Heat::AutoScalingGroup: members are created and removed to match
// desired_capacity, failed and unhealthy members go first on scale-in and are replaced on
// update, and the stack is CREATE/UPDATE_IN_PROGRESS until every member is ACTIVE.
//
// Time advances lazily: every request, and every accessor of this package, first moves all
// state to "now", so the fake runs no goroutines of its own. Errors use each service's own error bodies and status codes.
package osfake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"
)

// Credentials the fake's Keystone accepts (and the domain and project they scope to).
const (
	Username                    = "demo"
	Password                    = "s3cr3t-password"
	DomainName                  = "Default"
	ProjectName                 = "demo"
	ProjectID                   = "0c3d5e1f2a3b4c5d6e7f8091a2b3c4d5"
	ApplicationCredentialID     = "appcred-0001"
	ApplicationCredentialSecret = "s3cr3t-appcred"
	Region                      = "RegionOne"
	// ExternalNetworkName is the external network floating IPs come from.
	ExternalNetworkName = "public"
)

// Flavor is a Nova flavor the fake offers.
type Flavor struct {
	ID, Name   string
	VCPUs      int
	RAMMiB     int
	DiskGiB    int
	ExtraSpecs map[string]string
}

// Options configures a fake. Zero values take the defaults documented per field.
type Options struct {
	// Zones are the availability zones of Nova and Cinder (default az-1, az-2).
	Zones []string
	// Flavors offered (default DefaultFlavors()).
	Flavors []Flavor
	// Images are image names, active in Glance (default cirros, ubuntu-24.04).
	Images []string
	// VolumeTypes are Cinder's volume types (default __DEFAULT__, ssd).
	VolumeTypes []string
	// Delays of the state machines (defaults: 5ms scheduling, 15ms build, 10ms delete,
	// 5ms for volume and load balancer transitions, 15ms before a member's first health
	// check).
	SchedulingDelay, BuildDelay, DeleteDelay, VolumeDelay, LBDelay, HealthDelay time.Duration
	// Omit leaves services out of the catalog, by type ("load-balancer", "orchestration",
	// "image", "network", "block-storage").
	Omit []string
	// InstanceQuota caps the project's servers (0: unlimited): Nova answers 403 "Quota
	// exceeded for instances" beyond it.
	InstanceQuota int
	// GigabytesQuota caps the project's volume gigabytes (0: unlimited): Cinder answers
	// 413 VolumeSizeExceedsAvailableQuota beyond it.
	GigabytesQuota int
}

// DefaultFlavors are the flavors of a fake without Options.Flavors: two general purpose
// ones, GPU flavors with PCI passthrough aliases and a vGPU, and an arm64 one.
func DefaultFlavors() []Flavor {
	return []Flavor{
		{ID: "1", Name: "m1.small", VCPUs: 1, RAMMiB: 2048, DiskGiB: 20},
		{ID: "2", Name: "m1.large", VCPUs: 4, RAMMiB: 8192, DiskGiB: 80},
		{ID: "10", Name: "g1.a100x2", VCPUs: 24, RAMMiB: 196608, DiskGiB: 200, ExtraSpecs: map[string]string{"pci_passthrough:alias": "a100:2"}},
		{ID: "11", Name: "g1.h100x8", VCPUs: 96, RAMMiB: 1048576, DiskGiB: 400, ExtraSpecs: map[string]string{"pci_passthrough:alias": "nvidia-h100:8", "hw:numa_nodes": "2"}},
		{ID: "12", Name: "g1.l4-vgpu", VCPUs: 8, RAMMiB: 32768, DiskGiB: 80, ExtraSpecs: map[string]string{"resources:VGPU": "1", "trait:CUSTOM_NVIDIA_L4": "required"}},
		{ID: "20", Name: "a1.large", VCPUs: 4, RAMMiB: 8192, DiskGiB: 40, ExtraSpecs: map[string]string{"trait:HW_ARCH_AARCH64": "required"}},
	}
}

// Server is a running fake. Close it when done.
type Server struct {
	*httptest.Server
	opts Options

	mu       sync.Mutex
	tokens   map[string]bool
	servers  map[string]*server
	volumes  map[string]*volume
	images   map[string]string // ID → name
	lbs      map[string]*loadBalancer
	pools    map[string]*pool
	stacks   map[string]*stack // by ID
	fips     map[string]*floatingIP
	stockOut map[[2]string]int // zone, flavor ID → active stockouts
	faults   []*fault
	calls    map[string]int // "METHOD /service" → count
	nextIP   int
	nextVIP  int
	nextPick int

	networkID, subnetID, publicNetID string
}

// New starts a fake on a loopback port.
func New(opts Options) *Server {
	if len(opts.Zones) == 0 {
		opts.Zones = []string{"az-1", "az-2"}
	}
	if len(opts.Flavors) == 0 {
		opts.Flavors = DefaultFlavors()
	}
	if len(opts.Images) == 0 {
		opts.Images = []string{"cirros", "ubuntu-24.04"}
	}
	if len(opts.VolumeTypes) == 0 {
		opts.VolumeTypes = []string{"__DEFAULT__", "ssd"}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&opts.SchedulingDelay, 5*time.Millisecond)
	def(&opts.BuildDelay, 15*time.Millisecond)
	def(&opts.DeleteDelay, 10*time.Millisecond)
	def(&opts.VolumeDelay, 5*time.Millisecond)
	def(&opts.LBDelay, 5*time.Millisecond)
	def(&opts.HealthDelay, 15*time.Millisecond)
	s := &Server{
		opts:        opts,
		tokens:      map[string]bool{},
		servers:     map[string]*server{},
		volumes:     map[string]*volume{},
		images:      map[string]string{},
		lbs:         map[string]*loadBalancer{},
		pools:       map[string]*pool{},
		stacks:      map[string]*stack{},
		fips:        map[string]*floatingIP{},
		stockOut:    map[[2]string]int{},
		calls:       map[string]int{},
		networkID:   newID(),
		subnetID:    newID(),
		publicNetID: newID(),
	}
	for _, name := range opts.Images {
		s.images[newID()] = name
	}
	mux := http.NewServeMux()
	s.routeKeystone(mux)
	s.routeNova(mux)
	s.routeCinder(mux)
	s.routeOctavia(mux)
	s.routeHeat(mux)
	s.routeGlanceNeutron(mux)
	s.Server = httptest.NewServer(s.middleware(mux))
	return s
}

// AuthURL is the Keystone v3 endpoint to authenticate against.
func (s *Server) AuthURL() string { return s.URL + "/identity/v3" }

// Zones returns the availability zones.
func (s *Server) Zones() []string { return slices.Clone(s.opts.Zones) }

// NetworkID is the tenant network servers get their fixed addresses on.
func (s *Server) NetworkID() string { return s.networkID }

// SubnetID is the subnet of NetworkID, for load balancer VIPs and members.
func (s *Server) SubnetID() string { return s.subnetID }

// ImageID returns the ID of the image with that name.
func (s *Server) ImageID(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, n := range s.images {
		if n == name {
			return id
		}
	}
	return ""
}

// StockOut makes Nova's scheduler find no valid host for flavor (a name or ID) in zone
// until the returned func is called: servers asking for that zone go to ERROR, and servers
// without a zone are placed elsewhere.
func (s *Server) StockOut(zone, flavor string) (restore func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := flavor
	if f := s.flavor(flavor); f != nil {
		id = f.ID
	}
	key := [2]string{zone, id}
	s.stockOut[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.stockOut[key]--
		})
	}
}

// Fault is an error the fake answers instead of serving a request.
type Fault struct {
	Method     string // "" for any
	PathSuffix string // matched against the request path's end ("" for any service path)
	Status     int
	Body       string // JSON; "" for the status text
	Header     http.Header
	Times      int // how many requests it answers; 0 for one
}

type fault struct {
	Fault
	left int
}

// Inject makes the next matching requests fail (Keystone's token and version requests
// excepted) until f.Times requests have been answered or remove is called.
func (s *Server) Inject(f Fault) (remove func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ft := &fault{Fault: f, left: max(f.Times, 1)}
	s.faults = append(s.faults, ft)
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		ft.left = 0
	}
}

// Throttle answers the next n service requests with 429 Too Many Requests and a
// Retry-After of 0 seconds, as a rate-limiting proxy in front of the services does.
func (s *Server) Throttle(n int) {
	s.Inject(Fault{Status: http.StatusTooManyRequests, Times: n,
		Header: http.Header{"Retry-After": {"0"}},
		Body:   `{"overLimit": {"code": 429, "message": "Rate limit exceeded", "retryAfter": "0"}}`})
}

// RevokeTokens invalidates every token issued so far, as a token expiry does.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// Calls returns how many requests the fake served for method and a path suffix (both
// matched like Fault's), faults included.
func (s *Server) Calls(method, pathSuffix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, c := range s.calls {
		m, p, _ := strings.Cut(k, " ")
		if (method == "" || m == method) && strings.HasSuffix(p, pathSuffix) {
			n += c
		}
	}
	return n
}

// middleware counts calls, checks tokens, answers injected faults and advances state.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.calls[r.Method+" "+r.URL.Path]++
		public := strings.HasPrefix(r.URL.Path, "/identity") || isVersionPath(r.URL.Path)
		if !public && !s.tokens[r.Header.Get("X-Auth-Token")] {
			s.mu.Unlock()
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]any{
				"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}})
			return
		}
		if !public {
			for _, f := range s.faults {
				if f.left > 0 && (f.Method == "" || f.Method == r.Method) && strings.HasSuffix(r.URL.Path, f.PathSuffix) {
					f.left--
					s.mu.Unlock()
					for k, v := range f.Header {
						w.Header()[k] = v
					}
					body := f.Body
					if body == "" {
						body = fmt.Sprintf(`{"message": %q}`, http.StatusText(f.Status))
					}
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(f.Status)
					_, _ = w.Write([]byte(body))
					return
				}
			}
		}
		s.advance(time.Now())
		s.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// isVersionPath reports whether p is an unversioned endpoint's root (a version document).
func isVersionPath(p string) bool {
	switch strings.TrimSuffix(p, "/") {
	case "/compute", "/compute/v2.1", "/volume", "/load-balancer", "/heat-api", "/image", "/network":
		return true
	}
	return false
}

// advance moves every state machine to now. The caller holds s.mu.
func (s *Server) advance(now time.Time) {
	s.advanceServers(now)
	s.advanceVolumes(now)
	s.advanceOctavia(now)
	s.advanceStacks(now)
}

// routeKeystone serves tokens, the identity version documents and the service versions.
func (s *Server) routeKeystone(mux *http.ServeMux) {
	mux.HandleFunc("GET /identity/{$}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMultipleChoices, map[string]any{"versions": map[string]any{"values": []any{map[string]any{
			"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
			"links": []any{map[string]any{"rel": "self", "href": s.URL + "/identity/v3/"}}}}}})
	})
	mux.HandleFunc("GET /identity", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/identity/", http.StatusMovedPermanently)
	})
	mux.HandleFunc("POST /identity/v3/auth/tokens", s.createToken)
	versions := map[string]any{
		"/compute/": []any{
			map[string]any{"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": ""},
			map[string]any{"id": "v2.1", "status": "CURRENT", "version": "2.96", "min_version": "2.1"}},
		"/volume/":        []any{map[string]any{"id": "v3.0", "status": "CURRENT", "version": "3.70", "min_version": "3.0"}},
		"/load-balancer/": []any{map[string]any{"id": "v2.0", "status": "SUPPORTED"}, map[string]any{"id": "v2.27", "status": "CURRENT"}},
		"/heat-api/":      []any{map[string]any{"id": "v1.0", "status": "CURRENT"}},
		"/image/":         []any{map[string]any{"id": "v2.16", "status": "CURRENT"}},
		"/network/":       []any{map[string]any{"id": "v2.0", "status": "CURRENT"}},
	}
	for p, v := range versions {
		mux.HandleFunc("GET "+p+"{$}", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, map[string]any{"versions": v})
		})
	}
	mux.HandleFunc("GET /compute/v2.1/{$}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"version": map[string]any{
			"id": "v2.1", "status": "CURRENT", "version": "2.96", "min_version": "2.1"}})
	})
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Auth struct {
			Identity struct {
				Methods  []string `json:"methods"`
				Password struct {
					User struct {
						Name     string `json:"name"`
						Password string `json:"password"`
					} `json:"user"`
				} `json:"password"`
				AppCred struct {
					ID     string `json:"id"`
					Secret string `json:"secret"`
				} `json:"application_credential"`
			} `json:"identity"`
		} `json:"auth"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"code": 400, "title": "Bad Request", "message": err.Error()}})
		return
	}
	id := req.Auth.Identity
	ok := (slices.Contains(id.Methods, "password") && id.Password.User.Name == Username && id.Password.User.Password == Password) ||
		(slices.Contains(id.Methods, "application_credential") && id.AppCred.ID == ApplicationCredentialID && id.AppCred.Secret == ApplicationCredentialSecret)
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]any{
			"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}})
		return
	}
	token := hex.EncodeToString(randBytes(16))
	s.mu.Lock()
	s.tokens[token] = true
	s.mu.Unlock()
	endpoint := func(url string) []any {
		return []any{map[string]any{"id": newID(), "interface": "public", "region": Region, "region_id": Region, "url": url}}
	}
	catalog := []any{
		map[string]any{"type": "identity", "name": "keystone", "id": newID(), "endpoints": endpoint(s.URL + "/identity")},
		map[string]any{"type": "compute", "name": "nova", "id": newID(), "endpoints": endpoint(s.URL + "/compute/v2.1")},
		map[string]any{"type": "block-storage", "name": "cinderv3", "id": newID(), "endpoints": endpoint(s.URL + "/volume/v3/" + ProjectID)},
		map[string]any{"type": "load-balancer", "name": "octavia", "id": newID(), "endpoints": endpoint(s.URL + "/load-balancer")},
		map[string]any{"type": "orchestration", "name": "heat", "id": newID(), "endpoints": endpoint(s.URL + "/heat-api/v1/" + ProjectID)},
		map[string]any{"type": "image", "name": "glance", "id": newID(), "endpoints": endpoint(s.URL + "/image")},
		map[string]any{"type": "network", "name": "neutron", "id": newID(), "endpoints": endpoint(s.URL + "/network")},
	}
	catalog = slices.DeleteFunc(catalog, func(e any) bool {
		return slices.Contains(s.opts.Omit, e.(map[string]any)["type"].(string))
	})
	domain := map[string]any{"id": "default", "name": DomainName}
	now := time.Now().UTC()
	w.Header().Set("X-Subject-Token", token)
	writeJSON(w, http.StatusCreated, map[string]any{"token": map[string]any{
		"methods":    id.Methods,
		"issued_at":  now.Format("2006-01-02T15:04:05.000000Z"),
		"expires_at": now.Add(time.Hour).Format("2006-01-02T15:04:05.000000Z"),
		"user":       map[string]any{"id": "u-" + Username, "name": Username, "domain": domain},
		"project":    map[string]any{"id": ProjectID, "name": ProjectName, "domain": domain},
		"roles":      []any{map[string]any{"id": "r-member", "name": "member"}},
		"catalog":    catalog,
	}})
}

// writeJSON writes v as a JSON response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

// novaFault writes a Nova or Cinder error: {"<name>": {"code", "message"}}.
func novaFault(w http.ResponseWriter, status int, format string, args ...any) {
	name := map[int]string{400: "badRequest", 403: "forbidden", 404: "itemNotFound", 409: "conflictingRequest", 413: "overLimit"}[status]
	if name == "" {
		name = "computeFault"
	}
	writeJSON(w, status, map[string]any{name: map[string]any{"code": status, "message": fmt.Sprintf(format, args...)}})
}

func decode(r *http.Request, v any) error {
	return json.NewDecoder(r.Body).Decode(v)
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// newID returns a random UUID (version 4).
func newID() string {
	b := randBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// shortID is Heat's short resource-name suffix.
func shortID() string { return hex.EncodeToString(randBytes(6)) }

// Time formats of the services.
const (
	isoZ      = "2006-01-02T15:04:05Z"
	isoMicro  = "2006-01-02T15:04:05.000000"
	isoNoZone = "2006-01-02T15:04:05"
)
