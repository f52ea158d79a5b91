//go:build !linux

package storage

import "os"

// Without O_TMPFILE every hidden file is a reserved temporary name
// (createTemporary).

// procFdWorks is false: there is no unnamed file to name through /proc.
func procFdWorks() bool { return false }

// createUnnamed always fails with errNoTmpfile.
func (c *rootCollection) createUnnamed(name string, perm os.FileMode) (hiddenFile, error) {
	return hiddenFile{}, errNoTmpfile
}
