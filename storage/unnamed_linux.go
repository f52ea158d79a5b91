package storage

import (
	"errors"
	"os"
	"sync"
)

// createUnnamedUpload is createUpload with an O_TMPFILE file in dir. It
// fails with errNoTmpfile where the filesystem has none.
func (f *FileSystem) createUnnamedUpload(dir, name string, perm os.FileMode, exists bool) (upload, error) {
	c, err := f.openCollection(dir)
	if err != nil {
		return upload{}, err
	}
	rc, ok := c.(*rootCollection)
	if !ok {
		c.close()
		return upload{}, errNoTmpfile
	}
	h, err := rc.createUnnamed(name, perm)
	if err != nil {
		c.close()
		return upload{}, err
	}
	fd := int(h.File.(*os.File).Fd())
	release := sync.OnceFunc(func() { c.close() })
	return upload{
		File: h.File,
		commit: func() error {
			defer release()
			if !exists {
				err := h.publish()
				if err == nil || !errors.Is(err, os.ErrExist) {
					return err
				}
				// Created meanwhile: replace it like any other.
			}
			// linkat never replaces: link under a reserved name, then
			// rename over the old file, which is atomic. Only a crash
			// between the two leaves the reserved name behind.
			dirFd, err := rc.dirFd()
			if err != nil {
				return err
			}
			tmp := TempName()
			if err := linkUnnamed(fd, dirFd, tmp); err != nil {
				return err
			}
			if err := rc.rename(tmp, name); err != nil {
				rc.remove(tmp)
				return err
			}
			return nil
		},
		abandon: release, // closing the file freed it
	}, nil
}
