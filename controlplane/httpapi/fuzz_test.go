package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"unicode/utf8"
)

// FuzzRequestLine: whatever the body and Content-Type, decoding a call's input never panics,
// and what it accepts is one protocol request line: valid JSON, no raw newline, a known
// content_type. `make fuzz` runs it for a bounded time; crashers land in testdata/fuzz and run
// with every `go test`.
func FuzzRequestLine(f *testing.F) {
	for _, s := range [][2]string{
		{"application/json", `{"a":[1,2]}`}, {"text/plain", "héllo\nworld"}, {"application/octet-stream", "\x00\xff"},
		{"", `"x"`}, {"", "not json"}, {"application/json", "{"}, {"text/plain", "\xff\xfe"}, {"image/png", "\x89PNG"},
		{"application/json; charset=utf-8", `"multi\nline"`}, {"application/vnd.x+json", "null"}, {"multipart/form-data; boundary=x", "--x"},
	} {
		f.Add(s[0], []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		r := httptest.NewRequest("POST", "/v1/algo/a/b", bytes.NewReader(body))
		r.Header.Set("Content-Type", ct)
		line, err := requestLine(r, 1<<20)
		if err != nil {
			return
		}
		if bytes.ContainsRune(line, '\n') {
			t.Fatalf("request line holds a raw newline: %q", line)
		}
		var req struct {
			ContentType string          `json:"content_type"`
			Data        json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(line, &req); err != nil {
			t.Fatalf("request line is not JSON: %q: %v", line, err)
		}
		switch req.ContentType {
		case "json", "binary":
		case "text":
			var s string
			if json.Unmarshal(req.Data, &s) != nil || !utf8.ValidString(s) {
				t.Fatalf("text input is not a UTF-8 string: %q", req.Data)
			}
		default:
			t.Fatalf("content_type %q", req.ContentType)
		}
	})
}
