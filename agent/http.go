package agent

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/algos-dev/algos/agent/artifact"
	"github.com/algos-dev/algos/agent/gpu"
	"github.com/algos-dev/algos/agent/sandbox"
	"github.com/algos-dev/algos/agent/worker"
	"github.com/algos-dev/algos/api"
)

// Headers of the control plane → agent call (kept equal to controlplane/router's).
const (
	headerTimeout = "X-Algos-Timeout-Ms"
	headerStdout  = "X-Algos-Stdout"
	headerCaller  = "X-Algos-Caller"
	headerLogged  = "X-Algos-Logged"
	headerDigest  = "X-Algos-Digest"
	// headerColdStart on a reply: the call waited this many milliseconds for a new worker.
	headerColdStart = "X-Algos-Cold-Start-Ms"
)

// maxRequestLine bounds a request line from the control plane.
const maxRequestLine = 64 << 20

// ErrTypeOutOfGPUMemory is api.ErrTypeOutOfGPUMemory (kept for callers of this package).
const ErrTypeOutOfGPUMemory = api.ErrTypeOutOfGPUMemory

func (a *Agent) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/invoke/{vid...}", a.invoke)
	mux.HandleFunc("GET /v1/logs/{vid...}", a.logs)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	// The API as the node's workers see it (ALGORITHMIA_API): algorithm calls and the Data API,
	// forwarded to the control plane with the worker's per-call token.
	proxy := a.apiProxy(true)
	for _, prefix := range apiPrefixes {
		mux.Handle(prefix, proxy)
	}
	return mux
}

// apiPrefixes are the API paths workers reach through their agent.
var apiPrefixes = []string{"/v1/algo/", "/v1/data/", "/v1/connector/"}

// socketHandler serves the workers' API on the agent's Unix socket.
func (a *Agent) socketHandler() http.Handler {
	mux := http.NewServeMux()
	proxy := a.apiProxy(false)
	for _, prefix := range apiPrefixes {
		mux.Handle(prefix, proxy)
	}
	return mux
}

// headerNode tells the control plane which node a worker's call comes from (kept equal to
// controlplane/httpapi's HeaderNode).
const headerNode = "X-Algos-Node"

// apiProxy forwards workers' API requests to the control plane, streaming both ways. Only
// processes on this host may use it: it is the workers' way out, not a relay for the network.
func (a *Agent) apiProxy(loopbackOnly bool) http.Handler {
	target, err := url.Parse(a.cfg.Server)
	if err != nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fail(w, http.StatusBadGateway, api.ErrTypeUnavailable, "the agent has no valid control-plane address")
		})
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = target.Host
			pr.Out.Header.Del(headerNode)
			a.mu.Lock()
			id := a.nodeID
			a.mu.Unlock()
			if id != "" {
				pr.Out.Header.Set(headerNode, id)
			}
		},
		Transport: a.proxyTransport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			a.log.Warn("forwarding a worker's API request failed", "path", r.URL.Path, "err", err)
			fail(w, http.StatusBadGateway, api.ErrTypeUnavailable, "the control plane could not be reached from this node; retry")
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if loopbackOnly {
			host, _, err := net.SplitHostPort(r.RemoteAddr)
			if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
				fail(w, http.StatusForbidden, api.ErrTypeAuth, "only this node's workers may use the agent's API")
				return
			}
		}
		// A full-duplex reply: the body streams back while the request body still streams in.
		_ = http.NewResponseController(w).EnableFullDuplex()
		rp.ServeHTTP(w, r)
	})
}

func fail(w http.ResponseWriter, status int, typ, msg string) {
	b, _ := json.Marshal(api.ErrorEnvelope{Error: api.ErrorBody{Message: msg, ErrorType: typ}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (a *Agent) authorized(w http.ResponseWriter, r *http.Request) bool {
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+a.invokeToken)) != 1 {
		fail(w, http.StatusUnauthorized, api.ErrTypeAuth, "wrong invoke token")
		return false
	}
	return true
}

// logs answers the recent log of a version's workers on this node (empty when none ran).
func (a *Agent) logs(w http.ResponseWriter, r *http.Request) {
	if !a.authorized(w, r) {
		return
	}
	vid := r.PathValue("vid")
	a.mu.Lock()
	v, ok := a.versions[vid]
	a.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if ok {
		_, _ = w.Write(a.pool.Logs(vid + "#" + v.Digest))
	}
}

// invoke runs one call: POST /v1/invoke/{owner/name/version}, the body a protocol request line.
func (a *Agent) invoke(w http.ResponseWriter, r *http.Request) {
	if !a.authorized(w, r) {
		return
	}
	ctx := r.Context()
	if ms, err := strconv.ParseInt(r.Header.Get(headerTimeout), 10, 64); err == nil && ms > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
		defer cancel()
	}
	vid := r.PathValue("vid")
	owner, _, _ := strings.Cut(vid, "/")
	isOwner := r.Header.Get(headerCaller) == owner
	line, err := io.ReadAll(io.LimitReader(r.Body, maxRequestLine+1))
	if err != nil || len(line) > maxRequestLine {
		fail(w, http.StatusBadRequest, api.ErrTypeInput, "the request line could not be read or is too large")
		return
	}
	v, err := a.version(ctx, vid, r.Header.Get(headerDigest))
	if err != nil {
		var ae *api.Error
		if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
			fail(w, http.StatusNotFound, api.ErrTypeNotFound, "version "+vid+" is unknown")
			return
		}
		a.log.Error("version lookup failed", "version", vid, "err", err)
		fail(w, http.StatusBadGateway, api.ErrTypeUnavailable, "the node could not look up the version; retry")
		return
	}
	spec, err := a.spec(ctx, v)
	if err != nil {
		a.answerErr(w, ctx, vid, isOwner, err)
		return
	}
	stdout := r.Header.Get(headerStdout) == "1"
	started := time.Now()
	res, err := a.pool.Invoke(ctx, spec, line, worker.CallOptions{CaptureLog: stdout})
	if err != nil {
		a.answerErr(w, ctx, vid, isOwner, err)
		return
	}
	if res.ColdStart {
		// The call waited for a new worker: how long, for the control plane's faas.init_duration.
		w.Header().Set(headerColdStart, strconv.FormatInt((time.Since(started)-res.Duration).Milliseconds(), 10))
	}
	w.Header().Set("Content-Type", "application/json")
	if stdout {
		b, err := json.Marshal(struct {
			Response json.RawMessage `json:"response"`
			Log      string          `json:"log"`
		}{res.Response, string(res.Log)})
		if err != nil {
			fail(w, http.StatusBadGateway, api.ErrTypeWorkerDied, "the worker's response is not valid JSON")
			return
		}
		w.Header().Set(headerLogged, "1")
		_, _ = w.Write(b)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(res.Response)))
	_, _ = w.Write(res.Response)
}

// spec prepares a version's artifact (once per digest) and returns the worker spec to run it.
func (a *Agent) spec(ctx context.Context, v api.NodeVersion) (worker.Spec, error) {
	gpuReq := gpu.RequestFor(v.Manifest.Resources)
	if !gpuReq.Zero() && a.gpuUnits == 0 { // before building a version this node cannot run
		return worker.Spec{}, gpu.ErrNoGPU
	}
	prep, err := a.cache.Prepare(ctx, v)
	if err != nil {
		return worker.Spec{}, err
	}
	idle, _ := time.ParseDuration(v.Manifest.Scaling.IdleTimeout)
	spec := worker.Spec{
		Key: v.ID + "#" + v.Digest, Dir: prep.Dir, Argv: prep.Argv, Env: append(prep.Env[:len(prep.Env):len(prep.Env)], a.workerEnv()...),
		MaxInstances: v.Manifest.Scaling.MaxInstances, IdleTimeout: idle, QueueSize: v.Manifest.Scaling.QueueSize,
	}
	if !gpuReq.Zero() {
		spec.Acquire = a.gpus.Acquire(gpuReq)
	}
	if a.sb != nil {
		spec.Sandbox = a.sb
		spec.SandboxPolicy = a.policy(v, prep, !gpuReq.Zero())
	}
	return spec, nil
}

// policy is what a version's workers may see and use in the sandbox: their artifact (source,
// runner, virtualenv or binary) read-only, the agent's socket, the GPUs when they need them,
// the network only when the version is granted it, and its declared memory and CPU as limits.
func (a *Agent) policy(v api.NodeVersion, prep *artifact.Prepared, gpus bool) sandbox.Policy {
	a.mu.Lock()
	sock := a.socket
	a.mu.Unlock()
	p := sandbox.Policy{
		ReadOnly: []string{filepath.Dir(prep.Dir)},
		Network:  v.Manifest.Network,
		PidsMax:  1024,
	}
	if sock != "" {
		p.ReadOnly = append(p.ReadOnly, filepath.Dir(sock))
	}
	if r := v.Manifest.Resources; r.MemoryMiB > 0 {
		p.MemoryBytes = int64(r.MemoryMiB) << 20
	}
	if r := v.Manifest.Resources; r.CPU > 0 {
		p.CPUQuota = r.CPU
	}
	if gpus {
		devs, _ := filepath.Glob("/dev/nvidia*")
		p.Devices = devs
		p.ReadOnly = append(p.ReadOnly, "/sys")
	}
	return p
}

// answerErr answers a failed call with CallError's envelope and logs what needs logging.
func (a *Agent) answerErr(w http.ResponseWriter, ctx context.Context, vid string, isOwner bool, err error) {
	status, body, retryAfter := CallError(err, vid, isOwner)
	switch {
	case status == http.StatusInternalServerError:
		a.log.Error("call failed", "version", vid, "err", err)
	case status == http.StatusBadGateway || status == http.StatusServiceUnavailable:
		a.log.Warn("call failed", "version", vid, "error_type", body.ErrorType, "err", err)
	}
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	fail(w, status, body.ErrorType, body.Message)
}

// CallError maps a failed call's error to the HTTP status, the envelope and the Retry-After
// value ("" for none) the agent answers with: the one place where the agent's errors become
// statuses. Worker logs are quoted only with owner (the caller owns the algorithm).
//
// A worker stopped for exceeding its declared GPU memory answers 502 OutOfGpuMemoryError: as
// for WorkerDiedError, the call failed because its worker died, through the algorithm's doing.
// A version asking for GPUs answers 503 UnavailableError on a node without GPUs, or whose GPUs
// are all granted (with Retry-After), or can never hold the request.
func CallError(err error, vid string, owner bool) (status int, body api.ErrorBody, retryAfter string) {
	var died *worker.DiedError
	var start *worker.StartError
	var oom *gpu.OutOfMemoryError
	var short *gpu.InsufficientError
	detail := func(s string) string {
		if owner && s != "" {
			return "\n" + s
		}
		return ""
	}
	e := func(st int, typ, msg string) (int, api.ErrorBody, string) {
		return st, api.ErrorBody{ErrorType: typ, Message: msg}, ""
	}
	switch {
	case errors.Is(err, worker.ErrQueueFull):
		st, b, _ := e(http.StatusTooManyRequests, api.ErrTypeRateLimit, "too many calls are waiting for a worker of "+vid+"; retry after a second")
		return st, b, "1"
	case errors.Is(err, worker.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return e(http.StatusGatewayTimeout, api.ErrTypeTimeout, "the call ran past its timeout; the worker was stopped. Raise the timeout with ?timeout=SECONDS")
	case errors.Is(err, context.Canceled):
		return e(499, api.ErrTypeInternal, "the call was cancelled")
	case errors.As(err, &oom):
		return e(http.StatusBadGateway, ErrTypeOutOfGPUMemory, fmt.Sprintf(
			"the algorithm's worker held %d MiB of GPU memory, more than the %d MiB the version declares (resources.gpu_memory_mib), and was stopped: declare more GPU memory or use less%s",
			oom.UsedMiB, oom.LimitMiB, detail(logOf(err))))
	case errors.Is(err, gpu.ErrNoGPU):
		return e(http.StatusServiceUnavailable, api.ErrTypeUnavailable, "no GPU on this node: version "+vid+" asks for GPUs (resources.gpus or gpu_memory_mib) and the node that got the call has none")
	case errors.As(err, &short) && short.Impossible:
		return e(http.StatusServiceUnavailable, api.ErrTypeUnavailable, "the GPUs of this node can never run version "+vid+": "+short.Error())
	case errors.As(err, &short):
		st, b, _ := e(http.StatusServiceUnavailable, api.ErrTypeUnavailable, "no GPU free on this node for version "+vid+" ("+short.Error()+"); retry later")
		return st, b, "1"
	case errors.As(err, &died):
		return e(http.StatusBadGateway, api.ErrTypeWorkerDied, "the worker running the call died; it will be replaced"+detail(died.Error()))
	case errors.As(err, &start):
		return e(http.StatusBadGateway, api.ErrTypeWorkerStart, "the algorithm's worker failed to start: check its load step"+detail(start.Error()))
	case errors.Is(err, artifact.ErrBuild):
		return e(http.StatusBadGateway, api.ErrTypeWorkerStart, "building the version on the node failed"+detail(err.Error()))
	case errors.Is(err, worker.ErrResponseTooLarge):
		return e(http.StatusBadGateway, api.ErrTypeAlgorithm, "the algorithm's result is too large: write it to the Data API and return its URI")
	case errors.Is(err, worker.ErrInvalidRequest):
		return e(http.StatusBadRequest, api.ErrTypeInput, "the request line is not valid for the worker protocol")
	default:
		return e(http.StatusInternalServerError, api.ErrTypeInternal, fmt.Sprintf("the node failed to run the call (%s)", vid))
	}
}

// logOf returns the description, with the worker's log tail, of the *DiedError or *StartError
// in err.
func logOf(err error) string {
	var died *worker.DiedError
	var start *worker.StartError
	switch {
	case errors.As(err, &died):
		return died.Error()
	case errors.As(err, &start):
		return start.Error()
	}
	return ""
}
