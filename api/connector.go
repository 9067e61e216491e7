package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Connector kinds: the object stores a connector reaches.
const (
	ConnectorS3    = "s3"    // Amazon S3 and S3-compatible stores
	ConnectorGCS   = "gs"    // Google Cloud Storage
	ConnectorAzure = "azure" // Azure Blob Storage
	// ConnectorBlob is not a kind but the name of the control plane's default store:
	// blob://path is served by the connector an administrator configured as the default.
	ConnectorBlob = "blob"
)

// ErrTypeConnector is the error_type of a failure of the object store behind a connector: it
// failed (502) or did not answer in time (504).
const ErrTypeConnector = "ConnectorError"

// Connector is a connector as the API shows it. Its credentials never leave the control plane:
// HasCredentials says whether it has any.
type Connector struct {
	// Name is "kind" or "kind+label" ("s3", "s3+lake"): the scheme of its URIs,
	// s3+lake://bucket/key.
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Owner is the account that owns it; empty (and Platform true) for a platform-wide connector.
	Owner    string   `json:"owner,omitempty"`
	Platform bool     `json:"platform"`
	Buckets  []string `json:"buckets"`
	// Prefixes are the folders requests may reach; empty: the whole bucket.
	Prefixes              []string  `json:"prefixes"`
	Read                  bool      `json:"read"`
	Write                 bool      `json:"write"`
	Endpoint              string    `json:"endpoint,omitempty"`
	Region                string    `json:"region,omitempty"`
	AllowPrivateEndpoints bool      `json:"allow_private_endpoints"`
	HasCredentials        bool      `json:"has_credentials"`
	CreatedAt             time.Time `json:"created_at"`
	UpdatedAt             time.Time `json:"updated_at"`
}

// CreateConnector is the body of POST /v1/connectors.
type CreateConnector struct {
	// Name is "kind" or "kind+label": kind s3, gs or azure; a label of 1 to 63 lowercase
	// letters, digits or '-'. "s3+default" is the same as "s3".
	Name string `json:"name"`
	// Kind, when given, must be the name's.
	Kind string `json:"kind,omitempty"`
	// Owner: the account the connector belongs to (default the key's; another account's only
	// for administrators). Platform: a platform-wide connector (administrators only).
	Owner    string `json:"owner,omitempty"`
	Platform bool   `json:"platform,omitempty"`
	// Buckets (Azure: containers) that requests may name; at least one.
	Buckets []string `json:"buckets"`
	// Prefixes are folders ("reports", "exports/2025") that requests may reach; none: the
	// whole bucket.
	Prefixes []string `json:"prefixes,omitempty"`
	// Read (default true) and Write (default false) say what requests may do.
	Read  *bool `json:"read,omitempty"`
	Write *bool `json:"write,omitempty"`
	// Endpoint is the store's base URL: an S3-compatible service, a GCS or Azure emulator, an
	// Azure account's blob URL ("https://acct.blob.core.windows.net"). Default: the cloud's.
	Endpoint string `json:"endpoint,omitempty"`
	// Region is S3's signing region (default us-east-1).
	Region string `json:"region,omitempty"`
	// AllowPrivateEndpoints lets the connector reach loopback, private and link-local
	// addresses (administrators only).
	AllowPrivateEndpoints bool `json:"allow_private_endpoints,omitempty"`
	// Credentials are the kind's JSON (see docs/api.md): S3 {"access_key_id",
	// "secret_access_key", "session_token"}; GCS a service account's key file; Azure
	// {"account_name", "account_key"} or {"account_name", "sas_token"}. None: anonymous access.
	Credentials json.RawMessage `json:"credentials,omitempty"`
}

// UpdateConnector is the body of PATCH /v1/connectors/{name}: the fields given replace the
// connector's. Credentials: absent keeps them; {} or null removes them.
type UpdateConnector struct {
	Buckets               *[]string       `json:"buckets,omitempty"`
	Prefixes              *[]string       `json:"prefixes,omitempty"`
	Read                  *bool           `json:"read,omitempty"`
	Write                 *bool           `json:"write,omitempty"`
	Endpoint              *string         `json:"endpoint,omitempty"`
	Region                *string         `json:"region,omitempty"`
	AllowPrivateEndpoints *bool           `json:"allow_private_endpoints,omitempty"`
	Credentials           json.RawMessage `json:"credentials,omitempty"`
}

// ConnectorScope picks which connector of a name a management request addresses. The zero
// value is the one that name resolves to for the key's account: its own, else the
// platform-wide one. Owner (administrators) picks another account's; Platform the
// platform-wide one.
type ConnectorScope struct {
	Owner    string
	Platform bool
}

func (s ConnectorScope) query() url.Values {
	q := url.Values{}
	if s.Owner != "" {
		q.Set("owner", s.Owner)
	}
	if s.Platform {
		q.Set("platform", "true")
	}
	return q
}

// ConnectorPath turns a connector URI ("s3://bucket/key", "s3+lake://bucket/folder/",
// "blob://path") into its API path, /v1/connector/{name}/{bucket}/{path}, each name escaped.
// A trailing "/" (a folder) is kept.
func ConnectorPath(uri string) (string, error) {
	name, rest, ok := strings.Cut(uri, "://")
	if !ok || name == "" || name == "data" || strings.ContainsAny(name, "/?#%") {
		return "", fmt.Errorf("%q is not a connector URI: use s3://bucket/path, gs://…, azure://container/path or blob://path (data:// URIs go through the Data API)", uri)
	}
	segs := strings.Split(rest, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return "/v1/connector/" + url.PathEscape(name) + "/" + strings.Join(segs, "/"), nil
}

// CreateConnector creates a connector; its credentials are sealed and never returned.
func (c *Client) CreateConnector(ctx context.Context, in CreateConnector) (Connector, error) {
	var out Connector
	err := c.doJSON(ctx, http.MethodPost, "/v1/connectors", nil, in, &out)
	return out, err
}

// ListConnectors lists the connectors the key's account may use: its own and the
// platform-wide ones (an administrator may name another account with owner).
func (c *Client) ListConnectors(ctx context.Context, owner string) ([]Connector, error) {
	var out []Connector
	err := c.doJSON(ctx, http.MethodGet, "/v1/connectors", ConnectorScope{Owner: owner}.query(), nil, &out)
	return out, err
}

// GetConnector reads a connector (without credentials).
func (c *Client) GetConnector(ctx context.Context, name string, scope ConnectorScope) (Connector, error) {
	var out Connector
	err := c.doJSON(ctx, http.MethodGet, "/v1/connectors/"+url.PathEscape(name), scope.query(), nil, &out)
	return out, err
}

// UpdateConnector changes a connector.
func (c *Client) UpdateConnector(ctx context.Context, name string, scope ConnectorScope, in UpdateConnector) (Connector, error) {
	var out Connector
	err := c.doJSON(ctx, http.MethodPatch, "/v1/connectors/"+url.PathEscape(name), scope.query(), in, &out)
	return out, err
}

// DeleteConnector deletes a connector (idempotent). The files it reached stay where they are.
func (c *Client) DeleteConnector(ctx context.Context, name string, scope ConnectorScope) error {
	return c.doJSON(ctx, http.MethodDelete, "/v1/connectors/"+url.PathEscape(name), scope.query(), nil, nil)
}
