package state

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// errLockHeld means another process holds a conflicting lock.
var errLockHeld = errors.New("lock held by another process")

// lockOffset is where the locked byte lies: Windows locks are mandatory,
// so the lock is taken far beyond the file's content (the holder's
// process id), which others can then still read.
const lockOffset = 1 << 62

// lockFile takes a lock (LockFileEx) on f, exclusive or shared, without
// waiting: errLockHeld when another process holds a conflicting one. The
// lock lasts until f is closed.
func lockFile(f *os.File, shared bool) error {
	flags := uint32(windows.LOCKFILE_FAIL_IMMEDIATELY)
	if !shared {
		flags |= windows.LOCKFILE_EXCLUSIVE_LOCK
	}
	ol := windows.Overlapped{Offset: uint32(lockOffset & 0xffffffff), OffsetHigh: uint32(lockOffset >> 32)}
	err := windows.LockFileEx(windows.Handle(f.Fd()), flags, 0, 1, 0, &ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) || errors.Is(err, windows.ERROR_IO_PENDING) {
		return errLockHeld
	}
	return err
}

// dirWritable reports whether this process may create files in dir: it
// creates and removes one (Windows has no access(2)).
func dirWritable(dir string) bool {
	f, err := os.CreateTemp(dir, ".davd-probe-*")
	if err != nil {
		return false
	}
	f.Close()
	os.Remove(f.Name())
	return true
}
