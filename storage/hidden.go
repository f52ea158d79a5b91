package storage

import (
	"errors"
	"os"

	"github.com/spf13/afero"
)

// A copied file must appear whole or not at all, and never over something
// that is already there. The portable way writes under a reserved
// temporary name, creates the target exclusively and renames over it:
// three directory updates for one file, which made a COPY of many small
// files markedly slower than cp -r (which writes one). On Linux an
// O_TMPFILE file has no name until linkat gives it one, atomically and
// only if the name is free: one directory update, as cp -r.

// hiddenFile is a new file no client can see until publish names it.
type hiddenFile struct {
	afero.File
	// publish gives the file its name, failing if the name exists.
	publish func() error
	// abandon discards an unpublished file.
	abandon func()
}

// createHidden opens a new file of c that will be name once published.
func createHidden(c collection, name string, perm os.FileMode) (hiddenFile, error) {
	if rc, ok := c.(*rootCollection); ok && procFdWorks() {
		h, err := rc.createUnnamed(name, perm)
		if err == nil {
			return h, nil
		}
		if !errors.Is(err, errNoTmpfile) {
			return hiddenFile{}, err
		}
	}
	return createTemporary(c, name, perm)
}

// createTemporary is the portable way: a reserved temporary name, renamed
// to name once complete by a rename that fails if name exists. Until then
// no client sees the file, and a crash leaves only the reserved name,
// which SweepReserved removes.
func createTemporary(c collection, name string, perm os.FileMode) (hiddenFile, error) {
	tmp := TempName()
	f, err := c.create(tmp, perm)
	if err != nil {
		return hiddenFile{}, hide(err)
	}
	return hiddenFile{
		File:    f,
		publish: func() error { return hide(c.renameNoReplace(tmp, name)) },
		abandon: func() { c.remove(tmp) },
	}, nil
}

// noReplacer is a backend that renames without replacing in one step.
type noReplacer interface {
	RenameNoReplace(oldname, newname string) error
}

// renameNoReplace renames oldname to newname unless newname exists, in
// one step where fs can (RootFs, MemFs, LatencyFs over either). Elsewhere
// the check and the rename are two steps, and a resource created between
// them by someone else is replaced.
func renameNoReplace(fs afero.Fs, oldname, newname string) error {
	if r, ok := fs.(noReplacer); ok {
		return r.RenameNoReplace(oldname, newname)
	}
	if _, _, err := lstat(fs, newname); err == nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: os.ErrExist}
	}
	return fs.Rename(oldname, newname)
}

// errNoTmpfile means the filesystem cannot make unnamed files.
var errNoTmpfile = errors.New("O_TMPFILE not supported")

// dirFd returns a descriptor of the collection's directory, opened once.
func (c *rootCollection) dirFd() (int, error) {
	c.dirOnce.Do(func() {
		f, err := c.r.Open(".")
		if err != nil {
			c.dirErr = mapErr(err)
			return
		}
		c.dir = f
		c.dirNum = int(f.Fd())
	})
	return c.dirNum, c.dirErr
}
