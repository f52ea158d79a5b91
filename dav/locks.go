package dav

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"davd/processing"
	"davd/storage/state"
)

// lockTarget is a resource a request is about to change.
type lockTarget struct {
	name string
	// members: the change reaches everything below name too (DELETE,
	// MOVE, or overwriting a collection), so locks rooted below matter.
	members bool
	// membership: the change adds name to, or removes it from, its parent
	// collection, which a lock on the parent protects (RFC 4918 §7.4).
	membership bool
}

// authorizeWrite evaluates the If header and checks that every lock
// protecting the targets was submitted. It answers 412 when the If header
// is false, and 423 (or a 207 naming locked members) when a lock is in the
// way.
func (h *Handler) authorizeWrite(r *http.Request, reqName string, targets ...lockTarget) error {
	tokens, err := h.evalIf(r, reqName)
	if err != nil {
		return err
	}
	ctx := r.Context()
	user := UserFrom(ctx)
	for _, t := range targets {
		covering, err := h.state.LocksCovering(ctx, t.name)
		if err != nil {
			return err
		}
		if l, ok := unheld(covering, tokens, user); !ok {
			return h.lockedError(l)
		}
		if t.membership && t.name != "/" {
			parentLocks, err := h.state.LocksCovering(ctx, path.Dir(t.name))
			if err != nil {
				return err
			}
			if l, ok := unheld(parentLocks, tokens, user); !ok {
				return h.lockedError(l)
			}
		}
		if t.members {
			below, err := h.state.LocksBelow(ctx, t.name)
			if err != nil {
				return err
			}
			var blocked []state.Lock
			for _, l := range below {
				if !holds(l, tokens, user) {
					blocked = append(blocked, l)
				}
			}
			if len(blocked) > 0 {
				return &lockedMembers{h: h, locks: blocked}
			}
		}
	}
	return nil
}

// unheld returns a lock of locks none of which user holds; ok is true when
// there is no such obstacle (no locks, or one of them is held: holding any
// one shared lock, or the exclusive one, is enough).
func unheld(locks []state.Lock, tokens map[string]bool, user string) (state.Lock, bool) {
	if len(locks) == 0 {
		return state.Lock{}, true
	}
	for _, l := range locks {
		if holds(l, tokens, user) {
			return state.Lock{}, true
		}
	}
	return locks[0], false
}

// holds reports whether a request by user that submitted tokens holds
// lock l. A lock token is not a bearer credential: one user submitting
// another's token gets what a made-up token would get.
func holds(l state.Lock, tokens map[string]bool, user string) bool {
	return tokens[l.Token] && l.User == user
}

func (h *Handler) lockedError(l state.Lock) error {
	return &httpError{status: http.StatusLocked, reason: h.hrefFor(l.Root, false) + " is locked",
		err: &lockedMembers{h: h, locks: []state.Lock{l}}}
}

// lockedMembers is a write blocked by locks below the request-URI; it is
// answered with a 207 naming each locked member with 423 (RFC 4918 §9.6.1).
type lockedMembers struct {
	h     *Handler
	locks []state.Lock
}

func (e *lockedMembers) Error() string { return "members are locked" }

func (e *lockedMembers) write(w http.ResponseWriter) {
	ms := startMultistatus(w, 0)
	for _, l := range e.locks {
		ms.status(e.h.hrefFor(l.Root, false), http.StatusLocked, "lock-token-submitted")
	}
	ms.close()
}

// evalIf evaluates the If header (RFC 4918 §10.4) for a request on
// reqName and returns the lock tokens it submits. Lists are alternatives,
// the conditions of a list must all hold; a state token holds when it
// names a live lock covering the list's resource, an entity tag when it
// equals the resource's current one.
func (h *Handler) evalIf(r *http.Request, reqName string) (map[string]bool, error) {
	hdr := r.Header.Get("If")
	if hdr == "" {
		return nil, nil
	}
	ih, ok := parseIfHeader(hdr)
	if !ok {
		return nil, errorf(http.StatusBadRequest, "malformed If header")
	}
	ctx := r.Context()
	tokens := map[string]bool{}
	for _, l := range ih.lists {
		for _, c := range l.conditions {
			if c.Token != "" {
				tokens[c.Token] = true
			}
		}
	}
	for _, l := range ih.lists {
		name := reqName
		if l.resourceTag != "" {
			var ok bool
			if name, ok = h.tagName(r, l.resourceTag); !ok {
				continue // a resource not served here cannot satisfy a list
			}
		}
		holds := true
		for _, c := range l.conditions {
			var v bool
			if c.Token != "" {
				v = h.tokenCovers(ctx, c.Token, name)
			} else {
				v = h.etagIs(ctx, name, c.ETag)
			}
			if v == c.Not {
				holds = false
				break
			}
		}
		if holds {
			return tokens, nil
		}
	}
	// Every list failed: 412, even when a lock is also in the way (RFC
	// 4918 §10.4.1); a true If header that does not submit the lock's token
	// is what gets 423, from the lock check.
	return nil, errorf(http.StatusPreconditionFailed, "no list of the If header holds")
}

// tagName maps an If header resource tag to a storage path.
func (h *Handler) tagName(r *http.Request, tag string) (string, bool) {
	u, err := url.Parse(tag)
	if err != nil || (u.Host != "" && !sameHost(u.Host, r.Host)) || validatePath(u.Path) != nil {
		return "", false
	}
	name, ok := stripPrefix(h.prefix, u.Path)
	if !ok {
		return "", false
	}
	return path.Clean(name), true
}

// tokenCovers reports whether token names a lock of the request's user
// that covers name; another user's lock token is treated as unknown.
func (h *Handler) tokenCovers(ctx context.Context, token, name string) bool {
	l, err := h.state.LookupLock(ctx, token)
	return err == nil && covers(l, name) && l.User == UserFrom(ctx)
}

// covers reports whether lock l applies to name.
func covers(l state.Lock, name string) bool {
	return l.Root == name || (l.Deep && isBelow(name, l.Root))
}

// isBelow reports whether name is strictly below dir.
func isBelow(name, dir string) bool {
	if dir == "/" {
		return name != "/"
	}
	return strings.HasPrefix(name, dir+"/")
}

func (h *Handler) etagIs(ctx context.Context, name, tag string) bool {
	fi, err := h.fs.Stat(ctx, name)
	return err == nil && etag(fi) == tag
}

// lockinfo is a parsed DAV:lockinfo body.
type lockinfo struct {
	shared bool
	owner  string
}

func parseLockinfo(body []byte, root *xmlElement) (lockinfo, error) {
	var li lockinfo
	if !root.is("lockinfo") {
		return li, badXML("LOCK body must be a DAV:lockinfo element")
	}
	scope, typ := root.child("lockscope"), root.child("locktype")
	switch {
	case scope == nil || typ == nil:
		return li, badXML("DAV:lockinfo needs DAV:lockscope and DAV:locktype")
	case typ.child("write") == nil:
		return li, badXML("only write locks exist")
	case scope.child("shared") != nil:
		li.shared = true
	case scope.child("exclusive") == nil:
		return li, badXML("DAV:lockscope must be DAV:exclusive or DAV:shared")
	}
	if o := root.child("owner"); o != nil {
		li.owner = string(o.selfContained(body))
	}
	return li, nil
}

// parseTimeout reads a Timeout header (RFC 4918 §10.7): the first value
// understood wins; none means infinite.
func parseTimeout(hdr string) (time.Duration, error) {
	if strings.TrimSpace(hdr) == "" {
		return 0, nil
	}
	for v := range strings.SplitSeq(hdr, ",") {
		v = strings.TrimSpace(v)
		if strings.EqualFold(v, "Infinite") {
			return 0, nil
		}
		if s, ok := strings.CutPrefix(v, "Second-"); ok {
			n, err := strconv.ParseUint(s, 10, 32)
			if err == nil && n > 0 {
				return time.Duration(n) * time.Second, nil
			}
		}
	}
	return 0, errorf(http.StatusBadRequest, "Timeout %q is neither Infinite nor Second-N", hdr)
}

// serveLock creates or refreshes a lock (RFC 4918 §9.10).
func (h *Handler) serveLock(w http.ResponseWriter, r *http.Request, name string) error {
	ctx := r.Context()
	timeout, err := h.lockTimeout(r.Header.Get("Timeout"))
	if err != nil {
		return err
	}
	body, root, err := readXMLBody(r)
	if err != nil {
		return err
	}
	if root == nil {
		return h.refreshLock(w, r, name, timeout)
	}
	li, err := parseLockinfo(body, root)
	if err == nil {
		err = h.checkLockOwner(li.owner)
	}
	if err != nil {
		return err
	}
	depth, err := parseDepth(r.Header.Get("Depth"), depthInfinity)
	if err != nil || depth == depthOne {
		return errorf(http.StatusBadRequest, "LOCK Depth must be 0 or infinity")
	}
	deep := depth == depthInfinity
	release, err := h.claim(ctx, change(name, deep)...)
	if err != nil {
		return err
	}
	defer release()
	_, statErr := h.fs.Stat(ctx, name)
	exists := statErr == nil
	if !exists && !errors.Is(statErr, os.ErrNotExist) {
		return storageError(r.URL.Path, statErr)
	}
	if err := h.allowLock(ctx, name, exists, depth == depthInfinity); err != nil {
		return err
	}
	// A new lock is a conditional request like any other: the If header
	// must hold, and a lock that conflicts is reported by CreateLock.
	if _, err := h.evalIf(r, name); err != nil {
		return err
	}
	// LOCK does not walk the tree: the store finds conflicting locks above
	// and below name in one query, whatever the collection's size. Its
	// progress is therefore one resource, and its total is known.
	progress := processing.FromContext(ctx)
	progress.SetTotal(1, 0)
	lock, err := h.state.CreateLock(ctx, state.Lock{
		Root: name, Deep: deep, Shared: li.shared,
		Owner: li.owner, Timeout: timeout, User: UserFrom(ctx), Caps: h.limits.lockCaps(),
	})
	if errors.Is(err, state.ErrTooManyLocks) {
		return tooManyLocks(r.URL.Path, err)
	}
	var conflict *state.ConflictError
	if errors.As(err, &conflict) {
		return h.lockConflict(w, conflict)
	}
	if err != nil {
		return err
	}
	status := http.StatusOK
	if !exists {
		// RFC 4918 §7.3: locking an unmapped URL creates an empty resource
		// — only if the name is still free: whatever is there now is
		// locked as it is, never truncated.
		created, err := h.fs.CreateExclusive(ctx, name, 0o644)
		if err != nil {
			h.state.Unlock(context.WithoutCancel(ctx), lock.Token)
			return storageError(r.URL.Path, err)
		}
		if created {
			status = http.StatusCreated
		}
	}
	progress.AddResource(h.prefix + name)
	w.Header().Set("Lock-Token", "<"+lock.Token+">")
	return h.writeLockDiscovery(w, status, lock)
}

// refreshLock handles a LOCK without a body: the If header names the lock.
func (h *Handler) refreshLock(w http.ResponseWriter, r *http.Request, name string, timeout time.Duration) error {
	if err := h.allow(name, PermUpdate); err != nil {
		return err
	}
	ih, ok := parseIfHeader(r.Header.Get("If"))
	if !ok {
		return errorf(http.StatusBadRequest, "a lock refresh needs an If header with the lock token")
	}
	for _, l := range ih.lists {
		for _, c := range l.conditions {
			if c.Token == "" || c.Not || !h.tokenCovers(r.Context(), c.Token, name) {
				continue
			}
			lock, err := h.state.RefreshLock(r.Context(), c.Token, timeout)
			if err != nil {
				return err
			}
			return h.writeLockDiscovery(w, http.StatusOK, lock)
		}
	}
	return errorf(http.StatusPreconditionFailed, "the If header names no lock on %s", r.URL.Path)
}

func (h *Handler) writeLockDiscovery(w http.ResponseWriter, status int, lock state.Lock) error {
	b := []byte(`<?xml version="1.0" encoding="utf-8"?>` + "\n" + `<D:prop xmlns:D="DAV:"><D:lockdiscovery>`)
	b = h.appendActiveLock(b, lock)
	b = append(b, "</D:lockdiscovery></D:prop>\n"...)
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, err := w.Write(b)
	return err
}

// lockConflict answers 423 with the no-conflicting-lock precondition
// naming the roots of the locks in the way (RFC 4918 §9.10.6).
func (h *Handler) lockConflict(w http.ResponseWriter, conflict *state.ConflictError) error {
	b := []byte(`<?xml version="1.0" encoding="utf-8"?>` + "\n" + `<D:error xmlns:D="DAV:"><D:no-conflicting-lock>`)
	for _, l := range conflict.Locks {
		b = append(b, "<D:href>"...)
		b = appendEscaped(b, h.hrefFor(l.Root, false))
		b = append(b, "</D:href>"...)
	}
	b = append(b, "</D:no-conflicting-lock></D:error>\n"...)
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(http.StatusLocked)
	_, err := w.Write(b)
	return err
}

// serveUnlock removes a lock (RFC 4918 §9.11). The token must name a lock
// that covers the request-URI.
func (h *Handler) serveUnlock(w http.ResponseWriter, r *http.Request, name string) error {
	token := strings.TrimSpace(r.Header.Get("Lock-Token"))
	if len(token) < 2 || token[0] != '<' || token[len(token)-1] != '>' {
		return errorf(http.StatusBadRequest, "UNLOCK needs a Lock-Token header: <token>")
	}
	token = token[1 : len(token)-1]
	ctx := r.Context()
	l, err := h.state.LookupLock(ctx, token)
	if err != nil || !covers(l, name) {
		return &httpError{status: http.StatusConflict, reason: "the lock token does not match a lock on " + r.URL.Path,
			err: errLockTokenMismatch}
	}
	if l.User != UserFrom(ctx) {
		return errorf(http.StatusForbidden, "the lock on %s belongs to another user", r.URL.Path)
	}
	if err := h.state.Unlock(ctx, token); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

var errLockTokenMismatch = errors.New("lock-token-matches-request-uri")
