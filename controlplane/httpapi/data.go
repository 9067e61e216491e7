package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/auth"
	"github.com/algos-dev/algos/controlplane/data"
	"github.com/algos-dev/algos/controlplane/store"
)

// dataPrefix starts every Data API path.
const dataPrefix = "/v1/data/"

// serveData serves the Data API: /v1/data/{owner}[/{collection}[/{path…}]], escaped is the
// request's escaped path after dataPrefix. The Data API parses its own paths rather than going
// through the mux, which would answer a path holding ".." or "//" with a redirect to the cleaned
// path — possibly into another collection — where the Data API refuses it with a 400.
func (h *Handler) serveData(w http.ResponseWriter, r *http.Request, escaped string) {
	h.callable(func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		write := r.Method != http.MethodGet && r.Method != http.MethodHead
		ref, err := data.ParseEscapedPath(escaped)
		if err != nil {
			return err
		}
		if ref.Owner == data.AlgoOwner {
			if p.Calling == nil {
				return fmt.Errorf("%w: data://.algo/ is an algorithm's own space, reachable only from inside its calls", errInput)
			}
			ref = data.Resolve(p, ref)
		}
		// A read from inside an algorithm is checked per collection by the data service (an
		// algorithm reads its owner's shared collections whatever its caller's data scope),
		// and so is its own space, read and written.
		if (p.Calling == nil || write) && !data.OwnSpace(p, ref) {
			if err := data.CheckScope(p, write); err != nil {
				return err
			}
		}
		if ref.Collection == "" {
			return h.dataOwner(w, r, p, ref)
		}
		switch r.Method {
		case http.MethodGet:
			return h.dataGet(w, r, p, ref)
		case http.MethodHead:
			return h.dataHead(w, r, p, ref)
		case http.MethodPut:
			return h.dataPut(w, r, p, ref)
		case http.MethodPost:
			return h.dataMkdir(w, r, p, ref)
		case http.MethodPatch:
			return h.dataPatch(w, r, p, ref)
		case http.MethodDelete:
			return h.dataDelete(w, r, p, ref)
		}
		return methodNotAllowed(w, r, "GET, HEAD, PUT, POST, PATCH, DELETE")
	})(w, r)
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) error {
	w.Header().Set("Allow", allow)
	return &api.Error{Status: http.StatusMethodNotAllowed, ErrorBody: api.ErrorBody{ErrorType: api.ErrTypeMethodAllowed,
		Message: fmt.Sprintf("%s is not allowed on %s: use %s", r.Method, r.URL.Path, allow)}}
}

func toAPICollection(c store.Collection) api.Collection {
	return api.Collection{Owner: c.Owner, Name: c.Name, ACL: api.ACL(c.ACL), CreatedAt: c.CreatedAt}
}

// dataOwner serves /v1/data/{owner}: GET lists the collections (as folders), POST creates one.
func (h *Handler) dataOwner(w http.ResponseWriter, r *http.Request, p *auth.Principal, ref data.Ref) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		cs, err := h.cfg.Data.ListCollections(r.Context(), p, ref.Owner)
		if err != nil {
			return err
		}
		withACL, err := boolQuery(r, "acl")
		if err != nil {
			return err
		}
		out := api.DataListing{Folders: make([]api.DataFolder, 0, len(cs)), Files: []api.DataFile{}}
		for _, c := range cs {
			f := api.DataFolder{Name: c.Name}
			if withACL {
				f.ACL = api.ACL(c.ACL)
			}
			out.Folders = append(out.Folders, f)
		}
		w.Header().Set("X-Data-Type", "directory")
		writeJSON(w, http.StatusOK, out)
		return nil
	case http.MethodPost:
		var in api.CreateCollection
		if err := decode(r, &in); err != nil {
			return err
		}
		c, err := h.cfg.Data.CreateCollection(r.Context(), p, ref.Owner, in.Name, store.CollectionACL(in.ACL))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toAPICollection(c)) // 200, not 201: Algorithmia's clients check for 200
		return nil
	}
	return methodNotAllowed(w, r, "GET, HEAD, POST")
}

// boolQuery reads an optional boolean query option.
func boolQuery(r *http.Request, name string) (bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%w: %s=%q: use true or false", errInput, name, s)
	}
	return b, nil
}

// dataGet answers a file with its bytes (ranges honoured) and a folder or collection with a
// page of its listing.
func (h *Handler) dataGet(w http.ResponseWriter, r *http.Request, p *auth.Principal, ref data.Ref) error {
	ctx := r.Context()
	if ref.Path != "" && !ref.Dir {
		rd, info, err := h.cfg.Data.Open(ctx, p, ref)
		if err == nil {
			defer rd.Close()
			serveFile(w, r, rd, info)
			return nil
		}
		if !errors.Is(err, data.ErrNotFound) {
			return err
		}
		// Not a file: perhaps a folder.
	}
	q := r.URL.Query()
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	withACL, err := boolQuery(r, "acl")
	if err != nil {
		return err
	}
	l, err := h.cfg.Data.List(ctx, p, ref, q.Get("marker"), limit)
	if err != nil {
		return err
	}
	out := toAPIListing(l)
	if withACL {
		c, err := h.cfg.Data.GetCollection(ctx, p, ref.Owner, ref.Collection)
		if err != nil {
			return err
		}
		out.ACL = api.ACL(c.ACL)
	}
	w.Header().Set("X-Data-Type", "directory")
	writeJSON(w, http.StatusOK, out)
	return nil
}

// dataHead answers whether a file or folder exists, with a file's size, type and time.
func (h *Handler) dataHead(w http.ResponseWriter, r *http.Request, p *auth.Principal, ref data.Ref) error {
	e, err := h.cfg.Data.Stat(r.Context(), p, ref)
	if err != nil {
		return err
	}
	writeStat(w, e)
	return nil
}

// serveFile answers a file of the Data API or a connector: its bytes, streamed, ranges honoured.
func serveFile(w http.ResponseWriter, r *http.Request, rd io.ReadSeeker, info data.FileInfo) {
	w.Header().Set("X-Data-Type", "file")
	w.Header().Set("Content-Type", info.ContentType)
	http.ServeContent(w, r, "", info.ModTime, rd)
}

// writeStat answers a HEAD of the Data API or a connector: a folder, or a file's size, type
// and time.
func writeStat(w http.ResponseWriter, e data.Entry) {
	hd := w.Header()
	if e.Dir {
		hd.Set("X-Data-Type", "directory")
	} else {
		hd.Set("X-Data-Type", "file")
		hd.Set("Content-Type", e.File.ContentType)
		hd.Set("Content-Length", itoa(e.File.Size))
		hd.Set("Last-Modified", e.File.ModTime.UTC().Format(http.TimeFormat))
		hd.Set("Accept-Ranges", "bytes")
	}
	w.WriteHeader(http.StatusOK)
}

// toAPIListing turns a page of a folder into the Data API's listing.
func toAPIListing(l data.Listing) api.DataListing {
	out := api.DataListing{Folders: make([]api.DataFolder, 0, len(l.Folders)), Files: make([]api.DataFile, 0, len(l.Files)), Marker: l.Marker}
	for _, f := range l.Folders {
		out.Folders = append(out.Folders, api.DataFolder{Name: f})
	}
	for _, f := range l.Files {
		out.Files = append(out.Files, api.DataFile{Filename: f.Name, Size: f.Size, LastModified: f.ModTime})
	}
	return out
}

// pageLimit reads a listing's optional limit (0: the default page size).
func pageLimit(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%w: limit=%q: use a number from 1 to %d", errInput, s, data.MaxPageSize)
	}
	return n, nil
}

// dataPut stores the request body as a file, streaming it.
func (h *Handler) dataPut(w http.ResponseWriter, r *http.Request, p *auth.Principal, ref data.Ref) error {
	if _, err := h.cfg.Data.Put(r.Context(), p, ref, r.Header.Get("Content-Type"), r.Body); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.DataResult{Result: data.Resolve(p, ref).String()})
	return nil
}

// dataMkdir creates a folder in a collection or folder: {"name"}.
func (h *Handler) dataMkdir(w http.ResponseWriter, r *http.Request, p *auth.Principal, ref data.Ref) error {
	var in api.CreateCollection
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.ACL != "" {
		c := data.Resolve(p, data.Ref{Owner: ref.Owner, Collection: ref.Collection})
		return fmt.Errorf("%w: folders share their collection's ACL: set it on %s (PATCH with {\"acl\"})", errInput, c)
	}
	child, err := h.cfg.Data.Mkdir(r.Context(), p, ref, in.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.DataResult{Result: strings.TrimSuffix(child.String(), "/")})
	return nil
}

// dataPatch changes a collection's ACL: {"acl"}.
func (h *Handler) dataPatch(w http.ResponseWriter, r *http.Request, p *auth.Principal, ref data.Ref) error {
	if ref.Path != "" {
		return fmt.Errorf("%w: only collections have settings: PATCH data://owner/collection", errInput)
	}
	var in api.UpdateCollection
	if err := decode(r, &in); err != nil {
		return err
	}
	c, err := h.cfg.Data.UpdateCollection(r.Context(), p, ref.Owner, ref.Collection, store.CollectionACL(in.ACL))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPICollection(c))
	return nil
}

// dataDelete deletes a file, folder or collection (?force=true for one that is not empty) and
// answers Algorithmia's {"result":{"deleted":N}}; deleting what does not exist deletes 0.
func (h *Handler) dataDelete(w http.ResponseWriter, r *http.Request, p *auth.Principal, ref data.Ref) error {
	force, err := boolQuery(r, "force")
	if err != nil {
		return err
	}
	n, err := h.cfg.Data.Delete(r.Context(), p, ref, force)
	if err != nil {
		return err
	}
	var out api.DataDeleted
	out.Result.Deleted = n
	writeJSON(w, http.StatusOK, out)
	return nil
}
