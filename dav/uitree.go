package dav

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"

	"davd/dav/ui"
	"davd/storage"
)

// uiPath reports whether urlPath names the file manager's reserved path
// (prefix + ui.Path + rest) and returns rest. With the file manager off
// it never does, and the path is refused as reserved like any other
// below .davd.
func (h *Handler) uiPath(urlPath string) (string, bool) {
	if h.ui == nil || validatePath(urlPath) != nil {
		return "", false
	}
	name, ok := stripPrefix(h.prefix, urlPath)
	if !ok {
		return "", false
	}
	return strings.CutPrefix(name, ui.Path)
}

// serveUI serves the file manager's assets and endpoints. They read the
// tree through uiTree, with the user's permissions; the one change they
// make (cancelling the user's own operation) needs the ui.Header.
func (h *Handler) serveUI(w http.ResponseWriter, r *http.Request, rest string) {
	err := h.ui.ServeReserved(w, r, rest, uiTree{h}, UserFrom(r.Context()))
	if errors.Is(err, ui.ErrAborted) {
		// The header is out: only cutting the connection tells the client
		// that the body is incomplete. net/http recovers this value
		// silently.
		panic(http.ErrAbortHandler)
	}
	var se *ui.StatusError
	if errors.As(err, &se) {
		err = &httpError{status: se.Status, reason: se.Reason}
	}
	if err != nil {
		h.refuse(w, r, err)
	}
}

// uiTree is the handler's tree as the signed-in user may read it.
type uiTree struct{ h *Handler }

// check refuses names a client could not address and those the user may
// not read, as a GET of them would.
func (t uiTree) check(name string) error {
	if err := validatePath(name); err != nil {
		return err
	}
	if storage.IsReserved(name) {
		return errorf(http.StatusNotFound, "%s%s: no such resource", t.h.prefix, name)
	}
	if !t.h.readable(name) {
		return forbidden(t.h.prefix+name, PermRead)
	}
	return nil
}

func (t uiTree) Stat(ctx context.Context, name string) (fs.FileInfo, error) {
	if err := t.check(name); err != nil {
		return nil, err
	}
	fi, err := t.h.fs.Stat(ctx, name)
	if err != nil {
		return nil, storageError(t.h.prefix+name, err)
	}
	return fi, nil
}

// ReadDir leaves out what the user may not read, and names no request
// could address (a backslash, invalid UTF-8): a link to them would fail.
func (t uiTree) ReadDir(ctx context.Context, name string) ([]fs.FileInfo, error) {
	if err := t.check(name); err != nil {
		return nil, err
	}
	var out []fs.FileInfo
	err := t.h.fs.ListDir(ctx, name, func(infos []os.FileInfo) error {
		for _, fi := range infos {
			child := childPath(name, fi.Name())
			if validatePath(child) == nil && t.h.readable(child) {
				out = append(out, fi)
			}
		}
		return nil
	})
	if err != nil {
		return nil, storageError(t.h.prefix+name, err)
	}
	return out, nil
}

func (t uiTree) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := t.check(name); err != nil {
		return nil, err
	}
	f, err := t.h.fs.OpenFile(ctx, name, os.O_RDONLY, 0)
	if err != nil {
		return nil, storageError(t.h.prefix+name, err)
	}
	return f, nil
}

func (t uiTree) Access(name string) ui.Access {
	p := PermAll
	if t.h.perms != nil {
		p = t.h.perms.For(name)
	}
	if t.h.readOnly {
		p &= PermRead
	}
	return ui.Access{Read: p&PermRead != 0, Create: p&PermCreate != 0, Update: p&PermUpdate != 0, Delete: p&PermDelete != 0}
}
