package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"syscall"
	"time"

	"github.com/spf13/afero"
)

// listBatch is how many directory entries are read at a time: enough to
// amortise the system calls, few enough that a directory of a million
// entries never sits in memory whole.
const listBatch = 1024

// maxTreeDepth bounds recursion into nested collections.
const maxTreeDepth = 1000

// ErrTooDeep is returned for trees nested deeper than the server follows.
var ErrTooDeep = errors.New("collection nesting too deep")

// ErrLoop is reported for a member of a copied tree that is, through a
// symbolic link, one of its own ancestors or the copy being made: copying
// it would never end.
var ErrLoop = errors.New("symbolic link loop")

// Visit is told about each resource a tree operation handles: rel is its
// path relative to the operation's root ("" for the root itself), size its
// content length, and err why it failed (nil when it succeeded).
type Visit func(rel string, isDir bool, size int64, err error)

// ListDir calls fn with successive batches of the members of collection
// name, in directory order. Reserved names are left out; a symbolic link is
// described by its target, and one whose target is missing or outside the
// storage is left out, as it cannot be reached.
func (f *FileSystem) ListDir(ctx context.Context, name string, fn func([]os.FileInfo) error) error {
	name, err := clean("readdir", name)
	if err != nil {
		return err
	}
	dir, err := f.fs.Open(name)
	if err != nil {
		return hide(err)
	}
	defer dir.Close()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		infos, rerr := dir.Readdir(listBatch)
		kept := infos[:0]
		for _, fi := range infos {
			if IsReserved(fi.Name()) {
				continue
			}
			if fi.Mode()&os.ModeSymlink != 0 {
				target, err := f.fs.Stat(path.Join(name, fi.Name()))
				if err != nil {
					continue
				}
				fi = renamed{target, fi.Name()}
			}
			kept = append(kept, fi)
		}
		if len(kept) > 0 {
			if err := fn(kept); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// renamed is a FileInfo under another name: a link's target as seen
// through the link.
type renamed struct {
	os.FileInfo
	name string
}

func (r renamed) Name() string { return r.name }

// RemoveTree removes name and everything below it, members before their
// collection. A member that cannot be removed is reported to visit and
// keeps its ancestors in place; the rest is removed. The returned error is
// non-nil only when the operation as a whole could not run.
func (f *FileSystem) RemoveTree(ctx context.Context, name string, visit Visit) error {
	name, err := clean("remove", name)
	if err != nil {
		return err
	}
	if name == "/" {
		return &os.PathError{Op: "remove", Path: name, Err: os.ErrPermission}
	}
	fi, err := f.fs.Stat(name)
	if err != nil {
		return hide(err)
	}
	f.removeTree(ctx, name, "", fi, visit, 0)
	return nil
}

// removeTree returns whether name is gone.
func (f *FileSystem) removeTree(ctx context.Context, name, rel string, fi os.FileInfo, visit Visit, depth int) bool {
	if err := ctx.Err(); err != nil {
		visit(rel, fi.IsDir(), 0, err)
		return false
	}
	if fi.IsDir() {
		if depth >= maxTreeDepth {
			visit(rel, true, 0, ErrTooDeep)
			return false
		}
		if err := f.removeMembers(ctx, name, rel, visit, depth); err != nil {
			visit(rel, true, 0, err)
			return false
		}
		if ok := f.emptied(name); !ok {
			return false // RFC 4918 §9.6.1: ancestors of a failure stay, unreported
		}
	}
	if err := f.fs.Remove(name); err != nil {
		visit(rel, fi.IsDir(), 0, hide(err))
		return false
	}
	visit(rel, fi.IsDir(), sizeOf(fi), nil)
	return true
}

// removeMembers removes the members of collection name a batch at a time.
// The directory is opened afresh for each batch: some backends
// (afero.MemMapFs) read directories by position and cannot be read on
// while their entries are removed. Members that failed are remembered and
// skipped, so the loop ends.
func (f *FileSystem) removeMembers(ctx context.Context, name, rel string, visit Visit, depth int) error {
	failed := map[string]bool{}
	for {
		dir, err := f.fs.Open(name)
		if err != nil {
			return hide(err)
		}
		var batch []os.FileInfo
		for len(batch) == 0 {
			infos, rerr := dir.Readdir(listBatch)
			for _, c := range infos {
				if !failed[c.Name()] {
					batch = append(batch, c)
				}
			}
			if rerr == io.EOF || (rerr == nil && len(infos) == 0) {
				break
			}
			if rerr != nil {
				dir.Close()
				return rerr
			}
		}
		dir.Close()
		if len(batch) == 0 {
			return nil
		}
		for _, c := range batch {
			child := path.Join(name, c.Name())
			if IsReserved(c.Name()) {
				// An upload in progress or server state: removing the
				// collection takes it along.
				if f.fs.RemoveAll(child) != nil {
					failed[c.Name()] = true
				}
				continue
			}
			if !f.removeTree(ctx, child, path.Join(rel, c.Name()), c, visit, depth+1) {
				failed[c.Name()] = true
			}
		}
	}
}

// emptied reports whether collection name has no members left.
func (f *FileSystem) emptied(name string) bool {
	dir, err := f.fs.Open(name)
	if err != nil {
		return false
	}
	defer dir.Close()
	names, _ := dir.Readdirnames(1)
	return len(names) == 0
}

func sizeOf(fi os.FileInfo) int64 {
	if fi.IsDir() {
		return 0
	}
	return fi.Size()
}

// CopyTree copies src to dst, which must not exist yet; with deep false a
// collection is copied without its members. Each resource is reported to
// visit; a member that fails is reported and skipped, the rest copied.
// File content goes through io.Copy between the backend's files, which is
// copy_file_range between two *os.File on directory storage. A file whose
// copy fails is removed, never left half written.
func (f *FileSystem) CopyTree(ctx context.Context, src, dst string, deep bool, visit Visit) error {
	src, err := clean("copy", src)
	if err != nil {
		return err
	}
	if dst, err = clean("copy", dst); err != nil {
		return err
	}
	fi, err := f.fs.Stat(src)
	if err != nil {
		return hide(err)
	}
	if err := f.checkParent("copy", dst); err != nil {
		return err
	}
	if _, err := f.fs.Stat(dst); err == nil {
		return &os.PathError{Op: "copy", Path: dst, Err: os.ErrExist}
	}
	if !fi.IsDir() {
		// A lone file: its failure is the operation's failure.
		n, err := f.copyFile(src, dst, fi)
		if err != nil {
			return err
		}
		visit("", false, n, nil)
		return nil
	}
	if err := f.fs.Mkdir(dst, fi.Mode().Perm()|0o700); err != nil {
		return hide(err)
	}
	visit("", true, 0, nil)
	if deep {
		// A symbolic link to an ancestor, or to a directory that holds the
		// destination, would make the copy read what it writes; these
		// directories are never entered twice.
		ancestors := []os.FileInfo{fi}
		if dfi, err := f.fs.Stat(dst); err == nil {
			ancestors = append(ancestors, dfi)
		}
		f.copyMembers(ctx, src, dst, "", visit, 1, ancestors)
	}
	return nil
}

// isAncestor reports whether the directory fi is one of ancestors, by
// identity (device and inode); backends without identities never match.
func isAncestor(fi os.FileInfo, ancestors []os.FileInfo) bool {
	fi = unrenamed(fi)
	for _, a := range ancestors {
		if os.SameFile(fi, a) {
			return true
		}
	}
	return false
}

// unrenamed returns the backend's own FileInfo, which os.SameFile needs.
func unrenamed(fi os.FileInfo) os.FileInfo {
	if r, ok := fi.(renamed); ok {
		return r.FileInfo
	}
	return fi
}

func (f *FileSystem) copyMembers(ctx context.Context, src, dst, rel string, visit Visit, depth int, ancestors []os.FileInfo) {
	if depth >= maxTreeDepth {
		visit(rel, true, 0, ErrTooDeep)
		return
	}
	err := f.ListDir(ctx, src, func(infos []os.FileInfo) error {
		for _, c := range infos {
			s, d, r := path.Join(src, c.Name()), path.Join(dst, c.Name()), path.Join(rel, c.Name())
			if err := ctx.Err(); err != nil {
				visit(r, c.IsDir(), 0, err)
				continue
			}
			if !c.IsDir() {
				n, err := f.copyFile(s, d, c)
				visit(r, false, n, err)
				continue
			}
			if isAncestor(c, ancestors) {
				visit(r, true, 0, &os.PathError{Op: "copy", Path: s, Err: ErrLoop})
				continue
			}
			if err := f.fs.Mkdir(d, c.Mode().Perm()|0o700); err != nil {
				visit(r, true, 0, hide(err))
				continue
			}
			visit(r, true, 0, nil)
			f.copyMembers(ctx, s, d, r, visit, depth+1, append(ancestors[:len(ancestors):len(ancestors)], unrenamed(c)))
		}
		return nil
	})
	if err != nil {
		visit(rel, true, 0, err)
	}
}

// copyFile copies one file's content and permissions; on failure the
// partial copy is removed.
func (f *FileSystem) copyFile(src, dst string, fi os.FileInfo) (int64, error) {
	in, err := f.fs.Open(src)
	if err != nil {
		return 0, hide(err)
	}
	defer in.Close()
	out, err := f.fs.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return 0, hide(err)
	}
	n, err := copyContent(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		f.fs.Remove(dst)
		return 0, fmt.Errorf("copy %s: %w", src, err)
	}
	return n, nil
}

// copyContent copies between backend files. Between two *os.File, io.Copy
// reaches os.File.ReadFrom, which uses copy_file_range (a reflink where the
// filesystem shares extents).
func copyContent(dst afero.File, src afero.File) (int64, error) {
	if d, ok := dst.(*os.File); ok {
		if s, ok := src.(*os.File); ok {
			return io.Copy(d, s)
		}
	}
	return io.Copy(dst, src)
}

// Quota reports the space available to and used on the storage, for RFC
// 4331's quota properties. ok is false when the backend has no such notion
// (memory storage).
func (f *FileSystem) Quota() (available, used int64, ok bool) {
	if f.quotaDir == "" {
		return 0, 0, false
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(f.quotaDir, &st); err != nil {
		return 0, 0, false
	}
	bsize := int64(st.Bsize)
	return int64(st.Bavail) * bsize, int64(st.Blocks-st.Bfree) * bsize, true
}

// Chtimes sets a resource's modification time (Windows clients set it
// through the Win32LastModifiedTime property).
func (f *FileSystem) Chtimes(ctx context.Context, name string, atime, mtime time.Time) error {
	name, err := clean("chtimes", name)
	if err != nil {
		return err
	}
	return hide(f.fs.Chtimes(name, atime, mtime))
}
