package storage

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// renameatNoReplace renames oldName in directory oldDir to newName in
// newDir unless newName exists: renameatx_np(RENAME_EXCL), or where the
// filesystem lacks it, a hard link (which never replaces) and the removal
// of the old name.
func renameatNoReplace(oldDir int, oldName string, newDir int, newName string) error {
	err := unix.RenameatxNp(oldDir, oldName, newDir, newName, unix.RENAME_EXCL)
	if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		if err = unix.Linkat(oldDir, oldName, newDir, newName, 0); err == nil {
			unix.Unlinkat(oldDir, oldName, 0)
		}
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldName, New: newName, Err: err}
	}
	return nil
}
