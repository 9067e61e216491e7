package data

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"
)

const (
	// Scheme starts a data URI.
	Scheme = "data://"
	// MyOwner stands for the caller's own account: data://.my/collection/path.
	MyOwner = ".my"
	// AlgoOwner stands for the calling algorithm's own space, from inside its calls:
	// data://.algo/path (Algorithmia's temp and perm folders, data://.algo/temp/…). It is the
	// folder of the algorithm's name in its owner's reserved collection AlgoCollection.
	AlgoOwner = ".algo"
	// AlgoCollection is the reserved collection (a name no user can give) that holds every
	// algorithm's own space, one folder per algorithm.
	AlgoCollection = ".algo"
	// FolderMarker is the name of the empty object that keeps an empty folder in existence
	// (blob stores have no directories, only key prefixes). Listings hide it, and no file or
	// folder may take its name.
	FolderMarker = ".algos-folder"
	// MaxNameBytes bounds "owner/collection/path", the part of a data URI after data://.
	MaxNameBytes = 1024
	// MaxSegmentBytes bounds one file or folder name.
	MaxSegmentBytes = 255
)

// nameRE is what owner and collection names look like (account names' rule).
var nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)

// Ref names the collections of an owner (Collection and Path empty), a collection (Path
// empty), or a file or folder in one: data://Owner/Collection/Path. Its fields are valid once
// it comes out of ParseURI or ParseEscapedPath.
type Ref struct {
	Owner      string // an account, or MyOwner until resolved
	Collection string
	Path       string // slash-separated; no leading, trailing or doubled slash
	// Dir is set when the reference ended with "/": it names a folder, never a file.
	Dir bool
}

// String returns the data URI.
func (r Ref) String() string {
	s := Scheme + r.Owner
	if r.Collection != "" {
		s += "/" + r.Collection
	}
	if r.Path != "" {
		s += "/" + r.Path
	}
	if r.Dir && r.Path != "" {
		s += "/"
	}
	return s
}

// Base is the last name of the reference: the file or folder, else the collection, else the
// owner.
func (r Ref) Base() string {
	switch {
	case r.Path != "":
		return r.Path[strings.LastIndexByte(r.Path, '/')+1:]
	case r.Collection != "":
		return r.Collection
	}
	return r.Owner
}

// Child is the reference to name inside the folder or collection r.
func (r Ref) Child(name string) Ref {
	c := r
	c.Dir = false
	if c.Path == "" {
		c.Path = name
	} else {
		c.Path += "/" + name
	}
	return c
}

// ParseURI parses "data://owner/collection/path" ("data://" may be left out). The path is taken
// literally: a data URI is not percent-encoded.
func ParseURI(s string) (Ref, error) {
	rest := strings.TrimPrefix(s, Scheme)
	if i := strings.Index(rest, "://"); i >= 0 {
		return Ref{}, fmt.Errorf("%w: %q is not a data:// URI (connectors such as %s are not served here)", ErrInvalid, s, rest[:i+3])
	}
	dir := strings.HasSuffix(rest, "/")
	return fromSegments(strings.Split(strings.TrimSuffix(rest, "/"), "/"), dir, s)
}

// ParseEscapedPath parses the escaped URL path of a Data API request after "/v1/data/", as it
// came on the wire. Each segment is percent-decoded exactly once, so an encoded slash (%2F)
// stays inside its segment and is refused there, and an encoded dot-dot (%2e%2e) is refused
// like a literal one. A segment that would become "..", a slash or a control character if
// decoded a second time (%252e%252e) is refused too, so that no layer that decodes again can
// be led out of the collection.
func ParseEscapedPath(escaped string) (Ref, error) {
	segs, dir, err := DecodeSegments(escaped)
	if err != nil {
		return Ref{}, err
	}
	return fromSegments(segs, dir, escaped)
}

// DecodeSegments splits an escaped URL path into its segments, each percent-decoded exactly
// once, and says whether it ended with "/". A segment that a second decoding would turn into a
// slash or an invalid name ("..", a control character) is refused (ErrInvalid), so that no
// layer that decodes again can be led elsewhere. The segments are not validated otherwise.
func DecodeSegments(escaped string) (segs []string, dir bool, err error) {
	dir = strings.HasSuffix(escaped, "/")
	raw := strings.Split(strings.TrimSuffix(escaped, "/"), "/")
	segs = make([]string, len(raw))
	for i, r := range raw {
		s, err := url.PathUnescape(r)
		if err != nil {
			return nil, false, fmt.Errorf("%w: the path segment %q is not valid percent-encoding", ErrInvalid, r)
		}
		if strings.Contains(s, "%") {
			if again, err := url.PathUnescape(s); err == nil && again != s && (strings.Contains(again, "/") || validSegment(again) != nil) {
				return nil, false, fmt.Errorf("%w: the path segment %q is encoded twice into %q: encode names once", ErrInvalid, r, again)
			}
		}
		segs[i] = s
	}
	return segs, dir, nil
}

// fromSegments validates decoded segments: owner, collection, then the path.
func fromSegments(segs []string, dir bool, orig string) (Ref, error) {
	bad := func(format string, a ...any) (Ref, error) {
		return Ref{}, fmt.Errorf("%w: %q: %s", ErrInvalid, orig, fmt.Sprintf(format, a...))
	}
	if n := len(strings.Join(segs, "/")); n > MaxNameBytes {
		return bad("%d bytes; a data URI names at most %d bytes after data://", n, MaxNameBytes)
	}
	switch owner := segs[0]; {
	case owner == "":
		return bad("no owner: use data://owner/collection/path (absolute paths are not data URIs)")
	case owner == AlgoOwner:
		// The algorithm's own space: every segment is a path segment (Resolve places them).
		for _, s := range segs[1:] {
			if err := validSegment(s); err != nil {
				return bad("%v", err)
			}
		}
		ref := Ref{Owner: AlgoOwner, Path: strings.Join(segs[1:], "/")}
		ref.Dir = dir && ref.Path != ""
		return ref, nil
	case owner != MyOwner && !nameRE.MatchString(owner):
		return bad("owner %q: account names are 1 to 64 letters, digits, '-' or '_', starting with a letter", owner)
	}
	ref := Ref{Owner: segs[0]}
	if len(segs) == 1 {
		return ref, nil
	}
	if !nameRE.MatchString(segs[1]) {
		return bad("collection %q: use 1 to 64 letters, digits, '-' or '_', starting with a letter", segs[1])
	}
	ref.Collection = segs[1]
	for _, s := range segs[2:] {
		if err := validSegment(s); err != nil {
			return bad("%v", err)
		}
	}
	ref.Path = strings.Join(segs[2:], "/")
	ref.Dir = dir && ref.Path != ""
	return ref, nil
}

// validSegment checks one file or folder name.
func validSegment(s string) error {
	switch {
	case s == "":
		return errors.New("empty path segment (a doubled slash?): name each folder")
	case s == "." || s == "..":
		return fmt.Errorf("the path segment %q would leave its folder: name files and folders by their own names", s)
	case s == FolderMarker:
		return fmt.Errorf("the name %q is reserved for folder markers", s)
	case len(s) > MaxSegmentBytes:
		return fmt.Errorf("a name of %d bytes: names are at most %d bytes", len(s), MaxSegmentBytes)
	case !utf8.ValidString(s):
		return errors.New("a name that is not UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("the control character %U in a name", r)
		}
		if r == '\\' || r == '/' {
			return fmt.Errorf("%q in a name: folders are separated by '/' and names cannot hold one", r)
		}
	}
	return nil
}

// ValidName checks a new file or folder name (one path segment).
func ValidName(name string) error {
	if err := validSegment(name); err != nil {
		return fmt.Errorf("%w: %q: %v", ErrInvalid, name, err)
	}
	return nil
}
