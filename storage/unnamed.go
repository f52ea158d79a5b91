package storage

import (
	"errors"
	"os"
	"path"

	"github.com/spf13/afero"
)

// An upload (WriteAtomic) must leave nothing behind when the server dies
// half way: on directory storage on Linux its content goes to an
// O_TMPFILE file, which has no name until it is complete, and which the
// kernel frees with the process. Elsewhere (memory, the latency wrapper,
// filesystems without O_TMPFILE) it goes to a reserved temporary name,
// which SweepReserved removes after a crash.

// upload is a file being written for WriteAtomic.
type upload struct {
	afero.File
	// commit names the complete file, replacing what is there. The file
	// must still be open.
	commit func() error
	// abandon discards an uncommitted upload, after Close.
	abandon func()
}

// createUpload opens a new file that commit will make name (a cleaned
// path whose parent is a collection). exists tells whether name is there
// now: a new name is then linked in one step, without a rename.
func (f *FileSystem) createUpload(name string, perm os.FileMode, exists bool) (upload, error) {
	dir, base := path.Dir(name), path.Base(name)
	if s, ok := f.fs.(stagingFs); ok {
		file, err := s.CreateStaged(name, perm)
		if err != nil {
			return upload{}, err
		}
		c, ok := file.(committer)
		if !ok {
			file.Close()
			return upload{}, &os.PathError{Op: "create", Path: name, Err: os.ErrInvalid}
		}
		// Closing the file uncommitted discards the upload.
		return upload{File: file, commit: c.Commit, abandon: func() {}}, nil
	}
	if _, ok := f.fs.(*RootFs); ok && procFdWorks() {
		up, err := f.createUnnamedUpload(dir, base, perm, exists)
		if !errors.Is(err, errNoTmpfile) {
			return up, err
		}
	}
	tmp := path.Join(dir, TempName())
	file, err := f.fs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return upload{}, err
	}
	return upload{
		File:    file,
		commit:  func() error { return f.fs.Rename(tmp, name) },
		abandon: func() { f.fs.Remove(tmp) },
	}, nil
}
