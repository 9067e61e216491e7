package connector

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Every connection to an object store goes through an http.Transport whose dialer checks the
// address it is about to connect to — after DNS resolution, so that a name resolving to
// 127.0.0.1 (or changing to it between a check and the dial) is caught — and refuses the
// addresses a user's connector must not reach: the control plane's own host, its private
// network and the cloud's metadata service. The transport ignores $HTTP_PROXY (a proxy would
// dial for it), so nothing bypasses the check.

var (
	// Special-purpose IPv4 ranges that net/netip has no predicate for.
	thisNetwork  = netip.MustParsePrefix("0.0.0.0/8")
	sharedSpace  = netip.MustParsePrefix("100.64.0.0/10") // carrier-grade NAT
	ietfProtocol = netip.MustParsePrefix("192.0.0.0/24")
	benchmarking = netip.MustParsePrefix("198.18.0.0/15")
	reserved     = netip.MustParsePrefix("240.0.0.0/4") // and the broadcast address
	// IPv6 ranges that embed an IPv4 address a gateway would forward to.
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// addrClass names why ip may not be dialed, or returns "" when it may.
func addrClass(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid():
		return "not an IP address"
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsLinkLocalUnicast():
		return "a link-local address (the cloud's metadata service lives there)"
	case ip.IsPrivate():
		return "a private address"
	case ip.IsUnspecified():
		return "the unspecified address"
	case ip.IsMulticast(), ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast():
		return "a multicast address"
	case thisNetwork.Contains(ip), ietfProtocol.Contains(ip), benchmarking.Contains(ip), reserved.Contains(ip):
		return "a reserved address"
	case sharedSpace.Contains(ip):
		return "a shared (carrier-grade NAT) address"
	case ip.Is6() && nat64.Contains(ip):
		b := ip.As16()
		if c := addrClass(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})); c != "" {
			return c + " behind NAT64"
		}
	case ip.Is6() && sixToFour.Contains(ip):
		b := ip.As16()
		if c := addrClass(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})); c != "" {
			return c + " behind 6to4"
		}
	}
	return ""
}

// checkAddress is the dialer's Control hook: address is the resolved "ip:port" about to be
// connected to.
func checkAddress(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &refusedError{addr: address, reason: "not an IP address and port"}
	}
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return &refusedError{addr: address, reason: "on network " + network + ", not TCP"}
	}
	if c := addrClass(ap.Addr()); c != "" {
		return &refusedError{addr: ap.Addr().String(), reason: c}
	}
	return nil
}

// checkHost resolves host (a name or an IP literal) and refuses it when one of its addresses
// may not be dialed: the early, clear answer to a connector's creation. The dialer checks
// again at every connection. A name that does not resolve now is not refused here.
func checkHost(ctx context.Context, host string) error {
	if ip, err := netip.ParseAddr(host); err == nil {
		if c := addrClass(ip); c != "" {
			return &refusedError{addr: ip.String(), reason: c}
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil
	}
	for _, ip := range ips {
		if c := addrClass(ip); c != "" {
			return &refusedError{addr: host + " (" + ip.Unmap().String() + ")", reason: c}
		}
	}
	return nil
}

// newTransport returns the transport of one connector's clients. allowPrivate turns the
// address check off (an administrator's decision).
func newTransport(allowPrivate bool) *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = checkAddress
	}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: time.Minute,
	}
}
