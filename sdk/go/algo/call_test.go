package algo

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/algos-dev/algos/sdk/internal/wire"
	wt "github.com/algos-dev/algos/sdk/internal/workertest"
)

func withAlgos(request, algos string) string {
	return strings.TrimSuffix(request, "}") + `,"algos":` + algos + `}`
}

// TestServeCallToken checks that during each call a client made before serving uses that call's
// token and request ID, and that once the call is answered it no longer does.
func TestServeCallToken(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	calls := &callSlot{}
	c := testClient(map[string]string{AddressEnv: api.URL(), KeyEnv: "key_env"}, calls)
	var during []bool
	apply := func(input any) (any, error) {
		_, active := calls.get()
		during = append(during, active)
		resp, err := c.Algo("demo/echo").Pipe(t.Context(), input)
		if err != nil {
			return nil, err
		}
		return resp.Result, nil
	}
	stdin := strings.Join([]string{
		withAlgos(wt.Text("a"), `{"token":"act_a","request_id":"req-a"}`),
		wt.Text("b"),
		withAlgos(`{"content_type":"xml","data":"x"}`, `{"token":"act_bad"}`), // never reaches apply
		withAlgos(wt.JSON(`{"n":1}`), `{"token":"act_c","request_id":"req-c"}`),
	}, "\n")
	var r recorder
	if err := serveCalls(t.Context(), calls, strings.NewReader(stdin), r.log(), r.openOut, nil, apply); err != nil {
		t.Fatalf("serve: %v", err)
	}
	var responses []string
	for _, e := range r.events {
		if line, ok := strings.CutPrefix(e, "out:"); ok && line != "close" {
			responses = append(responses, strings.TrimSpace(line))
		}
	}
	wantResponses := []string{
		`{"result":"a","metadata":{"content_type":"text"}}`,
		`{"result":"b","metadata":{"content_type":"text"}}`,
		`{"error":{"message":"bad request line: unknown content_type \"xml\"","error_type":"ProtocolError"}}`,
		`{"result":{"n":1},"metadata":{"content_type":"json"}}`,
	}
	if !reflect.DeepEqual(responses, wantResponses) {
		t.Errorf("responses =\n%q\nwant\n%q", responses, wantResponses)
	}
	if !reflect.DeepEqual(during, []bool{true, true, true}) {
		t.Errorf("a call was being served during apply: %v, want always", during)
	}
	var got [][2]string
	for _, s := range api.requests() {
		got = append(got, [2]string{s.Auth, s.Parent})
	}
	want := [][2]string{{"Simple act_a", "req-a"}, {"Simple key_env", ""}, {"Simple act_c", "req-c"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("credentials sent = %q, want %q", got, want)
	}

	if _, active := calls.get(); active {
		t.Error("a call is still being served after serve returned")
	}
	if err := c.File("data://demo/c/x").Delete(t.Context()); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if auth := api.last().Auth; auth != "Simple key_env" {
		t.Errorf("after serving: Authorization = %q, want the key", auth)
	}
}

// TestServeCallEnv checks that the process's current call is also in the environment during
// the call, for child processes, and gone after it. It changes the process's environment, so it
// does not run in parallel.
func TestServeCallEnv(t *testing.T) {
	t.Setenv(wire.TokenEnv, "act_stale") // left by whoever started the process: not a call's
	calls := &callSlot{exportEnv: true}
	var seen [][2]string
	apply := func(any) (any, error) {
		seen = append(seen, [2]string{os.Getenv(wire.TokenEnv), os.Getenv(wire.RequestIDEnv)})
		return nil, nil
	}
	stdin := strings.Join([]string{
		wt.Text("none"),
		withAlgos(wt.Text("both"), `{"token":"act_1","request_id":"req-1"}`),
		withAlgos(wt.Text("token only"), `{"token":"act_2"}`),
	}, "\n")
	var r recorder
	if err := serveCalls(t.Context(), calls, strings.NewReader(stdin), r.log(), r.openOut, nil, apply); err != nil {
		t.Fatalf("serve: %v", err)
	}
	want := [][2]string{{"", ""}, {"act_1", "req-1"}, {"act_2", ""}}
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("environment during the calls = %q, want %q", seen, want)
	}
	for _, name := range []string{wire.TokenEnv, wire.RequestIDEnv} {
		if v, ok := os.LookupEnv(name); ok {
			t.Errorf("after serving, %s = %q, want unset", name, v)
		}
	}
}

// TestServeProcessCalls builds testdata/caller, whose client is made before Serve, and runs it
// as a real worker process that calls the fake API with each call's token.
func TestServeProcessCalls(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	bin := filepath.Join(t.TempDir(), "caller")
	if out, err := exec.Command(goBin, "build", "-o", bin, "./testdata/caller").CombinedOutput(); err != nil {
		t.Fatalf("go build ./testdata/caller: %v\n%s", err, out)
	}
	api := newFakeAPI(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), AddressEnv+"="+api.URL(), KeyEnv+"=key_outside", wire.TokenEnv+"=act_stale")
	w := wt.Start(t, cmd)
	w.WaitInit()
	calls := []struct {
		request    string
		want       string
		wantAuth   string
		wantParent string
	}{
		{withAlgos(wt.Text("x"), `{"token":"act_p1","request_id":"req-p1"}`),
			`{"echoed":"x","token":"act_p1","request_id":"req-p1"}`, "Simple act_p1", "req-p1"},
		{wt.JSON(`[1]`), `{"echoed":[1],"token":"","request_id":""}`, "Simple key_outside", ""},
		{withAlgos(wt.Text("y"), `{"token":"act_p2","request_id":"req-p2"}`),
			`{"echoed":"y","token":"act_p2","request_id":"req-p2"}`, "Simple act_p2", "req-p2"},
	}
	for i, c := range calls {
		resp, log := w.Call(c.request)
		wt.Check(t, resp, log, wt.Want{ContentType: "json", Result: c.want, Log: []string{}})
		if r := api.last(); r.Auth != c.wantAuth || r.Parent != c.wantParent {
			t.Errorf("call %d: the API got Authorization %q, parent %q; want %q, %q", i, r.Auth, r.Parent, c.wantAuth, c.wantParent)
		}
	}
	if n := len(api.requests()); n != len(calls) {
		t.Errorf("the API got %d requests, want %d", n, len(calls))
	}
	w.CloseStdin()
	if code := w.Wait(); code != 0 {
		t.Errorf("exit code after EOF = %d, want 0", code)
	}
}
