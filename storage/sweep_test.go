package storage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSweepReserved leaves what crashes leave (a temporary file, a MOVE's
// parked tree, deep in the tree), sweeps, and checks that exactly those
// went: the state directory, visible files and what a symbolic link leads
// to stay, and so does a temporary file made after the sweep began.
func TestSweepReserved(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	dir, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
	writeTree(t, dir, ".davd-tmp-upload", "a/b/.davd-tmp-copy", "a/.davd-tmp-parked/x/y", "a/keep",
		".davd/state.db", ".davd/.davd-tmp-state", "top")
	writeTree(t, outside, ".davd-tmp-theirs")
	if err := os.Symlink(outside, filepath.Join(dir, "a", "link")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * sweepSlack) // older than the sweep
	rfs, err := NewRootFs(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer rfs.Close()
	n, err := NewFileSystem(rfs).SweepReserved(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("removed %d, want 3", n)
	}
	var left []string
	filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			r, _ := filepath.Rel(base, p)
			left = append(left, r)
		}
		return nil
	})
	want := "outside/.davd-tmp-theirs root/.davd/.davd-tmp-state root/.davd/state.db root/a/keep root/a/link root/top"
	if got := strings.Join(left, " "); got != want {
		t.Errorf("left:\n%s\nwant:\n%s", got, want)
	}

	// A temporary file of an operation running now is left alone.
	writeTree(t, dir, "a/.davd-tmp-now")
	if n, err := NewFileSystem(rfs).SweepReserved(context.Background()); err != nil || n != 0 {
		t.Errorf("second sweep: %d, %v", n, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a/.davd-tmp-now")); err != nil {
		t.Errorf("a fresh temporary file was swept: %v", err)
	}
}

// TestSweepReservedTiming measures a sweep of a tree of SWEEP_FILES files
// (default 100k) spread over directories of 1000, for the README; it is
// skipped unless SWEEP_FILES is set.
func TestSweepReservedTiming(t *testing.T) {
	total := 0
	if _, err := fmt.Sscan(os.Getenv("SWEEP_FILES"), &total); err != nil || total <= 0 {
		t.Skip("set SWEEP_FILES to measure")
	}
	dir := t.TempDir()
	for i := range total {
		d := filepath.Join(dir, fmt.Sprintf("d%03d", i/1000))
		if i%1000 == 0 {
			os.MkdirAll(d, 0o755)
		}
		name := fmt.Sprintf("f%d", i)
		if i%1000 == 0 {
			name = tempPrefix + name
		}
		os.WriteFile(filepath.Join(d, name), nil, 0o644)
	}
	time.Sleep(2 * sweepSlack)
	rfs, err := NewRootFs(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer rfs.Close()
	start := time.Now()
	n, err := NewFileSystem(rfs).SweepReserved(context.Background())
	t.Logf("swept %d files in %d directories: %d removed in %v (%v)", total, (total+999)/1000, n, time.Since(start), err)
}
