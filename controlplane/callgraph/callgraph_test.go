package callgraph

import (
	"testing"
	"time"
)

func TestGraph(t *testing.T) {
	t.Parallel()
	g := New()
	now := time.Now()
	g.Call("", "u/app/1.0.0", time.Second, false, now)
	for range 3 {
		g.Call("u/app/1.0.0", "ts/season/1.0.0", 100*time.Millisecond, true, now)
		g.Call("ts/season/1.0.0", "ts/forecast/2.0.0", 200*time.Millisecond, false, now)
	}
	g.Call("x/other/1.0.0", "ts/season/1.0.0", time.Millisecond, false, now)
	g.Call("", "z/unrelated/1.0.0", time.Millisecond, false, now)

	if got := g.Callers("ts/season/1.0.0"); len(got) != 2 || got[0] != "u/app/1.0.0" {
		t.Fatalf("Callers = %v; want u/app first (most calls)", got)
	}
	cg := g.Of("u/app", nil)
	names := map[string]bool{}
	for _, v := range cg.Versions {
		names[v.Version] = true
	}
	for _, want := range []string{"u/app/1.0.0", "ts/season/1.0.0", "ts/forecast/2.0.0", "x/other/1.0.0"} {
		if !names[want] {
			t.Errorf("graph of u/app lacks %s: %+v", want, cg.Versions)
		}
	}
	if names["z/unrelated/1.0.0"] {
		t.Error("graph of u/app holds an unrelated version")
	}
	for _, e := range cg.Edges {
		if e.Caller == "u/app/1.0.0" && (e.Calls != 3 || e.SameNode != 3) {
			t.Errorf("edge %+v", e)
		}
	}
	if len(cg.Edges) != 3 {
		t.Errorf("edges = %+v; want 3", cg.Edges)
	}
}
