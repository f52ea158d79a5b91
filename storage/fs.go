package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/spf13/afero"
	"golang.org/x/net/webdav"
)

// ReservedName is the directory, at the top of a storage, that holds the
// server's own state. Clients never see or reach it.
const ReservedName = ".davd"

// tempPrefix starts the names of uploads in progress. They sit beside their
// target so that the final rename stays on one filesystem.
const tempPrefix = ".davd-tmp-"

// IsReserved reports whether name, a slash-separated path, passes through a
// name the server keeps for itself: the state directory or an upload in
// progress.
func IsReserved(name string) bool {
	for name != "" {
		var seg string
		seg, name, _ = strings.Cut(strings.TrimLeft(name, "/"), "/")
		if seg == ReservedName || strings.HasPrefix(seg, tempPrefix) {
			return true
		}
	}
	return false
}

// FileSystem presents an afero.Fs as a webdav.FileSystem. Reserved names
// do not exist as far as clients can tell: they are missing from directory
// listings and every call naming them fails with os.ErrNotExist.
type FileSystem struct {
	fs       afero.Fs
	quotaDir string // directory whose filesystem answers quota questions
}

var _ webdav.FileSystem = (*FileSystem)(nil)

// NewFileSystem adapts fs. Backend.FileSystem is the usual way to get one;
// this is for backends made by hand (tests).
func NewFileSystem(fs afero.Fs) *FileSystem { return &FileSystem{fs: fs} }

// Fs is the backend being adapted.
func (f *FileSystem) Fs() afero.Fs { return f.fs }

// clean normalises a WebDAV path and refuses reserved names.
func clean(op, name string) (string, error) {
	name = path.Clean("/" + name)
	if IsReserved(name) {
		return "", &os.PathError{Op: op, Path: name, Err: os.ErrNotExist}
	}
	return name, nil
}

// Mkdir creates a collection.
func (f *FileSystem) Mkdir(ctx context.Context, name string, perm os.FileMode) error {
	name, err := clean("mkdir", name)
	if err != nil {
		return err
	}
	if err := f.checkParent("mkdir", name); err != nil {
		return err
	}
	return hide(f.fs.Mkdir(name, perm))
}

// Parent describes the collection that name is, or would be created, in.
// It fails with ErrNoParent when that is missing or not a collection
// (WebDAV's 409 Conflict; some backends, afero.MemMapFs, would create
// missing parents silently), and with the storage's own error when it
// cannot be looked at: a storage server that is down is a 503 to retry,
// never a 409 that says the parent is gone.
func (f *FileSystem) Parent(ctx context.Context, name string) (os.FileInfo, error) {
	name, err := clean("stat", name)
	if err != nil {
		return nil, err
	}
	return f.parent("stat", name)
}

// parent is Parent of a clean name, failing as op.
func (f *FileSystem) parent(op, name string) (os.FileInfo, error) {
	fi, err := f.fs.Stat(path.Dir(name))
	switch {
	case err == nil && fi.IsDir():
		return fi, nil
	case err == nil, errors.Is(err, os.ErrNotExist), errors.Is(err, syscall.ENOTDIR), errors.Is(err, ErrOutsideRoot):
		return nil, &os.PathError{Op: op, Path: name, Err: ErrNoParent}
	}
	return nil, err
}

// checkParent fails, as Parent does, unless name's parent is an existing
// collection.
func (f *FileSystem) checkParent(op, name string) error {
	_, err := f.parent(op, name)
	return err
}

// hide makes a resource reached through a symbolic link that leaves the
// root look missing, to x/net/webdav's os.IsNotExist checks too: clients
// get 404 rather than 500, and learn nothing about what lies outside.
func hide(err error) error {
	var pe *os.PathError
	if errors.Is(err, ErrOutsideRoot) {
		op, p := "access", ""
		if errors.As(err, &pe) {
			op, p = pe.Op, pe.Path
		}
		return &os.PathError{Op: op, Path: p, Err: os.ErrNotExist}
	}
	return err
}

// OpenFile opens a resource. Regular files come back exactly as the backend
// made them (an *os.File for directory storage), so sendfile and
// copy_file_range keep working; directories come back wrapped so that their
// listings leave out reserved names.
func (f *FileSystem) OpenFile(ctx context.Context, name string, flag int, perm os.FileMode) (webdav.File, error) {
	file, _, err := f.OpenStat(ctx, name, flag, perm)
	return file, err
}

// OpenStat is OpenFile that also returns the description it takes anyway
// to tell a collection from a file, so that GET need not fstat twice.
func (f *FileSystem) OpenStat(ctx context.Context, name string, flag int, perm os.FileMode) (webdav.File, os.FileInfo, error) {
	name, err := clean("open", name)
	if err != nil {
		return nil, nil, err
	}
	if flag&os.O_CREATE != 0 && name != "/" {
		if err := f.checkParent("open", name); err != nil {
			return nil, nil, err
		}
	}
	file, err := f.fs.OpenFile(name, flag, perm)
	if err != nil {
		return nil, nil, hide(err)
	}
	fi, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, nil, err
	}
	if fi.IsDir() {
		return listing{file}, fi, nil
	}
	return file, fi, nil
}

// RemoveAll removes a resource and everything below it.
func (f *FileSystem) RemoveAll(ctx context.Context, name string) error {
	name, err := clean("removeall", name)
	if err != nil {
		return err
	}
	if name == "/" {
		return &os.PathError{Op: "removeall", Path: name, Err: os.ErrPermission}
	}
	return hide(f.fs.RemoveAll(name))
}

// Rename moves a resource.
func (f *FileSystem) Rename(ctx context.Context, oldName, newName string) error {
	oldName, err := clean("rename", oldName)
	if err != nil {
		return err
	}
	newName, err = clean("rename", newName)
	if err != nil {
		return err
	}
	if oldName == "/" || newName == "/" {
		return &os.PathError{Op: "rename", Path: oldName, Err: os.ErrPermission}
	}
	if err := f.checkParent("rename", newName); err != nil {
		return err
	}
	return hide(f.fs.Rename(oldName, newName))
}

// Stat describes a resource.
func (f *FileSystem) Stat(ctx context.Context, name string) (os.FileInfo, error) {
	name, err := clean("stat", name)
	if err != nil {
		return nil, err
	}
	fi, err := f.fs.Stat(name)
	if err != nil {
		return nil, hide(err)
	}
	return fi, nil
}

// listing is an open directory whose entries leave out reserved names.
type listing struct{ afero.File }

// Readdir returns up to count entries (all when count <= 0), never a
// reserved one. Filtering may return fewer than count before the end, which
// http.File callers accept.
func (l listing) Readdir(count int) ([]os.FileInfo, error) {
	for {
		infos, err := l.File.Readdir(count)
		kept := infos[:0]
		for _, fi := range infos {
			if !IsReserved(fi.Name()) {
				kept = append(kept, fi)
			}
		}
		// Never answer an empty batch with no error when entries were
		// dropped: a caller would take it for the end of the directory.
		if len(kept) > 0 || err != nil || count <= 0 || len(infos) == 0 {
			return kept, err
		}
	}
}

// Readdirnames returns up to n names, never a reserved one.
func (l listing) Readdirnames(n int) ([]string, error) {
	for {
		names, err := l.File.Readdirnames(n)
		kept := names[:0]
		for _, name := range names {
			if !IsReserved(name) {
				kept = append(kept, name)
			}
		}
		if len(kept) > 0 || err != nil || n <= 0 || len(names) == 0 {
			return kept, err
		}
	}
}

// Write refuses: a directory has no content.
func (l listing) Write([]byte) (int, error) {
	return 0, fmt.Errorf("write %s: %w", l.Name(), os.ErrInvalid)
}

// TempName returns a fresh reserved name for a resource in transit (an
// upload, or a MOVE's displaced destination): invisible to clients, and in
// the same collection as its final place so that renames stay cheap.
func TempName() string { return tempPrefix + randomSuffix() }

// RenameReserved renames between a visible name and a reserved one (made
// by TempName), in either direction. Both must be in the same collection.
func (f *FileSystem) RenameReserved(ctx context.Context, oldName, newName string) error {
	oldName, newName = path.Clean("/"+oldName), path.Clean("/"+newName)
	if path.Dir(oldName) != path.Dir(newName) || (!IsReserved(oldName) && !IsReserved(newName)) || IsReserved(path.Dir(oldName)) {
		return &os.PathError{Op: "rename", Path: oldName, Err: os.ErrInvalid}
	}
	return hide(f.fs.Rename(oldName, newName))
}

// RemoveReserved removes a reserved resource made by TempName, with
// everything below it.
func (f *FileSystem) RemoveReserved(ctx context.Context, name string) error {
	name = path.Clean("/" + name)
	if !strings.HasPrefix(path.Base(name), tempPrefix) || IsReserved(path.Dir(name)) {
		return &os.PathError{Op: "remove", Path: name, Err: os.ErrInvalid}
	}
	return f.fs.RemoveAll(name)
}
