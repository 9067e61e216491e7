// Package metadata asks a cloud's instance metadata service who this VM is, so that an agent
// booted by user data can register under the instance ID its cloud driver knows. Plain HTTP:
// the agent imports no cloud SDK.
package metadata

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Endpoints of the metadata services (link-local; overridable for tests).
type Endpoints struct {
	AWS, GCP, Azure, OpenStack string
}

// Default are the real services.
var Default = Endpoints{
	AWS:       "http://169.254.169.254",
	GCP:       "http://metadata.google.internal",
	Azure:     "http://169.254.169.254",
	OpenStack: "http://169.254.169.254",
}

// ErrUnknownCloud: no metadata lookup for that cloud.
var ErrUnknownCloud = errors.New("unknown cloud")

// InstanceID returns this VM's instance ID as its cloud driver names it: the EC2 instance ID,
// GCE's zone/name/numeric-ID, the Azure VM name (a scale set member's computer name), the Nova
// server UUID.
func InstanceID(ctx context.Context, cloud string, ep Endpoints) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c := &http.Client{Transport: &http.Transport{Proxy: nil, DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext}}
	get := func(method, url string, hdr map[string]string) (string, error) {
		req, err := http.NewRequestWithContext(ctx, method, url, nil)
		if err != nil {
			return "", err
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if err != nil {
			return "", err
		}
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("%s %s: HTTP %d", method, url, resp.StatusCode)
		}
		return strings.TrimSpace(string(b)), nil
	}
	switch cloud {
	case "aws": // IMDSv2: a session token first
		tok, err := get(http.MethodPut, ep.AWS+"/latest/api/token", map[string]string{"X-aws-ec2-metadata-token-ttl-seconds": "60"})
		if err != nil {
			return "", fmt.Errorf("instance metadata (aws): %w", err)
		}
		return get(http.MethodGet, ep.AWS+"/latest/meta-data/instance-id", map[string]string{"X-aws-ec2-metadata-token": tok})
	case "gcp": // the GCE driver's ID: zone/name/numeric ID (a recreated VM keeps its name)
		h := map[string]string{"Metadata-Flavor": "Google"}
		var parts [3]string
		for i, key := range []string{"zone", "name", "id"} {
			v, err := get(http.MethodGet, ep.GCP+"/computeMetadata/v1/instance/"+key, h)
			if err != nil {
				return "", fmt.Errorf("instance metadata (gcp): %w", err)
			}
			parts[i] = v
		}
		parts[0] = parts[0][strings.LastIndexByte(parts[0], '/')+1:] // projects/N/zones/Z → Z
		return strings.Join(parts[:], "/"), nil
	case "azure":
		return get(http.MethodGet, ep.Azure+"/metadata/instance/compute/name?api-version=2021-02-01&format=text", map[string]string{"Metadata": "true"})
	case "openstack":
		b, err := get(http.MethodGet, ep.OpenStack+"/openstack/latest/meta_data.json", nil)
		if err != nil {
			return "", fmt.Errorf("instance metadata (openstack): %w", err)
		}
		var md struct {
			UUID string `json:"uuid"`
		}
		if err := json.Unmarshal([]byte(b), &md); err != nil || md.UUID == "" {
			return "", fmt.Errorf("instance metadata (openstack): no uuid in meta_data.json")
		}
		return md.UUID, nil
	}
	return "", fmt.Errorf("%w %q: use aws, gcp, azure or openstack, or pass --instance-id", ErrUnknownCloud, cloud)
}

// LocalAddress returns the address of this machine on the route to server (a URL or
// host:port): the address the control plane can reach the agent at.
func LocalAddress(server string) (string, error) {
	host := server
	if i := strings.Index(host, "://"); i >= 0 {
		host = host[i+3:]
	}
	if i := strings.IndexByte(host, '/'); i >= 0 {
		host = host[:i]
	}
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(host, "80")
	}
	conn, err := net.Dial("udp", host) // no packet is sent: this only picks the route
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return conn.LocalAddr().(*net.UDPAddr).IP.String(), nil
}
