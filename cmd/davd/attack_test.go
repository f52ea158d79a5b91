package main

import (
	"bufio"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sentinel is the content of the file planted outside the served root:
// it must never appear in a response, and the file must never change.
const sentinel = "SENTINEL-8c1f0e2b-outside-the-root"

// snapshotTree records every name below dir with its content (regular files) or
// link target, to prove that nothing there changed or appeared.
func snapshotTree(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		line := strings.TrimPrefix(p, dir)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			line += " -> " + target
		case d.Type().IsRegular():
			b, _ := os.ReadFile(p)
			fi, _ := d.Info()
			line += "=" + string(b) + " @" + fi.ModTime().String()
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// sendRaw sends text exactly as given, so that no client library
// cleans or re-encodes the path, and returns status and body.
func sendRaw(t *testing.T, addr, text string) (int, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, text); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer to %q: %v", strings.SplitN(text, "\r\n", 2)[0], err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAttackTable runs path traversal, symlink escape and Destination
// attacks against a real davd serving a directory under /dav, with a
// sentinel file planted beside the root. Every attack must be refused with
// a 4xx (or 502 for a Destination on another server), no response may
// carry the sentinel, nothing outside the root may change or appear, and
// no file inside the root may end up holding the sentinel.
func TestAttackTable(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	root, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(root, "inside"), filepath.Join(outside, "dir")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	secret := filepath.Join(outside, "secret")
	os.WriteFile(secret, []byte(sentinel), 0o644)
	os.WriteFile(filepath.Join(outside, "dir", "secret"), []byte(sentinel), 0o644)
	os.WriteFile(filepath.Join(root, "inside", "f"), []byte("inside"), 0o644)
	for link, target := range map[string]string{
		"abslink":           secret,
		"rellink":           "../outside/secret",
		"dirlink":           outside,
		"reldirlink":        "../outside",
		"rootlink":          "/",
		"inside/deeplink":   "../../outside",
		"inside/chain":      "../rellink", // a link to a link that escapes
		"inside/loop":       "..",         // inside, but a cycle
		"inside/dotdotlink": "../inside/../../outside/secret",
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	baseURL := startDavd(t, "--prefix", "/dav", "--max-propfind-entries", "1000", root)
	addr := strings.TrimPrefix(baseURL, "http://")
	before := snapshotTree(t, outside)

	req := func(method, target string, headers ...string) string {
		s := method + " " + target + " HTTP/1.1\r\nHost: " + addr + "\r\nConnection: close\r\n"
		for _, h := range headers {
			s += strings.ReplaceAll(h, "HOST", addr) + "\r\n"
		}
		body := ""
		switch method {
		case "PUT":
			body = "EVIL!"
		case "PROPPATCH":
			body = `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x xmlns="urn:x">EVIL</x></D:prop></D:set></D:propertyupdate>`
		case "LOCK":
			body = `<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`
		}
		return s + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	}
	dest := func(d string) string { return "Destination: " + d }
	abs := strings.TrimPrefix(secret, "/")
	attacks := []struct {
		name, request string
	}{
		// Dot segments, raw and encoded.
		{"raw dot segments", req("GET", "/dav/../outside/secret")},
		{"raw dot segments deep", req("GET", "/dav/inside/../../../outside/secret")},
		{"encoded dot segments", req("GET", "/dav/%2e%2e/%2e%2e/outside/secret")},
		{"encoded dot segments upper", req("GET", "/dav/%2E%2E/%2E%2E/outside/secret")},
		{"half encoded dot segments", req("GET", "/dav/.%2e/.%2E/outside/secret")},
		{"encoded slashes", req("GET", "/dav/inside/..%2f..%2f..%2foutside%2fsecret")},
		{"double encoded dots", req("GET", "/dav/%252e%252e/%252e%252e/outside/secret")},
		{"double encoded slashes", req("GET", "/dav/..%252f..%252foutside%252fsecret")},
		{"absolute-form target", req("GET", "http://"+addr+"/dav/../outside/secret")},
		{"single dot segments", req("GET", "/dav/./inside/./f/../../../outside/secret")},
		// Backslashes, NUL, overlong UTF-8.
		{"encoded backslashes", req("GET", "/dav/..%5c..%5coutside%5csecret")},
		{"raw backslashes", req("GET", "/dav\\..\\outside\\secret")},
		{"NUL byte", req("GET", "/dav/inside/f%00/../../../outside/secret")},
		{"NUL before extension", req("GET", "/dav/abslink%00.txt")},
		{"overlong dot", req("GET", "/dav/%c0%ae%c0%ae/outside/secret")},
		{"overlong dot and slash", req("GET", "/dav/%c0%ae%c0%ae%c0%afoutside%c0%afsecret")},
		{"3-byte overlong dot", req("GET", "/dav/%e0%80%ae%e0%80%ae/outside/secret")},
		{"invalid UTF-8", req("GET", "/dav/%ff%fe/../../outside/secret")},
		// Outside the prefix.
		{"outside the prefix", req("GET", "/outside/secret")},
		{"prefix look-alike", req("GET", "/davx/../outside/secret")},
		{"prefix look-alike PUT", req("PUT", "/davx/new")},
		// Symbolic links.
		{"absolute symlink", req("GET", "/dav/abslink")},
		{"relative symlink", req("GET", "/dav/rellink")},
		{"symlink to a symlink", req("GET", "/dav/inside/chain")},
		{"symlink with dot segments", req("GET", "/dav/inside/dotdotlink")},
		{"range through a symlink", req("GET", "/dav/abslink", "Range: bytes=0-8")},
		{"HEAD through a symlink", req("HEAD", "/dav/rellink")},
		{"symlinked parent", req("GET", "/dav/dirlink/secret")},
		{"relative symlinked parent", req("GET", "/dav/reldirlink/dir/secret")},
		{"deep symlinked parent", req("GET", "/dav/inside/deeplink/secret")},
		{"symlink to /", req("GET", "/dav/rootlink/"+abs)},
		{"PROPFIND through a symlinked parent", req("PROPFIND", "/dav/dirlink/", "Depth: 1")},
		{"PROPFIND through a symlink to /", req("PROPFIND", "/dav/rootlink/", "Depth: 1")},
		{"PROPFIND Depth infinity through a cycle", req("PROPFIND", "/dav/inside/loop/", "Depth: infinity")},
		// Writes through links and dot segments.
		{"PUT through a symlinked parent", req("PUT", "/dav/dirlink/new")},
		{"PUT through a deep symlinked parent", req("PUT", "/dav/inside/deeplink/new")},
		{"PUT over an absolute symlink", req("PUT", "/dav/abslink")},
		{"PUT over a relative symlink", req("PUT", "/dav/rellink")},
		{"PUT with encoded dot segments", req("PUT", "/dav/%2e%2e/outside/new")},
		{"PUT through a symlink to /", req("PUT", "/dav/rootlink/"+abs)},
		{"MKCOL through a symlinked parent", req("MKCOL", "/dav/dirlink/newdir")},
		{"DELETE through a symlinked parent", req("DELETE", "/dav/dirlink/secret")},
		{"DELETE through a deep symlinked parent", req("DELETE", "/dav/inside/deeplink/dir")},
		{"PROPPATCH over an absolute symlink", req("PROPPATCH", "/dav/abslink")},
		{"LOCK through a symlinked parent", req("LOCK", "/dav/dirlink/secret")},
		// Destination headers.
		{"COPY to raw dot segments", req("COPY", "/dav/inside/f", dest("http://HOST/dav/../outside/copied"))},
		{"COPY to encoded dot segments", req("COPY", "/dav/inside/f", dest("http://HOST/dav/%2e%2e/outside/copied"))},
		{"COPY to overlong dots", req("COPY", "/dav/inside/f", dest("http://HOST/dav/%c0%ae%c0%ae/outside/copied"))},
		{"COPY to backslashes", req("COPY", "/dav/inside/f", dest("http://HOST/dav/..\\outside\\copied"))},
		{"COPY to NUL", req("COPY", "/dav/inside/f", dest("http://HOST/dav/x%00/../../outside/copied"))},
		{"COPY outside the prefix", req("COPY", "/dav/inside/f", dest("http://HOST/outside/copied"))},
		{"COPY to a relative path outside the prefix", req("COPY", "/dav/inside/f", dest("/outside/copied"))},
		{"COPY to another host", req("COPY", "/dav/inside/f", dest("http://evil.example/dav/copied"))},
		{"COPY to a scheme-relative host", req("COPY", "/dav/inside/f", dest("//evil.example/dav/copied"))},
		{"COPY to file:", req("COPY", "/dav/inside/f", dest("file://"+outside+"/copied"))},
		{"COPY with spoofed X-Forwarded-Host", req("COPY", "/dav/inside/f", dest("https://evil.example/dav/copied"), "X-Forwarded-Host: evil.example", "X-Forwarded-Proto: https")},
		{"COPY through a symlinked parent", req("COPY", "/dav/inside/f", dest("http://HOST/dav/dirlink/copied"))},
		{"COPY over an absolute symlink", req("COPY", "/dav/inside/f", dest("http://HOST/dav/abslink"))},
		{"COPY from outside", req("COPY", "/dav/dirlink/secret", dest("http://HOST/dav/inside/stolen"))},
		{"COPY from a symlink", req("COPY", "/dav/abslink", dest("http://HOST/dav/inside/stolen2"))},
		{"COPY a tree that holds escaping links", req("COPY", "/dav/inside", dest("http://HOST/dav/copy"), "Depth: infinity")},
		{"MOVE through a symlinked parent", req("MOVE", "/dav/inside/f", dest("http://HOST/dav/dirlink/moved"))},
		{"MOVE from outside", req("MOVE", "/dav/dirlink/secret", dest("http://HOST/dav/inside/stolen3"))},
		{"MOVE into the state directory", req("MOVE", "/dav/inside/f", dest("http://HOST/dav/.davd/f"))},
		{"GET the state database", req("GET", "/dav/.davd/state.db")},
	}
	for _, a := range attacks {
		began := time.Now()
		status, body := sendRaw(t, addr, a.request)
		if took := time.Since(began); took > 1500*time.Millisecond {
			t.Errorf("%s took %v", a.name, took)
		}
		t.Logf("%-45s %d %.90q", a.name, status, strings.TrimSpace(body))
		refused := status >= 400 && status < 500 || status == http.StatusBadGateway
		switch a.name {
		case "COPY a tree that holds escaping links":
			// Copying is allowed: links that escape are left out (the
			// sentinel sweep below checks), the loop is reported as 508.
			refused = status == http.StatusMultiStatus && strings.Contains(body, "508 Loop Detected")
		case "COPY to backslashes":
			// On Linux a backslash is a character: the copy is made
			// inside the root, under the one name `..\outside\copied`.
			_, err := os.Stat(filepath.Join(root, `..\outside\copied`))
			refused = status == http.StatusCreated && err == nil
		case "PROPFIND Depth infinity through a cycle":
			// Allowed and finite: os.Root stops resolving after 40 links.
			refused = status == http.StatusMultiStatus || status == http.StatusForbidden
		}
		if !refused {
			t.Errorf("%s: status %d, want a refusal (body %.200q)", a.name, status, body)
		}
		if strings.Contains(body, sentinel) || strings.Contains(body, "secret") && status < 300 {
			t.Errorf("%s: the response reveals what is outside: %.300q", a.name, body)
		}
	}
	if after := snapshotTree(t, outside); after != before {
		t.Errorf("outside the root changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if entries, _ := os.ReadDir(base); len(entries) != 2 {
		t.Errorf("something appeared beside the root: %v", entries)
	}
	// Nothing inside the root holds the sentinel (a copy through a link
	// would), and the inside file is untouched.
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if b, _ := os.ReadFile(p); strings.Contains(string(b), sentinel) {
				t.Errorf("%s holds the sentinel", p)
			}
		}
		return nil
	})
	// The copy through the loop stops at the loop: no tower of copies of
	// the copy being written.
	dirs := 0
	filepath.WalkDir(filepath.Join(root, "copy"), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs++
		}
		return nil
	})
	if dirs > 10 {
		t.Errorf("COPY through a symlink loop made %d directories", dirs)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "inside", "f")); string(b) != "inside" {
		t.Errorf("inside file changed: %q", b)
	}
	if len(attacks) < 30 {
		t.Errorf("only %d attacks", len(attacks))
	}
}
