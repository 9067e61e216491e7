// Package azurefake is a stateful Azure Resource Manager for tests of clouds/azure. It wires
// the SDK's own fake servers (armcompute/v8/fake and armnetwork/v9/fake, through
// fake.NewServerFactoryTransport) to in-memory state that behaves like the service: VMs with
// provisioning and power states, scale sets that create and delete their VM instances as
// their capacity changes, network interfaces, public IPs, Standard load balancers with
// backend pools and a per-rule health API, managed disks with their attachments, and
// resource SKUs with zone restrictions. The real SDK clients drive it: requests are
// serialized to JSON, routed by the SDK's fake transports and answered with ARM's status
// codes and error codes (through azfake.ErrorResponder), long-running operations through
// azfake.PollerResponder.
//
// Time: things that take time in Azure (a VM provisioning, a deletion, a load balancer's
// first probes) take Options.Latency here, evaluated lazily on each request.
//
// Long-running operations the driver waits for (creates and updates of VMs, NICs, public
// IPs, load balancers, disks; the load balancer health API) answer InProgress once, then
// their result. Those it does not wait for (scale set operations, VM deletion) answer
// with their result at once: the SDK's fake transports remember an unfinished operation per
// resource path, and a second request to that path would otherwise be answered from it.
//
// Concurrency control as ARM does it: If-None-Match: * on VM and scale set creates (412 when
// the name exists), If-Match on VM updates and NIC PUTs (412 when the ETag changed or the
// NIC is gone). Not modeled: PUT updates of existing VMs, scale sets and disks (answered
// 409; VMs and scale sets are updated by PATCH), OS disk resources, scale set NICs, operations cancelled midway (the SDK's
// fake transports keep an unfinished operation's state per resource path).
//
// Faults: StockOut makes a zone out of capacity for a size (ZonalAllocationFailed at the
// end of the VM's creation, as Azure reports it; scale sets place members elsewhere);
// RestrictSKU makes ResourceSKUs report a size unavailable in a zone (and creates there fail
// with SkuNotAvailable); FailNext answers the next n requests of one API with an HTTP error
// of the given status and ARM error body (429 for throttling is retried by azcore).
package azurefake

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	computefake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8/fake"
	networkfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9/fake"
)

// Options configure a Server. Zero values take the defaults noted.
type Options struct {
	SubscriptionID string        // "00000000-0000-0000-0000-000000000000"
	ResourceGroup  string        // "algos-test"; other resource groups do not exist
	Location       string        // "eastus"
	Zones          []string      // "1", "2", "3"
	Latency        time.Duration // 10ms
}

// Server is the fake. It is safe for concurrent use; its Transport serves one request at a
// time.
type Server struct {
	opts    Options
	compute *computefake.ServerFactoryTransport
	network *networkfake.ServerFactoryTransport
	cred    *azfake.TokenCredential
	reqMu   sync.Mutex // one request at a time through the SDK's fake transports

	mu     sync.Mutex
	vms    map[string]*vmState
	nics   map[string]*nicState
	pips   map[string]*pipState
	lbs    map[string]*lbState
	disks  map[string]*diskState
	sets   map[string]*setState
	skus   []sku
	stock  map[string]int // zone|size (lower) → active StockOut calls
	faults []*fault
	calls  map[string]int
	custom map[string]string // VM or scale set name (lower) → decoded custom data
	ipSeq  int
}

type fault struct {
	api           string
	n             int
	status        int
	code, message string
}

// New returns a fake with no resources.
func New(opts Options) *Server {
	if opts.SubscriptionID == "" {
		opts.SubscriptionID = "00000000-0000-0000-0000-000000000000"
	}
	if opts.ResourceGroup == "" {
		opts.ResourceGroup = "algos-test"
	}
	if opts.Location == "" {
		opts.Location = "eastus"
	}
	if len(opts.Zones) == 0 {
		opts.Zones = []string{"1", "2", "3"}
	}
	if opts.Latency == 0 {
		opts.Latency = 10 * time.Millisecond
	}
	s := &Server{
		opts: opts, cred: &azfake.TokenCredential{},
		vms: map[string]*vmState{}, nics: map[string]*nicState{}, pips: map[string]*pipState{},
		lbs: map[string]*lbState{}, disks: map[string]*diskState{}, sets: map[string]*setState{},
		stock: map[string]int{}, calls: map[string]int{}, custom: map[string]string{},
	}
	s.skus = defaultSKUs(opts.Location, opts.Zones)
	var c computefake.ServerFactory
	s.computeVMs(&c.VirtualMachinesServer)
	s.computeSets(&c.VirtualMachineScaleSetsServer, &c.VirtualMachineScaleSetVMsServer)
	s.computeDisks(&c.DisksServer)
	s.computeSKUs(&c.ResourceSKUsServer)
	var n networkfake.ServerFactory
	s.networkNICs(&n.InterfacesServer)
	s.networkPIPs(&n.PublicIPAddressesServer)
	s.networkLBs(&n.LoadBalancersServer, &n.LoadBalancerLoadBalancingRulesServer)
	s.compute = computefake.NewServerFactoryTransport(&c)
	s.network = networkfake.NewServerFactoryTransport(&n)
	return s
}

// SubscriptionID, ResourceGroup, Location and Zones are the fake's.
func (s *Server) SubscriptionID() string { return s.opts.SubscriptionID }
func (s *Server) ResourceGroup() string  { return s.opts.ResourceGroup }
func (s *Server) Location() string       { return s.opts.Location }
func (s *Server) Zones() []string        { return append([]string(nil), s.opts.Zones...) }

// SubnetID is the resource ID of the fake's one subnet (10.0.0.0/16).
func (s *Server) SubnetID() string {
	return s.rgPrefix() + "/providers/Microsoft.Network/virtualNetworks/algos-vnet/subnets/default"
}

// Credential is an azfake.TokenCredential; SetError on it makes every request fail to
// authenticate.
func (s *Server) Credential() *azfake.TokenCredential { return s.cred }

// Transport serves ARM requests of the compute and network clients (policy.Transporter).
func (s *Server) Transport() policy.Transporter { return transport{s} }

// ClientOptions returns client options with Transport set; callers add Retry.
func (s *Server) ClientOptions() *arm.ClientOptions {
	return &arm.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: s.Transport()}}
}

type transport struct{ s *Server }

// Do routes a request to the compute or network fake by its resource provider, after
// counting it and answering it with an injected fault if one is due. A request whose
// context is done fails as an HTTP client's would, without reaching the service.
func (t transport) Do(req *http.Request) (*http.Response, error) {
	s := t.s
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	api, _ := req.Context().Value(runtime.CtxAPINameKey{}).(string)
	s.mu.Lock()
	s.calls[api]++
	var f *fault
	for i, x := range s.faults {
		if x.api == "" || x.api == api {
			f = x
			if x.n--; x.n == 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
			break
		}
	}
	s.mu.Unlock()
	if f != nil {
		return errorResponse(req, f.status, f.code, f.message), nil
	}
	if m := req.Header.Get("If-Match"); m != "" {
		req = req.WithContext(context.WithValue(req.Context(), ifMatchKey{}, m))
	}
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	if strings.Contains(strings.ToLower(req.URL.Path), "/providers/microsoft.network/") {
		return s.network.Do(req)
	}
	return s.compute.Do(req)
}

// errorResponse is an ARM error answer: status, x-ms-error-code, {"error":{code,message}}.
func errorResponse(req *http.Request, status int, code, message string) *http.Response {
	body, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": message}})
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("x-ms-error-code", code)
	return &http.Response{
		Status: fmt.Sprintf("%d %s", status, http.StatusText(status)), StatusCode: status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h, Request: req,
		Body: io.NopCloser(strings.NewReader(string(body))), ContentLength: int64(len(body)),
	}
}

// FailNext answers the next n requests of api (the SDK's operation name, such as
// "VirtualMachinesClient.Get"; "" for any) with status and an ARM error body carrying code
// and message. Faults are used in the order they were added.
func (s *Server) FailNext(api string, n, status int, code, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{api: api, n: n, status: status, code: code, message: message})
}

// Calls is the number of requests of api received (injected faults and polls included).
func (s *Server) Calls(api string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[api]
}

// StockOut makes zone out of capacity for size until restore is called: VM creations there
// fail with ZonalAllocationFailed (the VM is left in state Failed, as Azure leaves it) and
// scale sets place new members in their other zones.
func (s *Server) StockOut(zone, size string) (restore func()) {
	k := strings.ToLower(zone + "|" + size)
	s.mu.Lock()
	s.stock[k]++
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.stock[k]--
			s.mu.Unlock()
		})
	}
}

func (s *Server) stockedOut(zone, size string) bool {
	return s.stock[strings.ToLower(zone+"|"+size)] > 0
}

// CustomData returns the decoded custom data a VM, or a scale set member
// ("<set>_<instance>"), was created with. ARM never returns it; this is the fake's window.
func (s *Server) CustomData(id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(id)
	if _, ok := s.vms[key]; !ok {
		if i := strings.LastIndexByte(key, '_'); i > 0 {
			key = key[:i]
		}
	}
	v, ok := s.custom[key]
	return v, ok
}

// fake-wide helpers

func (s *Server) rgPrefix() string {
	return "/subscriptions/" + s.opts.SubscriptionID + "/resourceGroups/" + s.opts.ResourceGroup
}

func (s *Server) rgOK(rg string) bool { return strings.EqualFold(rg, s.opts.ResourceGroup) }

func (s *Server) id(provider, kind, name string) string {
	return s.rgPrefix() + "/providers/" + provider + "/" + kind + "/" + name
}

func (s *Server) zoneOK(z string) bool {
	for _, x := range s.opts.Zones {
		if x == z {
			return true
		}
	}
	return false
}

// nextIP allocates an address from base ("10.0" or "20.1").
func (s *Server) nextIP(base string) string {
	s.ipSeq++
	return fmt.Sprintf("%s.%d.%d", base, s.ipSeq/250, s.ipSeq%250+4)
}

// advance applies what time did: deletions that are over.
func (s *Server) advance(now time.Time) {
	for k, v := range s.vms {
		if !v.deleteAt.IsZero() && !now.Before(v.deleteAt) {
			s.removeVM(k, v)
		}
	}
	for k, set := range s.sets {
		for id, m := range set.members {
			if !m.deleteAt.IsZero() && !now.Before(m.deleteAt) {
				delete(set.members, id)
			}
		}
		if !set.deleteAt.IsZero() && !now.Before(set.deleteAt) {
			delete(s.sets, k)
			delete(s.custom, k)
		}
	}
}

func errResp(status int, code string) (e azfake.ErrorResponder) {
	e.SetResponseError(status, code)
	return e
}

func notFound() azfake.ErrorResponder { return errResp(http.StatusNotFound, "ResourceNotFound") }

func rgNotFound() azfake.ErrorResponder {
	return errResp(http.StatusNotFound, "ResourceGroupNotFound")
}

func invalid() azfake.ErrorResponder { return errResp(http.StatusBadRequest, "InvalidParameter") }

// async is a long-running operation that is InProgress once (answered with first), then
// done with v.
func async[T any](first, status int, v T) (p azfake.PollerResponder[T]) {
	p.AddNonTerminalResponse(first, nil)
	p.SetTerminalResponse(status, v, nil)
	return p
}

// done is a long-running operation that is over at once.
func done[T any](status int, v T) (p azfake.PollerResponder[T]) {
	p.SetTerminalResponse(status, v, nil)
	return p
}

func ok[T any](v T) (r azfake.Responder[T]) {
	r.SetResponse(http.StatusOK, v, nil)
	return r
}

func onePage[T any](v T) (p azfake.PagerResponder[T]) {
	p.AddPage(http.StatusOK, v, nil)
	return p
}

func pageErr[T any](status int, code string) (p azfake.PagerResponder[T]) {
	p.AddResponseError(status, code)
	return p
}

// clone deep-copies an SDK model through its JSON form.
func clone[T any](v T) T {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("azurefake: clone %T: %v", v, err))
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		panic(fmt.Sprintf("azurefake: clone %T: %v", v, err))
	}
	return out
}

func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

func ptr[T any](v T) *T { return &v }

// segmentAfter returns the path segment after key in a resource ID ("" when absent).
func segmentAfter(id, key string) string {
	parts := strings.Split(id, "/")
	for i := 0; i+1 < len(parts); i++ {
		if strings.EqualFold(parts[i], key) {
			return parts[i+1]
		}
	}
	return ""
}

// Counts is how many resources of each kind the fake holds (those being deleted included).
type Counts struct {
	VMs, NICs, PublicIPs, LoadBalancers, Disks, ScaleSets int
}

// Counts returns what the fake holds now: after a test cleaned up, all zero.
func (s *Server) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	return Counts{VMs: len(s.vms), NICs: len(s.nics), PublicIPs: len(s.pips), LoadBalancers: len(s.lbs), Disks: len(s.disks), ScaleSets: len(s.sets)}
}

// ifMatchKey carries a request's If-Match header to the handlers: the SDK's options do not
// model it for every resource (callers set it with policy.WithHTTPHeader), so the generated
// fake servers do not pass it on.
type ifMatchKey struct{}

func ifMatch(ctx context.Context) string {
	m, _ := ctx.Value(ifMatchKey{}).(string)
	return m
}
