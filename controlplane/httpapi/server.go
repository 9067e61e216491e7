// Package httpapi serves the algos REST API: algorithm calls (Algorithmia-compatible),
// management of algorithms, keys and node pools, and the endpoints agents use.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/auth"
	"github.com/algos-dev/algos/controlplane/callgraph"
	"github.com/algos-dev/algos/controlplane/catalog"
	"github.com/algos-dev/algos/controlplane/cloudacct"
	"github.com/algos-dev/algos/controlplane/connector"
	"github.com/algos-dev/algos/controlplane/data"
	"github.com/algos-dev/algos/controlplane/fleet"
	"github.com/algos-dev/algos/controlplane/invoke"
	"github.com/algos-dev/algos/controlplane/metering"
	"github.com/algos-dev/algos/controlplane/metrics"
	"github.com/algos-dev/algos/controlplane/pool"
	"github.com/algos-dev/algos/controlplane/registry"
	"github.com/algos-dev/algos/controlplane/router"
	"github.com/algos-dev/algos/controlplane/store"
)

// Config configures the API handler.
type Config struct {
	Registry *registry.Registry
	Keys     *auth.Keys
	Fleet    *fleet.Fleet
	Invoke   *invoke.Service
	Pools    *pool.Reconciler
	Accounts *cloudacct.Service
	// Metrics serves /metrics (to an administrator's key: metric labels name private
	// algorithms); nil serves none.
	Metrics *metrics.Metrics
	Router  *router.Router
	Logger  *slog.Logger
	// MaxBodyBytes bounds a call's input (default 10 MiB, Algorithmia's limit).
	MaxBodyBytes int64
	// Base is the server's lifetime context: asynchronous calls run under it.
	Base context.Context
	// Ready reports whether the control plane is ready to serve (for /readyz).
	Ready func() error
	// AgentBinary is the algos binary served to booting VMs at /v1/agent/download (this
	// process's own executable: it runs on runtime.GOOS/GOARCH).
	AgentBinary string
	// Data serves the Data API under /v1/data/ (optional: without it those paths are 404).
	Data *data.Service
	// Connectors serves connector files under /v1/connector/ and their management under
	// /v1/connectors (optional: without it those paths are 404).
	Connectors *connector.Service
	// Graph is the call graph (optional).
	Graph *callgraph.Graph
	// Catalog serves /v1/catalog (optional: without it those paths are 404).
	Catalog *catalog.Service
	// Meter serves usage under /v1/usage and billing under /v1/accounts/{name} (optional).
	Meter *metering.Meter
	// Store serves accounts and organizations (optional: without it those paths are 404).
	Store store.Store
}

// Handler is the API's http.Handler.
type Handler struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux
	// orgMu serializes changes of organizations' members, so that the last-owner check and the
	// change it guards cannot interleave with another change (within this control plane).
	orgMu sync.Mutex
}

// New returns the API handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Registry == nil || cfg.Keys == nil || cfg.Fleet == nil || cfg.Invoke == nil || cfg.Pools == nil || cfg.Router == nil || cfg.Accounts == nil {
		return nil, errors.New("httpapi: Registry, Keys, Fleet, Invoke, Pools, Router and Accounts are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 10 << 20
	}
	if cfg.Base == nil {
		cfg.Base = context.Background()
	}
	h := &Handler{cfg: cfg, log: cfg.Logger.With("component", "httpapi"), mux: http.NewServeMux()}
	h.routes()
	return h, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rest, ok := strings.CutPrefix(r.URL.EscapedPath(), dataPrefix); ok && h.cfg.Data != nil {
		h.serveData(w, r, rest) // before the mux, which would redirect ".." paths
		return
	}
	if rest, ok := strings.CutPrefix(r.URL.EscapedPath(), connector.Prefix); ok && h.cfg.Connectors != nil {
		h.serveConnector(w, r, rest) // before the mux, as the Data API
		return
	}
	h.mux.ServeHTTP(w, r)
}

type authedFunc func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error

// user authenticates an API key and turns the handler's error into the envelope. An
// algorithm's per-call token is refused: it acts for its caller only on callable routes.
func (h *Handler) user(f authedFunc) http.HandlerFunc {
	return h.callable(func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		if p.Calling != nil {
			return fmt.Errorf("%w: an algorithm's call token may call algorithms and use the Data API only: use an API key for %s %s", auth.ErrForbidden, r.Method, r.URL.Path)
		}
		return f(w, r, p)
	})
}

// callable authenticates an API key or an algorithm's per-call token (the routes an algorithm
// uses on its caller's behalf: calls, the Data API, connectors, its async requests).
func (h *Handler) callable(f authedFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := h.cfg.Keys.Authenticate(r.Context(), r.Header.Get("Authorization"))
		if err == nil {
			err = f(w, r, p)
		}
		if err != nil {
			writeError(w, r, h.log, err)
		}
	}
}

// manager is user for requests that change algorithms, pools or keys.
func (h *Handler) manager(f authedFunc) http.HandlerFunc {
	return h.user(func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		if !p.Manage {
			return fmt.Errorf("%w: this API key may not manage algorithms, pools or keys; create one with manage rights", auth.ErrForbidden)
		}
		return f(w, r, p)
	})
}

// admin is user for requests about the whole installation (node pools, nodes).
func (h *Handler) admin(f authedFunc) http.HandlerFunc {
	return h.user(func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		if !p.Admin {
			return fmt.Errorf("%w: only an administrator's key may do this", auth.ErrForbidden)
		}
		return f(w, r, p)
	})
}

func (h *Handler) routes() {
	m := h.mux
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { writeRaw(w, 200, "text/plain", []byte("ok\n")) })
	m.HandleFunc("GET /readyz", h.readyz)
	m.HandleFunc("GET /v1/openapi.json", h.openapi)
	if h.cfg.Metrics != nil {
		mh := h.cfg.Metrics.Handler()
		m.HandleFunc("GET /metrics", h.admin(func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
			mh.ServeHTTP(w, r)
			return nil
		}))
	}

	m.HandleFunc("GET /v1/account", h.user(h.account))
	if h.cfg.Store != nil {
		m.HandleFunc("POST /v1/accounts", h.admin(h.createAccount))
		m.HandleFunc("GET /v1/accounts", h.admin(h.listAccounts))
		m.HandleFunc("POST /v1/organizations", h.manager(h.createOrganization))
		m.HandleFunc("GET /v1/organizations/{org}", h.user(h.getOrganization))
		m.HandleFunc("PUT /v1/organizations/{org}/members/{user}", h.manager(h.setMember))
		m.HandleFunc("DELETE /v1/organizations/{org}/members/{user}", h.manager(h.removeMember))
	}
	m.HandleFunc("POST /v1/algo/{owner}/{name}", h.callable(h.call))
	m.HandleFunc("POST /v1/algo/{owner}/{name}/{version}", h.callable(h.call))
	m.HandleFunc("GET /v1/requests/{id}", h.callable(h.getRequest))

	m.HandleFunc("POST /v1/algorithms/{owner}", h.manager(h.createAlgorithm))
	m.HandleFunc("GET /v1/algorithms/{owner}/{name}", h.user(h.getAlgorithm))
	m.HandleFunc("PATCH /v1/algorithms/{owner}/{name}", h.manager(h.updateAlgorithm))
	m.HandleFunc("DELETE /v1/algorithms/{owner}/{name}", h.manager(h.deleteAlgorithm))
	m.HandleFunc("POST /v1/algorithms/{owner}/{name}/versions", h.manager(h.publish))
	m.HandleFunc("GET /v1/algorithms/{owner}/{name}/versions", h.user(h.listVersions))
	m.HandleFunc("GET /v1/algorithms/{owner}/{name}/versions/{version}", h.user(h.resolveVersion))
	m.HandleFunc("GET /v1/algorithms/{owner}/{name}/versions/{version}/logs", h.user(h.workerLogs))
	m.HandleFunc("GET /v1/algorithms/{owner}/{name}/graph", h.user(h.callGraph))

	m.HandleFunc("POST /v1/keys", h.manager(h.createKey))
	m.HandleFunc("GET /v1/keys", h.user(h.listKeys))
	m.HandleFunc("GET /v1/keys/{id}", h.user(h.getKey))
	m.HandleFunc("PATCH /v1/keys/{id}", h.manager(h.updateKey))
	m.HandleFunc("DELETE /v1/keys/{id}", h.user(h.revokeKey))
	m.HandleFunc("GET /v1/instance-types", h.user(h.instanceTypes))

	m.HandleFunc("POST /v1/node-pools", h.admin(h.createPool))
	m.HandleFunc("GET /v1/node-pools", h.admin(h.listPools))
	m.HandleFunc("GET /v1/node-pools/{name}", h.admin(h.getPool))
	m.HandleFunc("GET /v1/node-pools/{name}/events", h.admin(h.poolEvents))
	m.HandleFunc("PATCH /v1/node-pools/{name}", h.admin(h.updatePool))
	m.HandleFunc("DELETE /v1/node-pools/{name}", h.admin(h.deletePool))
	m.HandleFunc("GET /v1/nodes", h.admin(h.listNodes))
	m.HandleFunc("POST /v1/cloud-accounts", h.admin(h.createCloudAccount))
	m.HandleFunc("GET /v1/cloud-accounts", h.admin(h.listCloudAccounts))
	m.HandleFunc("GET /v1/cloud-accounts/{name}", h.admin(h.getCloudAccount))
	m.HandleFunc("PATCH /v1/cloud-accounts/{name}", h.admin(h.updateCloudAccount))
	m.HandleFunc("DELETE /v1/cloud-accounts/{name}", h.admin(h.deleteCloudAccount))

	if h.cfg.Connectors != nil {
		m.HandleFunc("POST /v1/connectors", h.manager(h.createConnector))
		m.HandleFunc("GET /v1/connectors", h.user(h.listConnectors))
		m.HandleFunc("GET /v1/connectors/{name}", h.user(h.getConnector))
		m.HandleFunc("PATCH /v1/connectors/{name}", h.manager(h.updateConnector))
		m.HandleFunc("DELETE /v1/connectors/{name}", h.manager(h.deleteConnector))
	}

	if h.cfg.Meter != nil {
		m.HandleFunc("GET /v1/usage", h.user(h.usage))
		m.HandleFunc("GET /v1/usage/calls", h.user(h.usageCalls))
		m.HandleFunc("GET /v1/accounts/{name}/billing", h.user(h.getBilling))
		m.HandleFunc("PUT /v1/accounts/{name}/billing", h.admin(h.putBilling))
		m.HandleFunc("POST /v1/accounts/{name}/credits", h.admin(h.addCredits))
	}

	if h.cfg.Catalog != nil {
		m.HandleFunc("GET /v1/catalog", h.user(h.searchCatalog))
		m.HandleFunc("GET /v1/catalog/{owner}/{name}", h.user(h.catalogAlgorithm))
	}

	m.HandleFunc("GET /v1/agent/download", h.agentDownload)
	m.HandleFunc("POST /v1/nodes/register", h.registerNode)
	m.HandleFunc("POST /v1/nodes/{id}/heartbeat", h.node(h.heartbeat))
	m.HandleFunc("GET /v1/nodes/{id}/versions/{vid...}", h.node(h.nodeVersion))
	m.HandleFunc("GET /v1/nodes/{id}/artifacts/{digest}", h.node(h.artifact))

	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, h.log, &api.Error{Status: http.StatusNotFound, ErrorBody: api.ErrorBody{ErrorType: api.ErrTypeNotFound,
			Message: fmt.Sprintf("no API endpoint %s %s: see /v1/openapi.json", r.Method, r.URL.Path)}})
	})
}

func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Ready != nil {
		if err := h.cfg.Ready(); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, api.ErrorEnvelope{Error: api.ErrorBody{ErrorType: api.ErrTypeUnavailable, Message: err.Error()}})
			return
		}
	}
	writeRaw(w, 200, "text/plain", []byte("ready\n"))
}

// decode reads a JSON body of at most 1 MiB into v, refusing unknown fields.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: the body is not the expected JSON: %v", errInput, err)
	}
	return nil
}

// owns checks that the caller acts for owner (or is an admin).
func owns(p *auth.Principal, owner string) error {
	if !p.Manages(owner) {
		return fmt.Errorf("%w: this key belongs to %s and may not change what %s owns (an organization's owners and admins may)", auth.ErrForbidden, p.Account, owner)
	}
	return nil
}
