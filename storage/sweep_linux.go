package storage

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// entryChanged is when member name of c, which fi describes, last
// changed (ChangeTime).
func entryChanged(c collection, name string, fi os.FileInfo) time.Time { return ChangeTime(fi) }

// lowerPriority gives the calling thread the lowest CPU priority and the
// idle I/O class, so that a sweep takes only what requests leave. It is
// advisory: failures are ignored.
func lowerPriority() {
	tid := unix.Gettid()
	_ = unix.Setpriority(unix.PRIO_PROCESS, tid, 19)
	const ioprioWhoProcess, ioprioClassIdle, ioprioClassShift = 1, 3, 13
	unix.Syscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, uintptr(tid), ioprioClassIdle<<ioprioClassShift)
}
