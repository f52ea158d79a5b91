package dav

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"syscall"

	"davd/storage"
	"davd/storage/state"
)

// httpError is an error that knows the status it answers with.
type httpError struct {
	status int
	reason string
	err    error
}

func (e *httpError) Error() string { return e.reason }
func (e *httpError) Unwrap() error { return e.err }

// errorf makes an httpError whose reason the client will read.
func errorf(status int, format string, args ...any) error {
	return &httpError{status: status, reason: fmt.Sprintf(format, args...)}
}

// storageError turns a storage failure into the status WebDAV prescribes,
// with a reason that names the resource but no server-side path.
func storageError(name string, err error) error {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he
	case errors.Is(err, state.ErrUnavailable):
		return &httpError{http.StatusServiceUnavailable, name + ": " + reasonUnavailable, err}
	case errors.Is(err, storage.ErrUnavailable):
		return &httpError{http.StatusServiceUnavailable, name + ": " + reasonStorageUnavailable, err}
	case stopped(err):
		return &httpError{http.StatusServiceUnavailable, name + ": operation stopped before its end", err}
	case errors.Is(err, fs.ErrNotExist):
		return &httpError{http.StatusNotFound, name + ": no such resource", err}
	case errors.Is(err, storage.ErrNoParent), errors.Is(err, syscall.ENOTDIR):
		return &httpError{http.StatusConflict, name + ": parent collection does not exist", err}
	case errors.Is(err, storage.ErrIsCollection), errors.Is(err, syscall.EISDIR):
		return &httpError{http.StatusMethodNotAllowed, name + ": is a collection", err}
	case errors.Is(err, storage.ErrOutsideRoot):
		return &httpError{http.StatusForbidden, name + ": leads outside the served tree", err}
	case errors.Is(err, syscall.EROFS), errors.Is(err, state.ErrReadOnly):
		return &httpError{http.StatusServiceUnavailable, name + ": " + reasonReadOnly, err}
	case errors.Is(err, state.ErrFull):
		return &httpError{http.StatusInsufficientStorage, name + ": " + reasonFull, err}
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EPERM):
		return &httpError{http.StatusForbidden, name + ": permission denied", err}
	case errors.Is(err, fs.ErrExist):
		return &httpError{http.StatusMethodNotAllowed, name + ": already exists", err}
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return &httpError{http.StatusInsufficientStorage, name + ": " + reasonFull, err}
	case errors.Is(err, storage.ErrLoop), errors.Is(err, syscall.ELOOP):
		return &httpError{http.StatusLoopDetected, name + ": symbolic link loop", err}
	case errors.Is(err, syscall.ENAMETOOLONG):
		return &httpError{http.StatusRequestURITooLong, name + ": name too long", err}
	}
	return &httpError{http.StatusInternalServerError, name + ": storage error", err}
}

// Reasons of the statuses a full or read-only file system answers, for
// the files and for the state store alike: a full one is 507 (RFC 4918
// §11.5), a read-only one 503, a condition of the server, not of the
// request, that a client cannot mend by asking differently.
const (
	reasonFull     = "no space left on the server's storage"
	reasonReadOnly = "storage is read-only"
	// reasonUnavailable answers a state database that cannot be reached;
	// the answer carries Retry-After (retryUnavailable seconds).
	reasonUnavailable = "the lock and property database is unavailable; retry later"
	retryUnavailable  = "5"
	// reasonStorageUnavailable answers a storage on another server (an
	// object store) that cannot be reached or cannot serve now.
	reasonStorageUnavailable = "the storage server is unavailable; retry later"
)

// writeError answers err as writeError does and logs the answer when it
// is a 5xx: at Error with its cause, or at Warn when nothing failed in the
// server (the request was stopped, or a 502 for a foreign Destination).
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	he := writeError(w, err)
	if he == nil || he.status < 500 {
		return
	}
	level := slog.LevelError
	if he.err == nil || stopped(he.err) {
		level = slog.LevelWarn
	}
	h.log.LogAttrs(r.Context(), level, "request failed", slog.String("method", r.Method),
		slog.String("path", r.URL.Path), slog.Int("status", he.status), slog.String("reason", he.reason),
		slog.Any("err", he.err))
}

// writeError answers with err's status and reason as plain text, and
// returns what it answered (nil for a 423 naming locked members). Errors
// that carry no status are internal: their text stays in the server.
func writeError(w http.ResponseWriter, err error) *httpError {
	var he *httpError
	if !errors.As(err, &he) {
		var locked *lockedMembers
		if errors.As(err, &locked) {
			locked.write(w)
			return nil
		}
		switch {
		case errors.Is(err, state.ErrUnavailable):
			he = &httpError{status: http.StatusServiceUnavailable, reason: reasonUnavailable, err: err}
		case errors.Is(err, storage.ErrUnavailable):
			he = &httpError{status: http.StatusServiceUnavailable, reason: reasonStorageUnavailable, err: err}
		case stopped(err):
			// The client went away (or the server is shutting down)
			// while the state was consulted: nothing failed.
			he = &httpError{status: http.StatusServiceUnavailable, reason: "request stopped before its end", err: err}
		case errors.Is(err, state.ErrFull):
			he = &httpError{status: http.StatusInsufficientStorage, reason: reasonFull, err: err}
		case errors.Is(err, state.ErrReadOnly):
			he = &httpError{status: http.StatusServiceUnavailable, reason: reasonReadOnly, err: err}
		default:
			he = &httpError{status: http.StatusInternalServerError, reason: "internal error", err: err}
		}
	}
	h := w.Header()
	h.Del("Content-Length")
	h.Del("ETag")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if errors.Is(he.err, state.ErrUnavailable) || errors.Is(he.err, storage.ErrUnavailable) {
		h.Set("Retry-After", retryUnavailable)
	}
	w.WriteHeader(he.status)
	if he.status != http.StatusNoContent && he.status != http.StatusNotModified {
		fmt.Fprintf(w, "%d %s: %s\n", he.status, http.StatusText(he.status), he.reason)
	}
	return he
}
