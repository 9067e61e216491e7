package httpapi

import (
	_ "embed"
	"net/http"
)

//go:embed openapi.json
var openapiDoc []byte

func (h *Handler) openapi(w http.ResponseWriter, r *http.Request) {
	writeRaw(w, http.StatusOK, "application/json", openapiDoc)
}
