// Package invoke runs calls of algorithms for the HTTP API: it resolves the version a caller
// names, checks the key's rights, hands the call to the router, shapes Algorithmia's reply
// envelope, and keeps asynchronous (output=void) requests durable across restarts.
package invoke

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/auth"
	"github.com/algos-dev/algos/controlplane/callgraph"
	"github.com/algos-dev/algos/controlplane/metrics"
	"github.com/algos-dev/algos/controlplane/registry"
	"github.com/algos-dev/algos/controlplane/router"
	"github.com/algos-dev/algos/controlplane/store"
)

// Config configures a Service.
type Config struct {
	Store    store.Store
	Registry *registry.Registry
	Router   *router.Router
	Metrics  *metrics.Metrics // optional
	// Keys mints the per-call tokens workers call other algorithms and the Data API with;
	// without it, workers get none.
	Keys *auth.Keys
	// Graph records caller → callee edges (optional).
	Graph *callgraph.Graph
	// MaxDepth bounds how deep calls from inside algorithms nest (default auth.DefaultMaxDepth).
	MaxDepth int
	Logger   *slog.Logger
	Now      func() time.Time

	// Meter admits calls (rate limits, credits) and meters them (optional).
	Meter Meter
}

// Meter admits and meters calls (controlplane/metering implements it). Both methods are
// called on every call, from many goroutines at once, and decide from memory: they do no I/O.
type Meter interface {
	// Admit decides whether p may make a call of v now. It returns an error that the API
	// answers with 429 (a rate limit, with Retry-After) or 402 (credits that cannot pay for the
	// call). An admitted call may hold a reservation of credits until its Record.
	Admit(p *auth.Principal, v *registry.Resolved) error
	// Record meters a finished call. It may block while its buffer is full (back-pressure),
	// never on a single write.
	Record(u Usage)
}

// Usage is what one call used, as the Meter gets it.
type Usage struct {
	Principal *auth.Principal // Account is the original caller, also for calls from inside algorithms
	Version   *registry.Resolved
	NodeID    string // "" when the call reached no node
	Start     time.Time
	Duration  time.Duration
	ColdStart time.Duration // time spent waiting for a new worker
	BytesIn   int           // the request line (the caller's input)
	BytesOut  int           // the worker's reply
	Outcome   string        // "" for a result, else the error type
	// Ran: the call ran on a worker (it answered, or ran past its timeout).
	Ran bool
	// Admitted: Admit admitted the call in this process (its reservation is released).
	Admitted bool
}

// Service is safe for concurrent use.
type Service struct {
	cfg Config
	log *slog.Logger
	wg  sync.WaitGroup
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Registry == nil || cfg.Router == nil {
		return nil, errors.New("invoke: Store, Registry and Router are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxDepth <= 0 {
		cfg.MaxDepth = auth.DefaultMaxDepth
	}
	return &Service{cfg: cfg, log: cfg.Logger.With("component", "invoke")}, nil
}

// Resolve selects the version a caller may call. A key whose allow-list excludes the algorithm
// gets auth.ErrForbidden.
func (s *Service) Resolve(ctx context.Context, p *auth.Principal, owner, name, spec string) (*registry.Resolved, error) {
	caller := p.Account
	if p.ActsFor(owner) { // a member of organization owner sees its private versions
		caller = owner
	}
	v, err := s.cfg.Registry.Resolve(ctx, owner, name, spec, caller)
	if err != nil {
		return nil, err
	}
	if !p.MayCall(owner, name) {
		return nil, fmt.Errorf("%w: this API key may not call %s/%s (its algorithm scopes are %v)", auth.ErrForbidden, owner, name, p.Algos)
	}
	if c := p.Calling; c != nil {
		if c.NoCalls {
			return nil, fmt.Errorf("%w: algorithm %s may not call other algorithms (its setting call_other_algorithms is false)", auth.ErrForbidden, algorithmOf(c.Holder()))
		}
		for _, on := range c.Chain {
			if algorithmOf(on) == owner+"/"+name {
				return nil, &api.Error{Status: http.StatusLoopDetected, ErrorBody: api.ErrorBody{ErrorType: api.ErrTypeCallDepth,
					Message: fmt.Sprintf("calling %s/%s from %s closes a cycle (%s → %s/%s): an algorithm may not call itself through others",
						owner, name, algorithmOf(c.Holder()), strings.Join(c.Chain, " → "), owner, name)}}
			}
		}
		if len(c.Chain) >= s.cfg.MaxDepth {
			return nil, &api.Error{Status: http.StatusLoopDetected, ErrorBody: api.ErrorBody{ErrorType: api.ErrTypeCallDepth,
				Message: fmt.Sprintf("calls nest %d deep (%s → %s/%s): the limit is %d", len(c.Chain)+1, strings.Join(c.Chain, " → "), owner, name, s.cfg.MaxDepth)}}
		}
	}
	return v, nil
}

// Options of one call.
type Options struct {
	Timeout time.Duration // 0: the version's default
	Stdout  bool          // return the call's log (honoured for the owner only)
	// Node is the node a call from inside an algorithm comes from (its agent says so): a warm
	// worker there serves it first.
	Node string

	admission admission
}

// admission is how a call passed the Meter.
type admission int

const (
	admitNow      admission = iota // Call asks the Meter
	admittedAsync                  // Submit did (its reservation is held)
	resumed                        // a request accepted before a restart: not asked again
)

// Outcome is a completed call: the worker's reply, how long it took, and its log if asked.
type Outcome struct {
	Worker   api.WorkerResponse
	Duration time.Duration
	Log      *string

	node       string // the node that ran it
	replyBytes int    // the worker's reply
}

// Envelope returns Algorithmia's reply envelope of a completed call and its HTTP status: 200 for
// a result, 400 for an error raised by the algorithm.
func (o *Outcome) Envelope() ([]byte, int) {
	if o.Worker.Error != nil {
		b, _ := json.Marshal(api.ErrorEnvelope{Error: *o.Worker.Error})
		if o.Worker.Error.ErrorType == api.ErrTypePaymentRequired {
			return b, http.StatusPaymentRequired // a call it made ran out of credits
		}
		return b, http.StatusBadRequest
	}
	md := &api.Metadata{ContentType: o.Worker.Metadata.ContentType, Duration: o.Duration.Seconds(), Stdout: o.Log}
	b, err := json.Marshal(api.CallResponse{Result: o.Worker.Result, Metadata: md})
	if err != nil {
		b, _ = json.Marshal(api.ErrorEnvelope{Error: api.ErrorBody{ErrorType: api.ErrTypeAlgorithm, Message: "the algorithm's result is not valid JSON"}})
		return b, http.StatusBadGateway
	}
	return b, http.StatusOK
}

// Call runs a call and waits for it, bounded by the timeout, and records it in the metrics and
// the Meter. A call the Meter refuses does not run.
func (s *Service) Call(ctx context.Context, p *auth.Principal, v *registry.Resolved, requestLine []byte, o Options) (*Outcome, error) {
	if s.cfg.Meter != nil && o.admission == admitNow {
		if err := s.cfg.Meter.Admit(p, v); err != nil {
			return nil, err
		}
	}
	start := s.cfg.Now()
	out, coldStart, err := s.call(ctx, p, v, requestLine, o)
	end := s.cfg.Now()
	if m := s.cfg.Metrics; m != nil {
		if coldStart > 0 {
			m.ColdStart(v.ID, coldStart)
		}
		m.Call(v.ID, end.Sub(start), outcome(out, err))
	}
	// An async call cut off by a shutdown runs again after the restart: it is metered then.
	if s.cfg.Meter != nil && (o.admission == admitNow || ctx.Err() == nil) {
		u := Usage{Principal: p, Version: v, Start: start, Duration: end.Sub(start), ColdStart: coldStart, BytesIn: len(requestLine),
			Outcome: outcome(out, err), Admitted: o.admission != resumed}
		var ae *api.Error
		switch {
		case out != nil:
			u.NodeID, u.BytesOut, u.Ran = out.node, out.replyBytes, true
		case errors.As(err, &ae) && ae.ErrorType == api.ErrTypeTimeout:
			u.Ran = true
		}
		s.cfg.Meter.Record(u)
	}
	return out, err
}

// call runs a call; it also returns how long the call waited for a new worker (0: warm).
func (s *Service) call(ctx context.Context, p *auth.Principal, v *registry.Resolved, requestLine []byte, o Options) (*Outcome, time.Duration, error) {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = time.Duration(v.Manifest.Timeout) * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if c := p.Calling; c != nil && !c.Expires.IsZero() {
		// A call from inside an algorithm ends with the call it is part of.
		var cancelParent context.CancelFunc
		ctx, cancelParent = context.WithDeadline(ctx, c.Expires)
		defer cancelParent()
	}
	start := s.cfg.Now()
	stdout := o.Stdout && p.ActsFor(v.Owner)
	if s.cfg.Keys != nil {
		dl, _ := ctx.Deadline()
		req := newID()
		if p.Calling != nil {
			req = p.Calling.Request
		}
		token, end, err := s.cfg.Keys.MintCallToken(p, v.ID, req, dl, !v.Manifest.MayCallOthers())
		if err != nil {
			return nil, 0, err
		}
		defer end() // the token dies with the call
		requestLine = withToken(requestLine, token, req)
	}
	reply, err := s.cfg.Router.Invoke(ctx, v, requestLine, router.CallOptions{Caller: p.Account, Stdout: stdout, Node: o.Node})
	if s.cfg.Graph != nil && err == nil {
		caller := ""
		if p.Calling != nil {
			caller = p.Calling.Holder()
		}
		s.cfg.Graph.Call(caller, v.ID, s.cfg.Now().Sub(start), o.Node != "" && reply.NodeID == o.Node, s.cfg.Now())
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, 0, &api.Error{Status: http.StatusGatewayTimeout, ErrorBody: api.ErrorBody{ErrorType: api.ErrTypeTimeout,
				Message: fmt.Sprintf("the call ran past its timeout of %s: raise it with ?timeout=SECONDS (up to %d)", timeout, registry.MaxTimeout)}}
		}
		return nil, 0, err
	}
	out := &Outcome{Duration: s.cfg.Now().Sub(start), Log: reply.Log, node: reply.NodeID, replyBytes: len(reply.Response)}
	if err := json.Unmarshal(reply.Response, &out.Worker); err != nil || (out.Worker.Error == nil && out.Worker.Metadata == nil) {
		return nil, reply.ColdStart, &api.Error{Status: http.StatusBadGateway, ErrorBody: api.ErrorBody{ErrorType: api.ErrTypeWorkerDied,
			Message: "the worker answered something that is not a protocol response (see docs/worker-protocol.md)"}}
	}
	if out.Worker.Error != nil && out.Worker.Error.ErrorType == "" {
		out.Worker.Error.ErrorType = api.ErrTypeAlgorithm
	}
	return out, reply.ColdStart, nil
}

// withToken adds the per-call token to a request line: {"content_type":…,"data":…} becomes
// {"content_type":…,"data":…,"algos":{"token":…,"request_id":…}} (docs/worker-protocol.md).
func withToken(line []byte, token, req string) []byte {
	end := len(line)
	for end > 0 && (line[end-1] == '\n' || line[end-1] == ' ') {
		end--
	}
	if end == 0 || line[end-1] != '}' {
		return line
	}
	extra, _ := json.Marshal(struct {
		Token     string `json:"token"`
		RequestID string `json:"request_id,omitempty"`
	}{token, req})
	out := make([]byte, 0, end+len(extra)+12)
	out = append(out, line[:end-1]...)
	out = append(out, `,"algos":`...)
	out = append(out, extra...)
	return append(out, '}')
}

// outcome names a call's outcome for metrics: "" for a result, else the error type.
func outcome(out *Outcome, err error) string {
	var ae *api.Error
	switch {
	case errors.As(err, &ae):
		return ae.ErrorType
	case err != nil:
		return api.ErrTypeInternal
	case out.Worker.Error != nil:
		return out.Worker.Error.ErrorType
	}
	return ""
}

// asyncOptions is what an asynchronous request keeps of its call options.
type asyncOptions struct {
	TimeoutMs int64 `json:"timeout_ms"`
}

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "req-" + hex.EncodeToString(b)
}

// Submit stores an asynchronous request, starts it in the background and returns its ID. The
// request is durable once Submit returns: a restart resumes it (see Resume). base is the
// server's lifetime context. The Meter admits the request here, not when it runs.
func (s *Service) Submit(ctx, base context.Context, p *auth.Principal, v *registry.Resolved, requestLine []byte, o Options) (string, error) {
	if p.Calling != nil {
		// A request outlives its call and a restart; an algorithm's token does neither.
		return "", fmt.Errorf("%w: asynchronous calls (output=void) are not available from inside an algorithm: call synchronously", auth.ErrForbidden)
	}
	if s.cfg.Meter != nil {
		if err := s.cfg.Meter.Admit(p, v); err != nil {
			return "", err
		}
		o.admission = admittedAsync
	}
	opts, _ := json.Marshal(asyncOptions{TimeoutMs: o.Timeout.Milliseconds()})
	r := store.Request{ID: newID(), Caller: p.Account, KeyID: p.KeyID, VersionID: v.ID, Input: requestLine, Options: opts,
		Status: store.RequestPending, CreatedAt: s.cfg.Now().UTC()}
	if err := s.cfg.Store.CreateRequest(ctx, r); err != nil {
		if s.cfg.Meter != nil { // releases the reservation; the request never ran
			s.cfg.Meter.Record(Usage{Principal: p, Version: v, Start: r.CreatedAt, BytesIn: len(requestLine), Outcome: api.ErrTypeInternal, Admitted: true})
		}
		return "", err
	}
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.Async(v.ID)
	}
	s.start(base, p, v, r.ID, requestLine, o)
	return r.ID, nil
}

func (s *Service) start(base context.Context, p *auth.Principal, v *registry.Resolved, id string, line []byte, o Options) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		var env []byte
		status := store.RequestSucceeded
		out, err := s.Call(base, p, v, line, Options{Timeout: o.Timeout, admission: o.admission})
		switch {
		case base.Err() != nil:
			return // shutting down: the request stays pending and is resumed at the next start
		case err != nil:
			env, status = errorEnvelope(err), store.RequestFailed
		default:
			var code int
			if env, code = out.Envelope(); code != http.StatusOK {
				status = store.RequestFailed
			}
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(base), 10*time.Second)
		defer cancel()
		if err := s.cfg.Store.CompleteRequest(ctx, id, status, env, s.cfg.Now().UTC()); err != nil {
			s.log.Error("storing an async result failed", "request_id", id, "err", err)
		}
	}()
}

func errorEnvelope(err error) []byte {
	var ae *api.Error
	body := api.ErrorBody{ErrorType: api.ErrTypeInternal, Message: "internal error"}
	if errors.As(err, &ae) {
		body = ae.ErrorBody
	}
	b, _ := json.Marshal(api.ErrorEnvelope{Error: body})
	return b
}

// Resume restarts the asynchronous requests left pending by a previous run.
func (s *Service) Resume(ctx, base context.Context) error {
	rs, err := s.cfg.Store.ListPendingRequests(ctx)
	if err != nil {
		return err
	}
	for _, r := range rs {
		v, err := s.cfg.Registry.VersionByID(ctx, r.VersionID)
		if err != nil {
			env := errorEnvelope(&api.Error{ErrorBody: api.ErrorBody{ErrorType: api.ErrTypeNotFound, Message: "the version of this request was deleted before it ran"}})
			_ = s.cfg.Store.CompleteRequest(ctx, r.ID, store.RequestFailed, env, s.cfg.Now().UTC())
			continue
		}
		var o asyncOptions
		_ = json.Unmarshal(r.Options, &o)
		// The caller's rights as they are now: its key's scopes and roles (a key revoked
		// meanwhile fails the request).
		p := &auth.Principal{Account: r.Caller, KeyID: r.KeyID}
		if s.cfg.Keys != nil {
			if p, err = s.cfg.Keys.PrincipalByID(ctx, r.KeyID); err != nil {
				env := errorEnvelope(&api.Error{ErrorBody: api.ErrorBody{ErrorType: api.ErrTypeAuth, Message: "the API key of this request is no longer valid: " + err.Error()}})
				_ = s.cfg.Store.CompleteRequest(ctx, r.ID, store.RequestFailed, env, s.cfg.Now().UTC())
				continue
			}
		}
		s.log.Info("resuming async request", "request_id", r.ID, "version", r.VersionID)
		s.start(base, p, v, r.ID, r.Input, Options{Timeout: time.Duration(o.TimeoutMs) * time.Millisecond, admission: resumed})
	}
	return nil
}

// Request returns an asynchronous request's envelope, or pending. Only its caller may read it;
// others get store.ErrNotFound.
func (s *Service) Request(ctx context.Context, p *auth.Principal, id string) (pending bool, envelope []byte, err error) {
	r, err := s.cfg.Store.GetRequest(ctx, id)
	if err != nil {
		return false, nil, fmt.Errorf("request %s: %w", id, err)
	}
	if r.Caller != p.Account && !p.Admin {
		return false, nil, fmt.Errorf("request %s: %w", id, store.ErrNotFound)
	}
	if r.Status == store.RequestPending {
		return true, nil, nil
	}
	return false, r.Response, nil
}

// Wait waits for the background calls to finish (after the base context was cancelled).
func (s *Service) Wait() { s.wg.Wait() }

// algorithmOf turns a version ID "owner/name/1.2.3" into "owner/name".
func algorithmOf(version string) string {
	a, _ := api.SplitVersionID(version)
	return a
}
