package storage

import (
	"errors"
	"os"
)

// Windows has no rename that refuses to replace through os.Root. A file
// is published by a hard link, which never replaces, and the removal of
// the old name. A collection, or a file on a filesystem without hard
// links (FAT), is renamed after checking that newname is free: a resource
// created at newname between the check and the rename by something other
// than davd (which holds its path locks across the operation) is replaced.

// RenameNoReplace renames oldname to newname unless newname exists.
func (r *RootFs) RenameNoReplace(oldname, newname string) error {
	return rootRenameNoReplace(r.root, rel(oldname), rel(newname))
}

// renameNoReplace renames a member of the collection unless newName
// exists.
func (c *rootCollection) renameNoReplace(oldName, newName string) error {
	return rootRenameNoReplace(c.r, oldName, newName)
}

// rootRenameNoReplace renames oldName to newName, both inside r, unless
// newName exists.
func rootRenameNoReplace(r *os.Root, oldName, newName string) error {
	fi, err := r.Lstat(oldName)
	if err != nil {
		return mapErr(err)
	}
	if !fi.IsDir() {
		err := r.Link(oldName, newName)
		switch {
		case err == nil:
			r.Remove(oldName)
			return nil
		case errors.Is(err, os.ErrExist), errors.Is(err, os.ErrNotExist):
			return mapErr(err)
		}
		// No hard links here: check, then rename.
	}
	if _, err := r.Lstat(newName); err == nil {
		return &os.LinkError{Op: "rename", Old: oldName, New: newName, Err: os.ErrExist}
	}
	return mapErr(r.Rename(oldName, newName))
}
