// Package sim is a deterministic discrete-event simulation of a GPU inference service on a
// simulated clock and a simulated cloud. It replays daily call traces (Poisson arrivals
// following a lunchtime-peaked curve) against three ways of provisioning GPU machines — fixed
// capacity for the peak, reactive VM autoscaling, and algos — and reports what each costs in
// machines and what it does to call latency, against the lower bound of the machines the
// calls truly keep busy.
//
// The algos strategy drives the control plane's own pure packages, not re-implementations:
// controlplane/autoscaler (Version's concurrency windows, panic mode and scale to zero, the
// Predictor's pre-warm, NodesToRemove and Drain) and controlplane/scheduler (Place, Cheapest).
//
// The model:
//   - a node is one GPU machine, billed from launch to removal (boot included) at
//     Config.MachineMonth per month; it boots in Config.Boot;
//   - a worker holds a node's GPU and serves one call at a time in Config.Service; starting a
//     worker on a node that is up (loading its model) takes Config.WorkerStart;
//   - calls wait in a FIFO queue per algorithm, bounded by Config.QueueLimit: a call arriving
//     at a full queue is dropped; a call's latency is its wait plus its service time;
//   - arrivals are Poisson with the curve's rate held constant over each simulated second,
//     one random stream per algorithm from Config.Seed, the same for every strategy.
//
// Everything runs in one goroutine per strategy, event by event: a two-day SeeFood replay
// (3.6 million calls) takes about a second.
package sim

import (
	"fmt"
	"time"
)

// Tenant is one algorithm of a scenario and its daily call curve.
type Tenant struct {
	Name  string
	Curve Curve
}

// Config is one scenario: its algorithms, the service, the cloud and the run. Zero fields take
// the defaults of WithDefaults.
type Config struct {
	// Name prefixes the METRIC lines, e.g. "seefood".
	Name    string
	Tenants []Tenant
	// Service is the GPU time of one call (default 285 ms: 3.5 calls/s per machine).
	Service time.Duration
	// Boot is the time from asking the cloud for a machine to the machine being up (default
	// 120 s); WorkerStart is the time a worker then takes to load its model (default 10 s).
	Boot, WorkerStart time.Duration
	// Days simulated (default 2); Seed of the arrivals (0 is a seed like any other).
	Days int
	Seed uint64
	// QueueLimit is the calls an algorithm's queue holds (default 5000).
	QueueLimit int
	// MachineMonth is the price of one machine for a month of 730 hours (default $648).
	MachineMonth float64
	// MaxNodes caps the machines of each strategy (default 1000).
	MaxNodes int
	// From and To bound the report window; zero To means from the start of day 2 (day 1
	// when only one day is run) to the end of the run.
	From, To time.Duration
}

// Defaults of Config.
const (
	DefaultService      = 285 * time.Millisecond
	DefaultBoot         = 120 * time.Second
	DefaultWorkerStart  = 10 * time.Second
	DefaultDays         = 2
	DefaultQueueLimit   = 5000
	DefaultMachineMonth = 648.0
	DefaultMaxNodes     = 1000
)

// WithDefaults returns the config with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Service <= 0 {
		c.Service = DefaultService
	}
	if c.Boot < 0 {
		c.Boot = 0
	} else if c.Boot == 0 {
		c.Boot = DefaultBoot
	}
	if c.WorkerStart <= 0 {
		c.WorkerStart = DefaultWorkerStart
	}
	if c.Days <= 0 {
		c.Days = DefaultDays
	}
	if c.QueueLimit <= 0 {
		c.QueueLimit = DefaultQueueLimit
	}
	if c.MachineMonth <= 0 {
		c.MachineMonth = DefaultMachineMonth
	}
	if c.MaxNodes <= 0 {
		c.MaxNodes = DefaultMaxNodes
	}
	return c
}

// window returns the report window in seconds since the start.
func (c Config) window() (from, to float64) {
	end := float64(c.Days) * daySeconds
	if c.To <= 0 {
		if c.Days > 1 {
			return daySeconds, end
		}
		return 0, end
	}
	return min(c.From.Seconds(), end), min(c.To.Seconds(), end)
}

// Result is what one strategy did over the report window.
type Result struct {
	Strategy string
	// Key names the strategy in METRIC lines ("fixed", "reactive60", "algos", …).
	Key string
	// Window is the report window's length.
	Window time.Duration
	// MachineHours are the machines provisioned (booting, up or draining) over the window;
	// AvgMachines is the same divided by the window, PeakMachines the most at once.
	MachineHours float64
	AvgMachines  float64
	PeakMachines int
	// CostPerMonth is AvgMachines at the scenario's price per machine-month.
	CostPerMonth float64
	// Launches counts the machines asked of the cloud inside the window.
	Launches int
	// Calls arrived inside the window; P50 and P99 are their latencies (queueing plus
	// service); Over1s are those over a second; Dropped found the queue full.
	Calls   int64
	P50     time.Duration
	P99     time.Duration
	Over1s  int64
	Dropped int64
	// BusyMachineSeconds is the GPU time spent serving calls inside the window, and
	// LowerBound that divided by the window: the average machines the calls truly need.
	BusyMachineSeconds float64
	LowerBound         float64
	// PerTenant holds the same figures per algorithm for latency and calls (machines are
	// shared and left zero).
	PerTenant []TenantResult
}

// TenantResult is one algorithm's share of a Result.
type TenantResult struct {
	Name                   string
	Calls, Over1s, Dropped int64
	P50, P99               time.Duration
	LowerBound             float64
}

// result turns the engine's books into a Result.
func (e *engine) result() Result {
	win := e.to - e.from
	r := Result{Strategy: e.strat.Name(), Key: e.strat.key(), Window: seconds(win), PeakMachines: e.peakNodes, Launches: e.launches}
	all := newHist()
	for _, t := range e.tenants {
		all.merge(t.lat)
		r.Calls += t.calls
		r.Over1s += t.over1s
		r.Dropped += t.dropped
		r.BusyMachineSeconds += t.busySeconds
		r.PerTenant = append(r.PerTenant, TenantResult{
			Name: t.spec.Name, Calls: t.calls, Over1s: t.over1s, Dropped: t.dropped,
			P50: seconds(t.lat.quantile(0.5)), P99: seconds(t.lat.quantile(0.99)),
			LowerBound: t.busySeconds / win,
		})
	}
	r.MachineHours = e.nodeSeconds / 3600
	r.AvgMachines = e.nodeSeconds / win
	r.CostPerMonth = r.AvgMachines * e.cfg.MachineMonth
	r.P50, r.P99 = seconds(all.quantile(0.5)), seconds(all.quantile(0.99))
	r.LowerBound = r.BusyMachineSeconds / win
	return r
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// Run replays the scenario under one strategy.
func Run(cfg Config, s Strategy) (Result, error) {
	cfg = cfg.WithDefaults()
	if len(cfg.Tenants) == 0 {
		return Result{}, fmt.Errorf("sim: scenario %q has no algorithms", cfg.Name)
	}
	if from, to := cfg.window(); to <= from {
		return Result{}, fmt.Errorf("sim: empty report window [%v, %v)", cfg.From, cfg.To)
	}
	return newEngine(cfg, s).run(), nil
}

// Compare replays the scenario under each strategy, concurrently (each run is independent and
// deterministic), and returns the report.
func Compare(cfg Config, strategies ...Strategy) (Report, error) {
	cfg = cfg.WithDefaults()
	results := make([]Result, len(strategies))
	errs := make([]error, len(strategies))
	done := make(chan struct{})
	for i, s := range strategies {
		go func() {
			defer func() { done <- struct{}{} }()
			results[i], errs[i] = Run(cfg, s)
		}()
	}
	for range strategies {
		<-done
	}
	for _, err := range errs {
		if err != nil {
			return Report{}, err
		}
	}
	return Report{Config: cfg, Results: results}, nil
}
