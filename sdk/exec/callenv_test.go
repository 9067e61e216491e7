package execrunner

import (
	"slices"
	"testing"

	"github.com/algos-dev/algos/sdk/internal/wire"
	wt "github.com/algos-dev/algos/sdk/internal/workertest"
)

// TestServeCallEnv checks that the token and request ID of a request line reach the program run
// for that call, and that a call without them sees neither.
func TestServeCallEnv(t *testing.T) {
	t.Parallel()
	a := start(t, []string{"sh", "-c", `printf '%s|%s' "${ALGOS_CALL_TOKEN-unset}" "${ALGOS_REQUEST_ID-unset}"`}, OutputText)
	a.WaitInit()
	withAlgos := func(algos string) string {
		return `{"content_type":"text","data":"","algos":` + algos + `}`
	}
	calls := []testCall{
		{withAlgos(`{"token":"act_one","request_id":"req-1"}`), wt.Want{ContentType: "text", Result: `"act_one|req-1"`}},
		{wt.Text(""), wt.Want{ContentType: "text", Result: `"unset|unset"`}},
		{withAlgos(`{"token":"act_two"}`), wt.Want{ContentType: "text", Result: `"act_two|unset"`}},
		{withAlgos(`{"token":7,"request_id":"req-3","other":true}`), wt.Want{ContentType: "text", Result: `"unset|req-3"`}},
		{withAlgos(`"act_not_an_object"`), wt.Want{ContentType: "text", Result: `"unset|unset"`}},
		{withAlgos(`{"token":"act_\u0000nul"}`), wt.Want{ContentType: "text", Result: `"unset|unset"`}},
		{withAlgos(`null`), wt.Want{ContentType: "text", Result: `"unset|unset"`}},
	}
	for i, c := range calls {
		resp, log := a.Call(c.request)
		wt.Check(t, resp, log, c.want)
		if t.Failed() {
			t.Fatalf("call %d: %s", i, c.request)
		}
	}
	a.CloseStdin()
	if err := a.wait(t); err != nil {
		t.Errorf("Serve after EOF: %v, want nil", err)
	}
}

func TestProgramEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		base, callEnv []string
		want          []string
	}{
		{"no call", []string{"PATH=/bin", "ALGORITHMIA_API=http://127.0.0.1:1"}, nil,
			[]string{"PATH=/bin", "ALGORITHMIA_API=http://127.0.0.1:1"}},
		{"call added", []string{"PATH=/bin"}, wire.Call{Token: "act_1", RequestID: "req-1"}.Env(),
			[]string{"PATH=/bin", "ALGOS_CALL_TOKEN=act_1", "ALGOS_REQUEST_ID=req-1"}},
		{"stale runner values dropped", []string{"ALGOS_CALL_TOKEN=act_old", "PATH=/bin", "ALGOS_REQUEST_ID=req-old"}, nil,
			[]string{"PATH=/bin"}},
		{"stale replaced", []string{"ALGOS_CALL_TOKEN=act_old", "ALGOS_CALL_TOKEN_X=kept"}, wire.Call{Token: "act_new"}.Env(),
			[]string{"ALGOS_CALL_TOKEN_X=kept", "ALGOS_CALL_TOKEN=act_new"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := programEnv(tt.base, tt.callEnv); !slices.Equal(got, tt.want) {
				t.Errorf("programEnv = %q, want %q", got, tt.want)
			}
		})
	}
}
