package algo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// File is a file of the Data API or of a data connector; Client.File makes one.
type File struct {
	c    *Client
	path string // the URI without "data://"; connector URIs keep their scheme
	url  string // the REST path, escaped
	err  error  // a bad URI, returned by every method
}

// File returns the file uri names:
//
//	data://owner/collection/path    → /v1/data/owner/collection/path
//	data://.my/collection/path      → the key's (or caller's) own collection
//	owner/collection/path           → the same as data://owner/collection/path
//	s3://bucket/key, s3+label://…   → /v1/connector/s3/bucket/key, /v1/connector/s3+label/…
//	gs://…, azure://…, blob://…     → /v1/connector/gs/…, /azure/…, /blob/…
//
// A bad URI is reported by each method, wrapping ErrInvalidReference.
func (c *Client) File(uri string) *File {
	f := &File{c: c}
	f.path, f.url, f.err = locate(uri)
	return f
}

// Path returns the file's path: its URI without "data://" (connector URIs keep their scheme).
func (f *File) Path() string { return f.path }

// Name returns the file's name, the last segment of its path.
func (f *File) Name() string { return baseName(f.path) }

// Get returns the file's content, streamed: the caller reads and closes it. Reading it is bounded
// by ctx and by the client's timeout between reads. It fails with an *Error when the API refuses
// (StatusCode 404 and Type NotFoundError for no such file) or the path is a directory.
func (f *File) Get(ctx context.Context) (io.ReadCloser, error) {
	if f.err != nil {
		return nil, f.err
	}
	resp, err := f.c.do(ctx, request{method: http.MethodGet, path: f.url})
	if err != nil {
		return nil, fmt.Errorf("get file %s: %w", f.path, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, replyError(resp, "unable to get file "+f.path)
	}
	if strings.EqualFold(resp.Header.Get("X-Data-Type"), "directory") {
		_ = resp.Body.Close()
		return nil, &Error{Message: "unable to get file " + f.path + " - it is a directory", StatusCode: http.StatusBadRequest}
	}
	return resp.Body, nil
}

// GetBytes returns the file's content, held in memory.
func (f *File) GetBytes(ctx context.Context) ([]byte, error) {
	r, err := f.Get(ctx)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("get file %s: %w", f.path, err)
	}
	return b, nil
}

// GetJSON decodes the file's content, JSON, into v.
func (f *File) GetJSON(ctx context.Context, v any) error {
	r, err := f.Get(ctx)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := json.NewDecoder(r).Decode(v); err != nil {
		return fmt.Errorf("get file %s as JSON: %w", f.path, err)
	}
	return nil
}

// Put writes the file with what r yields, streamed, as application/octet-stream. The length is
// sent when r is a *bytes.Reader, *bytes.Buffer, *strings.Reader or regular *os.File; other
// readers are sent chunked. An interrupted upload leaves the previous file in place.
func (f *File) Put(ctx context.Context, r io.Reader) error {
	return f.put(ctx, r, "application/octet-stream")
}

// PutJSON writes v, encoded as JSON, to the file (application/json).
func (f *File) PutJSON(ctx context.Context, v any) error {
	if f.err != nil {
		return f.err
	}
	b, err := marshal(v)
	if err != nil {
		return fmt.Errorf("put file %s: %w", f.path, err)
	}
	return f.put(ctx, bytes.NewReader(b), "application/json")
}

func (f *File) put(ctx context.Context, r io.Reader, contentType string) error {
	if f.err != nil {
		return f.err
	}
	resp, err := f.c.do(ctx, request{method: http.MethodPut, path: f.url, body: r, contentType: contentType})
	if err != nil {
		return fmt.Errorf("put file %s: %w", f.path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return replyError(resp, "unable to put file "+f.path)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	return nil
}

// Exists reports whether the file exists: false for no such file and for a directory. It fails
// when the API refuses to say (no key, no rights, a server error).
func (f *File) Exists(ctx context.Context) (bool, error) {
	if f.err != nil {
		return false, f.err
	}
	resp, err := f.c.do(ctx, request{method: http.MethodHead, path: f.url})
	if err != nil {
		return false, fmt.Errorf("check file %s: %w", f.path, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return false, nil
	case resp.StatusCode != http.StatusOK:
		return false, replyError(resp, "unable to check file "+f.path)
	}
	return !strings.EqualFold(resp.Header.Get("X-Data-Type"), "directory"), nil
}

// Delete deletes the file; deleting a file that does not exist succeeds.
func (f *File) Delete(ctx context.Context) error {
	if f.err != nil {
		return f.err
	}
	return deleteObject(ctx, f.c, f.url, nil, "unable to delete file "+f.path)
}

// Dir is a directory — a collection, a folder in one, or a connector's bucket or prefix;
// Client.Dir makes one.
type Dir struct {
	c    *Client
	path string
	url  string
	err  error
}

// Dir returns the directory uri names, in the forms File takes; a trailing "/" is dropped.
func (c *Client) Dir(uri string) *Dir {
	if strings.HasSuffix(uri, "/") && !strings.HasSuffix(uri, "://") {
		uri = strings.TrimRight(uri, "/")
	}
	d := &Dir{c: c}
	d.path, d.url, d.err = locate(uri)
	return d
}

// Path returns the directory's path, as File.Path does.
func (d *Dir) Path() string { return d.path }

// Name returns the directory's name, the last segment of its path.
func (d *Dir) Name() string { return baseName(d.path) }

// File returns the file name in this directory.
func (d *Dir) File(name string) *File {
	if d.err != nil {
		return &File{c: d.c, err: d.err}
	}
	return d.c.File(joinPath(d.path, name))
}

// Dir returns the directory name in this directory.
func (d *Dir) Dir(name string) *Dir {
	if d.err != nil {
		return &Dir{c: d.c, err: d.err}
	}
	return d.c.Dir(joinPath(d.path, name))
}

// ACL is a collection's read access, by name.
type ACL string

// ACLs a collection is created with; ACLDefault leaves the choice to the API (my algorithms).
const (
	ACLDefault      ACL = ""
	ACLPublic       ACL = "public"
	ACLMyAlgorithms ACL = "my_algorithms"
	ACLPrivate      ACL = "private"
)

// Create creates the directory: a collection (owner/collection) with acl, or a folder in one
// (acl is then ignored by the API). It fails with an *Error (Type ConflictError) when the
// directory exists already.
func (d *Dir) Create(ctx context.Context, acl ACL) error {
	if d.err != nil {
		return d.err
	}
	parent, name, err := parentAndBase(d.path)
	if err != nil {
		return err
	}
	_, parentURL, err := locate(parent)
	if err != nil {
		return fmt.Errorf("create directory %s: %w", d.path, err)
	}
	body := map[string]any{"name": name}
	if acl != ACLDefault {
		body["acl"] = string(acl)
	}
	b, err := marshal(body)
	if err != nil {
		return err
	}
	resp, err := d.c.do(ctx, request{method: http.MethodPost, path: parentURL, body: bytes.NewReader(b), contentType: "application/json"})
	if err != nil {
		return fmt.Errorf("create directory %s: %w", d.path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return replyError(resp, "directory creation failed for "+d.path)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	return nil
}

// Delete deletes the directory; with force also when it holds files. Deleting a directory that
// does not exist succeeds.
func (d *Dir) Delete(ctx context.Context, force bool) error {
	if d.err != nil {
		return d.err
	}
	var q url.Values
	if force {
		q = url.Values{"force": {"true"}}
	}
	return deleteObject(ctx, d.c, d.url, q, "unable to delete directory "+d.path)
}

// Exists reports whether the directory exists (a file at its path is not one). It fails when
// the API refuses to say.
func (d *Dir) Exists(ctx context.Context) (bool, error) {
	if d.err != nil {
		return false, d.err
	}
	resp, err := d.c.do(ctx, request{method: http.MethodHead, path: d.url})
	if err != nil {
		return false, fmt.Errorf("check directory %s: %w", d.path, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return false, nil
	case resp.StatusCode != http.StatusOK:
		return false, replyError(resp, "unable to check directory "+d.path)
	}
	t := resp.Header.Get("X-Data-Type")
	return t == "" || strings.EqualFold(t, "directory"), nil
}

// Entry is one entry of a directory listing.
type Entry struct {
	// Name is the entry's name in the directory.
	Name string
	// Path is its path, which Client.File and Client.Dir take.
	Path string
	// IsDir tells a directory from a file.
	IsDir bool
	// Size and LastModified describe a file (zero for a directory).
	Size         int64
	LastModified time.Time
}

// List returns the directory's entries, following the API's pages to the end: each page's
// directories, then its files, each in name order.
func (d *Dir) List(ctx context.Context) ([]Entry, error) {
	if d.err != nil {
		return nil, d.err
	}
	var entries []Entry
	marker := ""
	for {
		page, err := d.page(ctx, marker)
		if err != nil {
			return nil, err
		}
		for _, f := range page.Folders {
			entries = append(entries, Entry{Name: f.Name, Path: joinPath(d.path, f.Name), IsDir: true})
		}
		for _, f := range page.Files {
			e := Entry{Name: f.Filename, Path: joinPath(d.path, f.Filename), Size: f.Size}
			e.LastModified, _ = time.Parse(time.RFC3339Nano, f.LastModified)
			entries = append(entries, e)
		}
		if page.Marker == "" {
			return entries, nil
		}
		if page.Marker == marker {
			return nil, fmt.Errorf("listing %s: the API answered the same page marker twice", d.path)
		}
		marker = page.Marker
	}
}

// listPage is one page of a directory listing.
type listPage struct {
	Folders []struct {
		Name string `json:"name"`
	} `json:"folders"`
	Files []struct {
		Filename     string `json:"filename"`
		Size         int64  `json:"size"`
		LastModified string `json:"last_modified"`
	} `json:"files"`
	Marker string `json:"marker"`
}

func (d *Dir) page(ctx context.Context, marker string) (*listPage, error) {
	var q url.Values
	if marker != "" {
		q = url.Values{"marker": {marker}}
	}
	resp, err := d.c.do(ctx, request{method: http.MethodGet, path: d.url, query: q})
	if err != nil {
		return nil, fmt.Errorf("list directory %s: %w", d.path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, replyError(resp, "directory iteration failed for "+d.path)
	}
	if strings.EqualFold(resp.Header.Get("X-Data-Type"), "file") {
		return nil, &Error{Message: d.path + " is a file, not a directory", StatusCode: http.StatusBadRequest}
	}
	var page listPage
	if err := readReply(resp, "list directory "+d.path, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// deleteObject deletes what path names; any 2xx reply is success.
func deleteObject(ctx context.Context, c *Client, path string, q url.Values, what string) error {
	resp, err := c.do(ctx, request{method: http.MethodDelete, path: path, query: q})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return replyError(resp, what)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	return nil
}

var schemePattern = regexp.MustCompile(`(?s)^([A-Za-z][A-Za-z0-9+.\-]*)://(.*)$`)

// locate returns the path and REST path of a data URI, as the Python client does: the path is
// the URI without "data://" (connector URIs keep their scheme). It fails with an error wrapping
// ErrInvalidReference.
func locate(uri string) (path, restPath string, err error) {
	if uri == "" {
		return "", "", fmt.Errorf("%w: a data URI is a non-empty string such as data://owner/collection/file", ErrInvalidReference)
	}
	scheme, rest := "data", uri
	if m := schemePattern.FindStringSubmatch(uri); m != nil {
		scheme, rest = strings.ToLower(m[1]), m[2]
	}
	if scheme == "file" {
		return "", "", fmt.Errorf("%w: %s: file:// URIs (local files) are not served by the API; open the file with os.Open", ErrInvalidReference, uri)
	}
	rest = strings.TrimLeft(rest, "/")
	if rest == "" {
		return "", "", fmt.Errorf("%w: data URI %q names no owner or bucket", ErrInvalidReference, uri)
	}
	escaped := escape(rest, "/")
	if scheme == "data" {
		return rest, "/v1/data/" + escaped, nil
	}
	return scheme + "://" + rest, "/v1/connector/" + escape(scheme, "+") + "/" + escaped, nil
}

var prefixPattern = regexp.MustCompile(`^([^:]+://)(/)?(.+)`)

// parentAndBase splits a path into its parent and its last segment: "data://a/b/c" →
// ("data://a/b", "c"), "a/b/c/" → ("a/b", "c"). A path of one segment without a scheme has no
// parent (ErrInvalidReference).
func parentAndBase(p string) (string, string, error) {
	if m := prefixPattern.FindStringSubmatch(p); m != nil {
		parts := strings.Split(strings.TrimRight(m[3], "/"), "/")
		return m[1] + m[2] + strings.Join(parts[:len(parts)-1], "/"), parts[len(parts)-1], nil
	}
	stripped := strings.TrimSuffix(p, "/")
	i := strings.LastIndexByte(stripped, '/')
	if i < 0 || i == len(stripped)-1 {
		return "", "", fmt.Errorf("%w: %q has no parent directory", ErrInvalidReference, p)
	}
	return stripped[:i], stripped[i+1:], nil
}

// baseName returns the last segment of a path, or the path when it has none.
func baseName(p string) string {
	if _, base, err := parentAndBase(p); err == nil {
		return base
	}
	return p
}

// joinPath joins a directory's path and a name with one "/".
func joinPath(parent, name string) string {
	if strings.HasSuffix(parent, "/") {
		return parent + name
	}
	return parent + "/" + name
}
