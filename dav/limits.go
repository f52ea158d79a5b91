package dav

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"davd/storage/state"
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

	// MaxLockOwner is the largest DAV:owner element a LOCK may store, in
	// bytes; a larger one is refused with 413. 0 means no limit.
	MaxLockOwner int
	// MaxLocksPerResource is the most live locks rooted at one resource,
	// and MaxLocksPerUser the most one user holds (all anonymous clients
	// together are one user); a LOCK beyond either is refused with 507.
	// The store counts and inserts in one step, so concurrent LOCKs cannot
	// pass them. 0 means no limit.
	MaxLocksPerResource int
	MaxLocksPerUser     int
	// MaxLockTimeout is the longest lock granted: a LOCK (or refresh)
	// asking for Infinite or longer gets this timeout, and its response
	// says so. 0 means no limit.
	MaxLockTimeout time.Duration
	// MaxPropertySize is the largest dead property element PROPPATCH may
	// store, in bytes; a larger one is refused with 413. 0 means no limit.
	MaxPropertySize int
	// MaxDeadBytes is the most bytes of dead properties one resource may
	// hold; a PROPPATCH that would pass it (and grow the resource's
	// properties) is refused with 507. 0 means no limit.
	MaxDeadBytes int64
}

// lockCaps are the counts CreateLock must keep to.
func (l Limits) lockCaps() state.LockCaps {
	return state.LockCaps{PerRoot: l.MaxLocksPerResource, PerUser: l.MaxLocksPerUser}
}

// lockTimeout reads a Timeout header and caps it at MaxLockTimeout;
// Infinite (0) becomes MaxLockTimeout too.
func (h *Handler) lockTimeout(hdr string) (time.Duration, error) {
	d, err := parseTimeout(hdr)
	if max := h.limits.MaxLockTimeout; err == nil && max > 0 && (d == 0 || d > max) {
		d = max
	}
	return d, err
}

// checkLockOwner refuses a DAV:owner element larger than MaxLockOwner.
func (h *Handler) checkLockOwner(owner string) error {
	if max := h.limits.MaxLockOwner; max > 0 && len(owner) > max {
		return errorf(http.StatusRequestEntityTooLarge, "the DAV:owner element of %d bytes is larger than the limit of %d bytes; no lock was created", len(owner), max)
	}
	return nil
}

// tooManyLocks answers a LOCK refused by the store's caps.
func tooManyLocks(href string, err error) error {
	return &httpError{status: http.StatusInsufficientStorage,
		reason: href + ": " + strings.TrimPrefix(err.Error(), "state: ") + "; no lock was created", err: err}
}

// checkDeadProps refuses a PROPPATCH that sets a property larger than
// MaxPropertySize (413), or that would leave name with more than
// MaxDeadBytes of dead properties and more than it had (507): a patch that
// does not grow them always passes, so that state stored before the limit
// can be cleaned up. The check and the write are separate steps, so
// concurrent PROPPATCHes of one resource can pass MaxDeadBytes by at most
// their own sizes.
func (h *Handler) checkDeadProps(ctx context.Context, href, name string, set []state.Property, remove []xml.Name) error {
	for _, p := range set {
		if max := h.limits.MaxPropertySize; max > 0 && len(p.XML) > max {
			return errorf(http.StatusRequestEntityTooLarge, "property {%s}%s of %d bytes is larger than the limit of %d bytes; nothing was changed",
				p.Name.Space, p.Name.Local, len(p.XML), max)
		}
	}
	max := h.limits.MaxDeadBytes
	if max <= 0 || len(set) == 0 {
		return nil
	}
	have, err := h.state.Props(ctx, name)
	if err != nil {
		return err
	}
	changed := make(map[xml.Name]bool, len(set)+len(remove))
	var before, after int64
	for _, p := range set {
		changed[p.Name] = true
		after += int64(len(p.XML))
	}
	for _, n := range remove {
		changed[n] = true
	}
	for _, p := range have {
		before += int64(len(p.XML))
		if !changed[p.Name] {
			after += int64(len(p.XML))
		}
	}
	if after > max && after > before {
		return errorf(http.StatusInsufficientStorage, "%s: its dead properties would take %d bytes, more than the limit of %d bytes per resource; nothing was changed",
			href, after, max)
	}
	return nil
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
