package storage

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestCleanSubDir(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"": "", "/": "", "alice": "alice", "/home/alice/": "home/alice", "a//b": "a/b", "./a": "a",
	} {
		if got, err := CleanSubDir(in); err != nil || got != want {
			t.Errorf("CleanSubDir(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"..", "../x", "a/../../x", "a/../b", ".davd", "a/.davd/b", `a\b`, "a\x00"} {
		if got, err := CleanSubDir(bad); err == nil {
			t.Errorf("CleanSubDir(%q) = %q, want an error", bad, got)
		}
	}
}

// TestSubConfinement checks that a backend opened on a sub-directory
// cannot reach its siblings: not by name, and not through symbolic links
// planted inside it, absolute or relative, nor through a symlinked
// sub-directory that points outside the parent.
func TestSubConfinement(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	outside := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "bob"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "bob", "secret"), []byte("bob"), 0o644))
	must(os.MkdirAll(filepath.Join(dir, "alice"), 0o755))
	must(os.Symlink(filepath.Join(dir, "bob"), filepath.Join(dir, "alice", "abs")))
	must(os.Symlink("../bob", filepath.Join(dir, "alice", "rel")))
	must(os.Symlink("../bob/secret", filepath.Join(dir, "alice", "file")))
	must(os.Symlink(outside, filepath.Join(dir, "escape")))

	b, err := Open(dir, Options{})
	must(err)
	defer b.Close()
	a, err := b.Sub("alice")
	must(err)
	defer a.Close()
	if a.Dir != filepath.Join(dir, "alice") {
		t.Errorf("Dir = %q", a.Dir)
	}
	for _, name := range []string{"/abs/secret", "/rel/secret", "/file", "/../bob/secret", "../bob/secret"} {
		if _, err := a.Fs.Open(name); err == nil {
			t.Errorf("alice opened %s", name)
		}
	}
	if _, err := b.Sub("escape"); err == nil {
		t.Error("Sub followed a symlink out of the storage")
	}
	if _, err := b.Sub("../x"); err == nil {
		t.Error("Sub accepted ..")
	}
	// Missing sub-directories are created, unless read-only.
	n, err := b.Sub("new/deep")
	must(err)
	n.Close()
	if fi, err := os.Stat(filepath.Join(dir, "new", "deep")); err != nil || !fi.IsDir() {
		t.Errorf("sub-directory not created: %v", err)
	}
	ro, err := Open(dir, Options{ReadOnly: true})
	must(err)
	defer ro.Close()
	if _, err := ro.Sub("missing"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("read-only Sub of a missing directory: %v", err)
	}
	rs, err := ro.Sub("alice")
	must(err)
	defer rs.Close()
	if err := rs.Fs.Mkdir("/x", 0o755); err == nil {
		t.Error("read-only carried over: Mkdir succeeded")
	}

	m, err := Open("mem://", Options{})
	must(err)
	ms, err := m.Sub("alice")
	must(err)
	must(ms.Fs.Mkdir("/x", 0o755))
	if _, err := m.Fs.Stat("/alice/x"); err != nil {
		t.Errorf("memory sub-directory is not inside the parent: %v", err)
	}
	if _, err := ms.Fs.Stat("/../../alice/x"); err != nil {
		t.Errorf("cleaned name: %v", err)
	}
}
