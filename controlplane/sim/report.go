package sim

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// SeeFood is the talk's scenario: one algorithm busiest at lunchtime, 21 calls/s on average,
// 140 calls/s at 12:30, 5 calls/s outside the rush.
func SeeFood() Config {
	return Config{
		Name: "seefood",
		Tenants: []Tenant{{
			Name:  "seefood",
			Curve: LunchCurve(21, 140, 5, 12*time.Hour+30*time.Minute, 0),
		}},
	}
}

// MultiTenant is four algorithms sharing one GPU pool, each half SeeFood's size (10.5 calls/s
// on average, 70 at its peak, 2.5 outside it) with its lunchtime peak at 12:30 in its own time
// zone: London, New York, San Francisco and Tokyo.
func MultiTenant() Config {
	zones := []struct {
		name   string
		offset time.Duration
	}{
		{"seefood-london", 0},
		{"hotdog-newyork", -5 * time.Hour},
		{"tacos-sanfrancisco", -8 * time.Hour},
		{"sushi-tokyo", 9 * time.Hour},
	}
	c := Config{Name: "multitenant"}
	for _, z := range zones {
		c.Tenants = append(c.Tenants, Tenant{
			Name:  z.name,
			Curve: LunchCurve(10.5, 70, 2.5, 12*time.Hour+30*time.Minute, z.offset),
		})
	}
	return c
}

// Strategies returns the strategies compared: fixed for the peak; reactive VM autoscaling
// with a conventional 60% utilisation target and with the loosest target (85%) that still
// keeps SeeFood's p99 under a second; algos without and with predictive pre-warm.
func Strategies() []Strategy {
	noPrewarm := DefaultAlgos()
	noPrewarm.Prewarm = false
	return []Strategy{Fixed{}, Reactive{Target: 0.6}, Reactive{Target: 0.85}, noPrewarm, DefaultAlgos()}
}

// Report is a scenario's results, one per strategy.
type Report struct {
	Config  Config
	Results []Result
}

// LowerBound is the average machines the calls truly keep busy over the report window: the
// highest of the strategies' busy machine-seconds (those that serve every call agree) over
// the window.
func (r Report) LowerBound() float64 {
	lb := 0.0
	for _, res := range r.Results {
		lb = max(lb, res.LowerBound)
	}
	return lb
}

// Find returns the result of the strategy with the given METRIC key ("algos", "fixed", …).
func (r Report) Find(key string) (Result, bool) {
	for _, res := range r.Results {
		if res.Key == key {
			return res, true
		}
	}
	return Result{}, false
}

// WriteTable prints the scenario and the side-by-side table.
func (r Report) WriteTable(w io.Writer) error {
	c := r.Config
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d algorithm(s), %.1f calls/s on average, %.0f calls/s at the peak",
		c.Name, len(c.Tenants), sumAvg(c), sumPeak(c))
	fmt.Fprintf(&b, "; service %v, boot %v, worker start %v; seed %d", c.Service, c.Boot, c.WorkerStart, c.Seed)
	from, to := c.window()
	fmt.Fprintf(&b, "; reported from %s to %s of %d days\n", clock(from), clock(to), c.Days)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "strategy\tmachine-h\tavg machines\tpeak\t$/month\tp50 s\tp99 s\tcalls >1 s\tdropped\tcalls\t")
	for _, res := range r.Results {
		fmt.Fprintf(tw, "%s\t%.1f\t%.2f\t%d\t%s\t%.3f\t%.3f\t%d\t%d\t%d\t\n",
			res.Strategy, res.MachineHours, res.AvgMachines, res.PeakMachines, dollars(res.CostPerMonth),
			res.P50.Seconds(), res.P99.Seconds(), res.Over1s, res.Dropped, res.Calls)
	}
	lb := r.LowerBound()
	if len(r.Results) > 0 {
		hours := lb * r.Results[0].Window.Hours()
		fmt.Fprintf(tw, "lower bound (busy)\t%.1f\t%.2f\t-\t%s\t-\t-\t-\t-\t-\t\n", hours, lb, dollars(lb*c.MachineMonth))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(c.Tenants) > 1 {
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "per algorithm: p99 s\t"+strings.Join(tenantNames(c), "\t")+"\t")
		for _, res := range r.Results {
			fmt.Fprintf(tw, "%s", res.Strategy)
			for _, tr := range res.PerTenant {
				fmt.Fprintf(tw, "\t%.3f", tr.P99.Seconds())
			}
			fmt.Fprintln(tw, "\t")
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// WriteMetrics prints the headline figures as "METRIC name=value" lines, prefixed with the
// scenario's name: the algos machines, the lower bound, their ratio, the algos p99 (seconds),
// drops and calls over a second; then every strategy's machines and p99 under its key (the
// first reactive strategy's also as reactive_machines).
func (r Report) WriteMetrics(w io.Writer) error {
	p := r.Config.Name
	lb := r.LowerBound()
	var b strings.Builder
	add := func(name string, v float64) { fmt.Fprintf(&b, "METRIC %s_%s=%.3f\n", p, name, v) }
	if a, ok := r.Find("algos"); ok {
		add("algos_machines", a.AvgMachines)
		add("lower_bound_machines", lb)
		if lb > 0 {
			add("ratio", a.AvgMachines/lb)
		}
		add("p99_s", a.P99.Seconds())
		add("dropped", float64(a.Dropped))
		add("over_1s", float64(a.Over1s))
	}
	reactive := false
	for _, res := range r.Results {
		if strings.HasPrefix(res.Key, "reactive") && !reactive {
			reactive = true
			add("reactive_machines", res.AvgMachines)
		}
		if res.Key != "algos" {
			add(res.Key+"_machines", res.AvgMachines)
			add(res.Key+"_p99_s", res.P99.Seconds())
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func sumAvg(c Config) float64 {
	s := 0.0
	for _, t := range c.Tenants {
		s += t.Curve.Average()
	}
	return s
}

// sumPeak is the highest total rate over a day (the peaks of different time zones do not add).
func sumPeak(c Config) float64 {
	m := 0.0
	for t := 0.0; t < daySeconds; t += 10 {
		s := 0.0
		for _, tn := range c.Tenants {
			s += tn.Curve.Rate(t)
		}
		m = max(m, s)
	}
	return m
}

func tenantNames(c Config) []string {
	var out []string
	for _, t := range c.Tenants {
		out = append(out, t.Name)
	}
	return out
}

// clock renders seconds since the start as "day N hh:mm".
func clock(s float64) string {
	d := int(s / daySeconds)
	rest := time.Duration((s - float64(d)*daySeconds) * float64(time.Second))
	return fmt.Sprintf("day %d %02d:%02d", d+1, int(rest.Hours()), int(rest.Minutes())%60)
}

// dollars renders an amount as "$12,345".
func dollars(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return "$" + b.String()
}
