//go:build !linux

package storage

// startWriteback does nothing where there is no sync_file_range: the Sync
// before the rename does all the work.
func startWriteback(fd int, off, n int64) {}
