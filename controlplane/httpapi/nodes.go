package httpapi

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/fleet"
)

type nodeFunc func(w http.ResponseWriter, r *http.Request, n *fleet.Node) error

// node authenticates an agent by its node credential.
func (h *Handler) node(f nodeFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n, err := h.cfg.Fleet.Authenticate(r.PathValue("id"), bearer(r))
		if err == nil {
			err = f(w, r, n)
		}
		if err != nil {
			writeError(w, r, h.log, err)
		}
	}
}

// agentDownload serves the algos binary to VMs booting with the pool's user data. It is public,
// as a release download would be: it holds no secret.
func (h *Handler) agentDownload(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	goos, arch := q.Get("os"), q.Get("arch")
	if goos == "" {
		goos = "linux"
	}
	if arch == "" {
		arch = runtime.GOARCH
	}
	if h.cfg.AgentBinary == "" || goos != runtime.GOOS || arch != runtime.GOARCH {
		writeError(w, r, h.log, &api.Error{Status: http.StatusNotFound, ErrorBody: api.ErrorBody{ErrorType: api.ErrTypeNotFound,
			Message: fmt.Sprintf("this control plane serves the agent for %s/%s only; install algos on %s/%s nodes from a release", runtime.GOOS, runtime.GOARCH, goos, arch)}})
		return
	}
	f, err := os.Open(h.cfg.AgentBinary)
	if err != nil {
		writeError(w, r, h.log, err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		writeError(w, r, h.log, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="algos"`)
	http.ServeContent(w, r, "algos", fi.ModTime(), f)
}

func (h *Handler) registerNode(w http.ResponseWriter, r *http.Request) {
	var in api.RegisterNode
	err := decode(r, &in)
	if err == nil {
		var out api.NodeRegistration
		if out, err = h.cfg.Fleet.Register(r.Context(), bearer(r), in); err == nil {
			h.cfg.Pools.Trigger()
			writeJSON(w, http.StatusOK, out)
			return
		}
	}
	writeError(w, r, h.log, err)
}

func (h *Handler) heartbeat(w http.ResponseWriter, r *http.Request, n *fleet.Node) error {
	var in api.Heartbeat
	if err := decode(r, &in); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h.cfg.Fleet.Heartbeat(n, in))
	return nil
}

func (h *Handler) nodeVersion(w http.ResponseWriter, r *http.Request, n *fleet.Node) error {
	v, err := h.cfg.Registry.VersionByID(r.Context(), r.PathValue("vid"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.NodeVersion{ID: v.ID, Digest: v.Digest, Manifest: v.Manifest})
	return nil
}

func (h *Handler) artifact(w http.ResponseWriter, r *http.Request, n *fleet.Node) error {
	rd, err := h.cfg.Registry.Artifact(r.Context(), r.PathValue("digest"))
	if err != nil {
		return err
	}
	defer rd.Close()
	w.Header().Set("Content-Type", "application/gzip")
	_, err = io.Copy(w, rd)
	if err != nil {
		h.log.Warn("artifact transfer interrupted", "node_id", n.ID, "err", err)
	}
	return nil
}
