package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strings"

	"davd/processing"
)

// StatusError is a refusal of the package's own, with the status and the
// reason the client reads. Errors from a Tree are returned unchanged.
type StatusError struct {
	Status int
	Reason string
}

func (e *StatusError) Error() string { return e.Reason }

func refusef(status int, format string, args ...any) error {
	return &StatusError{Status: status, Reason: fmt.Sprintf(format, args...)}
}

// ErrAborted means a response was cut short after its header was sent (the
// user cancelled a ZIP download, or the tree failed half way): the caller
// must abort the connection, so that the client sees a failed transfer
// rather than a complete-looking, truncated one.
var ErrAborted = errors.New("ui: response aborted")

// Headers common to every response of the package.
func setCommonHeaders(h http.Header) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// jsonCSP is the policy of every non-page response: nothing may run.
const jsonCSP = "default-src 'none'; frame-ancestors 'none'; sandbox"

// ServeReserved serves the request for Path+rest (rest has no leading
// slash and may carry nothing else), for the user the request was
// authenticated as. Errors are left to the caller to write.
func (u *UI) ServeReserved(w http.ResponseWriter, r *http.Request, rest string, tree Tree, user string) error {
	if a, ok := assets[rest]; ok {
		return u.serveAsset(w, r, a)
	}
	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case rest == "list" && read:
		return u.serveList(w, r, tree)
	case rest == "search" && read:
		return u.serveSearch(w, r, tree)
	case rest == "zip" && read:
		return u.serveZip(w, r, tree)
	case rest == "ops" && read:
		return u.serveOps(w, r, user)
	case rest == "ops" && r.Method == http.MethodPost:
		return u.cancelOp(w, r, user)
	case rest == "list" || rest == "search" || rest == "zip" || rest == "ops":
		w.Header().Set("Allow", "GET, HEAD")
		if rest == "ops" {
			w.Header().Set("Allow", "GET, HEAD, POST")
		}
		return refusef(http.StatusMethodNotAllowed, "method %s is not allowed here", r.Method)
	}
	return refusef(http.StatusNotFound, "%s%s%s: no such resource", u.prefix, Path, rest)
}

// queryPath returns the storage name in r's "path" query parameter: an
// absolute, clean name. The Tree judges the rest (reserved names, rights).
func queryPath(r *http.Request) (string, error) {
	p := r.URL.Query().Get("path")
	if p == "" {
		return "/", nil
	}
	if !strings.HasPrefix(p, "/") || path.Clean(p) != p {
		return "", refusef(http.StatusBadRequest, "path %q must be a clean absolute name such as /docs", p)
	}
	return p, nil
}

// entry is one member as the page reads it; short keys keep a listing of
// 10,000 members small.
type entry struct {
	Name  string `json:"n"`
	Dir   bool   `json:"d,omitempty"`
	Size  int64  `json:"s"`
	MTime int64  `json:"m"` // Unix milliseconds
}

func entryOf(fi fs.FileInfo) entry {
	e := entry{Name: fi.Name(), Dir: fi.IsDir(), MTime: fi.ModTime().UnixMilli()}
	if !e.Dir {
		e.Size = fi.Size()
	}
	return e
}

// listing is a collection as the page reads it.
type listing struct {
	Path    string  `json:"path"`
	Access  string  `json:"access"`
	Entries []entry `json:"entries"`
}

func (u *UI) listing(ctx context.Context, tree Tree, name string, dirsOnly bool) (listing, error) {
	fi, err := tree.Stat(ctx, name)
	if err != nil {
		return listing{}, err
	}
	if !fi.IsDir() {
		return listing{}, refusef(http.StatusConflict, "%s%s is not a collection", u.prefix, name)
	}
	infos, err := tree.ReadDir(ctx, name)
	if err != nil {
		return listing{}, err
	}
	l := listing{Path: name, Access: u.access(tree, name).String(), Entries: make([]entry, 0, len(infos))}
	for _, fi := range infos {
		if !dirsOnly || fi.IsDir() {
			l.Entries = append(l.Entries, entryOf(fi))
		}
	}
	slices.SortFunc(l.Entries, func(a, b entry) int { return strings.Compare(a.Name, b.Name) })
	return l, nil
}

// access is what the page may offer at name.
func (u *UI) access(tree Tree, name string) Access {
	a := tree.Access(name)
	if u.readOnly {
		a = Access{Read: a.Read}
	}
	return a
}

// serveList answers GET list?path=/x[&dirs=1] with the collection's
// members as JSON (the folder picker asks for folders only).
func (u *UI) serveList(w http.ResponseWriter, r *http.Request, tree Tree) error {
	name, err := queryPath(r)
	if err != nil {
		return err
	}
	l, err := u.listing(r.Context(), tree, name, r.URL.Query().Get("dirs") == "1")
	if err != nil {
		return err
	}
	return writeJSON(w, r, l)
}

func writeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	h := w.Header()
	setCommonHeaders(h)
	h.Set("Content-Type", "application/json")
	h.Set("Content-Security-Policy", jsonCSP)
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	return json.NewEncoder(w).Encode(v)
}

// opInfo is an operation as the page shows it: nothing about other users,
// addresses or the server's internals.
type opInfo struct {
	ID             string  `json:"id"`
	Method         string  `json:"method"`
	Path           string  `json:"path"`
	Destination    string  `json:"destination,omitempty"`
	Seconds        float64 `json:"seconds"`
	Resources      int64   `json:"resources"`
	TotalResources int64   `json:"total_resources,omitempty"`
	Bytes          int64   `json:"bytes"`
	TotalBytes     int64   `json:"total_bytes,omitempty"`
	Current        string  `json:"current,omitempty"`
	Cancellable    bool    `json:"cancellable,omitempty"`
}

// serveOps answers GET ops with the signed-in user's own running
// operations; never another user's.
func (u *UI) serveOps(w http.ResponseWriter, r *http.Request, user string) error {
	list := []opInfo{}
	for _, o := range u.ops.OperationsOf(user) {
		if o.Method == "PROPFIND" || o.Method == "LOCK" || strings.HasSuffix(o.Path, Path+"ops") {
			continue // the page's own polling and clients' listings are not the user's work
		}
		list = append(list, opInfo{ID: o.ID, Method: o.Method, Path: o.Path, Destination: o.Destination,
			Seconds: o.Seconds, Resources: o.Resources, TotalResources: o.TotalResources, Bytes: o.Bytes,
			TotalBytes: o.TotalBytes, Current: o.Current, Cancellable: o.Cancellable})
	}
	return writeJSON(w, r, struct {
		Operations []opInfo `json:"operations"`
	}{list})
}

// cancelOp answers POST ops?cancel=ID: the signed-in user's operation ID
// is asked to stop at its next consistent point. The request must carry
// Header: a cross-site form cannot stop anyone's work.
func (u *UI) cancelOp(w http.ResponseWriter, r *http.Request, user string) error {
	if r.Header.Get(Header) == "" {
		return refusef(http.StatusForbidden, "cancelling needs the %s header the file manager sends", Header)
	}
	id := r.URL.Query().Get("cancel")
	if id == "" {
		return refusef(http.StatusBadRequest, "name the operation: ops?cancel=ID")
	}
	if !u.ops.Cancel(id, user) {
		return refusef(http.StatusNotFound, "operation %s: none of yours is running that can be cancelled", id)
	}
	setCommonHeaders(w.Header())
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// cancellable returns a context that the signed-in user can cancel
// through the registry, and the function that releases it.
func cancellable(r *http.Request) (context.Context, func()) {
	ctx, cancel := context.WithCancel(r.Context())
	p := processing.FromContext(r.Context())
	p.SetCancel(cancel)
	return ctx, func() { p.SetCancel(nil); cancel() }
}
