package api

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// Metadata is the metadata of a call's reply.
type Metadata struct {
	ContentType string  `json:"content_type"`
	Duration    float64 `json:"duration"` // seconds
	Stdout      *string `json:"stdout,omitempty"`
}

// CallResponse is Algorithmia's reply envelope: {"result":…,"metadata":{…}}, or the error form.
type CallResponse struct {
	Result   json.RawMessage `json:"result,omitempty"`
	Metadata *Metadata       `json:"metadata,omitempty"`
	Error    *ErrorBody      `json:"error,omitempty"`
}

// Text returns a text result.
func (r *CallResponse) Text() (string, error) {
	var s string
	if err := json.Unmarshal(r.Result, &s); err != nil {
		return "", fmt.Errorf("result is not text: %w", err)
	}
	return s, nil
}

// Bytes returns a binary result decoded from base64, or a text result's bytes.
func (r *CallResponse) Bytes() ([]byte, error) {
	s, err := r.Text()
	if err != nil {
		return nil, err
	}
	if r.Metadata != nil && r.Metadata.ContentType == ContentBinary {
		return base64.StdEncoding.DecodeString(s)
	}
	return []byte(s), nil
}

// WorkerRequest is one request line of the worker protocol (docs/worker-protocol.md).
type WorkerRequest struct {
	ContentType string          `json:"content_type"`
	Data        json.RawMessage `json:"data"`
}

// WorkerResponse is one response line of the worker protocol.
type WorkerResponse struct {
	Result   json.RawMessage `json:"result,omitempty"`
	Metadata *struct {
		ContentType string `json:"content_type"`
	} `json:"metadata,omitempty"`
	Error *ErrorBody `json:"error,omitempty"`
}
