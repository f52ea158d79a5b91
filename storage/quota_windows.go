package storage

import "golang.org/x/sys/windows"

// diskSpace is the space available to this user on the volume holding
// dir (which honours per-user disk quotas), and the space used on it, in
// bytes (GetDiskFreeSpaceEx).
func diskSpace(dir string) (available, used int64, err error) {
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return 0, 0, err
	}
	var avail, total, free uint64
	if err := windows.GetDiskFreeSpaceEx(p, &avail, &total, &free); err != nil {
		return 0, 0, err
	}
	return int64(avail), int64(total - free), nil
}
