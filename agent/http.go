package agent

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/algos-dev/algos/agent/artifact"
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
)

// maxRequestLine bounds a request line from the control plane.
const maxRequestLine = 64 << 20

func (a *Agent) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/invoke/{vid...}", a.invoke)
	mux.HandleFunc("GET /v1/logs/{vid...}", a.logs)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	return mux
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
	prep, err := a.cache.Prepare(ctx, v)
	if err != nil {
		a.answerErr(w, ctx, vid, isOwner, err)
		return
	}
	idle, _ := time.ParseDuration(v.Manifest.Scaling.IdleTimeout)
	spec := worker.Spec{
		Key: vid + "#" + v.Digest, Dir: prep.Dir, Argv: prep.Argv, Env: prep.Env,
		MaxInstances: v.Manifest.Scaling.MaxInstances, IdleTimeout: idle, QueueSize: v.Manifest.Scaling.QueueSize,
	}
	stdout := r.Header.Get(headerStdout) == "1"
	res, err := a.pool.Invoke(ctx, spec, line, worker.CallOptions{CaptureLog: stdout})
	if err != nil {
		a.answerErr(w, ctx, vid, isOwner, err)
		return
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

// answerErr maps a failed call to the envelope. Worker logs go to the algorithm's owner only.
func (a *Agent) answerErr(w http.ResponseWriter, ctx context.Context, vid string, isOwner bool, err error) {
	var died *worker.DiedError
	var start *worker.StartError
	detail := func(s string) string {
		if isOwner && s != "" {
			return "\n" + s
		}
		return ""
	}
	switch {
	case errors.Is(err, worker.ErrQueueFull):
		w.Header().Set("Retry-After", "1")
		fail(w, http.StatusTooManyRequests, api.ErrTypeRateLimit, "too many calls are waiting for a worker of "+vid+"; retry after a second")
	case errors.Is(err, worker.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		fail(w, http.StatusGatewayTimeout, api.ErrTypeTimeout, "the call ran past its timeout; the worker was stopped. Raise the timeout with ?timeout=SECONDS")
	case errors.Is(err, context.Canceled):
		fail(w, 499, api.ErrTypeInternal, "the call was cancelled")
	case errors.As(err, &died):
		a.log.Warn("worker died during a call", "version", vid, "err", err)
		fail(w, http.StatusBadGateway, api.ErrTypeWorkerDied, "the worker running the call died; it will be replaced"+detail(died.Error()))
	case errors.As(err, &start):
		a.log.Warn("worker failed to start", "version", vid, "err", err)
		fail(w, http.StatusBadGateway, api.ErrTypeWorkerStart, "the algorithm's worker failed to start: check its load step"+detail(start.Error()))
	case errors.Is(err, artifact.ErrBuild):
		a.log.Warn("version build failed", "version", vid, "err", err)
		fail(w, http.StatusBadGateway, api.ErrTypeWorkerStart, "building the version on the node failed"+detail(err.Error()))
	case errors.Is(err, worker.ErrResponseTooLarge):
		fail(w, http.StatusBadGateway, api.ErrTypeAlgorithm, "the algorithm's result is too large: write it to the Data API and return its URI")
	case errors.Is(err, worker.ErrInvalidRequest):
		fail(w, http.StatusBadRequest, api.ErrTypeInput, "the request line is not valid for the worker protocol")
	default:
		a.log.Error("call failed", "version", vid, "err", err)
		fail(w, http.StatusInternalServerError, api.ErrTypeInternal, fmt.Sprintf("the node failed to run the call (%s)", vid))
	}
}
