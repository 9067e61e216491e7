package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/auth"
	"github.com/algos-dev/algos/controlplane/invoke"
	"github.com/algos-dev/algos/controlplane/registry"
)

// HeaderNode is set by an agent on the calls it forwards from its workers: its node ID.
const HeaderNode = "X-Algos-Node"

// call serves POST /v1/algo/{owner}/{name}[/{version}].
func (h *Handler) call(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	q := r.URL.Query()
	var o invoke.Options
	if t := q.Get("timeout"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 || n > registry.MaxTimeout {
			return fmt.Errorf("%w: timeout=%q: give whole seconds from 1 to %d", errInput, t, registry.MaxTimeout)
		}
		o.Timeout = time.Duration(n) * time.Second
	}
	o.Stdout = q.Get("stdout") == "true"
	if p.Calling != nil { // a call from inside an algorithm, through its node's agent
		o.Node = r.Header.Get(HeaderNode)
	}
	output := q.Get("output")
	switch output {
	case "", "raw", "void":
	default:
		return fmt.Errorf("%w: output=%q: use raw or void", errInput, output)
	}
	v, err := h.cfg.Invoke.Resolve(r.Context(), p, r.PathValue("owner"), r.PathValue("name"), r.PathValue("version"))
	if err != nil {
		return err
	}
	line, err := requestLine(r, h.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	// The server's read timeout bounds the upload; the call itself may run far longer and must
	// not be cancelled by that deadline expiring under the connection's background read.
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	if output == "void" {
		id, err := h.cfg.Invoke.Submit(r.Context(), h.cfg.Base, p, v, line, o)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, api.AsyncReply{Async: "void", RequestID: id})
		return nil
	}
	out, err := h.cfg.Invoke.Call(r.Context(), p, v, line, o)
	if err != nil {
		return err
	}
	if output == "raw" && out.Worker.Error == nil {
		return writeRawResult(w, out)
	}
	b, status := out.Envelope()
	writeRaw(w, status, "application/json", b)
	return nil
}

// writeRawResult answers output=raw: the result itself, without the envelope.
func writeRawResult(w http.ResponseWriter, out *invoke.Outcome) error {
	switch out.Worker.Metadata.ContentType {
	case api.ContentText, api.ContentBinary:
		var s string
		if err := json.Unmarshal(out.Worker.Result, &s); err != nil {
			return &api.Error{Status: http.StatusBadGateway, ErrorBody: api.ErrorBody{ErrorType: api.ErrTypeAlgorithm, Message: "the worker sent a text or binary result that is not a JSON string"}}
		}
		if out.Worker.Metadata.ContentType == api.ContentText {
			writeRaw(w, http.StatusOK, "text/plain; charset=utf-8", []byte(s))
			return nil
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return &api.Error{Status: http.StatusBadGateway, ErrorBody: api.ErrorBody{ErrorType: api.ErrTypeAlgorithm, Message: "the worker sent a binary result that is not base64"}}
		}
		writeRaw(w, http.StatusOK, "application/octet-stream", b)
	default:
		writeRaw(w, http.StatusOK, "application/json", out.Worker.Result)
	}
	return nil
}

// requestLine reads a call's body into one worker-protocol request line. The body's
// Content-Type decides: JSON (validated and compacted), text (valid UTF-8), or binary (base64).
// Without a usable Content-Type (curl -d sends a form type) a body that parses as JSON is JSON
// and any other is text.
func requestLine(r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	if err != nil {
		return nil, err
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	kind := ""
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		kind = api.ContentJSON
	case strings.HasPrefix(mt, "text/"):
		kind = api.ContentText
	case mt == "application/octet-stream" || strings.HasPrefix(mt, "image/") || strings.HasPrefix(mt, "audio/") || strings.HasPrefix(mt, "video/"):
		kind = api.ContentBinary
	default:
		if json.Valid(body) {
			kind = api.ContentJSON
		} else {
			kind = api.ContentText
		}
	}
	var buf bytes.Buffer
	buf.Grow(len(body) + len(body)/3 + 48)
	buf.WriteString(`{"content_type":"` + kind + `","data":`)
	switch kind {
	case api.ContentJSON:
		if len(bytes.TrimSpace(body)) == 0 {
			return nil, fmt.Errorf("%w: the body is empty; send a JSON value such as null", errInput)
		}
		if err := json.Compact(&buf, body); err != nil {
			return nil, fmt.Errorf("%w: the body is not valid JSON (%v); send text with Content-Type: text/plain", errInput, err)
		}
	case api.ContentText:
		if !utf8.Valid(body) {
			return nil, fmt.Errorf("%w: the text body is not valid UTF-8; send bytes with Content-Type: application/octet-stream", errInput)
		}
		b, _ := json.Marshal(string(body))
		buf.Write(b)
	default:
		buf.WriteByte('"')
		enc := base64.NewEncoder(base64.StdEncoding, &buf)
		_, _ = enc.Write(body)
		_ = enc.Close()
		buf.WriteByte('"')
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// getRequest serves GET /v1/requests/{id}: 202 while pending, then 200 with the stored
// envelope, a result or an error.
func (h *Handler) getRequest(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	pending, env, err := h.cfg.Invoke.Request(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if pending {
		writeJSON(w, http.StatusAccepted, api.RequestState{RequestID: r.PathValue("id"), Status: "pending"})
		return nil
	}
	writeRaw(w, http.StatusOK, "application/json", env)
	return nil
}

// callGraph serves GET /v1/algorithms/{owner}/{name}/graph: the versions the algorithm calls
// (transitively) and those calling it, with call counts. Versions the caller may not see are
// left out.
func (h *Handler) callGraph(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	owner, name := r.PathValue("owner"), r.PathValue("name")
	if _, err := h.cfg.Registry.GetAlgorithm(r.Context(), owner, name, viewer(p, owner)); err != nil {
		return err
	}
	if h.cfg.Graph == nil {
		writeJSON(w, http.StatusOK, api.CallGraph{Algorithm: owner + "/" + name, Versions: []api.CallGraphNode{}, Edges: []api.CallGraphEdge{}})
		return nil
	}
	visible := map[string]bool{}
	res := map[string]api.Resources{}
	g := h.cfg.Graph.Of(owner+"/"+name, nil)
	for _, n := range g.Versions {
		v, err := h.cfg.Registry.VersionByID(r.Context(), n.Version)
		if err == nil && (v.Public || p.ActsFor(v.Owner)) {
			visible[n.Version] = true
			res[n.Version] = v.Manifest.Resources
		}
	}
	out := api.CallGraph{Algorithm: g.Algorithm, Versions: []api.CallGraphNode{}, Edges: []api.CallGraphEdge{}}
	for _, n := range g.Versions {
		if visible[n.Version] {
			n.Resources = res[n.Version]
			out.Versions = append(out.Versions, n)
		}
	}
	for _, e := range g.Edges {
		if visible[e.Caller] && visible[e.Callee] {
			out.Edges = append(out.Edges, e)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
