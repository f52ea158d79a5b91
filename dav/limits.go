package dav

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path"
	"strconv"
)

// DefaultMaxXMLBody is the XML request body limit when Limits.MaxXMLBody is
// 0: PROPFIND, PROPPATCH and LOCK bodies are small documents, and an
// unbounded read is a memory attack.
const DefaultMaxXMLBody = 1 << 20

// Limits bounds what one request can make the server read or produce.
// The zero value limits XML bodies to DefaultMaxXMLBody and nothing else.
type Limits struct {
	// MaxUpload is the largest PUT body in bytes; 0 means no limit.
	MaxUpload int64
	// MaxXMLBody is the largest body of every other method in bytes; 0
	// means DefaultMaxXMLBody.
	MaxXMLBody int64
	// MaxPropfindEntries is the most resources a PROPFIND with Depth:
	// infinity may report; beyond it the request is refused with 403 and
	// the propfind-finite-depth precondition (RFC 4918 §9.1). 0 means no
	// limit.
	MaxPropfindEntries int
}

func (l Limits) xmlBody() int64 {
	if l.MaxXMLBody <= 0 {
		return DefaultMaxXMLBody
	}
	return l.MaxXMLBody
}

// limitBody refuses a body whose announced size is over the limit before a
// byte of it is read, and bounds the read of the others, so that a client
// that lies about the size (or sends chunks) is cut off at the limit too.
func (h *Handler) limitBody(w http.ResponseWriter, r *http.Request) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	limit, what := h.limits.xmlBody(), "XML body"
	if r.Method == http.MethodPut {
		limit, what = h.limits.MaxUpload, "upload"
		if limit <= 0 {
			return nil
		}
		// macOS Finder announces chunked uploads here; refusing now
		// spares it sending gigabytes that would be thrown away.
		if n, err := strconv.ParseInt(r.Header.Get("X-Expected-Entity-Length"), 10, 64); err == nil && n > limit {
			return tooLarge(w, what, n, limit)
		}
	}
	if r.ContentLength > limit {
		return tooLarge(w, what, r.ContentLength, limit)
	}
	r.Body = &limitedBody{ReadCloser: http.MaxBytesReader(w, r.Body, limit), w: w}
	return nil
}

// tooLarge refuses a body by its announced size. The connection is closed
// after the answer: otherwise net/http would read (up to 256 KiB of) the
// unwanted body before answering, and a client that waits for the answer
// before sending would wait forever.
func tooLarge(w http.ResponseWriter, what string, n, limit int64) error {
	w.Header().Set("Connection", "close")
	return errorf(http.StatusRequestEntityTooLarge, "%s of %d bytes is larger than the limit of %d bytes; nothing was written", what, n, limit)
}

// limitedBody closes the connection after the answer once the limit is
// hit. http.MaxBytesReader would do that itself, but cannot reach
// net/http's writer through processing.Writer.
type limitedBody struct {
	io.ReadCloser
	w http.ResponseWriter
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var mbe *http.MaxBytesError
	if err != nil && errors.As(err, &mbe) {
		b.w.Header().Set("Connection", "close")
	}
	return n, err
}

// errTooManyEntries stops a PROPFIND walk at Limits.MaxPropfindEntries.
var errTooManyEntries = errors.New("too many PROPFIND entries")

// countTree counts name and the resources below it, stopping as soon as
// the count passes limit. It lets a Depth: infinity PROPFIND be refused
// with a proper 403 before its 207 is committed; the price is walking the
// directories twice when the tree is within the limit.
func (h *Handler) countTree(ctx context.Context, name string, limit int) (int, error) {
	n := 1 // name itself
	var walk func(dir string) error
	walk = func(dir string) error {
		return h.fs.ListDir(ctx, dir, func(infos []os.FileInfo) error {
			for _, fi := range infos {
				if !h.readable(path.Join(dir, fi.Name())) {
					continue // left out of the PROPFIND, with what is below
				}
				if n++; n > limit {
					return errTooManyEntries
				}
				if fi.IsDir() {
					if err := walk(path.Join(dir, fi.Name())); err != nil {
						return err
					}
				}
			}
			return nil
		})
	}
	err := walk(name)
	if errors.Is(err, errTooManyEntries) {
		err = nil
	}
	return n, err
}

// writePrecondition answers status with an RFC 4918 §16 precondition
// element naming the condition that failed.
func writePrecondition(w http.ResponseWriter, status int, condition string) {
	h := w.Header()
	h.Set("Content-Type", "application/xml; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write([]byte(`<?xml version="1.0" encoding="utf-8"?>` + "\n" +
		`<D:error xmlns:D="DAV:"><D:` + condition + "/></D:error>\n"))
}
