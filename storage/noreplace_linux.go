package storage

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// renameatNoReplace renames oldName in directory oldDir to newName in
// newDir unless newName exists: renameat2(RENAME_NOREPLACE), or where the
// filesystem lacks it, a hard link (which never replaces) and the removal
// of the old name.
func renameatNoReplace(oldDir int, oldName string, newDir int, newName string) error {
	err := unix.Renameat2(oldDir, oldName, newDir, newName, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		if err = unix.Linkat(oldDir, oldName, newDir, newName, 0); err == nil {
			unix.Unlinkat(oldDir, oldName, 0)
		}
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldName, New: newName, Err: err}
	}
	return nil
}
