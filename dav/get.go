package dav

import (
	"fmt"
	"html"
	"mime"
	"net/http"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"davd/dav/ui"
)

// serveGet answers GET and HEAD: a file's content with Range and
// conditional support, or a collection's listing.
func (h *Handler) serveGet(w http.ResponseWriter, r *http.Request, name string) error {
	// OpenStat spares a second fstat. Fewer system calls beyond that did not
	// pay: opening with openat2 and os.NewFile, and reading small files
	// whole instead of sendfile, took a 4 KiB GET from 14 calls to 7
	// without moving its CPU time, which goes to net/http and two TCP
	// writes.
	f, fi, err := h.fs.OpenStat(r.Context(), name, os.O_RDONLY, 0)
	if err != nil {
		return storageError(r.URL.Path, err)
	}
	defer f.Close()
	if fi.IsDir() {
		if ui.WantsHTML(r) {
			if !strings.HasSuffix(r.URL.Path, "/") {
				// Relative links in a page resolve against the slash form.
				w.Header().Set("Location", h.hrefFor(name, true))
				w.WriteHeader(http.StatusMovedPermanently)
				return nil
			}
			if h.ui != nil {
				return h.ui.ServePage(w, r, name, UserFrom(r.Context()), uiTree{h})
			}
		}
		return h.serveListing(w, r, name, f)
	}
	ct := contentType(name)
	hdr := w.Header()
	hdr.Set("ETag", etag(fi))
	hdr.Set("Content-Type", ct)
	storedContentHeaders(hdr, name, ct, h.inlineActive)
	// f is the backend's own file (an *os.File on disk), so ServeContent's
	// copy reaches net/http's sendfile path through processing.Writer.
	http.ServeContent(w, r, "", fi.ModTime(), f)
	return nil
}

// etag is the entity tag of a file: modification time and size, as
// x/net/webdav computes it for PROPFIND, so that both agree.
func etag(fi os.FileInfo) string {
	return string(appendETag(make([]byte, 0, 40), fi, `"`))
}

// appendETag appends fi's entity tag between quote (`"`, or its escape
// inside XML), without fmt: PROPFIND writes one per resource.
func appendETag(b []byte, fi os.FileInfo, quote string) []byte {
	b = append(b, quote...)
	b = strconv.AppendInt(b, fi.ModTime().UnixNano(), 16)
	b = strconv.AppendInt(b, fi.Size(), 16)
	return append(b, quote...)
}

// contentType comes from the name alone: sniffing would mean reading
// content, which PROPFIND over a large tree cannot afford, and GET and
// PROPFIND must agree.
func contentType(name string) string {
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
		return ct
	}
	return "application/octet-stream"
}

// dirReader is the part of an open collection a listing needs.
type dirReader interface {
	Readdir(count int) ([]os.FileInfo, error)
}

// serveListing writes a minimal HTML index of a collection, so that a
// browser pointed at davd can navigate the tree.
func (h *Handler) serveListing(w http.ResponseWriter, r *http.Request, name string, dir dirReader) error {
	infos, err := dir.Readdir(0)
	if err != nil {
		return storageError(r.URL.Path, err)
	}
	infos = slices.DeleteFunc(infos, func(fi os.FileInfo) bool { return unlistable(fi) || !h.readable(path.Join(name, fi.Name())) })
	slices.SortFunc(infos, func(a, b os.FileInfo) int { return strings.Compare(a.Name(), b.Name()) })
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Security-Policy", listingCSP)
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	// Every link is built from the clean storage name, never from the
	// request's raw path: GET //evil.example/ must not yield
	// protocol-relative links to another host. Each href therefore starts
	// with a single slash.
	var b strings.Builder
	title := html.EscapeString(h.prefix + strings.TrimSuffix(name, "/") + "/")
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of %s</title></head>\n<body><h1>Index of %s</h1>\n<table>\n", title, title)
	if name != "/" {
		fmt.Fprintf(&b, "<tr><td><a href=\"%s\">../</a></td><td></td><td></td></tr>\n", html.EscapeString(h.hrefFor(path.Dir(name), true)))
	}
	for _, fi := range infos {
		label, size := fi.Name(), fmt.Sprint(fi.Size())
		if fi.IsDir() {
			label, size = label+"/", ""
		}
		href := h.hrefFor(childPath(name, fi.Name()), fi.IsDir())
		fmt.Fprintf(&b, "<tr><td><a href=\"%s\">%s</a></td><td>%s</td><td>%s</td></tr>\n",
			html.EscapeString(href), html.EscapeString(label), size, fi.ModTime().UTC().Format(time.RFC3339))
	}
	b.WriteString("</table></body></html>\n")
	_, err = w.Write([]byte(b.String()))
	return err
}
