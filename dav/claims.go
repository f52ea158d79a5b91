package dav

import (
	"context"
	"errors"
	"net/http"
	"path"
	"sync"
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
			return nil, busy(h.prefix, op)
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
	if h.state.SharedJournal() {
		// The path locks of an instance that died went with its
		// connection: until another takes its operations over, only the
		// journal knows them.
		if op, found, err := h.abandonedOver(ctx, claims); err != nil || found {
			release()
			if err != nil {
				return nil, err
			}
			return nil, busy(h.prefix, op)
		}
	}
	return release, nil
}

// busy is the 423 of a request in the way of op.
func busy(prefix string, op state.Operation) error {
	what := op.Method + " of " + prefix + op.Src
	if op.Dst != "" {
		what += " to " + prefix + op.Dst
	}
	return errorf(http.StatusLocked, "a %s is running; retry once it has finished", what)
}

// abandonedOver returns a running operation over claims that the request
// could nevertheless claim: one whose instance stopped before another
// took it over. The running operations are read from the journal at most
// once per runningFresh; one found over claims is confirmed with a fresh
// read, so an operation that has just finished never refuses a request.
func (h *Handler) abandonedOver(ctx context.Context, claims []pathlock.Claim) (state.Operation, bool, error) {
	ops, err := h.running.get(ctx, h.state)
	if err != nil {
		return state.Operation{}, false, err
	}
	if _, found := overlapping(ops, claims); !found {
		return state.Operation{}, false, nil
	}
	return h.operationOver(ctx, claims)
}

// runningFresh is how long a Handler reuses its list of the running
// operations of a shared journal.
const runningFresh = time.Second

// runningCache is the list of running operations abandonedOver reuses.
type runningCache struct {
	mu  sync.Mutex
	at  time.Time
	ops []state.Operation
}

func (c *runningCache) get(ctx context.Context, st state.Store) ([]state.Operation, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) < runningFresh {
		return c.ops, nil
	}
	ops, err := st.Operations(ctx, true)
	if err != nil {
		return nil, err
	}
	c.ops, c.at = ops, time.Now()
	return ops, nil
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
	op, found := overlapping(ops, claims)
	return op, found, nil
}

// overlapping returns the first of ops whose source or destination
// overlaps an exclusive claim's path, or holds a shared claim's path.
func overlapping(ops []state.Operation, claims []pathlock.Claim) (state.Operation, bool) {
	for _, op := range ops {
		for _, c := range claims {
			for _, p := range []string{op.Src, op.Dst} {
				if p != "" && (isBelowOrAt(c.Path, p) || isBelowOrAt(p, c.Path)) && (!c.Shared || isBelowOrAt(c.Path, p)) {
					return op, true
				}
			}
		}
	}
	return state.Operation{}, false
}

// isBelowOrAt reports whether name is dir or below it.
func isBelowOrAt(name, dir string) bool { return name == dir || isBelow(name, dir) }
