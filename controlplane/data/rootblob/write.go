package rootblob

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"gocloud.dev/blob/driver"
)

// writer streams a blob into a temporary file beside its final name and renames it into
// place at Close.
type writer struct {
	ctx        context.Context
	b          *bucket
	dir        *os.Root
	name       string
	tmp        string
	f          *os.File
	attrs      attrs
	ifNotExist bool
}

// NewTypedWriter implements driver.Bucket.
func (b *bucket) NewTypedWriter(ctx context.Context, key, contentType string, opts *driver.WriterOptions) (driver.Writer, error) {
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	a := attrs{
		ContentType: contentType, CacheControl: opts.CacheControl, ContentDisposition: opts.ContentDisposition,
		ContentEncoding: opts.ContentEncoding, ContentLanguage: opts.ContentLanguage, Metadata: opts.Metadata, MD5: opts.ContentMD5,
	}
	w, err := b.newWriter(ctx, key, a, opts.IfNotExist)
	if err != nil {
		return nil, err
	}
	if opts.BeforeWrite != nil {
		if err := opts.BeforeWrite(w.as); err != nil {
			w.abort()
			return nil, err
		}
	}
	return w, nil
}

func (b *bucket) newWriter(ctx context.Context, key string, a attrs, ifNotExist bool) (*writer, error) {
	dirs, name, err := splitKey(key)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		dir, err := b.openDir(dirs, true)
		if err != nil {
			return nil, err
		}
		tmp, err := tmpName()
		if err != nil {
			b.closeRoot(dir)
			return nil, err
		}
		f, err := dir.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, b.opts.FileMode)
		if err == nil {
			return &writer{ctx: ctx, b: b, dir: dir, name: name, tmp: tmp, f: f, attrs: a, ifNotExist: ifNotExist}, nil
		}
		b.closeRoot(dir)
		// A concurrent Delete may have pruned the directory between its creation and ours
		// of the temporary file: create it again.
		if !errors.Is(err, fs.ErrNotExist) || attempt == 2 {
			return nil, err
		}
	}
}

func tmpName() (string, error) {
	var r [12]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	return tmpPrefix + hex.EncodeToString(r[:]), nil
}

// as exposes the temporary *os.File to BeforeWrite.
func (w *writer) as(i any) bool {
	p, ok := i.(**os.File)
	if ok {
		*p = w.f
	}
	return ok
}

// Write implements driver.Writer.
func (w *writer) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	return w.f.Write(p)
}

// abort discards the write.
func (w *writer) abort() {
	_ = w.f.Close()
	_ = w.dir.Remove(w.tmp)
	w.b.closeRoot(w.dir)
}

// Close implements driver.Writer: it commits the blob unless the writer's context ended, in
// which case it discards it and returns the context's error.
func (w *writer) Close() error {
	if err := w.ctx.Err(); err != nil {
		w.abort()
		return err
	}
	if err := w.f.Close(); err != nil {
		_ = w.dir.Remove(w.tmp)
		w.b.closeRoot(w.dir)
		return err
	}
	defer w.b.closeRoot(w.dir)
	if w.ifNotExist {
		// Link fails when the name exists, so that two racing writers cannot both win.
		err := w.dir.Link(w.tmp, w.name)
		_ = w.dir.Remove(w.tmp)
		if errors.Is(err, fs.ErrExist) {
			return errExists
		}
		if err != nil {
			return err
		}
		return w.writeAttrs()
	}
	if fi, err := w.dir.Lstat(w.name); err == nil && fi.IsDir() {
		_ = w.dir.Remove(w.tmp)
		return fmt.Errorf("%w: %s is a directory", ErrNotDir, w.name)
	}
	if err := w.writeAttrs(); err != nil {
		_ = w.dir.Remove(w.tmp)
		return err
	}
	if err := w.dir.Rename(w.tmp, w.name); err != nil {
		_ = w.dir.Remove(w.tmp)
		if fi, lerr := w.dir.Lstat(w.name); lerr != nil || !fi.Mode().IsRegular() {
			_ = w.dir.Remove(attrsName(w.name)) // no blob to describe
		}
		return err
	}
	return nil
}

// writeAttrs stores the blob's attributes beside it, atomically.
func (w *writer) writeAttrs() error {
	b, err := json.Marshal(w.attrs)
	if err != nil {
		return err
	}
	tmp, err := tmpName()
	if err != nil {
		return err
	}
	f, err := w.dir.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, w.b.opts.FileMode)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = w.dir.Rename(tmp, attrsName(w.name))
	}
	if err != nil {
		_ = w.dir.Remove(tmp)
	}
	return err
}
