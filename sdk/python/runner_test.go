package python

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/algos-dev/algos/sdk/internal/wire"
	wt "github.com/algos-dev/algos/sdk/internal/workertest"
)

// interpreter finds the real Python interpreter once: python3 on PATH may be a slow shim.
var interpreter = sync.OnceValues(func() (string, error) {
	if _, err := exec.LookPath("python3"); err != nil {
		return "", err
	}
	out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
})

// start writes runner.py and the algorithm's files to temporary directories and starts the
// runner on entrypoint with the algorithm's directory as its working directory.
func start(t *testing.T, files map[string]string, entrypoint string) *wt.Process {
	t.Helper()
	py, err := interpreter()
	if errors.Is(err, exec.ErrNotFound) {
		t.Skip("python3 is not installed")
	}
	if err != nil {
		t.Fatalf("find python3: %v", err)
	}
	runner := filepath.Join(t.TempDir(), "runner.py")
	if err := os.WriteFile(runner, Runner(), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, src := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(py, "-u", runner, entrypoint)
	cmd.Dir = dir
	return wt.Start(t, cmd)
}

const echoAlgo = `
def apply(input):
    return input
`

const typesAlgo = `
def apply(input):
    return {
        "bytes": b"\x00\xff",
        "bytearray": bytearray(b"ab"),
        "set": {1},
        "nan": float("nan"),
        "list": [1, "two", None, 2.5],
        "big": 2**70,
        "none": None,
    }[input]
`

const stateAlgo = `
import sys

calls = 0

def load():
    print("loading model")
    sys.stderr.write("no newline")
    return {"greeting": "hello"}

def apply(input, state):
    global calls
    calls += 1
    return {"greeting": state["greeting"], "input": input, "calls": calls}
`

const failAlgo = `
import sys

class InputError(Exception):
    error_type = "InputError"

def fail_deep(x):
    raise ValueError("bad input: " + repr(x))

def apply(input):
    if input == "custom":
        raise InputError("the input is wrong")
    if input == "empty":
        raise RuntimeError()
    if input == "print":
        print("to stdout")
        print("to stderr", file=sys.stderr)
        sys.stdout.write("no newline")
        return "printed"
    if input == "stdin":
        return sys.stdin.read()
    fail_deep(input)
`

type call struct {
	request string
	want    wt.Want
}

func TestRunnerCalls(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		files      map[string]string
		entrypoint string
		initLog    []string
		calls      []call
	}{{
		name:       "echo round trips",
		files:      map[string]string{"echo.py": echoAlgo},
		entrypoint: "echo.py",
		calls: []call{
			{wt.JSON(`{"a":[1,2.5,null,true],"b":{"c":"d"}}`), wt.Want{ContentType: "json", Result: `{"a":[1,2.5,null,true],"b":{"c":"d"}}`}},
			{wt.JSON(`null`), wt.Want{ContentType: "json", Result: `null`}},
			{wt.JSON(`"a json string"`), wt.Want{ContentType: "text", Result: `"a json string"`}},
			{wt.Text("héllo\nwörld ✓ \u2028"), wt.Want{ContentType: "text", Result: `"héllo\nwörld ✓ \u2028"`}},
			{wt.Binary([]byte{0, 1, 0xfe, 0xff, '\n'}), wt.Want{ContentType: "binary", Result: `"AAH+/wo="`}},
			{wt.Binary(nil), wt.Want{ContentType: "binary", Result: `""`}},
		},
	}, {
		name:       "result types",
		files:      map[string]string{"types.py": typesAlgo},
		entrypoint: "types.py",
		calls: []call{
			{wt.Text("bytes"), wt.Want{ContentType: "binary", Result: `"AP8="`}},
			{wt.Text("bytearray"), wt.Want{ContentType: "binary", Result: `"YWI="`}},
			{wt.Text("list"), wt.Want{ContentType: "json", Result: `[1,"two",null,2.5]`}},
			{wt.Text("big"), wt.Want{ContentType: "json", Result: `1180591620717411303424`}},
			{wt.Text("none"), wt.Want{ContentType: "json", Result: `null`}},
			{wt.Text("set"), wt.Want{ErrorType: "AlgorithmError", Message: "not JSON-serializable (Object of type set"}},
			{wt.Text("nan"), wt.Want{ErrorType: "AlgorithmError", Message: "not JSON-serializable"}},
			{wt.Text("list"), wt.Want{ContentType: "json", Result: `[1,"two",null,2.5]`}},
		},
	}, {
		name:       "load state across calls",
		files:      map[string]string{"state.py": stateAlgo},
		entrypoint: "state.py",
		initLog:    []string{"loading model", "no newline"},
		calls: []call{
			{wt.JSON(`1`), wt.Want{ContentType: "json", Result: `{"greeting":"hello","input":1,"calls":1}`, Log: []string{}}},
			{wt.Text("two"), wt.Want{ContentType: "json", Result: `{"greeting":"hello","input":"two","calls":2}`}},
			{wt.JSON(`[3]`), wt.Want{ContentType: "json", Result: `{"greeting":"hello","input":[3],"calls":3}`}},
		},
	}, {
		name: "state parameter",
		files: map[string]string{"params.py": `
def load():
    pass

def apply(input, state, extra=7):
    return [state, extra]
`},
		entrypoint: "params.py",
		calls: []call{
			{wt.JSON(`0`), wt.Want{ContentType: "json", Result: `[null,7]`}},
		},
	}, {
		name: "state not passed to a one-parameter apply",
		files: map[string]string{"one.py": `
def load():
    return "state"

def apply(input, default="unset"):
    return default
`},
		entrypoint: "one.py",
		calls: []call{
			{wt.JSON(`0`), wt.Want{ContentType: "text", Result: `"state"`}},
		},
	}, {
		name: "sibling modules",
		files: map[string]string{
			"src/algo.py":   "from helper import twice\nfrom src.other import suffix\n\ndef apply(x):\n    return twice(x) + suffix\n",
			"src/helper.py": "def twice(x):\n    return x + x\n",
			"src/other.py":  "suffix = '!'\n",
		},
		entrypoint: "src/algo.py",
		calls: []call{
			{wt.Text("ab"), wt.Want{ContentType: "text", Result: `"abab!"`}},
		},
	}, {
		name:       "errors and logs",
		files:      map[string]string{"fail.py": failAlgo},
		entrypoint: "fail.py",
		calls: []call{
			{wt.Text("x"), wt.Want{ErrorType: "AlgorithmError", Message: "bad input: 'x'", Stacktrace: "in fail_deep\n", Log: []string{}}},
			{wt.Text("custom"), wt.Want{ErrorType: "InputError", Message: "the input is wrong", Stacktrace: "InputError: the input is wrong"}},
			{wt.Text("empty"), wt.Want{ErrorType: "AlgorithmError", Message: "RuntimeError"}},
			{wt.Text("print"), wt.Want{ContentType: "text", Result: `"printed"`, Log: []string{"to stdout", "to stderr", "no newline"}}},
			{wt.Text("stdin"), wt.Want{ContentType: "text", Result: `""`, Log: []string{}}},
			{`{"content_type":"xml","data":"x"}`, wt.Want{ErrorType: wire.ProtocolError, Message: "unknown content_type 'xml'"}},
			{`not json`, wt.Want{ErrorType: wire.ProtocolError, Message: "not JSON"}},
			{`{"content_type":"binary","data":"**"}`, wt.Want{ErrorType: wire.ProtocolError, Message: "base64"}},
			{`{"content_type":"text","data":1}`, wt.Want{ErrorType: wire.ProtocolError, Message: "not a JSON string"}},
			{wt.Text("print"), wt.Want{ContentType: "text", Result: `"printed"`, Log: []string{"to stdout", "to stderr", "no newline"}}},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := start(t, tt.files, tt.entrypoint)
			if got := w.WaitInit(); !slices.Equal(got, tt.initLog) {
				t.Errorf("log before %s = %q, want %q", wire.InitLine, got, tt.initLog)
			}
			for i, c := range tt.calls {
				resp, log := w.Call(c.request)
				t.Logf("call %d: %s", i, c.request)
				wt.Check(t, resp, log, c.want)
			}
			w.CloseStdin()
			if code := w.Wait(); code != 0 {
				t.Errorf("exit code after EOF = %d, want 0; log: %q", code, w.ReadLog())
			}
		})
	}
}

func TestRunnerStartFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		files      map[string]string
		entrypoint string
		wantLog    []string
	}{{
		name:       "load raises",
		files:      map[string]string{"a.py": "def load():\n    print('partial', end='')\n    raise RuntimeError('model file missing')\n\ndef apply(x):\n    return x\n"},
		entrypoint: "a.py",
		wantLog:    []string{"partial\nTraceback (most recent call last):", "in load\n", "RuntimeError: model file missing\n"},
	}, {
		name:       "syntax error",
		files:      map[string]string{"a.py": "def apply(x)\n    return x\n"},
		entrypoint: "a.py",
		wantLog:    []string{"Traceback", "SyntaxError"},
	}, {
		name:       "import error",
		files:      map[string]string{"a.py": "import no_such_module_here\n"},
		entrypoint: "a.py",
		wantLog:    []string{"ModuleNotFoundError: No module named 'no_such_module_here'"},
	}, {
		name:       "no apply",
		files:      map[string]string{"a.py": "def load():\n    pass\n"},
		entrypoint: "a.py",
		wantLog:    []string{"runner: a.py defines no apply(input) function\n"},
	}, {
		name:       "no entrypoint",
		files:      map[string]string{"a.py": echoAlgo},
		entrypoint: "b.py",
		wantLog:    []string{"runner: entrypoint b.py not found"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := start(t, tt.files, tt.entrypoint)
			if code := w.Wait(); code != 1 {
				t.Errorf("exit code = %d, want 1", code)
			}
			log := w.ReadLog()
			if strings.Contains(log, wire.InitLine) {
				t.Errorf("log has %s: %q", wire.InitLine, log)
			}
			for _, want := range tt.wantLog {
				if !strings.Contains(log, want) {
					t.Errorf("log = %q, want it to contain %q", log, want)
				}
			}
		})
	}
}

func TestRunnerExitsOnEOFWithoutCalls(t *testing.T) {
	t.Parallel()
	w := start(t, map[string]string{"echo.py": echoAlgo}, "echo.py")
	w.WaitInit()
	w.CloseStdin()
	if code := w.Wait(); code != 0 {
		t.Errorf("exit code = %d, want 0", code)
	}
	if log := w.ReadLog(); log != "" {
		t.Errorf("log after EOF = %q, want none", log)
	}
}

func TestRunnerReturnsEmbeddedFile(t *testing.T) {
	t.Parallel()
	want, err := os.ReadFile("runner.py")
	if err != nil {
		t.Fatal(err)
	}
	got := Runner()
	if string(got) != string(want) {
		t.Fatal("Runner() differs from runner.py")
	}
	got[0] ^= 0xff
	if string(Runner()) != string(want) {
		t.Error("changing the bytes Runner returned changed the runner")
	}
}
