package autoscaler

import (
	"reflect"
	"testing"
	"time"
)

func TestNodesToRemove(t *testing.T) {
	t.Parallel()
	now := t0.Add(time.Hour)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	nodes := []NodeState{
		{ID: "a", EmptySince: ago(10 * time.Minute)},
		{ID: "b", EmptySince: ago(2 * time.Minute)}, // within the cool-down
		{ID: "c", Workers: 3, InFlight: 2},
		{ID: "d", EmptySince: ago(30 * time.Minute)},
		{ID: "e", EmptySince: ago(10 * time.Minute)},
	}
	tests := []struct {
		name     string
		nodes    []NodeState
		cooldown time.Duration
		minSize  int
		want     []string
	}{
		{"empty past the cool-down, longest empty first", nodes, 5 * time.Minute, 0, []string{"d", "a", "e"}},
		{"min size keeps nodes", nodes, 5 * time.Minute, 3, []string{"d", "a"}},
		{"min size equal to the pool", nodes, 5 * time.Minute, 5, nil},
		{"shorter cool-down", nodes, time.Minute, 1, []string{"d", "a", "e", "b"}},
		{"nothing past a long cool-down", nodes, time.Hour, 0, nil},
		{"draining nodes count as gone", append([]NodeState{{ID: "x", Draining: true}, {ID: "y", Draining: true}}, nodes...),
			5 * time.Minute, 3, []string{"d", "a"}},
		{"a node without workers but with calls in flight is not empty",
			[]NodeState{{ID: "a", InFlight: 1, EmptySince: ago(time.Hour)}}, 0, 0, nil},
		{"unknown empty-since is not removed", []NodeState{{ID: "a"}}, 0, 0, nil},
		{"a node with workers is not removed", []NodeState{{ID: "a", Workers: 1, EmptySince: ago(time.Hour)}}, 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := NodesToRemove(tt.nodes, now, tt.cooldown, tt.minSize)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("NodesToRemove = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDrainWaitsForInFlightCalls(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		inFlight []int // observed each second from the drain's start
		want     []bool
	}{
		{"not removable before any observation", nil, nil},
		{"removable once calls reach zero", []int{3, 2, 1, 0}, []bool{false, false, false, true}},
		{"a call arriving in a race holds it again", []int{0, 1, 0}, []bool{true, false, true}},
		{"long calls hold it indefinitely", []int{1, 1, 1, 1, 1, 1}, []bool{false, false, false, false, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := StartDrain("n1", t0)
			if d.Removable() {
				t.Fatal("removable before any observation")
			}
			for i, n := range tt.inFlight {
				d.Observe(t0.Add(time.Duration(i)*time.Second), n)
				if got := d.Removable(); got != tt.want[i] {
					t.Errorf("second %d (in flight %d): removable %v, want %v", i, n, got, tt.want[i])
				}
				if d.InFlight() != n {
					t.Errorf("InFlight = %d, want %d", d.InFlight(), n)
				}
			}
		})
	}
	// An observation from before the drain began does not count.
	d := StartDrain("n1", t0)
	d.Observe(t0.Add(-time.Second), 0)
	if d.Removable() {
		t.Error("removable on an observation older than the drain")
	}
}
