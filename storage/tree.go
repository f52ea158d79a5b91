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
// copy_file_range between two *os.File on directory storage. Each file is
// written under a reserved temporary name and renamed into place once
// complete, so a failed or cancelled copy, or a crash, never leaves a half
// written file under a visible name. When ctx is cancelled the copy stops
// between members (or between chunks of a large file); the members not
// copied are reported to visit with ctx's error.
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
		n, err := f.copyFile(ctx, src, dst, fi)
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
		f.copyMembers(ctx, src, dst, "", visit, 1)
	}
	return nil
}

func (f *FileSystem) copyMembers(ctx context.Context, src, dst, rel string, visit Visit, depth int) {
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
				n, err := f.copyFile(ctx, s, d, c)
				visit(r, false, n, err)
				continue
			}
			if err := f.fs.Mkdir(d, c.Mode().Perm()|0o700); err != nil {
				visit(r, true, 0, hide(err))
				continue
			}
			visit(r, true, 0, nil)
			f.copyMembers(ctx, s, d, r, visit, depth+1)
		}
		return nil
	})
	if err != nil {
		visit(rel, true, 0, err)
	}
}

// copyChunk is how much of a file is copied between two looks at the
// context: a cancelled COPY of one huge file stops within a chunk, and
// io.CopyN between two *os.File still reaches copy_file_range (os.File's
// ReadFrom accepts an *io.LimitedReader).
const copyChunk = 8 << 20

// copyFile copies one file's content and permissions to a reserved
// temporary name beside dst and renames it to dst once complete; on failure
// or cancellation the temporary file is removed, so dst is either absent
// or complete.
func (f *FileSystem) copyFile(ctx context.Context, src, dst string, fi os.FileInfo) (int64, error) {
	in, err := f.fs.Open(src)
	if err != nil {
		return 0, hide(err)
	}
	defer in.Close()
	tmp := path.Join(path.Dir(dst), TempName())
	out, err := f.fs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return 0, hide(err)
	}
	n, err := copyContent(ctx, out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = hide(f.fs.Rename(tmp, dst))
	}
	if err != nil {
		f.fs.Remove(tmp)
		return 0, fmt.Errorf("copy %s: %w", src, err)
	}
	return n, nil
}

// copyContent copies between backend files, a chunk at a time, until EOF
// or until ctx is cancelled. Between two *os.File, io.CopyN reaches
// os.File.ReadFrom, which uses copy_file_range (a reflink where the
// filesystem shares extents).
func copyContent(ctx context.Context, dst afero.File, src afero.File) (int64, error) {
	var w io.Writer = dst
	var r io.Reader = src
	if d, ok := dst.(*os.File); ok {
		if s, ok := src.(*os.File); ok {
			w, r = d, s // the concrete types, for ReadFrom's fast path
		}
	}
	copied := copiedFunc(ctx)
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := io.CopyN(w, r, copyChunk)
		total += n
		copied(n)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
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
