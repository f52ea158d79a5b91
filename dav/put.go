package dav

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"davd/processing"
	"davd/storage"
)

// servePut stores a request body atomically: the new content replaces the
// old only once it has arrived completely (see storage.WriteAtomic).
func (h *Handler) servePut(w http.ResponseWriter, r *http.Request, name string) error {
	if r.Header.Get("Content-Range") != "" {
		// RFC 9110 §14.5: a server that does not apply partial PUTs must
		// refuse them rather than store the fragment as the whole.
		return errorf(http.StatusBadRequest, "partial PUT with Content-Range is not supported")
	}
	if name == "/" {
		return errorf(http.StatusMethodNotAllowed, "cannot PUT to the root collection")
	}
	ctx := r.Context()
	// The checks are made twice: now, so that a PUT that will be refused
	// does not upload first, and once the body has arrived, under the path
	// locks, where they count (see claims.go).
	check := func() error {
		fi, statErr := h.fs.Stat(ctx, name)
		if err := h.allow(name, createOrUpdate(statErr == nil)); err != nil {
			return err
		}
		if err := checkPreconditions(r, fi, statErr == nil); err != nil {
			return err
		}
		return h.authorizeWrite(r, name, lockTarget{name: name, membership: statErr != nil})
	}
	if err := check(); err != nil {
		return err
	}
	expect := int64(-1)
	if v := r.Header.Get("X-Expected-Entity-Length"); v != "" {
		// macOS Finder sends chunked uploads and announces the size here.
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return errorf(http.StatusBadRequest, "X-Expected-Entity-Length %q is not a size", v)
		}
		expect = n
	}
	body := &progressReader{r: r.Body, p: processing.FromContext(ctx)}
	staged, err := h.fs.StageWrite(ctx, name, body, 0o644, expect)
	if err != nil {
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			return &httpError{http.StatusRequestEntityTooLarge, "upload larger than the limit; previous content kept", err}
		case errors.Is(err, storage.ErrSizeMismatch):
			return &httpError{http.StatusBadRequest, "upload of " + r.URL.Path + " does not match X-Expected-Entity-Length; previous content kept", err}
		case errors.Is(err, storage.ErrIncompleteBody):
			return &httpError{http.StatusBadRequest, "upload of " + r.URL.Path + " ended early; previous content kept", err}
		}
		return storageError(r.URL.Path, err)
	}
	defer staged.Abort()
	release, err := h.claim(ctx, change(name, false)...)
	if err != nil {
		return err
	}
	defer release()
	if err := check(); err != nil {
		return err
	}
	res, err := staged.Commit(ctx)
	if err != nil {
		return storageError(r.URL.Path, err)
	}
	if res.Info != nil {
		w.Header().Set("ETag", etag(res.Info))
	}
	if res.Created {
		w.WriteHeader(http.StatusCreated)
	} else {
		w.WriteHeader(http.StatusNoContent)
	}
	return nil
}

// progressReader reports the bytes read from a request body as the
// operation's bytes done: what /metrics counts as received by PUT, and
// what the Progress header of a 102 during a slow upload shows.
type progressReader struct {
	r io.Reader
	p *processing.Progress // nil-safe
}

func (pr *progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.p.AddBytes(int64(n))
	return n, err
}

// checkPreconditions evaluates If-Match and If-None-Match (RFC 9110
// §13.1) against the resource a PUT would replace: a client that read an
// old version must not overwrite a newer one unknowingly.
func checkPreconditions(r *http.Request, fi os.FileInfo, exists bool) error {
	current := ""
	if exists {
		current = etag(fi)
	}
	if im := r.Header.Get("If-Match"); im != "" {
		if !exists || !etagListHas(im, current) {
			return errorf(http.StatusPreconditionFailed, "If-Match does not match the current entity tag")
		}
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && exists && etagListHas(inm, current) {
		return errorf(http.StatusPreconditionFailed, "If-None-Match matches the current entity tag")
	}
	return nil
}

// etagListHas reports whether a comma-separated entity-tag list (or "*")
// includes current; weak tags compare weakly, as RFC 9110 allows for these.
func etagListHas(list, current string) bool {
	for t := range strings.SplitSeq(list, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == current {
			return true
		}
	}
	return false
}
