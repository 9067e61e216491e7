package wire

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line      string
		wantValue any
		wantBytes string
		wantErr   string
	}{
		{`{"content_type":"json","data":{"a": [1, null]}}` + "\n", map[string]any{"a": []any{1.0, nil}}, `{"a": [1, null]}`, ""},
		{`{"content_type":"json","data":null}`, nil, `null`, ""},
		{`{"content_type":"text","data":"h\u00e9\n"}`, "hé\n", "hé\n", ""},
		{`{"content_type":"binary","data":"AP8="}`, []byte{0, 0xff}, "\x00\xff", ""},
		{`{"content_type":"binary","data":""}`, []byte{}, "", ""},
		{`{"content_type":"json"}`, nil, "", `no "data" field`},
		{`{"data":1}`, nil, "", `unknown content_type ""`},
		{`[1]`, nil, "", "not a JSON object"},
		{`{"content_type":"text","data":1}`, nil, "", "text data is not a JSON string"},
		{`{"content_type":"binary","data":"AP8"}`, nil, "", "not standard base64"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			t.Parallel()
			req, err := ParseRequest([]byte(tt.line))
			var value any
			var raw []byte
			if err == nil {
				value, err = req.Value()
			}
			if err == nil {
				raw, err = req.Bytes()
			}
			if tt.wantErr != "" {
				var re *RequestError
				if !errors.As(err, &re) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error = %v, want a *RequestError containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("error = %v", err)
			}
			if !reflect.DeepEqual(value, tt.wantValue) {
				t.Errorf("Value = %#v, want %#v", value, tt.wantValue)
			}
			if string(raw) != tt.wantBytes {
				t.Errorf("Bytes = %q, want %q", raw, tt.wantBytes)
			}
		})
	}
}

func TestResponseLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		resp    func() (Response, error)
		want    string
		wantErr bool
	}{
		{"text", func() (Response, error) { return TextResponse("a\n<b>"), nil },
			`{"result":"a\n<b>","metadata":{"content_type":"text"}}`, false},
		{"binary", func() (Response, error) { return BinaryResponse([]byte{0xff}), nil },
			`{"result":"/w==","metadata":{"content_type":"binary"}}`, false},
		{"raw JSON compacted", func() (Response, error) { return JSONResponse(json.RawMessage("{\n \"a\": 1\n}")), nil },
			`{"result":{"a":1},"metadata":{"content_type":"json"}}`, false},
		{"null", func() (Response, error) { return ValueResponse(nil) },
			`{"result":null,"metadata":{"content_type":"json"}}`, false},
		{"value string", func() (Response, error) { return ValueResponse("s") },
			`{"result":"s","metadata":{"content_type":"text"}}`, false},
		{"value bytes", func() (Response, error) { return ValueResponse([]byte("s")) },
			`{"result":"cw==","metadata":{"content_type":"binary"}}`, false},
		{"value map", func() (Response, error) { return ValueResponse(map[string]int{"a": 1}) },
			`{"result":{"a":1},"metadata":{"content_type":"json"}}`, false},
		{"error", func() (Response, error) { return ErrorResponse("", "m", "s\nt"), nil },
			`{"error":{"message":"m","error_type":"AlgorithmError","stacktrace":"s\nt"}}`, false},
		{"error without stack", func() (Response, error) { return ErrorResponse("InputError", "m", ""), nil },
			`{"error":{"message":"m","error_type":"InputError"}}`, false},
		{"invalid raw JSON", func() (Response, error) { return JSONResponse(json.RawMessage("{")), nil }, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := tt.resp()
			if err != nil {
				t.Fatal(err)
			}
			line, err := resp.Line()
			if tt.wantErr {
				if err == nil {
					t.Errorf("Line = %s, want an error", line)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(line) != tt.want+"\n" {
				t.Errorf("Line = %s, want %s", line, tt.want)
			}
		})
	}
	if _, err := ValueResponse(make(chan int)); err == nil {
		t.Error("ValueResponse(chan) succeeded, want an error")
	}
}

func TestPipePath(t *testing.T) {
	t.Parallel()
	if got := PipePath(""); got != DefaultPipePath {
		t.Errorf("PipePath(\"\") = %q, want %q", got, DefaultPipePath)
	}
	if got := PipePath("/run/x"); got != "/run/x" {
		t.Errorf("PipePath(/run/x) = %q", got)
	}
}
