package metering

import (
	"math"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/invoke"
	"github.com/algos-dev/algos/controlplane/registry"
)

// Micro is the number of micro-credits in a credit. Amounts are kept in micro-credits, integers,
// so that sums are exact.
const Micro = 1_000_000

// Prices are the prices of compute, in micro-credits. A call is billed as on Algorithmia: its
// compute time rounded up to whole seconds (at least one), plus the author's royalty.
type Prices struct {
	// ComputeSecond is the price of one second of a call (default 1 credit).
	ComputeSecond int64
	// GPUSecond is the price of one second of one GPU, on top of ComputeSecond (default 10
	// credits). A version with a share of a GPU's memory counts one GPU.
	GPUSecond int64
}

// DefaultPrices are the prices when Config.Prices is zero.
var DefaultPrices = Prices{ComputeSecond: 1 * Micro, GPUSecond: 10 * Micro}

// Charge is the bill of one call.
type Charge struct {
	ComputeSeconds int64 // billed: whole seconds
	GPUSeconds     int64 // billed: ComputeSeconds × GPUs
	ComputeMicro   int64 // compute and GPU time
	RoyaltyMicro   int64 // to the author
}

// Total is what the caller pays.
func (c Charge) Total() int64 { return c.ComputeMicro + c.RoyaltyMicro }

// BilledSeconds is the whole seconds a call that ran d is billed for: rounded up, at least 1.
func BilledSeconds(d time.Duration) int64 {
	if d <= time.Second {
		return 1
	}
	return int64((d + time.Second - 1) / time.Second)
}

// GPUs is the number of GPUs a version is billed for.
func GPUs(m api.Manifest) int64 {
	switch {
	case m.Resources.GPUs > 0:
		return int64(m.Resources.GPUs)
	case m.Resources.GPUMemMiB > 0:
		return 1
	}
	return 0
}

// RoyaltyMicro is the author's royalty per call (the manifest's price_per_call, credits) in
// micro-credits, rounded to the nearest.
func RoyaltyMicro(m api.Manifest) int64 { return int64(math.Round(m.Price * Micro)) }

// Bill prices a call. Compute is billed when the call ran on a worker (time spent waiting for a
// new worker to start is not billed); the royalty when it returned a result to a caller other
// than the author.
func (p Prices) Bill(u invoke.Usage) Charge {
	var c Charge
	if u.Ran {
		c.ComputeSeconds = BilledSeconds(u.Duration - u.ColdStart)
		c.GPUSeconds = c.ComputeSeconds * GPUs(u.Version.Manifest)
		c.ComputeMicro = c.ComputeSeconds*p.ComputeSecond + c.GPUSeconds*p.GPUSecond
	}
	if u.Outcome == "" && u.Principal.Account != u.Version.Owner {
		c.RoyaltyMicro = RoyaltyMicro(u.Version.Manifest)
	}
	return c
}

// Least is the least a call of v by account costs: one billed second and the royalty. Admission
// asks the balance for it.
func (p Prices) Least(account string, v *registry.Resolved) int64 {
	c := p.ComputeSecond + GPUs(v.Manifest)*p.GPUSecond
	if account != v.Owner {
		c += RoyaltyMicro(v.Manifest)
	}
	return c
}
