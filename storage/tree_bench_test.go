package storage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkTree copies and removes a tree of 10,000 small files on disk;
// run it with -cpuprofile, or under strace -c -f to count system calls
// (cmd/davbench compares the same operations with cp -r and rm -rf).
func BenchmarkTree(b *testing.B) {
	dir := b.TempDir()
	for d := range 100 {
		sub := filepath.Join(dir, "src", fmt.Sprintf("d%03d", d))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range 100 {
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("file-%04d.txt", f)), []byte("1 KiB or so"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	rfs, err := NewRootFs(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer rfs.Close()
	fs := NewFileSystem(rfs)
	ctx := context.Background()
	var failed int
	visit := func(rel string, isDir bool, size int64, err error) {
		if err != nil {
			failed++
		}
	}
	for b.Loop() {
		if err := fs.CopyTree(ctx, "/src", "/dst", true, visit); err != nil {
			b.Fatal(err)
		}
		if err := fs.RemoveTree(ctx, "/dst", visit); err != nil {
			b.Fatal(err)
		}
		if failed > 0 {
			b.Fatalf("%d members failed", failed)
		}
	}
}
