package dav

import (
	"encoding/xml"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"davd/storage"
)

// namesTable holds a file under every kind of name Linux allows and a
// WebDAV client might trip over. Each is served (listed, fetched, copied,
// moved and deleted by the href PROPFIND gives), except the names that
// are not valid UTF-8, which are not listed at all (see listable).
var namesTable = []string{
	`back\slash`,
	`..\..\escape`, // one segment: it stays where it is
	`..x`,
	`...`,
	`x..`,
	`%2F`,
	`%2e%2e`,
	`a%20b`,
	"ctl\x01\x1f\x7f",
	"new\nline\r",
	"tab\tname",
	"q?mark#hash",
	"semi;colon=&+$,@:",
	" lead and trail ",
	`"quoted" <angle> 'single'`,
	"ünïcödé 日本 🎉",
	"\uFFFE\uFFFF",
	"not utf8 \xff\xfe",
	"overlong \xc0\xae\xc0\xae",
}

// multistatusHrefs returns the hrefs of a 207 body, decoded.
func multistatusHrefs(t *testing.T, body string) []string {
	t.Helper()
	var ms struct {
		Responses []struct {
			Href string `xml:"href"`
		} `xml:"response"`
	}
	if err := xml.Unmarshal([]byte(body), &ms); err != nil {
		t.Fatalf("207 body: %v\n%s", err, body)
	}
	var hrefs []string
	for _, r := range ms.Responses {
		hrefs = append(hrefs, r.Href)
	}
	return hrefs
}

// TestStoredNamesServed: every name listed by PROPFIND (Depth 1 and
// infinity) and by the HTML index can be fetched, copied, moved and
// deleted by its href; a name that is not valid UTF-8 is not listed (a
// backslash used to be listed and then refused with 400).
func TestStoredNamesServed(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, n := range namesTable {
		if err := os.WriteFile(filepath.Join(root, n), []byte("content of "+n), 0o644); err != nil {
			t.Fatalf("%q: %v", n, err)
		}
	}
	// A directory with such a name, and one that is not valid UTF-8,
	// whose members are not listed either.
	os.MkdirAll(filepath.Join(root, `dir\name`), 0o755)
	os.WriteFile(filepath.Join(root, `dir\name`, `in\side`), []byte("inside"), 0o644)
	os.MkdirAll(filepath.Join(root, "dir\xff"), 0o755)
	os.WriteFile(filepath.Join(root, "dir\xff", "hidden"), []byte("hidden"), 0o644)

	rfs, err := storage.NewRootFs(root)
	if err != nil {
		t.Fatal(err)
	}
	defer rfs.Close()
	srv := testServer(t, rfs, Config{})

	listed := map[string]bool{}
	for _, depth := range []string{"1", "infinity"} {
		r := do(t, "PROPFIND", srv.URL+"/", map[string]string{"Depth": depth}, "")
		if r.status != 207 {
			t.Fatalf("PROPFIND Depth %s = %d", depth, r.status)
		}
		for _, href := range multistatusHrefs(t, r.body) {
			name, err := url.PathUnescape(href)
			if err != nil {
				t.Errorf("href %q does not decode: %v", href, err)
				continue
			}
			if depth == "infinity" && strings.Contains(href, "hidden") {
				t.Errorf("a member of a directory whose name is not UTF-8 is listed: %q", href)
			}
			if depth == "1" {
				listed[name] = true
			}
		}
	}
	for _, n := range append(namesTable, `dir\name`) {
		want := utf8.ValidString(n)
		got := listed["/"+n] || listed["/"+n+"/"]
		if got != want {
			t.Errorf("%q listed = %v, want %v", n, got, want)
		}
	}
	r := do(t, "GET", srv.URL+"/", nil, "")
	if strings.Contains(r.body, "not utf8") || !strings.Contains(r.body, url.PathEscape(`back\slash`)) {
		t.Errorf("HTML index lists the wrong names:\n%s", r.body)
	}

	for _, n := range namesTable {
		if !utf8.ValidString(n) {
			href := (&url.URL{Path: "/" + n}).EscapedPath()
			if r := do(t, "GET", srv.URL+href, nil, ""); r.status != 400 {
				t.Errorf("GET %q (not listed) = %d, want 400", href, r.status)
			}
			continue
		}
		href := (&url.URL{Path: "/" + n}).EscapedPath()
		if !listed["/"+n] {
			continue // reported above
		}
		if r := do(t, "GET", srv.URL+href, nil, ""); r.status != 200 || r.body != "content of "+n {
			t.Errorf("GET %q = %d %q", href, r.status, r.body)
		}
		if r := do(t, "PROPFIND", srv.URL+href, map[string]string{"Depth": "0"}, ""); r.status != 207 {
			t.Errorf("PROPFIND %q = %d", href, r.status)
		} else if hrefs := multistatusHrefs(t, r.body); len(hrefs) != 1 || hrefs[0] != href {
			t.Errorf("PROPFIND %q gives hrefs %q", href, hrefs)
		}
		copyHref := (&url.URL{Path: "/copy of " + n}).EscapedPath()
		if r := do(t, "COPY", srv.URL+href, map[string]string{"Destination": srv.URL + copyHref}, ""); r.status != 201 {
			t.Errorf("COPY %q to %q = %d %s", href, copyHref, r.status, r.body)
		}
		if b, err := os.ReadFile(filepath.Join(root, "copy of "+n)); err != nil || string(b) != "content of "+n {
			t.Errorf("copy of %q on disk: %q, %v", n, b, err)
		}
		moveHref := (&url.URL{Path: "/" + n + " moved"}).EscapedPath()
		if r := do(t, "MOVE", srv.URL+copyHref, map[string]string{"Destination": srv.URL + moveHref}, ""); r.status != 201 {
			t.Errorf("MOVE %q to %q = %d %s", copyHref, moveHref, r.status, r.body)
		}
		for _, h := range []string{moveHref, href} {
			if r := do(t, "DELETE", srv.URL+h, nil, ""); r.status != 204 {
				t.Errorf("DELETE %q = %d %s", h, r.status, r.body)
			}
		}
		for _, f := range []string{n, n + " moved", "copy of " + n} {
			if _, err := os.Lstat(filepath.Join(root, f)); err == nil {
				t.Errorf("%q is still on disk", f)
			}
		}
	}
	if r := do(t, "GET", srv.URL+(&url.URL{Path: `/dir\name/in\side`}).EscapedPath(), nil, ""); r.status != 200 || r.body != "inside" {
		t.Errorf(`GET dir\name/in\side = %d %q`, r.status, r.body)
	}
	// What is left: the names that are not listed, untouched.
	entries, _ := os.ReadDir(root)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	slices.Sort(left)
	want := []string{"dir\xff", `dir\name`, "not utf8 \xff\xfe", "overlong \xc0\xae\xc0\xae"}
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Errorf("left in the root: %q, want %q", left, want)
	}
}

// TestDotSegmentCleaned: a "." segment names the directory it is in:
// "/./a:b", as rclone asks for a top-level name with a colon, is "/a:b"
// (it used to be refused with 400); ".." still is refused, raw or encoded,
// in the path and in a Destination.
func TestDotSegmentCleaned(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "d"), 0o755)
	os.WriteFile(filepath.Join(root, "a:b"), []byte("colon"), 0o644)
	rfs, err := storage.NewRootFs(root)
	if err != nil {
		t.Fatal(err)
	}
	defer rfs.Close()
	srv := testServer(t, rfs, Config{})
	addr := strings.TrimPrefix(srv.URL, "http://")
	get := func(target string, hdr ...string) response {
		t.Helper()
		req := "GET " + target + " HTTP/1.1\r\nHost: " + addr + "\r\nConnection: close\r\n"
		for _, h := range hdr {
			req += h + "\r\n"
		}
		return raw(t, addr, req+"\r\n")
	}
	for _, target := range []string{"/./a:b", "/d/./../a:b", "/%2e/a:b", "/d/%2E/%2e%2e/a:b"} {
		r := get(target)
		want := 200
		if strings.Contains(strings.ToLower(target), "..") || strings.Contains(strings.ToLower(target), "%2e%2e") {
			want = 400
		}
		if r.status != want || want == 200 && r.body != "colon" {
			t.Errorf("GET %s = %d %q, want %d", target, r.status, r.body, want)
		}
	}
	copyTo := func(dest string) int {
		req := "COPY /./a:b HTTP/1.1\r\nHost: " + addr + "\r\nDestination: " + dest + "\r\nConnection: close\r\n\r\n"
		return raw(t, addr, req).status
	}
	if st := copyTo("http://" + addr + "/d/./c:d"); st != 201 {
		t.Errorf("COPY to /d/./c:d = %d, want 201", st)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "d", "c:d")); string(b) != "colon" {
		t.Errorf("d/c:d holds %q", b)
	}
	if st := copyTo("http://" + addr + "/d/../e"); st != 400 {
		t.Errorf("COPY to /d/../e = %d, want 400", st)
	}
}
