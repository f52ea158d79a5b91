package dav

import (
	"context"
	"errors"
	"net/http"
	"path"

	"davd/storage/pathlock"
)

// Every request that changes the tree (PUT, MKCOL, DELETE, COPY, MOVE,
// PROPPATCH) or creates a lock holds path locks over what it touches
// while it checks the WebDAV locks and commits: the check and the change
// are then one step as far as other requests can tell. Without them a
// LOCK granted between a request's check and its commit was ignored, a
// lock created while a DELETE ran was erased by it, and two MOVEs onto one
// destination interleaved their renames. Reads take none.
//
// What each request claims:
//
//	PUT, MKCOL, PROPPATCH, LOCK (Depth 0)   the resource
//	DELETE, MOVE (both ends), COPY (dest.),
//	LOCK (Depth infinity)                   the resource and all below it
//	and every request that can add or remove a member also claims its
//	parent shared: that is what a Depth 0 lock of the parent protects
//	(RFC 4918 §7.4), while uploads into one collection still run together.
//
// A PUT claims only once its body has arrived (see servePut): a slow
// upload does not hold up a LOCK; the PUT checks the locks again before it
// commits and fails with 423 if one was granted meanwhile.

// change returns the claims of a request that changes name: the resource
// (with everything below it when deep) and its parent's membership.
func change(name string, deep bool) []pathlock.Claim {
	c := []pathlock.Claim{{Path: name, Deep: deep}}
	if name != "/" {
		c = append(c, pathlock.Claim{Path: path.Dir(name), Shared: true})
	}
	return c
}

// claim holds claims until the returned function is called. It waits for
// the requests that hold conflicting claims, as long as ctx lives.
func (h *Handler) claim(ctx context.Context, claims ...pathlock.Claim) (func(), error) {
	release, err := h.state.Acquire(ctx, claims...)
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, &httpError{status: http.StatusServiceUnavailable,
				reason: "gave up waiting for a request on the same resource", err: err}
		}
		return nil, err
	}
	return release, nil
}
