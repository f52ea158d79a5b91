package dav

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/spf13/afero"

	"davd/dav/ui"
	"davd/processing"
	"davd/storage"
	"davd/storage/state"
)

// browserAccept is what Chromium sends when it navigates.
const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"

// uiServer serves backend with cfg over loopback HTTP behind NewCORS (no
// origins), with the user named by the X-User header, and returns its URL
// and the handler's registry.
func uiServer(t *testing.T, backend afero.Fs, cfg Config) (string, *processing.Registry) {
	t.Helper()
	st, err := state.Open(context.Background(), "memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if cfg.Operations == nil {
		cfg.Operations = processing.NewRegistry(time.Hour)
	}
	if cfg.Processing.Interval == 0 {
		cfg.Processing = processing.Config{Mode: processing.ModeOff}
	}
	h, err := NewHandler(storage.NewFileSystem(backend), st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	withUser := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(WithUser(r.Context(), r.Header.Get("X-User"))))
	})
	c, err := NewCORS(nil, withUser)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return srv.URL, cfg.Operations
}

func uiTestTree(t *testing.T) afero.Fs {
	fs := afero.NewMemMapFs()
	for name, body := range map[string]string{
		"/docs/a.txt": "alpha", "/docs/sub/b.txt": "bravo", "/docs/sub/deep/c.md": "charlie",
		"/<img src=x onerror=alert(1)>.html": "<script>alert(1)</script>", "/top.bin": strings.Repeat("x", 3000),
	} {
		if err := afero.WriteFile(fs, name, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return fs
}

// TestUIDispatch: a browser's GET of a collection gets the file manager
// with its strict CSP; curl and WebDAV clients keep the plain listing and
// its headers; folder URLs without a slash redirect browsers; the assets
// live under the prefix's reserved path; --no-ui serves the plain listing
// and leaves the reserved path unserved.
func TestUIDispatch(t *testing.T) {
	t.Parallel()
	base, _ := uiServer(t, uiTestTree(t), Config{Prefix: "/dav"})

	page := do(t, "GET", base+"/dav/", map[string]string{"Accept": browserAccept}, "")
	if page.status != 200 || page.header.Get("Content-Security-Policy") != ui.PageCSP ||
		page.header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(page.body, `id="davd-data"`) {
		t.Fatalf("browser GET / = %d %v\n%s", page.status, page.header, page.body)
	}
	if strings.Contains(page.body, "<img src=x") {
		t.Errorf("the page carries a stored name unescaped:\n%s", page.body)
	}
	if !strings.Contains(page.body, `src="/dav/.davd/ui/app.js?v=`) {
		t.Errorf("the page does not load its script from the prefix's reserved path:\n%s", page.body)
	}
	for _, accept := range []string{"", "*/*", "text/xml", "text/html;q=0.5,*/*"} {
		got := do(t, "GET", base+"/dav/", map[string]string{"Accept": accept}, "")
		if got.status != 200 || !strings.Contains(got.body, "Index of /dav/") || got.header.Get("Content-Security-Policy") != listingCSP ||
			got.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("Accept %q: %d %v\n%s", accept, got.status, got.header, got.body)
		}
	}
	// Redirect for browsers only; WebDAV clients keep their answer.
	req, _ := http.NewRequest("GET", base+"/dav/docs", nil)
	req.Header.Set("Accept", browserAccept)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/dav/docs/" {
		t.Errorf("browser GET /dav/docs = %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := do(t, "GET", base+"/dav/docs", nil, ""); got.status != 200 || !strings.Contains(got.body, "Index of /dav/docs/") {
		t.Errorf("curl GET /dav/docs = %d", got.status)
	}
	// Assets: under the prefix only, gzipped, never shadowing storage.
	js := do(t, "GET", base+"/dav/.davd/ui/app.js", nil, "")
	if js.status != 200 || !strings.HasPrefix(js.header.Get("Content-Type"), "text/javascript") || !strings.Contains(js.body, "X-Davd-UI") {
		t.Errorf("GET app.js = %d %v", js.status, js.header)
	}
	for _, p := range []string{"/.davd/ui/app.js", "/dav/.davd/ui/nothing", "/dav/.davd/state.db", "/dav/.davd/ui/../ui/app.js"} {
		if got := do(t, "GET", base+p, nil, ""); got.status < 400 || got.status >= 500 {
			t.Errorf("GET %s = %d, want a 4xx", p, got.status)
		}
	}
	if got := do(t, "PUT", base+"/dav/.davd/ui/app.js", nil, "evil"); got.status != http.StatusNotFound && got.status != http.StatusMethodNotAllowed {
		t.Errorf("PUT over an asset = %d", got.status)
	}

	off, _ := uiServer(t, uiTestTree(t), Config{Prefix: "/dav", NoUI: true})
	got := do(t, "GET", off+"/dav/", map[string]string{"Accept": browserAccept}, "")
	if got.status != 200 || !strings.Contains(got.body, "Index of /dav/") || got.header.Get("Content-Security-Policy") != listingCSP {
		t.Errorf("NoUI: browser GET = %d %v", got.status, got.header)
	}
	if got := do(t, "GET", off+"/dav/.davd/ui/app.js", nil, ""); got.status != http.StatusNotFound {
		t.Errorf("NoUI: GET app.js = %d, want 404", got.status)
	}
}

// TestUIListSearchZip: the JSON listing leaves out what the user may not
// read; the search streams matches below a folder and ends with a done
// line; the ZIP holds the folder's tree with its contents.
func TestUIListSearchZip(t *testing.T) {
	t.Parallel()
	perms := &Permissions{Default: PermAll, Rules: []Rule{{Path: "/docs/sub/deep", Perm: PermNone}}}
	base, _ := uiServer(t, uiTestTree(t), Config{Permissions: perms})

	got := do(t, "GET", base+"/.davd/ui/list?path=/docs/sub", nil, "")
	var l struct {
		Access  string
		Entries []struct{ N string }
	}
	if err := json.Unmarshal([]byte(got.body), &l); err != nil || got.status != 200 {
		t.Fatalf("list = %d %q: %v", got.status, got.body, err)
	}
	if l.Access != "rcud" || len(l.Entries) != 1 || l.Entries[0].N != "b.txt" {
		t.Errorf("list /docs/sub = %+v; want b.txt alone (deep is not readable)", l)
	}
	for _, p := range []string{"/docs/sub/deep", "/.davd", "docs", "/docs/../x", "/nothing"} {
		if got := do(t, "GET", base+"/.davd/ui/list?path="+p, nil, ""); got.status < 400 || got.status >= 500 {
			t.Errorf("list %s = %d, want a 4xx", p, got.status)
		}
	}

	got = do(t, "GET", base+"/.davd/ui/search?path=/&q=.TXT", nil, "")
	lines := strings.Split(strings.TrimSpace(got.body), "\n")
	if got.status != 200 || len(lines) != 3 || !strings.Contains(lines[0], `"/docs/a.txt"`) || !strings.Contains(lines[1], `"/docs/sub/b.txt"`) ||
		!strings.Contains(lines[2], `"done":true`) {
		t.Errorf("search .TXT = %d\n%s", got.status, got.body)
	}
	if got := do(t, "GET", base+"/.davd/ui/search?path=/&q=c.md", nil, ""); strings.Contains(got.body, "c.md") {
		t.Errorf("search found an unreadable member:\n%s", got.body)
	}
	if got := do(t, "GET", base+"/.davd/ui/search?path=/&q=", nil, ""); got.status != http.StatusBadRequest {
		t.Errorf("empty search = %d", got.status)
	}

	resp, err := http.Get(base + "/.davd/ui/zip?path=/docs")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/zip" ||
		resp.Header.Get("Content-Disposition") != `attachment; filename=docs.zip` {
		t.Fatalf("zip = %d %v", resp.StatusCode, resp.Header)
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		files[f.Name] = string(b)
	}
	want := map[string]string{"a.txt": "alpha", "sub/": "", "sub/b.txt": "bravo"}
	if fmt.Sprint(files) != fmt.Sprint(want) {
		t.Errorf("zip holds %v, want %v", files, want)
	}
}

// TestUIOperationsCancel: a user sees and cancels their own long COPY
// through the page's endpoint, never another user's; cancelling needs the
// page's header.
func TestUIOperationsCancel(t *testing.T) {
	t.Parallel()
	mem := afero.NewMemMapFs()
	for i := range 400 {
		afero.WriteFile(mem, fmt.Sprintf("/big/f%03d", i), []byte("data"), 0o644)
	}
	base, _ := uiServer(t, storage.LatencyFs{Fs: mem, Delay: 2 * time.Millisecond}, Config{})
	done := make(chan response, 1)
	go func() {
		done <- do(t, "COPY", base+"/big/", map[string]string{"X-User": "alice", "Destination": base + "/copy/", ui.Header: "1"}, "")
	}()
	type ops struct {
		Operations []struct {
			ID, Method  string
			Resources   int64
			Cancellable bool
		}
	}
	var id string
	for deadline := time.Now().Add(5 * time.Second); id == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var mine ops
		json.Unmarshal([]byte(do(t, "GET", base+"/.davd/ui/ops", map[string]string{"X-User": "alice"}, "").body), &mine)
		for _, o := range mine.Operations {
			if o.Method == "COPY" && o.Cancellable && o.Resources > 0 {
				id = o.ID
			}
		}
	}
	if id == "" {
		t.Fatal("alice's COPY never showed as a cancellable operation with progress")
	}
	var bobs ops
	json.Unmarshal([]byte(do(t, "GET", base+"/.davd/ui/ops", map[string]string{"X-User": "bob"}, "").body), &bobs)
	if len(bobs.Operations) != 0 {
		t.Errorf("bob sees %+v", bobs)
	}
	if got := do(t, "POST", base+"/.davd/ui/ops?cancel="+id, map[string]string{"X-User": "bob", ui.Header: "1"}, ""); got.status != http.StatusNotFound {
		t.Errorf("bob cancelling alice's operation = %d, want 404", got.status)
	}
	if got := do(t, "POST", base+"/.davd/ui/ops?cancel="+id, map[string]string{"X-User": "alice"}, ""); got.status != http.StatusForbidden {
		t.Errorf("cancel without %s = %d, want 403", ui.Header, got.status)
	}
	if got := do(t, "POST", base+"/.davd/ui/ops?cancel="+id, map[string]string{"X-User": "alice", ui.Header: "1"}, ""); got.status != http.StatusNoContent {
		t.Errorf("alice cancelling = %d %s", got.status, got.body)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the cancelled COPY did not end")
	}
	copied, _ := afero.ReadDir(mem, "/copy")
	if len(copied) >= 400 {
		t.Errorf("the cancelled COPY copied all %d members", len(copied))
	}
}

// TestCrossSiteWrites: a write that a browser sends on behalf of another
// site (Sec-Fetch-Site or Origin) is refused unless it carries the page's
// header or its origin is allowed by --cors-origin; same-origin writes and
// clients that are not browsers pass. Raw requests, so that nothing adds
// or drops a header.
func TestCrossSiteWrites(t *testing.T) {
	t.Parallel()
	base, _ := uiServer(t, uiTestTree(t), Config{})
	addr := strings.TrimPrefix(base, "http://")
	put := func(name string, headers ...string) response {
		return raw(t, addr, "PUT /"+name+" HTTP/1.1\r\nHost: "+addr+"\r\nContent-Length: 4\r\nConnection: close\r\n"+
			strings.Join(headers, "\r\n")+"\r\n\r\nevil")
	}
	for _, c := range []struct {
		headers []string
		want    int
	}{
		{nil, 201},
		{[]string{"Sec-Fetch-Site: same-origin", "Origin: http://" + addr}, 201},
		{[]string{"Origin: http://" + addr}, 201},
		{[]string{"Sec-Fetch-Site: none"}, 201},
		{[]string{"Sec-Fetch-Site: cross-site", "Origin: https://evil.example"}, 403},
		{[]string{"Sec-Fetch-Site: same-site", "Origin: http://other." + addr}, 403},
		{[]string{"Origin: https://evil.example"}, 403},
		{[]string{"Origin: null"}, 403},
		{[]string{"Sec-Fetch-Site: cross-site", ui.Header + ": 1"}, 201},
	} {
		name := fmt.Sprintf("f%d", len(c.headers)) + strings.NewReplacer(" ", "", ":", "", "/", "", ".", "").Replace(strings.Join(c.headers, ""))
		got := put(name, c.headers...)
		if got.status != c.want {
			t.Errorf("PUT with %q = %d %s, want %d", c.headers, got.status, got.body, c.want)
		}
		if c.want == 403 && !strings.Contains(got.body, "cross-site PUT refused") {
			t.Errorf("refusal without its reason: %q", got.body)
		}
	}
	// Reads from anywhere are not writes: a cross-site GET passes (the
	// browser keeps its response from the other site's script).
	if got := raw(t, addr, "GET /top.bin HTTP/1.1\r\nHost: "+addr+"\r\nSec-Fetch-Site: cross-site\r\nConnection: close\r\n\r\n"); got.status != 200 {
		t.Errorf("cross-site GET = %d", got.status)
	}
	// An origin allowed by --cors-origin may write.
	allowed := corsServer(t, "https://app.example.com")
	got := raw(t, strings.TrimPrefix(allowed, "http://"), "DELETE /f HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example.com\r\nSec-Fetch-Site: cross-site\r\nConnection: close\r\n\r\n")
	if got.status != http.StatusNoContent {
		t.Errorf("DELETE from an allowed origin = %d %s", got.status, got.body)
	}
	got = raw(t, strings.TrimPrefix(allowed, "http://"), "PUT /g HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx")
	if got.status != http.StatusForbidden {
		t.Errorf("PUT from another origin beside an allowed one = %d", got.status)
	}
}

// TestWantsHTML pins the Accept rule.
func TestWantsHTML(t *testing.T) {
	t.Parallel()
	for accept, want := range map[string]bool{
		browserAccept: true, "text/html": true, "TEXT/HTML;q=1.0": true, "text/html;q=0.9,*/*;q=0.8": true,
		"": false, "*/*": false, "text/xml": false, "text/html;q=0.5,*/*": false, "text/html;q=0": false, "text/html;q=bogus": false,
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept", accept)
		if got := ui.WantsHTML(r); got != want {
			t.Errorf("WantsHTML(%q) = %v, want %v", accept, got, want)
		}
	}
}
