package algo

import (
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/algos-dev/algos/sdk/internal/wire"
	wt "github.com/algos-dev/algos/sdk/internal/workertest"
)

// TestServeProcess builds testdata/echo, a main that uses this package, and drives it as a real
// worker process over a real FIFO.
func TestServeProcess(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	bin := filepath.Join(t.TempDir(), "echo")
	if out, err := exec.Command(goBin, "build", "-o", bin, "./testdata/echo").CombinedOutput(); err != nil {
		t.Fatalf("go build ./testdata/echo: %v\n%s", err, out)
	}

	t.Run("calls", func(t *testing.T) {
		t.Parallel()
		w := wt.Start(t, exec.Command(bin))
		if got := w.WaitInit(); !slices.Equal(got, []string{"loading"}) {
			t.Errorf("log before %s = %q, want [loading]", wire.InitLine, got)
		}
		calls := []struct {
			request string
			want    wt.Want
		}{
			{wt.JSON(`{"a":[1,2.5,null,true]}`), wt.Want{ContentType: "json", Result: `{"a":[1,2.5,null,true]}`, Log: []string{}}},
			{wt.Text("héllo\n"), wt.Want{ContentType: "text", Result: `"héllo\n"`}},
			{wt.Binary([]byte{0, 0xff}), wt.Want{ContentType: "binary", Result: `"AP8="`}},
			{wt.Text("greeting"), wt.Want{ContentType: "text", Result: `"hello"`}},
			{wt.Text("print"), wt.Want{ContentType: "text", Result: `"printed"`, Log: []string{"to stdout", "to stderr"}}},
			{wt.Text("fail"), wt.Want{ErrorType: "InputError", MessageEnd: "the input is wrong"}},
			{wt.Text("panic"), wt.Want{ErrorType: "AlgorithmError", Message: "assignment to entry in nil map", Stacktrace: "main.main.func"}},
			{`{"content_type":"binary","data":"**"}`, wt.Want{ErrorType: wire.ProtocolError, Message: "base64"}},
			{wt.JSON(`[1]`), wt.Want{ContentType: "json", Result: `[1]`, Log: []string{}}},
		}
		for _, c := range calls {
			resp, log := w.Call(c.request)
			wt.Check(t, resp, log, c.want)
		}
		w.CloseStdin()
		if code := w.Wait(); code != 0 {
			t.Errorf("exit code after EOF = %d, want 0", code)
		}
	})

	t.Run("load fails", func(t *testing.T) {
		t.Parallel()
		cmd := exec.Command(bin)
		cmd.Env = append(cmd.Environ(), "ECHO_FAIL_LOAD=1")
		w := wt.Start(t, cmd)
		if code := w.Wait(); code != 1 {
			t.Errorf("exit code = %d, want 1", code)
		}
		if log, want := w.ReadLog(), "loading\nalgo: load: model file missing\n"; log != want {
			t.Errorf("log = %q, want %q", log, want)
		}
	})
}
