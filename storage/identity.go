package storage

import (
	"context"
	"os"
	"strconv"
)

// Identity names the resource at name so that it can be recognised after
// it has been renamed: device and inode on directory storage. It is ""
// when the backend cannot tell resources apart that way (memory, and
// directory storage on Windows), or when nothing is at name. A symbolic link inside the storage is followed.
func (f *FileSystem) Identity(ctx context.Context, name string) string {
	fi, err := f.Stat(ctx, name)
	if err != nil {
		return ""
	}
	return identityOf(fi)
}

func identityOf(fi os.FileInfo) string {
	dev, ino, ok := FileID(fi)
	if !ok || ino == 0 {
		return ""
	}
	return strconv.FormatUint(dev, 10) + ":" + strconv.FormatUint(ino, 10)
}
