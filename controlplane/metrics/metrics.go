// Package metrics exposes the control plane's Prometheus metrics on /metrics: calls and their
// latency per algorithm version, cold starts (OpenTelemetry FaaS names where they fit:
// faas.coldstarts, faas.init_duration), and, read at scrape time from the fleet and the pools,
// workers and queued calls per version, nodes and pool sizes, GPU memory per device. Labels
// never carry keys or tokens: algorithm, version, node, pool, error type.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/algos-dev/algos/api"
)

// NodeView is what the scrape reads of a node.
type NodeView struct {
	ID, Pool string
	Ready    bool
	Workers  []api.WorkerStats
	GPUs     []api.GPUDevice
}

// PoolView is what the scrape reads of a pool.
type PoolView struct {
	Name           string
	Desired, Ready int
}

// AutoscalerView is the worker autoscaler's latest decision for a version.
type AutoscalerView struct {
	Version                              string
	Desired, Current, InFlight, Unplaced int
	Panic                                bool
}

// Sources are read at scrape time.
type Sources struct {
	Nodes      func() []NodeView
	Pools      func() []PoolView
	Autoscaler func() []AutoscalerView
}

// Metrics records the control plane's metrics. Safe for concurrent use.
type Metrics struct {
	reg       *prometheus.Registry
	calls     *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	cold      *prometheus.CounterVec
	initDur   *prometheus.HistogramVec
	overhead  prometheus.Histogram
	asyncReqs *prometheus.CounterVec
}

// New registers the metrics (and the Go runtime's) in a fresh registry.
func New(src Sources) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.calls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "algos_calls_total",
		Help: "Calls by algorithm version and outcome (ok, or the envelope's error_type)."}, []string{"algorithm", "version", "outcome"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "algos_call_duration_seconds",
		Help:    "Call duration at the control plane, from request to reply.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}}, []string{"algorithm", "version"})
	m.cold = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "faas_coldstarts_total",
		Help: "Calls that waited for a new worker (OpenTelemetry faas.coldstarts)."}, []string{"algorithm", "version"})
	m.initDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "faas_init_duration_seconds",
		Help:    "Time a cold call waited for its worker to start (OpenTelemetry faas.init_duration).",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}}, []string{"algorithm", "version"})
	m.asyncReqs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "algos_async_requests_total",
		Help: "Asynchronous (output=void) requests accepted."}, []string{"algorithm", "version"})
	m.reg.MustRegister(m.calls, m.duration, m.cold, m.initDur, m.asyncReqs,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), &stateCollector{src: src})
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Call records a finished call. errorType is "" for a result.
func (m *Metrics) Call(versionID string, d time.Duration, errorType string) {
	alg, ver := split(versionID)
	outcome := "ok"
	if errorType != "" {
		outcome = errorType
	}
	m.calls.WithLabelValues(alg, ver, outcome).Inc()
	m.duration.WithLabelValues(alg, ver).Observe(d.Seconds())
}

// ColdStart records a call that waited wait for a new worker.
func (m *Metrics) ColdStart(versionID string, wait time.Duration) {
	alg, ver := split(versionID)
	m.cold.WithLabelValues(alg, ver).Inc()
	m.initDur.WithLabelValues(alg, ver).Observe(wait.Seconds())
}

// Async records an accepted asynchronous request.
func (m *Metrics) Async(versionID string) {
	alg, ver := split(versionID)
	m.asyncReqs.WithLabelValues(alg, ver).Inc()
}

// split turns "owner/name/1.2.3" into ("owner/name", "1.2.3").
func split(id string) (string, string) { return api.SplitVersionID(id) }

var (
	descWorkers  = prometheus.NewDesc("algos_workers", "Workers of a version on a node, by state.", []string{"algorithm", "version", "node", "state"}, nil)
	descQueued   = prometheus.NewDesc("algos_queued_calls", "Calls waiting for a worker of a version on a node.", []string{"algorithm", "version", "node"}, nil)
	descNodes    = prometheus.NewDesc("algos_nodes", "Registered nodes by pool and readiness.", []string{"pool", "ready"}, nil)
	descPoolSize = prometheus.NewDesc("algos_pool_nodes", "Node pool sizes: desired and ready.", []string{"pool", "kind"}, nil)
	descGPUTotal = prometheus.NewDesc("algos_gpu_memory_total_bytes", "GPU memory per device.", []string{"node", "gpu", "model"}, nil)
	descGPUUsed  = prometheus.NewDesc("algos_gpu_memory_used_bytes", "GPU memory in use per device, as last reported.", []string{"node", "gpu", "model"}, nil)
	descDesired  = prometheus.NewDesc("algos_workers_desired", "Workers the autoscaler wants for a version (all nodes).", []string{"algorithm", "version"}, nil)
	descActual   = prometheus.NewDesc("algos_workers_actual", "Workers of a version reported by ready nodes, starting ones included.", []string{"algorithm", "version"}, nil)
	descInFlight = prometheus.NewDesc("algos_calls_in_flight", "Calls of a version in flight at the control plane, those waiting for a node included.", []string{"algorithm", "version"}, nil)
	descUnplaced = prometheus.NewDesc("algos_workers_unplaced", "Desired workers of a version that fit no ready node (a pool grows for them).", []string{"algorithm", "version"}, nil)
	descPanic    = prometheus.NewDesc("algos_autoscaler_panic", "1 while a version's autoscaler is in panic mode.", []string{"algorithm", "version"}, nil)
)

// stateCollector reads the fleet and the pools at scrape time.
type stateCollector struct{ src Sources }

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descWorkers, descQueued, descNodes, descPoolSize, descGPUTotal, descGPUUsed, descDesired, descActual, descInFlight, descUnplaced, descPanic} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	if c.src.Nodes != nil {
		nodes := map[[2]string]int{}
		for _, n := range c.src.Nodes() {
			nodes[[2]string{n.Pool, strconv.FormatBool(n.Ready)}]++
			for _, w := range n.Workers {
				alg, ver := split(w.Version)
				idle := w.Workers - w.Busy - w.Starting
				for state, v := range map[string]int{"busy": w.Busy, "starting": w.Starting, "idle": max(idle, 0)} {
					ch <- prometheus.MustNewConstMetric(descWorkers, prometheus.GaugeValue, float64(v), alg, ver, n.ID, state)
				}
				ch <- prometheus.MustNewConstMetric(descQueued, prometheus.GaugeValue, float64(w.Queued), alg, ver, n.ID)
			}
			for _, g := range n.GPUs {
				ch <- prometheus.MustNewConstMetric(descGPUTotal, prometheus.GaugeValue, float64(g.MemoryMiB)*(1<<20), n.ID, g.UUID, g.Model)
				ch <- prometheus.MustNewConstMetric(descGPUUsed, prometheus.GaugeValue, float64(g.UsedMiB)*(1<<20), n.ID, g.UUID, g.Model)
			}
		}
		for k, v := range nodes {
			ch <- prometheus.MustNewConstMetric(descNodes, prometheus.GaugeValue, float64(v), k[0], k[1])
		}
	}
	if c.src.Autoscaler != nil {
		for _, a := range c.src.Autoscaler() {
			alg, ver := split(a.Version)
			inPanic := 0.0
			if a.Panic {
				inPanic = 1
			}
			ch <- prometheus.MustNewConstMetric(descDesired, prometheus.GaugeValue, float64(a.Desired), alg, ver)
			ch <- prometheus.MustNewConstMetric(descActual, prometheus.GaugeValue, float64(a.Current), alg, ver)
			ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(a.InFlight), alg, ver)
			ch <- prometheus.MustNewConstMetric(descUnplaced, prometheus.GaugeValue, float64(a.Unplaced), alg, ver)
			ch <- prometheus.MustNewConstMetric(descPanic, prometheus.GaugeValue, inPanic, alg, ver)
		}
	}
	if c.src.Pools != nil {
		for _, p := range c.src.Pools() {
			ch <- prometheus.MustNewConstMetric(descPoolSize, prometheus.GaugeValue, float64(p.Desired), p.Name, "desired")
			ch <- prometheus.MustNewConstMetric(descPoolSize, prometheus.GaugeValue, float64(p.Ready), p.Name, "ready")
		}
	}
}
