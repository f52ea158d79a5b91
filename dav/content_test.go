package dav

import (
	"net/http"
	"testing"
)

func TestActiveType(t *testing.T) {
	t.Parallel()
	for ct, want := range map[string]bool{
		"text/html; charset=utf-8":  true,
		"TEXT/HTML":                 true,
		"application/xhtml+xml":     true,
		"image/svg+xml":             true,
		"text/xml; charset=utf-8":   true,
		"application/xml":           true,
		"application/rss+xml":       true,
		"text/javascript":           true,
		"application/javascript":    true,
		"application/ecmascript":    true,
		"multipart/x-mixed-replace": true,
		"text/plain; charset=utf-8": false,
		"application/octet-stream":  false,
		"image/png":                 false,
		"application/pdf":           false,
		"text/css; charset=utf-8":   false,
		"application/json":          false,
	} {
		if got := activeType(ct); got != want {
			t.Errorf("activeType(%q) = %v, want %v", ct, got, want)
		}
	}
}

func TestStoredContentHeaders(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, ct string
		inline   bool
		disp     string
	}{
		{"/d/page.html", "text/html; charset=utf-8", false, `attachment; filename=page.html`},
		{"/d/p a\"ge.svg", "image/svg+xml", false, `attachment; filename="p a\"ge.svg"`},
		{"/d/é.html", "text/html", false, `attachment; filename*=utf-8''%C3%A9.html`},
		{"/d/page.html", "text/html", true, ""},
		{"/d/notes.txt", "text/plain", false, ""},
	} {
		hdr := http.Header{}
		storedContentHeaders(hdr, tt.name, tt.ct, tt.inline)
		if hdr.Get("X-Content-Type-Options") != "nosniff" || hdr.Get("Content-Security-Policy") != "sandbox" {
			t.Errorf("%s: headers %v lack nosniff or the sandbox", tt.name, hdr)
		}
		if got := hdr.Get("Content-Disposition"); got != tt.disp {
			t.Errorf("%s (inline %v): Content-Disposition %q, want %q", tt.name, tt.inline, got, tt.disp)
		}
	}
}
