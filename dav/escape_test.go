package dav

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"davd/storage"
)

// snapshot records every name and content below dir, to prove that
// nothing there was read into a response or changed.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		line := strings.TrimPrefix(p, dir)
		if d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			line += "=" + string(b)
		}
		lines = append(lines, line)
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestPathEscapes(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	root, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
	os.MkdirAll(filepath.Join(root, "inside"), 0o755)
	os.MkdirAll(outside, 0o755)
	const secret = "TOP-SECRET-CONTENT"
	os.WriteFile(filepath.Join(outside, "secret"), []byte(secret), 0o644)
	os.WriteFile(filepath.Join(root, "inside", "f"), []byte("inside"), 0o644)
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "abslink"))
	os.Symlink("../outside/secret", filepath.Join(root, "rellink"))
	os.Symlink(outside, filepath.Join(root, "dirlink"))
	os.Symlink("../../outside", filepath.Join(root, "inside", "deeplink"))
	os.MkdirAll(filepath.Join(root, ".davd"), 0o755)
	os.WriteFile(filepath.Join(root, ".davd", "state"), []byte(secret), 0o644)

	rfs, err := storage.NewRootFs(root)
	if err != nil {
		t.Fatal(err)
	}
	defer rfs.Close()
	srv := testServer(t, rfs, Config{})
	addr := strings.TrimPrefix(srv.URL, "http://")
	before := snapshot(t, outside)

	req := func(method, target string, headers ...string) string {
		s := method + " " + target + " HTTP/1.1\r\nHost: " + addr + "\r\nConnection: close\r\n"
		for _, h := range headers {
			s += strings.ReplaceAll(h, "HOST", addr) + "\r\n"
		}
		if method == "PUT" {
			s += "Content-Length: 5\r\n\r\nEVIL!"
		} else {
			s += "Content-Length: 0\r\n\r\n"
		}
		return s
	}
	attacks := []struct{ name, request string }{
		{"raw dot segments", req("GET", "/../outside/secret")},
		{"raw dot segments deep", req("GET", "/inside/../../outside/secret")},
		{"encoded dot segments", req("GET", "/%2e%2e/outside/secret")},
		{"encoded dot segments upper", req("GET", "/%2E%2E/%2E%2E/outside/secret")},
		{"encoded slash", req("GET", "/inside/..%2f..%2foutside/secret")},
		{"double encoded", req("GET", "/%252e%252e/outside/secret")},
		{"backslashes", req("GET", "/..%5c..%5coutside%5csecret")},
		{"raw backslash", req("GET", "/inside\\..\\..\\outside\\secret")},
		{"NUL byte", req("GET", "/inside/f%00.txt")},
		{"overlong UTF-8 dot", req("GET", "/%c0%ae%c0%ae/outside/secret")},
		{"absolute symlink", req("GET", "/abslink")},
		{"relative symlink", req("GET", "/rellink")},
		{"symlinked parent", req("GET", "/dirlink/secret")},
		{"deep symlinked parent", req("GET", "/inside/deeplink/secret")},
		{"propfind through link", req("PROPFIND", "/dirlink/", "Depth: 1")},
		{"put through symlinked parent", req("PUT", "/dirlink/new")},
		{"put over absolute symlink", req("PUT", "/abslink")},
		{"put over relative symlink", req("PUT", "/rellink")},
		{"put with dot segments", req("PUT", "/inside/../../outside/new")},
		{"mkcol through link", req("MKCOL", "/dirlink/newdir")},
		{"delete through link", req("DELETE", "/dirlink/secret")},
		{"delete symlinked parent member", req("DELETE", "/inside/deeplink/secret")},
		{"copy to dot segments", req("COPY", "/inside/f", "Destination: http://HOST/../outside/copied")},
		{"copy to encoded dot segments", req("COPY", "/inside/f", "Destination: http://HOST/%2e%2e/outside/copied")},
		{"copy to backslashes", req("COPY", "/inside/f", "Destination: http://HOST/..\\outside\\copied")},
		{"copy through symlinked parent", req("COPY", "/inside/f", "Destination: http://HOST/dirlink/copied")},
		{"copy from outside", req("COPY", "/dirlink/secret", "Destination: http://HOST/inside/stolen")},
		{"move through symlinked parent", req("MOVE", "/inside/f", "Destination: http://HOST/dirlink/moved")},
		{"move from outside", req("MOVE", "/dirlink/secret", "Destination: http://HOST/inside/stolen")},
		{"state directory", req("GET", "/.davd/state")},
		{"state directory listing", req("PROPFIND", "/.davd/", "Depth: 1")},
		{"copy into state directory", req("COPY", "/inside/f", "Destination: http://HOST/.davd/f")},
	}
	for _, a := range attacks {
		got := raw(t, addr, a.request)
		if a.name == "copy to backslashes" {
			// On Linux a backslash is a character: the copy is made,
			// inside the root, under the literal name (checked below).
			if got.status != 201 {
				t.Errorf("%s: status %d, want 201 inside the root (body %q)", a.name, got.status, got.body)
			}
			continue
		}
		if got.status < 400 || got.status >= 500 {
			t.Errorf("%s: status %d, want a 4xx refusal (body %q)", a.name, got.status, got.body)
		}
		if strings.Contains(got.body, secret) {
			t.Errorf("%s: response leaks the secret", a.name)
		}
	}
	if b, err := os.ReadFile(filepath.Join(root, `..\outside\copied`)); err != nil || string(b) != "inside" {
		t.Errorf(`copy to backslashes: root/..\outside\copied holds %q, %v`, b, err)
	}
	if after := snapshot(t, outside); after != before {
		t.Errorf("outside the root changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if _, err := os.Stat(filepath.Join(root, "inside", "stolen")); err == nil {
		t.Error("outside content was copied in")
	}
	if b, _ := os.ReadFile(filepath.Join(root, "inside", "f")); string(b) != "inside" {
		t.Errorf("inside file changed: %q", b)
	}
}
