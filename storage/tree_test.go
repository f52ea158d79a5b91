package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/spf13/afero"
)

// TestCopyTreeCancelled stops a tree copy after a few members, as a client
// that goes away (with --on-disconnect stop) or the shutdown timeout does,
// and checks that every file under a visible name is complete and no
// temporary file is left behind.
func TestCopyTreeCancelled(t *testing.T) {
	t.Parallel()
	content := strings.Repeat("x", 3000)
	for name := range backends(t) {
		for _, stopAfter := range []int{0, 1, 4, 9} {
			t.Run(fmt.Sprintf("%s/after%d", name, stopAfter), func(t *testing.T) {
				// A fresh backend as such: directory storage then copies
				// through its os.Root collection handles.
				base := backends(t)[name]
				fsys := NewFileSystem(base)
				base.MkdirAll("/src/a", 0o755)
				base.MkdirAll("/src/b", 0o755)
				for i := range 6 {
					afero.WriteFile(base, fmt.Sprintf("/src/a/f%d", i), []byte(content), 0o644)
					afero.WriteFile(base, fmt.Sprintf("/src/b/f%d", i), []byte(content), 0o644)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if stopAfter == 0 {
					cancel()
				}
				done, stopped := 0, 0
				err := fsys.CopyTree(ctx, "/src", "/dst", true, func(rel string, isDir bool, size int64, err error) {
					switch {
					case errors.Is(err, context.Canceled):
						stopped++
					case err != nil:
						t.Errorf("%s: %v", rel, err)
					default:
						done++
						if done == stopAfter {
							cancel()
						}
					}
				})
				if err != nil {
					t.Fatal(err)
				}
				if stopped == 0 {
					t.Error("nothing reported as stopped")
				}
				afero.Walk(base, "/dst", func(p string, fi os.FileInfo, err error) error {
					if err != nil {
						return nil
					}
					if IsReserved(p) {
						t.Errorf("left a temporary file: %s", p)
					}
					if !fi.IsDir() && fi.Size() != int64(len(content)) {
						t.Errorf("%s is %d bytes, want %d", p, fi.Size(), len(content))
					}
					return nil
				})
			})
		}
	}
}

// TestCopyFileCancelledMidway cancels once the copy of a file has begun
// (its temporary file exists): the copy must notice before its content is
// complete, and neither the destination nor the temporary file may remain.
func TestCopyFileCancelledMidway(t *testing.T) {
	t.Parallel()
	for name, backend := range backends(t) {
		t.Run(name, func(t *testing.T) {
			afero.WriteFile(backend, "/big", make([]byte, copyChunk+1), 0o644)
			ctx, cancel := context.WithCancel(context.Background())
			fsys := NewFileSystem(cancelOnCreate{backend, cancel})
			err := fsys.CopyTree(ctx, "/big", "/copy", true, func(string, bool, int64, error) {})
			if !errors.Is(err, context.Canceled) {
				t.Errorf("CopyTree = %v, want context.Canceled", err)
			}
			infos, _ := afero.ReadDir(backend, "/")
			for _, fi := range infos {
				if fi.Name() != "big" {
					t.Errorf("left %s behind", fi.Name())
				}
			}
		})
	}
}

// cancelOnCreate cancels a context when a file is opened for writing.
type cancelOnCreate struct {
	afero.Fs
	cancel context.CancelFunc
}

func (c cancelOnCreate) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	if flag&os.O_CREATE != 0 {
		c.cancel()
	}
	return c.Fs.OpenFile(name, flag, perm)
}

// TestCopyReportsChunks checks that WithCopied hears of a large file's
// bytes chunk by chunk, and of every byte exactly once.
func TestCopyReportsChunks(t *testing.T) {
	t.Parallel()
	for name, backend := range backends(t) {
		t.Run(name, func(t *testing.T) {
			size := 2*copyChunk + 1
			afero.WriteFile(backend, "/big", make([]byte, size), 0o644)
			var calls []int64
			var sum int64
			ctx := WithCopied(context.Background(), func(n int64) {
				calls = append(calls, n)
				sum += n
			})
			var visited int64
			err := NewFileSystem(backend).CopyTree(ctx, "/big", "/copy", true, func(_ string, _ bool, n int64, err error) {
				visited += n
			})
			if err != nil {
				t.Fatal(err)
			}
			if sum != int64(size) || visited != int64(size) || len(calls) < 3 {
				t.Errorf("heard of %d bytes in %d calls, visit of %d; want %d in 3 or more", sum, len(calls), visited, size)
			}
		})
	}
}
