package api

import (
	"encoding/json"
	"fmt"
)

// Error types (the envelope's error_type) that algos answers with. Algorithmia's names are kept
// where Algorithmia had one.
const (
	ErrTypeAlgorithm      = "AlgorithmError"        // the algorithm raised or returned an error
	ErrTypeInput          = "InputError"            // the request is malformed (400)
	ErrTypeAuth           = "AuthorizationError"    // missing, invalid or revoked key (401/403)
	ErrTypeNotFound       = "NotFoundError"         // unknown algorithm, version or object (404)
	ErrTypeConflict       = "ConflictError"         // exists already (409)
	ErrTypeTooLarge       = "EntityTooLargeError"   // request body above the limit (413)
	ErrTypeRateLimit      = "RateLimitError"        // queue full or rate limited (429)
	ErrTypeTimeout        = "AlgorithmTimeoutError" // the call ran past its timeout (504)
	ErrTypeWorkerDied     = "WorkerDiedError"       // the worker process died during the call (502)
	ErrTypeWorkerStart    = "WorkerStartError"      // the worker failed to start or to build (502)
	ErrTypeOutOfGPUMemory = "OutOfGpuMemoryError"   // the worker exceeded its declared GPU memory and was stopped (502)
	ErrTypeUnavailable    = "UnavailableError"      // no node can run the call now (503)
	ErrTypeInternal       = "InternalError"         // a fault of algos itself (500)
	ErrTypeCallDepth      = "CallDepthError"        // a call from inside an algorithm closes a cycle or nests too deep (508)
	ErrTypeMethodAllowed  = "MethodNotAllowedError"

	ErrTypePaymentRequired = "PaymentRequiredError" // the account's credits cannot pay for the call (402)
)

// ErrorBody is the inside of Algorithmia's error envelope.
type ErrorBody struct {
	Message    string `json:"message"`
	ErrorType  string `json:"error_type,omitempty"`
	Stacktrace string `json:"stacktrace,omitempty"`
}

// ErrorEnvelope is Algorithmia's error envelope: {"error":{"message","error_type","stacktrace"}}.
type ErrorEnvelope struct {
	Error ErrorBody `json:"error"`
}

// Error is an error answered by the API: the HTTP status and the envelope's body.
type Error struct {
	Status int
	ErrorBody
}

func (e *Error) Error() string {
	if e.ErrorType != "" {
		return fmt.Sprintf("%s (%d %s)", e.Message, e.Status, e.ErrorType)
	}
	return fmt.Sprintf("%s (%d)", e.Message, e.Status)
}

// decodeError builds an *Error from a non-2xx reply body.
func decodeError(status int, body []byte) *Error {
	var env ErrorEnvelope
	if err := json.Unmarshal(body, &env); err != nil || env.Error.Message == "" {
		msg := string(body)
		if len(msg) > 512 {
			msg = msg[:512] + "…"
		}
		if msg == "" {
			msg = fmt.Sprintf("HTTP %d", status)
		}
		return &Error{Status: status, ErrorBody: ErrorBody{Message: msg}}
	}
	return &Error{Status: status, ErrorBody: env.Error}
}
