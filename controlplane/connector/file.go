package connector

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"slices"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/controlplane/auth"
	"github.com/algos-dev/algos/controlplane/data"
	"github.com/algos-dev/algos/controlplane/store"
)

const (
	// minPartSize is the part (S3), block (Azure) or chunk (GCS) size of uploads, which each
	// hold MaxConcurrency of in memory: 8 MiB parts reach 78 GiB in S3's 10,000 parts; larger
	// files announced by their Content-Length get larger parts.
	minPartSize = 8 << 20
	maxParts    = 10000
	// uploadConcurrency is how many parts of one upload are in flight.
	uploadConcurrency = 2
)

// target is a request's connector, bucket and key, checked.
type target struct {
	c      store.Connector
	ref    Ref    // as the caller wrote it
	bucket string // after the default store's mapping
	key    string // the file's key, or the folder's without its trailing "/" ("" is the root)
	r      *remote
	b      *blob.Bucket
}

// String is the URI the caller addressed.
func (t *target) String() string { return t.ref.String() }

func notFound(ref Ref) error {
	return fmt.Errorf("%w: %s does not exist", ErrNotFound, ref)
}

// target resolves ref for a request that reads (write false) or writes: the key's data scope,
// the connector (the caller's, else the platform's; blob:// the default store), its flags and
// its buckets. The prefixes are checked by each operation, which knows whether it names a file
// or a folder.
func (s *Service) target(ctx context.Context, p *auth.Principal, ref Ref, write bool) (*target, error) {
	if err := data.CheckScope(p, write); err != nil {
		return nil, err
	}
	t := &target{ref: ref, bucket: ref.Bucket, key: ref.Path}
	var err error
	if ref.Name == api.ConnectorBlob {
		if err := s.mapDefault(t); err != nil {
			return nil, err
		}
		t.c, err = s.cfg.Store.GetConnector(ctx, "", s.def.name)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: blob:// is served by the platform connector %s, which does not exist: an administrator creates it with POST /v1/connectors (\"platform\": true)", ErrNotFound, s.def.name)
		}
	} else {
		t.c, err = s.resolve(ctx, p.Account, ref.Name)
	}
	if err != nil {
		return nil, err
	}
	switch {
	case write && !t.c.Write:
		return nil, fmt.Errorf("%w: %s is read-only: its owner may allow writes (\"write\": true)", ErrForbidden, describe(t.c))
	case !write && !t.c.Read:
		return nil, fmt.Errorf("%w: %s is write-only: its owner may allow reads (\"read\": true)", ErrForbidden, describe(t.c))
	case !slices.Contains(t.c.Buckets, t.bucket):
		return nil, fmt.Errorf("%w: the bucket %q is not one of %s's: %s", ErrForbidden, t.bucket, describe(t.c), strings.Join(t.c.Buckets, ", "))
	}
	if t.r, err = s.remote(ctx, t.c); err != nil {
		return nil, err
	}
	if t.b, err = t.r.bucket(ctx, t.bucket); err != nil {
		return nil, s.remoteErr(ctx, t, "open bucket", err)
	}
	return t, nil
}

// mapDefault maps a blob:// reference onto the default store's bucket and key.
func (s *Service) mapDefault(t *target) error {
	if s.def.name == "" {
		return fmt.Errorf("%w: blob:// is not configured on this control plane: an administrator makes a platform-wide connector the default store (the control plane's DefaultConnector setting, e.g. \"s3+lake\" or \"s3+lake://bucket/prefix\")", ErrNotFound)
	}
	if s.def.bucket != "" {
		t.bucket = s.def.bucket
		t.key = strings.Trim(s.def.prefix+"/"+t.ref.Path, "/")
		return nil
	}
	t.bucket, t.key, _ = strings.Cut(t.ref.Path, "/")
	if t.bucket == "" {
		return fmt.Errorf("%w: blob:// names no bucket: the default store %s serves blob://bucket/path", ErrInvalid, s.def.name)
	}
	return ValidBucket(t.bucket)
}

// allow checks the connector's prefixes for a file (dir false) or a folder at t.key.
func (t *target) allow(dir bool) error {
	if within(t.c.Prefixes, t.key, dir) {
		return nil
	}
	return fmt.Errorf("%w: %s is outside the folders %s may reach: %s", ErrForbidden, t, describe(t.c), strings.Join(t.c.Prefixes, ", "))
}

// dirPrefix is the listing prefix of the folder t.key.
func (t *target) dirPrefix() string {
	if t.key == "" {
		return ""
	}
	return t.key + "/"
}

// opContext bounds one remote request.
func (s *Service) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, s.cfg.Timeout, fmt.Errorf("%w: the object store did not answer within %v", ErrTimeout, s.cfg.Timeout))
}

// Stat says whether ref names a folder (a bucket is one) or a file.
func (s *Service) Stat(ctx context.Context, p *auth.Principal, ref Ref) (data.Entry, error) {
	t, err := s.target(ctx, p, ref, false)
	if err != nil {
		return data.Entry{}, err
	}
	asFile, asDir := t.allow(false) == nil, t.allow(true) == nil
	if !asFile && !asDir {
		return data.Entry{}, t.allow(true)
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	if t.key != "" && !ref.Dir && asFile {
		a, err := t.b.Attributes(ctx, t.key)
		if err == nil {
			return data.Entry{File: data.FileInfo{Name: ref.base(), Size: a.Size, ModTime: a.ModTime, ContentType: a.ContentType}}, nil
		}
		if gcerrors.Code(err) != gcerrors.NotFound {
			return data.Entry{}, s.remoteErr(ctx, t, "stat", err)
		}
	}
	if !asDir {
		return data.Entry{}, notFound(ref)
	}
	objs, _, err := t.b.ListPage(ctx, blob.FirstPageToken, 1, &blob.ListOptions{Prefix: t.dirPrefix(), Delimiter: "/"})
	if err != nil {
		return data.Entry{}, s.remoteErr(ctx, t, "list", err)
	}
	if t.key != "" && len(objs) == 0 {
		return data.Entry{}, notFound(ref)
	}
	return data.Entry{Dir: true}, nil
}

// Reader streams a file. Seeking reopens the object at the new offset, so it serves range
// requests. Close it.
type Reader struct {
	r   *blob.Reader
	w   *watchdog
	s   *Service
	t   *target
	err bool
}

func (r *Reader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	if n > 0 {
		r.w.kick()
	}
	if err != nil && err != io.EOF && !r.err {
		r.err = true
		err = r.s.remoteErr(r.w.ctx, r.t, "read", err)
	}
	return n, err
}

// Seek implements io.Seeker.
func (r *Reader) Seek(offset int64, whence int) (int64, error) { return r.r.Seek(offset, whence) }

// Close ends the read.
func (r *Reader) Close() error {
	r.w.stop()
	return r.r.Close()
}

// Open opens the file ref for reading. A name that is not a file (a folder, or nothing) is
// ErrNotFound.
func (s *Service) Open(ctx context.Context, p *auth.Principal, ref Ref) (*Reader, data.FileInfo, error) {
	if ref.Path == "" || ref.Dir {
		return nil, data.FileInfo{}, notFound(ref)
	}
	t, err := s.target(ctx, p, ref, false)
	if err != nil {
		return nil, data.FileInfo{}, err
	}
	if t.key == "" { // blob://bucket: a bucket is a folder
		return nil, data.FileInfo{}, notFound(ref)
	}
	if err := t.allow(false); err != nil {
		if t.allow(true) == nil {
			return nil, data.FileInfo{}, notFound(ref) // an allowed folder's own name: a folder
		}
		return nil, data.FileInfo{}, err
	}
	w := s.newWatchdog(ctx)
	rd, err := t.b.NewReader(w.ctx, t.key, nil)
	if err != nil {
		err = s.remoteErr(w.ctx, t, "open", err)
		w.stop()
		return nil, data.FileInfo{}, err
	}
	return &Reader{r: rd, w: w, s: s, t: t}, data.FileInfo{Name: ref.base(), Size: rd.Size(), ModTime: rd.ModTime(), ContentType: rd.ContentType()}, nil
}

// progressReader kicks the watchdog as the body moves. A failing body (a client's broken
// upload) cancels the transfer before the store sees the error, so that no store commits a
// partial file, and is remembered to tell it from a fault of the store.
type progressReader struct {
	r   io.Reader
	w   *watchdog
	n   int64
	err error
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if n > 0 {
		p.w.kick()
	}
	if err != nil && err != io.EOF {
		p.err = err
		p.w.abort()
	}
	return n, err
}

// partSize is the upload part size for a body of size bytes (-1: unknown).
func partSize(size int64) int {
	ps := int64(minPartSize)
	if need := (size + maxParts - 1) / maxParts; need > ps {
		ps = (need + 1<<20 - 1) &^ (1<<20 - 1) // whole MiB: GCS wants multiples of 256 KiB
	}
	return int(ps)
}

// Put streams body into the file ref, replacing any file there, with the given Content-Type
// (default application/octet-stream); size is the body's length when known, else -1. A failed
// or interrupted upload leaves the previous file, if any, in place.
func (s *Service) Put(ctx context.Context, p *auth.Principal, ref Ref, contentType string, size int64, body io.Reader) (data.FileInfo, error) {
	if ref.Path == "" {
		return data.FileInfo{}, fmt.Errorf("%w: %s names a bucket: name a file in it, as %s/file", ErrInvalid, ref, strings.TrimSuffix(ref.String(), "/"))
	}
	if ref.Dir {
		return data.FileInfo{}, fmt.Errorf("%w: %s ends with '/': a file's name does not", ErrInvalid, ref)
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	if _, _, err := mime.ParseMediaType(contentType); err != nil {
		return data.FileInfo{}, fmt.Errorf("%w: Content-Type %q: %v", ErrInvalid, contentType, err)
	}
	t, err := s.target(ctx, p, ref, true)
	if err != nil {
		return data.FileInfo{}, err
	}
	if t.key == "" {
		return data.FileInfo{}, fmt.Errorf("%w: %s names a bucket: name a file in it", ErrInvalid, ref)
	}
	if err := t.allow(false); err != nil {
		return data.FileInfo{}, err
	}
	w := s.newWatchdog(ctx)
	defer w.stop()
	// Upload hands the body to the driver as a reader (the SDKs read it part by part) and
	// commits the file only when the body ended cleanly.
	pr := &progressReader{r: body, w: w}
	err = t.b.Upload(w.ctx, t.key, pr, &blob.WriterOptions{
		ContentType: contentType, BufferSize: partSize(size), MaxConcurrency: uploadConcurrency, DisableContentTypeDetection: true,
	})
	if err != nil {
		if pr.err != nil && context.Cause(w.ctx) == errAborted {
			return data.FileInfo{}, fmt.Errorf("%w: the upload of %s ended early: %w", ErrInvalid, ref, pr.err)
		}
		return data.FileInfo{}, s.remoteErr(w.ctx, t, "write", err)
	}
	return data.FileInfo{Name: ref.base(), Size: pr.n, ModTime: s.cfg.Now().UTC(), ContentType: contentType}, nil
}

// List returns a page of the folder (or bucket) ref: its sub-folders and files, in name order,
// in the Data API's form. marker is "" for the first page, else the Marker of the previous
// page; limit is the page size (0: data.DefaultPageSize).
func (s *Service) List(ctx context.Context, p *auth.Principal, ref Ref, marker string, limit int) (data.Listing, error) {
	if limit == 0 {
		limit = data.DefaultPageSize
	}
	if limit < 1 || limit > data.MaxPageSize {
		return data.Listing{}, fmt.Errorf("%w: limit %d: use 1 to %d", ErrInvalid, limit, data.MaxPageSize)
	}
	token := blob.FirstPageToken
	if marker != "" {
		var err error
		if token, err = base64.RawURLEncoding.DecodeString(marker); err != nil || len(token) == 0 {
			return data.Listing{}, fmt.Errorf("%w: marker %q is not one this API returned: pass the marker of the previous page", ErrInvalid, marker)
		}
	}
	t, err := s.target(ctx, p, ref, false)
	if err != nil {
		return data.Listing{}, err
	}
	if err := t.allow(true); err != nil {
		return data.Listing{}, err
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	prefix := t.dirPrefix()
	objs, next, err := t.b.ListPage(ctx, token, limit, &blob.ListOptions{Prefix: prefix, Delimiter: "/"})
	if err != nil {
		return data.Listing{}, s.remoteErr(ctx, t, "list", err)
	}
	if t.key != "" && len(objs) == 0 && marker == "" {
		return data.Listing{}, notFound(ref)
	}
	out := data.Listing{Folders: []string{}, Files: []data.FileInfo{}}
	for _, o := range objs {
		name := strings.TrimSuffix(strings.TrimPrefix(o.Key, prefix), "/")
		switch {
		case name == "" || name == data.FolderMarker: // the folder's own marker object
		case o.IsDir:
			out.Folders = append(out.Folders, name)
		default:
			out.Files = append(out.Files, data.FileInfo{Name: name, Size: o.Size, ModTime: o.ModTime})
		}
	}
	if len(next) > 0 {
		out.Marker = base64.RawURLEncoding.EncodeToString(next)
	}
	return out, nil
}

// Delete deletes the file ref and returns 1, or 0 when there was none (not an error).
// Folders are not deleted through connectors: their files are, one by one.
func (s *Service) Delete(ctx context.Context, p *auth.Principal, ref Ref) (int, error) {
	if ref.Path == "" || ref.Dir {
		return 0, fmt.Errorf("%w: %s is a bucket or folder: connectors delete files only, one at a time", ErrInvalid, ref)
	}
	t, err := s.target(ctx, p, ref, true)
	if err != nil {
		return 0, err
	}
	if t.key == "" {
		return 0, fmt.Errorf("%w: %s names a bucket: connectors delete files only, one at a time", ErrInvalid, ref)
	}
	if err := t.allow(false); err != nil {
		return 0, err
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	switch err := t.b.Delete(ctx, t.key); {
	case err == nil:
		return 1, nil
	case gcerrors.Code(err) == gcerrors.NotFound:
		return 0, nil
	default:
		return 0, s.remoteErr(ctx, t, "delete", err)
	}
}
