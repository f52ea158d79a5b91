package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// treeSpec describes a generated tree: a root directory with Fanout
// subdirectories, each with Fanout subdirectories, Depth levels deep, and
// FilesPerLeaf files of FileSize bytes in every deepest directory. Depth 0
// is one flat directory holding all the files.
type treeSpec struct {
	Name         string // directory name under the served root, e.g. "t100k"
	Label        string // what the table calls it, e.g. "100k tree"
	Fanout       int
	Depth        int
	FilesPerLeaf int
	FileSize     int
}

// The trees the benchmark uses. The 100k tree is the one the targets name:
// 10 × 10 × 10 leaf directories of 100 files, 1,110 directories + root.
var (
	tree10k  = treeSpec{Name: "t10k", Label: "10k tree", Fanout: 10, Depth: 2, FilesPerLeaf: 100, FileSize: 1024}
	tree100k = treeSpec{Name: "t100k", Label: "100k tree", Fanout: 10, Depth: 3, FilesPerLeaf: 100, FileSize: 1024}
	tree1M   = treeSpec{Name: "t1m", Label: "1M tree", Fanout: 10, Depth: 4, FilesPerLeaf: 100, FileSize: 1024}
	flat100k = treeSpec{Name: "flat100k", Label: "100k-entry dir", Fanout: 1, Depth: 0, FilesPerLeaf: 100000, FileSize: 1024}
)

// Leaves is the number of deepest directories (1 for a flat tree).
func (t treeSpec) Leaves() int {
	n := 1
	for range t.Depth {
		n *= t.Fanout
	}
	return n
}

// Dirs is the number of directories, the root included.
func (t treeSpec) Dirs() int {
	n, level := 0, 1
	for range t.Depth + 1 {
		n += level
		level *= t.Fanout
	}
	return n
}

// Files is the number of regular files.
func (t treeSpec) Files() int { return t.Leaves() * t.FilesPerLeaf }

// Entries is the number of resources a PROPFIND Depth: infinity on the root
// reports: every directory (the root included) and every file.
func (t treeSpec) Entries() int { return t.Dirs() + t.Files() }

// RootChildren is the number of entries directly in the root.
func (t treeSpec) RootChildren() int {
	if t.Depth == 0 {
		return t.FilesPerLeaf
	}
	return t.Fanout
}

// width is the number of decimal digits needed for names 0..n-1.
func width(n int) int {
	return len(strconv.Itoa(max(n-1, 0)))
}

// leafDirs lists the deepest directories of t, relative to its root, in a
// fixed order. The root itself is the only leaf of a flat tree.
func (t treeSpec) leafDirs() []string {
	dirs := []string{"."}
	w := width(t.Fanout)
	for range t.Depth {
		next := make([]string, 0, len(dirs)*t.Fanout)
		for _, d := range dirs {
			for i := range t.Fanout {
				next = append(next, filepath.Join(d, fmt.Sprintf("d%0*d", w, i)))
			}
		}
		dirs = next
	}
	return dirs
}

// fileName is the name of the i-th file of a leaf. The .txt extension lets
// a server take getcontenttype from the name rather than the content.
func (t treeSpec) fileName(i int) string {
	return fmt.Sprintf("f%0*d.txt", width(t.FilesPerLeaf), i)
}

// fileContent is FileSize bytes of deterministic ASCII text.
func fileContent(size int) []byte {
	const line = "davbench: a file of the generated benchmark tree, plain text.\n"
	b := []byte(strings.Repeat(line, size/len(line)+1)[:size])
	if size > 0 {
		b[size-1] = '\n'
	}
	return b
}

// generateTree creates the tree t as the directory top, which must not
// exist yet. Files are written by a few goroutines in chunks of at most
// 1,000. It makes the pristine trees and, untimed, the fresh victims of
// DELETE and sources of MOVE: written from memory, a fresh tree costs a
// fraction of a `cp -r`, which must read its source back.
func generateTree(ctx context.Context, top string, t treeSpec) error {
	if err := os.Mkdir(top, 0o755); err != nil {
		return fmt.Errorf("generate %s: %w", t.Label, err)
	}
	type chunk struct {
		dir      string
		from, to int
	}
	var chunks []chunk
	for _, leaf := range t.leafDirs() {
		dir := filepath.Join(top, leaf)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("generate %s: %w", t.Label, err)
		}
		for from := 0; from < t.FilesPerLeaf; from += 1000 {
			chunks = append(chunks, chunk{dir, from, min(from+1000, t.FilesPerLeaf)})
		}
	}
	content := fileContent(t.FileSize)
	work := make(chan chunk)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for range 2 * runtime.NumCPU() {
		wg.Go(func() {
			for c := range work {
				for i := c.from; i < c.to; i++ {
					if err := os.WriteFile(filepath.Join(c.dir, t.fileName(i)), content, 0o644); err != nil {
						select {
						case errc <- err:
						default:
						}
						return
					}
				}
			}
		})
	}
	var err error
feed:
	for _, c := range chunks {
		select {
		case work <- c:
		case err = <-errc:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errc:
		default:
		}
	}
	if err != nil {
		return fmt.Errorf("generate %s: %w", t.Label, err)
	}
	return nil
}

// writeFile creates a file of size bytes of repeated text, for the GET and
// PUT rows.
func writeFile(name string, size int64) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	chunk := fileContent(1 << 20)
	for left := size; left > 0; {
		n := min(left, int64(len(chunk)))
		if _, err := f.Write(chunk[:n]); err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", name, err)
		}
		left -= n
	}
	return f.Close()
}

// countTree counts the directories (dir included) and regular files under
// dir, for checking what a COPY or MOVE produced.
func countTree(dir string) (dirs, files int, err error) {
	err = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			dirs++
		case d.Type().IsRegular():
			files++
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("count %s: %w", dir, err)
	}
	return dirs, files, nil
}

// checkTree fails unless dir holds exactly the directories and files of t.
func checkTree(dir string, t treeSpec) error {
	dirs, files, err := countTree(dir)
	if err != nil {
		return err
	}
	if dirs != t.Dirs() || files != t.Files() {
		return fmt.Errorf("%s has %d directories and %d files, want %d and %d", dir, dirs, files, t.Dirs(), t.Files())
	}
	return nil
}

// exists reports whether name exists (without following a final symlink).
func exists(name string) (bool, error) {
	_, err := os.Lstat(name)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, err
}

// removeTree removes name and everything below it, if it exists, untimed.
// Subtrees are removed by a few goroutines, which overlaps the disk reads
// of a cold tree.
func removeTree(ctx context.Context, name string) error {
	if ok, err := exists(name); err != nil || !ok {
		return err
	}
	// Expand the top levels into enough independent pieces of work.
	type entry struct {
		path string
		dir  bool
	}
	var dirs []string // to remove last, deepest first
	tasks := []entry{{name, true}}
	for depth := 0; depth < 3 && len(tasks) < 256; depth++ {
		var next []entry
		for _, t := range tasks {
			if !t.dir {
				next = append(next, t)
				continue
			}
			ents, err := os.ReadDir(t.path)
			if err != nil {
				return fmt.Errorf("remove %s: %w", name, err)
			}
			dirs = append(dirs, t.path)
			for _, e := range ents {
				next = append(next, entry{filepath.Join(t.path, e.Name()), e.IsDir()})
			}
		}
		tasks = next
	}
	work := make(chan string)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for range 4 * runtime.NumCPU() {
		wg.Go(func() {
			for p := range work {
				if err := os.RemoveAll(p); err != nil {
					select {
					case errc <- err:
					default:
					}
				}
			}
		})
	}
	for _, t := range tasks {
		if ctx.Err() != nil {
			break
		}
		work <- t.path
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errc:
		return fmt.Errorf("remove %s: %w", name, err)
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Remove(dirs[i]); err != nil {
			return fmt.Errorf("remove %s: %w", name, err)
		}
	}
	return nil
}

// warmTree stats every entry under dir and, with contents, reads every
// file, untimed, so that each side of a comparison starts with the same
// warm cache. (A VM whose kernel pages out idle page cache, as DAMON does,
// otherwise hands a cold tree to whichever side comes first.)
func warmTree(ctx context.Context, dir string, contents bool) error {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if _, err := d.Info(); err != nil {
			return err
		}
		if contents && d.Type().IsRegular() {
			files = append(files, p)
		}
		return ctx.Err()
	})
	if err != nil {
		return fmt.Errorf("warm %s: %w", dir, err)
	}
	return warmFiles(ctx, files)
}

// warmFiles reads the files, a few at a time.
func warmFiles(ctx context.Context, files []string) error {
	work := make(chan string)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for range 4 * runtime.NumCPU() {
		wg.Go(func() {
			buf := make([]byte, 1<<20)
			for p := range work {
				if err := readAll(p, buf); err != nil {
					select {
					case errc <- err:
					default:
					}
				}
			}
		})
	}
	for _, f := range files {
		if ctx.Err() != nil {
			break
		}
		work <- f
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errc:
		return fmt.Errorf("warm: %w", err)
	default:
	}
	return ctx.Err()
}

// readAll reads the file name to the end through buf.
func readAll(name string, buf []byte) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	for {
		_, err := f.Read(buf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// syncSettle flushes every filesystem and waits d, so that write-back left
// by the previous step does not land in the next timed one.
func syncSettle(ctx context.Context, d time.Duration) error {
	syncAll()
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
