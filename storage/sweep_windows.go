package storage

import (
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// lowerPriority does nothing on Windows: the sweep runs at normal
// priority.
func lowerPriority() {}

// fileBasicInfo is FILE_BASIC_INFO; times count 100 ns since 1601.
type fileBasicInfo struct {
	CreationTime, LastAccessTime, LastWriteTime, ChangeTime int64
	FileAttributes                                          uint32
	_                                                       uint32
}

// entryChanged is when member name of c, which fi describes, last
// changed. A Windows FileInfo has no change time and a rename keeps the
// modification time, so a file just set aside under a reserved name would
// look old: the change time is read from the file itself. Where it cannot
// be, and for a symbolic link (opening would follow it), the entry
// counts as changed now, and is left alone.
func entryChanged(c collection, name string, fi os.FileInfo) time.Time {
	if _, ok := c.(*rootCollection); !ok {
		return fi.ModTime()
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return time.Now()
	}
	f, err := c.open(name)
	if err != nil {
		return time.Now()
	}
	defer f.Close()
	osf, ok := f.(*os.File)
	if !ok {
		return time.Now()
	}
	var info fileBasicInfo
	err = windows.GetFileInformationByHandleEx(windows.Handle(osf.Fd()), windows.FileBasicInfo,
		(*byte)(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info)))
	if err != nil || info.ChangeTime == 0 {
		return time.Now()
	}
	ft := windows.Filetime{LowDateTime: uint32(info.ChangeTime), HighDateTime: uint32(info.ChangeTime >> 32)}
	return time.Unix(0, ft.Nanoseconds())
}
