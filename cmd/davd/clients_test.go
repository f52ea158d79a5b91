package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// requireTool finds a client program from the Debian packages .ci/run
// installs. Locally a missing one skips the test; under CI it fails it.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed; .ci/run must install it", name)
		}
		t.Skipf("%s is not installed (apt-get install %s)", name, name)
	}
	return p
}

// TestCadaver drives the neon-based cadaver client through a session.
func TestCadaver(t *testing.T) {
	t.Parallel()
	bin := requireTool(t, "cadaver")
	dir := t.TempDir()
	base := startDavd(t, dir)
	cadaverSession(t, bin, base, false)
	if _, err := os.Stat(filepath.Join(dir, "dir1", "a.txt")); !os.IsNotExist(err) {
		t.Errorf("deleted file still on disk: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "dir1", "c.txt")); string(b) != "hello cadaver\n" {
		t.Errorf("moved file on disk: %q", b)
	}
}

// cadaverSession drives cadaver against url through the session every
// server must pass — collection, upload, copy, move, properties, lock and
// unlock (with a PUT under the lock when putUnderLock), download, delete,
// listing, then the extra commands — and fails the test when a command
// fails or the download differs.
func cadaverSession(t *testing.T, bin, url string, putUnderLock bool, extra ...string) {
	t.Helper()
	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "local.txt"), []byte("hello cadaver\n"), 0o644)
	cmds := []string{
		"mkcol dir1",
		"put local.txt dir1/a.txt",
		"copy dir1/a.txt dir1/b.txt",
		"move dir1/b.txt dir1/c.txt",
		"propset dir1/c.txt color blue",
		"propget dir1/c.txt color",
		"lock dir1/c.txt",
	}
	if putUnderLock {
		cmds = append(cmds, "put local.txt dir1/c.txt")
	}
	cmds = append(cmds, "unlock dir1/c.txt", "get dir1/c.txt fetched.txt", "delete dir1/a.txt", "ls dir1")
	cmds = append(append(cmds, extra...), "quit")
	cmd := exec.Command(bin, url+"/")
	cmd.Dir = work
	cmd.Stdin = strings.NewReader(strings.Join(cmds, "\n") + "\n")
	cmd.Env = append(os.Environ(), "HOME="+work) // no user .cadaverrc or .netrc
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cadaver: %v\n%s", err, out)
	}
	text := string(out)
	if n, want := strings.Count(text, "succeeded"), len(cmds)-2; n < want {
		t.Errorf("only %d cadaver commands succeeded, want %d:\n%s", n, want, text)
	}
	for _, want := range []string{"Value of color is: blue", "c.txt"} {
		if !strings.Contains(text, want) {
			t.Errorf("cadaver output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "failed") {
		t.Errorf("a cadaver command failed:\n%s", text)
	}
	if b, _ := os.ReadFile(filepath.Join(work, "fetched.txt")); string(b) != "hello cadaver\n" {
		t.Errorf("fetched %q", b)
	}
}

// rcloneAt returns a function running rclone with the WebDAV remote
// ":webdav:" at url and no configuration, failing the test when rclone
// fails (or, when strict, reports an ERROR it did not fail for).
func rcloneAt(t *testing.T, bin, url string, strict bool) func(args ...string) string {
	return func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append(args, "--webdav-url", url+"/", "--retries", "1", "--low-level-retries", "1")...)
		cmd.Env = append(os.Environ(), "RCLONE_CONFIG=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil || strict && strings.Contains(string(out), "ERROR") {
			t.Fatalf("rclone %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
}

// TestRclone round-trips a tree with the Debian rclone (built with Go
// 1.19, which also exercises the 102 cap on its client).
func TestRclone(t *testing.T) {
	t.Parallel()
	bin := requireTool(t, "rclone")
	base := startDavd(t, t.TempDir())
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "sub dir"), 0o755)
	files := map[string]string{"a.txt": "alpha", "b c.txt": "bravo charlie", "sub dir/déjà vu.txt": "deep", "sub dir/emoji 😀.bin": "\x00\x01\x02"}
	for name, content := range files {
		os.WriteFile(filepath.Join(src, name), []byte(content), 0o644)
	}
	rclone := rcloneAt(t, bin, base, false)
	rclone("copy", src, ":webdav:up")
	var listed []struct {
		Path  string
		Size  int64
		IsDir bool
	}
	if err := json.Unmarshal([]byte(rclone("lsjson", "-R", ":webdav:up")), &listed); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, e := range listed {
		if !e.IsDir {
			got[e.Path] = e.Size
		}
	}
	for name, content := range files {
		if got[name] != int64(len(content)) {
			t.Errorf("lsjson: %q size %d, want %d (listing %v)", name, got[name], len(content), got)
		}
	}
	// Change the source, sync, and check both sides agree.
	os.Remove(filepath.Join(src, "a.txt"))
	os.WriteFile(filepath.Join(src, "new.txt"), []byte("new"), 0o644)
	rclone("sync", src, ":webdav:up")
	if out := rclone("check", src, ":webdav:up"); !strings.Contains(out, "0 differences found") {
		t.Errorf("rclone check after sync:\n%s", out)
	}
	// A server-side move.
	rclone("moveto", ":webdav:up/new.txt", ":webdav:up/moved.txt")
	if out := rclone("lsf", "-R", ":webdav:up"); !strings.Contains(out, "moved.txt") || strings.Contains(out, "new.txt") || strings.Contains(out, "a.txt\n") {
		t.Errorf("listing after sync and move:\n%s", out)
	}
}
