// Package data is the hosted Data API: collections of files addressed as
// data://owner/collection/path, kept in a gocloud.dev/blob bucket (a local directory by default,
// S3, GCS or Azure Blob in production) under data/{owner}/{collection}/{path}, with each
// collection's owner and read ACL in the store.
//
// Rights: a key's data scope gates everything (none: nothing; read: reads only; write: all).
// A collection's owner reads and writes it; administrators may act for any owner. Others may
// read a public collection and never write one. A collection that the caller may not read is
// answered as missing, so its existence does not leak. ACLMyAlgorithms ("the owner and calls of
// the owner's algorithms") is, until calls from inside algorithms carry their own credentials,
// the owner only: the same as ACLPrivate.
//
// Folders are key prefixes. Creating an empty folder writes a zero-byte FolderMarker object in
// it, which listings hide; a folder made implicitly by putting a file in it disappears with its
// last file, as in S3.
//
// Files stream both ways: Put copies the request body into a blob writer and Open returns a
// blob reader; neither holds a file in memory.
package data

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/algos-dev/algos/controlplane/auth"
	"github.com/algos-dev/algos/controlplane/store"
)

// Store is the part of the store the Data API uses.
type Store interface {
	GetAccount(ctx context.Context, name string) (store.Account, error)
	store.Collections
}

// Config configures the Data API service.
type Config struct {
	Store  Store
	Bucket *blob.Bucket
	// Prefix is where collections live in the bucket (default "data/"), so that the bucket
	// can be shared with other users of it (source artifacts live under "artifacts/").
	Prefix string
	Logger *slog.Logger
	Now    func() time.Time
}

// Validate checks the configuration and fills defaults.
func (c *Config) Validate() error {
	if c.Store == nil || c.Bucket == nil {
		return errors.New("data: Store and Bucket are required")
	}
	if c.Prefix == "" {
		c.Prefix = "data/"
	}
	if !strings.HasSuffix(c.Prefix, "/") {
		return fmt.Errorf("data: Prefix %q must end with '/'", c.Prefix)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Service is the Data API. It is safe for concurrent use.
type Service struct {
	cfg Config
	log *slog.Logger
}

// New returns the Data API service.
func New(cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, log: cfg.Logger.With("component", "data")}, nil
}

// CheckScope checks that a key's data scope allows a request: reads (write false) need read
// or write, anything else needs write.
func CheckScope(p *auth.Principal, write bool) error {
	switch {
	case p.Data != store.DataRead && p.Data != store.DataReadWrite:
		return fmt.Errorf("%w: this API key has no Data API access: create a key with \"data\": \"read\" or \"write\"", ErrForbidden)
	case write && p.Data != store.DataReadWrite:
		return fmt.Errorf("%w: this API key may only read data: create a key with \"data\": \"write\" to change it", ErrForbidden)
	}
	return nil
}

// Resolve replaces the owner MyOwner with the caller's account, and data://.algo/path, from
// inside an algorithm's call, with the folder of that algorithm in its owner's reserved
// collection. (Outside a call, .algo stays: the collection lookup answers what to do.)
func Resolve(p *auth.Principal, r Ref) Ref {
	switch {
	case r.Owner == MyOwner:
		r.Owner = p.Account
	case r.Owner == AlgoOwner && p.Calling != nil:
		owner, name := p.Calling.HolderAlgorithm()
		path := name
		if r.Path != "" {
			path += "/" + r.Path
		}
		r = Ref{Owner: owner, Collection: AlgoCollection, Path: path, Dir: r.Dir || r.Path == ""}
	}
	return r
}

// OwnSpace reports whether r lies in the calling algorithm's own space (data://.algo/).
func OwnSpace(p *auth.Principal, r Ref) bool {
	if p.Calling == nil || r.Collection != AlgoCollection {
		return false
	}
	owner, name := p.Calling.HolderAlgorithm()
	return r.Owner == owner && (r.Path == name || strings.HasPrefix(r.Path, name+"/"))
}

// ValidACL checks a collection ACL.
func ValidACL(acl store.CollectionACL) error {
	switch acl {
	case store.ACLPublic, store.ACLMyAlgorithms, store.ACLPrivate:
		return nil
	}
	return fmt.Errorf("%w: ACL %q: use public, my_algorithms or private", ErrInvalid, acl)
}

// isOwner reports whether p may write what owner owns: owner, an owner or admin of
// organization owner, or an administrator.
func isOwner(p *auth.Principal, owner string) bool { return p.Manages(owner) }

// mayRead reports whether p may read the collection c: its owner's members, anyone for a
// public collection, and — for my_algorithms — calls made from inside an algorithm of the
// collection's owner, whoever called it.
func mayRead(p *auth.Principal, c store.Collection) bool {
	switch {
	case p.ActsFor(c.Owner), c.ACL == store.ACLPublic:
		return true
	case c.ACL == store.ACLMyAlgorithms && p.Calling != nil:
		return algorithmOwner(p) == c.Owner
	}
	return false
}

// algorithmOwner is the owner of the algorithm whose worker makes the request ("" for a
// request from outside).
func algorithmOwner(p *auth.Principal) string {
	if p.Calling == nil {
		return ""
	}
	owner, _ := p.Calling.HolderAlgorithm()
	return owner
}

func notFound(r Ref) error {
	return fmt.Errorf("%w: %s does not exist or is not shared with you", ErrNotFound, r)
}

// collection returns the collection of r after checking the key's scope and the caller's
// rights: a collection the caller may not read is not found; one it may read but not write is
// forbidden.
func (s *Service) collection(ctx context.Context, p *auth.Principal, r Ref, write bool) (store.Collection, error) {
	if r.Owner == AlgoOwner {
		return store.Collection{}, fmt.Errorf("%w: data://.algo/ is an algorithm's own space, reachable only from inside its calls", ErrInvalid)
	}
	if r.Collection == AlgoCollection {
		// Only the algorithm itself reaches its space, whatever its caller's data scope;
		// the space's collection comes into existence with the first use.
		if !OwnSpace(p, r) {
			return store.Collection{}, notFound(Ref{Owner: r.Owner, Collection: r.Collection})
		}
		c, err := s.cfg.Store.GetCollection(ctx, r.Owner, r.Collection)
		if errors.Is(err, store.ErrNotFound) {
			c = store.Collection{Owner: r.Owner, Name: AlgoCollection, ACL: store.ACLPrivate, CreatedAt: s.cfg.Now().UTC()}
			if err = s.cfg.Store.CreateCollection(ctx, c); errors.Is(err, store.ErrConflict) {
				c, err = s.cfg.Store.GetCollection(ctx, r.Owner, r.Collection)
			}
		}
		return c, err
	}
	scopeErr := CheckScope(p, write)
	own := !write && algorithmOwner(p) == r.Owner
	if scopeErr != nil && !own {
		return store.Collection{}, scopeErr
	}
	c, err := s.cfg.Store.GetCollection(ctx, r.Owner, r.Collection)
	if errors.Is(err, store.ErrNotFound) || err == nil && !mayRead(p, c) {
		return store.Collection{}, notFound(Ref{Owner: r.Owner, Collection: r.Collection})
	}
	if err != nil {
		return store.Collection{}, err
	}
	// An algorithm reads its own owner's my_algorithms and public collections whatever its
	// caller's key may do with the Data API (its model files are its own, not the caller's).
	if scopeErr != nil && c.ACL == store.ACLPrivate {
		return store.Collection{}, scopeErr
	}
	if write && !isOwner(p, c.Owner) {
		return store.Collection{}, fmt.Errorf("%w: only %s writes to %s", ErrForbidden, c.Owner, Ref{Owner: c.Owner, Collection: c.Name})
	}
	return c, nil
}

// CreateCollection creates the collection owner/name. Anything left in the bucket under its
// prefix by an earlier collection of that name whose deletion was interrupted is removed first.
func (s *Service) CreateCollection(ctx context.Context, p *auth.Principal, owner, name string, acl store.CollectionACL) (store.Collection, error) {
	if err := CheckScope(p, true); err != nil {
		return store.Collection{}, err
	}
	r, err := fromSegments([]string{owner, name}, false, owner+"/"+name)
	if err != nil {
		return store.Collection{}, err
	}
	r = Resolve(p, r)
	if acl == "" {
		acl = store.ACLMyAlgorithms // Algorithmia's default
	}
	if err := ValidACL(acl); err != nil {
		return store.Collection{}, err
	}
	if !isOwner(p, r.Owner) {
		return store.Collection{}, fmt.Errorf("%w: this key belongs to %s and may not create collections of %s", ErrForbidden, p.Account, r.Owner)
	}
	if _, err := s.cfg.Store.GetAccount(ctx, r.Owner); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.Collection{}, fmt.Errorf("%w: no account %s", ErrNotFound, r.Owner)
		}
		return store.Collection{}, err
	}
	c := store.Collection{Owner: r.Owner, Name: r.Collection, ACL: acl, CreatedAt: s.cfg.Now().UTC()}
	if err := s.cfg.Store.CreateCollection(ctx, c); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return store.Collection{}, fmt.Errorf("%w: %s exists already", ErrConflict, r)
		}
		return store.Collection{}, err
	}
	if n, m, err := s.deleteAll(ctx, s.dirKey(r)); err != nil || n+m > 0 {
		s.log.Warn("removing what an interrupted deletion left of an earlier collection", "collection", r.String(), "files", n, "folders", m, "err", err)
	}
	return c, nil
}

// GetCollection returns a collection the caller may read.
func (s *Service) GetCollection(ctx context.Context, p *auth.Principal, owner, name string) (store.Collection, error) {
	return s.collection(ctx, p, Resolve(p, Ref{Owner: owner, Collection: name}), false)
}

// UpdateCollection changes the ACL of a collection of the caller's.
func (s *Service) UpdateCollection(ctx context.Context, p *auth.Principal, owner, name string, acl store.CollectionACL) (store.Collection, error) {
	if err := ValidACL(acl); err != nil {
		return store.Collection{}, err
	}
	c, err := s.collection(ctx, p, Resolve(p, Ref{Owner: owner, Collection: name}), true)
	if err != nil {
		return store.Collection{}, err
	}
	c.ACL = acl
	return c, s.cfg.Store.UpdateCollection(ctx, c)
}

// ListCollections returns the collections of owner that the caller may read, by name.
func (s *Service) ListCollections(ctx context.Context, p *auth.Principal, owner string) ([]store.Collection, error) {
	if err := CheckScope(p, false); err != nil {
		return nil, err
	}
	r := Resolve(p, Ref{Owner: owner})
	all, err := s.cfg.Store.ListCollections(ctx, r.Owner)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, c := range all {
		if mayRead(p, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// deleteCollection removes a collection and its files. Without force, a collection that holds
// anything (files or folders) is a conflict. The record goes first, so that no new upload is
// accepted (Put re-checks it after storing a file), then the files; an interrupted deletion is
// finished by deleting again, which the owner may do once the record is gone, or by creating
// the collection anew.
func (s *Service) deleteCollection(ctx context.Context, p *auth.Principal, r Ref, force bool) (int, error) {
	_, err := s.collection(ctx, p, r, true)
	gone := errors.Is(err, ErrNotFound) && isOwner(p, r.Owner)
	if err != nil && !gone {
		return 0, err
	}
	prefix := s.dirKey(r)
	if !gone && !force {
		if any, err := s.exists(ctx, prefix); err != nil || any {
			if err == nil {
				err = fmt.Errorf("%w: %s is not empty: delete it with force (?force=true) to remove its files too", ErrConflict, r)
			}
			return 0, err
		}
	}
	if !gone {
		if err := s.cfg.Store.DeleteCollection(ctx, r.Owner, r.Collection); err != nil {
			return 0, err
		}
	}
	n, _, err := s.deleteAll(ctx, prefix)
	return n, err
}

// dirKey is the bucket prefix of a collection or folder, ending in "/".
func (s *Service) dirKey(r Ref) string {
	k := s.cfg.Prefix + r.Owner + "/" + r.Collection + "/"
	if r.Path != "" {
		k += r.Path + "/"
	}
	return k
}

// fileKey is the bucket key of a file.
func (s *Service) fileKey(r Ref) string {
	return s.cfg.Prefix + r.Owner + "/" + r.Collection + "/" + r.Path
}

// exists reports whether anything is stored under prefix.
func (s *Service) exists(ctx context.Context, prefix string) (bool, error) {
	objs, _, err := s.cfg.Bucket.ListPage(ctx, blob.FirstPageToken, 1, &blob.ListOptions{Prefix: prefix})
	if err != nil {
		return false, s.blobErr(Ref{}, err)
	}
	return len(objs) > 0, nil
}

// deleteAll deletes everything under prefix and returns how many files (not folder markers)
// and markers it deleted.
func (s *Service) deleteAll(ctx context.Context, prefix string) (files, markers int, err error) {
	for {
		objs, _, err := s.cfg.Bucket.ListPage(ctx, blob.FirstPageToken, 1000, &blob.ListOptions{Prefix: prefix})
		if err != nil {
			return files, markers, s.blobErr(Ref{}, err)
		}
		if len(objs) == 0 {
			return files, markers, nil
		}
		for _, o := range objs {
			err := s.cfg.Bucket.Delete(ctx, o.Key)
			switch {
			case gcerrors.Code(err) == gcerrors.NotFound:
			case err != nil:
				return files, markers, s.blobErr(Ref{}, err)
			case strings.HasSuffix(o.Key, "/"+FolderMarker):
				markers++
			default:
				files++
			}
		}
	}
}

// blobErr turns a bucket error about r into the package's errors.
func (s *Service) blobErr(r Ref, err error) error {
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		return notFound(r)
	case gcerrors.PermissionDenied:
		return fmt.Errorf("%w: %s: its stored path crosses a symbolic link or special file, which algos never follows", ErrForbidden, r)
	case gcerrors.FailedPrecondition:
		return fmt.Errorf("%w: %s: a file and a folder collide there", ErrConflict, r)
	case gcerrors.InvalidArgument:
		return fmt.Errorf("%w: %s: the store refuses this name: %v", ErrInvalid, r, err)
	case gcerrors.Canceled:
		return context.Canceled
	}
	return fmt.Errorf("data: %s: %w", r, err)
}
