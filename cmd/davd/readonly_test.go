package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fsSnapshot describes every entry under dir: name, mode, size, modification
// time and, for files, content. A file created, removed, written or
// touched changes it, and so does its directory.
func fsSnapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(&b, "%q %v %d %d", rel, fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() {
			c, _ := os.ReadFile(p)
			fmt.Fprintf(&b, " %x", c)
		}
		b.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// readSession is what a client of a read-only share does: OPTIONS, GET,
// HEAD, PROPFIND at every depth, and every write, which is refused. It
// checks that OPTIONS advertises only what a read-only server answers.
func readSession(t *testing.T, base string) {
	t.Helper()
	resp, _ := request(t, "OPTIONS", base+"/", nil, "")
	if dav := resp.Header.Get("DAV"); dav != "1" {
		t.Errorf("read-only OPTIONS: DAV %q, want class 1 only (no LOCK)", dav)
	}
	allow := strings.Split(strings.ReplaceAll(resp.Header.Get("Allow"), " ", ""), ",")
	for _, m := range []string{"OPTIONS", "GET", "HEAD", "PROPFIND"} {
		if !slices.Contains(allow, m) {
			t.Errorf("read-only Allow %q lacks %s", allow, m)
		}
	}
	for _, m := range []string{"PUT", "DELETE", "MKCOL", "COPY", "MOVE", "PROPPATCH", "LOCK", "UNLOCK"} {
		if slices.Contains(allow, m) {
			t.Errorf("read-only Allow %q offers %s", allow, m)
		}
	}
	if resp, body := request(t, "GET", base+"/doc.txt", nil, ""); resp.StatusCode != 200 || body != "content" {
		t.Errorf("GET = %d %q", resp.StatusCode, body)
	}
	if resp, _ := request(t, "HEAD", base+"/dir/f", nil, ""); resp.StatusCode != 200 {
		t.Errorf("HEAD = %d", resp.StatusCode)
	}
	for _, depth := range []string{"0", "1", "infinity"} {
		if resp, _ := request(t, "PROPFIND", base+"/", map[string]string{"Depth": depth}, ""); resp.StatusCode != 207 {
			t.Errorf("PROPFIND Depth %s = %d", depth, resp.StatusCode)
		}
	}
	if _, body := request(t, "PROPFIND", base+"/doc.txt", map[string]string{"Depth": "0"}, ""); !strings.Contains(body, "Ada</Z:author>") {
		t.Errorf("PROPFIND lacks the dead property:\n%s", body)
	}
	dest := map[string]string{"Destination": base + "/copy"}
	for _, m := range []string{"PUT", "DELETE", "MKCOL", "COPY", "MOVE", "PROPPATCH", "LOCK", "UNLOCK"} {
		if resp, _ := request(t, m, base+"/doc.txt", dest, ""); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s = %d, want 403", m, resp.StatusCode)
		}
	}
}

// TestReadOnlyWritesNothing: davd --read-only creates, writes and
// touches nothing, even where it could: on a writable tree with a state
// (SQLite used to leave state.db-wal and state.db-shm), on one whose
// state lost its lock file (it was created), on one without a state (no
// .davd), on a read-only bind mount; and a missing directory is refused,
// not created. A writable server's OPTIONS still offers everything.
func TestReadOnlyWritesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	base, stop := launchDavd(t, "--create", data)
	if resp, _ := request(t, "OPTIONS", base+"/", nil, ""); resp.Header.Get("DAV") != "1, 2" || !strings.Contains(resp.Header.Get("Allow"), "LOCK") {
		t.Errorf("writable OPTIONS: DAV %q, Allow %q", resp.Header.Get("DAV"), resp.Header.Get("Allow"))
	}
	request(t, "PUT", base+"/doc.txt", nil, "content")
	request(t, "MKCOL", base+"/dir", nil, "")
	request(t, "PUT", base+"/dir/f", nil, "f")
	if resp, _ := request(t, "PROPPATCH", base+"/doc.txt", nil,
		`<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:author>Ada</Z:author></D:prop></D:set></D:propertyupdate>`); resp.StatusCode != 207 {
		t.Fatalf("PROPPATCH = %d", resp.StatusCode)
	}
	stop()
	plain := filepath.Join(dir, "plain") // a tree that never had a state
	writeFile(t, filepath.Join(plain, "doc.txt"), "content")
	writeFile(t, filepath.Join(plain, "dir", "f"), "f")
	if _, err := os.Stat(filepath.Join(data, ".davd", "state.db")); err != nil {
		t.Fatal(err)
	}

	session := func(t *testing.T, root string, withState bool) {
		t.Helper()
		before := fsSnapshot(t, dir)
		base, stop := launchDavd(t, "--read-only", root)
		if withState {
			readSession(t, base)
		} else if resp, body := request(t, "GET", base+"/dir/f", nil, ""); resp.StatusCode != 200 || body != "f" {
			t.Errorf("GET = %d %q", resp.StatusCode, body)
		}
		stop()
		if after := fsSnapshot(t, dir); after != before {
			t.Errorf("a read-only session changed the tree:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	}
	t.Run("writable tree with state", func(t *testing.T) { session(t, data, true) })
	t.Run("state without its lock file", func(t *testing.T) {
		if err := os.Remove(filepath.Join(data, ".davd", "state.db.lock")); err != nil {
			t.Fatal(err)
		}
		session(t, data, true)
	})
	t.Run("tree without state", func(t *testing.T) {
		session(t, plain, false)
		if _, err := os.Stat(filepath.Join(plain, ".davd")); err == nil {
			t.Error(".davd was created")
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		missing := filepath.Join(dir, "missing")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := runApp(ctx, []string{"davd", "serve", "--addr", "127.0.0.1:0", "--read-only", missing}, io.Discard, io.Discard, nil)
		if err == nil || !strings.Contains(err.Error(), missing) {
			t.Errorf("serving a missing directory read-only: %v, want an error naming it", err)
		}
		if _, err := os.Stat(missing); err == nil {
			t.Error("the missing directory was created")
		}
	})
	t.Run("read-only mount", func(t *testing.T) {
		ro := readOnlyView(t, dir)
		before := fsSnapshot(t, dir)
		base := startDavd(t, "--read-only", filepath.Join(ro, "data"))
		readSession(t, base)
		if after := fsSnapshot(t, dir); after != before {
			t.Errorf("a read-only session changed the tree:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	})
}

// TestReadOnlyDefaultStorage: "davd serve --read-only" in a directory
// without ./data refuses to start with a line naming it, and creates
// nothing (it used to create ./data and serve it, empty).
func TestReadOnlyDefaultStorage(t *testing.T) {
	t.Parallel()
	cwd := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := davdCommand(ctx, nil, "serve", "--addr", "127.0.0.1:0", "--read-only")
	cmd.Dir = cwd
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("davd --read-only without ./data served instead of refusing: %s", out)
	}
	if err == nil || !strings.Contains(string(out), filepath.Join(cwd, "data")) {
		t.Errorf("davd --read-only without ./data: %v, output %q; want an error naming it", err, out)
	}
	if entries, _ := os.ReadDir(cwd); len(entries) != 0 {
		t.Errorf("created in the working directory: %v", entries)
	}
}
