package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"sync"
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

// lstat describes name itself, a symbolic link as a link, where fs can
// tell links apart (afero.Lstater), and reports whether it could.
func lstat(fs afero.Fs, name string) (os.FileInfo, bool, error) {
	if l, ok := fs.(afero.Lstater); ok {
		return l.LstatIfPossible(name)
	}
	fi, err := fs.Stat(name)
	return fi, false, err
}

// isLink reports whether fi describes a symbolic link.
func isLink(fi os.FileInfo) bool { return fi.Mode()&os.ModeSymlink != 0 }

// RemoveTree removes name and everything below it, members before their
// collection. A symbolic link, at the top as below it, is removed as a
// link: what it points at is never touched, whatever it is. A member that cannot be removed is reported to visit and
// keeps its ancestors in place; the rest is removed. Subtrees are removed
// by up to GOMAXPROCS goroutines, but visit is called by one at a time.
// The returned error is non-nil only when the operation as a whole could
// not run.
func (f *FileSystem) RemoveTree(ctx context.Context, name string, visit Visit) error {
	name, err := clean("remove", name)
	if err != nil {
		return err
	}
	if name == "/" {
		return &os.PathError{Op: "remove", Path: name, Err: os.ErrPermission}
	}
	if t, ok := f.fs.(treeFs); ok {
		return t.RemoveTree(ctx, name, visit)
	}
	fi, _, err := lstat(f.fs, name)
	if err != nil {
		return hide(err)
	}
	if isLink(fi) {
		// Reported as what it shows clients, as its state is keyed by
		// the paths seen through it.
		isDir := false
		if target, err := f.fs.Stat(name); err == nil {
			isDir = target.IsDir()
		}
		if err := f.fs.Remove(name); err != nil {
			visit("", isDir, 0, hide(err))
			return nil
		}
		visit("", isDir, 0, nil)
		return nil
	}
	w := f.newTreeWork(ctx, visit)
	if fi.IsDir() {
		dir, err := f.openCollection(name)
		if err != nil {
			w.report("", true, 0, err)
			return nil
		}
		ok := w.removeMembers(dir, "", 1)
		dir.close()
		if !ok {
			return nil // RFC 4918 §9.6.1: ancestors of a failure stay, unreported
		}
	}
	if err := f.fs.Remove(name); err != nil {
		w.report("", fi.IsDir(), 0, hide(err))
		return nil
	}
	w.report("", fi.IsDir(), sizeOf(fi), nil)
	return nil
}

// treeWork is the state one RemoveTree or CopyTree shares among its
// goroutines.
type treeWork struct {
	f     *FileSystem
	ctx   context.Context
	spare chan struct{} // a token per goroutine that may join in

	// resume makes copyMembers merge into a destination that may hold
	// part of the copy (ResumeCopy): resumeFile and resumeDir instead of
	// copyFile and a new collection.
	resume bool

	mu    sync.Mutex
	visit Visit
	seen  map[dirID]bool
}

// maxTreeWorkers bounds the goroutines of one tree operation: removal and
// copying wait on the disk, so a few more than the cores keep it busy.
const maxTreeWorkers = 4

func (f *FileSystem) newTreeWork(ctx context.Context, visit Visit) *treeWork {
	n := min(runtime.GOMAXPROCS(0), maxTreeWorkers)
	return &treeWork{f: f, ctx: ctx, visit: visit, spare: make(chan struct{}, n-1), seen: map[dirID]bool{}}
}

// report calls visit, one goroutine at a time.
func (w *treeWork) report(rel string, isDir bool, size int64, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.visit(rel, isDir, size, err)
}

// fork runs fn in a new goroutine of g when a token is spare, else at
// once in this one: every core stays busy whatever the tree's shape, and
// the number of goroutines stays bounded.
func (w *treeWork) fork(g *sync.WaitGroup, fn func()) {
	select {
	case w.spare <- struct{}{}:
		g.Go(func() {
			defer func() { <-w.spare }()
			fn()
		})
	default:
		fn()
	}
}

// removeMembers removes the members of dir, whose path relative to the
// operation is rel, a batch at a time, and reports whether dir is empty
// now. The collection is listed afresh for each batch: some backends
// (afero.MemMapFs) read directories by position and cannot be read on
// while their entries are removed. Members that failed are remembered and
// skipped, so the loop ends.
func (w *treeWork) removeMembers(dir collection, rel string, depth int) bool {
	if depth >= maxTreeDepth {
		w.report(rel, true, 0, ErrTooDeep)
		return false
	}
	var mu sync.Mutex
	failed := map[string]bool{}
	fail := func(name string) {
		mu.Lock()
		failed[name] = true
		mu.Unlock()
	}
	for {
		batch, err := nextBatch(dir, failed)
		if err != nil {
			w.report(rel, true, 0, hide(err))
			return false
		}
		if len(batch) == 0 {
			return emptied(dir)
		}
		var g sync.WaitGroup
		for _, c := range batch {
			name, r := c.Name(), path.Join(rel, c.Name())
			switch {
			case IsReserved(name):
				// An upload in progress or server state: removing the
				// collection takes it along.
				if dir.removeAll(name) != nil {
					fail(name)
				}
			case w.ctx.Err() != nil:
				w.report(r, c.IsDir(), 0, w.ctx.Err())
				fail(name)
			case c.IsDir(): // a real directory: the entry is not followed
				w.fork(&g, func() {
					if !w.removeCollection(dir, name, r, depth) {
						fail(name)
					}
				})
			default:
				if err := dir.remove(name); err != nil {
					w.report(r, false, 0, hide(err))
					fail(name)
				} else {
					w.report(r, false, c.Size(), nil)
				}
			}
		}
		g.Wait()
	}
}

// removeCollection removes member name of parent with its members.
func (w *treeWork) removeCollection(parent collection, name, rel string, depth int) bool {
	dir, err := parent.sub(name)
	if err != nil {
		w.report(rel, true, 0, hide(err))
		return false
	}
	ok := w.removeMembers(dir, rel, depth+1)
	dir.close()
	if !ok {
		return false
	}
	if err := parent.remove(name); err != nil {
		w.report(rel, true, 0, hide(err))
		return false
	}
	w.report(rel, true, 0, nil)
	return true
}

// nextBatch lists up to listBatch members of dir, leaving out failed ones.
func nextBatch(dir collection, failed map[string]bool) ([]os.FileInfo, error) {
	d, err := dir.list()
	if err != nil {
		return nil, err
	}
	defer d.Close()
	var batch []os.FileInfo
	for len(batch) == 0 {
		infos, err := d.Readdir(listBatch)
		for _, c := range infos {
			if !failed[c.Name()] {
				batch = append(batch, c)
			}
		}
		if err == io.EOF || (err == nil && len(infos) == 0) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return batch, nil
}

// emptied reports whether dir has no members left.
func emptied(dir collection) bool {
	d, err := dir.list()
	if err != nil {
		return false
	}
	defer d.Close()
	names, _ := d.Readdirnames(1)
	return len(names) == 0
}

func sizeOf(fi os.FileInfo) int64 {
	if fi.IsDir() {
		return 0
	}
	return fi.Size()
}

// ErrLoop is reported for a symbolic link that leads back to a collection
// the operation has already entered: following it would never end.
var ErrLoop = errors.New("symbolic link loop")

// dirID identifies a directory on disk, to recognise it when a symbolic
// link leads to it again.
type dirID struct{ dev, ino uint64 }

// firstVisit reports whether the collection fi describes has not been
// entered yet, and marks it entered. Backends without inode numbers
// (memory) have no links, hence no loops.
func (w *treeWork) firstVisit(fi os.FileInfo) bool {
	dev, ino, ok := FileID(fi)
	if !ok {
		return true
	}
	id := dirID{dev, ino}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen[id] {
		return false
	}
	w.seen[id] = true
	return true
}

// CopyTree copies src to dst, which must not exist yet; with deep false a
// collection is copied without its members. Each resource is reported to
// visit (by one goroutine at a time, though subtrees are copied by up to
// GOMAXPROCS); a member that fails is reported and skipped, the rest
// copied. A symbolic link is copied as what it points to, once: a link
// back into the tree being copied is reported as ErrLoop. File content
// goes through io.Copy between the backend's files, which is
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
	// Lstat: a dangling symbolic link is there too, and is never
	// written through.
	if _, _, err := lstat(f.fs, dst); err == nil {
		return &os.PathError{Op: "copy", Path: dst, Err: os.ErrExist}
	}
	if t, ok := f.fs.(treeFs); ok {
		copied := copiedFunc(ctx)
		return t.CopyTree(ctx, src, dst, deep, func(rel string, isDir bool, size int64, err error) {
			if err == nil && !isDir {
				copied(size)
			}
			visit(rel, isDir, size, err)
		})
	}
	if !fi.IsDir() {
		// A lone file: its failure is the operation's failure.
		n, err := copyFile(ctx, pathCollection{f.fs, path.Dir(src)}, pathCollection{f.fs, path.Dir(dst)},
			path.Base(src), path.Base(dst), fi)
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
	if !deep {
		return nil
	}
	w := f.newTreeWork(ctx, visit)
	w.firstVisit(fi)
	// The destination too: through a link to one of its ancestors the
	// source can reach it, and copying it would copy what the copy is
	// writing, a new level each time, until paths grow too long.
	if dfi, err := f.fs.Stat(dst); err == nil {
		w.firstVisit(dfi)
	}
	from, err := f.openCollection(src)
	if err != nil {
		w.report("", true, 0, err)
		return nil
	}
	defer from.close()
	to, err := f.openCollection(dst)
	if err != nil {
		w.report("", true, 0, err)
		return nil
	}
	defer to.close()
	w.copyMembers(from, src, to, "", 1)
	return nil
}

// copyMembers copies the members of src, the collection at srcPath, into
// dst. A symbolic link is resolved from the top of the storage, like any
// path a client names: the collection handles confine links to
// themselves, which would hide a link to a sibling.
func (w *treeWork) copyMembers(src collection, srcPath string, dst collection, rel string, depth int) {
	if depth >= maxTreeDepth {
		w.report(rel, true, 0, ErrTooDeep)
		return
	}
	d, err := src.list()
	if err != nil {
		w.report(rel, true, 0, hide(err))
		return
	}
	defer d.Close()
	var g sync.WaitGroup
	defer g.Wait() // before src and dst are closed by the caller
	for {
		infos, rerr := d.Readdir(listBatch)
		for _, c := range infos {
			name := c.Name()
			if IsReserved(name) {
				continue
			}
			r, full := path.Join(rel, name), path.Join(srcPath, name)
			from, linked := src, isLink(c)
			if linked {
				target, err := w.f.fs.Stat(full)
				if err != nil {
					continue // unreachable, as in listings: not a member
				}
				c, from = renamed{target, name}, pathCollection{w.f.fs, srcPath}
			}
			switch {
			case w.ctx.Err() != nil:
				w.report(r, c.IsDir(), 0, w.ctx.Err())
			case !c.IsDir():
				copyOne := copyFile
				if w.resume {
					copyOne = resumeFile
				}
				n, err := copyOne(w.ctx, from, dst, name, name, c)
				w.report(r, false, n, err)
			case !w.firstVisit(c):
				w.report(r, true, 0, ErrLoop)
			default:
				to, err := w.memberDir(dst, name, c)
				if err != nil {
					w.report(r, true, 0, hide(err))
					continue
				}
				w.report(r, true, 0, nil)
				w.fork(&g, func() {
					defer to.close()
					w.copyCollection(src, full, linked, to, name, r, depth)
				})
			}
		}
		if rerr == io.EOF || (rerr == nil && len(infos) == 0) {
			return
		}
		if rerr != nil {
			w.report(rel, true, 0, rerr)
			return
		}
	}
}

// memberDir makes the collection name of dst that a collection of the
// source described by fi is copied into, and opens it: a new one, or,
// when resuming, the one there already (resumeDir).
func (w *treeWork) memberDir(dst collection, name string, fi os.FileInfo) (collection, error) {
	if w.resume {
		return resumeDir(dst, name, fi)
	}
	if err := dst.mkdir(name, fi.Mode().Perm()|0o700); err != nil {
		return nil, err
	}
	return dst.sub(name)
}

// copyCollection copies the members of collection name of src, at
// srcPath, into to. linked is true when name is a symbolic link, which
// is then opened from the top.
func (w *treeWork) copyCollection(src collection, srcPath string, linked bool, to collection, name, rel string, depth int) {
	var from collection
	var err error
	if linked {
		from, err = w.f.openCollection(srcPath)
	} else {
		from, err = src.sub(name)
	}
	if err != nil {
		w.report(rel, true, 0, hide(err))
		return
	}
	defer from.close()
	w.copyMembers(from, srcPath, to, rel, depth+1)
}

// copyChunk is how much of a file is copied between two looks at the
// context: a cancelled COPY of one huge file stops within a chunk, and
// io.CopyN between two *os.File still reaches copy_file_range (os.File's
// ReadFrom accepts an *io.LimitedReader).
const copyChunk = 8 << 20

// copyFile copies file name of src to a new file dstName of dst, with its
// permissions. The content goes to a reserved temporary name beside
// dstName, renamed to dstName once complete; on failure or cancellation
// the temporary file is removed, so dstName is either absent or complete.
// Just before the rename, dstName is created exclusively, as before
// temporary names were used: the copy still fails on anything already
// there, a symbolic link included, instead of replacing it.
func copyFile(ctx context.Context, src, dst collection, name, dstName string, fi os.FileInfo) (int64, error) {
	in, err := src.open(name)
	if err != nil {
		return 0, hide(err)
	}
	defer in.Close()
	out, err := createHidden(dst, dstName, fi.Mode().Perm())
	if err != nil {
		return 0, hide(err)
	}
	n, err := copyContent(ctx, out.File, in)
	if err == nil {
		err = out.publish()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
		if err != nil {
			dst.remove(dstName) // published, but its content may be short
		}
	}
	if err != nil {
		out.abandon()
		return 0, fmt.Errorf("copy %s: %w", name, err)
	}
	return n, nil
}

// copyContent copies between backend files, a chunk at a time, until EOF
// or until ctx is cancelled, telling the function of WithCopied about each
// chunk. Between two *os.File, io.CopyN reaches os.File.ReadFrom, which
// uses copy_file_range (a reflink where the filesystem shares extents).
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
	available, used, err := diskSpace(f.quotaDir)
	if err != nil {
		return 0, 0, false
	}
	return available, used, true
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
