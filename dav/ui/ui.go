// Package ui is davd's file manager in the browser: one page, its script
// and its style sheet, all embedded in the binary (no CDN, nothing fetched
// at run time, no build step), and the small JSON and download endpoints
// the page uses beside WebDAV itself.
//
// Everything the package serves lives under the reserved path
// Prefix+"/.davd/ui/". ".davd" is a reserved storage name
// (storage.IsReserved), so no stored resource can ever have that path; the
// dav.Handler routes it here before it looks anything up in storage.
//
// The package knows nothing of permissions, users or storage: it reads the
// tree through a Tree, which answers only what the signed-in user may read,
// and the server enforces every WebDAV request the page sends, whatever
// the page shows.
package ui

import (
	"context"
	"io"
	"io/fs"
	"net/http"
	"strings"

	"davd/processing"
)

// Path is the reserved segment, below the handler's prefix, under which the
// page's assets and endpoints are served.
const Path = "/.davd/ui/"

// Header is the request header the page sends with every request that
// changes something. A cross-site HTML form cannot send a custom header,
// and a cross-origin script can only with a CORS preflight the server
// grants: a write carrying it comes from the page (or from a client that
// is not a browser).
const Header = "X-Davd-UI"

// Access is what the signed-in user may do at a name.
type Access struct {
	Read, Create, Update, Delete bool
}

// String is the compact form the page reads: a letter for each right
// granted among "rcud".
func (a Access) String() string {
	var b strings.Builder
	for _, r := range []struct {
		ok bool
		c  byte
	}{{a.Read, 'r'}, {a.Create, 'c'}, {a.Update, 'u'}, {a.Delete, 'd'}} {
		if r.ok {
			b.WriteByte(r.c)
		}
	}
	return b.String()
}

// Tree is the signed-in user's view of the storage. Names are clean
// storage names ("/", "/a/b"). Implementations leave out of ReadDir every
// member the user may not read or that could not be served under its
// name, so that the page never shows a link that fails.
type Tree interface {
	// Stat describes name.
	Stat(ctx context.Context, name string) (fs.FileInfo, error)
	// ReadDir returns the members of collection name, in no particular
	// order.
	ReadDir(ctx context.Context, name string) ([]fs.FileInfo, error)
	// Open opens the file name for reading.
	Open(ctx context.Context, name string) (io.ReadCloser, error)
	// Access reports what the user may do at name.
	Access(name string) Access
}

// UI serves the file manager for one handler. Its zero value is not
// usable; use New.
type UI struct {
	prefix string
	ops    *processing.Registry
	// ReadOnly hides every write action (the server refuses them anyway).
	readOnly bool
}

// Config configures a UI.
type Config struct {
	// Prefix is the handler's normalized prefix: "" or "/dav".
	Prefix string
	// Operations is the registry the handler tracks its requests in; the
	// page lists and cancels the signed-in user's own operations there.
	Operations *processing.Registry
	// ReadOnly tells the page that nothing may be changed.
	ReadOnly bool
}

// New returns the UI of a handler.
func New(cfg Config) *UI {
	return &UI{prefix: cfg.Prefix, ops: cfg.Operations, readOnly: cfg.ReadOnly}
}

// WantsHTML reports whether r's Accept header prefers text/html: listed
// explicitly, with a quality no lower than that of any other type.
// Browsers navigating send such a header; curl (*/*) and WebDAV clients
// do not, and keep the plain listing.
func WantsHTML(r *http.Request) bool {
	accept := r.Header.Get("Accept")
	if accept == "" {
		return false
	}
	htmlQ, best := -1.0, 0.0
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, _ := strings.Cut(part, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
		q := 1.0
		for p := range strings.SplitSeq(params, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				q = parseQ(strings.TrimSpace(v))
			}
		}
		if mt == "text/html" {
			htmlQ = max(htmlQ, q)
		} else {
			best = max(best, q)
		}
	}
	return htmlQ > 0 && htmlQ >= best
}

// parseQ parses an RFC 9110 qvalue; anything malformed counts as 0.
func parseQ(s string) float64 {
	if s == "" || len(s) > 5 || (s[0] != '0' && s[0] != '1') {
		return 0
	}
	q, frac, scale := float64(s[0]-'0'), s[1:], 0.1
	if frac != "" {
		if frac[0] != '.' {
			return 0
		}
		for _, c := range frac[1:] {
			if c < '0' || c > '9' {
				return 0
			}
			q += float64(c-'0') * scale
			scale /= 10
		}
	}
	return min(q, 1)
}
