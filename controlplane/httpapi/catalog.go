package httpapi

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/auth"
)

// searchCatalog serves GET /v1/catalog?q=&tag=&owner=&gpu=&limit=&marker=.
func (h *Handler) searchCatalog(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	qs := r.URL.Query()
	q := api.CatalogQuery{Q: qs.Get("q"), Tags: qs["tag"], Owner: qs.Get("owner"), Marker: qs.Get("marker")}
	if s := qs.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > api.MaxCatalogPage {
			return fmt.Errorf("%w: limit %q: use a number from 1 to %d", errInput, s, api.MaxCatalogPage)
		}
		q.Limit = n
	}
	if s := qs.Get("gpu"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%w: gpu %q: use true (algorithms that need a GPU) or false (those that do not)", errInput, s)
		}
		q.GPU = &b
	}
	page, err := h.cfg.Catalog.Search(r.Context(), p, q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// catalogAlgorithm serves GET /v1/catalog/{owner}/{name}: 404 alike for an unknown algorithm and
// one the caller may not see.
func (h *Handler) catalogAlgorithm(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	a, err := h.cfg.Catalog.Get(r.Context(), p, r.PathValue("owner"), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}
