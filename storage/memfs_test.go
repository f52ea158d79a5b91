package storage

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/spf13/afero"
)

// TestMemListingWhileRemoving lists a memory collection of more than one
// batch while its members are removed, as a PROPFIND Depth 1 racing a
// DELETE does. afero's in-memory directory panicked on the shrunken
// directory while holding its lock, and every later call touching the
// collection hung: the listing must neither panic nor block what follows.
func TestMemListingWhileRemoving(t *testing.T) {
	t.Parallel()
	b, err := Open("mem://", Options{})
	if err != nil {
		t.Fatal(err)
	}
	fsys := b.FileSystem()
	ctx := context.Background()
	if err := b.Fs.Mkdir("/dir", 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range listBatch + 200 {
		if err := afero.WriteFile(b.Fs, fmt.Sprintf("/dir/f%05d", i), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	listed := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				listed <- fmt.Errorf("panic: %v", p)
			}
		}()
		first := true
		listed <- fsys.ListDir(ctx, "/dir", func(batch []os.FileInfo) error {
			if first { // the members go while the listing is half way
				first = false
				for _, fi := range batch {
					fi.Name()
				}
				for i := range listBatch + 200 {
					if err := b.Fs.Remove(fmt.Sprintf("/dir/f%05d", i)); err != nil {
						return err
					}
				}
			}
			return nil
		})
	}()
	select {
	case err := <-listed:
		if err != nil {
			t.Errorf("listing: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the listing hangs")
	}
	done := make(chan error, 1)
	go func() {
		if err := b.Fs.MkdirAll("/dir/again", 0o755); err != nil {
			done <- err
			return
		}
		fi, err := fsys.Stat(ctx, "/dir")
		if err == nil {
			fi.ModTime()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("after the listing: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the storage hangs after the listing")
	}
}
