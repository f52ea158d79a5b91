package ui

import (
	"davd/storage"

	"context"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// maxDepth bounds how deep a walk descends, whatever the tree holds.
const maxDepth = 64

// walk visits the tree below root depth first, members in name order:
// fn gets each member's storage name and description; returning skipDir
// for a collection does not descend into it. A directory reached twice
// (a symbolic link back to an ancestor) is visited once, and nothing
// deeper than maxDepth is visited. The walk holds one listing per level,
// never the whole tree.
func walk(ctx context.Context, tree Tree, root string, fn func(name string, fi fs.FileInfo) error) error {
	seen := map[dirID]bool{}
	if fi, err := tree.Stat(ctx, root); err == nil {
		firstVisit(seen, fi)
	}
	var visit func(dir string, depth int) error
	visit = func(dir string, depth int) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		infos, err := tree.ReadDir(ctx, dir)
		if err != nil {
			return err
		}
		slices.SortFunc(infos, func(a, b fs.FileInfo) int { return strings.Compare(a.Name(), b.Name()) })
		for _, fi := range infos {
			name := path.Join(dir, fi.Name())
			err := fn(name, fi)
			if err == skipDir {
				continue
			}
			if err != nil {
				return err
			}
			if fi.IsDir() && depth < maxDepth && firstVisit(seen, fi) {
				if err := visit(name, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return visit(root, 1)
}

// skipDir tells walk not to descend into a collection.
var skipDir = fs.SkipDir

// dirID identifies a directory on disk; see firstVisit.
type dirID struct{ dev, ino uint64 }

// firstVisit reports whether the directory fi describes was not seen yet,
// and marks it seen. Backends without inode numbers (memory) have no links
// and so no loops.
func firstVisit(seen map[dirID]bool, fi fs.FileInfo) bool {
	dev, ino, ok := storage.FileID(fi)
	if !ok {
		return true
	}
	id := dirID{dev, ino}
	if seen[id] {
		return false
	}
	seen[id] = true
	return true
}
