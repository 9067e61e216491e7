package connector_test

import (
	"hash/crc32"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/algos-dev/algos/controlplane/server"
)

// genReader is n reproducible pseudo-random bytes, generated as they are read, with their
// CRC-32.
type genReader struct {
	left int64
	rng  *mrand.ChaCha8
	crc  uint32
}

func newGenReader(n int64) *genReader {
	return &genReader{left: n, rng: mrand.NewChaCha8([32]byte{42})}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n, _ := g.rng.Read(p)
	g.crc = crc32.Update(g.crc, crc32.IEEETable, p[:n])
	g.left -= int64(n)
	return n, nil
}

// rss is the process's resident memory, from /proc (0 where there is none).
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

// memPeak samples the heap in use and the resident memory until stop is called, which returns
// the highest samples. The resident memory covers what the SDKs allocate outside the Go heap
// (the Azure SDK maps its upload buffers).
func memPeak() (stop func() (heap, resident uint64)) {
	var (
		mu        sync.Mutex
		heap, res uint64
		done      = make(chan struct{})
		wg        sync.WaitGroup
	)
	sample := func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		r := rss()
		mu.Lock()
		heap, res = max(heap, m.HeapInuse), max(res, r)
		mu.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				sample()
			}
		}
	}()
	return func() (uint64, uint64) {
		close(done)
		wg.Wait()
		sample()
		mu.Lock()
		defer mu.Unlock()
		return heap, res
	}
}

// TestStream1GiB streams 1 GiB, generated on the fly, through PUT and GET of an Azure
// connector (Azurite holds the bytes in its own process) and checks that the control plane's
// heap stays bounded: no part of the path holds a file. Not parallel: the heap is measured
// while no other test runs.
func TestStream1GiB(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 1 GiB through the API and Azurite: skipped with -short")
	}
	const (
		size  = 1 << 30
		bound = 64 << 20
		// rssBound allows for the upload buffers outside the heap and the race detector's
		// shadow memory of the heap's churn; a file held whole would be 1 GiB.
		rssBound = 128 << 20
		bucket   = "stream"
		file     = "/v1/connector/azure+big/" + bucket + "/big.bin"
		mebibyte = 1 << 20
	)
	endpoint := azurite(t, bucket)
	c := startCP(t, server.Config{})
	c.connector(t, "root", map[string]any{"name": "azure+big", "owner": "alice", "buckets": []string{bucket}, "write": true,
		"endpoint": endpoint, "allow_private_endpoints": true,
		"credentials": map[string]string{"account_name": azAccount, "account_key": azKey}})

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	baseRSS := rss()
	stop := memPeak()
	start := time.Now()

	src := newGenReader(size)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, c.srv.URL+file, src)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	req.Header.Set("Authorization", "Simple "+c.keys["alice"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT 1 GiB: %d", resp.StatusCode)
	}
	put := time.Since(start)

	req, err = http.NewRequestWithContext(t.Context(), http.MethodGet, c.srv.URL+file, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Simple "+c.keys["alice"])
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	h := crc32.NewIEEE()
	n, err := io.Copy(h, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET 1 GiB: %d after %d bytes: %v", resp.StatusCode, n, err)
	}
	peak, peakRSS := stop()
	if n != size || h.Sum32() != src.crc {
		t.Errorf("GET returned %d bytes with CRC %08x, want %d bytes with CRC %08x", n, h.Sum32(), int64(size), src.crc)
	}
	delta, deltaRSS := int64(peak)-int64(base.HeapInuse), int64(peakRSS)-int64(baseRSS)
	t.Logf("1 GiB: PUT %v, GET %v; heap in use %d MiB before, peak %d MiB (%+d MiB); resident %d MiB before, peak %d MiB (%+d MiB)",
		put.Round(time.Millisecond), (time.Since(start) - put).Round(time.Millisecond),
		base.HeapInuse/mebibyte, peak/mebibyte, delta/mebibyte, baseRSS/mebibyte, peakRSS/mebibyte, deltaRSS/mebibyte)
	if delta > bound {
		t.Errorf("the heap in use grew by %d MiB while streaming 1 GiB, want less than %d MiB", delta/mebibyte, bound/mebibyte)
	}
	if deltaRSS > rssBound {
		t.Errorf("the resident memory grew by %d MiB while streaming 1 GiB, want less than %d MiB", deltaRSS/mebibyte, rssBound/mebibyte)
	}
}
