package storage

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/afero"
)

// TestCopyNeverShowsShortFiles copies a tree on backends without unnamed
// files (memory, and anything behind the latency wrapper) while readers
// poll the destination's members: a member that can be seen at all must
// have its whole content. The copy used to claim the final name with an
// empty file before renaming the content over it.
func TestCopyNeverShowsShortFiles(t *testing.T) {
	t.Parallel()
	const files = 12
	content := strings.Repeat("x", 4096)
	latencyRoot := func(t *testing.T) afero.Fs {
		rfs, err := NewRootFs(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rfs.Close() })
		return LatencyFs{Fs: rfs, Delay: time.Millisecond}
	}
	for name, open := range map[string]func(t *testing.T) afero.Fs{
		"mem+latency": func(t *testing.T) afero.Fs { return LatencyFs{Fs: NewMemFs(), Delay: time.Millisecond} },
		// A MemMapFs made by hand: the check-then-rename fallback.
		"MemMapFs+latency": func(t *testing.T) afero.Fs { return LatencyFs{Fs: afero.NewMemMapFs(), Delay: time.Millisecond} },
		"root+latency":     latencyRoot,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			base := open(t)
			fsys := NewFileSystem(base)
			base.MkdirAll("/src", 0o755)
			for i := range files {
				afero.WriteFile(base, fmt.Sprintf("/src/f%02d", i), []byte(content), 0o644)
			}
			var done atomic.Bool
			var seen, short atomic.Int64
			var g sync.WaitGroup
			for r := range 3 {
				g.Go(func() {
					for i := r; !done.Load(); i++ {
						name := fmt.Sprintf("/dst/f%02d", i%files)
						b, err := afero.ReadFile(base, name)
						if err != nil {
							continue
						}
						seen.Add(1)
						if len(b) != len(content) {
							short.Add(1)
						}
					}
				})
			}
			err := fsys.CopyTree(context.Background(), "/src", "/dst", true, func(rel string, isDir bool, size int64, err error) {
				if err != nil {
					t.Errorf("%s: %v", rel, err)
				}
			})
			done.Store(true)
			g.Wait()
			if err != nil {
				t.Fatal(err)
			}
			if short.Load() > 0 {
				t.Errorf("%d of %d reads of a visible member were short", short.Load(), seen.Load())
			}
			// No-replace publishing refuses an existing name.
			if err := renameNoReplace(base, "/src/f00", "/dst/f01"); err == nil {
				t.Error("renameNoReplace replaced an existing file")
			}
			if got := readAll(t, base, "/dst/f01"); got != content {
				t.Errorf("/dst/f01 changed: %d bytes", len(got))
			}
		})
	}
}

// TestCreateTemporaryOnRoot publishes through the portable way on
// directory storage (used where O_TMPFILE is not supported): renameat2
// refuses an existing name and leaves no temporary file.
func TestCreateTemporaryOnRoot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, "taken")
	rfs, err := NewRootFs(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer rfs.Close()
	c, err := NewFileSystem(rfs).openCollection("/")
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	for name, wantErr := range map[string]bool{"taken": true, "free": false} {
		h, err := createTemporary(c, name, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		h.Write([]byte("new"))
		err = h.publish()
		h.Close()
		if (err != nil) != wantErr {
			t.Errorf("publish %s: %v", name, err)
		}
		if err != nil {
			h.abandon()
		}
	}
	if got := readAll(t, rfs, "/taken"); got != "taken" {
		t.Errorf("taken = %q", got)
	}
	if got := readAll(t, rfs, "/free"); got != "new" {
		t.Errorf("free = %q", got)
	}
	if names, _ := afero.ReadDir(rfs, "/"); len(names) != 2 {
		t.Errorf("left in the directory: %v", names)
	}
}
