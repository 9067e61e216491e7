package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestRequestLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ct, body, want string
		err            bool
	}{
		{"application/json", `{"a": [1, 2]}`, `{"content_type":"json","data":{"a":[1,2]}}`, false},
		{"application/json; charset=utf-8", "\"multi\\nline\"\n", `{"content_type":"json","data":"multi\nline"}`, false},
		{"application/vnd.x+json", `null`, `{"content_type":"json","data":null}`, false},
		{"text/plain", "a \"quoted\"\nline", `{"content_type":"text","data":"a \"quoted\"\nline"}`, false},
		{"application/octet-stream", "\x00\xff", `{"content_type":"binary","data":"AP8="}`, false},
		{"image/png", "\x89PNG", `{"content_type":"binary","data":"iVBORw=="}`, false},
		{"application/x-www-form-urlencoded", `[1]`, `{"content_type":"json","data":[1]}`, false},
		{"", `hello`, `{"content_type":"text","data":"hello"}`, false},
		{"application/json", `{"a":`, "", true},
		{"application/json", `  `, "", true},
		{"text/plain", "\xff", "", true},
	}
	for _, tc := range tests {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
		if tc.ct != "" {
			r.Header.Set("Content-Type", tc.ct)
		}
		got, err := requestLine(r, 1<<20)
		if tc.err {
			if !errors.Is(err, errInput) {
				t.Errorf("%s %q: err %v, want errInput", tc.ct, tc.body, err)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("%s %q: got %s %v, want %s", tc.ct, tc.body, got, err, tc.want)
		}
		if strings.Contains(string(got), "\n") {
			t.Errorf("request line contains a raw newline: %q", got)
		}
	}
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("x", 100)))
	var mbe *http.MaxBytesError
	if _, err := requestLine(r, 10); !errors.As(err, &mbe) {
		t.Fatalf("oversize body: %v", err)
	}
}

func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/v1/algo/{owner}/{name}", "/v1/requests/{id}", "/v1/algorithms/{owner}/{name}/versions", "/v1/keys", "/v1/node-pools"} {
		if doc.Paths[p] == nil {
			t.Errorf("openapi.json lacks %s", p)
		}
	}
	// Every route the router registers is documented, with its method.
	src, err := os.ReadFile("server.go")
	if err != nil {
		t.Fatal(err)
	}
	routes := regexp.MustCompile(`m\.HandleFunc\("([A-Z]+) (/v1/[^"]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(routes) < 40 {
		t.Fatalf("found %d routes in server.go", len(routes))
	}
	for _, r := range routes {
		path := strings.ReplaceAll(r[2], "...}", "}")
		if doc.Paths[path][strings.ToLower(r[1])] == nil {
			t.Errorf("openapi.json lacks %s %s", r[1], path)
		}
	}
}
