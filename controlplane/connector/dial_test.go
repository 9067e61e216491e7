package connector

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestAddrClass(t *testing.T) {
	t.Parallel()
	refused := []string{
		"127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1", // loopback, also IPv4-mapped
		"169.254.169.254", "fe80::1", "169.254.0.1", // link-local: the metadata service
		"10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "fc00::1", "fd00:ec2::254", // private
		"0.0.0.0", "::", // unspecified
		"224.0.0.1", "ff02::1", "239.255.255.250", // multicast
		"0.1.2.3", "100.64.0.1", "198.18.0.1", "240.0.0.1", "255.255.255.255", // reserved, CGNAT
		"64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1", "2002:7f00:1::", // IPv4 behind NAT64 and 6to4
	}
	for _, s := range refused {
		if c := addrClass(netip.MustParseAddr(s)); c == "" {
			t.Errorf("%s is allowed, want refused", s)
		}
	}
	for _, s := range []string{"8.8.8.8", "52.216.0.1", "172.32.0.1", "2600:1f18::1", "64:ff9b::808:808", "2002:808:808::"} {
		if c := addrClass(netip.MustParseAddr(s)); c != "" {
			t.Errorf("%s is refused as %s, want allowed", s, c)
		}
	}
}

// TestTransportRefuses dials through the connectors' transport: addresses are checked after
// DNS resolution, so a name resolving to loopback is refused like the literal address, and
// the refusal says what to do.
func TestTransportRefuses(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	client := &http.Client{Transport: newTransport(false), Timeout: 5 * time.Second}
	for _, u := range []string{
		srv.URL,                    // http://127.0.0.1:port
		"http://localhost:" + port, // a name that resolves to loopback
		"http://169.254.169.254/latest/meta-data/", // the metadata service
		"http://[::1]:" + port,
		"http://[::ffff:127.0.0.1]:" + port,
		"http://0.0.0.0:" + port,
		"http://10.1.2.3:9000",
	} {
		start := time.Now()
		resp, err := client.Get(u)
		if err == nil {
			resp.Body.Close()
			t.Errorf("GET %s succeeded, want refused", u)
			continue
		}
		if !errors.Is(err, ErrEndpointRefused) || !errors.Is(err, ErrForbidden) {
			t.Errorf("GET %s: %v, want ErrEndpointRefused", u, err)
		}
		if !strings.Contains(err.Error(), "allow_private_endpoints") {
			t.Errorf("GET %s: %v: the error does not say how to allow it", u, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("GET %s took %v to be refused", u, d)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the loopback server was reached %d times", n)
	}
	// An administrator's allowance lets the same connections through.
	allowed := &http.Client{Transport: newTransport(true), Timeout: 5 * time.Second}
	for _, u := range []string{srv.URL, "http://localhost:" + port} {
		resp, err := allowed.Get(u)
		if err != nil {
			t.Errorf("GET %s with private endpoints allowed: %v", u, err)
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

func TestCheckHost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, h := range []string{"127.0.0.1", "localhost", "169.254.169.254", "::1", "10.0.0.8"} {
		if err := checkHost(ctx, h); !errors.Is(err, ErrEndpointRefused) {
			t.Errorf("checkHost(%q) = %v, want ErrEndpointRefused", h, err)
		}
	}
	for _, h := range []string{"8.8.8.8", "no-such-host.invalid"} { // unresolvable now: left to the dialer
		if err := checkHost(ctx, h); err != nil {
			t.Errorf("checkHost(%q) = %v, want nil", h, err)
		}
	}
}
