package rootblob

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"gocloud.dev/blob/driver"
)

const defaultPageSize = 1000

// lister is one ListPaged call: a depth-first walk that visits keys in ascending order and
// stops after a page.
//
// A directory's entries are visited sorted by their key within it — a file by its name, a
// directory by its name followed by "/" — which is also the order of every key below them,
// since all keys under a directory d start with "d/". So the walk emits keys in order without
// collecting the whole tree, skips whole subtrees that sort before the page token, and stops
// as soon as the page is full.
type lister struct {
	ctx      context.Context
	b        *bucket
	prefix   string
	delim    bool
	token    string
	size     int
	objects  []*driver.ListObject
	more     bool
	firstErr error
}

// ListPaged implements driver.Bucket.
func (b *bucket) ListPaged(ctx context.Context, opts *driver.ListOptions) (*driver.ListPage, error) {
	if opts.Delimiter != "" && opts.Delimiter != "/" {
		return nil, fmt.Errorf("%w: rootblob lists with the delimiter \"/\" or none, not %q", ErrInvalidKey, opts.Delimiter)
	}
	l := &lister{ctx: ctx, b: b, prefix: opts.Prefix, delim: opts.Delimiter != "", token: string(opts.PageToken), size: opts.PageSize}
	if l.size <= 0 {
		l.size = defaultPageSize
	}
	if opts.BeforeList != nil {
		if err := opts.BeforeList(func(any) bool { return false }); err != nil {
			return nil, err
		}
	}
	// Start in the deepest directory the prefix names entirely.
	base := opts.Prefix[:strings.LastIndex(opts.Prefix, "/")+1]
	var segs []string
	if base != "" {
		var err error
		if segs, err = splitPath(strings.TrimSuffix(base, "/")); err != nil {
			return &driver.ListPage{}, nil // no key can have this prefix
		}
	}
	dir, err := b.openDir(segs, false)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, ErrNotDir):
		return &driver.ListPage{}, nil
	case err != nil:
		return nil, err
	}
	l.walk(dir, base)
	b.closeRoot(dir)
	if l.firstErr != nil {
		return nil, l.firstErr
	}
	page := &driver.ListPage{Objects: l.objects}
	if l.more {
		page.NextPageToken = []byte(l.objects[len(l.objects)-1].Key)
	}
	return page, nil
}

// entry is a directory entry with its key.
type entry struct {
	name  string
	key   string
	isDir bool
	de    fs.DirEntry
}

// entries reads dir, dropping rootblob's own files and anything but regular files and
// directories (symbolic links are never listed), sorted by key.
func entries(dir *os.Root, dirKey string) ([]entry, error) {
	f, err := dir.Open(".")
	if err != nil {
		return nil, err
	}
	des, err := f.ReadDir(-1)
	_ = f.Close()
	if err != nil {
		return nil, err
	}
	out := make([]entry, 0, len(des))
	for _, de := range des {
		name := de.Name()
		switch {
		case strings.HasPrefix(name, internalPrefix), validSegment(name) != nil:
		case de.IsDir():
			out = append(out, entry{name: name, key: dirKey + name + "/", isDir: true, de: de})
		case de.Type().IsRegular():
			out = append(out, entry{name: name, key: dirKey + name, de: de})
		}
	}
	slices.SortFunc(out, func(a, b entry) int { return cmp.Compare(a.key, b.key) })
	return out, nil
}

// walk visits dir, whose key is dirKey; it returns false once the page is full.
func (l *lister) walk(dir *os.Root, dirKey string) bool {
	if err := l.ctx.Err(); err != nil {
		l.firstErr = err
		return false
	}
	es, err := entries(dir, dirKey)
	if err != nil {
		l.firstErr = err
		return false
	}
	for _, e := range es {
		if !e.isDir {
			if !strings.HasPrefix(e.key, l.prefix) || e.key <= l.token {
				continue
			}
			info, err := e.de.Info()
			if err != nil {
				continue // removed since ReadDir
			}
			if !l.emit(&driver.ListObject{Key: e.key, ModTime: info.ModTime(), Size: info.Size()}) {
				return false
			}
			continue
		}
		inPrefix := strings.HasPrefix(e.key, l.prefix)
		if !inPrefix && !strings.HasPrefix(l.prefix, e.key) {
			continue
		}
		if e.key <= l.token && !strings.HasPrefix(l.token, e.key) {
			continue // every key below sorts before the token
		}
		sub, err := child(dir, e.name)
		if err != nil {
			continue // replaced or removed since ReadDir
		}
		ok := true
		if l.delim && inPrefix {
			if e.key > l.token && hasBlob(sub, 0) {
				ok = l.emit(&driver.ListObject{Key: e.key, IsDir: true})
			}
		} else {
			ok = l.walk(sub, e.key)
		}
		_ = sub.Close()
		if !ok {
			return false
		}
	}
	return true
}

// emit adds an object to the page; it returns false once the page is full, noting whether
// more objects follow.
func (l *lister) emit(o *driver.ListObject) bool {
	if len(l.objects) == l.size {
		l.more = true
		return false
	}
	l.objects = append(l.objects, o)
	return true
}

// hasBlob reports whether dir holds a blob at any depth (a directory that a crash or a racing
// Delete left empty is not listed).
func hasBlob(dir *os.Root, depth int) bool {
	es, err := entries(dir, "")
	if err != nil || depth > 64 {
		return false
	}
	for _, e := range es {
		if !e.isDir {
			return true
		}
	}
	for _, e := range es {
		sub, err := child(dir, e.name)
		if err != nil {
			continue
		}
		found := hasBlob(sub, depth+1)
		_ = sub.Close()
		if found {
			return true
		}
	}
	return false
}
