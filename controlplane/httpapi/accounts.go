package httpapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/auth"
)

// decodeAccount reads a cloud account body. Unknown fields are refused, except inside the
// cloud's own settings and credentials documents.
func decodeAccount(r *http.Request) (api.CreateCloudAccount, error) {
	var in api.CreateCloudAccount
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return in, fmt.Errorf("%w: the body is not the expected JSON: %v", errInput, err)
	}
	return in, nil
}

func (h *Handler) createCloudAccount(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	in, err := decodeAccount(r)
	if err != nil {
		return err
	}
	out, err := h.cfg.Accounts.Create(r.Context(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (h *Handler) listCloudAccounts(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	out, err := h.cfg.Accounts.List(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) getCloudAccount(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	out, err := h.cfg.Accounts.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) updateCloudAccount(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	in, err := decodeAccount(r)
	if err != nil {
		return err
	}
	out, err := h.cfg.Accounts.Update(r.Context(), r.PathValue("name"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) deleteCloudAccount(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := h.cfg.Accounts.Delete(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
