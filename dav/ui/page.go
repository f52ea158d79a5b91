package ui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"net/http"
	"strconv"
	"strings"
)

//go:embed assets
var assetFS embed.FS

// asset is an embedded file, with its gzip form computed once.
type asset struct {
	body, gz    []byte
	contentType string
	etag        string
}

// assets are the page's script and style sheet by name below Path.
var assets = map[string]*asset{}

// version changes whenever an asset does; asset URLs carry it so that a
// new binary's page never runs an old cached script.
var version string

var pageTemplate = template.Must(template.ParseFS(assetFS, "assets/page.html"))

func init() {
	sum := sha256.New()
	for name, ct := range map[string]string{"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"} {
		body, err := assetFS.ReadFile("assets/" + name)
		if err != nil {
			panic(err) // the embed directive guarantees it
		}
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		zw.Write(body)
		zw.Close()
		h := sha256.Sum256(body)
		sum.Write(h[:])
		assets[name] = &asset{body: body, gz: gz.Bytes(), contentType: ct, etag: `"` + hex.EncodeToString(h[:8]) + `"`}
	}
	version = hex.EncodeToString(sum.Sum(nil)[:6])
}

// PageCSP is the page's policy: its own script and style sheet only, no
// inline script or style, no frames, no plugins, no forms posted
// elsewhere; connections and images to this origin only (images for the
// preview, blob: for none).
const PageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// pageData fills page.html. html/template escapes every value for its
// context: the title as HTML text, URLs as attributes, Data as JSON inside
// its script element.
type pageData struct {
	Title  string
	Assets string // URL of Path, with the prefix
	Ver    string
	Data   pageJSON
}

// pageJSON is what the script reads to draw the first view without a
// request of its own.
type pageJSON struct {
	Prefix   string  `json:"prefix"`
	UI       string  `json:"ui"`
	ReadOnly bool    `json:"readOnly,omitempty"`
	User     string  `json:"user,omitempty"`
	Listing  listing `json:"listing"`
}

// ServePage answers a browser's GET of collection name with the file
// manager, drawn from its listing.
func (u *UI) ServePage(w http.ResponseWriter, r *http.Request, name, user string, tree Tree) error {
	l, err := u.listing(r.Context(), tree, name, false)
	if err != nil {
		return err
	}
	h := w.Header()
	setCommonHeaders(h)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", PageCSP)
	h.Set("Vary", "Accept")
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	title := u.prefix + name
	if !strings.HasSuffix(title, "/") {
		title += "/"
	}
	var b bytes.Buffer
	err = pageTemplate.Execute(&b, pageData{
		Title: title, Assets: u.prefix + Path, Ver: version,
		Data: pageJSON{Prefix: u.prefix, UI: u.prefix + Path, ReadOnly: u.readOnly, User: user, Listing: l},
	})
	if err != nil {
		return err
	}
	_, err = w.Write(b.Bytes())
	return err
}

// serveAsset answers GET of the script or style sheet, gzipped when the
// client accepts it.
func (u *UI) serveAsset(w http.ResponseWriter, r *http.Request, a *asset) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return refusef(http.StatusMethodNotAllowed, "method %s is not allowed here", r.Method)
	}
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Type", a.contentType)
	h.Set("ETag", a.etag)
	h.Set("Vary", "Accept-Encoding")
	if r.URL.Query().Get("v") == version {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	body := a.body
	if acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, err := w.Write(body)
		return err
	}
	return nil
}

func acceptsGzip(r *http.Request) bool {
	for part := range strings.SplitSeq(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(part, ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(params, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// AssetSizes reports the page's script and style sheet sizes, plain and
// gzipped, for the weight test.
func AssetSizes() (plain, gzipped int) {
	for _, a := range assets {
		plain += len(a.body)
		gzipped += len(a.gz)
	}
	return plain, gzipped
}
