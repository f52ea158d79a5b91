package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// crossDevice returns directory storage with a tmpfs mounted at /mnt,
// another filesystem than the rest. It skips the test when mounting is
// not permitted, unless under CI.
func crossDevice(t *testing.T) (*FileSystem, string) {
	t.Helper()
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=4m"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("mount tmpfs: %v", err)
		}
		t.Skip("mounting a tmpfs is not permitted: ", err)
	}
	t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })
	rfs, err := NewRootFs(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rfs.Close() })
	return NewFileSystem(rfs), dir
}

// TestCrossDevice: a rename or an exchange across a mount point fails
// with an error IsCrossDevice recognises, and ResumeMove moves instead,
// a file and a tree.
func TestCrossDevice(t *testing.T) {
	t.Parallel()
	fsys, dir := crossDevice(t)
	ctx := context.Background()
	writeTree(t, dir, "f", "tree/a", "tree/sub/b", "mnt/g")
	if err := fsys.Rename(ctx, "/f", "/mnt/f"); !IsCrossDevice(err) {
		t.Errorf("Rename across devices = %v, want EXDEV", err)
	}
	if err := fsys.Exchange(ctx, "/f", "/mnt/g"); !IsCrossDevice(err) {
		t.Errorf("Exchange across devices = %v, want EXDEV", err)
	}
	if IsCrossDevice(errors.New("other")) || IsCrossDevice(nil) {
		t.Error("IsCrossDevice accepts other errors")
	}
	for src, files := range map[string][]string{"/f": {""}, "/tree": {"a", "sub/b"}} {
		dst := "/mnt" + src
		if err := fsys.ResumeMove(ctx, src, dst, func(rel string, _ bool, _ int64, err error) {
			if err != nil {
				t.Errorf("%s %s: %v", src, rel, err)
			}
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(filepath.Join(dir, src)); !os.IsNotExist(err) {
			t.Errorf("%s still there: %v", src, err)
		}
		for _, f := range files {
			want := strings.TrimPrefix(filepath.Join(src, f), "/")
			if b, err := os.ReadFile(filepath.Join(dir, dst, f)); string(b) != want {
				t.Errorf("%s/%s = %q, %v; want %q", dst, f, b, err, want)
			}
		}
	}
}
