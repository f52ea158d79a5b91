package storage

import (
	"context"
	"errors"
	"os"
	"strings"
)

// flatLister is a backend that lists a whole subtree in one flat listing
// rather than one listing per collection: an object store lists every
// key below a prefix, a page at a time, without a delimiter, so that a
// tree of any shape costs one request per page, not one per collection.
//
// ListFlat calls fn with successive batches of the resources strictly
// below collection name; each batch holds members of one collection dir
// (a clean absolute path). The order is depth first: a collection comes
// before its members, and the members of a collection (at every depth)
// follow it before any resource outside it. A collection is listed only
// when something is stored at or below it (no phantoms).
type flatLister interface {
	ListFlat(ctx context.Context, name string, fn func(dir string, infos []os.FileInfo) error) error
}

// ListsFlat reports whether ListTree lists a whole tree in one flat
// listing; elsewhere a walk lists each collection with ListDir.
func (f *FileSystem) ListsFlat() bool {
	_, ok := f.fs.(flatLister)
	return ok
}

// ListTree calls fn with successive batches of the resources below
// collection name, at every depth, on storage that ListsFlat (elsewhere it
// fails with errors.ErrUnsupported). Each batch holds members of one collection
// dir; a collection comes before its members, which come before anything
// outside it (depth first). Reserved names are left out with what is
// below them, as ListDir leaves them out.
func (f *FileSystem) ListTree(ctx context.Context, name string, fn func(dir string, infos []os.FileInfo) error) error {
	name, err := clean("readdir", name)
	if err != nil {
		return err
	}
	fl, ok := f.fs.(flatLister)
	if !ok {
		return &os.PathError{Op: "readdir", Path: name, Err: errors.ErrUnsupported}
	}
	pruned := "" // a reserved collection, left out with its members
	return fl.ListFlat(ctx, name, func(dir string, infos []os.FileInfo) error {
		if pruned != "" && (dir == pruned || strings.HasPrefix(dir, pruned+"/")) {
			return nil
		}
		pruned = ""
		if IsReserved(dir) {
			// Below a reserved name that the batches never showed as a
			// member (the listing started inside it): never listed.
			return nil
		}
		kept := infos[:0:0]
		for _, fi := range infos {
			if IsReserved(fi.Name()) {
				if fi.IsDir() {
					pruned = childOf(dir, fi.Name())
				}
				continue
			}
			kept = append(kept, fi)
		}
		if len(kept) == 0 {
			return nil
		}
		return fn(dir, kept)
	})
}

// childOf is path.Join(dir, name) for a clean absolute dir and a name
// without slashes.
func childOf(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}
