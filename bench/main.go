// Command bench measures algos's call path against the same worker driven directly over the
// worker protocol, in one run, and the cold start of Python and Go versions. Every figure is a
// line "METRIC name=value".
//
//	go run ./bench [-duration 5s]
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/algos-dev/algos/api"
)

func main() {
	dur := flag.Duration("duration", 5*time.Second, "how long each throughput phase runs")
	flag.StringVar(&sandboxMode, "sandbox", "auto", "the workers' sandbox (algos dev --sandbox): auto, namespaces, basic, none or off")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *dur); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func metric(name string, v float64) { fmt.Printf("METRIC %s=%.3f\n", name, v) }

// sandboxMode is algos dev's --sandbox for the run.
var sandboxMode = "auto"

func run(ctx context.Context, dur time.Duration) error {
	tmp, err := os.MkdirTemp("", "algos-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "algos")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/algos").CombinedOutput(); err != nil {
		return fmt.Errorf("build algos: %v\n%s", err, out)
	}
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(tmp, "algos-sandbox"), "./cmd/algos-sandbox").CombinedOutput(); err != nil {
		return fmt.Errorf("build algos-sandbox: %v\n%s", err, out)
	}
	dataDir := filepath.Join(tmp, "data")
	dev := exec.CommandContext(ctx, bin, "dev", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "warn", "--sandbox", sandboxMode)
	dev.Stderr = os.Stderr
	dev.Cancel = func() error { return dev.Process.Signal(os.Interrupt) }
	stdout, err := dev.StdoutPipe()
	if err != nil {
		return err
	}
	if err := dev.Start(); err != nil {
		return err
	}
	defer func() { _ = dev.Process.Signal(os.Interrupt); _ = dev.Wait() }()
	vars := map[string]string{}
	sc := bufio.NewScanner(stdout)
	for len(vars) < 2 && sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "="); ok {
			vars[k] = v
		}
	}
	endpoint, key := vars["ALGOS_ENDPOINT"], vars["ALGOS_API_KEY"]
	if endpoint == "" || key == "" {
		return errors.New("algos dev did not print its endpoint and key")
	}
	c := api.NewClient(endpoint, key)

	goV, err := publish(ctx, c, "bench/algorithms/echo-go")
	if err != nil {
		return err
	}
	pyV, err := publish(ctx, c, "bench/algorithms/echo-python")
	if err != nil {
		return err
	}
	// First calls: artifact download, Go build, worker start.
	start := time.Now()
	if err := callOnce(ctx, c, goV); err != nil {
		return err
	}
	metric("first_call_go_with_build_ms", ms(time.Since(start)))
	start = time.Now()
	if err := callOnce(ctx, c, pyV); err != nil {
		return err
	}
	metric("first_call_python_ms", ms(time.Since(start)))

	// Cold starts: the artifact is prepared, no worker runs (scaled to zero after idle 2s).
	for _, v := range []struct{ name, id string }{{"python", pyV}, {"go", goV}} {
		if err := waitNoWorkers(ctx, c, v.id, 30*time.Second); err != nil {
			return err
		}
		start := time.Now()
		if err := callOnce(ctx, c, v.id); err != nil {
			return err
		}
		metric("cold_start_"+v.name+"_ms", ms(time.Since(start)))
	}

	// Through algos: HTTP → control plane → agent → worker.
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 256}}
	url := endpoint + "/v1/algo/" + goV
	body := []byte(`"bench"`)
	viaAlgos := func() error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Authorization", "Simple "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	// Directly: the same worker binary, driven over the protocol by this process.
	goBin, err := builtBinary(dataDir)
	if err != nil {
		return err
	}
	workers, err := startDirect(ctx, goBin, tmp, 4)
	if err != nil {
		return err
	}
	defer func() {
		for _, w := range workers {
			w.close()
		}
	}()
	free := make(chan *directWorker, len(workers))
	for _, w := range workers {
		free <- w
	}
	line := []byte(`{"content_type":"json","data":"bench"}` + "\n")
	direct := func() error {
		w := <-free
		defer func() { free <- w }()
		return w.call(line)
	}

	warm := func(f func() error) error {
		for i := 0; i < 200; i++ {
			if err := f(); err != nil {
				return err
			}
		}
		return nil
	}
	if err := warm(viaAlgos); err != nil {
		return fmt.Errorf("warm up via algos: %w", err)
	}
	if err := warm(direct); err != nil {
		return fmt.Errorf("warm up direct: %w", err)
	}
	res := map[string]result{}
	for _, conc := range []int{1, 32} {
		for _, p := range []struct {
			name string
			f    func() error
		}{{"direct", direct}, {"invoke", viaAlgos}} {
			r, err := load(ctx, p.f, conc, dur)
			if err != nil {
				return fmt.Errorf("%s c=%d: %w", p.name, conc, err)
			}
			res[fmt.Sprintf("%s_c%d", p.name, conc)] = r
			metric(fmt.Sprintf("%s_rps_c%d", p.name, conc), r.rps)
			metric(fmt.Sprintf("%s_p50_ms_c%d", p.name, conc), ms(r.p50))
			metric(fmt.Sprintf("%s_p99_ms_c%d", p.name, conc), ms(r.p99))
		}
	}
	metric("invoke_overhead_p50_ms", ms(res["invoke_c1"].p50-res["direct_c1"].p50))
	metric("invoke_overhead_p99_ms", ms(res["invoke_c1"].p99-res["direct_c1"].p99))
	metric("invoke_rps_ratio_c32", res["invoke_c32"].rps/res["direct_c32"].rps)
	metric("invoke_p50_ratio_c1", float64(res["invoke_c1"].p50)/float64(res["direct_c1"].p50))
	if err := catalogBench(ctx, dataDir, endpoint, key, res, direct, viaAlgos, dur); err != nil {
		return err
	}
	return pipelineBench(ctx, c, endpoint, key, 200)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func publish(ctx context.Context, c *api.Client, dir string) (string, error) {
	m, err := api.ReadManifest(dir)
	if err != nil {
		return "", err
	}
	if _, err := c.CreateAlgorithm(ctx, "demo", api.CreateAlgorithm{Name: m.Name}); err != nil {
		return "", err
	}
	art, _, err := api.PackSource(dir)
	if err != nil {
		return "", err
	}
	v, err := c.PublishVersion(ctx, "demo", m.Name, bytes.NewReader(art), api.PublishOptions{})
	if err != nil {
		return "", err
	}
	return v.Owner + "/" + v.Name + "/" + v.Version, nil
}

func callOnce(ctx context.Context, c *api.Client, id string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, err := c.Call(ctx, id, "application/json", []byte(`"x"`), api.CallOptions{})
		var ae *api.Error
		if err == nil || !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond) // the node is still registering
	}
}

// waitNoWorkers waits out the version's idle timeout (2s, plus the reaper's tick) and then
// for a heartbeat sent after it that reports no worker of the version.
func waitNoWorkers(ctx context.Context, c *api.Client, id string, d time.Duration) error {
	time.Sleep(3500 * time.Millisecond)
	since := time.Now()
	deadline := since.Add(d)
	for time.Now().Before(deadline) {
		ns, err := c.ListNodes(ctx)
		if err != nil {
			return err
		}
		n, fresh := 0, len(ns) > 0
		for _, node := range ns {
			fresh = fresh && node.LastSeenAt.After(since)
			for _, w := range node.Workers {
				if w.Version == id {
					n += w.Workers
				}
			}
		}
		if n == 0 && fresh {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the workers of %s did not scale to zero", id)
}

type result struct {
	rps      float64
	p50, p99 time.Duration
}

// load runs f from conc goroutines for d and reports throughput and latency percentiles.
func load(ctx context.Context, f func() error, conc int, d time.Duration) (result, error) {
	var mu sync.Mutex
	var all []time.Duration
	var firstErr error
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 4096)
			for time.Now().Before(end) && ctx.Err() == nil {
				s := time.Now()
				if err := f(); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				lat = append(lat, time.Since(s))
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return result{}, firstErr
	}
	if len(all) == 0 {
		return result{}, errors.New("no call completed")
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	return result{rps: float64(len(all)) / d.Seconds(), p50: all[len(all)/2], p99: all[len(all)*99/100]}, nil
}

// builtBinary finds the Go algorithm the agent built.
func builtBinary(dataDir string) (string, error) {
	m, _ := filepath.Glob(filepath.Join(dataDir, "local-cloud", "instances", "*", "agent", "artifacts", "*", "algo"))
	if len(m) == 0 {
		return "", errors.New("the agent's build of the Go algorithm was not found")
	}
	return m[0], nil
}
