package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client talks to the algos REST API. It is safe for concurrent use.
type Client struct {
	endpoint string
	key      string
	scheme   string // "Simple" or "Bearer"
	http     *http.Client
}

// ClientOption configures a Client.
type ClientOption func(*Client)

// WithHTTPClient sets the HTTP client (default: pooled keep-alive connections, no overall
// timeout: calls are bounded by their context).
func WithHTTPClient(h *http.Client) ClientOption { return func(c *Client) { c.http = h } }

// WithBearer sends the key as "Bearer KEY" instead of "Simple KEY".
func WithBearer() ClientOption { return func(c *Client) { c.scheme = "Bearer" } }

// NewClient returns a client of the API at endpoint (e.g. "http://127.0.0.1:8080") that
// authenticates with key ("" for none).
func NewClient(endpoint, key string, opts ...ClientOption) *Client {
	c := &Client{
		endpoint: strings.TrimRight(endpoint, "/"),
		key:      key,
		scheme:   "Simple",
		http: &http.Client{Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
		}},
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Endpoint returns the base URL of the API.
func (c *Client) Endpoint() string { return c.endpoint }

// Do sends a request and returns the reply when its status is 2xx; otherwise an *Error. The
// caller closes the body.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, contentType string, body io.Reader) (*http.Response, error) {
	u := c.endpoint + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if c.key != "" {
		req.Header.Set("Authorization", c.scheme+" "+c.key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w (is the control plane running at %s?)", method, path, err, c.endpoint)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, decodeError(resp.StatusCode, b)
	}
	return resp, nil
}

// doJSON sends in as JSON (when not nil) and decodes the reply into out (when not nil).
func (c *Client) doJSON(ctx context.Context, method, path string, query url.Values, in, out any) error {
	var body io.Reader
	ct := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body, ct = bytes.NewReader(b), "application/json"
	}
	resp, err := c.Do(ctx, method, path, query, ct, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode reply of %s %s: %w", method, path, err)
	}
	return nil
}

// CallOptions are the query options of a call.
type CallOptions struct {
	Timeout int  // seconds; 0 = the version's default
	Stdout  bool // include the call's log in metadata.stdout (owner only)
}

func (o CallOptions) query() url.Values {
	q := url.Values{}
	if o.Timeout > 0 {
		q.Set("timeout", strconv.Itoa(o.Timeout))
	}
	if o.Stdout {
		q.Set("stdout", "true")
	}
	return q
}

// Call calls an algorithm ("owner/name" or "owner/name/1.2.*") with a body of the given
// Content-Type ("application/json", "text/plain" or "application/octet-stream"). An algorithm
// error comes back as an *Error with the envelope's error.
func (c *Client) Call(ctx context.Context, algo, contentType string, input []byte, o CallOptions) (*CallResponse, error) {
	resp, err := c.Do(ctx, http.MethodPost, "/v1/algo/"+strings.Trim(algo, "/"), o.query(), contentType, bytes.NewReader(input))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out CallResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("decode reply: %w", err)
	}
	return &out, nil
}

// CallAsync calls with output=void and returns the request ID to poll with GetRequest.
func (c *Client) CallAsync(ctx context.Context, algo, contentType string, input []byte, o CallOptions) (AsyncReply, error) {
	q := o.query()
	q.Set("output", "void")
	var out AsyncReply
	resp, err := c.Do(ctx, http.MethodPost, "/v1/algo/"+strings.Trim(algo, "/"), q, contentType, bytes.NewReader(input))
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&out)
	return out, err
}

// GetRequest returns an asynchronous request's reply: done is false (and the response nil)
// while it runs. A completed request whose call failed has the envelope's Error set.
func (c *Client) GetRequest(ctx context.Context, id string) (resp *CallResponse, done bool, err error) {
	r, err := c.Do(ctx, http.MethodGet, "/v1/requests/"+url.PathEscape(id), nil, "", nil)
	if err != nil {
		return nil, false, err
	}
	defer r.Body.Close()
	if r.StatusCode == http.StatusAccepted {
		_, _ = io.Copy(io.Discard, r.Body)
		return nil, false, nil
	}
	var out CallResponse
	if err := json.NewDecoder(r.Body).Decode(&out); err != nil {
		return nil, false, fmt.Errorf("decode reply: %w", err)
	}
	return &out, true, nil
}

// CreateAlgorithm creates an algorithm of owner.
func (c *Client) CreateAlgorithm(ctx context.Context, owner string, in CreateAlgorithm) (Algorithm, error) {
	var out Algorithm
	err := c.doJSON(ctx, http.MethodPost, "/v1/algorithms/"+url.PathEscape(owner), nil, in, &out)
	return out, err
}

// GetAlgorithm reads an algorithm.
func (c *Client) GetAlgorithm(ctx context.Context, owner, name string) (Algorithm, error) {
	var out Algorithm
	err := c.doJSON(ctx, http.MethodGet, "/v1/algorithms/"+url.PathEscape(owner)+"/"+url.PathEscape(name), nil, nil, &out)
	return out, err
}

// UpdateAlgorithm replaces an algorithm's description and settings.
func (c *Client) UpdateAlgorithm(ctx context.Context, owner, name string, in CreateAlgorithm) (Algorithm, error) {
	var out Algorithm
	err := c.doJSON(ctx, http.MethodPatch, "/v1/algorithms/"+url.PathEscape(owner)+"/"+url.PathEscape(name), nil, in, &out)
	return out, err
}

// DeleteAlgorithm deletes an algorithm and its versions (idempotent).
func (c *Client) DeleteAlgorithm(ctx context.Context, owner, name string) error {
	return c.doJSON(ctx, http.MethodDelete, "/v1/algorithms/"+url.PathEscape(owner)+"/"+url.PathEscape(name), nil, nil, nil)
}

// PublishOptions choose the new version's number and metadata.
type PublishOptions struct {
	Bump         string // major, minor or patch (default minor; the first version is 1.0.0)
	Version      string // explicit semantic version; overrides Bump
	ReleaseNotes string
	Visibility   string // public (default) or private
}

// PublishVersion uploads a source artifact (a gzipped tar of the source directory, see
// PackSource) as a new immutable version.
func (c *Client) PublishVersion(ctx context.Context, owner, name string, artifact io.Reader, o PublishOptions) (Version, error) {
	q := url.Values{}
	for k, v := range map[string]string{"bump": o.Bump, "version": o.Version, "release_notes": o.ReleaseNotes, "visibility": o.Visibility} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var out Version
	resp, err := c.Do(ctx, http.MethodPost, "/v1/algorithms/"+url.PathEscape(owner)+"/"+url.PathEscape(name)+"/versions", q, "application/gzip", artifact)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&out)
	return out, err
}

// ListVersions lists an algorithm's versions, oldest first.
func (c *Client) ListVersions(ctx context.Context, owner, name string) ([]Version, error) {
	var out []Version
	err := c.doJSON(ctx, http.MethodGet, "/v1/algorithms/"+url.PathEscape(owner)+"/"+url.PathEscape(name)+"/versions", nil, nil, &out)
	return out, err
}

// CreateKey creates an API key for the caller's account; the reply holds the secret, once.
func (c *Client) CreateKey(ctx context.Context, in CreateKey) (Key, error) {
	var out Key
	err := c.doJSON(ctx, http.MethodPost, "/v1/keys", nil, in, &out)
	return out, err
}

// ListKeys lists the caller's keys (without secrets).
func (c *Client) ListKeys(ctx context.Context) ([]Key, error) {
	var out []Key
	err := c.doJSON(ctx, http.MethodGet, "/v1/keys", nil, nil, &out)
	return out, err
}

// RevokeKey revokes a key (idempotent).
func (c *Client) RevokeKey(ctx context.Context, id string) error {
	return c.doJSON(ctx, http.MethodDelete, "/v1/keys/"+url.PathEscape(id), nil, nil, nil)
}

// CreatePool creates a node pool.
func (c *Client) CreatePool(ctx context.Context, in CreatePool) (Pool, error) {
	var out Pool
	err := c.doJSON(ctx, http.MethodPost, "/v1/node-pools", nil, in, &out)
	return out, err
}

// GetPool reads a node pool with its observed state.
func (c *Client) GetPool(ctx context.Context, name string) (Pool, error) {
	var out Pool
	err := c.doJSON(ctx, http.MethodGet, "/v1/node-pools/"+url.PathEscape(name), nil, nil, &out)
	return out, err
}

// ListPools lists node pools.
func (c *Client) ListPools(ctx context.Context) ([]Pool, error) {
	var out []Pool
	err := c.doJSON(ctx, http.MethodGet, "/v1/node-pools", nil, nil, &out)
	return out, err
}

// DeletePool deletes a node pool and its nodes (idempotent).
func (c *Client) DeletePool(ctx context.Context, name string) error {
	return c.doJSON(ctx, http.MethodDelete, "/v1/node-pools/"+url.PathEscape(name), nil, nil, nil)
}

// ListNodes lists registered nodes.
func (c *Client) ListNodes(ctx context.Context) ([]Node, error) {
	var out []Node
	err := c.doJSON(ctx, http.MethodGet, "/v1/nodes", nil, nil, &out)
	return out, err
}

// RegisterNode registers an agent; the client's key is the pool's join token.
func (c *Client) RegisterNode(ctx context.Context, in RegisterNode) (NodeRegistration, error) {
	var out NodeRegistration
	err := c.doJSON(ctx, http.MethodPost, "/v1/nodes/register", nil, in, &out)
	return out, err
}

// CallGraph returns the call graph around an algorithm.
func (c *Client) CallGraph(ctx context.Context, owner, name string) (CallGraph, error) {
	var out CallGraph
	err := c.doJSON(ctx, http.MethodGet, "/v1/algorithms/"+url.PathEscape(owner)+"/"+url.PathEscape(name)+"/graph", nil, nil, &out)
	return out, err
}

// Heartbeat reports a node's state; the client's key is the node token.
func (c *Client) Heartbeat(ctx context.Context, nodeID string, in Heartbeat) (HeartbeatReply, error) {
	var out HeartbeatReply
	err := c.doJSON(ctx, http.MethodPost, "/v1/nodes/"+url.PathEscape(nodeID)+"/heartbeat", nil, in, &out)
	return out, err
}

// NodeVersion returns what a node needs to run a version; the client's key is the node token.
func (c *Client) NodeVersion(ctx context.Context, nodeID, versionID string) (NodeVersion, error) {
	var out NodeVersion
	err := c.doJSON(ctx, http.MethodGet, "/v1/nodes/"+url.PathEscape(nodeID)+"/versions/"+versionID, nil, nil, &out)
	return out, err
}

// Artifact streams a source artifact by digest; the client's key is the node token. The caller
// closes the reader.
func (c *Client) Artifact(ctx context.Context, nodeID, digest string) (io.ReadCloser, error) {
	resp, err := c.Do(ctx, http.MethodGet, "/v1/nodes/"+url.PathEscape(nodeID)+"/artifacts/"+url.PathEscape(digest), nil, "", nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// Account returns the account the client's key acts for.
func (c *Client) Account(ctx context.Context) (Account, error) {
	var out Account
	err := c.doJSON(ctx, http.MethodGet, "/v1/account", nil, nil, &out)
	return out, err
}

// WorkerLogs returns the recent log of a version's workers on every node (owner only); version
// may be a range such as "1.*" or "" for the latest.
func (c *Client) WorkerLogs(ctx context.Context, owner, name, version string) (string, error) {
	if version == "" {
		version = "latest"
	}
	resp, err := c.Do(ctx, http.MethodGet, "/v1/algorithms/"+url.PathEscape(owner)+"/"+url.PathEscape(name)+"/versions/"+url.PathEscape(version)+"/logs", nil, "", nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// GetKey reads one of the caller's keys (without its secret).
func (c *Client) GetKey(ctx context.Context, id string) (Key, error) {
	var out Key
	err := c.doJSON(ctx, http.MethodGet, "/v1/keys/"+url.PathEscape(id), nil, nil, &out)
	return out, err
}

// InstanceTypes lists the instance types of the configured clouds that match f.
func (c *Client) InstanceTypes(ctx context.Context, f InstanceTypeFilter) ([]InstanceType, error) {
	q := url.Values{}
	if f.Cloud != "" {
		q.Set("cloud", f.Cloud)
	}
	if f.Region != "" {
		q.Set("region", f.Region)
	}
	if f.GPUModel != "" {
		q.Set("gpu_model", f.GPUModel)
	}
	if f.MinGPUs > 0 {
		q.Set("min_gpus", strconv.Itoa(f.MinGPUs))
	}
	if f.MinMemoryMiB > 0 {
		q.Set("min_memory_mib", strconv.Itoa(f.MinMemoryMiB))
	}
	var out []InstanceType
	err := c.doJSON(ctx, http.MethodGet, "/v1/instance-types", q, nil, &out)
	return out, err
}

// UpdatePool replaces a node pool's spec.
func (c *Client) UpdatePool(ctx context.Context, name string, spec PoolSpec) (Pool, error) {
	var out Pool
	err := c.doJSON(ctx, http.MethodPatch, "/v1/node-pools/"+url.PathEscape(name), nil, spec, &out)
	return out, err
}

// ResolveVersion returns the version that a range ("1.2.3", "1.2.*", "1.*", "latest") selects.
func (c *Client) ResolveVersion(ctx context.Context, owner, name, spec string) (Version, error) {
	if spec == "" {
		spec = "latest"
	}
	var out Version
	err := c.doJSON(ctx, http.MethodGet, "/v1/algorithms/"+url.PathEscape(owner)+"/"+url.PathEscape(name)+"/versions/"+url.PathEscape(spec), nil, nil, &out)
	return out, err
}

// PoolEvents returns a pool's recent events, oldest first.
func (c *Client) PoolEvents(ctx context.Context, name string) ([]PoolEvent, error) {
	var out []PoolEvent
	err := c.doJSON(ctx, http.MethodGet, "/v1/node-pools/"+url.PathEscape(name)+"/events", nil, nil, &out)
	return out, err
}

// CreateCloudAccount stores a cloud account; its credentials are sealed and never returned.
func (c *Client) CreateCloudAccount(ctx context.Context, in CreateCloudAccount) (CloudAccount, error) {
	var out CloudAccount
	err := c.doJSON(ctx, http.MethodPost, "/v1/cloud-accounts", nil, in, &out)
	return out, err
}

// GetCloudAccount reads a cloud account (without credentials).
func (c *Client) GetCloudAccount(ctx context.Context, name string) (CloudAccount, error) {
	var out CloudAccount
	err := c.doJSON(ctx, http.MethodGet, "/v1/cloud-accounts/"+url.PathEscape(name), nil, nil, &out)
	return out, err
}

// ListCloudAccounts lists cloud accounts (without credentials).
func (c *Client) ListCloudAccounts(ctx context.Context) ([]CloudAccount, error) {
	var out []CloudAccount
	err := c.doJSON(ctx, http.MethodGet, "/v1/cloud-accounts", nil, nil, &out)
	return out, err
}

// UpdateCloudAccount replaces a cloud account's settings and credentials.
func (c *Client) UpdateCloudAccount(ctx context.Context, name string, in CreateCloudAccount) (CloudAccount, error) {
	var out CloudAccount
	err := c.doJSON(ctx, http.MethodPatch, "/v1/cloud-accounts/"+url.PathEscape(name), nil, in, &out)
	return out, err
}

// DeleteCloudAccount deletes a cloud account no pool uses (idempotent).
func (c *Client) DeleteCloudAccount(ctx context.Context, name string) error {
	return c.doJSON(ctx, http.MethodDelete, "/v1/cloud-accounts/"+url.PathEscape(name), nil, nil, nil)
}

// UpdateKey renames a key and sets or clears its expiry.
func (c *Client) UpdateKey(ctx context.Context, id string, in UpdateKey) (Key, error) {
	var out Key
	err := c.doJSON(ctx, http.MethodPatch, "/v1/keys/"+url.PathEscape(id), nil, in, &out)
	return out, err
}
