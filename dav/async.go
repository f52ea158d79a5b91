package dav

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"davd/storage"
	"davd/storage/state"
)

// A client that sends Prefer: respond-async (RFC 7240 §4.1) with a
// journaled COPY, MOVE or DELETE gets 202 Accepted once the request's
// preconditions hold, with Preference-Applied: respond-async and a
// Location naming the operation's monitor:
//
//	<prefix>/.davd/operations/<id>
//
// below the reserved name .davd, so it never collides with a stored name,
// and served by the same handler, so under the same authentication. GET on
// it answers the operation's record as JSON (monitorView); DELETE asks it
// to stop at its next member and answers the record once it has stopped
// (or 202 with the record if it has not within monitorCancelWait). Only
// the user who started an operation sees it; for anyone else it does not
// exist. A request without the preference, or whose operation is not
// journaled (a single file), is answered as it always was.

// monitorPrefix is the path of the monitors below the handler's prefix.
const monitorPrefix = "/" + storage.ReservedName + "/operations/"

// monitorCancelWait bounds how long a DELETE of a monitor waits for the
// operation to stop.
const monitorCancelWait = 10 * time.Second

// prefersAsync reports whether r's Prefer headers include respond-async.
func prefersAsync(r *http.Request) bool {
	for _, v := range r.Header.Values("Prefer") {
		for _, pref := range strings.Split(v, ",") {
			token, _, _ := strings.Cut(pref, ";")
			token, _, _ = strings.Cut(token, "=")
			if strings.EqualFold(strings.TrimSpace(token), "respond-async") {
				return true
			}
		}
	}
	return false
}

// monitorURL is the path of the monitor of operation id.
func (h *Handler) monitorURL(id string) string {
	return h.prefix + monitorPrefix + id
}

// monitorPath reports whether urlPath names a monitor, and its ID.
func (h *Handler) monitorPath(urlPath string) (string, bool) {
	name, ok := stripPrefix(h.prefix, urlPath)
	if !ok {
		return "", false
	}
	return strings.CutPrefix(name, monitorPrefix)
}

// writeAccepted answers an asynchronous request: 202 with its monitor.
func (h *Handler) writeAccepted(w http.ResponseWriter, r *http.Request, op state.Operation) error {
	hdr := w.Header()
	hdr.Set("Location", h.monitorURL(op.ID))
	hdr.Set("Preference-Applied", "respond-async")
	hdr.Add("Vary", "Prefer")
	return h.writeMonitor(w, http.StatusAccepted, op)
}

// monitorView is the JSON of a monitor: the record, with paths as the
// client's URL paths.
type monitorView struct {
	ID             string           `json:"id"`
	Monitor        string           `json:"monitor"`
	State          string           `json:"state"`
	Method         string           `json:"method"`
	Source         string           `json:"source"`
	Destination    string           `json:"destination,omitempty"`
	Depth          string           `json:"depth"`
	Overwrite      bool             `json:"overwrite"`
	Resources      int64            `json:"resources"`
	TotalResources int64            `json:"total_resources,omitempty"`
	Bytes          int64            `json:"bytes"`
	TotalBytes     int64            `json:"total_bytes,omitempty"`
	Current        string           `json:"current,omitempty"`
	Started        time.Time        `json:"started"`
	Finished       *time.Time       `json:"finished,omitempty"`
	Resumed        int              `json:"resumed,omitempty"`
	Status         int              `json:"status,omitempty"`
	Error          string           `json:"error,omitempty"`
	Failures       []monitorFailure `json:"failures,omitempty"`
}

type monitorFailure struct {
	Href   string `json:"href"`
	Status int    `json:"status"`
}

// view turns a record of h's store into its monitor's JSON.
func (h *Handler) view(op state.Operation) monitorView {
	href := func(p string) string {
		if p == "" {
			return ""
		}
		return (&url.URL{Path: h.prefix + p}).EscapedPath()
	}
	v := monitorView{ID: op.ID, Monitor: h.monitorURL(op.ID), State: op.State, Method: op.Method,
		Source: href(op.Src), Destination: href(op.Dst), Depth: op.Depth, Overwrite: op.Overwrite,
		Resources: op.Resources, TotalResources: op.TotalResources, Bytes: op.Bytes, TotalBytes: op.TotalBytes,
		Current: href(op.Current), Started: op.Started, Resumed: op.Resumed, Status: op.Status, Error: op.Error}
	if !op.Finished.IsZero() {
		v.Finished = &op.Finished
	}
	for _, f := range op.Failures {
		v.Failures = append(v.Failures, monitorFailure{href(f.Path), f.Status})
	}
	return v
}

func (h *Handler) writeMonitor(w http.ResponseWriter, status int, op state.Operation) error {
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	// The record carries names users chose: it is data, never a
	// document (see content.go).
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Security-Policy", listingCSP)
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(h.view(op))
}

// serveMonitor answers GET, HEAD and DELETE of the monitor of id.
func (h *Handler) serveMonitor(w http.ResponseWriter, r *http.Request, id string) error {
	ctx := r.Context()
	if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		return errorf(http.StatusNotFound, "no such operation")
	}
	op, err := h.ownOperation(ctx, id)
	if err != nil {
		return err
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return h.writeMonitor(w, http.StatusOK, op)
	case http.MethodDelete:
		if h.readOnly {
			return errorf(http.StatusForbidden, "this server is read-only")
		}
		if op.State != state.OpRunning {
			return h.writeMonitor(w, http.StatusOK, op)
		}
		if err := h.state.RequestCancel(ctx, id); err != nil {
			return storageError(r.URL.Path, err)
		}
		deadline := time.Now().Add(monitorCancelWait)
		for op.State == state.OpRunning && time.Now().Before(deadline) {
			select {
			case <-ctx.Done():
				return storageError(r.URL.Path, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
			if op, err = h.ownOperation(ctx, id); err != nil {
				return err
			}
		}
		if op.State == state.OpRunning {
			return h.writeMonitor(w, http.StatusAccepted, op)
		}
		return h.writeMonitor(w, http.StatusOK, op)
	}
	w.Header().Set("Allow", "GET, HEAD, DELETE")
	return errorf(http.StatusMethodNotAllowed, "a monitor answers GET and DELETE")
}

// ownOperation returns the record of id if the request's user started it;
// for anyone else there is no such operation.
func (h *Handler) ownOperation(ctx context.Context, id string) (state.Operation, error) {
	op, err := h.state.Operation(ctx, id)
	if errors.Is(err, state.ErrNoSuchOperation) || (err == nil && op.User != UserFrom(ctx)) {
		return state.Operation{}, errorf(http.StatusNotFound, "no such operation")
	}
	if err != nil {
		return state.Operation{}, storageError("operation "+id, err)
	}
	return op, nil
}
