package workertest

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/algos-dev/algos/sdk/internal/wire"
)

// JSON returns the request line for a JSON input given as its text.
func JSON(data string) string {
	return `{"content_type":"json","data":` + data + `}`
}

// Text returns the request line for a text input.
func Text(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return `{"content_type":"text","data":` + string(b) + `}`
}

// Binary returns the request line for a binary input.
func Binary(b []byte) string {
	return `{"content_type":"binary","data":"` + base64.StdEncoding.EncodeToString(b) + `"}`
}

// Want is what a test expects of one call. A zero ErrorType expects a result.
type Want struct {
	ContentType string   // the result's content type
	Result      string   // the result's JSON text, compared as a JSON value
	ErrorType   string   // the error's type
	Message     string   // a substring of the error message
	MessageEnd  string   // a suffix of the error message
	Stacktrace  string   // a substring of the stack trace
	Log         []string // the call's log lines; nil: not checked
}

// Check reports where a response and a call's log differ from want.
func Check(t testing.TB, resp wire.Response, log []string, want Want) {
	t.Helper()
	if want.Log != nil && !slices.Equal(log, want.Log) {
		t.Errorf("log = %q, want %q", log, want.Log)
	}
	if want.ErrorType != "" {
		if resp.Error == nil {
			t.Errorf("result %s (%+v), want error %s", resp.Result, resp.Metadata, want.ErrorType)
			return
		}
		e := resp.Error
		if e.ErrorType != want.ErrorType {
			t.Errorf("error_type = %q, want %q (message %q)", e.ErrorType, want.ErrorType, e.Message)
		}
		if !strings.Contains(e.Message, want.Message) || !strings.HasSuffix(e.Message, want.MessageEnd) {
			t.Errorf("message = %q, want it to contain %q and end with %q", e.Message, want.Message, want.MessageEnd)
		}
		if !strings.Contains(e.Stacktrace, want.Stacktrace) {
			t.Errorf("stacktrace = %q, want it to contain %q", e.Stacktrace, want.Stacktrace)
		}
		return
	}
	if resp.Error != nil {
		t.Errorf("error %+v, want result %s", *resp.Error, want.Result)
		return
	}
	if resp.Metadata.ContentType != want.ContentType {
		t.Errorf("content_type = %q, want %q", resp.Metadata.ContentType, want.ContentType)
	}
	var got, exp any
	if err := json.Unmarshal(resp.Result, &got); err != nil {
		t.Errorf("result %s: %v", resp.Result, err)
		return
	}
	if err := json.Unmarshal([]byte(want.Result), &exp); err != nil {
		t.Fatalf("want.Result %s: %v", want.Result, err)
	}
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("result = %s, want %s", resp.Result, want.Result)
	}
}
