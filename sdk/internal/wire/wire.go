// Package wire is the wire format of the agent ↔ worker protocol (docs/worker-protocol.md),
// shared by the Go runners in sdk/: the control lines, request lines and response lines.
package wire

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// Control lines, environment and error types of the protocol.
const (
	// InitLine is printed on stdout once the worker is ready for requests.
	InitLine = "PIPE_INIT_COMPLETE"
	// MarkerLine is printed on stdout after each call, before the response is written.
	MarkerLine = "--ALGOS-CALL-END--"
	// PipeEnv names the environment variable holding the response FIFO's path.
	PipeEnv = "ALGOS_PIPE_OUT"
	// DefaultPipePath is the FIFO path used when PipeEnv is unset (Algorithmia's path).
	DefaultPipePath = "/tmp/algoout"
	// TokenEnv and RequestIDEnv name the environment variables that carry a call's token and
	// request ID to the code serving it, for the duration of the call.
	TokenEnv     = "ALGOS_CALL_TOKEN"
	RequestIDEnv = "ALGOS_REQUEST_ID"

	ContentJSON   = "json"
	ContentText   = "text"
	ContentBinary = "binary"

	// AlgorithmError is the error type of a failed call unless the algorithm names another.
	AlgorithmError = "AlgorithmError"
	// ProtocolError is the error type of a response to a request line that breaks the protocol.
	ProtocolError = "ProtocolError"
)

// PipePath returns the response FIFO's path given the value of $ALGOS_PIPE_OUT.
func PipePath(env string) string {
	if env == "" {
		return DefaultPipePath
	}
	return env
}

// RequestError reports a request line that does not follow the protocol.
type RequestError struct {
	Reason string
}

func (e *RequestError) Error() string { return "bad request line: " + e.Reason }

// Request is one decoded request line.
type Request struct {
	ContentType string          `json:"content_type"`
	Data        json.RawMessage `json:"data"`
	// Algos is the optional "algos" field the control plane sets; read it with Call.
	Algos json.RawMessage `json:"algos,omitempty"`
}

// Call is what a request line says about its call: the per-call token that authenticates the
// requests made while serving it, and the root request ID. Both may be empty.
type Call struct {
	Token     string
	RequestID string
}

// Call returns the call's token and request ID from the "algos" field. The field is optional and
// read leniently, as the Python runner reads it: a field that is not an object, and a value
// that is not a string or holds a NUL byte, count as absent.
func (r Request) Call() Call {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(r.Algos, &fields); err != nil {
		return Call{}
	}
	str := func(key string) string {
		var s string
		if err := json.Unmarshal(fields[key], &s); err != nil || strings.IndexByte(s, 0) >= 0 {
			return ""
		}
		return s
	}
	return Call{Token: str("token"), RequestID: str("request_id")}
}

// Env returns the call's environment variables, TokenEnv and RequestIDEnv, as "NAME=value";
// an empty value is left out.
func (c Call) Env() []string {
	var env []string
	if c.Token != "" {
		env = append(env, TokenEnv+"="+c.Token)
	}
	if c.RequestID != "" {
		env = append(env, RequestIDEnv+"="+c.RequestID)
	}
	return env
}

// ParseRequest decodes one request line. It fails with a *RequestError.
func ParseRequest(line []byte) (Request, error) {
	var r Request
	if err := json.Unmarshal(line, &r); err != nil {
		return Request{}, &RequestError{Reason: fmt.Sprintf("not a JSON object: %v", err)}
	}
	if r.Data == nil {
		return Request{}, &RequestError{Reason: `no "data" field`}
	}
	switch r.ContentType {
	case ContentJSON, ContentText, ContentBinary:
		return r, nil
	default:
		return Request{}, &RequestError{Reason: fmt.Sprintf("unknown content_type %q", r.ContentType)}
	}
}

// Value returns the input as a Go algorithm sees it: JSON decoded into any (numbers are
// float64), text as a string, binary as []byte. It fails with a *RequestError.
func (r Request) Value() (any, error) {
	switch r.ContentType {
	case ContentJSON:
		var v any
		if err := json.Unmarshal(r.Data, &v); err != nil {
			return nil, &RequestError{Reason: fmt.Sprintf("json data: %v", err)}
		}
		return v, nil
	case ContentText:
		return r.text()
	default:
		return r.binary()
	}
}

// Bytes returns the input as a program's stdin sees it: JSON as its text (as received), text as
// is, binary as raw bytes. It fails with a *RequestError.
func (r Request) Bytes() ([]byte, error) {
	switch r.ContentType {
	case ContentJSON:
		return bytes.TrimSpace(r.Data), nil
	case ContentText:
		s, err := r.text()
		return []byte(s), err
	default:
		return r.binary()
	}
}

func (r Request) text() (string, error) {
	var s string
	if err := json.Unmarshal(r.Data, &s); err != nil {
		return "", &RequestError{Reason: "text data is not a JSON string"}
	}
	return s, nil
}

func (r Request) binary() ([]byte, error) {
	var s string
	if err := json.Unmarshal(r.Data, &s); err != nil {
		return nil, &RequestError{Reason: "binary data is not a JSON string"}
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, &RequestError{Reason: fmt.Sprintf("binary data is not standard base64: %v", err)}
	}
	return b, nil
}

// Metadata describes a result.
type Metadata struct {
	ContentType string `json:"content_type"`
}

// ErrorBody is the error of a failed call.
type ErrorBody struct {
	Message    string `json:"message"`
	ErrorType  string `json:"error_type"`
	Stacktrace string `json:"stacktrace,omitempty"`
}

// Response is one response line: a result with its metadata, or an error.
type Response struct {
	Result   json.RawMessage `json:"result,omitempty"`
	Metadata *Metadata       `json:"metadata,omitempty"`
	Error    *ErrorBody      `json:"error,omitempty"`
}

// TextResponse returns the response for a text result.
func TextResponse(s string) Response {
	b, _ := marshal(s) // a string always marshals
	return Response{Result: b, Metadata: &Metadata{ContentType: ContentText}}
}

// BinaryResponse returns the response for a binary result.
func BinaryResponse(b []byte) Response {
	enc, _ := marshal(base64.StdEncoding.EncodeToString(b)) // a string always marshals
	return Response{Result: enc, Metadata: &Metadata{ContentType: ContentBinary}}
}

// JSONResponse returns the response for a JSON result given as its text; Line compacts it and
// fails if it is not valid JSON.
func JSONResponse(raw json.RawMessage) Response {
	return Response{Result: raw, Metadata: &Metadata{ContentType: ContentJSON}}
}

// ValueResponse returns the response for a Go value: a string is text, []byte is binary, anything
// else is JSON. It fails when the value cannot be encoded as JSON.
func ValueResponse(v any) (Response, error) {
	switch v := v.(type) {
	case string:
		return TextResponse(v), nil
	case []byte:
		return BinaryResponse(v), nil
	}
	b, err := marshal(v)
	if err != nil {
		return Response{}, err
	}
	return JSONResponse(b), nil
}

// ErrorResponse returns the response for a failed call; an empty errorType is AlgorithmError.
func ErrorResponse(errorType, message, stacktrace string) Response {
	if errorType == "" {
		errorType = AlgorithmError
	}
	return Response{Error: &ErrorBody{Message: message, ErrorType: errorType, Stacktrace: stacktrace}}
}

// Line encodes the response as one line ending in "\n", with no raw newline inside.
func (r Response) Line() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
