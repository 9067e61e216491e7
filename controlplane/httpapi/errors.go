package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/auth"
	"github.com/algos-dev/algos/controlplane/cloudacct"
	"github.com/algos-dev/algos/controlplane/connector"
	"github.com/algos-dev/algos/controlplane/data"
	"github.com/algos-dev/algos/controlplane/fleet"
	"github.com/algos-dev/algos/controlplane/metering"
	"github.com/algos-dev/algos/controlplane/pool"
	"github.com/algos-dev/algos/controlplane/registry"
	"github.com/algos-dev/algos/controlplane/router"
	"github.com/algos-dev/algos/controlplane/store"
)

// errInput marks a malformed request (400).
var errInput = errors.New("invalid request")

// writeError is the one place where errors become HTTP statuses and Algorithmia's envelope.
// Internal faults are logged with context and answered without their details.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	status, typ, msg := http.StatusInternalServerError, api.ErrTypeInternal, "internal error: the control plane logged the details"
	var ae *api.Error
	var re *router.RetryError
	var mbe *http.MaxBytesError
	var rle *metering.RateLimitError
	switch {
	case errors.As(err, &rle):
		w.Header().Set("Retry-After", itoa(rle.RetryAfterSeconds()))
		status, typ, msg = http.StatusTooManyRequests, api.ErrTypeRateLimit, err.Error()
	case errors.Is(err, metering.ErrPaymentRequired):
		status, typ, msg = http.StatusPaymentRequired, api.ErrTypePaymentRequired, err.Error()
	case errors.As(err, &re):
		w.Header().Set("Retry-After", re.RetryAfter)
		status, typ, msg = re.Err.Status, re.Err.ErrorType, re.Err.Message
	case errors.As(err, &ae):
		status, typ, msg = ae.Status, ae.ErrorType, ae.Message
	case errors.As(err, &mbe):
		status, typ, msg = http.StatusRequestEntityTooLarge, api.ErrTypeTooLarge, "the request body is larger than the limit of "+itoa(mbe.Limit)+" bytes: pass large inputs through the Data API"
	case errors.Is(err, registry.ErrTooLarge):
		status, typ, msg = http.StatusRequestEntityTooLarge, api.ErrTypeTooLarge, err.Error()
	case errors.Is(err, connector.ErrTimeout):
		status, typ, msg = http.StatusGatewayTimeout, api.ErrTypeConnector, err.Error()
	case errors.Is(err, connector.ErrRemote):
		status, typ, msg = http.StatusBadGateway, api.ErrTypeConnector, err.Error()
	case errors.Is(err, auth.ErrUnauthorized), errors.Is(err, fleet.ErrUnauthorized):
		status, typ, msg = http.StatusUnauthorized, api.ErrTypeAuth, err.Error()
	case errors.Is(err, auth.ErrForbidden), errors.Is(err, fleet.ErrForbidden):
		status, typ, msg = http.StatusForbidden, api.ErrTypeAuth, err.Error()
	case errors.Is(err, errInput), errors.Is(err, registry.ErrInvalid), errors.Is(err, auth.ErrInvalid),
		errors.Is(err, fleet.ErrInvalid), errors.Is(err, pool.ErrInvalid), errors.Is(err, cloudacct.ErrInvalid),
		errors.Is(err, data.ErrInvalid), errors.Is(err, metering.ErrInvalid):
		status, typ, msg = http.StatusBadRequest, api.ErrTypeInput, err.Error()
	case errors.Is(err, store.ErrNotFound):
		status, typ, msg = http.StatusNotFound, api.ErrTypeNotFound, err.Error()
	case errors.Is(err, store.ErrConflict):
		status, typ, msg = http.StatusConflict, api.ErrTypeConflict, err.Error()
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		status, typ, msg = 499, api.ErrTypeInternal, "the client closed the request"
	default:
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, status, api.ErrorEnvelope{Error: api.ErrorBody{Message: msg, ErrorType: typ}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"message":"encode reply","error_type":"InternalError"}}`)
	}
	writeRaw(w, status, "application/json", b)
}

func writeRaw(w http.ResponseWriter, status int, contentType string, b []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", itoa(int64(len(b))))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
