//go:build unix

package state

import (
	"errors"
	"os"
	"syscall"
)

// errLockHeld means another process holds a conflicting lock.
var errLockHeld = errors.New("lock held by another process")

// lockFile takes an advisory lock (flock) on all of f, exclusive or
// shared, without waiting: errLockHeld when another process holds a
// conflicting one. The lock lasts until f is closed.
func lockFile(f *os.File, shared bool) error {
	how := syscall.LOCK_EX
	if shared {
		how = syscall.LOCK_SH
	}
	err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errLockHeld
	}
	return err
}

// dirWritable reports whether this process may create files in dir.
func dirWritable(dir string) bool {
	return syscall.Access(dir, 2 /* W_OK */) == nil
}
