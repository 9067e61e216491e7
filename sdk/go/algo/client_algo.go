package algo

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Algorithm is an algorithm to call; Client.Algo makes one.
type Algorithm struct {
	c    *Client
	path string // owner/name[/version]
	url  string // /v1/algo/…, escaped
	err  error  // a bad reference, returned by Pipe
	opts callOptions
}

// CallOption sets an option of the calls made through an Algorithm.
type CallOption func(*callOptions)

type callOptions struct {
	timeout time.Duration
	stdout  bool
	raw     bool
}

// CallTimeout asks the API to stop the call after d (rounded up to whole seconds; the API
// accepts 1 s to 3000 s). Without it the version's own timeout applies (300 s by default).
func CallTimeout(d time.Duration) CallOption { return func(o *callOptions) { o.timeout = d } }

// Stdout asks for the call's log in Metadata.Stdout; the API honours it for the algorithm's
// owner only.
func Stdout() CallOption { return func(o *callOptions) { o.stdout = true } }

// Raw asks for the result alone (output=raw): a binary result comes as its bytes, without the
// base64 of the envelope. The Response has no Duration then.
func Raw() CallOption { return func(o *callOptions) { o.raw = true } }

var refPattern = regexp.MustCompile(`^(?:algo://|/)?(\w[\w.\-]*/.+)$`)

// Algo returns the algorithm ref names: "owner/name", "owner/name/1.2.3", "owner/name/1.2.*",
// "owner/name/latest", also written "algo://owner/name…" or "/owner/name…". A bad reference is
// reported by Pipe, wrapping ErrInvalidReference.
func (c *Client) Algo(ref string, opts ...CallOption) *Algorithm {
	a := &Algorithm{c: c}
	for _, o := range opts {
		o(&a.opts)
	}
	m := refPattern.FindStringSubmatch(ref)
	if m == nil {
		a.err = fmt.Errorf("%w: algorithm %q: use owner/name[/version]", ErrInvalidReference, ref)
		return a
	}
	a.path = strings.TrimRight(m[1], "/")
	a.url = "/v1/algo/" + escape(a.path, "/*+@:")
	return a
}

// Path returns the algorithm's owner/name[/version].
func (a *Algorithm) Path() string { return a.path }

// Response is the reply of a successful call.
type Response struct {
	// Result is the result decoded: for a JSON result the value encoding/json decodes into any
	// (objects are map[string]any, numbers float64), for text a string, for binary the bytes
	// (base64-decoded), nil for "void".
	Result any
	// RawResult is the result as the reply's envelope carried it (JSON; for binary, the JSON
	// string of its base64). With Raw it holds a JSON result's text, and is nil for text and
	// binary results.
	RawResult json.RawMessage
	// Metadata describes the result.
	Metadata Metadata
}

// Metadata describes a call's result.
type Metadata struct {
	// ContentType is "json", "text" or "binary" ("void" for no result).
	ContentType string
	// Duration is how long the algorithm ran, as the API measured it; 0 with Raw.
	Duration time.Duration
	// Stdout is the call's log, when asked for with Stdout and given.
	Stdout string
	// Full is the reply's metadata object as sent; nil with Raw.
	Full json.RawMessage
}

// Decode stores the result in v, as encoding/json does with RawResult: a JSON result into any
// fitting value, a text result into a *string, a binary result into a *[]byte.
func (r *Response) Decode(v any) error {
	if r.RawResult != nil {
		return json.Unmarshal(r.RawResult, v)
	}
	switch x := r.Result.(type) {
	case string:
		if p, ok := v.(*string); ok {
			*p = x
			return nil
		}
	case []byte:
		if p, ok := v.(*[]byte); ok {
			*p = x
			return nil
		}
	}
	return fmt.Errorf("cannot decode a %s result into %T", r.Metadata.ContentType, v)
}

// Pipe calls the algorithm on input and returns its reply. The input goes as Algorithmia's
// client sends it: a string as text (text/plain), a []byte as binary (application/octet-stream),
// a json.RawMessage as the JSON it holds, anything else (nil too) encoded as JSON.
//
// A call that fails with Algorithmia's error envelope — the algorithm's own error, its timeout,
// an unknown algorithm, a key or token that may not call it — returns an *Error with the
// envelope's error type, message and stack trace; a failed reply without an envelope returns
// an *Error without a type. Pipe waits for the reply as long as ctx allows, and at most the
// call's timeout plus a minute (3060 s without CallTimeout).
func (a *Algorithm) Pipe(ctx context.Context, input any) (*Response, error) {
	if a.err != nil {
		return nil, a.err
	}
	body, contentType, err := encodeInput(input)
	if err != nil {
		return nil, fmt.Errorf("calling %s: %w", a.path, err)
	}
	q := url.Values{}
	wait := defaultCallWait
	if a.opts.timeout > 0 {
		secs := int64(math.Ceil(a.opts.timeout.Seconds()))
		q.Set("timeout", strconv.FormatInt(secs, 10))
		wait = time.Duration(secs)*time.Second + callMargin
	}
	if a.opts.stdout {
		q.Set("stdout", "true")
	}
	if a.opts.raw {
		q.Set("output", "raw")
	}
	resp, err := a.c.do(ctx, request{
		method: http.MethodPost, path: a.url, query: q,
		body: bytes.NewReader(body), contentType: contentType, idle: wait,
	})
	if err != nil {
		return nil, fmt.Errorf("calling %s: %w", a.path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		e := replyError(resp, "")
		if e.Type == "" {
			e.Message = "calling " + a.path + ": " + e.Message
		}
		return nil, e
	}
	reply, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("calling %s: %w", a.path, err)
	}
	if a.opts.raw {
		return rawResponse(resp.Header.Get("Content-Type"), reply)
	}
	r, err := parseReply(reply)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.StatusCode = resp.StatusCode
			return nil, e
		}
		return nil, fmt.Errorf("calling %s: %w", a.path, err)
	}
	return r, nil
}

// encodeInput returns the body and Content-Type of an algorithm's input.
func encodeInput(input any) ([]byte, string, error) {
	switch v := input.(type) {
	case string:
		return []byte(v), "text/plain", nil
	case []byte:
		return v, "application/octet-stream", nil
	case json.RawMessage:
		if !json.Valid(v) {
			return nil, "", errors.New("the json.RawMessage input is not valid JSON")
		}
		return v, "application/json", nil
	}
	b, err := marshal(input)
	if err != nil {
		return nil, "", fmt.Errorf("the input cannot be encoded as JSON: %w", err)
	}
	return b, "application/json", nil
}

// parseReply decodes a call's reply envelope. It returns an *Error for an error envelope.
func parseReply(body []byte) (*Response, error) {
	var env struct {
		Result   json.RawMessage `json:"result"`
		Metadata json.RawMessage `json:"metadata"`
		Error    json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("the API answered with a body that is not a JSON object: %w", err)
	}
	if env.Error != nil && string(env.Error) != "null" {
		e, _ := parseEnvelope(body)
		return nil, e
	}
	var md struct {
		ContentType string  `json:"content_type"`
		Duration    float64 `json:"duration"`
		Stdout      string  `json:"stdout"`
	}
	if len(env.Metadata) == 0 || env.Metadata[0] != '{' || json.Unmarshal(env.Metadata, &md) != nil {
		return nil, fmt.Errorf("the API answered without metadata: %.200s", body)
	}
	r := &Response{
		RawResult: env.Result,
		Metadata: Metadata{
			ContentType: md.ContentType,
			Duration:    time.Duration(md.Duration * float64(time.Second)),
			Stdout:      md.Stdout,
			Full:        env.Metadata,
		},
	}
	switch md.ContentType {
	case "void":
		return r, nil
	case "text":
		var s string
		if err := json.Unmarshal(env.Result, &s); err != nil {
			return nil, fmt.Errorf("the API answered a text result that is not a JSON string: %w", err)
		}
		r.Result = s
	case "binary":
		var s string
		if err := json.Unmarshal(env.Result, &s); err != nil {
			return nil, fmt.Errorf("the API answered a binary result that is not a JSON string: %w", err)
		}
		b, err := base64.StdEncoding.Strict().DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("the API answered a binary result that is not base64: %w", err)
		}
		r.Result = b
	default:
		if env.Result == nil {
			return nil, errors.New("the API answered without a result")
		}
		var v any
		if err := json.Unmarshal(env.Result, &v); err != nil {
			return nil, fmt.Errorf("the API answered a result that is not JSON: %w", err)
		}
		r.Result = v
	}
	return r, nil
}

// rawResponse is the Response of an output=raw reply, by its Content-Type: JSON, text, or else
// binary.
func rawResponse(contentType string, body []byte) (*Response, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case mt == "application/json":
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return nil, fmt.Errorf("the API answered a raw JSON result that is not JSON: %w", err)
		}
		return &Response{Result: v, RawResult: body, Metadata: Metadata{ContentType: "json"}}, nil
	case strings.HasPrefix(mt, "text/"):
		return &Response{Result: string(body), Metadata: Metadata{ContentType: "text"}}, nil
	default:
		return &Response{Result: body, Metadata: Metadata{ContentType: "binary"}}, nil
	}
}

// escape percent-encodes s as Python's urllib.parse.quote(s, safe) does: letters, digits,
// "_.-~" and the bytes in safe stay as they are.
func escape(s, safe string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("_.-~", c) >= 0 || strings.IndexByte(safe, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
