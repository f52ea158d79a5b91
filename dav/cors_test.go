package dav

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/spf13/afero"

	"davd/storage"
	"davd/storage/state"
)

// corsServer serves a memory tree behind NewCORS over loopback HTTP.
func corsServer(t *testing.T, origins ...string) string {
	t.Helper()
	st, err := state.Open(context.Background(), "memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	fs := afero.NewMemMapFs()
	afero.WriteFile(fs, "/f", []byte("data"), 0o644)
	h, err := NewHandler(storage.NewFileSystem(fs), st, Config{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCORS(origins, h)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestCORS(t *testing.T) {
	t.Parallel()
	const app = "https://app.example.com"
	base := corsServer(t, app, "http://localhost:3000")
	preflight := func(origin, method, headers string) response {
		hdr := map[string]string{"Origin": origin, "Access-Control-Request-Method": method}
		if headers != "" {
			hdr["Access-Control-Request-Headers"] = headers
		}
		return do(t, "OPTIONS", base+"/f", hdr, "")
	}

	for _, m := range []string{"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "PUT", "DELETE"} {
		got := preflight(app, m, "depth,destination,overwrite,if,lock-token,timeout,content-type,authorization")
		if got.status != http.StatusNoContent {
			t.Errorf("preflight %s = %d", m, got.status)
		}
		if got.header.Get("Access-Control-Allow-Origin") != app || got.header.Get("Access-Control-Allow-Credentials") != "true" {
			t.Errorf("preflight %s: origin headers %v", m, got.header)
		}
		if !strings.Contains(got.header.Get("Access-Control-Allow-Methods"), m) {
			t.Errorf("preflight %s: Allow-Methods %q", m, got.header.Get("Access-Control-Allow-Methods"))
		}
		allowed := strings.ToLower(got.header.Get("Access-Control-Allow-Headers"))
		for _, h := range []string{"depth", "destination", "overwrite", "if", "lock-token", "timeout", "content-type", "authorization", "prefer"} {
			if !listHas(strings.ReplaceAll(allowed, " ", ""), h) {
				t.Errorf("preflight %s: %q not in Allow-Headers %q", m, h, allowed)
			}
		}
	}
	if got := preflight("http://localhost:3000", "PROPFIND", ""); got.header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" {
		t.Errorf("second origin refused: %v", got.header)
	}

	// Unlisted origins, look-alikes and unknown methods get no CORS headers.
	for _, o := range []string{"https://evil.example", "https://app.example.com.evil.example", "http://app.example.com", "null"} {
		got := preflight(o, "PROPFIND", "")
		for k := range got.header {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("origin %s got %s", o, k)
			}
		}
		if got.status != http.StatusOK || got.header.Get("DAV") == "" {
			t.Errorf("origin %s: plain OPTIONS not served (%d)", o, got.status)
		}
	}
	if got := preflight(app, "TRACE", ""); got.header.Get("Access-Control-Allow-Origin") != "" || got.header.Get("Access-Control-Allow-Methods") != "" {
		t.Errorf("preflight for TRACE allowed: %v", got.header)
	}

	// Actual requests: allowed origins may read the WebDAV headers.
	got := do(t, "GET", base+"/f", map[string]string{"Origin": app}, "")
	if got.status != 200 || got.header.Get("Access-Control-Allow-Origin") != app {
		t.Errorf("GET from %s: %d %v", app, got.status, got.header)
	}
	exposed := got.header.Get("Access-Control-Expose-Headers")
	for _, h := range []string{"DAV", "ETag", "Lock-Token", "Location"} {
		if !strings.Contains(exposed, h) {
			t.Errorf("%s not exposed: %q", h, exposed)
		}
	}
	if !strings.Contains(strings.Join(got.header.Values("Vary"), ","), "Origin") {
		t.Errorf("no Vary: Origin: %v", got.header)
	}
	got = do(t, "GET", base+"/f", map[string]string{"Origin": "https://evil.example"}, "")
	if got.status != 200 || got.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("GET from an unlisted origin: %d %v", got.status, got.header)
	}
	// A refusal from the handler still carries the CORS headers, so that
	// the application can read the reason.
	got = do(t, "MKCOL", base+"/a/b", map[string]string{"Origin": app}, "")
	if got.status != http.StatusConflict || got.header.Get("Access-Control-Allow-Origin") != app {
		t.Errorf("MKCOL without parent from %s: %d %v", app, got.status, got.header)
	}
}

func TestCORSAnyOrigin(t *testing.T) {
	t.Parallel()
	base := corsServer(t, "*")
	got := do(t, "OPTIONS", base+"/f", map[string]string{"Origin": "https://anywhere.example", "Access-Control-Request-Method": "PROPFIND"}, "")
	if got.header.Get("Access-Control-Allow-Origin") != "*" || got.header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("wildcard preflight: %v", got.header)
	}
}

func TestNewCORSRejects(t *testing.T) {
	t.Parallel()
	for _, o := range []string{"app.example.com", "https://app.example.com/", "https://app.example.com/x", "ftp://app.example.com", "https://", "https://u@app.example.com"} {
		if _, err := NewCORS([]string{o}, http.NotFoundHandler()); err == nil {
			t.Errorf("origin %q accepted", o)
		}
	}
}
