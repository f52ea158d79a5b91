//go:build linux || darwin

package storage

import (
	"os"
	"syscall"
)

// FileID is the device and inode number of the file fi describes; ok is
// false when the backend has none (memory storage).
func FileID(fi os.FileInfo) (dev, ino uint64, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return uint64(st.Dev), st.Ino, true
}
