package dav

import (
	"errors"
	"net/http"

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
	release, err := h.confirmLocks(r, name, "")
	if err != nil {
		return err
	}
	defer release()

	res, err := h.fs.WriteAtomic(r.Context(), name, r.Body, 0o644)
	if err != nil {
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			return &httpError{http.StatusRequestEntityTooLarge, "upload larger than the limit; previous content kept", err}
		case errors.Is(err, storage.ErrIncompleteBody):
			return &httpError{http.StatusBadRequest, "upload of " + r.URL.Path + " ended early; previous content kept", err}
		}
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
