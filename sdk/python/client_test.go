package python

import (
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/algos-dev/algos/sdk/internal/wire"
	wt "github.com/algos-dev/algos/sdk/internal/workertest"
)

// python returns the interpreter, skipping the test where there is none.
func python(t *testing.T) string {
	t.Helper()
	py, err := interpreter()
	if errors.Is(err, exec.ErrNotFound) {
		t.Skip("python3 is not installed")
	}
	if err != nil {
		t.Fatalf("find python3: %v", err)
	}
	return py
}

// TestPythonSuites runs the Python tests in tests/: the Algorithmia client against a stand-in of
// the REST API, the ADK locally and under runner.py, and the example algorithms' time-series math
// and pipeline.
func TestPythonSuites(t *testing.T) {
	t.Parallel()
	py := python(t)
	for _, suite := range []string{"test_client", "test_adk", "test_examples"} {
		t.Run(suite, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(py, "-m", "unittest", "-v", suite)
			cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PYTHONPATH=tests"+string(os.PathListSeparator)+".")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("python -m unittest %s: %v\n%s", suite, err, out)
			}
			t.Logf("%s", out)
		})
	}
}

func TestPackageReturnsEmbeddedFiles(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob("Algorithmia/*.py")
	if err != nil {
		t.Fatal(err)
	}
	got := Package()
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, paths) {
		t.Fatalf("Package() has %q, want %q", keys, paths)
	}
	for _, p := range paths {
		want, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if string(got[p]) != string(want) {
			t.Errorf("Package()[%q] differs from the file", p)
		}
	}
	got["Algorithmia/__init__.py"][0] ^= 0xff
	if string(Package()["Algorithmia/__init__.py"]) == string(got["Algorithmia/__init__.py"]) {
		t.Error("changing the bytes Package returned changed the package")
	}
}

// startWithPackage starts the runner as the agent does: runner.py and the Algorithmia package in
// one directory, the algorithm's files in another, its working directory.
func startWithPackage(t *testing.T, files map[string]string, entrypoint string) *wt.Process {
	t.Helper()
	py := python(t)
	runnerDir, dir := t.TempDir(), t.TempDir()
	write := func(root, name string, b []byte) {
		path := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(runnerDir, "runner.py", Runner())
	for name, b := range Package() {
		write(runnerDir, name, b)
	}
	for name, src := range files {
		write(dir, name, []byte(src))
	}
	cmd := exec.Command(py, "-u", filepath.Join(runnerDir, "runner.py"), entrypoint)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	return wt.Start(t, cmd)
}

// An algorithm written for Algorithmia's ADK. The runner must serve the functions handed to the
// ADK, not the module's apply.
const adkAlgo = `
from Algorithmia import ADK

def load_model():
    print("loading")
    return "model"

def predict(input, model):
    return {"input": input, "model": model}

def apply(input):
    return "not this one"

algorithm = ADK(predict, load_model)
algorithm.init("Algorithmia")
`

// callEnvAlgo returns the call's token and request ID as it and a child process see them.
const callEnvAlgo = `
import os
import subprocess
import sys

def apply(input):
    child = subprocess.run([sys.executable, "-c", "import os; print(os.environ.get('ALGOS_CALL_TOKEN', '-'), os.environ.get('ALGOS_REQUEST_ID', '-'))"],
                           capture_output=True, text=True, check=True).stdout.split()
    return [os.environ.get("ALGOS_CALL_TOKEN"), os.environ.get("ALGOS_REQUEST_ID")] + child
`

func TestRunnerWithPackage(t *testing.T) {
	t.Parallel()
	adkHello, err := os.ReadFile("../../examples/algorithms/adk-hello/src/Algorithm.py")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		files      map[string]string
		entrypoint string
		initLog    []string
		calls      []call
	}{{
		name:       "ADK functions are served",
		files:      map[string]string{"src/Algorithm.py": adkAlgo},
		entrypoint: "src/Algorithm.py",
		initLog:    []string{"loading"},
		calls: []call{
			{wt.Text("x"), wt.Want{ContentType: "json", Result: `{"input":"x","model":"model"}`, Log: []string{}}},
			{wt.JSON(`[1]`), wt.Want{ContentType: "json", Result: `{"input":[1],"model":"model"}`}},
		},
	}, {
		name:       "examples/algorithms/adk-hello",
		files:      map[string]string{"src/Algorithm.py": string(adkHello)},
		entrypoint: "src/Algorithm.py",
		calls: []call{
			{wt.Text("world"), wt.Want{ContentType: "text", Result: `"Hello world"`}},
			{wt.JSON(`{"name":"algos"}`), wt.Want{ContentType: "text", Result: `"Hello algos"`}},
		},
	}, {
		name:       "call token and request ID in the environment of the call only",
		files:      map[string]string{"env.py": callEnvAlgo},
		entrypoint: "env.py",
		calls: []call{
			{`{"content_type":"json","data":0,"algos":{"token":"tok-1","request_id":"req-1"}}`, wt.Want{ContentType: "json", Result: `["tok-1","req-1","tok-1","req-1"]`}},
			{wt.JSON(`0`), wt.Want{ContentType: "json", Result: `[null,null,"-","-"]`}},
			{`{"algos":{"token":"tok-2"},"content_type":"text","data":"x","other":{}}`, wt.Want{ContentType: "json", Result: `["tok-2",null,"tok-2","-"]`}},
			{`{"content_type":"json","data":0,"algos":{"token":1,"request_id":null}}`, wt.Want{ContentType: "json", Result: `[null,null,"-","-"]`}},
			{`{"content_type":"xml","data":0,"algos":{"token":"tok-3"}}`, wt.Want{ErrorType: wire.ProtocolError, Message: "unknown content_type"}},
		},
	}, {
		name:       "the Algorithmia package imports beside the runner",
		files:      map[string]string{"a.py": "import Algorithmia\n\ndef apply(input):\n    return Algorithmia.client().apiAddress\n"},
		entrypoint: "a.py",
		calls: []call{
			{wt.JSON(`0`), wt.Want{ContentType: "text", Result: `"http://127.0.0.1:8080"`}},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := startWithPackage(t, tt.files, tt.entrypoint)
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
