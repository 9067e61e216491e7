package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ACL says who may read a collection: ACLPublic, ACLMyAlgorithms or ACLPrivate. On the wire it
// is Algorithmia's {"read":[…]} (user://* for public, algo://.my/* for my algorithms, none for
// private); requests may also give the plain name ("acl": "public").
type ACL string

const (
	ACLPublic       ACL = "public"
	ACLMyAlgorithms ACL = "my_algorithms"
	ACLPrivate      ACL = "private"
)

// Algorithmia's ACL strings.
const (
	aclAnyone       = "user://*"
	aclMyAlgorithms = "algo://.my/*"
)

type aclWire struct {
	Read []string `json:"read"`
}

// MarshalJSON writes Algorithmia's form.
func (a ACL) MarshalJSON() ([]byte, error) {
	switch a {
	case ACLPublic:
		return json.Marshal(aclWire{Read: []string{aclAnyone}})
	case ACLMyAlgorithms:
		return json.Marshal(aclWire{Read: []string{aclMyAlgorithms}})
	case ACLPrivate:
		return json.Marshal(aclWire{Read: []string{}})
	}
	return nil, fmt.Errorf("ACL %q: use public, my_algorithms or private", string(a))
}

// UnmarshalJSON reads Algorithmia's form or a plain name. The widest grant in a read list wins.
func (a *ACL) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err == nil {
		*a = ACL(name)
		return nil
	}
	var w aclWire
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf(`ACL: want {"read":[…]} or "public", "my_algorithms" or "private": %w`, err)
	}
	for _, s := range w.Read {
		if s != aclAnyone && s != aclMyAlgorithms {
			return fmt.Errorf("ACL read entry %q: Algorithmia's %q (public) and %q (my algorithms) are supported", s, aclAnyone, aclMyAlgorithms)
		}
	}
	switch {
	case slices.Contains(w.Read, aclAnyone):
		*a = ACLPublic
	case slices.Contains(w.Read, aclMyAlgorithms):
		*a = ACLMyAlgorithms
	default:
		*a = ACLPrivate
	}
	return nil
}

// CreateCollection is the body of POST /v1/data/{owner}; also of POST to a collection or
// folder, which creates a folder in it (then without acl: folders share their collection's).
type CreateCollection struct {
	Name string `json:"name"`
	ACL  ACL    `json:"acl,omitempty"` // default my_algorithms, Algorithmia's default
}

// UpdateCollection is the body of PATCH /v1/data/{owner}/{collection}.
type UpdateCollection struct {
	ACL ACL `json:"acl"`
}

// Collection is a Data API collection.
type Collection struct {
	Owner     string    `json:"owner"`
	Name      string    `json:"name"`
	ACL       ACL       `json:"acl"`
	CreatedAt time.Time `json:"created_at"`
}

// DataListing is a page of a directory listing: the collections of an owner (as folders), or
// the folders and files of a collection or folder. Marker, when set, fetches the next page.
// ACL is the collection's, when the listing was asked for with acl=true.
type DataListing struct {
	Folders []DataFolder `json:"folders"`
	Files   []DataFile   `json:"files"`
	Marker  string       `json:"marker,omitempty"`
	ACL     ACL          `json:"acl,omitempty"`
}

// DataFolder is a folder (or, at an owner's level, a collection with its ACL when asked for).
type DataFolder struct {
	Name string `json:"name"`
	ACL  ACL    `json:"acl,omitempty"`
}

// DataFile is a file in a listing, or the answer of StatFile.
type DataFile struct {
	Filename     string    `json:"filename"`
	Size         int64     `json:"size"`
	LastModified time.Time `json:"last_modified"`
	ContentType  string    `json:"content_type,omitempty"`
}

// DataTimeLayout is last_modified's form: Algorithmia's, milliseconds in UTC, which its clients
// parse with a fixed pattern.
const DataTimeLayout = "2006-01-02T15:04:05.000Z"

// MarshalJSON writes last_modified in DataTimeLayout.
func (f DataFile) MarshalJSON() ([]byte, error) {
	type plain DataFile
	return json.Marshal(struct {
		plain
		LastModified string `json:"last_modified"`
	}{plain(f), f.LastModified.UTC().Format(DataTimeLayout)})
}

// DataResult is the reply of a PUT or of a folder's creation: {"result":"data://…"}.
type DataResult struct {
	Result string `json:"result"`
}

// DataDeleted is the reply of a DELETE: {"result":{"deleted":N}}, N the files deleted.
type DataDeleted struct {
	Result struct {
		Deleted int `json:"deleted"`
	} `json:"result"`
}

// DataPath turns a data URI ("data://owner/collection/path", or the same without the scheme)
// into its API path, /v1/data/… with each name escaped. A trailing "/" is kept.
func DataPath(uri string) (string, error) {
	rest := strings.TrimPrefix(uri, "data://")
	if rest == "" || strings.Contains(rest, "://") {
		return "", fmt.Errorf("%q is not a data URI: use data://owner/collection/path", uri)
	}
	segs := strings.Split(rest, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return "/v1/data/" + strings.Join(segs, "/"), nil
}

func (c *Client) dataJSON(ctx context.Context, method, uri string, q url.Values, in, out any) error {
	p, err := DataPath(uri)
	if err != nil {
		return err
	}
	return c.doJSON(ctx, method, p, q, in, out)
}

// CreateCollection creates the collection in.Name of owner (".my" for the key's account).
func (c *Client) CreateCollection(ctx context.Context, owner string, in CreateCollection) (Collection, error) {
	var out Collection
	err := c.dataJSON(ctx, http.MethodPost, owner, nil, in, &out)
	return out, err
}

// ListCollections returns the collections of owner that the key may read, with their ACLs.
func (c *Client) ListCollections(ctx context.Context, owner string) ([]DataFolder, error) {
	var out DataListing
	err := c.dataJSON(ctx, http.MethodGet, owner, url.Values{"acl": {"true"}}, nil, &out)
	return out.Folders, err
}

// UpdateCollection sets the ACL of the collection data://owner/name.
func (c *Client) UpdateCollection(ctx context.Context, owner, name string, acl ACL) (Collection, error) {
	var out Collection
	err := c.dataJSON(ctx, http.MethodPatch, owner+"/"+name, nil, UpdateCollection{ACL: acl}, &out)
	return out, err
}

// DeleteCollection deletes the collection data://owner/name and returns how many files went.
// A collection that holds anything needs force.
func (c *Client) DeleteCollection(ctx context.Context, owner, name string, force bool) (int, error) {
	return c.deleteData(ctx, owner+"/"+name, force)
}

// Mkdir creates the empty folder name in the collection or folder dirURI.
func (c *Client) Mkdir(ctx context.Context, dirURI, name string) error {
	return c.dataJSON(ctx, http.MethodPost, dirURI, nil, CreateCollection{Name: name}, nil)
}

// List returns a page of the folder or collection dirURI (or of an owner's collections);
// marker is "" for the first page, else the previous page's Marker.
func (c *Client) List(ctx context.Context, dirURI, marker string) (DataListing, error) {
	q := url.Values{}
	if marker != "" {
		q.Set("marker", marker)
	}
	var out DataListing
	if !strings.HasSuffix(dirURI, "/") {
		dirURI += "/"
	}
	err := c.dataJSON(ctx, http.MethodGet, dirURI, q, nil, &out)
	return out, err
}

// PutFile streams body into the file uri with the given Content-Type ("" for
// application/octet-stream), replacing any file there. body is never read whole into memory.
func (c *Client) PutFile(ctx context.Context, uri, contentType string, body io.Reader) error {
	p, err := DataPath(uri)
	if err != nil {
		return err
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	resp, err := c.Do(ctx, http.MethodPut, p, nil, contentType, body)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// GetFile streams the file uri; the caller closes the reader.
func (c *Client) GetFile(ctx context.Context, uri string) (io.ReadCloser, error) {
	p, err := DataPath(uri)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(ctx, http.MethodGet, p, nil, "", nil)
	if err != nil {
		return nil, err
	}
	if resp.Header.Get("X-Data-Type") == "directory" {
		resp.Body.Close()
		return nil, &Error{Status: http.StatusBadRequest, ErrorBody: ErrorBody{ErrorType: ErrTypeInput, Message: uri + " is a folder, not a file"}}
	}
	return resp.Body, nil
}

// StatFile returns a file's size, modification time and Content-Type (HEAD). A folder, or
// nothing, is an *Error with status 404.
func (c *Client) StatFile(ctx context.Context, uri string) (DataFile, error) {
	p, err := DataPath(uri)
	if err != nil {
		return DataFile{}, err
	}
	resp, err := c.Do(ctx, http.MethodHead, p, nil, "", nil)
	if err != nil {
		return DataFile{}, err
	}
	resp.Body.Close()
	if resp.Header.Get("X-Data-Type") != "file" {
		return DataFile{}, &Error{Status: http.StatusNotFound, ErrorBody: ErrorBody{ErrorType: ErrTypeNotFound, Message: uri + " is a folder, not a file"}}
	}
	out := DataFile{Filename: p[strings.LastIndexByte(p, '/')+1:], ContentType: resp.Header.Get("Content-Type")}
	if name, err := url.PathUnescape(out.Filename); err == nil {
		out.Filename = name
	}
	out.Size, _ = strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64)
	out.LastModified, _ = http.ParseTime(resp.Header.Get("Last-Modified"))
	return out, nil
}

// DeleteFile deletes the file uri and returns 1, or 0 when there was none (not an error).
func (c *Client) DeleteFile(ctx context.Context, uri string) (int, error) {
	if strings.HasSuffix(uri, "/") {
		return 0, errors.New(uri + " names a folder: use DeleteDir")
	}
	return c.deleteData(ctx, uri, false)
}

// DeleteDir deletes the folder or collection uri and returns how many files went; one that
// holds anything needs force.
func (c *Client) DeleteDir(ctx context.Context, uri string, force bool) (int, error) {
	if !strings.HasSuffix(uri, "/") {
		uri += "/"
	}
	return c.deleteData(ctx, uri, force)
}

func (c *Client) deleteData(ctx context.Context, uri string, force bool) (int, error) {
	q := url.Values{}
	if force {
		q.Set("force", "true")
	}
	var out DataDeleted
	err := c.dataJSON(ctx, http.MethodDelete, uri, q, nil, &out)
	return out.Result.Deleted, err
}
