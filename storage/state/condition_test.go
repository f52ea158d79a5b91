package state

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// privileged runs a command that needs root (mount, losetup). When it
// fails the test is skipped, except under CI (which runs as root), where
// the failure fails the test.
func privileged(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip("needs root: " + msg)
	}
	return strings.TrimSpace(string(out))
}

// smallTmpfs mounts a 1 MiB tmpfs for the test and returns its directory.
func smallTmpfs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	privileged(t, "mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", dir)
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	return dir
}

// breakableExt4 mounts a small ext4 file system with errors=remount-ro
// and returns its directory and a function that makes it read-only under
// the processes that have files open on it, as a disk error does. (A
// tmpfs cannot be remounted read-only while a file on it is open for
// writing, which an SQLite database always is.)
func breakableExt4(t *testing.T) (dir string, makeReadOnly func()) {
	t.Helper()
	base := t.TempDir()
	img, dir := filepath.Join(base, "fs.img"), filepath.Join(base, "mnt")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 8<<20); err != nil {
		t.Fatal(err)
	}
	privileged(t, "mkfs.ext4", "-q", "-F", img)
	dev := privileged(t, "losetup", "-f", "--show", img)
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	privileged(t, "mount", "-o", "errors=remount-ro", dev, dir)
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	trigger := "/sys/fs/ext4/" + filepath.Base(dev) + "/trigger_fs_error"
	return dir, func() {
		t.Helper()
		if err := os.WriteFile(trigger, []byte("1"), 0); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal(err)
			}
			t.Skip("cannot make the file system read-only: ", err)
		}
		// The remount is synchronous; check it took effect.
		if err := os.WriteFile(filepath.Join(dir, "probe"), nil, 0o600); err == nil {
			t.Fatal("the file system is still writable after an ext4 error")
		}
	}
}

// TestWriteFailsFull checks that changes refused by a full file system
// wrap ErrFull, change nothing, and that reads still work.
func TestWriteFailsFull(t *testing.T) {
	t.Parallel()
	dir := smallTmpfs(t)
	s := openFile(t, filepath.Join(dir, "state.db"))
	defer s.Close()
	mustPatch(t, s, "/kept", []Property{prop("urn:x", "a", "<a xmlns='urn:x'/>")}, nil)
	big := "<b xmlns='urn:x'>" + strings.Repeat("x", 8000) + "</b>"
	var err error
	var failed string
	for i := range 1000 { // 8 MB: far more than the 1 MiB file system
		failed = fmt.Sprintf("/f%d", i)
		if err = s.PatchProps(bg, failed, []Property{prop("urn:x", "b", big)}, nil); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrFull) || errors.Is(err, ErrReadOnly) {
		t.Fatalf("PatchProps on a full file system = %v; want ErrFull", err)
	}
	if got, err := s.Props(bg, failed); err != nil || got != nil {
		t.Errorf("the refused change left %v, %v", got, err)
	}
	if got, err := s.Props(bg, "/kept"); err != nil || len(got) != 1 {
		t.Errorf("Props after the failure = %v, %v; want the kept property", got, err)
	}
	// A lock is a small row, which may fit where the property did not.
	owner := "<D:owner xmlns:D='DAV:'>" + strings.Repeat("o", 8000) + "</D:owner>"
	for i := range 1000 {
		failed = fmt.Sprintf("/locked%d", i)
		if _, err = s.CreateLock(bg, Lock{Root: failed, Owner: owner, Timeout: time.Hour}); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrFull) {
		t.Errorf("CreateLock on a full file system = %v; want ErrFull", err)
	}
	if locks, err := s.LocksCovering(bg, failed); err != nil || len(locks) != 0 {
		t.Errorf("the refused lock is held: %v, %v", locks, err)
	}
}

// TestWriteFailsReadOnly checks that changes refused because the file
// system turned read-only under the open database wrap ErrReadOnly (SQLite
// reports only an I/O error), and that reads still work.
func TestWriteFailsReadOnly(t *testing.T) {
	t.Parallel()
	dir, makeReadOnly := breakableExt4(t)
	s := openFile(t, filepath.Join(dir, "state.db"))
	defer s.Close()
	mustPatch(t, s, "/kept", []Property{prop("urn:x", "a", "<a xmlns='urn:x'/>")}, nil)
	makeReadOnly()

	err := s.PatchProps(bg, "/new", []Property{prop("urn:x", "a", "<a xmlns='urn:x'/>")}, nil)
	if !errors.Is(err, ErrReadOnly) || errors.Is(err, ErrFull) {
		t.Errorf("PatchProps on a read-only file system = %v; want ErrReadOnly", err)
	}
	if _, err := s.CreateLock(bg, Lock{Root: "/locked", Timeout: time.Hour}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("CreateLock on a read-only file system = %v; want ErrReadOnly", err)
	}
	if err := s.MoveTree(bg, "/kept", "/moved"); !errors.Is(err, ErrReadOnly) {
		t.Errorf("MoveTree on a read-only file system = %v; want ErrReadOnly", err)
	}
	if got, err := s.Props(bg, "/kept"); err != nil || len(got) != 1 {
		t.Errorf("Props after the failures = %v, %v; want the kept property", got, err)
	}
	if got, err := s.Props(bg, "/new"); err != nil || got != nil {
		t.Errorf("the refused change left %v, %v", got, err)
	}
}

// TestWriteFailsOther checks that a failure that is neither full nor
// read-only wraps neither sentinel.
func TestWriteFailsOther(t *testing.T) {
	t.Parallel()
	s := openFile(t, filepath.Join(t.TempDir(), "state.db"))
	defer s.Close()
	err := s.fail("test", errors.New("some failure"))
	if errors.Is(err, ErrFull) || errors.Is(err, ErrReadOnly) {
		t.Errorf("fail(other) = %v; wraps a file system condition", err)
	}
}
