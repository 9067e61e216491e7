package httpapi

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/auth"
)

func (h *Handler) createAlgorithm(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	owner := r.PathValue("owner")
	if err := owns(p, owner); err != nil {
		return err
	}
	var in api.CreateAlgorithm
	if err := decode(r, &in); err != nil {
		return err
	}
	a, err := h.cfg.Registry.CreateAlgorithm(r.Context(), owner, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, a)
	return nil
}

func (h *Handler) getAlgorithm(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	a, err := h.cfg.Registry.GetAlgorithm(r.Context(), r.PathValue("owner"), r.PathValue("name"), viewer(p, r.PathValue("owner")))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

func (h *Handler) updateAlgorithm(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	owner := r.PathValue("owner")
	if err := h.changes(r, p, owner); err != nil {
		return err
	}
	var in api.CreateAlgorithm
	if err := decode(r, &in); err != nil {
		return err
	}
	a, err := h.cfg.Registry.UpdateAlgorithm(r.Context(), owner, r.PathValue("name"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

func (h *Handler) deleteAlgorithm(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	owner := r.PathValue("owner")
	if err := h.changes(r, p, owner); err != nil {
		return err
	}
	if err := h.cfg.Registry.DeleteAlgorithm(r.Context(), owner, r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) publish(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	owner := r.PathValue("owner")
	if err := h.changes(r, p, owner); err != nil {
		return err
	}
	q := r.URL.Query()
	v, err := h.cfg.Registry.Publish(r.Context(), owner, r.PathValue("name"), r.Body, api.PublishOptions{
		Bump: q.Get("bump"), Version: q.Get("version"), ReleaseNotes: q.Get("release_notes"), Visibility: q.Get("visibility"),
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (h *Handler) listVersions(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	vs, err := h.cfg.Registry.ListVersions(r.Context(), r.PathValue("owner"), r.PathValue("name"), viewer(p, r.PathValue("owner")))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, vs)
	return nil
}

// resolveVersion serves the version a range ("1.2.3", "1.2.*", "1.*", "latest") selects for the
// caller.
func (h *Handler) resolveVersion(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	v, err := h.cfg.Registry.ResolveAPI(r.Context(), r.PathValue("owner"), r.PathValue("name"), r.PathValue("version"), viewer(p, r.PathValue("owner")))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// workerLogs serves the recent log of a version's workers (stdout and stderr of every worker,
// on every node) to the algorithm's owner.
func (h *Handler) workerLogs(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	owner := r.PathValue("owner")
	if err := h.changes(r, p, owner); err != nil {
		return err
	}
	v, err := h.cfg.Registry.Resolve(r.Context(), owner, r.PathValue("name"), r.PathValue("version"), owner)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	for _, nl := range h.cfg.Router.Logs(r.Context(), v) {
		fmt.Fprintf(&buf, "==> node %s, %s <==\n", nl.NodeID, v.ID)
		buf.Write(nl.Log)
		if len(nl.Log) > 0 && nl.Log[len(nl.Log)-1] != '\n' {
			buf.WriteByte('\n')
		}
	}
	writeRaw(w, http.StatusOK, "text/plain; charset=utf-8", buf.Bytes())
	return nil
}

func (h *Handler) createKey(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var in api.CreateKey
	if err := decode(r, &in); err != nil {
		return err
	}
	k, err := h.cfg.Keys.Create(r.Context(), p.Account, in)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, k)
	return nil
}

func (h *Handler) listKeys(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ks, err := h.cfg.Keys.List(r.Context(), p.Account)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ks)
	return nil
}

func (h *Handler) getKey(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	k, err := h.cfg.Keys.Get(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, k)
	return nil
}

func (h *Handler) updateKey(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var in api.UpdateKey
	if err := decode(r, &in); err != nil {
		return err
	}
	k, err := h.cfg.Keys.Update(r.Context(), p, r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, k)
	return nil
}

func (h *Handler) instanceTypes(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	q := r.URL.Query()
	f := api.InstanceTypeFilter{Cloud: q.Get("cloud"), Region: q.Get("region"), GPUModel: q.Get("gpu_model")}
	if f.GPUModel == "" {
		f.GPUModel = q.Get("gpu") // ?gpu=h100
	}
	for name, dst := range map[string]*int{"min_gpus": &f.MinGPUs, "min_memory_mib": &f.MinMemoryMiB} {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("%w: %s=%q: give a whole number", errInput, name, v)
			}
			*dst = n
		}
	}
	out, err := h.cfg.Pools.InstanceTypes(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) revokeKey(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := h.cfg.Keys.Revoke(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) createPool(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var in api.CreatePool
	if err := decode(r, &in); err != nil {
		return err
	}
	out, err := h.cfg.Pools.Create(r.Context(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (h *Handler) listPools(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	out, err := h.cfg.Pools.List(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) getPool(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	out, err := h.cfg.Pools.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) poolEvents(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	out, err := h.cfg.Pools.Events(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) updatePool(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var in api.PoolSpec
	if err := decode(r, &in); err != nil {
		return err
	}
	out, err := h.cfg.Pools.Update(r.Context(), r.PathValue("name"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) deletePool(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := h.cfg.Pools.Delete(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) listNodes(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	out := []api.Node{}
	for _, n := range h.cfg.Fleet.Nodes() {
		out = append(out, h.cfg.Fleet.API(n))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// bearer returns the credential of an Authorization header ("Bearer X" or "Simple X").
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if i := strings.IndexByte(h, ' '); i >= 0 {
		return strings.TrimSpace(h[i+1:])
	}
	return h
}

// changes checks that the caller may change algorithm {owner}/{name} (or read its worker
// logs): its owner's (or organization's owners and admins) keys. To anyone else a private
// algorithm does not exist (404, as an unknown one: no existence oracle); a public one they
// may see is forbidden (403).
func (h *Handler) changes(r *http.Request, p *auth.Principal, owner string) error {
	if p.Manages(owner) {
		return nil
	}
	if _, err := h.cfg.Registry.GetAlgorithm(r.Context(), owner, r.PathValue("name"), viewer(p, owner)); err != nil {
		return err
	}
	return owns(p, owner)
}

// viewer is the account whose view of owner's algorithms a request gets: an administrator (a
// key with the manage scope of an admin account) sees them as their owner does, so that it can
// manage private algorithms of others (Terraform with an admin key), and so does a member of
// organization owner.
func viewer(p *auth.Principal, owner string) string {
	if p.ActsFor(owner) { // the owner, a member of organization owner, or an administrator
		return owner
	}
	return p.Account
}
