package connector

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/data"
)

const (
	// Prefix starts the API path of connector files: /v1/connector/{name}/{bucket}/{path}.
	Prefix = "/v1/connector/"
	// MaxKeyBytes bounds a file's key in its bucket (S3's and Azure's limit).
	MaxKeyBytes = 1024
	// defaultLabel is the label of a connector written as its bare kind.
	defaultLabel = "default"
)

// kinds are the stores connectors reach.
var kinds = []string{api.ConnectorS3, api.ConnectorGCS, api.ConnectorAzure}

var (
	labelRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	// bucketRE admits the bucket names of S3 and GCS and the container names of Azure (each
	// store refuses what it does not allow).
	bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$`)
)

// ParseName checks a connector name, "kind" or "kind+label", and returns it canonical (the
// label "default" dropped) with its kind.
func ParseName(name string) (canonical, kind string, err error) {
	kind, label, labelled := strings.Cut(name, "+")
	if !slices.Contains(kinds, kind) {
		if strings.ToLower(kind) != kind && slices.Contains(kinds, strings.ToLower(kind)) {
			return "", "", fmt.Errorf("%w: connector name %q: write the kind in lowercase", ErrInvalid, name)
		}
		return "", "", fmt.Errorf("%w: connector name %q: unknown kind %q: use s3, gs or azure, optionally with a label (s3+lake)", ErrInvalid, name, kind)
	}
	if !labelled || label == defaultLabel {
		return kind, kind, nil
	}
	if !labelRE.MatchString(label) {
		return "", "", fmt.Errorf("%w: connector name %q: a label is 1 to 63 lowercase letters, digits or '-', starting with a letter or digit", ErrInvalid, name)
	}
	return name, kind, nil
}

// ValidBucket checks a bucket (or container) name.
func ValidBucket(b string) error {
	switch {
	case b == "":
		return fmt.Errorf("%w: no bucket: name one, as s3://bucket/path", ErrInvalid)
	case !bucketRE.MatchString(b) || strings.Contains(b, ".."):
		return fmt.Errorf("%w: bucket %q: bucket and container names are 3 to 222 lowercase letters, digits, '.', '-' or '_', starting and ending with a letter or digit", ErrInvalid, b)
	}
	return nil
}

// cleanPrefix checks an allowed prefix, a folder such as "reports/2025" (a trailing "/" is
// dropped), and returns it.
func cleanPrefix(p string) (string, error) {
	c := strings.TrimSuffix(p, "/")
	if c == "" || strings.HasPrefix(c, "/") {
		return "", fmt.Errorf("%w: prefix %q: name a folder inside the bucket, as \"reports\" or \"exports/2025\" (no prefixes means the whole bucket)", ErrInvalid, p)
	}
	for _, s := range strings.Split(c, "/") {
		if err := data.ValidName(s); err != nil {
			return "", fmt.Errorf("prefix %q: %w", p, err)
		}
	}
	if len(c) >= MaxKeyBytes {
		return "", fmt.Errorf("%w: prefix %q is longer than a key may be", ErrInvalid, p)
	}
	return c, nil
}

// Ref names a bucket, or a file or folder in one, through a connector:
// Name://Bucket/Path. Its fields are valid once it comes out of ParseEscapedPath.
type Ref struct {
	// Name is the connector's canonical name, or api.ConnectorBlob for the default store.
	Name string
	// Bucket is empty for blob://, whose first segments the default store maps.
	Bucket string
	Path   string // slash-separated; no leading, trailing or doubled slash
	// Dir is set when the reference ended with "/": it names a folder, never a file.
	Dir bool
}

// String returns the connector URI.
func (r Ref) String() string {
	s := r.Name + "://" + r.Bucket
	if r.Path != "" {
		if r.Bucket != "" {
			s += "/"
		}
		s += r.Path
	}
	if r.Dir && r.Path != "" {
		s += "/"
	}
	return s
}

// base is the last name of the path.
func (r Ref) base() string { return r.Path[strings.LastIndexByte(r.Path, '/')+1:] }

// ParseEscapedPath parses the escaped URL path of a request after Prefix, as it came on the
// wire: {name}/{bucket}/{path…}, or blob/{path…}. Each segment is percent-decoded exactly once;
// a segment that would become "..", "." or a slash is refused, encoded or not, and so is one
// encoded twice into such a thing, so that no layer that decodes again is led elsewhere.
func ParseEscapedPath(escaped string) (Ref, error) {
	segs, dir, err := data.DecodeSegments(escaped)
	if err != nil {
		return Ref{}, err
	}
	if segs[0] == "" {
		return Ref{}, fmt.Errorf("%w: %q: no connector: use /v1/connector/{s3|gs|azure[+label]}/{bucket}/{path} or /v1/connector/blob/{path}", ErrInvalid, escaped)
	}
	var ref Ref
	rest := segs[1:]
	if segs[0] == api.ConnectorBlob {
		ref.Name = api.ConnectorBlob
	} else {
		name, _, err := ParseName(segs[0])
		if err != nil {
			return Ref{}, err
		}
		ref.Name = name
		if len(rest) == 0 {
			return Ref{}, fmt.Errorf("%w: %s:// names no bucket: use %s://bucket/path", ErrInvalid, name, name)
		}
		if err := ValidBucket(rest[0]); err != nil {
			return Ref{}, err
		}
		ref.Bucket, rest = rest[0], rest[1:]
	}
	for _, s := range rest {
		if err := data.ValidName(s); err != nil {
			return Ref{}, fmt.Errorf("%w (in %s)", err, escaped)
		}
	}
	ref.Path = strings.Join(rest, "/")
	if len(ref.Path) > MaxKeyBytes {
		return Ref{}, fmt.Errorf("%w: a path of %d bytes: keys are at most %d bytes", ErrInvalid, len(ref.Path), MaxKeyBytes)
	}
	ref.Dir = dir && ref.Path != ""
	return ref, nil
}

// within reports whether key (a file's key, or a folder's without the trailing "/"; "" is the
// bucket's root) lies in one of the folders prefixes; no prefixes allow everything. A folder
// is within when it is an allowed folder or inside one; a file only when inside one.
func within(prefixes []string, key string, dir bool) bool {
	if len(prefixes) == 0 {
		return true
	}
	for _, p := range prefixes {
		if strings.HasPrefix(key, p+"/") || dir && key == p {
			return true
		}
	}
	return false
}
