package storage

import (
	"os"
	"syscall"
	"time"
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

// ChangeTime is when fi's entry last changed: its ctime, which a rename
// updates, where the backend has one, else its modification time.
func ChangeTime(fi os.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(st.Ctim.Sec, st.Ctim.Nsec)
	}
	return fi.ModTime()
}
