package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/spf13/afero"
)

// halfDone is a source tree and a destination that an interrupted copy
// left half done, on one backend. dir is the directory of directory
// storage ("" for memory), outside a file beside it that links in the
// destination point to.
type halfDone struct {
	base    afero.Fs
	fsys    *FileSystem
	dir     string
	outside string
	keptID  [2]uint64 // the inode of /dst/a, kept by a resume
}

// srcFiles is the content of the source tree, as seen through its links.
var srcFiles = map[string]string{
	"a":          "aaaa",
	"b":          "bbbbbb",
	"x":          "a file where dst has a collection",
	"ln":         "linked target file",
	"sub/c":      "cc",
	"sub/deep/d": "ddd",
}

// newHalfDone builds, on backend name ("root" or "mem"):
//
//	/src/a, b, x, sub/c, sub/deep/d, and ln (a link to /t/target on
//	directory storage, a file on memory)
//	/dst/a   the same size as /src/a, other content: to be kept
//	/dst/b   another size: to be replaced
//	/dst/x/  a collection where the source has a file: to be replaced
//	/dst/ln  a link to a file outside the storage (directory storage)
//	/dst/sub a link to /victim, a collection outside dst (directory
//	         storage); missing on memory
func newHalfDone(t *testing.T, name string) *halfDone {
	t.Helper()
	h := &halfDone{}
	if name == "root" {
		top := t.TempDir()
		h.dir, h.outside = filepath.Join(top, "root"), filepath.Join(top, "secret")
		mustWrite(t, h.outside, "secret")
		writeTree(t, h.dir, "t/target", "victim/v")
		mustWrite(t, filepath.Join(h.dir, "t/target"), srcFiles["ln"])
		rfs, err := NewRootFs(h.dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rfs.Close() })
		h.base = rfs
	} else {
		h.base = NewMemFs()
	}
	for rel, content := range srcFiles {
		if rel == "ln" && h.dir != "" {
			continue
		}
		h.write(t, "/src/"+rel, content)
	}
	h.write(t, "/dst/a", "AAAA")
	h.write(t, "/dst/b", "x")
	h.write(t, "/dst/x/inner", "stale")
	if h.dir != "" {
		for link, target := range map[string]string{"src/ln": "../t/target", "dst/ln": h.outside, "dst/sub": "../victim"} {
			if err := os.Symlink(target, filepath.Join(h.dir, link)); err != nil {
				t.Fatal(err)
			}
		}
		fi, err := os.Lstat(filepath.Join(h.dir, "dst/a"))
		if err != nil {
			t.Fatal(err)
		}
		dev, ino, _ := FileID(fi)
		h.keptID = [2]uint64{dev, ino}
	}
	h.fsys = NewFileSystem(h.base)
	return h
}

func (h *halfDone) write(t *testing.T, name, content string) {
	t.Helper()
	if err := h.base.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := afero.WriteFile(h.base, name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// check verifies that /dst holds the copy: /dst/a kept as it was (its
// other content and, on directory storage, its inode), the rest equal to
// the source, no link left in dst, nothing outside dst written.
func (h *halfDone) check(t *testing.T) {
	t.Helper()
	for rel, want := range srcFiles {
		if rel == "a" {
			want = "AAAA" // kept, not rewritten
		}
		if h.dir != "" {
			fi, err := os.Lstat(filepath.Join(h.dir, "dst", rel))
			if err != nil || !fi.Mode().IsRegular() {
				t.Errorf("/dst/%s is not a regular file: %v", rel, err)
				continue
			}
		}
		got, err := afero.ReadFile(h.base, "/dst/"+rel)
		if err != nil || string(got) != want {
			t.Errorf("/dst/%s = %q, %v; want %q", rel, got, err, want)
		}
	}
	if _, err := h.base.Stat("/dst/x/inner"); err == nil {
		t.Errorf("the collection at /dst/x stayed: %v", err)
	}
	if h.dir == "" {
		return
	}
	fi, err := os.Lstat(filepath.Join(h.dir, "dst/a"))
	if err != nil {
		t.Fatal(err)
	}
	if dev, ino, _ := FileID(fi); [2]uint64{dev, ino} != h.keptID {
		t.Error("/dst/a, complete already, was written again (a new inode)")
	}
	if fi, err := os.Lstat(filepath.Join(h.dir, "dst/sub")); err != nil || !fi.IsDir() {
		t.Errorf("/dst/sub is not a real collection: %v", err)
	}
	if b, _ := os.ReadFile(h.outside); string(b) != "secret" {
		t.Errorf("the file outside the storage was written through a link: %q", b)
	}
	if names, _ := os.ReadDir(filepath.Join(h.dir, "victim")); len(names) != 1 {
		t.Errorf("the collection a link in dst pointed to was written: %v", names)
	}
	filepath.Walk(filepath.Join(h.dir, "dst"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && IsReserved(filepath.Base(p)) {
			t.Errorf("left a temporary file: %s", p)
		}
		return nil
	})
}

// recorder collects what a tree operation reports; safe for concurrent
// use.
type recorder struct {
	mu     sync.Mutex
	sizes  map[string]int64
	failed map[string]error
}

func newRecorder() *recorder {
	return &recorder{sizes: map[string]int64{}, failed: map[string]error{}}
}

func (r *recorder) visit(rel string, isDir bool, size int64, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.failed[rel] = err
		return
	}
	r.sizes[rel] = size
}

// TestResumeCopy resumes a copy over a half done destination, on
// directory and memory storage: complete files are kept and reported,
// the rest copied or replaced, links in dst replaced and never followed,
// and WithCopied hears only of the bytes copied.
func TestResumeCopy(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"root", "mem"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHalfDone(t, name)
			var mu sync.Mutex
			var copied int64
			ctx := WithCopied(context.Background(), func(n int64) {
				mu.Lock()
				copied += n
				mu.Unlock()
			})
			r := newRecorder()
			if err := h.fsys.ResumeCopy(ctx, "/src", "/dst", r.visit); err != nil {
				t.Fatal(err)
			}
			if len(r.failed) != 0 {
				t.Errorf("failures: %v", r.failed)
			}
			var want int64
			for rel, content := range srcFiles {
				if r.sizes[rel] != int64(len(content)) {
					t.Errorf("%s reported with size %d (present %v), want %d", rel, r.sizes[rel], r.sizes, len(content))
				}
				if rel != "a" {
					want += int64(len(content))
				}
			}
			for _, rel := range []string{"", "sub", "sub/deep"} {
				if _, ok := r.sizes[rel]; !ok {
					t.Errorf("collection %q not reported", rel)
				}
			}
			if copied != want {
				t.Errorf("WithCopied heard of %d bytes, want %d (the kept file's excluded)", copied, want)
			}
			h.check(t)
			// Resuming a finished copy copies nothing.
			copied = 0
			if err := h.fsys.ResumeCopy(ctx, "/src", "/dst", func(string, bool, int64, error) {}); err != nil || copied != 0 {
				t.Errorf("second resume: %v, copied %d bytes", err, copied)
			}
		})
	}
}

// TestResumeCopyFile resumes the copy of a lone file: kept at the same
// size, replaced at another, and a link at its name replaced as a link.
func TestResumeCopyFile(t *testing.T) {
	t.Parallel()
	h := newHalfDone(t, "root")
	ctx := context.Background()
	for dst, want := range map[string]string{"/dst/a": "AAAA", "/dst/b": "aaaa", "/dst/ln": "aaaa", "/dst/new": "aaaa"} {
		var size int64
		if err := h.fsys.ResumeCopy(ctx, "/src/a", dst, func(_ string, _ bool, n int64, _ error) { size = n }); err != nil {
			t.Fatalf("%s: %v", dst, err)
		}
		if got, _ := afero.ReadFile(h.base, dst); string(got) != want || size != 4 {
			t.Errorf("%s = %q, reported %d bytes; want %q, 4", dst, got, size, want)
		}
	}
	if b, _ := os.ReadFile(h.outside); string(b) != "secret" {
		t.Errorf("the file outside the storage was written through a link: %q", b)
	}
}

// TestResumeMove resumes a move over a half done destination: dst ends
// as ResumeCopy leaves it, and src is gone (its links as links: what they
// point at stays).
func TestResumeMove(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"root", "mem"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHalfDone(t, name)
			r := newRecorder()
			if err := h.fsys.ResumeMove(context.Background(), "/src", "/dst", r.visit); err != nil {
				t.Fatal(err)
			}
			if len(r.failed) != 0 {
				t.Errorf("failures: %v", r.failed)
			}
			for rel := range srcFiles {
				if _, ok := r.sizes[rel]; !ok {
					t.Errorf("%s not reported", rel)
				}
			}
			h.check(t)
			if _, _, err := lstat(h.base, "/src"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the source is still there: %v", err)
			}
			if h.dir != "" {
				if b, _ := os.ReadFile(filepath.Join(h.dir, "t/target")); string(b) != srcFiles["ln"] {
					t.Errorf("the target of a link in src was removed: %q", b)
				}
			}
			if err := h.fsys.ResumeMove(context.Background(), "/dst", "/dst/in", r.visit); err == nil {
				t.Error("a move into itself was accepted")
			}
		})
	}
}

// TestResumeMoveKeepsSourceOnFailure: a member that cannot be copied is
// reported, and the source stays whole.
func TestResumeMoveKeepsSourceOnFailure(t *testing.T) {
	t.Parallel()
	mem := NewMemFs()
	for _, f := range []string{"/src/ok", "/src/sub/poison", "/src/sub/fine"} {
		mem.MkdirAll(filepath.Dir(f), 0o755)
		afero.WriteFile(mem, f, []byte(f), 0o644)
	}
	fsys := NewFileSystem(refusingOpen{mem, "poison"})
	r := newRecorder()
	if err := fsys.ResumeMove(context.Background(), "/src", "/dst", r.visit); err != nil {
		t.Fatal(err)
	}
	if len(r.failed) != 1 || r.failed["sub/poison"] == nil {
		t.Errorf("failures %v, want sub/poison", r.failed)
	}
	for _, f := range []string{"/src/ok", "/src/sub/poison", "/src/sub/fine", "/dst/ok", "/dst/sub/fine"} {
		if b, err := afero.ReadFile(mem, f); err != nil || !strings.HasSuffix(f, strings.TrimPrefix(string(b), "/src")) {
			t.Errorf("%s: %q, %v", f, b, err)
		}
	}
}

// refusingOpen fails to open files whose name contains poison.
type refusingOpen struct {
	afero.Fs
	poison string
}

func (r refusingOpen) Open(name string) (afero.File, error) {
	if strings.Contains(name, r.poison) {
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EIO}
	}
	return r.Fs.Open(name)
}
