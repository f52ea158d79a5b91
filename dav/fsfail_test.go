package dav

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"davd/processing"
	"davd/storage"
	"davd/storage/state"
)

// privileged runs a command that needs root (mount, losetup). When it
// fails the test is skipped, except under CI (which runs as root), where
// the failure fails the test.
func privileged(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip("needs root: " + msg)
	}
	return strings.TrimSpace(string(out))
}

// diskServer serves dir/tree with its state in dir/state.db, logging to
// the returned buffer.
func diskServer(t *testing.T, dir string) (*httptest.Server, *syncBuffer) {
	t.Helper()
	tree := filepath.Join(dir, "tree")
	if err := os.Mkdir(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	root, err := storage.NewRootFs(tree)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	st, err := state.Open(context.Background(), "sqlite://"+filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logs := &syncBuffer{}
	h, err := NewHandler(storage.NewFileSystem(root), st, Config{
		Processing: processing.Config{Mode: processing.ModeOff},
		Logger:     slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, logs
}

const bigPropPatch = `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>` +
	`<x:p%d xmlns:x="urn:x">%s</x:p%d></D:prop></D:set></D:propertyupdate>`

func lockBody(owner string) string {
	return `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:shared/></D:lockscope>` +
		`<D:locktype><D:write/></D:locktype><D:owner>` + owner + `</D:owner></D:lockinfo>`
}

// wantLogged checks that the log has a line at level for a 5xx answered
// with status, naming cause.
func wantLogged(t *testing.T, logs *syncBuffer, method string, status int, cause string) {
	t.Helper()
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "level=ERROR") && strings.Contains(line, `msg="request failed"`) &&
			strings.Contains(line, "method="+method) && strings.Contains(line, fmt.Sprintf("status=%d", status)) &&
			strings.Contains(line, cause) {
			return
		}
	}
	t.Errorf("no Error line for the %d of %s naming %q in the log:\n%s", status, method, cause, logs.String())
}

// TestFullDiskAnswers507 checks that with the file system full, PUT,
// PROPPATCH and LOCK all answer 507 with a reason, and that each of these
// 5xx is logged at Error with its cause.
func TestFullDiskAnswers507(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	privileged(t, "mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", dir)
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	srv, logs := diskServer(t, dir)
	if r := do(t, "PUT", srv.URL+"/small", nil, "hello"); r.status != 201 {
		t.Fatalf("PUT before the disk is full = %d %s", r.status, r.body)
	}

	// Fill the file system beside the tree and the state.
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for range 64 { // 4 MiB: more than the 1 MiB file system
		if _, err = f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling the file system: %v", err)
	}

	if r := do(t, "PUT", srv.URL+"/big", nil, strings.Repeat("x", 200<<10)); r.status != 507 || !strings.Contains(r.body, "no space left") {
		t.Errorf("PUT on a full disk = %d %q; want 507 naming the lack of space", r.status, r.body)
	}
	// SQLite may have room left in its files: patch until it has none.
	value := strings.Repeat("v", 8000)
	var r response
	for i := range 300 {
		r = do(t, "PROPPATCH", srv.URL+"/small", nil, fmt.Sprintf(bigPropPatch, i, value, i))
		if r.status != 207 {
			break
		}
	}
	if r.status != 507 || !strings.Contains(r.body, "no space left") {
		t.Errorf("PROPPATCH on a full disk = %d %q; want 507 naming the lack of space", r.status, r.body)
	}
	for range 300 {
		r = do(t, "LOCK", srv.URL+"/small", nil, lockBody(value))
		if r.status != 200 {
			break
		}
	}
	if r.status != 507 || !strings.Contains(r.body, "no space left") {
		t.Errorf("LOCK on a full disk = %d %q; want 507 naming the lack of space", r.status, r.body)
	}
	wantLogged(t, logs, "PUT", 507, "no space left on device")
	wantLogged(t, logs, "PROPPATCH", 507, "database or disk is full")
	wantLogged(t, logs, "LOCK", 507, "database or disk is full")
}

// TestReadOnlyDiskAnswers503 checks that once the file system has turned
// read-only under the server (as ext4's errors=remount-ro does), every
// write answers 503 "storage is read-only" — not 403, not 500 — and is
// logged at Error with its cause, while reads still work.
func TestReadOnlyDiskAnswers503(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	img, dir := filepath.Join(base, "fs.img"), filepath.Join(base, "mnt")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 8<<20); err != nil {
		t.Fatal(err)
	}
	privileged(t, "mkfs.ext4", "-q", "-F", img)
	dev := privileged(t, "losetup", "-f", "--show", img)
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	privileged(t, "mount", "-o", "errors=remount-ro", dev, dir)
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	srv, logs := diskServer(t, dir)

	if r := do(t, "PUT", srv.URL+"/small", nil, "hello"); r.status != 201 {
		t.Fatalf("PUT before = %d %s", r.status, r.body)
	}
	if r := do(t, "PROPPATCH", srv.URL+"/small", nil, fmt.Sprintf(bigPropPatch, 0, "v", 0)); r.status != 207 {
		t.Fatalf("PROPPATCH before = %d %s", r.status, r.body)
	}
	// An ext4 error remounts the file system read-only under the open
	// database: a tmpfs cannot be remounted so while SQLite has it open.
	if err := os.WriteFile("/sys/fs/ext4/"+filepath.Base(dev)+"/trigger_fs_error", []byte("1"), 0); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip("cannot make the file system read-only: ", err)
	}

	for _, req := range []struct{ method, path, body string }{
		{"PUT", "/new", "data"},
		{"PUT", "/small", "overwrite"},
		{"PROPPATCH", "/small", fmt.Sprintf(bigPropPatch, 1, "w", 1)},
		{"LOCK", "/small", lockBody("me")},
		{"MKCOL", "/col", ""},
	} {
		r := do(t, req.method, srv.URL+req.path, nil, req.body)
		if r.status != 503 || !strings.Contains(r.body, "storage is read-only") {
			t.Errorf("%s %s on a read-only disk = %d %q; want 503 storage is read-only", req.method, req.path, r.status, r.body)
		}
	}
	if r := do(t, "GET", srv.URL+"/small", nil, ""); r.status != 200 || r.body != "hello" {
		t.Errorf("GET on a read-only disk = %d %q", r.status, r.body)
	}
	if r := do(t, "PROPFIND", srv.URL+"/small", map[string]string{"Depth": "0"}, ""); r.status != 207 || !strings.Contains(r.body, "p0") {
		t.Errorf("PROPFIND on a read-only disk = %d %q", r.status, r.body)
	}
	wantLogged(t, logs, "PUT", 503, "read-only file system")
	wantLogged(t, logs, "PROPPATCH", 503, "disk I/O error")
	wantLogged(t, logs, "LOCK", 503, "disk I/O error")
}
