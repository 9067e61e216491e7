package algo

import "errors"

// Error fails a call with an error type of the algorithm's choosing, such as "InputError".
// Return it, or an error wrapping it, from apply.
//
// A Client returns it too, for a failed call of another algorithm and for a refusal of the Data
// API: returned from apply as is, it fails the call with the same error type, as under
// Algorithmia.
type Error struct {
	// Type is the response's error_type; empty means AlgorithmError. From a Client, it is the
	// envelope's error_type (AlgorithmError, AlgorithmTimeoutError, NotFoundError, …), empty when
	// the reply carried no envelope.
	Type string
	// Message is the error message.
	Message string
	// Stacktrace is the stack trace a failed call's reply carried, if any. Serve does not send it
	// on: the response of an apply that returns this error carries none.
	Stacktrace string
	// StatusCode is the HTTP status of the reply that carried the error (Client only).
	StatusCode int
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Errors of the Client, wrapped with details.
var (
	// ErrInvalidReference: an algorithm reference or data URI the Client cannot use.
	ErrInvalidReference = errors.New("invalid reference")
	// ErrInvalidAddress: the API address is not an http:// or https:// URL.
	ErrInvalidAddress = errors.New("invalid API address")
)
