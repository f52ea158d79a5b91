//go:build unix

package storage

import (
	"os"
	"path"
	"syscall"
)

// On Unix a rename that must not replace works on directory descriptors
// (renameatNoReplace, per system).

// RenameNoReplace renames oldname to newname unless newname exists, in
// one step (renameatNoReplace) between the two parent directories, each
// opened inside the root.
func (r *RootFs) RenameNoReplace(oldname, newname string) error {
	oldDir, err := r.openDir(path.Dir(rel(oldname)))
	if err != nil {
		return err
	}
	defer oldDir.Close()
	newDir, err := r.openDir(path.Dir(rel(newname)))
	if err != nil {
		return err
	}
	defer newDir.Close()
	return renameatNoReplace(int(oldDir.Fd()), path.Base(rel(oldname)), int(newDir.Fd()), path.Base(rel(newname)))
}

// openDir opens directory name (relative, cleaned) of the root.
func (r *RootFs) openDir(name string) (*os.File, error) {
	f, err := r.root.OpenFile(name, os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return nil, mapErr(err)
	}
	return f, nil
}

// renameNoReplace renames a member of the collection unless newName
// exists, in one step where the filesystem can.
func (c *rootCollection) renameNoReplace(oldName, newName string) error {
	dir, err := c.dirFd()
	if err != nil {
		return err
	}
	return renameatNoReplace(dir, oldName, dir, newName)
}
