package storage

import (
	"errors"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// On Linux a hidden file of directory storage is an O_TMPFILE file, named
// through /proc when complete (see hidden.go).

// createUnnamed opens an O_TMPFILE file in the collection.
func (c *rootCollection) createUnnamed(name string, perm os.FileMode) (hiddenFile, error) {
	dir, err := c.dirFd()
	if err != nil {
		return hiddenFile{}, err
	}
	fd, err := unix.Openat(dir, ".", unix.O_WRONLY|unix.O_TMPFILE|unix.O_CLOEXEC, uint32(perm))
	switch {
	case errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.EISDIR), errors.Is(err, unix.EINVAL):
		return hiddenFile{}, errNoTmpfile
	case err != nil:
		return hiddenFile{}, &os.PathError{Op: "openat", Path: name, Err: err}
	}
	f := os.NewFile(uintptr(fd), name)
	return hiddenFile{
		File:    f,
		publish: func() error { return linkUnnamed(fd, dir, name) },
		abandon: func() {}, // closing it frees it
	}, nil
}

// linkUnnamed gives the unnamed file fd the name name in directory dir,
// failing if the name exists.
func linkUnnamed(fd, dir int, name string) error {
	// linkat of the descriptor itself (AT_EMPTY_PATH) needs
	// CAP_DAC_READ_SEARCH; through /proc it needs nothing.
	err := unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), dir, name, unix.AT_SYMLINK_FOLLOW)
	if err != nil {
		return &os.PathError{Op: "linkat", Path: name, Err: err}
	}
	return nil
}

// procFdWorks reports whether /proc/self/fd names open files, which
// publishing an unnamed file relies on.
var procFdWorks = sync.OnceValue(func() bool {
	_, err := os.Stat("/proc/self/fd/0")
	return err == nil
})
