package storage

import (
	"os"
	"time"

	"github.com/spf13/afero"
)

// LatencyFs delays every call on an afero.Fs by a fixed time. It imitates a
// slow backend (network storage, a busy disk) so that demos and tests can
// make long operations, and the 102 Processing responses they cause,
// reproducible on a fast machine. Reads and writes of file content are not
// delayed, only the calls that name a file.
type LatencyFs struct {
	afero.Fs
	Delay time.Duration
}

var _ afero.Fs = LatencyFs{}

func (l LatencyFs) wait() { time.Sleep(l.Delay) }

// Create delays, then creates.
func (l LatencyFs) Create(name string) (afero.File, error) { l.wait(); return l.Fs.Create(name) }

// Mkdir delays, then creates a directory.
func (l LatencyFs) Mkdir(name string, perm os.FileMode) error {
	l.wait()
	return l.Fs.Mkdir(name, perm)
}

// MkdirAll delays, then creates a directory path.
func (l LatencyFs) MkdirAll(name string, perm os.FileMode) error {
	l.wait()
	return l.Fs.MkdirAll(name, perm)
}

// Open delays, then opens.
func (l LatencyFs) Open(name string) (afero.File, error) { l.wait(); return l.Fs.Open(name) }

// OpenFile delays, then opens.
func (l LatencyFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	l.wait()
	return l.Fs.OpenFile(name, flag, perm)
}

// Remove delays, then removes.
func (l LatencyFs) Remove(name string) error { l.wait(); return l.Fs.Remove(name) }

// RemoveAll delays, then removes a tree.
func (l LatencyFs) RemoveAll(name string) error { l.wait(); return l.Fs.RemoveAll(name) }

// Rename delays, then renames.
func (l LatencyFs) Rename(oldname, newname string) error {
	l.wait()
	return l.Fs.Rename(oldname, newname)
}

// RenameNoReplace delays, then renames unless newname exists, in one step
// where the wrapped backend can.
func (l LatencyFs) RenameNoReplace(oldname, newname string) error {
	l.wait()
	return renameNoReplace(l.Fs, oldname, newname)
}

// Stat delays, then describes.
func (l LatencyFs) Stat(name string) (os.FileInfo, error) { l.wait(); return l.Fs.Stat(name) }

// LstatIfPossible delays, then describes a symbolic link as itself when
// the wrapped backend can (afero.Lstater).
func (l LatencyFs) LstatIfPossible(name string) (os.FileInfo, bool, error) {
	l.wait()
	return lstat(l.Fs, name)
}

// Chmod delays, then changes the mode.
func (l LatencyFs) Chmod(name string, mode os.FileMode) error {
	l.wait()
	return l.Fs.Chmod(name, mode)
}

// Chtimes delays, then changes the times.
func (l LatencyFs) Chtimes(name string, atime, mtime time.Time) error {
	l.wait()
	return l.Fs.Chtimes(name, atime, mtime)
}

// Name identifies the backend.
func (l LatencyFs) Name() string { return "LatencyFs(" + l.Fs.Name() + ")" }

// Chown delays, then changes the owner.
func (l LatencyFs) Chown(name string, uid, gid int) error {
	l.wait()
	return l.Fs.Chown(name, uid, gid)
}
