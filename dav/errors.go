package dav

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"syscall"

	"davd/storage"
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
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS), errors.Is(err, syscall.EPERM):
		return &httpError{http.StatusForbidden, name + ": permission denied", err}
	case errors.Is(err, fs.ErrExist):
		return &httpError{http.StatusMethodNotAllowed, name + ": already exists", err}
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return &httpError{http.StatusInsufficientStorage, name + ": no space left", err}
	case errors.Is(err, storage.ErrLoop), errors.Is(err, syscall.ELOOP):
		return &httpError{http.StatusLoopDetected, name + ": symbolic link loop", err}
	case errors.Is(err, syscall.ENAMETOOLONG):
		return &httpError{http.StatusRequestURITooLong, name + ": name too long", err}
	}
	return &httpError{http.StatusInternalServerError, name + ": storage error", err}
}

// writeError answers with err's status and reason as plain text. Errors
// that carry no status are internal: their text stays in the server.
func writeError(w http.ResponseWriter, err error) {
	var he *httpError
	if !errors.As(err, &he) {
		var locked *lockedMembers
		if errors.As(err, &locked) {
			locked.write(w)
			return
		}
		he = &httpError{status: http.StatusInternalServerError, reason: "internal error", err: err}
		if stopped(err) {
			// The client went away (or the server is shutting down)
			// while the state was consulted: nothing failed.
			he = &httpError{status: http.StatusServiceUnavailable, reason: "request stopped before its end", err: err}
		}
	}
	h := w.Header()
	h.Del("Content-Length")
	h.Del("ETag")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(he.status)
	if he.status != http.StatusNoContent && he.status != http.StatusNotModified {
		fmt.Fprintf(w, "%d %s: %s\n", he.status, http.StatusText(he.status), he.reason)
	}
}
