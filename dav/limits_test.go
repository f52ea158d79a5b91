package dav

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/spf13/afero"

	"davd/storage"
)

// dirServer serves a fresh directory through os.Root with cfg.
func dirServer(t *testing.T, cfg Config) (dir, base string) {
	t.Helper()
	dir, rfs := tempRoot(t)
	return dir, testServer(t, rfs, cfg).URL
}

// tempRoot opens a fresh directory through os.Root.
func tempRoot(t *testing.T) (string, *storage.RootFs) {
	t.Helper()
	dir := t.TempDir()
	rfs, err := storage.NewRootFs(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rfs.Close() })
	return dir, rfs
}

// names lists dir, hidden temporary files included.
func names(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n []string
	for _, e := range entries {
		n = append(n, e.Name())
	}
	return strings.Join(n, ",")
}

// chunked is a body of unknown length, so the client sends it chunked and
// only the streaming check can stop it.
type chunked struct{ io.Reader }

func TestMaxUpload(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	dir, base := dirServer(t, Config{Limits: Limits{MaxUpload: limit}})
	os.WriteFile(filepath.Join(dir, "old"), []byte("previous"), 0o644)
	addr := strings.TrimPrefix(base, "http://")

	put := func(name string, body io.Reader, hdr ...string) response {
		req, _ := http.NewRequest("PUT", base+"/"+name, body)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("PUT %s: %v", name, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return response{resp.StatusCode, resp.Header, string(b)}
	}
	tests := []struct {
		name string
		send func() response
		want int
	}{
		{"at the limit", func() response { return put("exact", strings.NewReader(strings.Repeat("x", limit))) }, 201},
		{"announced over the limit", func() response {
			// Only the headers: the refusal must not wait for the body.
			return raw(t, addr, fmt.Sprintf("PUT /big HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", int64(limit)+1))
		}, 413},
		{"4 GiB announced", func() response {
			return raw(t, addr, "PUT /huge HTTP/1.1\r\nHost: x\r\nContent-Length: 4294967296\r\n\r\n")
		}, 413},
		{"chunked over the limit", func() response { return put("streamed", chunked{strings.NewReader(strings.Repeat("x", 3*limit))}) }, 413},
		{"chunked over the limit replacing", func() response { return put("old", chunked{strings.NewReader(strings.Repeat("x", 3*limit))}) }, 413},
		{"Finder's announced length", func() response {
			return put("finder", chunked{strings.NewReader("small")}, "X-Expected-Entity-Length", fmt.Sprint(limit+1))
		}, 413},
	}
	for _, tt := range tests {
		got := tt.send()
		if got.status != tt.want {
			t.Errorf("%s: %d %q, want %d", tt.name, got.status, got.body, tt.want)
		}
		if tt.want == 413 && !strings.Contains(got.body, "limit") {
			t.Errorf("%s: reason %q does not name the limit", tt.name, got.body)
		}
	}
	if got, want := names(t, dir), "exact,old"; got != want {
		t.Errorf("directory holds %s, want %s (no refused upload, no temporary file)", got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "old")); string(b) != "previous" {
		t.Errorf("refused upload changed the old content to %.20q", b)
	}
}

func TestMaxXMLBody(t *testing.T) {
	t.Parallel()
	// The default applies with a zero Limits.
	_, base := dirServer(t, Config{})
	addr := strings.TrimPrefix(base, "http://")
	got := raw(t, addr, fmt.Sprintf("PROPFIND / HTTP/1.1\r\nHost: x\r\nDepth: 0\r\nContent-Length: %d\r\n\r\n", DefaultMaxXMLBody+1))
	if got.status != 413 {
		t.Errorf("announced body over 1 MiB = %d %q", got.status, got.body)
	}
	req, _ := http.NewRequest("PROPPATCH", base+"/", chunked{strings.NewReader(`<?xml version="1.0"?>` + strings.Repeat(" ", DefaultMaxXMLBody))})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("chunked body over 1 MiB = %d", resp.StatusCode)
	}

	_, small := dirServer(t, Config{Limits: Limits{MaxXMLBody: 100}})
	got = do(t, "LOCK", small+"/x", nil, `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`)
	if got.status != 413 {
		t.Errorf("LOCK body over a 100-byte limit = %d %q", got.status, got.body)
	}
}

func TestMaxPropfindEntries(t *testing.T) {
	t.Parallel()
	fs := afero.NewMemMapFs()
	for i := range 3 {
		for j := range 3 {
			afero.WriteFile(fs, fmt.Sprintf("/d%d/f%d", i, j), []byte("x"), 0o644)
		}
	}
	// 13 resources: the root, 3 collections, 9 files.
	tests := []struct {
		limit int
		depth string
		want  int
	}{
		{12, "infinity", 403},
		{13, "infinity", 207},
		{0, "infinity", 207},
		{2, "1", 207}, // only Depth: infinity is limited
		{2, "", 403},  // no Depth header means infinity
	}
	for _, tt := range tests {
		srv := testServer(t, fs, Config{Limits: Limits{MaxPropfindEntries: tt.limit}})
		hdr := map[string]string{}
		if tt.depth != "" {
			hdr["Depth"] = tt.depth
		}
		got := do(t, "PROPFIND", srv.URL+"/", hdr, "")
		if got.status != tt.want {
			t.Errorf("limit %d, Depth %q: %d, want %d", tt.limit, tt.depth, got.status, tt.want)
		}
		if tt.want == 403 && !strings.Contains(got.body, "<D:propfind-finite-depth/>") {
			t.Errorf("limit %d: 403 without the precondition: %q", tt.limit, got.body)
		}
		if tt.want == 207 && tt.depth == "infinity" && strings.Count(got.body, "<D:response>") != 13 {
			t.Errorf("limit %d: %d responses, want 13", tt.limit, strings.Count(got.body, "<D:response>"))
		}
	}
}

// growingFs adds members to the root collection when it is listed for the
// second time: between PROPFIND's count and its walk.
type growingFs struct {
	afero.Fs
	opens atomic.Int32
}

func (g *growingFs) Open(name string) (afero.File, error) {
	if name == "/" && g.opens.Add(1) == 2 {
		for i := range 10 {
			afero.WriteFile(g.Fs, fmt.Sprintf("/late%d", i), []byte("x"), 0o644)
		}
	}
	return g.Fs.Open(name)
}

// TestPropfindTruncatedInStream: when the tree grows past the limit after
// the count, the 207 is already committed; it ends with a 507 response for
// the request URI instead of going on.
func TestPropfindTruncatedInStream(t *testing.T) {
	t.Parallel()
	fs := &growingFs{Fs: afero.NewMemMapFs()}
	afero.WriteFile(fs.Fs, "/a", []byte("x"), 0o644)
	srv := testServer(t, fs, Config{Limits: Limits{MaxPropfindEntries: 5}})
	got := do(t, "PROPFIND", srv.URL+"/", map[string]string{"Depth": "infinity"}, "")
	if got.status != 207 {
		t.Fatalf("PROPFIND = %d %q", got.status, got.body)
	}
	if n := strings.Count(got.body, "<D:response>"); n != 6 {
		t.Errorf("%d responses, want 5 resources and the 507", n)
	}
	if !strings.Contains(got.body, "HTTP/1.1 507 Insufficient Storage</D:status><D:error><D:number-of-matches-within-limits/>") {
		t.Errorf("no 507 at the end:\n%s", got.body)
	}
	if !strings.HasSuffix(strings.TrimSpace(got.body), "</D:multistatus>") {
		t.Errorf("truncated body is not a complete document")
	}
}
