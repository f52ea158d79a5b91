//go:build unix

package storage

import "syscall"

// diskSpace is the space available to unprivileged users on the
// filesystem holding dir, and the space used on it, in bytes (statfs).
func diskSpace(dir string) (available, used int64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	bsize := int64(st.Bsize)
	return int64(st.Bavail) * bsize, int64(st.Blocks-st.Bfree) * bsize, nil
}
