package dav

import (
	"context"
	"errors"
	"net/http"
	"path"
	"time"

	"davd/storage/pathlock"
	"davd/storage/state"
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
// the requests that hold conflicting claims, as long as ctx lives, except
// for a journaled operation (journal.go), which may run for minutes or be
// resuming after a crash: a request that would write inside its source
// or destination is answered 423 with a reason instead. Which operation is
// in the way is only asked of the journal once a claim has waited
// busyAfter, so requests that do not conflict pay nothing for it.
func (h *Handler) claim(ctx context.Context, claims ...pathlock.Claim) (func(), error) {
	wctx, cancel := context.WithTimeout(ctx, busyAfter)
	release, err := h.state.Acquire(wctx, claims...)
	cancel()
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		if op, found, jerr := h.operationOver(ctx, claims); jerr != nil {
			return nil, jerr
		} else if found {
			what := op.Method + " of " + h.prefix + op.Src
			if op.Dst != "" {
				what += " to " + h.prefix + op.Dst
			}
			return nil, errorf(http.StatusLocked, "a %s is running; retry once it has finished", what)
		}
		release, err = h.state.Acquire(ctx, claims...)
	}
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, &httpError{status: http.StatusServiceUnavailable,
				reason: "gave up waiting for a request on the same resource", err: err}
		}
		return nil, err
	}
	return release, nil
}

// busyAfter is how long a claim waits before it asks whether a journaled
// operation is in its way.
const busyAfter = 200 * time.Millisecond

// operationOver returns a running journaled operation whose source or
// destination overlaps an exclusive claim's path (shared claims, of a
// parent's membership or a COPY's source, only conflict with changes).
func (h *Handler) operationOver(ctx context.Context, claims []pathlock.Claim) (state.Operation, bool, error) {
	ops, err := h.state.Operations(ctx, true)
	if err != nil {
		return state.Operation{}, false, err
	}
	for _, op := range ops {
		for _, c := range claims {
			for _, p := range []string{op.Src, op.Dst} {
				if p != "" && (isBelowOrAt(c.Path, p) || isBelowOrAt(p, c.Path)) && (!c.Shared || isBelowOrAt(c.Path, p)) {
					return op, true, nil
				}
			}
		}
	}
	return state.Operation{}, false, nil
}

// isBelowOrAt reports whether name is dir or below it.
func isBelowOrAt(name, dir string) bool { return name == dir || isBelow(name, dir) }
