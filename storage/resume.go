package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"
)

// A COPY, MOVE or DELETE interrupted by a crash is finished at the next
// start from the journal. The destination then already holds part of the
// result, which CopyTree refuses: ResumeCopy and ResumeMove accept it,
// keep what is already complete and replace the rest. They serve too for
// a MOVE across devices (a mount point inside the served directory),
// where rename fails with EXDEV and the move becomes a copy and a delete.

// IsCrossDevice reports whether err is a rename refused because source
// and destination are on different filesystems (EXDEV). The errors of
// FileSystem.Rename and FileSystem.Exchange keep it.
func IsCrossDevice(err error) bool { return errors.Is(err, syscall.EXDEV) }

// ResumeCopy copies src to dst as CopyTree with deep true does, but dst
// may already exist and hold part of the copy (a copy interrupted by a
// crash). At each name of dst:
//   - nothing: the member is copied as CopyTree copies it (a reserved
//     temporary name, published once complete);
//   - a collection where src has one: it is entered, and its members
//     merged; members of dst that src lacks stay;
//   - a regular file where src has a file of the same size: it is kept,
//     not copied again, and reported to visit as a copied file is (with
//     its size);
//   - anything else (a file of another size, a symbolic link, a file
//     where src has a collection or the reverse): it is replaced. A file
//     is copied to a reserved temporary name and renamed over it, which
//     replaces a link as a link; a collection or a link where src has a
//     collection is removed first. A symbolic link in dst is never
//     followed, so nothing is written outside dst.
//
// Symbolic links in src are followed as CopyTree follows them. A lone
// file follows the same rules. The function of WithCopied hears only of
// bytes actually copied. Failures are reported to visit as by CopyTree;
// the returned error is non-nil only when the operation could not run
// (or, for a lone file, when it failed).
func (f *FileSystem) ResumeCopy(ctx context.Context, src, dst string, visit Visit) error {
	src, err := clean("copy", src)
	if err != nil {
		return err
	}
	if dst, err = clean("copy", dst); err != nil {
		return err
	}
	if src == dst || dst == "/" {
		return &os.PathError{Op: "copy", Path: dst, Err: os.ErrInvalid}
	}
	fi, err := f.fs.Stat(src)
	if err != nil {
		return hide(err)
	}
	if err := f.checkParent("copy", dst); err != nil {
		return err
	}
	if t, ok := f.fs.(treeFs); ok {
		return t.ResumeCopyTree(ctx, src, dst, visit, copiedFunc(ctx))
	}
	parent, err := f.openCollection(path.Dir(dst))
	if err != nil {
		return err
	}
	defer parent.close()
	name := path.Base(dst)
	if !fi.IsDir() {
		// A lone file: its failure is the operation's failure.
		n, err := resumeFile(ctx, pathCollection{f.fs, path.Dir(src)}, parent, path.Base(src), name, fi)
		if err != nil {
			return err
		}
		visit("", false, n, nil)
		return nil
	}
	w := f.newTreeWork(ctx, visit)
	w.resume = true
	w.firstVisit(fi)
	to, err := resumeDir(parent, name, fi)
	if err != nil {
		return hide(err)
	}
	defer to.close()
	visit("", true, 0, nil)
	// The destination too, as in CopyTree: the source may reach it.
	if dfi, err := f.fs.Stat(dst); err == nil {
		w.firstVisit(dfi)
	}
	from, err := f.openCollection(src)
	if err != nil {
		w.report("", true, 0, err)
		return nil
	}
	defer from.close()
	w.copyMembers(from, src, to, "", 1)
	return nil
}

// ResumeMove moves src to dst by copying and deleting, dst possibly
// holding part of the result (an earlier attempt interrupted by a crash,
// or a move across devices). On storage that MovesByCopy it is the
// backend's move with ResumeCopy's rule: an object already at dst with
// the size of its source is not copied again, and its source is deleted.
// Elsewhere it is ResumeCopy, then RemoveTree of src once every member is
// copied; members are reported to visit as the copy goes. When a member
// fails, it is reported and src stays whole: nothing is lost, and the
// copies made are kept by the next attempt. A source member that cannot
// be removed once copied is reported again, with the error. dst must not
// be src or lie below it.
func (f *FileSystem) ResumeMove(ctx context.Context, src, dst string, visit Visit) error {
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
	if dst == src || strings.HasPrefix(dst, src+"/") {
		return &os.PathError{Op: "rename", Path: dst, Err: os.ErrInvalid}
	}
	if t, ok := f.fs.(treeFs); ok {
		if err := f.checkParent("rename", dst); err != nil {
			return err
		}
		return t.ResumeMoveTree(ctx, src, dst, visit)
	}
	// Through its symbolic links src is copied as what they point at, but
	// removed as links: what they point at is never touched.
	var mu sync.Mutex
	failed := false
	err = f.ResumeCopy(ctx, src, dst, func(rel string, isDir bool, size int64, err error) {
		if err != nil {
			mu.Lock()
			failed = true
			mu.Unlock()
		}
		visit(rel, isDir, size, err)
	})
	if err != nil {
		return err
	}
	if failed {
		return nil
	}
	return f.RemoveTree(ctx, src, func(rel string, isDir bool, size int64, err error) {
		if err != nil {
			visit(rel, isDir, size, err)
		}
	})
}

// resumeDir makes sure member name of parent is a real collection (not a
// link to one), removing what else is there, and opens it. A collection
// made here gets fi's permissions.
func resumeDir(parent collection, name string, fi os.FileInfo) (collection, error) {
	dfi, err := parent.lstat(name)
	switch {
	case err == nil && dfi.IsDir() && !isLink(dfi):
	case err == nil:
		if err := parent.removeAll(name); err != nil { // a link goes as a link
			return nil, err
		}
		fallthrough
	case errors.Is(err, os.ErrNotExist):
		if err := parent.mkdir(name, fi.Mode().Perm()|0o700); err != nil {
			return nil, err
		}
		if dfi, err = parent.lstat(name); err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	to, err := parent.sub(name)
	if err != nil {
		return nil, err
	}
	// sub follows a link: had the collection been swapped for one since
	// it was looked at, what was opened is another directory.
	if ofi, err := to.stat("."); err != nil || !sameDir(dfi, ofi) {
		to.close()
		return nil, &os.PathError{Op: "copy", Path: name, Err: os.ErrExist}
	}
	return to, nil
}

// sameDir reports whether a and b describe one directory, where the
// backend can tell (inode numbers); elsewhere there are no links.
func sameDir(a, b os.FileInfo) bool {
	if _, _, ok := FileID(a); !ok {
		return true
	}
	return os.SameFile(a, b)
}

// resumeFile copies file name of src to dstName of dst unless a regular
// file of the same size is there already, which is kept. The file's size
// is returned either way; only a copy tells WithCopied's function. Anything else at dstName is replaced: a
// collection is removed first; a file or a link is replaced by renaming
// the complete copy over it.
func resumeFile(ctx context.Context, src, dst collection, name, dstName string, fi os.FileInfo) (int64, error) {
	dfi, err := dst.lstat(dstName)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return copyFile(ctx, src, dst, name, dstName, fi)
	case err != nil:
		return 0, hide(err)
	case dfi.Mode().IsRegular() && dfi.Size() == fi.Size():
		return fi.Size(), nil
	case dfi.IsDir() && !isLink(dfi):
		if err := dst.removeAll(dstName); err != nil {
			return 0, hide(err)
		}
		return copyFile(ctx, src, dst, name, dstName, fi)
	}
	return replaceFile(ctx, src, dst, name, dstName, fi)
}

// replaceFile copies file name of src to a reserved temporary name of dst
// and renames it over dstName, which replaces a file or a symbolic link
// (as a link) in one step. On failure the temporary file is removed and
// dstName is as it was.
func replaceFile(ctx context.Context, src, dst collection, name, dstName string, fi os.FileInfo) (int64, error) {
	in, err := src.open(name)
	if err != nil {
		return 0, hide(err)
	}
	defer in.Close()
	tmp := TempName()
	out, err := dst.create(tmp, fi.Mode().Perm())
	if err != nil {
		return 0, hide(err)
	}
	n, err := copyContent(ctx, out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = hide(dst.rename(tmp, dstName))
	}
	if err != nil {
		dst.remove(tmp)
		return 0, fmt.Errorf("copy %s: %w", name, err)
	}
	return n, nil
}
