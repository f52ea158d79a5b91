package dav

import (
	"mime"
	"net/http"
	"path"
	"strings"
)

// Stored content is whatever users uploaded; it is served from davd's own
// origin, which every user shares. Its headers guarantee that it never
// runs script with the credentials of whoever opens it:
//
//   - X-Content-Type-Options: nosniff on every stored file, so that a
//     browser never promotes a file served as text/plain or
//     application/octet-stream to HTML or script;
//   - Content-Security-Policy: sandbox on every stored file, so that a
//     document the browser does render gets a unique opaque origin, no
//     script, no forms, no plugins;
//   - Content-Disposition: attachment on the active types (activeType),
//     so that a browser downloads them instead of rendering them, unless
//     the Handler was configured with InlineActiveContent.
//
// The listing davd writes itself is not stored content; it gets nosniff
// and listingCSP, which forbids every script, style, frame and form but
// lets the page render.

// listingCSP is the policy of the HTML listing: it loads nothing, runs
// nothing, and cannot be framed.
const listingCSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// activeTypes are the media types a browser renders as a document that
// can run script, or executes as script: HTML, XHTML, SVG, XML (which may
// carry an XSLT stylesheet or XHTML), JavaScript in its several names, and
// Flash. Every other "+xml" type counts as active too (see activeType).
var activeTypes = map[string]bool{
	"text/html":                     true,
	"application/xhtml+xml":         true,
	"image/svg+xml":                 true,
	"text/xml":                      true,
	"application/xml":               true,
	"text/xsl":                      true,
	"application/javascript":        true,
	"application/x-javascript":      true,
	"application/ecmascript":        true,
	"text/javascript":               true,
	"text/ecmascript":               true,
	"text/jscript":                  true,
	"application/x-shockwave-flash": true,
	"multipart/x-mixed-replace":     true,
}

// activeType reports whether content of type ct (a Content-Type value,
// parameters allowed) is active: listed in activeTypes, or any XML
// dialect (a "+xml" suffix).
func activeType(ct string) bool {
	base, _, _ := strings.Cut(ct, ";")
	base = strings.ToLower(strings.TrimSpace(base))
	return activeTypes[base] || strings.HasSuffix(base, "+xml")
}

// storedContentHeaders sets the headers every stored file is served with
// (see above). name is the file's storage name, ct its Content-Type.
func storedContentHeaders(hdr http.Header, name, ct string, inlineActive bool) {
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Security-Policy", "sandbox")
	if !inlineActive && activeType(ct) {
		disp := mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(name)})
		if disp == "" {
			disp = "attachment" // a name FormatMediaType cannot carry
		}
		hdr.Set("Content-Disposition", disp)
	}
}
