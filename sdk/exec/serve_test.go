package execrunner

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/algos-dev/algos/sdk/internal/wire"
	wt "github.com/algos-dev/algos/sdk/internal/workertest"
)

// server is Serve running in the background over a real FIFO and pipes.
type server struct {
	*wt.Agent
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// start starts Serve; at cleanup ctx ends and Serve must return.
func start(t *testing.T, argv []string, output string) *server {
	t.Helper()
	a, ends := wt.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{Agent: a, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.err = Serve(ctx, Config{Argv: argv, Output: output, Stdin: ends.Stdin, Log: ends.Log, PipePath: ends.PipePath})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(wt.Timeout):
			t.Error("Serve did not return after ctx ended")
		}
	})
	return s
}

// wait returns Serve's error.
func (s *server) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-s.done:
		return s.err
	case <-time.After(wt.Timeout):
		t.Fatalf("Serve did not return within %v", wt.Timeout)
		return nil
	}
}

func b64(b []byte) string { return `"` + base64.StdEncoding.EncodeToString(b) + `"` }

type testCall struct {
	request string
	want    wt.Want
}

func TestServeCalls(t *testing.T) {
	t.Parallel()
	script := filepath.Join(t.TempDir(), "script.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nprintf 'script ran with %s' \"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	relScript, err := filepath.Rel(wd, script)
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte{0xff, 0, 'a', '\n'}, 256<<10) // 1 MiB, not UTF-8
	sh := func(script string, args ...string) []string { return append([]string{"sh", "-c", script}, args...) }
	tests := []struct {
		name   string
		argv   []string
		output string
		calls  []testCall
	}{{
		name: "cat auto",
		argv: []string{"cat"},
		calls: []testCall{
			{wt.JSON(`{"a": [1, 2.5, null]}`), wt.Want{ContentType: "json", Result: `{"a":[1,2.5,null]}`, Log: []string{}}},
			{wt.Text("héllo\n"), wt.Want{ContentType: "text", Result: `"héllo\n"`}},
			{wt.Text("42"), wt.Want{ContentType: "json", Result: `42`}},
			{wt.Text(""), wt.Want{ContentType: "text", Result: `""`}},
			{wt.Binary([]byte("hi")), wt.Want{ContentType: "text", Result: `"hi"`}},
			{wt.Binary([]byte{0xff, 0, 0xfe}), wt.Want{ContentType: "binary", Result: `"/wD+"`}},
			{wt.Binary([]byte("\"\xff\"")), wt.Want{ContentType: "binary", Result: b64([]byte("\"\xff\""))}},
			{wt.Binary(big), wt.Want{ContentType: "binary", Result: b64(big)}},
		},
	}, {
		name:   "cat text",
		argv:   []string{"cat"},
		output: OutputText,
		calls: []testCall{
			{wt.JSON(`{"a":1}`), wt.Want{ContentType: "text", Result: `"{\"a\":1}"`}},
			{wt.Binary([]byte{0xff}), wt.Want{ErrorType: wire.AlgorithmError, Message: "not valid UTF-8 text; use --output binary"}},
		},
	}, {
		name:   "cat json",
		argv:   []string{"cat"},
		output: OutputJSON,
		calls: []testCall{
			{wt.Text(" [1,\n 2]\n"), wt.Want{ContentType: "json", Result: `[1,2]`}},
			{wt.Text("not json"), wt.Want{ErrorType: wire.AlgorithmError, Message: "not valid JSON"}},
		},
	}, {
		name:   "cat binary",
		argv:   []string{"cat"},
		output: OutputBinary,
		calls: []testCall{
			{wt.Text("hi"), wt.Want{ContentType: "binary", Result: `"aGk="`}},
			{wt.JSON(`{"a":1}`), wt.Want{ContentType: "binary", Result: b64([]byte(`{"a":1}`))}},
		},
	}, {
		name: "tr in sequence",
		argv: []string{"tr", "a-z", "A-Z"},
		calls: []testCall{
			{wt.Text("hello"), wt.Want{ContentType: "text", Result: `"HELLO"`}},
			{wt.Text("world"), wt.Want{ContentType: "text", Result: `"WORLD"`}},
			{wt.Text("again"), wt.Want{ContentType: "text", Result: `"AGAIN"`}},
		},
	}, {
		name: "stderr is the log",
		argv: sh(`echo to-stderr >&2; printf partial >&2; printf out`),
		calls: []testCall{
			{wt.Text(""), wt.Want{ContentType: "text", Result: `"out"`, Log: []string{"to-stderr", "partial"}}},
			{wt.Text(""), wt.Want{ContentType: "text", Result: `"out"`, Log: []string{"to-stderr", "partial"}}},
		},
	}, {
		name: "pretty JSON becomes one line",
		argv: sh(`printf '{\n  "a": 1\n}\n'`),
		calls: []testCall{
			{wt.Text(""), wt.Want{ContentType: "json", Result: `{"a":1}`}},
		},
	}, {
		name: "invalid UTF-8",
		argv: sh(`printf '\377\376'`),
		calls: []testCall{
			{wt.Text(""), wt.Want{ContentType: "binary", Result: `"//4="`}},
		},
	}, {
		name: "failing call",
		argv: sh(`read x; if [ "$x" = fail ]; then for i in $(seq 1 12); do echo "line$i" >&2; done; exit 3; fi; printf 'ok %s' "$x"`),
		calls: []testCall{
			{wt.Text("a"), wt.Want{ContentType: "text", Result: `"ok a"`}},
			{wt.Text("fail"), wt.Want{
				ErrorType:  wire.AlgorithmError,
				Message:    "sh exited with status 3; last lines of stderr:\nline3\n",
				MessageEnd: "line11\nline12",
				Log:        strings.Split("line1 line2 line3 line4 line5 line6 line7 line8 line9 line10 line11 line12", " "),
			}},
			{wt.Text("b"), wt.Want{ContentType: "text", Result: `"ok b"`}},
		},
	}, {
		name: "killed by a signal",
		argv: sh(`kill -9 $$`),
		calls: []testCall{
			{wt.Text(""), wt.Want{ErrorType: wire.AlgorithmError, MessageEnd: "sh was killed by signal 9 (killed)"}},
		},
	}, {
		name: "input not read",
		argv: sh(`printf done`),
		calls: []testCall{
			{wt.Binary(big), wt.Want{ContentType: "text", Result: `"done"`}},
		},
	}, {
		name: "relative path",
		argv: []string{relScript, "arg"},
		calls: []testCall{
			{wt.Text(""), wt.Want{ContentType: "text", Result: `"script ran with arg"`}},
		},
	}, {
		name: "bad request lines",
		argv: []string{"cat"},
		calls: []testCall{
			{`{"content_type":"xml","data":"x"}`, wt.Want{ErrorType: wire.ProtocolError, Message: `unknown content_type "xml"`}},
			{`{"content_type":"binary","data":"**"}`, wt.Want{ErrorType: wire.ProtocolError, Message: "base64"}},
			{wt.Text("still serving"), wt.Want{ContentType: "text", Result: `"still serving"`}},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := start(t, tt.argv, tt.output)
			if got := a.WaitInit(); len(got) != 0 {
				t.Errorf("log before %s = %q, want none", wire.InitLine, got)
			}
			for i, c := range tt.calls {
				resp, log := a.Call(c.request)
				if t.Failed() {
					t.Logf("call %d", i)
				}
				wt.Check(t, resp, log, c.want)
			}
			a.CloseStdin()
			if err := a.wait(t); err != nil {
				t.Errorf("Serve after EOF: %v, want nil", err)
			}
		})
	}
}

func TestServeStartErrors(t *testing.T) {
	t.Parallel()
	plain := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(plain, []byte("not a program"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     Config
		wantErr error
		wantMsg string
	}{
		{"no argv", Config{}, ErrInvalidConfig, "no program; name it after --"},
		{"bad output", Config{Argv: []string{"cat"}, Output: "xml"}, ErrInvalidConfig, `unknown output "xml"`},
		{"not in PATH", Config{Argv: []string{"no-such-program-here"}}, ErrProgramNotFound, "no-such-program-here is not in $PATH"},
		{"in the working directory", Config{Argv: []string{"serve.go"}}, ErrProgramNotFound, "name it ./serve.go"},
		{"no such file", Config{Argv: []string{"./no/such/program"}}, ErrProgramNotFound, "./no/such/program"},
		{"not executable", Config{Argv: []string{plain}}, ErrProgramNotFound, "permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var log bytes.Buffer
			cfg := tt.cfg
			if cfg.Argv != nil {
				cfg.Stdin, cfg.Log, cfg.PipePath = strings.NewReader(""), &log, filepath.Join(t.TempDir(), "none")
			}
			err := Serve(t.Context(), cfg)
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Serve = %v, want %v containing %q", err, tt.wantErr, tt.wantMsg)
			}
			if log.Len() != 0 {
				t.Errorf("log = %q, want none", log.String())
			}
		})
	}
}

func TestServeEOFWithoutCalls(t *testing.T) {
	t.Parallel()
	a := start(t, []string{"cat"}, "")
	a.WaitInit()
	a.CloseStdin()
	if err := a.wait(t); err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
}

// TestServeContextEnds checks that ending ctx during a call kills the program's process group
// and returns without a response.
func TestServeContextEnds(t *testing.T) {
	t.Parallel()
	pids := filepath.Join(t.TempDir(), "pids")
	a := start(t, []string{"sh", "-c", `sleep 300 & echo $$ $! > "$0.tmp" && mv "$0.tmp" "$0"; wait`, pids}, "")
	a.WaitInit()
	a.Send(wt.Text("x"))
	var data []byte
	for deadline := time.Now().Add(wt.Timeout); ; time.Sleep(10 * time.Millisecond) {
		var err error
		if data, err = os.ReadFile(pids); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the program did not start: %v", err)
		}
	}
	a.cancel()
	if err := a.wait(t); !errors.Is(err, context.Canceled) {
		t.Errorf("Serve = %v, want context.Canceled", err)
	}
	for _, f := range strings.Fields(string(data)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("pid %q: %v", f, err)
		}
		for deadline := time.Now().Add(wt.Timeout); alive(pid); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Errorf("process %d still runs after ctx ended", pid)
				break
			}
		}
	}
}

// TestServeKillsLeftovers checks that what a program leaves running in its process group is
// killed when it exits.
func TestServeKillsLeftovers(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "pid")
	a := start(t, []string{"sh", "-c", `sleep 300 & echo $! > "$0"; printf started`, pidFile}, "")
	a.WaitInit()
	resp, log := a.Call(wt.Text(""))
	wt.Check(t, resp, log, wt.Want{ContentType: "text", Result: `"started"`, Log: []string{}})
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	// SIGKILL is delivered asynchronously: give the kernel a moment to reap it.
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Errorf("process %d left behind still runs after the call", pid)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive reports whether a process exists and is not a zombie.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}
