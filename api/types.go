// Package api holds the wire types of the algos REST API and the Go client that the CLI, the
// Terraform provider, the agent and algorithms use. It is the ground floor: it imports nothing
// else of algos.
package api

import (
	"encoding/json"
	"strings"
	"time"
)

// Runtimes an algorithm can use.
const (
	RuntimePython = "python"
	RuntimeGo     = "go"
	RuntimeExec   = "exec"
)

// Content types of call inputs and results, as Algorithmia names them.
const (
	ContentJSON   = "json"
	ContentText   = "text"
	ContentBinary = "binary"
)

// Resources a worker of a version needs.
type Resources struct {
	CPU       float64 `json:"cpu,omitempty"`        // cores
	MemoryMiB int     `json:"memory_mib,omitempty"` // MiB
	GPUs      int     `json:"gpus,omitempty"`
	GPUMemMiB int     `json:"gpu_memory_mib,omitempty"`
}

// Scaling bounds the workers of a version.
type Scaling struct {
	MinInstances int `json:"min_instances"`
	// MaxInstances is the most workers of one version on one node.
	MaxInstances int `json:"max_instances,omitempty"`
	// IdleTimeout: a worker idle this long is stopped (scale to zero), e.g. "5m".
	IdleTimeout string `json:"idle_timeout,omitempty"`
	// TargetConcurrency is the calls in flight per worker the autoscaler aims at.
	TargetConcurrency int `json:"target_concurrency,omitempty"`
	// QueueSize is how many calls may wait for a worker on one node before 429.
	QueueSize int `json:"queue_size,omitempty"`
	// Predictive pre-warming: workers (and nodes) are started ahead of a peak that recurs at
	// the same time of day. On unless set to false.
	Predictive *bool `json:"predictive,omitempty"`
}

// PredictiveOn reports whether predictive pre-warming is on (the default).
func (s Scaling) PredictiveOn() bool { return s.Predictive == nil || *s.Predictive }

// Manifest describes how to run a version. It is read from `algorithm.json` at the root of the
// source directory and snapshotted into each version.
type Manifest struct {
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	Runtime     string `json:"runtime"`
	// Entrypoint: python — the file defining apply (default "main.py"); go — the package to
	// build (default "."); exec — the command line to run per call, e.g. ["./wc.sh", "-l"].
	Entrypoint []string `json:"entrypoint,omitempty"`
	// Output of an exec algorithm: auto (default), json, text or binary.
	Output     string    `json:"output,omitempty"`
	Resources  Resources `json:"resources,omitempty"`
	Scaling    Scaling   `json:"scaling,omitempty"`
	Timeout    int       `json:"timeout,omitempty"` // default call timeout, seconds
	Visibility string    `json:"visibility,omitempty"`
	Price      float64   `json:"price_per_call,omitempty"` // credits per call, royalty
	// NodePool restricts the version's workers to the nodes of one pool ("" = any pool).
	NodePool string `json:"node_pool,omitempty"`
	// CallOthers: the algorithm may call other algorithms from its workers (default true).
	CallOthers *bool `json:"call_other_algorithms,omitempty"`
	// Network grants the workers the host's network; without it a sandboxed worker reaches
	// only its node's agent (algorithm calls and the Data API).
	Network bool `json:"network,omitempty"`
}

// MayCallOthers reports whether the algorithm's workers may call other algorithms.
func (m Manifest) MayCallOthers() bool { return m.CallOthers == nil || *m.CallOthers }

// CallGraph is an algorithm's dependency graph as the control plane observed it:
// GET /v1/algorithms/{owner}/{name}/graph.
type CallGraph struct {
	Algorithm string          `json:"algorithm"`
	Versions  []CallGraphNode `json:"versions"`
	Edges     []CallGraphEdge `json:"edges"`
}

// CallGraphNode is one version in a call graph, with its observed and declared use.
type CallGraphNode struct {
	Version     string    `json:"version"` // owner/name/1.2.3
	Calls       int64     `json:"calls"`
	BusySeconds float64   `json:"busy_seconds"` // time its calls spent on nodes
	Resources   Resources `json:"resources"`
}

// CallGraphEdge is caller → callee, counted since the control plane started.
type CallGraphEdge struct {
	Caller   string    `json:"caller"` // version IDs
	Callee   string    `json:"callee"`
	Calls    int64     `json:"calls"`
	SameNode int64     `json:"same_node"` // calls served on the caller's node
	LastAt   time.Time `json:"last_at"`
}

// Visibility values.
const (
	Public  = "public"
	Private = "private"
)

// Algorithm is an algorithm of an owner.
type Algorithm struct {
	Owner         string    `json:"owner"`
	Name          string    `json:"name"`
	Description   string    `json:"description,omitempty"`
	Settings      Manifest  `json:"settings"`
	LatestVersion string    `json:"latest_version,omitempty"`
	LatestDigest  string    `json:"latest_digest,omitempty"` // source artifact digest of LatestVersion
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`

	// Catalog: what the algorithm's catalog page shows beyond its settings.
	Details AlgorithmDetails `json:"details"`
}

// CreateAlgorithm is the body of POST /v1/algorithms/{owner}.
type CreateAlgorithm struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Settings    Manifest `json:"settings"`

	// Catalog: the details the catalog shows. nil leaves an algorithm's details as they are
	// (none for a new one); otherwise they replace its details whole.
	Details *AlgorithmDetails `json:"details,omitempty"`
}

// Version is an immutable published version.
type Version struct {
	Owner        string    `json:"owner"`
	Name         string    `json:"name"`
	Version      string    `json:"version"`
	Digest       string    `json:"digest"`
	Manifest     Manifest  `json:"manifest"`
	ReleaseNotes string    `json:"release_notes,omitempty"`
	Visibility   string    `json:"visibility"`
	CreatedAt    time.Time `json:"created_at"`
}

// Bump values for publishing.
const (
	BumpMajor = "major"
	BumpMinor = "minor"
	BumpPatch = "patch"
)

// Key is an API key as the API shows it. Secret is set only in the reply that creates it.
type Key struct {
	ID         string     `json:"id"`
	Owner      string     `json:"owner"`
	Name       string     `json:"name,omitempty"`
	Prefix     string     `json:"prefix"`
	Algorithms []string   `json:"algorithms"`
	Data       string     `json:"data"`
	Manage     bool       `json:"manage"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	Secret     string     `json:"secret,omitempty"`
}

// CreateKey is the body of POST /v1/keys.
type CreateKey struct {
	Name       string     `json:"name,omitempty"`
	Algorithms []string   `json:"algorithms,omitempty"` // default ["algo://*"]
	Data       string     `json:"data,omitempty"`       // none, read, write; default none
	Manage     bool       `json:"manage,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
}

// UpdateKey is the body of PATCH /v1/keys/{id}: the name and expiry (nil: none) replace the
// key's; its scopes cannot change.
type UpdateKey struct {
	Name      string     `json:"name"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// PoolSpec is the desired state of a node pool.
type PoolSpec struct {
	Cloud        string   `json:"cloud"`
	Region       string   `json:"region,omitempty"`
	Zones        []string `json:"zones,omitempty"`
	InstanceType string   `json:"instance_type,omitempty"`
	Image        string   `json:"image,omitempty"`
	Spot         bool     `json:"spot,omitempty"`
	GPUType      string   `json:"gpu_type,omitempty"`  // e.g. "NVIDIA H100"; "" for CPU pools
	GPUCount     int      `json:"gpu_count,omitempty"` // GPUs per node
	// Account is the cloud account (POST /v1/cloud-accounts) the pool provisions in; the local
	// cloud needs none.
	Account string `json:"account,omitempty"`
	// FallbackInstanceTypes are tried in order when the cloud has no capacity for InstanceType.
	FallbackInstanceTypes []string `json:"fallback_instance_types,omitempty"`
	// MinIsolation refuses nodes whose sandbox is weaker: "none", "basic" or "full" ("": any).
	MinIsolation string            `json:"min_isolation,omitempty"`
	MinSize      int               `json:"min_size"`
	MaxSize      int               `json:"max_size"`
	DesiredSize  int               `json:"desired_size"`
	Labels       map[string]string `json:"labels,omitempty"`
}

// Pool is a node pool with its observed state.
type Pool struct {
	Name      string    `json:"name"`
	Spec      PoolSpec  `json:"spec"`
	Size      int       `json:"size"`     // registered, live nodes
	NodeIDs   []string  `json:"node_ids"` // of those nodes
	Status    string    `json:"status"`   // a line on the last reconcile
	CreatedAt time.Time `json:"created_at"`
}

// PoolEvent is something that happened to a pool: GET /v1/node-pools/{name}/events.
type PoolEvent struct {
	Type    string    `json:"type"` // Normal or Warning
	Reason  string    `json:"reason"`
	Message string    `json:"message"`
	Count   int       `json:"count"`
	FirstAt time.Time `json:"first_at"`
	LastAt  time.Time `json:"last_at"`
}

// CreatePool is the body of POST /v1/node-pools.
type CreatePool struct {
	Name string   `json:"name"`
	Spec PoolSpec `json:"spec"`
}

// Capacity is what a node offers.
type Capacity struct {
	CPU       float64 `json:"cpu"`
	MemoryMiB int     `json:"memory_mib"`
	// GPUs counts GPUDevices: what a worker can be granted (whole GPUs and MIG devices).
	GPUs int `json:"gpus"`
	// GPUDevices lists the node's GPUs not in MIG mode and its MIG devices, with their used
	// memory as of the report.
	GPUDevices []GPUDevice `json:"gpu_devices,omitempty"`
	// Sandbox is how the node isolates workers (nil: an agent that does not say).
	Sandbox *SandboxInfo `json:"sandbox,omitempty"`
}

// SandboxInfo is a node's worker isolation: the driver (none, basic, namespaces), its level
// (none < basic < full) and what the host lacks for a stronger one.
type SandboxInfo struct {
	Driver   string   `json:"driver"`
	Level    string   `json:"level"`
	Problems []string `json:"problems,omitempty"`
}

// GPUDevice is a GPU (or a MIG device) of a node.
type GPUDevice struct {
	UUID string `json:"uuid"` // "GPU-…", or "MIG-…" for a MIG device
	// Model is the product name, e.g. "NVIDIA H100 80GB HBM3"; a MIG device's ends with
	// " MIG <profile>", e.g. " MIG 1g.10gb".
	Model     string `json:"model"`
	MemoryMiB int    `json:"memory_mib"`
	UsedMiB   int    `json:"used_mib"`
	// MIG: this is a MIG device, a slice of the GPU ParentUUID.
	MIG        bool   `json:"mig,omitempty"`
	ParentUUID string `json:"parent_uuid,omitempty"`
}

// WorkerStats is a node's view of the workers of one version.
type WorkerStats struct {
	Version  string `json:"version"` // version ID
	Workers  int    `json:"workers"`
	Busy     int    `json:"busy"`
	Starting int    `json:"starting"`
	Queued   int    `json:"queued"`
}

// Node is a registered agent.
type Node struct {
	ID         string        `json:"id"`
	Pool       string        `json:"pool"`
	InstanceID string        `json:"instance_id"`
	Address    string        `json:"address"`
	Capacity   Capacity      `json:"capacity"`
	Ready      bool          `json:"ready"`
	Workers    []WorkerStats `json:"workers,omitempty"`
	LastSeenAt time.Time     `json:"last_seen_at"`
}

// RegisterNode is the body of POST /v1/nodes/register, authenticated by the pool's join token.
type RegisterNode struct {
	InstanceID string   `json:"instance_id"`
	Hostname   string   `json:"hostname,omitempty"`
	Address    string   `json:"address"`
	Capacity   Capacity `json:"capacity"`
	// InvokeToken is the secret the control plane must present on calls to the agent. The control
	// plane keeps it in memory only; the agent repeats it in every heartbeat.
	InvokeToken string `json:"invoke_token"`
}

// NodeRegistration is the reply to RegisterNode: the node's ID and its credential, used as the
// bearer token of its later calls and required by the agent on calls from the control plane.
type NodeRegistration struct {
	NodeID            string `json:"node_id"`
	Token             string `json:"token"`
	HeartbeatInterval string `json:"heartbeat_interval"`
}

// Heartbeat is the body of POST /v1/nodes/{id}/heartbeat.
type Heartbeat struct {
	InvokeToken string        `json:"invoke_token"`
	Workers     []WorkerStats `json:"workers"`
	// Capacity repeats the node's capacity with fresh GPU used memory (nodes with GPUs only).
	Capacity *Capacity `json:"capacity,omitempty"`
}

// HeartbeatReply answers a heartbeat: the workers the control plane's autoscaler wants kept
// warm on the node, per version. The agent starts workers until each version has that many
// and its idle reaper leaves that many running; a version not listed has no floor.
type HeartbeatReply struct {
	Warm []WarmOrder `json:"warm,omitempty"`
}

// WarmOrder asks a node to keep Workers workers of a version ready.
type WarmOrder struct {
	Version string `json:"version"` // version ID
	Digest  string `json:"digest"`
	Workers int    `json:"workers"`
}

// NodeVersion is what an agent needs to run a version: GET /v1/nodes/{id}/versions/{vid}.
type NodeVersion struct {
	ID       string   `json:"id"` // owner/name/semver
	Digest   string   `json:"digest"`
	Manifest Manifest `json:"manifest"`
}

// AsyncReply answers a call with output=void.
type AsyncReply struct {
	Async     string `json:"async"`
	RequestID string `json:"request_id"`
}

// RequestState answers GET /v1/requests/{id} while the request is still running.
type RequestState struct {
	RequestID string `json:"request_id"`
	Status    string `json:"status"`
}

// Account is the account a key acts for: GET /v1/account.
type Account struct {
	Name  string `json:"name"`
	Admin bool   `json:"admin"`
	// Organization: an organization, not a user.
	Organization bool `json:"organization,omitempty"`
	// Organizations the account (a user) belongs to, with its role in each (GET /v1/account).
	Organizations []OrgRole `json:"organizations,omitempty"`
}

// OrgRole is a user's role in one organization.
type OrgRole struct {
	Org  string `json:"org"`
	Role string `json:"role"`
}

// GPUOffer is a GPU model an instance type carries.
type GPUOffer struct {
	Model     string `json:"model"`
	Count     int    `json:"count"`
	MemoryMiB int    `json:"memory_mib"` // per GPU
}

// Offering is where and how an instance type can be bought.
type Offering struct {
	Zone         string  `json:"zone"`
	Spot         bool    `json:"spot"`
	Available    bool    `json:"available"`
	PricePerHour float64 `json:"price_per_hour"`
}

// InstanceType is what a cloud sells: GET /v1/instance-types.
type InstanceType struct {
	Cloud        string     `json:"cloud"`
	Name         string     `json:"name"`
	Arch         string     `json:"arch,omitempty"`
	VCPU         int        `json:"vcpu"`
	MemoryMiB    int        `json:"memory_mib"`
	GPUs         []GPUOffer `json:"gpus"`
	PricePerHour float64    `json:"price_per_hour"`
	Offerings    []Offering `json:"offerings"`
}

// InstanceTypeFilter selects instance types; zero fields match all.
type InstanceTypeFilter struct {
	Cloud        string
	Region       string // zones of the region (prefix match on the offering's zone)
	GPUModel     string // substring, case-insensitive: "H100"
	MinGPUs      int
	MinMemoryMiB int
}

// CloudAccount is a cloud account node pools provision in. Its credentials are write-only: the
// API never returns them.
type CloudAccount struct {
	Name      string          `json:"name"`
	Cloud     string          `json:"cloud"`
	Settings  json.RawMessage `json:"settings,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// CreateCloudAccount is the body of POST /v1/cloud-accounts (and, without name and cloud, of
// PATCH /v1/cloud-accounts/{name}). Settings and Credentials are the cloud's own (see
// docs/clouds.md); empty credentials mean the cloud's default chain on the control plane's host.
type CreateCloudAccount struct {
	Name        string          `json:"name,omitempty"`
	Cloud       string          `json:"cloud,omitempty"`
	Settings    json.RawMessage `json:"settings,omitempty"`
	Credentials json.RawMessage `json:"credentials,omitempty"`
}

// SplitVersionID splits a version ID "owner/name/1.2.3" into the algorithm "owner/name" and
// the version "1.2.3" (split at the last slash; the version is "" when there is none).
func SplitVersionID(id string) (algorithm, version string) {
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		return id[:i], id[i+1:]
	}
	return id, ""
}
