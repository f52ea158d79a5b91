package storage

import (
	"io"
	"os"
	"sync"

	"github.com/spf13/afero"
)

// MemFs is the in-memory tree of mem:// storage: an afero.MemMapFs whose
// directories are listed from a snapshot. afero's in-memory directory
// remembers how many entries it returned and slices its current entries
// from there on the next read; when members were removed in between the
// slice is out of range, and the panic leaves the directory's lock held,
// so that every later call touching it (Close first) blocks forever.
// Reading a directory here takes all its entries in one read from the
// start, which cannot be out of range, and serves later reads from them.
//
// Sub-trees (Backend.Sub) share the tree and the publishing lock.
type MemFs struct {
	afero.Fs // a MemMapFs, or a BasePathFs on one for a sub-tree

	// publish serialises RenameNoReplace: memory has no atomic
	// no-replace rename, and one process owns the tree.
	publish *sync.Mutex
}

var _ afero.Fs = (*MemFs)(nil)

// NewMemFs returns an empty in-memory tree.
func NewMemFs() *MemFs {
	return &MemFs{Fs: afero.NewMemMapFs(), publish: new(sync.Mutex)}
}

// sub returns the sub-tree dir (absolute, cleaned) of m, which must exist.
func (m *MemFs) sub(dir string) *MemFs {
	return &MemFs{Fs: afero.NewBasePathFs(m.Fs, dir), publish: m.publish}
}

// Open opens a file; a directory is listed from a snapshot.
func (m *MemFs) Open(name string) (afero.File, error) {
	return snapshotDirs(m.Fs.Open(name))
}

// OpenFile opens a file; a directory is listed from a snapshot.
func (m *MemFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	return snapshotDirs(m.Fs.OpenFile(name, flag, perm))
}

// Name identifies the backend.
func (m *MemFs) Name() string { return "MemFs" }

// RenameNoReplace renames oldname to newname unless newname exists.
func (m *MemFs) RenameNoReplace(oldname, newname string) error {
	m.publish.Lock()
	defer m.publish.Unlock()
	if _, err := m.Fs.Stat(newname); err == nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: os.ErrExist}
	}
	return m.Fs.Rename(oldname, newname)
}

func snapshotDirs(f afero.File, err error) (afero.File, error) {
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return &memDir{File: f}, nil
	}
	return f, nil
}

// memDir is an open in-memory directory, read from a snapshot of its
// entries taken at the first read.
type memDir struct {
	afero.File
	read    bool
	entries []os.FileInfo
}

// Readdir returns up to count entries (all the rest when count <= 0);
// io.EOF once they are exhausted, as os.File does.
func (d *memDir) Readdir(count int) ([]os.FileInfo, error) {
	if !d.read {
		all, err := d.File.Readdir(-1) // from the start: always in range
		if err != nil {
			return nil, err
		}
		d.read, d.entries = true, all
	}
	if count <= 0 {
		out := d.entries
		d.entries = nil
		return out, nil
	}
	if len(d.entries) == 0 {
		return nil, io.EOF
	}
	n := min(count, len(d.entries))
	out := d.entries[:n:n]
	d.entries = d.entries[n:]
	return out, nil
}

// Readdirnames returns up to n names, as Readdir.
func (d *memDir) Readdirnames(n int) ([]string, error) {
	infos, err := d.Readdir(n)
	names := make([]string, len(infos))
	for i, fi := range infos {
		names[i] = fi.Name()
	}
	return names, err
}
