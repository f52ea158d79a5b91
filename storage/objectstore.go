package storage

import (
	"context"
	"os"

	"github.com/spf13/afero"
)

// An object store (s3fs) has no rename and no directories of its own: a
// collection is a key prefix, a rename is a copy and a delete of every
// object, and the store does both server-side, many requests at a time.
// FileSystem finds out through the small interfaces below and hands the
// work over; the WebDAV semantics (reserved names, parents, what a
// failure leaves behind) stay FileSystem's.

// stagingFs is a backend that writes new content straight to its final
// name, visible only once committed: the file CreateStaged returns has a
// Commit method, and closing it without Commit discards the content and
// leaves the old file as it was. Uploads then need no temporary name and
// no rename (which an object store would do as a copy).
type stagingFs interface {
	CreateStaged(name string, perm os.FileMode) (afero.File, error)
}

// committer is the file of a stagingFs.
type committer interface{ Commit() error }

// treeFs is a backend that runs tree operations itself. Each resource is
// reported to visit (one call at a time), a failed member keeps its
// ancestors, and the error is non-nil only when the operation could not
// run at all. The visit type is storage.Visit's, unnamed so that a
// backend package need not import this one.
type treeFs interface {
	CopyTree(ctx context.Context, src, dst string, deep bool, visit func(rel string, isDir bool, size int64, err error)) error
	RemoveTree(ctx context.Context, name string, visit func(rel string, isDir bool, size int64, err error)) error
	// MoveTree moves src to dst, which must not exist (a file there is
	// replaced), member by member: each source is removed only once its
	// copy is confirmed.
	MoveTree(ctx context.Context, src, dst string, visit func(rel string, isDir bool, size int64, err error)) error
	// ResumeCopyTree is CopyTree (deep) into a dst that may already hold
	// part of the copy: an object there with its source's size is kept
	// and reported as copied, the rest copied over what is there. copied
	// is told the size of each object actually copied.
	ResumeCopyTree(ctx context.Context, src, dst string, visit func(rel string, isDir bool, size int64, err error), copied func(n int64)) error
	// ResumeMoveTree is MoveTree into a dst that may already hold part of
	// the result: an object there with its source's size is not copied
	// again, and its source is deleted.
	ResumeMoveTree(ctx context.Context, src, dst string, visit func(rel string, isDir bool, size int64, err error)) error
}

// MovesByCopy reports whether the storage has no rename: a MOVE is then
// a copy and a delete of each member, which takes as long as a COPY, may
// fail for some members only, and is not atomic. Callers use MoveTree
// there, to report progress and failed members, instead of Rename.
func (f *FileSystem) MovesByCopy() bool {
	_, ok := f.fs.(treeFs)
	return ok
}

// MoveTree moves src to dst, which must not exist, on storage that
// MovesByCopy: each member is copied, then its source deleted once the
// copy is confirmed, and reported to visit. A member that fails stays at
// src, with its ancestors. Elsewhere it is Rename, reported as one
// resource.
func (f *FileSystem) MoveTree(ctx context.Context, src, dst string, visit Visit) error {
	t, ok := f.fs.(treeFs)
	if !ok {
		if err := f.Rename(ctx, src, dst); err != nil {
			return err
		}
		fi, err := f.Stat(ctx, dst)
		if err == nil {
			visit("", fi.IsDir(), sizeOf(fi), nil)
		}
		return nil
	}
	src, err := clean("rename", src)
	if err != nil {
		return err
	}
	if dst, err = clean("rename", dst); err != nil {
		return err
	}
	if src == "/" || dst == "/" {
		return &os.PathError{Op: "rename", Path: src, Err: os.ErrPermission}
	}
	if err := f.checkParent("rename", dst); err != nil {
		return err
	}
	return t.MoveTree(ctx, src, dst, visit)
}
