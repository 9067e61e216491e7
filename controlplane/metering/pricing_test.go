package metering

import (
	"testing"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/auth"
	"github.com/algos-dev/algos/controlplane/invoke"
	"github.com/algos-dev/algos/controlplane/registry"
)

func TestBilledSeconds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    time.Duration
		want int64
	}{
		{-time.Second, 1}, {0, 1}, {10 * time.Millisecond, 1}, {time.Second, 1},
		{time.Second + time.Nanosecond, 2}, {2500 * time.Millisecond, 3}, {time.Minute, 60},
	} {
		if got := BilledSeconds(tc.d); got != tc.want {
			t.Errorf("BilledSeconds(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}

func TestBill(t *testing.T) {
	t.Parallel()
	prices := Prices{ComputeSecond: 1 * Micro, GPUSecond: 10 * Micro}
	cpu := &registry.Resolved{ID: "demo/a/1.0.0", Owner: "demo", Manifest: api.Manifest{Price: 0.25}}
	gpu := &registry.Resolved{ID: "demo/g/1.0.0", Owner: "demo", Manifest: api.Manifest{Resources: api.Resources{GPUs: 2}}}
	share := &registry.Resolved{ID: "demo/s/1.0.0", Owner: "demo", Manifest: api.Manifest{Resources: api.Resources{GPUMemMiB: 512}, Price: 1.0000004}}
	alice := &auth.Principal{Account: "alice"}
	demo := &auth.Principal{Account: "demo"}
	for _, tc := range []struct {
		name string
		u    invoke.Usage
		want Charge
	}{
		{"10 ms bills one second plus the royalty",
			invoke.Usage{Principal: alice, Version: cpu, Duration: 10 * time.Millisecond, Ran: true},
			Charge{ComputeSeconds: 1, ComputeMicro: 1 * Micro, RoyaltyMicro: 250_000}},
		{"cold start is not billed",
			invoke.Usage{Principal: alice, Version: cpu, Duration: 2300 * time.Millisecond, ColdStart: 2 * time.Second, Ran: true},
			Charge{ComputeSeconds: 1, ComputeMicro: 1 * Micro, RoyaltyMicro: 250_000}},
		{"an algorithm error: compute, no royalty",
			invoke.Usage{Principal: alice, Version: cpu, Duration: 1500 * time.Millisecond, Ran: true, Outcome: api.ErrTypeAlgorithm},
			Charge{ComputeSeconds: 2, ComputeMicro: 2 * Micro}},
		{"no node: nothing",
			invoke.Usage{Principal: alice, Version: cpu, Duration: 3 * time.Second, Outcome: api.ErrTypeUnavailable},
			Charge{}},
		{"the author pays no royalty to itself",
			invoke.Usage{Principal: demo, Version: cpu, Duration: time.Millisecond, Ran: true},
			Charge{ComputeSeconds: 1, ComputeMicro: 1 * Micro}},
		{"two GPUs for 3 s",
			invoke.Usage{Principal: alice, Version: gpu, Duration: 2100 * time.Millisecond, Ran: true},
			Charge{ComputeSeconds: 3, GPUSeconds: 6, ComputeMicro: 3*Micro + 60*Micro}},
		{"a GPU share counts one GPU; price rounded to a micro-credit",
			invoke.Usage{Principal: alice, Version: share, Duration: time.Millisecond, Ran: true},
			Charge{ComputeSeconds: 1, GPUSeconds: 1, ComputeMicro: 11 * Micro, RoyaltyMicro: 1 * Micro}},
	} {
		if got := prices.Bill(tc.u); got != tc.want {
			t.Errorf("%s: Bill = %+v, want %+v", tc.name, got, tc.want)
		}
	}
	if got := prices.Least("alice", cpu); got != 1_250_000 {
		t.Errorf("Least(alice, cpu) = %d, want 1250000", got)
	}
	if got := prices.Least("demo", cpu); got != 1_000_000 {
		t.Errorf("Least(author) = %d, want 1000000", got)
	}
	if got := prices.Least("alice", gpu); got != 21_000_000 {
		t.Errorf("Least(alice, gpu) = %d, want 21000000", got)
	}
}
