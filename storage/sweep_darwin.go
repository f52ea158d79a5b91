package storage

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// entryChanged is when member name of c, which fi describes, last
// changed (ChangeTime).
func entryChanged(c collection, name string, fi os.FileInfo) time.Time { return ChangeTime(fi) }

// lowerPriority puts the calling thread in the background band
// (PRIO_DARWIN_BG: lowest CPU priority, throttled I/O), so that a sweep
// takes only what requests leave. It is advisory: failures are ignored.
func lowerPriority() {
	_ = unix.Setpriority(unix.PRIO_DARWIN_THREAD, 0, unix.PRIO_DARWIN_BG)
}
