//go:build !linux

package main

import (
	"os"
	"testing"
)

// mountTmpfs needs Linux's mount(2): elsewhere the cross-device tests are
// skipped (CI runs on Linux).
func mountTmpfs(t *testing.T, dir string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal("the cross-device tests mount a tmpfs, which needs Linux")
	}
	t.Skip("the cross-device tests mount a tmpfs, which needs Linux")
}
