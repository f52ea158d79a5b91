package storage

import (
	"context"
	"os"
	"strconv"
	"syscall"
)

// Identity names the resource at name so that it can be recognised after
// it has been renamed: device and inode on directory storage. It is ""
// when the backend cannot tell resources apart that way (memory), or when
// nothing is at name. A symbolic link inside the storage is followed.
func (f *FileSystem) Identity(ctx context.Context, name string) string {
	fi, err := f.Stat(ctx, name)
	if err != nil {
		return ""
	}
	return identityOf(fi)
}

func identityOf(fi os.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Ino == 0 {
		return ""
	}
	return strconv.FormatUint(uint64(st.Dev), 10) + ":" + strconv.FormatUint(st.Ino, 10)
}
