package storage

import "syscall"

// syncFileRangeWrite is SYNC_FILE_RANGE_WRITE: start writeback, do not wait.
const syncFileRangeWrite = 2

// startWriteback asks the kernel to start writing n bytes of fd from off
// back to the disk (sync_file_range), without waiting. It is advisory: an
// error only means the Sync before the rename does all the work.
func startWriteback(fd int, off, n int64) {
	_ = syscall.SyncFileRange(fd, off, n, syncFileRangeWrite)
}
