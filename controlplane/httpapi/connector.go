package httpapi

import (
	"errors"
	"net/http"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/auth"
	"github.com/algos-dev/algos/controlplane/connector"
	"github.com/algos-dev/algos/controlplane/data"
)

// serveConnector serves the files of connectors: /v1/connector/{name}/{bucket}/{path…} and
// /v1/connector/blob/{path…}; escaped is the request's escaped path after connector.Prefix. Like
// the Data API it parses its own paths, so that the mux never redirects a ".." path.
func (h *Handler) serveConnector(w http.ResponseWriter, r *http.Request, escaped string) {
	h.callable(func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		write := r.Method != http.MethodGet && r.Method != http.MethodHead
		if err := data.CheckScope(p, write); err != nil {
			return err
		}
		ref, err := connector.ParseEscapedPath(escaped)
		if err != nil {
			return err
		}
		switch r.Method {
		case http.MethodGet:
			return h.connectorGet(w, r, p, ref)
		case http.MethodHead:
			return h.connectorHead(w, r, p, ref)
		case http.MethodPut:
			return h.connectorPut(w, r, p, ref)
		case http.MethodDelete:
			return h.connectorDelete(w, r, p, ref)
		}
		return methodNotAllowed(w, r, "GET, HEAD, PUT, DELETE")
	})(w, r)
}

// connectorGet answers a file with its bytes, streamed (ranges honoured), and a folder or
// bucket with a page of its listing in the Data API's form.
func (h *Handler) connectorGet(w http.ResponseWriter, r *http.Request, p *auth.Principal, ref connector.Ref) error {
	ctx := r.Context()
	svc := h.cfg.Connectors
	if ref.Path != "" && !ref.Dir {
		rd, info, err := svc.Open(ctx, p, ref)
		if err == nil {
			defer rd.Close()
			serveFile(w, r, rd, info)
			return nil
		}
		if !errors.Is(err, connector.ErrNotFound) {
			return err
		}
		// Not a file: perhaps a folder.
	}
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	l, err := svc.List(ctx, p, ref, r.URL.Query().Get("marker"), limit)
	if err != nil {
		return err
	}
	out := toAPIListing(l)
	w.Header().Set("X-Data-Type", "directory")
	writeJSON(w, http.StatusOK, out)
	return nil
}

// connectorHead answers whether a file or folder exists, with a file's size, type and time.
func (h *Handler) connectorHead(w http.ResponseWriter, r *http.Request, p *auth.Principal, ref connector.Ref) error {
	e, err := h.cfg.Connectors.Stat(r.Context(), p, ref)
	if err != nil {
		return err
	}
	writeStat(w, e)
	return nil
}

// connectorPut streams the request body into a file.
func (h *Handler) connectorPut(w http.ResponseWriter, r *http.Request, p *auth.Principal, ref connector.Ref) error {
	if _, err := h.cfg.Connectors.Put(r.Context(), p, ref, r.Header.Get("Content-Type"), r.ContentLength, r.Body); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.DataResult{Result: ref.String()})
	return nil
}

// connectorDelete deletes a file: {"result":{"deleted":N}}, 0 when there was none.
func (h *Handler) connectorDelete(w http.ResponseWriter, r *http.Request, p *auth.Principal, ref connector.Ref) error {
	n, err := h.cfg.Connectors.Delete(r.Context(), p, ref)
	if err != nil {
		return err
	}
	var out api.DataDeleted
	out.Result.Deleted = n
	writeJSON(w, http.StatusOK, out)
	return nil
}

// connectorScope reads ?owner= and ?platform= of a management request.
func connectorScope(r *http.Request) (api.ConnectorScope, error) {
	platform, err := boolQuery(r, "platform")
	return api.ConnectorScope{Owner: r.URL.Query().Get("owner"), Platform: platform}, err
}

func (h *Handler) createConnector(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var in api.CreateConnector
	if err := decode(r, &in); err != nil {
		return err
	}
	out, err := h.cfg.Connectors.CreateConnector(r.Context(), p, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (h *Handler) listConnectors(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	out, err := h.cfg.Connectors.ListConnectors(r.Context(), p, r.URL.Query().Get("owner"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) getConnector(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	sc, err := connectorScope(r)
	if err != nil {
		return err
	}
	out, err := h.cfg.Connectors.GetConnector(r.Context(), p, r.PathValue("name"), sc)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) updateConnector(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	sc, err := connectorScope(r)
	if err != nil {
		return err
	}
	var in api.UpdateConnector
	if err := decode(r, &in); err != nil {
		return err
	}
	out, err := h.cfg.Connectors.UpdateConnector(r.Context(), p, r.PathValue("name"), sc, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) deleteConnector(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	sc, err := connectorScope(r)
	if err != nil {
		return err
	}
	if err := h.cfg.Connectors.DeleteConnector(r.Context(), p, r.PathValue("name"), sc); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
