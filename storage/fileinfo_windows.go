package storage

import (
	"os"
	"time"
)

// FileID is never known on Windows (ok is false): a FileInfo carries no
// file index. Identity is then "", and walks rely on maxTreeDepth, not
// on recognising a directory seen before, to end link loops.
func FileID(fi os.FileInfo) (dev, ino uint64, ok bool) { return 0, 0, false }

// ChangeTime is fi's modification time: a Windows FileInfo carries no
// change time (the sweep reads one from the file: see entryChanged).
func ChangeTime(fi os.FileInfo) time.Time { return fi.ModTime() }
