package storage

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUploadLeavesNoName looks at the directory on disk while uploads
// are half way, as a server killed at that moment would leave it: on
// directory storage the content has no name yet, so nothing would
// survive. Both a new file and a replacement are checked, and each ends
// with the uploaded content.
func TestUploadLeavesNoName(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, "old")
	rfs, err := NewRootFs(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer rfs.Close()
	fsys := NewFileSystem(rfs)
	for _, name := range []string{"old", "new"} {
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			_, err := fsys.WriteAtomic(context.Background(), "/"+name, pr, 0o644, -1)
			done <- err
		}()
		pw.Write([]byte("first half, ")) // returns once WriteAtomic has read it
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), tempPrefix) {
				t.Errorf("uploading %s: %s is on disk, a crash would leave it", name, e.Name())
			}
		}
		pw.Write([]byte("second half"))
		pw.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != "first half, second half" {
			t.Errorf("%s = %q, %v", name, b, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("left in the directory: %v", entries)
	}
}
