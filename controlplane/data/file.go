package data

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/algos-dev/algos/controlplane/auth"
)

const (
	// DefaultPageSize is the number of entries a listing page holds unless asked otherwise.
	DefaultPageSize = 1000
	// MaxPageSize bounds a listing page.
	MaxPageSize = 1000
)

// FileInfo describes a stored file.
type FileInfo struct {
	Name        string
	Size        int64
	ModTime     time.Time
	ContentType string
}

// Entry is what a reference names: a folder (or collection), or a file.
type Entry struct {
	Dir  bool
	File FileInfo
}

// Listing is one page of a folder's entries, folders and files each by name. Marker, when
// set, fetches the next page.
type Listing struct {
	Folders []string
	Files   []FileInfo
	Marker  string
}

// needPath checks that r names a file or folder inside a collection.
func needPath(r Ref, what string) error {
	if r.Collection == "" || r.Path == "" {
		return fmt.Errorf("%w: %s: name a %s inside a collection, as data://owner/collection/path", ErrInvalid, r, what)
	}
	return nil
}

// Stat says whether r names a folder or a file. A collection is a folder.
func (s *Service) Stat(ctx context.Context, p *auth.Principal, r Ref) (Entry, error) {
	r = Resolve(p, r)
	if r.Collection == "" {
		return Entry{}, fmt.Errorf("%w: %s names an account: name a collection, folder or file", ErrInvalid, r)
	}
	if _, err := s.collection(ctx, p, r, false); err != nil {
		return Entry{}, err
	}
	if r.Path == "" {
		return Entry{Dir: true}, nil
	}
	if !r.Dir {
		a, err := s.cfg.Bucket.Attributes(ctx, s.fileKey(r))
		if err == nil {
			return Entry{File: FileInfo{Name: r.Base(), Size: a.Size, ModTime: a.ModTime, ContentType: a.ContentType}}, nil
		}
		if gcerrors.Code(err) != gcerrors.NotFound {
			return Entry{}, s.blobErr(r, err)
		}
	}
	if ok, err := s.exists(ctx, s.dirKey(r)); err != nil || !ok {
		if err == nil {
			err = notFound(r)
		}
		return Entry{}, err
	}
	return Entry{Dir: true}, nil
}

// Open opens the file r for reading; the caller closes the reader. The reader seeks (by
// reopening the blob at the new offset), so it serves range requests.
func (s *Service) Open(ctx context.Context, p *auth.Principal, r Ref) (*blob.Reader, FileInfo, error) {
	r = Resolve(p, r)
	if err := needPath(r, "file"); err != nil {
		return nil, FileInfo{}, err
	}
	if r.Dir {
		return nil, FileInfo{}, notFound(r)
	}
	if _, err := s.collection(ctx, p, r, false); err != nil {
		return nil, FileInfo{}, err
	}
	rd, err := s.cfg.Bucket.NewReader(ctx, s.fileKey(r), nil)
	if err != nil {
		return nil, FileInfo{}, s.blobErr(r, err)
	}
	return rd, FileInfo{Name: r.Base(), Size: rd.Size(), ModTime: rd.ModTime(), ContentType: rd.ContentType()}, nil
}

// readTracker remembers the error of the request body, to tell a client's broken upload from
// a fault of the store.
type readTracker struct {
	r   io.Reader
	err error
}

func (t *readTracker) Read(b []byte) (int, error) {
	n, err := t.r.Read(b)
	if err != nil && err != io.EOF {
		t.err = err
	}
	return n, err
}

// Put stores body as the file r, replacing any file there, with the given Content-Type
// (default application/octet-stream). The body streams into the store; a failed or
// interrupted upload leaves the previous file, if any, in place. A file cannot be put where a
// folder is, nor below a file.
func (s *Service) Put(ctx context.Context, p *auth.Principal, r Ref, contentType string, body io.Reader) (FileInfo, error) {
	r = Resolve(p, r)
	if err := needPath(r, "file"); err != nil {
		return FileInfo{}, err
	}
	if r.Dir {
		return FileInfo{}, fmt.Errorf("%w: %s ends with '/': a file's name does not", ErrInvalid, r)
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	if _, _, err := mime.ParseMediaType(contentType); err != nil {
		return FileInfo{}, fmt.Errorf("%w: Content-Type %q: %v", ErrInvalid, contentType, err)
	}
	if _, err := s.collection(ctx, p, r, true); err != nil {
		return FileInfo{}, err
	}
	if err := s.checkFilePlace(ctx, r); err != nil {
		return FileInfo{}, err
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	key := s.fileKey(r)
	w, err := s.cfg.Bucket.NewWriter(wctx, key, &blob.WriterOptions{ContentType: contentType})
	if err != nil {
		return FileInfo{}, s.blobErr(r, err)
	}
	body = &readTracker{r: body}
	n, err := io.Copy(w, body)
	if err != nil {
		cancel() // aborts the write: the blob is not replaced
		_ = w.Close()
		if t := body.(*readTracker); t.err != nil {
			return FileInfo{}, fmt.Errorf("%w: the upload of %s ended early: %w", ErrInvalid, r, t.err)
		}
		return FileInfo{}, s.blobErr(r, err)
	}
	if err := w.Close(); err != nil {
		return FileInfo{}, s.blobErr(r, err)
	}
	// The collection may have been deleted during the upload: then the file must not stay
	// behind (its deletion removes the record before the files).
	if _, err := s.cfg.Store.GetCollection(ctx, r.Owner, r.Collection); err != nil {
		_ = s.cfg.Bucket.Delete(context.WithoutCancel(ctx), key)
		if errors.Is(err, ErrNotFound) {
			return FileInfo{}, fmt.Errorf("%w: %s was deleted during the upload", ErrNotFound, Ref{Owner: r.Owner, Collection: r.Collection})
		}
		return FileInfo{}, err
	}
	return FileInfo{Name: r.Base(), Size: n, ModTime: s.cfg.Now().UTC(), ContentType: contentType}, nil
}

// checkFilePlace refuses a file where a folder is or below a file, whatever the bucket allows
// (S3 would keep both "a" and "a/b"; a directory cannot).
func (s *Service) checkFilePlace(ctx context.Context, r Ref) error {
	if ok, err := s.exists(ctx, s.dirKey(r)); err != nil || ok {
		if err == nil {
			err = fmt.Errorf("%w: %s is a folder: delete it first, or choose another name", ErrConflict, r)
		}
		return err
	}
	return s.checkAncestors(ctx, r)
}

// checkAncestors refuses r when a file stands where one of its folders would be.
func (s *Service) checkAncestors(ctx context.Context, r Ref) error {
	segs := strings.Split(r.Path, "/")
	for i := 1; i < len(segs); i++ {
		a := Ref{Owner: r.Owner, Collection: r.Collection, Path: strings.Join(segs[:i], "/")}
		_, err := s.cfg.Bucket.Attributes(ctx, s.fileKey(a))
		switch {
		case err == nil:
			return fmt.Errorf("%w: %s is a file, not a folder", ErrConflict, a)
		case gcerrors.Code(err) != gcerrors.NotFound:
			return s.blobErr(a, err)
		}
	}
	return nil
}

// List returns a page of the folder (or collection) r: its sub-folders and files, in name
// order. marker is "" for the first page, else the Marker of the previous page; limit is the
// page size (0: DefaultPageSize).
func (s *Service) List(ctx context.Context, p *auth.Principal, r Ref, marker string, limit int) (Listing, error) {
	r = Resolve(p, r)
	if r.Collection == "" {
		return Listing{}, fmt.Errorf("%w: %s names an account: list its collections instead", ErrInvalid, r)
	}
	if limit == 0 {
		limit = DefaultPageSize
	}
	if limit < 1 || limit > MaxPageSize {
		return Listing{}, fmt.Errorf("%w: limit %d: use 1 to %d", ErrInvalid, limit, MaxPageSize)
	}
	token := blob.FirstPageToken
	if marker != "" {
		var err error
		if token, err = base64.RawURLEncoding.DecodeString(marker); err != nil || len(token) == 0 {
			return Listing{}, fmt.Errorf("%w: marker %q is not one this API returned: pass the marker of the previous page", ErrInvalid, marker)
		}
	}
	if _, err := s.collection(ctx, p, r, false); err != nil {
		return Listing{}, err
	}
	prefix := s.dirKey(r)
	objs, next, err := s.cfg.Bucket.ListPage(ctx, token, limit, &blob.ListOptions{Prefix: prefix, Delimiter: "/"})
	if err != nil {
		return Listing{}, s.blobErr(r, err)
	}
	if r.Path != "" && len(objs) == 0 && marker == "" {
		return Listing{}, notFound(r)
	}
	out := Listing{Folders: []string{}, Files: []FileInfo{}}
	for _, o := range objs {
		name := strings.TrimPrefix(o.Key, prefix)
		switch {
		case o.IsDir:
			out.Folders = append(out.Folders, strings.TrimSuffix(name, "/"))
		case name != FolderMarker:
			out.Files = append(out.Files, FileInfo{Name: name, Size: o.Size, ModTime: o.ModTime})
		}
	}
	if len(next) > 0 {
		out.Marker = base64.RawURLEncoding.EncodeToString(next)
	}
	return out, nil
}

// Mkdir creates the empty folder name in the folder (or collection) parent and returns its
// reference. The parent must exist; a file or folder of that name is a conflict.
func (s *Service) Mkdir(ctx context.Context, p *auth.Principal, parent Ref, name string) (Ref, error) {
	parent = Resolve(p, parent)
	if parent.Collection == "" {
		return Ref{}, fmt.Errorf("%w: %s names an account: create a collection there instead", ErrInvalid, parent)
	}
	if err := ValidName(name); err != nil {
		return Ref{}, err
	}
	if _, err := s.collection(ctx, p, parent, true); err != nil {
		return Ref{}, err
	}
	child := parent.Child(name)
	if n := len(child.String()) - len(Scheme); n > MaxNameBytes {
		return Ref{}, fmt.Errorf("%w: %s: a data URI names at most %d bytes after data://", ErrInvalid, child, MaxNameBytes)
	}
	if parent.Path != "" {
		if ok, err := s.exists(ctx, s.dirKey(parent)); err != nil || !ok {
			if err == nil {
				err = notFound(parent)
			}
			return Ref{}, err
		}
	}
	if err := s.checkAncestors(ctx, child); err != nil {
		return Ref{}, err
	}
	if _, err := s.cfg.Bucket.Attributes(ctx, s.fileKey(child)); err == nil {
		return Ref{}, fmt.Errorf("%w: %s is a file", ErrConflict, child)
	}
	if ok, err := s.exists(ctx, s.dirKey(child)); err != nil || ok {
		if err == nil {
			err = fmt.Errorf("%w: the folder %s exists already", ErrConflict, child)
		}
		return Ref{}, err
	}
	if err := s.cfg.Bucket.WriteAll(ctx, s.dirKey(child)+FolderMarker, nil, &blob.WriterOptions{ContentType: "application/octet-stream"}); err != nil {
		return Ref{}, s.blobErr(child, err)
	}
	child.Dir = true
	return child, nil
}

// Delete deletes what r names and returns how many files went: a file; a folder (ending in
// "/", or a name that is not a file), which must be empty unless force; or a collection, the
// same way. Deleting what does not exist deletes 0 files and is not an error.
func (s *Service) Delete(ctx context.Context, p *auth.Principal, r Ref, force bool) (int, error) {
	r = Resolve(p, r)
	if r.Collection == "" {
		return 0, fmt.Errorf("%w: %s names an account: name a collection, folder or file", ErrInvalid, r)
	}
	if r.Path == "" {
		return s.deleteCollection(ctx, p, r, force)
	}
	if _, err := s.collection(ctx, p, r, true); err != nil {
		return 0, err
	}
	if !r.Dir {
		// Attributes first: some buckets (fileblob) would remove an empty directory by the name.
		_, err := s.cfg.Bucket.Attributes(ctx, s.fileKey(r))
		if err == nil {
			err = s.cfg.Bucket.Delete(ctx, s.fileKey(r))
			if err == nil {
				return 1, nil
			}
		}
		if gcerrors.Code(err) != gcerrors.NotFound {
			return 0, s.blobErr(r, err)
		}
	}
	prefix := s.dirKey(r)
	if !force {
		objs, _, err := s.cfg.Bucket.ListPage(ctx, blob.FirstPageToken, 2, &blob.ListOptions{Prefix: prefix})
		if err != nil {
			return 0, s.blobErr(r, err)
		}
		for _, o := range objs {
			if o.Key != prefix+FolderMarker {
				return 0, fmt.Errorf("%w: the folder %s is not empty: delete it with force (?force=true) to remove what it holds", ErrConflict, r)
			}
		}
	}
	n, _, err := s.deleteAll(ctx, prefix)
	return n, err
}
