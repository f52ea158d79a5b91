//go:build !linux

package storage

import "os"

// createUnnamedUpload always fails with errNoTmpfile: uploads go to a
// reserved temporary name (createUpload).
func (f *FileSystem) createUnnamedUpload(dir, name string, perm os.FileMode, exists bool) (upload, error) {
	return upload{}, errNoTmpfile
}
