package main

import (
	"os"
	"syscall"
	"testing"
)

// mountTmpfs mounts a fresh tmpfs at dir (created here), so that a MOVE
// into it crosses devices, and unmounts it when the test ends (before
// the temporary directory holding it is removed). Without the right to
// mount the test is skipped, except under CI=true, where it fails.
func mountTmpfs(t *testing.T, dir string) {
	t.Helper()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=256m,mode=0755"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount a tmpfs at %s: %v; .ci/run must allow it", dir, err)
		}
		t.Skipf("cannot mount a tmpfs (%v): the cross-device MOVE needs one", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
}
