package storage

import (
	"os"
	"syscall"
	"time"
)

// ChangeTime is when fi's entry last changed: its ctime, which a rename
// updates, where the backend has one, else its modification time.
func ChangeTime(fi os.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(st.Ctimespec.Sec, st.Ctimespec.Nsec)
	}
	return fi.ModTime()
}
