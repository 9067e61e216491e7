package algo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/algos-dev/algos/sdk/internal/wire"
)

// Environment and defaults of the Client.
const (
	// AddressEnv names the API address; inside a worker, its node agent's (loopback) address.
	AddressEnv = "ALGORITHMIA_API"
	// SocketEnv names the node agent's Unix socket: requests to the agent's address go through
	// it (a sandboxed worker has no network, only the socket).
	SocketEnv = "ALGOS_API_SOCKET"
	// KeyEnv names the API key used outside a call.
	KeyEnv = "ALGORITHMIA_API_KEY"
	// DefaultAddress is the address used when neither WithAddress nor AddressEnv gives one.
	DefaultAddress = "http://127.0.0.1:8080"
	// DefaultTimeout bounds how long a request may make no progress (see WithTimeout).
	DefaultTimeout = 300 * time.Second

	parentHeader = "X-Algos-Parent-Request"
	userAgent    = "algos-go-client/1 (Algorithmia-compatible)"
	// maxErrorBody bounds what is read of a failed reply.
	maxErrorBody = 1 << 20
	// callMargin is added to a call's timeout option for the reply to arrive; without that
	// option, a call may run as long as the API allows (3000 s).
	callMargin      = 60 * time.Second
	defaultCallWait = 3000*time.Second + callMargin
)

// Client calls other algorithms and the Data API: Algorithmia's client, for Go.
//
//	client := algo.NewClient()
//	resp, err := client.Algo("demo/ts-forecast/1.*").Pipe(ctx, series)
//	r, err := client.File("data://demo/ts/records.csv").Get(ctx)
//
// Which address and credentials a request uses is decided when the request is made, not when
// the client is created, so that one client made at start-up serves every call:
//
//  1. During a call served by Serve (or by a runner that puts ALGOS_CALL_TOKEN in the
//     environment, as `algos runner exec` and the Python runner do), a client created without
//     a key sends "Authorization: Simple <the call's token>" to ALGORITHMIA_API, the node
//     agent: the request acts for the caller of the algorithm. A client given an address other
//     than ALGORITHMIA_API never sends the token.
//  2. Otherwise the key is WithKey's, else ALGORITHMIA_API_KEY; the address is WithAddress's,
//     else ALGORITHMIA_API, else DefaultAddress. A key is sent as "Simple <key>" unless it
//     starts with "Simple " or "Bearer ".
//  3. Every request carries "X-Algos-Parent-Request: <request ID>" when the call has one.
//
// Load runs before any call, so it has no token: data it needs must be readable with
// ALGORITHMIA_API_KEY. A request made by a goroutine that outlives its call acts for whatever
// call is being served when it is made.
//
// Every request is bounded by its context and by the client's timeout (WithTimeout). Redirects
// are not followed and no proxy is used, so a key or token reaches no other host. A Client is
// safe for concurrent use.
type Client struct {
	key     string
	address string
	timeout time.Duration
	hc      *http.Client

	calls  *callSlot                // the call being served; current outside tests
	getenv func(name string) string // os.Getenv outside tests
}

// ClientOption configures a Client.
type ClientOption func(*Client)

// WithKey sets the API key; "" means none given. A client with a key never sends a call's token.
func WithKey(key string) ClientOption { return func(c *Client) { c.key = key } }

// WithAddress sets the API's base URL, such as "https://algos.example.com"; "" means none given.
func WithAddress(address string) ClientOption {
	return func(c *Client) { c.address = strings.TrimRight(address, "/") }
}

// WithTimeout bounds how long a request may make no progress: the time to connect and send,
// then to the reply, then between reads of its body (the Data API's Get streams, so a long
// download is fine as long as data keeps coming). Calls of algorithms wait instead for their
// timeout option plus a minute, or 3060 s without one. d <= 0 leaves requests bounded by their
// context only. The default is DefaultTimeout.
func WithTimeout(d time.Duration) ClientOption { return func(c *Client) { c.timeout = d } }

// WithHTTPClient sends requests through hc (a copy of it that follows no redirects); nil
// keeps the default, which uses no proxy.
func WithHTTPClient(hc *http.Client) ClientOption {
	return func(c *Client) {
		if hc == nil {
			return
		}
		copied := *hc
		copied.CheckRedirect = noRedirect
		c.hc = &copied
	}
}

// NewClient returns a client configured by opts.
func NewClient(opts ...ClientOption) *Client {
	c := &Client{
		timeout: DefaultTimeout,
		hc:      &http.Client{Transport: sharedTransport(), CheckRedirect: noRedirect},
		calls:   current,
		getenv:  os.Getenv,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// sharedTransport is the clients' connection pool: one per process, so that a client created
// per call does not leave connections behind. It uses no proxy.
var sharedTransport = sync.OnceValue(func() *http.Transport {
	t := &http.Transport{}
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		t = dt.Clone()
	}
	t.Proxy = nil
	return t
})

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// socketTransports are the connection pools to agents' Unix sockets, by path.
var socketTransports sync.Map

// socketTransport returns the connection pool that dials the Unix socket at path whatever the
// request's host.
func socketTransport(path string) *http.Transport {
	if t, ok := socketTransports.Load(path); ok {
		return t.(*http.Transport)
	}
	d := &net.Dialer{Timeout: 10 * time.Second}
	t := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		},
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
	}
	actual, _ := socketTransports.LoadOrStore(path, t)
	return actual.(*http.Transport)
}

// target is where a request made now goes, and as whom.
type target struct {
	address string // base URL without a trailing slash
	auth    string // Authorization header; empty for none
	parent  string // X-Algos-Parent-Request; empty for none
	socket  string // the agent's Unix socket to send it through; empty: the address's host
}

func (c *Client) target() target {
	call, inCall := c.calls.get()
	if !inCall {
		call = wire.Call{Token: c.getenv(wire.TokenEnv), RequestID: c.getenv(wire.RequestIDEnv)}
	}
	agent := strings.TrimRight(c.getenv(AddressEnv), "/")
	t := target{parent: call.RequestID}
	if c.key == "" && call.Token != "" && agent != "" && (c.address == "" || c.address == agent) {
		t.address, t.auth, t.socket = agent, "Simple "+call.Token, c.getenv(SocketEnv)
		return t
	}
	t.address = c.address
	if t.address == "" {
		t.address = agent
	}
	if agent != "" && t.address == agent {
		t.socket = c.getenv(SocketEnv)
	}
	if t.address == "" {
		t.address = DefaultAddress
	}
	key := c.key
	if key == "" {
		key = c.getenv(KeyEnv)
	}
	t.auth = authorization(key)
	return t
}

func authorization(key string) string {
	switch {
	case key == "":
		return ""
	case strings.HasPrefix(key, "Simple "), strings.HasPrefix(key, "Bearer "):
		return key
	default:
		return "Simple " + key
	}
}

// request is one request to the API.
type request struct {
	method      string
	path        string // the REST path, escaped: /v1/…
	query       url.Values
	body        io.Reader // nil for none
	contentType string
	idle        time.Duration // the no-progress bound; 0 means the client's timeout
}

// do sends r and returns the reply, whatever its status; the caller must close its body. The
// request stays bounded by ctx and by the no-progress bound until the body is closed. It fails
// when the API cannot be reached, with an error wrapping ErrInvalidAddress when the address is
// not usable, and with an error wrapping context.DeadlineExceeded when the request made no
// progress in time.
func (c *Client) do(ctx context.Context, r request) (*http.Response, error) {
	t := c.target()
	u, err := url.Parse(t.address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: %q is not an http:// or https:// URL; set %s or use WithAddress", ErrInvalidAddress, t.address, AddressEnv)
	}
	full := t.address + r.path
	if len(r.query) > 0 {
		full += "?" + r.query.Encode()
	}
	idle := r.idle
	if idle == 0 {
		idle = c.timeout
	}
	ctx, cancel := context.WithCancelCause(ctx)
	wd := newWatchdog(idle, cancel)
	length, body := int64(0), io.Reader(http.NoBody)
	if r.body != nil {
		if length = bodyLength(r.body); length != 0 {
			body = &progressReader{r: r.body, wd: wd}
		}
	}
	req, err := http.NewRequestWithContext(ctx, r.method, full, body)
	if err != nil {
		wd.stop()
		return nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	req.ContentLength = length // -1: unknown, sent chunked
	req.Header.Set("User-Agent", userAgent)
	if t.auth != "" {
		req.Header.Set("Authorization", t.auth)
	}
	if t.parent != "" {
		req.Header.Set(parentHeader, t.parent)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	hc := c.hc
	if t.socket != "" {
		hc = &http.Client{Transport: socketTransport(t.socket), CheckRedirect: noRedirect}
	}
	resp, err := hc.Do(req)
	if err != nil {
		cause := context.Cause(ctx) // nil unless the context ended
		wd.stop()
		if cause != nil {
			return nil, fmt.Errorf("%s %s%s: %w", r.method, t.address, r.path, cause)
		}
		return nil, fmt.Errorf("%s %s%s: cannot reach the API: %w", r.method, t.address, r.path, err)
	}
	wd.kick()
	resp.Body = &watchedBody{ReadCloser: resp.Body, wd: wd, ctx: ctx}
	return resp, nil
}

// bodyLength returns the length of what is left to read in r, or -1 when unknown (the body is
// then sent chunked).
func bodyLength(r io.Reader) int64 {
	switch r := r.(type) {
	case *bytes.Reader:
		return int64(r.Len())
	case *bytes.Buffer:
		return int64(r.Len())
	case *strings.Reader:
		return int64(r.Len())
	case *os.File:
		fi, err := r.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return -1
		}
		off, err := r.Seek(0, io.SeekCurrent)
		if err != nil || off > fi.Size() || fi.Size() == 0 { // size 0: maybe /proc, or growing
			return -1
		}
		return fi.Size() - off
	}
	return -1
}

// watchdog cancels a request that makes no progress for d: no byte of its body sent, no reply,
// no byte of the reply's body read.
type watchdog struct {
	d      time.Duration
	cancel context.CancelCauseFunc

	mu      sync.Mutex
	timer   *time.Timer // nil when d <= 0
	stopped bool
}

func newWatchdog(d time.Duration, cancel context.CancelCauseFunc) *watchdog {
	w := &watchdog{d: d, cancel: cancel}
	if d > 0 {
		w.timer = time.AfterFunc(d, func() {
			cancel(fmt.Errorf("no progress for %v (the client's timeout): %w", d, context.DeadlineExceeded))
		})
	}
	return w
}

// kick records progress.
func (w *watchdog) kick() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil && !w.stopped {
		w.timer.Reset(w.d)
	}
}

// stop ends the request: the timer stops and the request's context ends.
func (w *watchdog) stop() {
	w.mu.Lock()
	w.stopped = true
	if w.timer != nil {
		w.timer.Stop()
	}
	w.mu.Unlock()
	w.cancel(nil)
}

type progressReader struct {
	r  io.Reader
	wd *watchdog
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.wd.kick()
	}
	return n, err
}

// watchedBody is a reply's body: reading it is progress, closing it ends the request.
type watchedBody struct {
	io.ReadCloser
	wd  *watchdog
	ctx context.Context
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.wd.kick()
	}
	if err != nil && err != io.EOF && b.ctx.Err() != nil {
		if cause := context.Cause(b.ctx); cause != nil {
			err = fmt.Errorf("read the reply: %w", cause)
		}
	}
	return n, err
}

func (b *watchedBody) Close() error {
	err := b.ReadCloser.Close()
	b.wd.stop()
	return err
}

// replyError returns the *Error for a failed reply, reading at most maxErrorBody of its body:
// the envelope's fields when the body is Algorithmia's error envelope, else the X-Error-Message
// header or the body's text. context, when not empty, starts the message: "context - message".
func replyError(resp *http.Response, context string) *Error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &Error{StatusCode: resp.StatusCode}
	if env, ok := parseEnvelope(body); ok {
		e.Type, e.Message, e.Stacktrace = env.Type, env.Message, env.Stacktrace
	} else {
		msg := resp.Header.Get("X-Error-Message")
		if msg == "" {
			msg = strings.TrimSpace(strings.ToValidUTF8(string(body), "\uFFFD"))
		}
		if len(msg) > 2000 {
			msg = strings.ToValidUTF8(msg[:2000], "")
		}
		if msg == "" {
			msg = "HTTP " + resp.Status
		}
		e.Message = msg
	}
	if context != "" {
		e.Message = context + " - " + e.Message
	}
	return e
}

// parseEnvelope reads Algorithmia's error envelope {"error":{"message","error_type","stacktrace"}};
// an "error" that is not an object is the message. It returns false when body is not one.
func parseEnvelope(body []byte) (*Error, bool) {
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(body, &outer); err != nil {
		return nil, false
	}
	raw, ok := outer["error"]
	if !ok || string(raw) == "null" {
		return nil, false
	}
	var inner struct {
		Message    *string `json:"message"`
		ErrorType  string  `json:"error_type"`
		Stacktrace string  `json:"stacktrace"`
		StackTrace string  `json:"stack_trace"`
	}
	if err := json.Unmarshal(raw, &inner); err != nil || inner.Message == nil {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return &Error{Message: s}, true
		}
		// An object without a usable message, or something else: its text is the message.
		var fallback struct {
			ErrorType string `json:"error_type"`
		}
		_ = json.Unmarshal(raw, &fallback)
		return &Error{Type: fallback.ErrorType, Message: string(raw)}, true
	}
	e := &Error{Type: inner.ErrorType, Message: *inner.Message, Stacktrace: inner.Stacktrace}
	if e.Stacktrace == "" {
		e.Stacktrace = inner.StackTrace
	}
	return e, true
}

// readReply reads a successful reply's body as JSON into v.
func readReply(resp *http.Response, what string, v any) error {
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%s: the API answered HTTP %d with a body that is not the expected JSON: %w", what, resp.StatusCode, err)
	}
	return nil
}

// marshal encodes v as JSON without escaping HTML characters.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
