package ui_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"testing"

	"github.com/spf13/afero"

	"davd/dav"
	"davd/dav/ui"
)

// TestPageWeight: the page of a small folder with its script and style
// sheet, as a browser fetches them (gzipped), weighs under 100 KiB. The
// sizes are reported.
func TestPageWeight(t *testing.T) {
	t.Parallel()
	fs := afero.NewMemMapFs()
	afero.WriteFile(fs, "/docs/a.txt", []byte("a"), 0o644)
	base := startDavd(t, fs, dav.Config{})
	get := func(path, accept string) (plain int, gz []byte) {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Accept", accept)
		req.Header.Set("Accept-Encoding", "gzip") // by hand: the transport then leaves the body compressed
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s = %d", path, resp.StatusCode)
		}
		if resp.Header.Get("Content-Encoding") == "gzip" {
			r, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			unz, _ := io.ReadAll(r)
			return len(unz), b
		}
		// The page itself is not compressed by davd; count what gzip makes
		// of it, as a compressing proxy would send it.
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
		return len(b), buf.Bytes()
	}
	pagePlain, pageGz := get("/", "text/html")
	total, totalPlain := len(pageGz), pagePlain
	for _, a := range []string{"app.js", "app.css"} {
		p, gz := get(ui.Path+a, "*/*")
		total += len(gz)
		totalPlain += p
	}
	t.Logf("page + app.js + app.css: %d bytes, %d gzipped (%.1f KiB)", totalPlain, total, float64(total)/1024)
	if total >= 100<<10 {
		t.Errorf("the page with its assets weighs %d bytes gzipped; the limit is 100 KiB", total)
	}
}
