package storage

import (
	"os"
	"path"
	"sync"

	"github.com/spf13/afero"
)

// collection is a directory held open for work on its members, which it
// names by their bare names. On directory storage it is an os.Root on the
// directory's descriptor, so each member costs one system call relative to
// it (unlinkat, openat), as in rm -rf and cp -r, where a full path would
// make os.Root open and check every component again for every file. Other
// backends are reached by joined paths.
type collection interface {
	// list opens the collection for reading its entries.
	list() (afero.File, error)
	open(name string) (afero.File, error)
	// create makes a new file; an existing one is an error.
	create(name string, perm os.FileMode) (afero.File, error)
	mkdir(name string, perm os.FileMode) error
	remove(name string) error
	removeAll(name string) error
	// rename renames a member, replacing a file named newName.
	rename(oldName, newName string) error
	// renameNoReplace renames a member, failing if newName exists.
	renameNoReplace(oldName, newName string) error
	// stat follows a symbolic link, which must stay inside the storage.
	stat(name string) (os.FileInfo, error)
	// lstat describes a symbolic link as itself, where the backend has
	// links.
	lstat(name string) (os.FileInfo, error)
	// sub opens the member collection name.
	sub(name string) (collection, error)
	close() error
}

// openCollection opens collection name (a cleaned path) of f.
func (f *FileSystem) openCollection(name string) (collection, error) {
	if rfs, ok := f.fs.(*RootFs); ok {
		r, err := rfs.root.OpenRoot(rel(name))
		if err != nil {
			return nil, hide(mapErr(err))
		}
		return &rootCollection{r: r}, nil
	}
	return pathCollection{f.fs, name}, nil
}

// rootCollection is a collection of directory storage.
type rootCollection struct {
	r *os.Root

	// The directory's own descriptor, opened when a file is first
	// created in it (see createHidden).
	dirOnce sync.Once
	dir     *os.File
	dirNum  int
	dirErr  error
}

func (c *rootCollection) list() (afero.File, error) { return c.open(".") }

func (c *rootCollection) open(name string) (afero.File, error) {
	f, err := c.r.Open(name)
	if err != nil {
		return nil, mapErr(err) // never a nil *os.File in an interface
	}
	return f, nil
}

func (c *rootCollection) create(name string, perm os.FileMode) (afero.File, error) {
	f, err := c.r.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return nil, mapErr(err)
	}
	return f, nil
}

func (c *rootCollection) mkdir(name string, perm os.FileMode) error {
	return mapErr(c.r.Mkdir(name, perm))
}
func (c *rootCollection) remove(name string) error { return mapErr(c.r.Remove(name)) }
func (c *rootCollection) rename(oldName, newName string) error {
	return mapErr(c.r.Rename(oldName, newName))
}
func (c *rootCollection) removeAll(name string) error { return mapErr(c.r.RemoveAll(name)) }

func (c *rootCollection) stat(name string) (os.FileInfo, error) {
	fi, err := c.r.Stat(name)
	if err != nil {
		return nil, mapErr(err)
	}
	return fi, nil
}

func (c *rootCollection) lstat(name string) (os.FileInfo, error) {
	fi, err := c.r.Lstat(name)
	if err != nil {
		return nil, mapErr(err)
	}
	return fi, nil
}

func (c *rootCollection) sub(name string) (collection, error) {
	r, err := c.r.OpenRoot(name)
	if err != nil {
		return nil, mapErr(err)
	}
	return &rootCollection{r: r}, nil
}

func (c *rootCollection) close() error {
	if c.dir != nil {
		c.dir.Close()
	}
	return c.r.Close()
}

// pathCollection is a collection of any other backend.
type pathCollection struct {
	fs  afero.Fs
	dir string
}

func (c pathCollection) join(name string) string { return path.Join(c.dir, name) }

func (c pathCollection) list() (afero.File, error)            { return c.fs.Open(c.dir) }
func (c pathCollection) open(name string) (afero.File, error) { return c.fs.Open(c.join(name)) }
func (c pathCollection) create(name string, perm os.FileMode) (afero.File, error) {
	return c.fs.OpenFile(c.join(name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
}
func (c pathCollection) mkdir(name string, perm os.FileMode) error {
	return c.fs.Mkdir(c.join(name), perm)
}
func (c pathCollection) remove(name string) error { return c.fs.Remove(c.join(name)) }
func (c pathCollection) rename(oldName, newName string) error {
	return c.fs.Rename(c.join(oldName), c.join(newName))
}
func (c pathCollection) renameNoReplace(oldName, newName string) error {
	return renameNoReplace(c.fs, c.join(oldName), c.join(newName))
}
func (c pathCollection) removeAll(name string) error { return c.fs.RemoveAll(c.join(name)) }
func (c pathCollection) stat(name string) (os.FileInfo, error) {
	return c.fs.Stat(c.join(name))
}
func (c pathCollection) lstat(name string) (os.FileInfo, error) {
	fi, _, err := lstat(c.fs, c.join(name))
	return fi, err
}
func (c pathCollection) sub(name string) (collection, error) {
	return pathCollection{c.fs, c.join(name)}, nil
}
func (c pathCollection) close() error { return nil }
