package storage

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	"github.com/spf13/afero"
)

// ErrOutsideRoot is returned when a name, or a symbolic link it passes
// through, would lead outside the served directory.
var ErrOutsideRoot = errors.New("path leads outside the storage root")

// RootFs is an afero.Fs confined to one directory by os.Root: no name and no
// symbolic link, absolute or relative, can reach outside it. Files it opens
// are plain *os.File, which keeps the kernel's zero-copy paths available.
type RootFs struct {
	root *os.Root
}

var (
	_ afero.Fs      = (*RootFs)(nil)
	_ afero.Lstater = (*RootFs)(nil)
)

// NewRootFs opens dir as the root of a RootFs.
func NewRootFs(dir string) (*RootFs, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open storage root: %w", err)
	}
	return &RootFs{root: root}, nil
}

// Close releases the directory handle.
func (r *RootFs) Close() error { return r.root.Close() }

// Dir is the directory the RootFs was opened on.
func (r *RootFs) Dir() string { return r.root.Name() }

// rel turns a slash-separated name, absolute or not, into the relative form
// os.Root wants. Cleaning cannot climb above the root ("/.." is "/"), and
// os.Root checks every component again, symbolic links included.
func rel(name string) string {
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	if name == "" {
		return "."
	}
	return name
}

// mapErr makes os.Root's escape refusal recognisable with errors.Is; os does
// not export its sentinel, so the text is the only handle on it.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if strings.Contains(err.Error(), "path escapes from parent") {
		return fmt.Errorf("%w: %w", ErrOutsideRoot, err)
	}
	return err
}

// Create creates or truncates the named file.
func (r *RootFs) Create(name string) (afero.File, error) {
	return r.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

// Mkdir creates a directory.
func (r *RootFs) Mkdir(name string, perm os.FileMode) error {
	return mapErr(r.root.Mkdir(rel(name), perm))
}

// MkdirAll creates a directory and any missing parents.
func (r *RootFs) MkdirAll(name string, perm os.FileMode) error {
	return mapErr(r.root.MkdirAll(rel(name), perm))
}

// Open opens the named file for reading.
func (r *RootFs) Open(name string) (afero.File, error) {
	return r.OpenFile(name, os.O_RDONLY, 0)
}

// OpenFile opens the named file with the given flags.
func (r *RootFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	f, err := r.root.OpenFile(rel(name), flag, perm)
	if err != nil {
		// A nil *os.File inside a non-nil interface would fool callers.
		return nil, mapErr(err)
	}
	return f, nil
}

// Remove removes a file or an empty directory.
func (r *RootFs) Remove(name string) error { return mapErr(r.root.Remove(rel(name))) }

// RemoveAll removes a tree; a missing name is not an error.
func (r *RootFs) RemoveAll(name string) error {
	if rel(name) == "." {
		return fmt.Errorf("remove storage root: %w", os.ErrPermission)
	}
	return mapErr(r.root.RemoveAll(rel(name)))
}

// Rename renames oldname to newname, replacing a file at newname.
func (r *RootFs) Rename(oldname, newname string) error {
	return mapErr(r.root.Rename(rel(oldname), rel(newname)))
}

// Stat describes the named file, following symbolic links inside the root.
func (r *RootFs) Stat(name string) (os.FileInfo, error) { return r.statErr(r.root.Stat(rel(name))) }

// LstatIfPossible describes the named file itself: a symbolic link as a
// link, not what it points at (afero.Lstater). The components before the
// last are resolved inside the root, as for Stat.
func (r *RootFs) LstatIfPossible(name string) (os.FileInfo, bool, error) {
	fi, err := r.statErr(r.root.Lstat(rel(name)))
	return fi, true, err
}

func (r *RootFs) statErr(fi os.FileInfo, err error) (os.FileInfo, error) {
	if err != nil {
		return nil, mapErr(err)
	}
	return fi, nil
}

// Name identifies the backend.
func (r *RootFs) Name() string { return "RootFs" }

// Chmod changes the mode of the named file.
func (r *RootFs) Chmod(name string, mode os.FileMode) error {
	return mapErr(r.root.Chmod(rel(name), mode))
}

// Chown changes the owner of the named file.
func (r *RootFs) Chown(name string, uid, gid int) error {
	return mapErr(r.root.Chown(rel(name), uid, gid))
}

// Chtimes changes the access and modification times of the named file.
func (r *RootFs) Chtimes(name string, atime, mtime time.Time) error {
	return mapErr(r.root.Chtimes(rel(name), atime, mtime))
}
