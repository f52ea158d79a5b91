package dav

import (
	"net/http"
	"strings"
	"testing"

	"github.com/spf13/afero"

	"davd/storage"
	"davd/storage/state"
)

// nopStore satisfies NewHandler where no request is ever served.
type nopStore struct{ state.Store }

// step is one request of a scripted session and what must come back.
type step struct {
	name   string
	method string
	path   string
	hdr    map[string]string
	body   string
	status int
	// contains, when set, must appear in the response body.
	contains string
	// header, when set, must be present with this value (substring).
	header [2]string
}

func runSteps(t *testing.T, base string, steps []step) {
	t.Helper()
	for _, s := range steps {
		hdr := map[string]string{}
		for k, v := range s.hdr {
			hdr[k] = strings.ReplaceAll(v, "BASE", base)
		}
		got := do(t, s.method, base+s.path, hdr, s.body)
		if got.status != s.status {
			t.Errorf("%s: %s %s = %d, want %d (body %q)", s.name, s.method, s.path, got.status, s.status, got.body)
			continue
		}
		if s.contains != "" && !strings.Contains(got.body, s.contains) {
			t.Errorf("%s: body %q does not contain %q", s.name, got.body, s.contains)
		}
		if s.header[0] != "" && !strings.Contains(got.header.Get(s.header[0]), s.header[1]) {
			t.Errorf("%s: header %s = %q, want it to contain %q", s.name, s.header[0], got.header.Get(s.header[0]), s.header[1])
		}
	}
}

const propfindBody = `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:getcontentlength/></D:prop></D:propfind>`

func TestMethods(t *testing.T) {
	t.Parallel()
	srv := testServer(t, afero.NewMemMapFs(), Config{})
	runSteps(t, srv.URL, []step{
		{name: "options", method: "OPTIONS", path: "/", status: 200, header: [2]string{"DAV", "2"}},
		{name: "mkcol", method: "MKCOL", path: "/a", status: 201},
		{name: "mkcol again", method: "MKCOL", path: "/a", status: 405},
		{name: "mkcol missing parent", method: "MKCOL", path: "/x/y", status: 409},
		{name: "mkcol with body", method: "MKCOL", path: "/b", body: "<x/>", status: 415},
		{name: "put new", method: "PUT", path: "/a/f.txt", body: "hello", status: 201, header: [2]string{"ETag", `"`}},
		{name: "put replace", method: "PUT", path: "/a/f.txt", body: "hello world", status: 204},
		{name: "put missing parent", method: "PUT", path: "/nope/f", body: "x", status: 409, contains: "parent"},
		{name: "put on collection", method: "PUT", path: "/a", body: "x", status: 405},
		{name: "put on root", method: "PUT", path: "/", body: "x", status: 405},
		{name: "put content-range", method: "PUT", path: "/a/f.txt", hdr: map[string]string{"Content-Range": "bytes 0-1/5"}, body: "he", status: 400, contains: "Content-Range"},
		{name: "get", method: "GET", path: "/a/f.txt", status: 200, contains: "hello world", header: [2]string{"Content-Type", "text/plain"}},
		{name: "get range", method: "GET", path: "/a/f.txt", hdr: map[string]string{"Range": "bytes=6-"}, status: 206, contains: "world"},
		{name: "head", method: "HEAD", path: "/a/f.txt", status: 200, header: [2]string{"Content-Length", "11"}},
		{name: "get missing", method: "GET", path: "/a/missing", status: 404, contains: "no such resource"},
		{name: "get collection lists it", method: "GET", path: "/a/", status: 200, contains: `href="/a/f.txt"`},
		{name: "get collection without slash", method: "GET", path: "/a", status: 200, contains: "f.txt"},
		{name: "propfind depth 1", method: "PROPFIND", path: "/a/", hdr: map[string]string{"Depth": "1"}, body: propfindBody, status: 207, contains: "/a/f.txt"},
		{name: "propfind bad depth", method: "PROPFIND", path: "/a/", hdr: map[string]string{"Depth": "2"}, status: 400},
		{name: "propfind malformed xml", method: "PROPFIND", path: "/a/", hdr: map[string]string{"Depth": "0"}, body: "<D:propfind xmlns:D='DAV:'><D:prop>", status: 400},
		{name: "propfind missing", method: "PROPFIND", path: "/zzz", hdr: map[string]string{"Depth": "0"}, status: 404},
		{name: "copy", method: "COPY", path: "/a/f.txt", hdr: map[string]string{"Destination": "BASE/a/g.txt"}, status: 201},
		{name: "copy no overwrite", method: "COPY", path: "/a/f.txt", hdr: map[string]string{"Destination": "BASE/a/g.txt", "Overwrite": "F"}, status: 412},
		{name: "copy overwrite", method: "COPY", path: "/a/f.txt", hdr: map[string]string{"Destination": "BASE/a/g.txt", "Overwrite": "T"}, status: 204},
		{name: "copy bad overwrite", method: "COPY", path: "/a/f.txt", hdr: map[string]string{"Destination": "BASE/a/g.txt", "Overwrite": "yes"}, status: 400, contains: "Overwrite"},
		{name: "copy no destination", method: "COPY", path: "/a/f.txt", status: 400, contains: "Destination"},
		{name: "copy bad destination", method: "COPY", path: "/a/f.txt", hdr: map[string]string{"Destination": "http://[::1"}, status: 400},
		{name: "copy other host", method: "COPY", path: "/a/f.txt", hdr: map[string]string{"Destination": "http://example.com/a/z"}, status: 502, contains: "another server"},
		{name: "copy onto itself", method: "COPY", path: "/a/f.txt", hdr: map[string]string{"Destination": "BASE/a/f.txt"}, status: 403},
		{name: "copy into own subtree", method: "COPY", path: "/a", hdr: map[string]string{"Destination": "BASE/a/sub"}, status: 403, contains: "into itself"},
		{name: "copy missing parent", method: "COPY", path: "/a/f.txt", hdr: map[string]string{"Destination": "BASE/q/r"}, status: 409},
		{name: "copy missing source", method: "COPY", path: "/a/none", hdr: map[string]string{"Destination": "BASE/a/n2"}, status: 404},
		{name: "copy collection", method: "COPY", path: "/a", hdr: map[string]string{"Destination": "BASE/c"}, status: 201},
		{name: "copied member", method: "GET", path: "/c/g.txt", status: 200, contains: "hello world"},
		{name: "copy bad depth", method: "COPY", path: "/a", hdr: map[string]string{"Destination": "BASE/d", "Depth": "1"}, status: 400},
		{name: "move", method: "MOVE", path: "/a/g.txt", hdr: map[string]string{"Destination": "BASE/a/h.txt"}, status: 201},
		{name: "moved source gone", method: "GET", path: "/a/g.txt", status: 404},
		{name: "move without Overwrite replaces", method: "MOVE", path: "/a/h.txt", hdr: map[string]string{"Destination": "BASE/a/f.txt"}, status: 204},
		{name: "move onto ancestor", method: "MOVE", path: "/c/g.txt", hdr: map[string]string{"Destination": "BASE/c"}, status: 403, contains: "contains the source"},
		{name: "move no overwrite", method: "MOVE", path: "/c", hdr: map[string]string{"Destination": "BASE/a", "Overwrite": "F"}, status: 412},
		{name: "delete", method: "DELETE", path: "/c", status: 204},
		{name: "delete missing", method: "DELETE", path: "/c", status: 404},
		{name: "proppatch", method: "PROPPATCH", path: "/a/f.txt", body: `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:a xmlns:x="urn:x">1</x:a></D:prop></D:set></D:propertyupdate>`, status: 207},
		{name: "unknown method", method: "BREW", path: "/a", status: 405, header: [2]string{"Allow", "PROPFIND"}},
		{name: "huge xml body", method: "PROPFIND", path: "/a", hdr: map[string]string{"Depth": "0"}, body: "<D:propfind xmlns:D=\"DAV:\">" + strings.Repeat("<D:prop/>", 200000) + "</D:propfind>", status: 413},
	})
}

func TestLocking(t *testing.T) {
	t.Parallel()
	srv := testServer(t, afero.NewMemMapFs(), Config{})
	do(t, "PUT", srv.URL+"/f", nil, "v1")
	lockBody := `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>t</D:owner></D:lockinfo>`
	lock := do(t, "LOCK", srv.URL+"/f", map[string]string{"Timeout": "Second-60"}, lockBody)
	if lock.status != http.StatusOK {
		t.Fatalf("LOCK = %d %s", lock.status, lock.body)
	}
	token := lock.header.Get("Lock-Token")
	if token == "" {
		t.Fatal("no Lock-Token")
	}
	runSteps(t, srv.URL, []step{
		{name: "put without token", method: "PUT", path: "/f", body: "v2", status: 423},
		{name: "put wrong token", method: "PUT", path: "/f", hdr: map[string]string{"If": "(<urn:nope>)"}, body: "v2", status: 412},
		{name: "put true If without the token", method: "PUT", path: "/f", hdr: map[string]string{"If": "(<urn:nope>) (Not <DAV:no-lock>)"}, body: "v2", status: 423},
		{name: "put malformed If", method: "PUT", path: "/f", hdr: map[string]string{"If": "garbage"}, body: "v2", status: 400},
		{name: "delete without token", method: "DELETE", path: "/f", status: 423},
		{name: "put with token", method: "PUT", path: "/f", hdr: map[string]string{"If": "(" + token + ")"}, body: "v2", status: 204},
		{name: "put tagged list", method: "PUT", path: "/f", hdr: map[string]string{"If": "<BASE/f> (" + token + ")"}, body: "v3", status: 204},
		{name: "content kept", method: "GET", path: "/f", status: 200, contains: "v3"},
		{name: "unlock", method: "UNLOCK", path: "/f", hdr: map[string]string{"Lock-Token": token}, status: 204},
		{name: "put after unlock", method: "PUT", path: "/f", body: "v4", status: 204},
	})
}

func TestPrefix(t *testing.T) {
	t.Parallel()
	backend := afero.NewMemMapFs()
	srv := testServer(t, backend, Config{Prefix: "/dav/"})
	runSteps(t, srv.URL, []step{
		{name: "put on a look-alike prefix", method: "PUT", path: "/davx", body: "x", status: 404},
		{name: "put outside prefix", method: "PUT", path: "/x", body: "x", status: 404},
		{name: "put under prefix", method: "PUT", path: "/dav/x", body: "inside", status: 201},
		{name: "get under prefix", method: "GET", path: "/dav/x", status: 200, contains: "inside"},
		{name: "prefix itself lists root", method: "GET", path: "/dav", status: 200, contains: `href="/dav/x"`},
		{name: "propfind prefix", method: "PROPFIND", path: "/dav/", hdr: map[string]string{"Depth": "1"}, status: 207, contains: "/dav/x"},
		{name: "copy within prefix", method: "COPY", path: "/dav/x", hdr: map[string]string{"Destination": "BASE/dav/y"}, status: 201},
		{name: "copy outside prefix", method: "COPY", path: "/dav/x", hdr: map[string]string{"Destination": "BASE/other/y"}, status: 502, contains: "outside"},
		{name: "copy to look-alike prefix", method: "COPY", path: "/dav/x", hdr: map[string]string{"Destination": "BASE/davy"}, status: 502},
	})
	if _, err := backend.Stat("/x"); err != nil {
		t.Errorf("PUT /dav/x did not store /x: %v", err)
	}
	for _, name := range []string{"/davx", "/dav/x", "/y/x", "/davy"} {
		if _, err := backend.Stat(name); err == nil {
			t.Errorf("%s was written", name)
		}
	}
}

func TestReadOnly(t *testing.T) {
	t.Parallel()
	backend := afero.NewMemMapFs()
	afero.WriteFile(backend, "/f", []byte("content"), 0o644)
	srv := testServer(t, afero.NewReadOnlyFs(backend), Config{ReadOnly: true})
	steps := []step{
		{name: "get", method: "GET", path: "/f", status: 200, contains: "content"},
		{name: "propfind", method: "PROPFIND", path: "/", hdr: map[string]string{"Depth": "1"}, status: 207},
		{name: "options", method: "OPTIONS", path: "/f", status: 200},
	}
	for _, m := range []string{"PUT", "DELETE", "MKCOL", "PROPPATCH", "LOCK", "UNLOCK"} {
		steps = append(steps, step{name: m, method: m, path: "/f", status: 403, contains: "read-only"})
	}
	for _, m := range []string{"COPY", "MOVE"} {
		steps = append(steps, step{name: m, method: m, path: "/f", hdr: map[string]string{"Destination": "BASE/g"}, status: 403, contains: "read-only"})
	}
	runSteps(t, srv.URL, steps)
	if b, _ := afero.ReadFile(backend, "/f"); string(b) != "content" {
		t.Errorf("content changed: %q", b)
	}
}

func TestNewHandlerRejectsBadPrefix(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"dav", "/a/../b", "/a\\b"} {
		if _, err := NewHandler(storage.NewFileSystem(afero.NewMemMapFs()), nopStore{}, Config{Prefix: p}); err == nil {
			t.Errorf("prefix %q accepted", p)
		}
	}
}
