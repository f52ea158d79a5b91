package storage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/afero"
)

// backends returns each kind of storage, freshly made, for table tests.
func backends(t *testing.T) map[string]afero.Fs {
	t.Helper()
	rfs, err := NewRootFs(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rfs.Close() })
	return map[string]afero.Fs{"root": rfs, "mem": NewMemFs()}
}

func TestRootFsConfinement(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{root, outside, filepath.Join(root, "in")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(t, filepath.Join(outside, "secret"), "secret")
	mustWrite(t, filepath.Join(root, "in", "ok"), "ok")
	links := map[string]string{
		"abs":       filepath.Join(outside, "secret"),
		"rel":       "../outside/secret",
		"absdir":    outside,
		"reldir":    "../outside",
		"in/deeper": "../../outside",
		"good":      "in/ok",
		"gooddir":   "in",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	fsys, err := NewRootFs(root)
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()

	escapes := []string{"abs", "rel", "absdir/secret", "reldir/secret", "in/deeper/secret"}
	for _, name := range escapes {
		if _, err := fsys.Open(name); !errors.Is(err, ErrOutsideRoot) {
			t.Errorf("Open(%q) = %v, want ErrOutsideRoot", name, err)
		}
		if _, err := fsys.Stat(name); !errors.Is(err, ErrOutsideRoot) {
			t.Errorf("Stat(%q) = %v, want ErrOutsideRoot", name, err)
		}
		if f, err := fsys.OpenFile(name, os.O_WRONLY|os.O_TRUNC, 0); err == nil {
			f.Close()
			t.Errorf("OpenFile(%q, write) succeeded", name)
		}
	}
	// Lexical climbing is clamped at the root.
	for _, name := range []string{"../outside/secret", "/../../outside/secret", "in/../../outside/secret"} {
		if _, err := fsys.Stat(name); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Stat(%q) = %v, want not-exist inside the root", name, err)
		}
	}
	if err := fsys.Rename("in/ok", "reldir/stolen"); err == nil {
		t.Error("Rename through an escaping link succeeded")
	}
	if err := fsys.RemoveAll("/"); err == nil {
		t.Error("RemoveAll of the root succeeded")
	}
	if got := readAll(t, fsys, "good"); got != "ok" {
		t.Errorf("link inside the root: got %q", got)
	}
	if got := readAll(t, fsys, "gooddir/ok"); got != "ok" {
		t.Errorf("directory link inside the root: got %q", got)
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "secret" {
		t.Errorf("outside file changed: %q", b)
	}
	if _, err := os.Stat(filepath.Join(outside, "stolen")); err == nil {
		t.Error("a file appeared outside the root")
	}
}

func TestRootFsKeepsOSFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "f"), "x")
	fsys, err := NewRootFs(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	f, err := NewFileSystem(fsys).OpenFile(context.Background(), "/f", os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// net/http uses sendfile only for *os.File (or a syscall.Conn).
	if _, ok := f.(*os.File); !ok {
		t.Fatalf("regular file came back as %T, not *os.File: sendfile and copy_file_range would be lost", f)
	}
}

// TestOpenStat checks that the description OpenStat returns is the
// opened resource's, for a file and for a collection.
func TestOpenStat(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "f"), "hello")
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	fsys, err := NewRootFs(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	fs := NewFileSystem(fsys)
	for _, tt := range []struct {
		name  string
		dir   bool
		size  int64
		isOS  bool // the backend's *os.File, for sendfile
		wrong bool
	}{
		{name: "/f", size: 5, isOS: true},
		{name: "/d", dir: true},
		{name: "/missing", wrong: true},
	} {
		f, fi, err := fs.OpenStat(context.Background(), tt.name, os.O_RDONLY, 0)
		if tt.wrong {
			if !errors.Is(err, os.ErrNotExist) || f != nil || fi != nil {
				t.Errorf("OpenStat(%s) = %v, %v, %v; want ErrNotExist", tt.name, f, fi, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("OpenStat(%s): %v", tt.name, err)
		}
		if fi.IsDir() != tt.dir || (!tt.dir && fi.Size() != tt.size) {
			t.Errorf("OpenStat(%s) described dir=%v size=%d", tt.name, fi.IsDir(), fi.Size())
		}
		if _, ok := f.(*os.File); ok != tt.isOS {
			t.Errorf("OpenStat(%s) returned %T", tt.name, f)
		}
		f.Close()
	}
}

func TestOpenURL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		url     string
		create  bool
		wantErr string
		check   func(*testing.T, *Backend)
	}{
		{url: "file://" + dir + "/a", create: true, check: func(t *testing.T, b *Backend) {
			if b.Dir != dir+"/a" {
				t.Errorf("Dir = %q", b.Dir)
			}
			if fi, err := os.Stat(dir + "/a"); err != nil || !fi.IsDir() {
				t.Errorf("directory not created: %v", err)
			}
		}},
		{url: "file://" + dir + "/missing", wantErr: "does not exist"},
		{url: dir + "/missing", wantErr: "does not exist"},
		{url: "file:" + dir + "/a", check: func(t *testing.T, b *Backend) {
			if b.Dir != dir+"/a" {
				t.Errorf("file:/abs/dir gave Dir = %q", b.Dir)
			}
		}},
		{url: "mem:", check: func(t *testing.T, b *Backend) {
			if _, ok := b.Fs.(*MemFs); !ok {
				t.Errorf("mem: gave %T", b.Fs)
			}
		}},
		{url: "file:a", create: true, wantErr: "not absolute"},
		{url: "mem:x", wantErr: "takes no host or path"},
		{url: "s3:bucket", create: true, wantErr: "neither a storage URL"},
		{url: "~/x", create: true, wantErr: "starts with ~"},
		{url: dir + "/a:b", check: func(t *testing.T, b *Backend) { // made below
			if b.Dir != dir+"/a:b" {
				t.Errorf("existing directory with a colon gave Dir = %q", b.Dir)
			}
		}},
		{url: dir + "/plain", create: true, check: func(t *testing.T, b *Backend) {
			if _, ok := b.Fs.(*RootFs); !ok {
				t.Errorf("plain path gave %T", b.Fs)
			}
		}},
		{url: "mem://", check: func(t *testing.T, b *Backend) {
			if _, ok := b.Fs.(*MemFs); !ok {
				t.Errorf("mem:// gave %T", b.Fs)
			}
		}},
		{url: "mem://?latency=20ms", check: func(t *testing.T, b *Backend) {
			start := time.Now()
			b.Fs.Stat("/")
			if d := time.Since(start); d < 20*time.Millisecond {
				t.Errorf("Stat took %s with latency=20ms", d)
			}
		}},
		{url: "file://" + dir + "/ro?latency=1ms", create: true, check: func(t *testing.T, b *Backend) {}},
		{url: "ftp://host/dir", wantErr: `unknown scheme "ftp"`},
		{url: "s3://bucket?endpoint=127.0.0.1:9000", wantErr: "not an http:// or https:// URL"},
		{url: "s3://bucket?color=red", wantErr: `unknown option "color"`},
		{url: "s3://key:secret@bucket", wantErr: "must not carry credentials"},
		{url: "mem://?latency=fast", wantErr: "latency"},
		{url: "mem://?latency=-1s", wantErr: "latency"},
		{url: "mem://?color=red", wantErr: `unknown option "color"`},
		{url: "mem://host/path", wantErr: "takes no host"},
		{url: "file://example.com/x", wantErr: "names host"},
		{url: "", wantErr: "empty"},
	}
	if err := os.Mkdir(dir+"/a:b", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			b, err := Open(tt.url, Options{Create: tt.create})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Open(%q) error = %v, want it to mention %q", tt.url, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open(%q): %v", tt.url, err)
			}
			defer b.Close()
			tt.check(t, b)
		})
	}
}

func TestOpenReadOnly(t *testing.T) {
	t.Parallel()
	b, err := Open("mem://", Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Fs.Mkdir("/x", 0o755); err == nil {
		t.Error("Mkdir on read-only storage succeeded")
	}
}

func TestIsReserved(t *testing.T) {
	t.Parallel()
	tests := map[string]bool{
		"/":                     false,
		"/.davd":                true,
		"/.davd/state.db":       true,
		".davd":                 true,
		"/a/.davd":              true,
		"/a/.davd-tmp-abc":      true,
		"/.davdx":               false,
		"/a/b/c.txt":            false,
		"/.davd-tmp-1/x":        true,
		"/notes.davd-tmp-1.txt": false,
	}
	for name, want := range tests {
		if got := IsReserved(name); got != want {
			t.Errorf("IsReserved(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestFileSystemHidesReserved(t *testing.T) {
	t.Parallel()
	for kind, base := range backends(t) {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			base.MkdirAll("/.davd", 0o755)
			afero.WriteFile(base, "/.davd-tmp-123", []byte("partial"), 0o644)
			afero.WriteFile(base, "/visible", []byte("v"), 0o644)
			fsys := NewFileSystem(base)
			for _, name := range []string{"/.davd", "/.davd/x", "/.davd-tmp-123"} {
				if _, err := fsys.Stat(ctx, name); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("Stat(%q) = %v, want not-exist", name, err)
				}
				if _, err := fsys.OpenFile(ctx, name, os.O_RDONLY, 0); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("OpenFile(%q) = %v, want not-exist", name, err)
				}
				if err := fsys.Mkdir(ctx, name, 0o755); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("Mkdir(%q) = %v, want not-exist", name, err)
				}
				if err := fsys.RemoveAll(ctx, name); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("RemoveAll(%q) = %v, want not-exist", name, err)
				}
			}
			if err := fsys.Rename(ctx, "/visible", "/.davd/stolen"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Rename into reserved = %v", err)
			}
			dir, err := fsys.OpenFile(ctx, "/", os.O_RDONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer dir.Close()
			infos, err := dir.Readdir(0)
			if err != nil {
				t.Fatal(err)
			}
			if len(infos) != 1 || infos[0].Name() != "visible" {
				var names []string
				for _, fi := range infos {
					names = append(names, fi.Name())
				}
				t.Errorf("listing = %v, want [visible]", names)
			}
			if _, err := base.Stat("/.davd"); err != nil {
				t.Errorf("reserved directory removed: %v", err)
			}
		})
	}
}

func TestReaddirBatchesSkipReserved(t *testing.T) {
	t.Parallel()
	base := afero.NewMemMapFs()
	afero.WriteFile(base, "/.davd-tmp-1", nil, 0o644)
	afero.WriteFile(base, "/.davd-tmp-2", nil, 0o644)
	afero.WriteFile(base, "/z", nil, 0o644)
	dir, err := NewFileSystem(base).OpenFile(context.Background(), "/", os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	var names []string
	for {
		infos, err := dir.Readdir(1)
		for _, fi := range infos {
			names = append(names, fi.Name())
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(infos) == 0 {
			t.Fatal("Readdir(1) returned an empty batch without io.EOF")
		}
	}
	if len(names) != 1 || names[0] != "z" {
		t.Errorf("names = %v, want [z]", names)
	}
}

// failingReader yields n bytes, then fails as a dropped connection does.
type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	k := min(len(p), f.n)
	for i := range k {
		p[i] = 'N'
	}
	f.n -= k
	return k, nil
}

func TestWriteAtomic(t *testing.T) {
	t.Parallel()
	for kind, base := range backends(t) {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			fsys := NewFileSystem(base)
			base.Mkdir("/col", 0o755)

			res, err := fsys.WriteAtomic(ctx, "/f", strings.NewReader("old"), 0o644, -1)
			if err != nil || !res.Created || res.Size != 3 {
				t.Fatalf("first write: %+v, %v", res, err)
			}
			res, err = fsys.WriteAtomic(ctx, "/f", strings.NewReader("newer"), 0o644, -1)
			if err != nil || res.Created || res.Size != 5 {
				t.Fatalf("replace: %+v, %v", res, err)
			}
			if got := readAll(t, base, "/f"); got != "newer" {
				t.Errorf("content = %q", got)
			}

			_, err = fsys.WriteAtomic(ctx, "/f", &failingReader{n: 100000}, 0o644, -1)
			if !errors.Is(err, ErrIncompleteBody) {
				t.Errorf("failed upload error = %v, want ErrIncompleteBody", err)
			}
			if got := readAll(t, base, "/f"); got != "newer" {
				t.Errorf("after failed upload content = %q, want the old content", got)
			}

			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if _, err := fsys.WriteAtomic(cctx, "/f", bytes.NewReader(make([]byte, 10)), 0o644, -1); !errors.Is(err, context.Canceled) {
				t.Errorf("cancelled write error = %v", err)
			}
			if got := readAll(t, base, "/f"); got != "newer" {
				t.Errorf("after cancelled upload content = %q", got)
			}

			if _, err := fsys.WriteAtomic(ctx, "/missing/f", strings.NewReader("x"), 0o644, -1); !errors.Is(err, ErrNoParent) {
				t.Errorf("missing parent error = %v", err)
			}
			if _, err := fsys.WriteAtomic(ctx, "/f/child", strings.NewReader("x"), 0o644, -1); !errors.Is(err, ErrNoParent) {
				t.Errorf("file parent error = %v", err)
			}
			if _, err := fsys.WriteAtomic(ctx, "/col", strings.NewReader("x"), 0o644, -1); !errors.Is(err, ErrIsCollection) {
				t.Errorf("collection target error = %v", err)
			}
			if _, err := fsys.WriteAtomic(ctx, "/.davd-tmp-x", strings.NewReader("x"), 0o644, -1); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("reserved target error = %v", err)
			}
			names, _ := afero.ReadDir(base, "/")
			for _, fi := range names {
				if strings.HasPrefix(fi.Name(), tempPrefix) {
					t.Errorf("temporary file left behind: %s", fi.Name())
				}
			}
		})
	}
}

func mustWrite(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readAll(t *testing.T, fsys afero.Fs, name string) string {
	t.Helper()
	b, err := afero.ReadFile(fsys, name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return string(b)
}

// TestCopyTreeLinkLoop copies a tree holding a link back to its own top:
// the link is reported as a loop once instead of being copied forever,
// and everything else is copied.
func TestCopyTreeLinkLoop(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, d := range []string{"src/a/b", "src/c"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "src/a/b/f"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../..", filepath.Join(dir, "src/a/b/top")); err != nil {
		t.Fatal(err)
	}
	rfs, err := NewRootFs(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rfs.Close() })
	fs := NewFileSystem(rfs)
	var loops []string
	err = fs.CopyTree(context.Background(), "/src", "/dst", true, func(rel string, isDir bool, size int64, err error) {
		switch {
		case errors.Is(err, ErrLoop):
			loops = append(loops, rel)
		case err != nil:
			t.Errorf("%s: %v", rel, err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(loops) != 1 || loops[0] != "a/b/top" {
		t.Errorf("loops reported: %q, want [a/b/top]", loops)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "dst/a/b/f")); err != nil || string(got) != "data" {
		t.Errorf("dst/a/b/f = %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "dst/c")); err != nil {
		t.Errorf("dst/c: %v", err)
	}
}
