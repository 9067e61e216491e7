// Package rootblob is a gocloud.dev/blob driver that keeps blobs as plain files in a local
// directory and never leaves it, whatever else writes there.
//
// gocloud's own fileblob opens paths with os.Open, so a symbolic link planted inside its
// directory (data/alice/c/passwd -> /etc/passwd) is followed. rootblob reaches every file
// through an os.Root, one directory at a time: each path segment is Lstat'ed, refused if it is a
// symbolic link, opened through its parent's Root and checked to be the directory that Lstat
// saw (so a link swapped in between the two is caught too). A symbolic link anywhere on a key's
// path, or a key that names anything but a regular file, is refused with
// gcerrors.PermissionDenied; listings skip them. Nothing outside the directory is ever read,
// written or deleted.
//
// Layout: the blob "a/b/c" is the file DIR/a/b/c. Each blob's attributes (content type,
// metadata, …) are kept beside it in ".rootblob-attrs-<hash of its name>"; writes go to a
// ".rootblob-tmp-…" file in the same directory and are renamed into place at Close, so a
// reader sees the old blob or the new one, never part of one. Key segments that start with
// ".rootblob-" are therefore refused, as are empty, "." and ".." segments, backslashes, NUL
// and other control characters, segments over 255 bytes and keys over 4096 bytes. The
// attributes are renamed into place just before the data, so a crash between the two renames
// can leave a new content type on the old bytes. Directories that a Delete leaves empty are
// removed. Only "/" (or no delimiter) is supported as a list delimiter. Writes are not fsynced.
package rootblob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"unicode/utf8"

	"gocloud.dev/blob"
	"gocloud.dev/blob/driver"
	"gocloud.dev/gcerrors"
)

const (
	internalPrefix = ".rootblob-"
	attrsPrefix    = internalPrefix + "attrs-"
	tmpPrefix      = internalPrefix + "tmp-"
	// MaxKeyBytes bounds a key (a path on Linux).
	MaxKeyBytes = 4096
	// MaxSegmentBytes bounds one segment of a key (a file name on common filesystems).
	MaxSegmentBytes = 255
)

var (
	// ErrInvalidKey: the key cannot name a file here (gcerrors.InvalidArgument).
	ErrInvalidKey = errors.New("rootblob: invalid key")
	// ErrSymlink: the key's path crosses a symbolic link or names something other than a
	// regular file or directory (gcerrors.PermissionDenied).
	ErrSymlink = errors.New("rootblob: the path crosses a symbolic link or a special file, which rootblob never follows")
	// ErrNotDir: a file stands where the key needs a directory, or a directory where it needs a
	// file (gcerrors.FailedPrecondition).
	ErrNotDir = errors.New("rootblob: a file and a directory collide on this key")
	// errExists: an IfNotExist write found the blob (gcerrors.FailedPrecondition).
	errExists = errors.New("rootblob: the blob exists")
	// errUnimplemented: signed URLs (gcerrors.Unimplemented).
	errUnimplemented = errors.New("rootblob: local files have no signed URLs")
)

// Options configures a bucket.
type Options struct {
	// DirMode is the mode of created directories (default 0o700).
	DirMode fs.FileMode
	// FileMode is the mode of created files (default 0o600).
	FileMode fs.FileMode
}

// OpenBucket opens (creating it if needed) the directory dir as a bucket.
func OpenBucket(dir string, opts *Options) (*blob.Bucket, error) {
	b, err := openBucket(dir, opts)
	if err != nil {
		return nil, err
	}
	return blob.NewBucket(b), nil
}

func openBucket(dir string, opts *Options) (*bucket, error) {
	o := Options{DirMode: 0o700, FileMode: 0o600}
	if opts != nil {
		if opts.DirMode != 0 {
			o.DirMode = opts.DirMode
		}
		if opts.FileMode != 0 {
			o.FileMode = opts.FileMode
		}
	}
	if err := os.MkdirAll(dir, o.DirMode); err != nil {
		return nil, fmt.Errorf("rootblob: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("rootblob: %w", err)
	}
	return &bucket{root: root, opts: o}, nil
}

// bucket is the driver. Its methods are safe for concurrent use: every operation opens its own
// directory handles.
type bucket struct {
	root *os.Root
	opts Options
}

var _ driver.Bucket = (*bucket)(nil)

// splitKey validates key and returns its directory segments and its name.
func splitKey(key string) (dirs []string, name string, err error) {
	segs, err := splitPath(key)
	if err != nil {
		return nil, "", err
	}
	return segs[:len(segs)-1], segs[len(segs)-1], nil
}

// splitPath validates a slash-separated path of one or more segments.
func splitPath(p string) ([]string, error) {
	if p == "" || len(p) > MaxKeyBytes {
		return nil, fmt.Errorf("%w %q: a key is 1 to %d bytes", ErrInvalidKey, p, MaxKeyBytes)
	}
	segs := strings.Split(p, "/")
	for _, s := range segs {
		if err := validSegment(s); err != nil {
			return nil, fmt.Errorf("%w %q: %v", ErrInvalidKey, p, err)
		}
	}
	return segs, nil
}

func validSegment(s string) error {
	switch {
	case s == "":
		return errors.New("empty segment")
	case s == "." || s == "..":
		return errors.New("'.' or '..' segment")
	case len(s) > MaxSegmentBytes:
		return fmt.Errorf("segment over %d bytes", MaxSegmentBytes)
	case strings.HasPrefix(s, internalPrefix):
		return fmt.Errorf("segments starting with %q are reserved", internalPrefix)
	case !utf8.ValidString(s):
		return errors.New("not UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return fmt.Errorf("control character or backslash %q", r)
		}
	}
	return nil
}

// attrsName is the file holding the attributes of the blob file name.
func attrsName(name string) string {
	h := sha256.Sum256([]byte(name))
	return attrsPrefix + hex.EncodeToString(h[:16])
}

// closeRoot closes r unless it is the bucket's own root.
func (b *bucket) closeRoot(r *os.Root) {
	if r != nil && r != b.root {
		_ = r.Close()
	}
}

// child opens the subdirectory name of dir, refusing a symbolic link or anything else that is
// not a directory, and checking that what it opened is what it Lstat'ed.
func child(dir *os.Root, name string) (*os.Root, error) {
	fi, err := dir.Lstat(name)
	if err != nil {
		return nil, err
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, fmt.Errorf("%w: %s", ErrSymlink, name)
	case !fi.IsDir():
		return nil, fmt.Errorf("%w: %s is a file", ErrNotDir, name)
	}
	sub, err := dir.OpenRoot(name)
	if err != nil {
		return nil, err
	}
	got, err := sub.Stat(".")
	if err != nil {
		_ = sub.Close()
		return nil, err
	}
	if !os.SameFile(fi, got) {
		_ = sub.Close()
		return nil, fmt.Errorf("%w: %s changed while it was opened", ErrSymlink, name)
	}
	return sub, nil
}

// openDir opens the directory segs under the bucket's root, creating missing directories when
// create is set. The caller closes the result with closeRoot.
func (b *bucket) openDir(segs []string, create bool) (*os.Root, error) {
	cur := b.root
	for _, s := range segs {
		if create {
			if err := cur.Mkdir(s, b.opts.DirMode); err != nil && !errors.Is(err, fs.ErrExist) {
				b.closeRoot(cur)
				return nil, err
			}
		}
		next, err := child(cur, s)
		b.closeRoot(cur)
		if errors.Is(err, ErrNotDir) && !create {
			err = fmt.Errorf("%w (%w)", err, fs.ErrNotExist) // no blob can be there
		}
		if err != nil {
			return nil, err
		}
		cur = next
	}
	return cur, nil
}

// openFile opens the regular file name in dir for reading, refusing anything else.
func openFile(dir *os.Root, name string) (*os.File, fs.FileInfo, error) {
	fi, err := dir.Lstat(name)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case fi.IsDir():
		return nil, nil, fmt.Errorf("%s is a directory: %w", name, fs.ErrNotExist)
	case !fi.Mode().IsRegular():
		return nil, nil, fmt.Errorf("%w: %s", ErrSymlink, name)
	}
	f, err := dir.OpenFile(name, os.O_RDONLY, 0) // follows no link: Lstat said regular, SameFile below checks
	if err != nil {
		return nil, nil, err
	}
	got, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	if !os.SameFile(fi, got) {
		_ = f.Close()
		return nil, nil, fmt.Errorf("%w: %s changed while it was opened", ErrSymlink, name)
	}
	return f, got, nil
}

// attrs is what a blob's attributes file holds.
type attrs struct {
	ContentType        string            `json:"content_type"`
	CacheControl       string            `json:"cache_control,omitempty"`
	ContentDisposition string            `json:"content_disposition,omitempty"`
	ContentEncoding    string            `json:"content_encoding,omitempty"`
	ContentLanguage    string            `json:"content_language,omitempty"`
	Metadata           map[string]string `json:"metadata,omitempty"`
	MD5                []byte            `json:"md5,omitempty"`
}

// readAttrs reads the attributes of the blob name in dir; missing or unreadable attributes are
// the defaults (a file put there by hand).
func readAttrs(dir *os.Root, name string) attrs {
	a := attrs{ContentType: "application/octet-stream"}
	f, _, err := openFile(dir, attrsName(name))
	if err != nil {
		return a
	}
	defer f.Close()
	var got attrs
	if err := json.NewDecoder(io.LimitReader(f, 1<<20)).Decode(&got); err == nil && got.ContentType != "" {
		a = got
	}
	return a
}

// open opens the blob key and its attributes.
func (b *bucket) open(key string) (*os.File, fs.FileInfo, attrs, error) {
	dirs, name, err := splitKey(key)
	if err != nil {
		return nil, nil, attrs{}, err
	}
	dir, err := b.openDir(dirs, false)
	if err != nil {
		return nil, nil, attrs{}, err
	}
	defer b.closeRoot(dir)
	f, fi, err := openFile(dir, name)
	if err != nil {
		return nil, nil, attrs{}, err
	}
	return f, fi, readAttrs(dir, name), nil
}

// ErrorCode implements driver.Bucket.
func (b *bucket) ErrorCode(err error) gcerrors.ErrorCode {
	switch {
	case errors.Is(err, ErrInvalidKey):
		return gcerrors.InvalidArgument
	case errors.Is(err, errUnimplemented):
		return gcerrors.Unimplemented
	case errors.Is(err, ErrSymlink):
		return gcerrors.PermissionDenied
	case errors.Is(err, fs.ErrNotExist):
		return gcerrors.NotFound
	case errors.Is(err, ErrNotDir), errors.Is(err, errExists), errors.Is(err, syscall.ENOTDIR),
		errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.ENOTEMPTY), errors.Is(err, syscall.EEXIST):
		return gcerrors.FailedPrecondition
	case errors.Is(err, syscall.ENAMETOOLONG):
		return gcerrors.InvalidArgument
	case errors.Is(err, context.Canceled):
		return gcerrors.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return gcerrors.DeadlineExceeded
	}
	return gcerrors.Unknown
}

// As implements driver.Bucket; rootblob exposes no driver types.
func (b *bucket) As(any) bool { return false }

// ErrorAs implements driver.Bucket: an *os.PathError is exposed.
func (b *bucket) ErrorAs(err error, i any) bool {
	var pe *os.PathError
	if p, ok := i.(**os.PathError); ok && errors.As(err, &pe) {
		*p = pe
		return true
	}
	return false
}

// Attributes implements driver.Bucket.
func (b *bucket) Attributes(ctx context.Context, key string) (*driver.Attributes, error) {
	f, fi, a, err := b.open(key)
	if err != nil {
		return nil, err
	}
	_ = f.Close()
	return &driver.Attributes{
		CacheControl: a.CacheControl, ContentDisposition: a.ContentDisposition, ContentEncoding: a.ContentEncoding,
		ContentLanguage: a.ContentLanguage, ContentType: a.ContentType, Metadata: a.Metadata,
		ModTime: fi.ModTime(), Size: fi.Size(), MD5: a.MD5,
		ETag: fmt.Sprintf("\"%x-%x\"", fi.ModTime().UnixNano(), fi.Size()),
	}, nil
}

// reader is an open blob.
type reader struct {
	r     io.Reader
	f     *os.File
	attrs driver.ReaderAttributes
}

func (r *reader) Read(p []byte) (int, error)           { return r.r.Read(p) }
func (r *reader) Close() error                         { return r.f.Close() }
func (r *reader) Attributes() *driver.ReaderAttributes { return &r.attrs }

// As implements driver.Reader: an *os.File is exposed.
func (r *reader) As(i any) bool {
	p, ok := i.(**os.File)
	if ok {
		*p = r.f
	}
	return ok
}

// NewRangeReader implements driver.Bucket.
func (b *bucket) NewRangeReader(ctx context.Context, key string, offset, length int64, opts *driver.ReaderOptions) (driver.Reader, error) {
	f, fi, a, err := b.open(key)
	if err != nil {
		return nil, err
	}
	r := &reader{r: f, f: f, attrs: driver.ReaderAttributes{ContentType: a.ContentType, ModTime: fi.ModTime(), Size: fi.Size()}}
	if offset > 0 {
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			_ = f.Close()
			return nil, err
		}
	}
	if length >= 0 {
		r.r = io.LimitReader(f, length)
	}
	if opts.BeforeRead != nil {
		if err := opts.BeforeRead(r.As); err != nil {
			_ = f.Close()
			return nil, err
		}
	}
	return r, nil
}

// Copy implements driver.Bucket by streaming the source into a new blob.
func (b *bucket) Copy(ctx context.Context, dstKey, srcKey string, opts *driver.CopyOptions) error {
	f, _, a, err := b.open(srcKey)
	if err != nil {
		return err
	}
	defer f.Close()
	if opts.BeforeCopy != nil {
		if err := opts.BeforeCopy(func(any) bool { return false }); err != nil {
			return err
		}
	}
	w, err := b.newWriter(ctx, dstKey, a, false)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, f); err != nil {
		w.abort()
		return err
	}
	return w.Close()
}

// Delete implements driver.Bucket. It removes the blob and its attributes, then every
// directory above it that is left empty.
func (b *bucket) Delete(ctx context.Context, key string, opts *driver.DeleteOptions) error {
	dirs, name, err := splitKey(key)
	if err != nil {
		return err
	}
	dir, err := b.openDir(dirs, false)
	if err != nil {
		return err
	}
	fi, err := dir.Lstat(name)
	switch {
	case err != nil:
	case fi.IsDir():
		err = fmt.Errorf("%s is a directory: %w", key, fs.ErrNotExist)
	case !fi.Mode().IsRegular():
		err = fmt.Errorf("%w: %s", ErrSymlink, key)
	case opts.BeforeDelete != nil:
		err = opts.BeforeDelete(func(any) bool { return false })
	}
	if err == nil {
		err = dir.Remove(name)
		if rerr := dir.Remove(attrsName(name)); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
			err = rerr
		}
	}
	b.closeRoot(dir)
	if err != nil {
		return err
	}
	b.prune(dirs)
	return nil
}

// prune removes the directories of dirs, deepest first, while they are empty. A directory
// that a writer is filling holds its temporary file, so it is never empty while in use.
func (b *bucket) prune(dirs []string) {
	for i := len(dirs); i > 0; i-- {
		parent, err := b.openDir(dirs[:i-1], false)
		if err != nil {
			return
		}
		err = parent.Remove(dirs[i-1]) // fails on a non-empty directory; never follows a link
		b.closeRoot(parent)
		if err != nil {
			return
		}
	}
}

// SignedURL implements driver.Bucket: local files have no URL to sign.
func (b *bucket) SignedURL(ctx context.Context, key string, opts *driver.SignedURLOptions) (string, error) {
	return "", errUnimplemented
}

// Close implements driver.Bucket.
func (b *bucket) Close() error { return b.root.Close() }
