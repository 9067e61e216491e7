package api

import (
	"encoding/json"
	"time"
)

// AlgorithmDetails is what an algorithm's catalog page shows beyond its settings. It is part of
// the algorithm (Algorithm.Details) and set with it: CreateAlgorithm.Details.
type AlgorithmDetails struct {
	// Summary is one line on what the algorithm does (at most 280 characters).
	Summary string `json:"summary,omitempty"`
	// README is the algorithm's documentation in Markdown (at most 256 KiB).
	README string `json:"readme,omitempty"`
	// Tags are at most 20 words of lowercase letters, digits and '-' (at most 32 characters
	// each), e.g. "nlp", "computer-vision". They are stored lowercase.
	Tags []string `json:"tags,omitempty"`
	// License names the algorithm's license, preferably as an SPDX identifier ("MIT").
	License string `json:"license,omitempty"`
	// SampleInput and SampleOutput are a call's input and its result, as JSON (at most 64 KiB
	// each): a JSON string for a text input.
	SampleInput  json.RawMessage `json:"sample_input,omitempty"`
	SampleOutput json.RawMessage `json:"sample_output,omitempty"`
}

// Limits of AlgorithmDetails.
const (
	MaxSummaryChars = 280
	MaxREADMEBytes  = 256 << 10
	MaxTags         = 20
	MaxTagChars     = 32
	MaxLicenseChars = 64
	MaxSampleBytes  = 64 << 10
)

// Page sizes of a catalog search.
const (
	DefaultCatalogPage = 20
	MaxCatalogPage     = 100
)

// CatalogQuery is a catalog search: GET /v1/catalog. Zero fields match everything.
type CatalogQuery struct {
	// Q is the full-text query: every word must match the algorithm's name, owner, summary,
	// tags, description or README (a word of 3 characters or more also matches as a prefix).
	Q string
	// Tags: the algorithm carries every one of them.
	Tags []string
	// Owner: the algorithm belongs to this account.
	Owner string
	// GPU: nil for any; else whether the algorithm's latest version (that you may call) needs a
	// GPU.
	GPU *bool
	// Limit is the page size: 1 to MaxCatalogPage, 0 for DefaultCatalogPage.
	Limit int
	// Marker is "" for the first page, else the previous page's NextMarker.
	Marker string
}

// CatalogPage is a page of catalog search results, best first.
type CatalogPage struct {
	Results []CatalogEntry `json:"results"`
	// Total counts every result of the query, on every page.
	Total int `json:"total"`
	// NextMarker fetches the next page; empty on the last page.
	NextMarker string `json:"next_marker,omitempty"`
}

// CatalogEntry is an algorithm as the catalog lists it, seen by the caller: its latest version,
// runtime, GPU, price and usage are those of the versions the caller may call.
type CatalogEntry struct {
	Owner       string   `json:"owner"`
	Name        string   `json:"name"`
	Summary     string   `json:"summary,omitempty"`
	Description string   `json:"description,omitempty"`
	Tags        []string `json:"tags"`
	License     string   `json:"license,omitempty"`
	// Visibility is "private" when no version is public (only its owner and administrators
	// see it then).
	Visibility    string  `json:"visibility"`
	LatestVersion string  `json:"latest_version,omitempty"`
	Runtime       string  `json:"runtime,omitempty"`
	GPU           bool    `json:"gpu"`
	Price         float64 `json:"price_per_call"`
	// Calls counts the calls of the versions, and LatencyP50Ms is their median duration at the
	// control plane, since the control plane started (absent before the first call).
	Calls        int64     `json:"calls"`
	LatencyP50Ms *float64  `json:"latency_p50_ms,omitempty"`
	Score        float64   `json:"score,omitempty"` // relevance to the query: higher is better
	UpdatedAt    time.Time `json:"updated_at"`
}

// CatalogAlgorithm is an algorithm's catalog page: GET /v1/catalog/{owner}/{name}.
type CatalogAlgorithm struct {
	CatalogEntry
	README       string           `json:"readme,omitempty"`
	SampleInput  json.RawMessage  `json:"sample_input,omitempty"`
	SampleOutput json.RawMessage  `json:"sample_output,omitempty"`
	CreatedAt    time.Time        `json:"created_at"`
	Versions     []CatalogVersion `json:"versions"` // newest first
}

// CatalogVersion is a version on an algorithm's catalog page.
type CatalogVersion struct {
	Version      string    `json:"version"`
	ReleaseNotes string    `json:"release_notes,omitempty"`
	Visibility   string    `json:"visibility"`
	Runtime      string    `json:"runtime,omitempty"`
	GPU          bool      `json:"gpu"`
	Price        float64   `json:"price_per_call"`
	Calls        int64     `json:"calls"`
	LatencyP50Ms *float64  `json:"latency_p50_ms,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
}
