package storage

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/afero"
)

// TestRemoveTreeLinkRemovesLinkOnly removes symbolic links, to a
// collection and to a file, directly and through the latency wrapper: the
// link goes, what it points at stays whole.
func TestRemoveTreeLinkRemovesLinkOnly(t *testing.T) {
	t.Parallel()
	for _, wrap := range []string{"root", "latency"} {
		t.Run(wrap, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeTree(t, dir, "archive/a.txt", "archive/sub/b.txt", "file.txt")
			for link, target := range map[string]string{"arch": "archive", "flink": "file.txt", "deep/arch": "../archive"} {
				os.MkdirAll(filepath.Dir(filepath.Join(dir, link)), 0o755)
				if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
					t.Fatal(err)
				}
			}
			rfs, err := NewRootFs(dir)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { rfs.Close() })
			var base afero.Fs = rfs
			if wrap == "latency" {
				base = LatencyFs{Fs: rfs, Delay: time.Microsecond}
			}
			fsys := NewFileSystem(base)
			for _, name := range []string{"/arch", "/flink", "/deep"} {
				var reported []string
				err := fsys.RemoveTree(context.Background(), name, func(rel string, isDir bool, size int64, err error) {
					if err != nil {
						t.Errorf("%s %s: %v", name, rel, err)
					}
					reported = append(reported, rel)
				})
				if err != nil {
					t.Fatalf("RemoveTree %s: %v", name, err)
				}
				if _, err := os.Lstat(filepath.Join(dir, name)); !os.IsNotExist(err) {
					t.Errorf("%s still there: %v", name, err)
				}
				if name != "/deep" && (len(reported) != 1 || reported[0] != "") {
					t.Errorf("%s: reported %q, want the link alone", name, reported)
				}
			}
			for _, f := range []string{"archive/a.txt", "archive/sub/b.txt", "file.txt"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("the target %s was removed: %v", f, err)
				}
			}
		})
	}
}

// writeTree creates each file (with its parents) below dir, holding its
// own name.
func writeTree(t *testing.T, dir string, files ...string) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mustWrite(t, p, f)
	}
}
