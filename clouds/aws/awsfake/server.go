// Package awsfake is a stateful loopback server speaking the AWS query protocols of EC2
// (ec2query), Auto Scaling and Elastic Load Balancing v2 (awsQuery): form-encoded
// Action=…&Version=… requests signed with SigV4 (the signature is checked), XML replies in
// each service's namespace, and errors in each service's XML error format with the HTTP
// status AWS uses. It exists so that clouds/aws runs, through the real aws-sdk-go-v2 clients,
// against something that keeps state like the real services: instances go pending → running
// and shutting-down → terminated after short delays, Auto Scaling groups launch and terminate
// members to match their desired capacity (routing around stocked-out zones), targets get
// health, volumes attach and detach. Faults (stockouts, throttling, any error code for the
// next N calls of an action, eventual consistency lag) are injected by tests.
//
// Only the actions and parameters clouds/aws uses are implemented; any other action is
// answered InvalidAction.
package awsfake

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The credentials the server accepts unless Options.Credentials says otherwise.
const (
	AccessKeyID     = "AKIAFAKEFAKEFAKEFAKE"
	SecretAccessKey = "fake/secret/access/key"
)

// API versions, which tell the services apart on the one endpoint.
const (
	versionEC2         = "2016-11-15"
	versionAutoScaling = "2011-01-01"
	versionELBv2       = "2015-12-01"

	nsEC2         = "http://ec2.amazonaws.com/doc/2016-11-15/"
	nsAutoScaling = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
	nsELBv2       = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"
)

// Options configure a Server. Zero values take the defaults noted.
type Options struct {
	Region string   // "us-east-1"
	Zones  []string // Region+"a", Region+"b", Region+"c"
	// Credentials maps access key IDs to secret keys the server accepts
	// ({AccessKeyID: SecretAccessKey} when nil).
	Credentials map[string]string
	// Offerings maps instance types to the zones offering them; nil offers DefaultOfferings.
	Offerings map[string][]string
	// SpotPrices maps "type/zone" to the spot price in USD per hour; a type and zone
	// without an entry has no spot offering. Nil uses DefaultSpotPrices.
	SpotPrices map[string]float64

	Boot     time.Duration // pending → running (20ms)
	Shutdown time.Duration // shutting-down → terminated, detaching → detached (20ms)
	Linger   time.Duration // how long terminated instances stay listed (1m)
	Settle   time.Duration // volume creating → available, attaching → attached, LB provisioning → active (10ms)
	Health   time.Duration // target initial → healthy or unhealthy (20ms)
	Drain    time.Duration // target draining → gone (20ms)
}

// DefaultOfferings is the offering table of a Server without Options.Offerings: a few CPU
// and GPU types in every zone, except p5.48xlarge, offered in the first two zones only.
func DefaultOfferings(zones []string) map[string][]string {
	all := []string{"m7i.large", "m7i.xlarge", "c7i.large", "c7i.xlarge", "g5.xlarge", "g5.12xlarge", "g6.xlarge", "p4d.24xlarge"}
	m := make(map[string][]string)
	for _, t := range all {
		m[t] = slices.Clone(zones)
	}
	m["p5.48xlarge"] = slices.Clone(zones[:min(2, len(zones))])
	return m
}

// DefaultSpotPrices is the spot price table of a Server without Options.SpotPrices: every
// offering of DefaultOfferings at a fixed price, except p5.48xlarge, spot only in the second
// zone.
func DefaultSpotPrices(zones []string) map[string]float64 {
	m := make(map[string]float64)
	for t, zs := range DefaultOfferings(zones) {
		for _, z := range zs {
			if t != "p5.48xlarge" {
				m[t+"/"+z] = 0.05
			}
		}
	}
	if len(zones) > 1 {
		m["p5.48xlarge/"+zones[1]] = 21.5
	}
	return m
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	// URL is the endpoint for every service (aws.Config.BaseEndpoint).
	URL string

	opts Options
	srv  *httptest.Server

	mu        sync.Mutex
	instances map[string]*instance
	volumes   map[string]*volume
	templates map[string]*launchTemplate // by name
	groups    map[string]*group          // by name
	lbs       map[string]*loadBalancer   // by ARN
	tgs       map[string]*targetGroup    // by ARN
	listeners map[string]*listener       // by ARN
	tokens    map[string]string          // client token → instance or volume ID
	userData  map[string]string          // instance ID → decoded user data
	stockouts map[[2]string]bool         // {zone, instance type}
	faults    []*fault
	lag       int
	hidden    map[string]int // ID → requests naming it still to answer "not found"
	calls     map[string]int // action → requests received
}

type fault struct {
	action, code string
	n            int
}

// New starts a Server on loopback. Close it when done.
func New(opts Options) *Server {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if len(opts.Zones) == 0 {
		opts.Zones = []string{opts.Region + "a", opts.Region + "b", opts.Region + "c"}
	}
	if opts.Credentials == nil {
		opts.Credentials = map[string]string{AccessKeyID: SecretAccessKey}
	}
	if opts.Offerings == nil {
		opts.Offerings = DefaultOfferings(opts.Zones)
	}
	if opts.SpotPrices == nil {
		opts.SpotPrices = DefaultSpotPrices(opts.Zones)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&opts.Boot, 20*time.Millisecond)
	def(&opts.Shutdown, 20*time.Millisecond)
	def(&opts.Linger, time.Minute)
	def(&opts.Settle, 10*time.Millisecond)
	def(&opts.Health, 20*time.Millisecond)
	def(&opts.Drain, 20*time.Millisecond)
	s := &Server{
		opts:      opts,
		instances: make(map[string]*instance),
		volumes:   make(map[string]*volume),
		templates: make(map[string]*launchTemplate),
		groups:    make(map[string]*group),
		lbs:       make(map[string]*loadBalancer),
		tgs:       make(map[string]*targetGroup),
		listeners: make(map[string]*listener),
		tokens:    make(map[string]string),
		userData:  make(map[string]string),
		stockouts: make(map[[2]string]bool),
		hidden:    make(map[string]int),
		calls:     make(map[string]int),
	}
	s.srv = httptest.NewServer(s)
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// Region is the server's region.
func (s *Server) Region() string { return s.opts.Region }

// Zones are the server's availability zones.
func (s *Server) Zones() []string { return slices.Clone(s.opts.Zones) }

// VPC is the ID of the one VPC.
func (s *Server) VPC() string { return "vpc-0fake" }

// SecurityGroup is the ID of the one security group.
func (s *Server) SecurityGroup() string { return "sg-0fake" }

// Subnets maps each zone to its one subnet.
func (s *Server) Subnets() map[string]string {
	m := make(map[string]string, len(s.opts.Zones))
	for _, z := range s.opts.Zones {
		m[z] = subnetOf(z)
	}
	return m
}

func subnetOf(zone string) string { return "subnet-" + zone }

func (s *Server) zoneOfSubnet(subnet string) (string, bool) {
	for _, z := range s.opts.Zones {
		if subnetOf(z) == subnet {
			return z, true
		}
	}
	return "", false
}

// StockOut makes launches of instanceType in zone fail with InsufficientInstanceCapacity
// (RunInstances) or skip the zone (Auto Scaling) until undo is called.
func (s *Server) StockOut(zone, instanceType string) (undo func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stockouts[[2]string{zone, instanceType}] = true
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.stockouts, [2]string{zone, instanceType})
	}
}

// FailNext answers the next n requests of action (any action when "") with the AWS error
// code, in the HTTP status AWS uses for it (503 for RequestLimitExceeded, 500 for
// InsufficientInstanceCapacity, 400 for Throttling and most others). Faults queue in order.
func (s *Server) FailNext(action, code string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{action: action, code: code, n: n})
}

// Lag makes every instance, volume and launch template created from now on invisible to
// the first n requests that name it (they answer the service's not-found error), as
// eventually consistent AWS APIs do just after a create. Lag(0) turns it off.
func (s *Server) Lag(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lag = n
}

// Calls reports how many requests of action the server has received, faults included.
func (s *Server) Calls(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[action]
}

// UserData returns an instance's user data as launched, base64-decoded.
func (s *Server) UserData(instanceID string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.userData[instanceID]
	return u, ok
}

// newHidden registers a new ID under the current lag.
func (s *Server) newHidden(id string) {
	if s.lag > 0 {
		s.hidden[id] = s.lag
	}
}

// isHidden reports whether a request naming id must not see it yet, and counts the request.
func (s *Server) isHidden(id string) bool {
	n, ok := s.hidden[id]
	if !ok {
		return false
	}
	if n <= 1 {
		delete(s.hidden, id)
	} else {
		s.hidden[id] = n - 1
	}
	return true
}

// ServeHTTP answers one query-protocol request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	form, err := url.ParseQuery(string(body))
	if r.Method != http.MethodPost || err != nil {
		writeError(w, versionEC2, &apiError{status: 400, code: "MalformedQueryString", msg: "expected a form-encoded POST"})
		return
	}
	p := params(form)
	action, version := p.get("Action"), p.get("Version")
	var service string
	switch version {
	case versionEC2:
		service = "ec2"
	case versionAutoScaling:
		service = "autoscaling"
	case versionELBv2:
		service = "elasticloadbalancing"
	default:
		writeError(w, versionEC2, &apiError{status: 400, code: "InvalidAction", msg: fmt.Sprintf("unknown API version %q", version)})
		return
	}
	if aerr := s.verify(r, body, service, version); aerr != nil {
		writeError(w, version, aerr)
		return
	}

	s.mu.Lock()
	s.calls[action]++
	s.tick(time.Now())
	var reply []node
	aerr := s.takeFault(action)
	if aerr == nil {
		reply, aerr = s.dispatch(version, action, p)
	}
	s.mu.Unlock()
	if aerr != nil {
		writeError(w, version, aerr)
		return
	}
	writeReply(w, version, action, reply)
}

func (s *Server) takeFault(action string) *apiError {
	for i, f := range s.faults {
		if f.action != "" && f.action != action {
			continue
		}
		f.n--
		if f.n <= 0 {
			s.faults = slices.Delete(s.faults, i, i+1)
		}
		return &apiError{status: statusOf(f.code), code: f.code, msg: "injected fault " + f.code}
	}
	return nil
}

func (s *Server) dispatch(version, action string, p params) ([]node, *apiError) {
	var h func(params) ([]node, *apiError)
	switch version {
	case versionEC2:
		h = s.ec2Actions()[action]
	case versionAutoScaling:
		h = s.autoScalingActions()[action]
	case versionELBv2:
		h = s.elbActions()[action]
	}
	if h == nil {
		return nil, &apiError{status: 400, code: "InvalidAction", msg: fmt.Sprintf("The action %s is not valid for this web service.", action)}
	}
	return h(p)
}

// tick advances every object's state to now: instance, volume and target transitions, then
// group reconciliation.
func (s *Server) tick(now time.Time) {
	s.tickInstances(now)
	s.tickVolumes(now)
	s.tickGroups(now)
	s.tickTargets(now)
}

// apiError is an AWS error reply.
type apiError struct {
	status    int
	code, msg string
}

func errorf(code, format string, args ...any) *apiError {
	return &apiError{status: statusOf(code), code: code, msg: fmt.Sprintf(format, args...)}
}

// statusOf is the HTTP status AWS answers an error code with.
func statusOf(code string) int {
	switch code {
	case "RequestLimitExceeded", "Unavailable", "ServiceUnavailable":
		return 503
	case "InternalError", "InternalFailure", "InsufficientInstanceCapacity", "InsufficientCapacity",
		"InsufficientHostCapacity", "InsufficientReservedInstanceCapacity", "InsufficientAddressCapacity",
		"InsufficientVolumeCapacity":
		return 500
	case "AuthFailure", "UnauthorizedOperation":
		return 401
	case "InvalidClientTokenId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken":
		return 403
	}
	return 400
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func newID(prefix string) string {
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)[:17]
}

func writeError(w http.ResponseWriter, version string, e *apiError) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.status)
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	if version == versionEC2 {
		writeNode(&b, el("Response",
			el("Errors", el("Error", leaf("Code", e.code), leaf("Message", e.msg))),
			leaf("RequestID", newRequestID())))
	} else {
		kind := "Sender"
		if e.status >= 500 {
			kind = "Receiver"
		}
		root := el("ErrorResponse",
			el("Error", leaf("Type", kind), leaf("Code", e.code), leaf("Message", e.msg)),
			leaf("RequestId", newRequestID()))
		root.attr = namespaceOf(version)
		writeNode(&b, root)
	}
	_, _ = io.WriteString(w, b.String())
}

func writeReply(w http.ResponseWriter, version, action string, reply []node) {
	var root node
	if version == versionEC2 {
		root = el(action+"Response", append([]node{leaf("requestId", newRequestID())}, reply...)...)
	} else {
		root = el(action+"Response", el(action+"Result", reply...),
			el("ResponseMetadata", leaf("RequestId", newRequestID())))
	}
	root.attr = namespaceOf(version)
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	writeNode(&b, root)
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	_, _ = io.WriteString(w, b.String())
}

func namespaceOf(version string) string {
	switch version {
	case versionAutoScaling:
		return nsAutoScaling
	case versionELBv2:
		return nsELBv2
	}
	return nsEC2
}

// params are a request's form values, with the query protocols' list conventions.
type params url.Values

func (p params) get(k string) string { return url.Values(p).Get(k) }

// list returns the values of prefix.1, prefix.2, … (ec2query "InstanceId", awsQuery
// "Names.member").
func (p params) list(prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := p[prefix+"."+strconv.Itoa(i)]
		if !ok {
			return out
		}
		out = append(out, v[0])
	}
}

// structs returns the sub-parameters of prefix.1.*, prefix.2.*, ….
func (p params) structs(prefix string) []params {
	var out []params
	for i := 1; ; i++ {
		sub := p.sub(prefix + "." + strconv.Itoa(i))
		if len(sub) == 0 {
			return out
		}
		out = append(out, sub)
	}
}

// sub returns the parameters under prefix.*, with the prefix stripped.
func (p params) sub(prefix string) params {
	out := params{}
	for k, v := range p {
		if rest, ok := strings.CutPrefix(k, prefix+"."); ok {
			out[rest] = v
		}
	}
	return out
}

func (p params) int(k string, def int) (int, *apiError) {
	v := p.get(k)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errorf("InvalidParameterValue", "Value (%s) for parameter %s is invalid.", v, k)
	}
	return n, nil
}

func (p params) bool(k string) bool { return p.get(k) == "true" }

// tagsOf reads Key/Value pairs from structs.
func tagsOf(items []params) map[string]string {
	m := make(map[string]string, len(items))
	for _, t := range items {
		m[t.get("Key")] = t.get("Value")
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
