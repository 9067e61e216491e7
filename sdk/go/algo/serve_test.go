package algo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/algos-dev/algos/sdk/internal/wire"
	wt "github.com/algos-dev/algos/sdk/internal/workertest"
)

// recorder records what serve writes to the log and the response pipe, in order.
type recorder struct {
	events  []string
	failOut bool
}

type stream struct {
	r    *recorder
	name string
}

func (s stream) Write(p []byte) (int, error) {
	if s.name == "out" && s.r.failOut {
		return 0, errors.New("broken pipe")
	}
	s.r.events = append(s.r.events, s.name+":"+string(p))
	return len(p), nil
}

func (s stream) Close() error {
	s.r.events = append(s.r.events, s.name+":close")
	return nil
}

func (r *recorder) log() io.Writer { return stream{r, "log"} }

func (r *recorder) openOut() (io.WriteCloser, error) {
	r.events = append(r.events, "open")
	return stream{r, "out"}, nil
}

func testApply(input any) (any, error) {
	switch input {
	case "bytes":
		return []byte{0, 0xff}, nil
	case "map":
		return map[string]any{"a": 1, "b": []int{2}}, nil
	case "nil":
		return nil, nil
	case "raw":
		return json.RawMessage(`{"raw": [1, 2]}`), nil
	case "html":
		return "<a&b>", nil
	case "chan":
		return make(chan int), nil
	case "inf":
		return math.Inf(1), nil
	case "typed":
		return nil, &Error{Type: "InputError", Message: "the input is wrong"}
	case "wrapped":
		return nil, fmt.Errorf("parse: %w", &Error{Type: "InputError", Message: "bad digit"})
	case "untyped":
		return nil, &Error{Message: "no type"}
	case "plain":
		return nil, errors.New("plain failure")
	case "panic":
		panic("boom")
	}
	return input, nil
}

func TestServeCall(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		request string
		want    wt.Want
	}{
		{"json object", wt.JSON(`{"a": [1, 2.5, null, true], "b": {"c": "d"}}`), wt.Want{ContentType: "json", Result: `{"a":[1,2.5,null,true],"b":{"c":"d"}}`}},
		{"json number", wt.JSON(`12345678901`), wt.Want{ContentType: "json", Result: `12345678901`}},
		{"json null", wt.JSON(`null`), wt.Want{ContentType: "json", Result: `null`}},
		{"json string is text", wt.JSON(`"s"`), wt.Want{ContentType: "text", Result: `"s"`}},
		{"text", wt.Text("héllo\nwörld"), wt.Want{ContentType: "text", Result: `"héllo\nwörld"`}},
		{"binary", wt.Binary([]byte{0, 1, 0xfe, 0xff}), wt.Want{ContentType: "binary", Result: `"AAH+/w=="`}},
		{"bytes result", wt.Text("bytes"), wt.Want{ContentType: "binary", Result: `"AP8="`}},
		{"map result", wt.Text("map"), wt.Want{ContentType: "json", Result: `{"a":1,"b":[2]}`}},
		{"nil result", wt.Text("nil"), wt.Want{ContentType: "json", Result: `null`}},
		{"raw message result", wt.Text("raw"), wt.Want{ContentType: "json", Result: `{"raw":[1,2]}`}},
		{"html kept", wt.Text("html"), wt.Want{ContentType: "text", Result: `"<a&b>"`}},
		{"unencodable", wt.Text("chan"), wt.Want{ErrorType: "AlgorithmError", Message: "cannot be encoded as JSON (json: unsupported type: chan int)"}},
		{"infinity", wt.Text("inf"), wt.Want{ErrorType: "AlgorithmError", Message: "unsupported value: +Inf"}},
		{"typed error", wt.Text("typed"), wt.Want{ErrorType: "InputError", Message: "the input is wrong"}},
		{"wrapped typed error", wt.Text("wrapped"), wt.Want{ErrorType: "InputError", MessageEnd: "parse: bad digit"}},
		{"typed error without type", wt.Text("untyped"), wt.Want{ErrorType: "AlgorithmError", MessageEnd: "no type"}},
		{"plain error", wt.Text("plain"), wt.Want{ErrorType: "AlgorithmError", MessageEnd: "plain failure"}},
		{"panic", wt.Text("panic"), wt.Want{ErrorType: "AlgorithmError", MessageEnd: "panic: boom", Stacktrace: "algo.testApply("}},
		{"unknown content type", `{"content_type":"xml","data":"x"}`, wt.Want{ErrorType: wire.ProtocolError, Message: `unknown content_type "xml"`}},
		{"not json", `not json`, wt.Want{ErrorType: wire.ProtocolError, Message: "not a JSON object"}},
		{"no data", `{"content_type":"json"}`, wt.Want{ErrorType: wire.ProtocolError, Message: `no "data" field`}},
		{"text not a string", `{"content_type":"text","data":1}`, wt.Want{ErrorType: wire.ProtocolError, Message: "not a JSON string"}},
		{"bad base64", `{"content_type":"binary","data":"**"}`, wt.Want{ErrorType: wire.ProtocolError, Message: "base64"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var r recorder
			err := serve(t.Context(), strings.NewReader(tt.request+"\n"), r.log(), r.openOut, nil, testApply)
			if err != nil {
				t.Fatalf("serve: %v", err)
			}
			if len(r.events) != 5 {
				t.Fatalf("events = %q, want open, init, marker, response, close", r.events)
			}
			want := []string{"open", "log:" + wire.InitLine + "\n", "log:" + wire.MarkerLine + "\n"}
			for i, w := range want {
				if r.events[i] != w {
					t.Errorf("event %d = %q, want %q", i, r.events[i], w)
				}
			}
			line, ok := strings.CutPrefix(r.events[3], "out:")
			if !ok || strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
				t.Fatalf("event 3 = %q, want one response line", r.events[3])
			}
			var resp wire.Response
			if err := json.Unmarshal([]byte(line), &resp); err != nil {
				t.Fatalf("response %q: %v", line, err)
			}
			wt.Check(t, resp, nil, tt.want)
		})
	}
}

func TestServeSequence(t *testing.T) {
	t.Parallel()
	stdin := strings.Join([]string{wt.Text("panic"), "", "  ", wt.JSON("1"), wt.Text("plain"), wt.JSON("2")}, "\n")
	var r recorder
	if err := serve(t.Context(), strings.NewReader(stdin), r.log(), r.openOut, nil, testApply); err != nil {
		t.Fatalf("serve: %v", err)
	}
	var got []string
	for _, e := range r.events {
		if strings.HasPrefix(e, `out:{"error"`) {
			e = "error"
		}
		got = append(got, strings.TrimSpace(e))
	}
	want := []string{
		"open", "log:" + wire.InitLine,
		"log:" + wire.MarkerLine, "error",
		"log:" + wire.MarkerLine, `out:{"result":1,"metadata":{"content_type":"json"}}`,
		"log:" + wire.MarkerLine, "error",
		"log:" + wire.MarkerLine, `out:{"result":2,"metadata":{"content_type":"json"}}`,
		"out:close",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("events =\n%q\nwant\n%q", got, want)
	}
}

func TestServeStartAndStop(t *testing.T) {
	t.Parallel()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name       string
		ctx        context.Context
		load       func(r *recorder) func() error
		apply      func(input any) (any, error)
		failOpen   bool
		failOut    bool
		wantErr    []string // substrings of the error; nil: no error
		wantEvents []string
	}{{
		name: "load runs before the pipe opens",
		ctx:  t.Context(),
		load: func(r *recorder) func() error {
			return func() error { r.events = append(r.events, "load"); return nil }
		},
		apply: testApply,
		wantEvents: []string{"load", "open", "log:" + wire.InitLine + "\n", "log:" + wire.MarkerLine + "\n",
			`out:{"result":1,"metadata":{"content_type":"json"}}` + "\n", "out:close"},
	}, {
		name: "load error",
		ctx:  t.Context(),
		load: func(*recorder) func() error {
			return func() error { return errors.New("model file missing") }
		},
		apply:   testApply,
		wantErr: []string{"load: model file missing"},
	}, {
		name: "load panic",
		ctx:  t.Context(),
		load: func(*recorder) func() error {
			return func() error { panic("no model") }
		},
		apply:   testApply,
		wantErr: []string{"load: panic: no model\n", "runtime/debug.Stack"},
	}, {
		name:     "pipe fails to open",
		ctx:      t.Context(),
		apply:    testApply,
		failOpen: true,
		wantErr:  []string{"open the response pipe: no such fifo"},
	}, {
		name:       "response pipe broken",
		ctx:        t.Context(),
		apply:      testApply,
		failOut:    true,
		wantErr:    []string{"write the response pipe: broken pipe"},
		wantEvents: []string{"open", "log:" + wire.InitLine + "\n", "log:" + wire.MarkerLine + "\n", "out:close"},
	}, {
		name:       "context ended",
		ctx:        canceled,
		apply:      testApply,
		wantErr:    []string{context.Canceled.Error()},
		wantEvents: []string{"open", "log:" + wire.InitLine + "\n", "out:close"},
	}, {
		name:    "no apply",
		ctx:     t.Context(),
		wantErr: []string{"no apply function"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := recorder{failOut: tt.failOut}
			var load func() error
			if tt.load != nil {
				load = tt.load(&r)
			}
			openOut := r.openOut
			if tt.failOpen {
				openOut = func() (io.WriteCloser, error) { return nil, errors.New("no such fifo") }
			}
			err := serve(tt.ctx, strings.NewReader(wt.JSON("1")+"\n"), r.log(), openOut, load, tt.apply)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("serve: %v", err)
			case tt.wantErr != nil && err == nil:
				t.Fatalf("serve returned nil, want an error containing %q", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error = %q, want it to contain %q", err, w)
				}
			}
			if tt.wantEvents != nil && strings.Join(r.events, "|") != strings.Join(tt.wantEvents, "|") {
				t.Errorf("events = %q, want %q", r.events, tt.wantEvents)
			}
			if tt.wantEvents == nil && len(r.events) != 0 {
				t.Errorf("events = %q, want none", r.events)
			}
		})
	}
}
