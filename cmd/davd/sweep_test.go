package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRestartSweepsReserved plants what a crash leaves (a partial upload
// and a MOVE's parked tree under reserved names) and starts davd: they
// are gone soon after, and everything else stays.
func TestRestartSweepsReserved(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, ".davd-tmp-0123456789abcdef01234567"), "partial upload")
	writeFile(t, filepath.Join(dir, "docs", ".davd-tmp-89abcdef0123456701234567", "old", "f"), "parked")
	writeFile(t, filepath.Join(dir, "docs", "keep"), "kept")
	time.Sleep(300 * time.Millisecond) // older than the server
	startDavd(t, dir)
	gone := func(rel string) bool {
		_, err := os.Lstat(filepath.Join(dir, rel))
		return os.IsNotExist(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !(gone(".davd-tmp-0123456789abcdef01234567") && gone("docs/.davd-tmp-89abcdef0123456701234567")) {
		if time.Now().After(deadline) {
			t.Fatal("reserved names still there 5 s after the start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "docs", "keep")); err != nil || string(b) != "kept" {
		t.Errorf("docs/keep = %q, %v", b, err)
	}
}
