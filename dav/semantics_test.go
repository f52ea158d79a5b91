package dav

import (
	"errors"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/afero"
)

const lockExclusive = `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>mailto:a@example.com</D:href></D:owner></D:lockinfo>`
const lockShared = `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`

func propSet(prop string) string {
	return `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop>` + prop + `</D:prop></D:set></D:propertyupdate>`
}

func TestDeadProperties(t *testing.T) {
	t.Parallel()
	backend := afero.NewMemMapFs()
	srv := testServer(t, backend, Config{})
	do(t, "MKCOL", srv.URL+"/c", nil, "")
	do(t, "PUT", srv.URL+"/c/f", nil, "x")
	value := `<Z:title xml:lang="fr">Ça &amp; là <Z:em>ü</Z:em></Z:title>`
	getTitle := `<D:propfind xmlns:D="DAV:"><D:prop><Z:title xmlns:Z="urn:z"/></D:prop></D:propfind>`
	runSteps(t, srv.URL, []step{
		{name: "set", method: "PROPPATCH", path: "/c/f", body: propSet(value), status: 207, contains: "HTTP/1.1 200 OK"},
		{name: "get", method: "PROPFIND", path: "/c/f", hdr: map[string]string{"Depth": "0"}, body: getTitle, status: 207, contains: `xml:lang="fr">Ça &amp; là <Z:em>ü</Z:em></Z:title>`},
		{name: "allprop has it", method: "PROPFIND", path: "/c/f", hdr: map[string]string{"Depth": "0"}, status: 207, contains: "Ça &amp; là"},
		{name: "propname has it", method: "PROPFIND", path: "/c/f", hdr: map[string]string{"Depth": "0"}, body: `<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>`, status: 207, contains: `<R:title xmlns:R="urn:z"/>`},
		{name: "protected fails all", method: "PROPPATCH", path: "/c/f", body: propSet(`<Z:other>1</Z:other><D:getetag>"x"</D:getetag>`), status: 207, contains: "cannot-modify-protected-property"},
		{name: "nothing applied", method: "PROPFIND", path: "/c/f", hdr: map[string]string{"Depth": "0"}, body: `<D:propfind xmlns:D="DAV:"><D:prop><Z:other xmlns:Z="urn:z"/></D:prop></D:propfind>`, status: 207, contains: "404 Not Found"},
		{name: "copy carries props", method: "COPY", path: "/c", hdr: map[string]string{"Destination": "BASE/d"}, status: 201},
		{name: "copied prop", method: "PROPFIND", path: "/d/f", hdr: map[string]string{"Depth": "0"}, body: getTitle, status: 207, contains: "Ça &amp; là"},
		{name: "move carries props", method: "MOVE", path: "/d", hdr: map[string]string{"Destination": "BASE/e"}, status: 201},
		{name: "moved prop", method: "PROPFIND", path: "/e/f", hdr: map[string]string{"Depth": "0"}, body: getTitle, status: 207, contains: "Ça &amp; là"},
		{name: "delete", method: "DELETE", path: "/e", status: 204},
		{name: "recreate", method: "MKCOL", path: "/e", status: 201},
		{name: "recreated file", method: "PUT", path: "/e/f", body: "y", status: 201},
		{name: "props gone with delete", method: "PROPFIND", path: "/e/f", hdr: map[string]string{"Depth": "0"}, body: getTitle, status: 207, contains: "404 Not Found"},
		{name: "remove", method: "PROPPATCH", path: "/c/f", body: `<D:propertyupdate xmlns:D="DAV:"><D:remove><D:prop><Z:title xmlns:Z="urn:z"/></D:prop></D:remove></D:propertyupdate>`, status: 207, contains: "200 OK"},
		{name: "removed", method: "PROPFIND", path: "/c/f", hdr: map[string]string{"Depth": "0"}, body: getTitle, status: 207, contains: "404 Not Found"},
		{name: "missing resource", method: "PROPPATCH", path: "/nope", body: propSet(value), status: 404},
		{name: "malformed", method: "PROPPATCH", path: "/c/f", body: `<D:propertyupdate xmlns:D="DAV:"><D:set>`, status: 400},
	})
	// Windows sets the file time through a property.
	win := `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop><Z:Win32LastModifiedTime>Mon, 02 Jan 2006 15:04:05 GMT</Z:Win32LastModifiedTime><Z:Win32FileAttributes>00000020</Z:Win32FileAttributes></D:prop></D:set></D:propertyupdate>`
	if got := do(t, "PROPPATCH", srv.URL+"/c/f", nil, win); got.status != 207 || !strings.Contains(got.body, "200 OK") || strings.Contains(got.body, "403") {
		t.Fatalf("Win32 PROPPATCH = %d %s", got.status, got.body)
	}
	fi, err := backend.Stat("/c/f")
	if err != nil || !fi.ModTime().Equal(time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC)) {
		t.Errorf("Win32LastModifiedTime did not set mtime: %v %v", fi.ModTime(), err)
	}
}

func lockToken(t *testing.T, base, path, body string, hdr map[string]string) string {
	t.Helper()
	got := do(t, "LOCK", base+path, hdr, body)
	if got.status != 200 && got.status != 201 {
		t.Fatalf("LOCK %s = %d %s", path, got.status, got.body)
	}
	tok := strings.Trim(got.header.Get("Lock-Token"), "<>")
	if !regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(tok) {
		t.Fatalf("lock token %q is not a random urn:uuid", tok)
	}
	return tok
}

func TestLockSemantics(t *testing.T) {
	t.Parallel()
	srv := testServer(t, afero.NewMemMapFs(), Config{})
	b := srv.URL
	do(t, "MKCOL", b+"/col", nil, "")
	do(t, "MKCOL", b+"/col/sub", nil, "")
	do(t, "PUT", b+"/col/sub/f", nil, "f")
	do(t, "PUT", b+"/col/g", nil, "g")

	// Shared locks coexist; an exclusive one then conflicts.
	s1 := lockToken(t, b, "/col/g", lockShared, map[string]string{"Depth": "0"})
	s2 := lockToken(t, b, "/col/g", lockShared, map[string]string{"Depth": "0"})
	if s1 == s2 {
		t.Fatal("two locks share a token")
	}
	if got := do(t, "LOCK", b+"/col/g", map[string]string{"Depth": "0"}, lockExclusive); got.status != 423 || !strings.Contains(got.body, "no-conflicting-lock") {
		t.Errorf("exclusive over shared = %d %s", got.status, got.body)
	}
	// Either shared token allows a write.
	if got := do(t, "PUT", b+"/col/g", map[string]string{"If": "(<" + s2 + ">)"}, "g2"); got.status != 204 {
		t.Errorf("PUT with a shared token = %d %s", got.status, got.body)
	}
	if got := do(t, "PUT", b+"/col/g", nil, "g3"); got.status != 423 {
		t.Errorf("PUT without token = %d", got.status)
	}

	// A member locked by someone else blocks DELETE and MOVE of the
	// collection: 207 naming it with 423, nothing removed.
	f := lockToken(t, b, "/col/sub/f", lockExclusive, map[string]string{"Depth": "0", "Timeout": "Infinite"})
	for _, m := range []struct{ method, dest string }{{"DELETE", ""}, {"MOVE", b + "/moved"}} {
		got := do(t, m.method, b+"/col", map[string]string{"Destination": m.dest}, "")
		if got.status != 207 || !strings.Contains(got.body, "/col/sub/f") || !strings.Contains(got.body, "423 Locked") {
			t.Errorf("%s of a collection with a locked member = %d %s", m.method, got.status, got.body)
		}
	}
	if got := do(t, "GET", b+"/col/sub/f", nil, ""); got.status != 200 {
		t.Errorf("locked member removed: %d", got.status)
	}
	// Infinite is reported as Infinite; lockdiscovery shows the lock.
	pf := do(t, "PROPFIND", b+"/col/sub/f", map[string]string{"Depth": "0"}, `<D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/></D:prop></D:propfind>`)
	for _, want := range []string{"<D:timeout>Infinite</D:timeout>", f, "mailto:a@example.com", "<D:exclusive/>"} {
		if !strings.Contains(pf.body, want) {
			t.Errorf("lockdiscovery lacks %q: %s", want, pf.body)
		}
	}
	// UNLOCK with a token for another resource is refused.
	if got := do(t, "UNLOCK", b+"/col/g", map[string]string{"Lock-Token": "<" + f + ">"}, ""); got.status != 409 {
		t.Errorf("UNLOCK with a foreign token = %d", got.status)
	}
	// DELETE with the member's token (tagged) releases its lock.
	do(t, "UNLOCK", b+"/col/g", map[string]string{"Lock-Token": "<" + s1 + ">"}, "")
	do(t, "UNLOCK", b+"/col/g", map[string]string{"Lock-Token": "<" + s2 + ">"}, "")
	if got := do(t, "DELETE", b+"/col", map[string]string{"If": "<" + b + "/col/sub/f> (<" + f + ">)"}, ""); got.status != 204 {
		t.Fatalf("DELETE with the member's token = %d %s", got.status, got.body)
	}
	if got := do(t, "LOCK", b+"/col", nil, lockExclusive); got.status != 201 {
		t.Errorf("LOCK on the deleted (unmapped) URL = %d %s", got.status, got.body)
	}

	// A depth-infinity lock on a collection protects adding members.
	do(t, "MKCOL", b+"/deep", nil, "")
	d := lockToken(t, b, "/deep", lockExclusive, map[string]string{"Timeout": "Second-600"})
	runSteps(t, b, []step{
		{name: "new member without token", method: "PUT", path: "/deep/new", body: "x", status: 423},
		{name: "mkcol without token", method: "MKCOL", path: "/deep/new", status: 423},
		{name: "new member with token", method: "PUT", path: "/deep/new", hdr: map[string]string{"If": "(<" + d + ">)"}, body: "x", status: 201},
		{name: "copy into locked", method: "COPY", path: "/col", hdr: map[string]string{"Destination": "BASE/deep/c"}, status: 423},
		{name: "refresh", method: "LOCK", path: "/deep", hdr: map[string]string{"If": "(<" + d + ">)", "Timeout": "Second-100"}, status: 200, contains: "Second-100"},
		{name: "refresh unknown", method: "LOCK", path: "/deep", hdr: map[string]string{"If": "(<urn:uuid:00000000-0000-4000-8000-000000000000>)"}, status: 412},
		{name: "etag condition false", method: "PUT", path: "/deep/new", hdr: map[string]string{"If": `(<` + d + `> ["nope"])`}, body: "y", status: 412},
		{name: "not no-lock", method: "PUT", path: "/deep/new", hdr: map[string]string{"If": `(<` + d + `>) (Not <DAV:no-lock>)`}, body: "y", status: 204},
		{name: "unlock", method: "UNLOCK", path: "/deep/new", hdr: map[string]string{"Lock-Token": "<" + d + ">"}, status: 204},
		{name: "after unlock", method: "PUT", path: "/deep/new", body: "z", status: 204},
		{name: "bad timeout", method: "LOCK", path: "/deep", hdr: map[string]string{"Timeout": "soon"}, body: lockExclusive, status: 400},
		{name: "bad depth", method: "LOCK", path: "/deep", hdr: map[string]string{"Depth": "1"}, body: lockExclusive, status: 400},
		{name: "bad lockinfo", method: "LOCK", path: "/deep", body: `<D:lockinfo xmlns:D="DAV:"><D:locktype><D:write/></D:locktype></D:lockinfo>`, status: 400},
		{name: "unlock without token", method: "UNLOCK", path: "/deep", status: 400},
	})
}

// renameFailFs fails renames of one name, as a full or faulty disk might.
type renameFailFs struct {
	afero.Fs
	failFrom string
}

func (f renameFailFs) Rename(oldname, newname string) error {
	if oldname == f.failFrom {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: errors.New("injected failure")}
	}
	return f.Fs.Rename(oldname, newname)
}

func TestMoveNeverLosesDestination(t *testing.T) {
	t.Parallel()
	mem := afero.NewMemMapFs()
	afero.WriteFile(mem, "/src", []byte("new"), 0o644)
	afero.WriteFile(mem, "/dst", []byte("precious"), 0o644)
	srv := testServer(t, renameFailFs{Fs: mem, failFrom: "/src"}, Config{})
	got := do(t, "MOVE", srv.URL+"/src", map[string]string{"Destination": srv.URL + "/dst", "Overwrite": "T"}, "")
	if got.status < 500 {
		t.Errorf("MOVE with a failing rename = %d", got.status)
	}
	if b, _ := afero.ReadFile(mem, "/dst"); string(b) != "precious" {
		t.Errorf("destination after failed MOVE = %q", b)
	}
	if b, _ := afero.ReadFile(mem, "/src"); string(b) != "new" {
		t.Errorf("source after failed MOVE = %q", b)
	}
	names, _ := afero.ReadDir(mem, "/")
	if len(names) != 2 {
		t.Errorf("stray files: %d entries", len(names))
	}
}

func TestPutPreconditions(t *testing.T) {
	t.Parallel()
	srv := testServer(t, afero.NewMemMapFs(), Config{})
	tag := do(t, "PUT", srv.URL+"/f", nil, "v1").header.Get("ETag")
	runSteps(t, srv.URL, []step{
		{name: "if-match stale", method: "PUT", path: "/f", hdr: map[string]string{"If-Match": `"stale"`}, body: "v2", status: 412},
		{name: "if-match current", method: "PUT", path: "/f", hdr: map[string]string{"If-Match": tag}, body: "v2", status: 204},
		{name: "if-none-match star on existing", method: "PUT", path: "/f", hdr: map[string]string{"If-None-Match": "*"}, body: "v3", status: 412},
		{name: "if-none-match star on new", method: "PUT", path: "/g", hdr: map[string]string{"If-None-Match": "*"}, body: "g", status: 201},
		{name: "if-match star on missing", method: "PUT", path: "/h", hdr: map[string]string{"If-Match": "*"}, body: "h", status: 412},
		{name: "expected length mismatch", method: "PUT", path: "/f", hdr: map[string]string{"X-Expected-Entity-Length": "99"}, body: "short", status: 400},
		{name: "kept", method: "GET", path: "/f", status: 200, contains: "v2"},
		{name: "expected length match", method: "PUT", path: "/f", hdr: map[string]string{"X-Expected-Entity-Length": "5"}, body: "exact", status: 204},
		{name: "bad expected length", method: "PUT", path: "/f", hdr: map[string]string{"X-Expected-Entity-Length": "-1"}, body: "x", status: 400},
	})
}

func TestAwkwardNamesRoundTrip(t *testing.T) {
	t.Parallel()
	srv := testServer(t, afero.NewMemMapFs(), Config{})
	names := []string{
		"with space", "per%cent", "hash#tag", "plus+sign", "quest?ion", `dq"uote`, "sq'uote",
		"amp&er", "emoji-😀", "nfc-\u00e9", "nfd-e\u0301", "lt<gt>", "semi;colon", "ünïcødé dir",
	}
	for _, n := range names {
		u := srv.URL + "/" + url.PathEscape(n)
		if got := do(t, "PUT", u, nil, n); got.status != 201 {
			t.Fatalf("PUT %q = %d", n, got.status)
		}
		if got := do(t, "COPY", u, map[string]string{"Destination": srv.URL + "/" + url.PathEscape("copy "+n)}, ""); got.status != 201 {
			t.Errorf("COPY %q = %d %s", n, got.status, got.body)
		}
		if got := do(t, "MOVE", srv.URL+"/"+url.PathEscape("copy "+n), map[string]string{"Destination": srv.URL + "/" + url.PathEscape("moved "+n)}, ""); got.status != 201 {
			t.Errorf("MOVE %q = %d %s", n, got.status, got.body)
		}
	}
	listing := do(t, "PROPFIND", srv.URL+"/", map[string]string{"Depth": "1"}, "")
	hrefs := map[string]bool{}
	for _, m := range regexp.MustCompile(`<D:href>([^<]*)</D:href>`).FindAllStringSubmatch(listing.body, -1) {
		raw := strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`).Replace(m[1])
		p, err := url.PathUnescape(raw)
		if err != nil {
			t.Errorf("href %q is not a valid escaped path", m[1])
		}
		hrefs[p] = true
	}
	for _, n := range names {
		for _, want := range []string{"/" + n, "/moved " + n} {
			if !hrefs[want] {
				t.Errorf("PROPFIND lacks %q", want)
			}
		}
		if got := do(t, "GET", srv.URL+"/"+url.PathEscape("moved "+n), nil, ""); got.body != n {
			t.Errorf("GET moved %q = %q", n, got.body)
		}
	}
}
