package state

import (
	"davd/storage/pathlock"

	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// maxTimeout bounds lock timeouts so that Expires stays well inside the
// range of int64 nanoseconds since 1970 (year 2262). RFC 4918 timeouts are
// at most 2^32-1 seconds, about 136 years.
const maxTimeout = 200 * 365 * 24 * time.Hour

// lockPersister writes lock changes through to durable storage. Each
// method is called with locker.mu held, before the in-memory table is
// changed, so the table changes only when the write succeeded.
type lockPersister interface {
	// insertLock stores l, after deleting the locks expired at now.
	insertLock(ctx context.Context, l Lock, now time.Time) error
	// updateLock stores a refreshed lock.
	updateLock(ctx context.Context, l Lock) error
	// deleteLock removes the lock with token.
	deleteLock(ctx context.Context, token string) error
}

// locker is the lock table both Stores share: every live lock in memory,
// guarded by a mutex, optionally written through to a lockPersister.
// Reads never do I/O. It provides the lock methods of Store.
//
// The table is bounded by the callers' LockCaps: with PerUser set, it
// holds at most PerUser locks per user (the anonymous user included), each
// as large as its Owner, which the caller bounds. Locks loaded at open
// from an older state file are kept as they were, whatever their size,
// until they expire or are removed.
type locker struct {
	mu      sync.RWMutex
	byToken map[string]Lock
	byRoot  map[string]map[string]struct{} // root → tokens
	byUser  map[string]int                 // user → number of locks
	persist lockPersister                  // nil: memory only
	closed  atomic.Bool
	paths   pathlock.Manager // the path locks of Store.Acquire
}

// newLocker returns an empty lock table writing through to p (nil for
// none).
func newLocker(p lockPersister) *locker {
	return &locker{
		byToken: map[string]Lock{},
		byRoot:  map[string]map[string]struct{}{},
		byUser:  map[string]int{},
		persist: p,
	}
}

// check fails when the store is closed or ctx is done.
func (lt *locker) check(ctx context.Context) error {
	if lt.closed.Load() {
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return nil
}

// newToken returns a fresh lock token: "urn:uuid:" and an RFC 4122
// version 4 UUID drawn from crypto/rand.
func newToken() string {
	var b [16]byte
	rand.Read(b[:])         // never fails (crypto/rand crashes the program instead)
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return "urn:uuid:" + string(s[:])
}

// now is the time the lock methods work with: wall clock only, so that
// what is kept in memory is exactly what a persister stores and reloads.
func now() time.Time { return time.Now().Round(0) }

// expired reports whether l has lapsed at t.
func expired(l Lock, t time.Time) bool {
	return !l.Expires.IsZero() && l.Expires.Before(t)
}

// expiry returns when a lock with timeout, (re)started at t, lapses.
func expiry(t time.Time, timeout time.Duration) (time.Time, error) {
	switch {
	case timeout < 0:
		return time.Time{}, fmt.Errorf("state: negative lock timeout %v", timeout)
	case timeout > maxTimeout:
		return time.Time{}, fmt.Errorf("state: lock timeout %v is too long (at most %v)", timeout, maxTimeout)
	case timeout == 0:
		return time.Time{}, nil
	}
	return t.Add(timeout), nil
}

// overlaps reports whether the scopes of a and b overlap: same root, or
// one root below the other and the upper lock Deep.
func overlaps(a, b Lock) bool {
	switch {
	case a.Root == b.Root:
		return true
	case below(b.Root, a.Root):
		return a.Deep
	case below(a.Root, b.Root):
		return b.Deep
	}
	return false
}

// conflicts reports whether a new lock l may not coexist with existing.
func conflicts(l, existing Lock) bool {
	return !(l.Shared && existing.Shared) && overlaps(l, existing)
}

// sortLocks orders locks by Root, then Token.
func sortLocks(ls []Lock) []Lock {
	slices.SortFunc(ls, func(a, b Lock) int {
		return cmp.Or(cmp.Compare(a.Root, b.Root), cmp.Compare(a.Token, b.Token))
	})
	return ls
}

// add puts l in the table; mu must be held.
func (lt *locker) add(l Lock) {
	lt.byToken[l.Token] = l
	set := lt.byRoot[l.Root]
	if set == nil {
		set = map[string]struct{}{}
		lt.byRoot[l.Root] = set
	}
	set[l.Token] = struct{}{}
	lt.byUser[l.User]++
}

// remove takes the lock with token out of the table; mu must be held.
func (lt *locker) remove(token string) {
	l, ok := lt.byToken[token]
	if !ok {
		return
	}
	delete(lt.byToken, token)
	set := lt.byRoot[l.Root]
	delete(set, token)
	if len(set) == 0 {
		delete(lt.byRoot, l.Root)
	}
	if lt.byUser[l.User]--; lt.byUser[l.User] <= 0 {
		delete(lt.byUser, l.User)
	}
}

// purge drops the locks expired at t; mu must be held.
func (lt *locker) purge(t time.Time) {
	for tok, l := range lt.byToken {
		if expired(l, t) {
			lt.remove(tok)
		}
	}
}

// live returns the unexpired lock with token; mu must be held.
func (lt *locker) live(token string, t time.Time) (Lock, bool) {
	l, ok := lt.byToken[token]
	if !ok || expired(l, t) {
		return Lock{}, false
	}
	return l, true
}

// covering returns the live locks that apply to p; mu must be held.
func (lt *locker) covering(p string, t time.Time) []Lock {
	if len(lt.byToken) == 0 {
		return nil // the usual case, asked once per resource by PROPFIND
	}
	var out []Lock
	for anc, self := p, true; ; self = false {
		for tok := range lt.byRoot[anc] {
			if l := lt.byToken[tok]; (self || l.Deep) && !expired(l, t) {
				out = append(out, l)
			}
		}
		if anc == "/" {
			break
		}
		anc = parentDir(anc)
	}
	return sortLocks(out)
}

// under returns the live locks rooted strictly below p; mu must be held.
func (lt *locker) under(p string, t time.Time) []Lock {
	var out []Lock
	for _, l := range lt.byToken {
		if below(l.Root, p) && !expired(l, t) {
			out = append(out, l)
		}
	}
	return sortLocks(out)
}

// parentDir returns the parent of a clean absolute path other than "/".
func parentDir(p string) string {
	for i := len(p) - 1; i > 0; i-- {
		if p[i] == '/' {
			return p[:i]
		}
	}
	return "/"
}

// CreateLock records a new lock; see Store.
func (lt *locker) CreateLock(ctx context.Context, l Lock) (Lock, error) {
	if err := lt.check(ctx); err != nil {
		return Lock{}, err
	}
	if err := checkPath(l.Root); err != nil {
		return Lock{}, err
	}
	t := now()
	exp, err := expiry(t, l.Timeout)
	if err != nil {
		return Lock{}, err
	}
	l.Token, l.Created, l.Expires = newToken(), t, exp
	caps := l.Caps
	l.Caps = LockCaps{}

	lt.mu.Lock()
	defer lt.mu.Unlock()
	// Expired locks do not count against the caps.
	lt.purge(t)
	if err := lt.withinCaps(l, caps); err != nil {
		return Lock{}, err
	}
	var in []Lock
	cands := lt.covering(l.Root, t)
	if l.Deep {
		cands = append(cands, lt.under(l.Root, t)...)
	}
	for _, c := range cands {
		if conflicts(l, c) {
			in = append(in, c)
		}
	}
	if len(in) > 0 {
		return Lock{}, &ConflictError{Locks: sortLocks(in)}
	}
	if lt.persist != nil {
		if err := lt.persist.insertLock(ctx, l, t); err != nil {
			return Lock{}, err
		}
	}
	lt.add(l)
	return l, nil
}

// withinCaps fails with ErrTooManyLocks when adding l would pass caps;
// mu must be held.
func (lt *locker) withinCaps(l Lock, caps LockCaps) error {
	if n := len(lt.byRoot[l.Root]); caps.PerRoot > 0 && n >= caps.PerRoot {
		return fmt.Errorf("%w: the resource already has %d locks, the most allowed", ErrTooManyLocks, n)
	}
	if n := lt.byUser[l.User]; caps.PerUser > 0 && n >= caps.PerUser {
		return fmt.Errorf("%w: the user already holds %d locks, the most allowed", ErrTooManyLocks, n)
	}
	return nil
}

// RefreshLock restarts the timeout of a lock; see Store.
func (lt *locker) RefreshLock(ctx context.Context, token string, timeout time.Duration) (Lock, error) {
	if err := lt.check(ctx); err != nil {
		return Lock{}, err
	}
	t := now()
	exp, err := expiry(t, timeout)
	if err != nil {
		return Lock{}, err
	}
	lt.mu.Lock()
	defer lt.mu.Unlock()
	l, ok := lt.live(token, t)
	if !ok {
		return Lock{}, fmt.Errorf("%w: %s", ErrNoSuchLock, token)
	}
	l.Timeout, l.Expires = timeout, exp
	if lt.persist != nil {
		if err := lt.persist.updateLock(ctx, l); err != nil {
			return Lock{}, err
		}
	}
	lt.byToken[token] = l
	return l, nil
}

// Unlock removes a lock; see Store.
func (lt *locker) Unlock(ctx context.Context, token string) error {
	if err := lt.check(ctx); err != nil {
		return err
	}
	t := now()
	lt.mu.Lock()
	defer lt.mu.Unlock()
	if _, ok := lt.live(token, t); !ok {
		return fmt.Errorf("%w: %s", ErrNoSuchLock, token)
	}
	if lt.persist != nil {
		if err := lt.persist.deleteLock(ctx, token); err != nil {
			return err
		}
	}
	lt.remove(token)
	return nil
}

// LookupLock returns the lock with token; see Store.
func (lt *locker) LookupLock(ctx context.Context, token string) (Lock, error) {
	if err := lt.check(ctx); err != nil {
		return Lock{}, err
	}
	lt.mu.RLock()
	defer lt.mu.RUnlock()
	l, ok := lt.live(token, now())
	if !ok {
		return Lock{}, fmt.Errorf("%w: %s", ErrNoSuchLock, token)
	}
	return l, nil
}

// LocksCovering returns the locks that apply to path; see Store.
func (lt *locker) LocksCovering(ctx context.Context, path string) ([]Lock, error) {
	if err := lt.check(ctx); err != nil {
		return nil, err
	}
	if err := checkPath(path); err != nil {
		return nil, err
	}
	lt.mu.RLock()
	defer lt.mu.RUnlock()
	return lt.covering(path, now()), nil
}

// LocksBelow returns the locks rooted strictly below path; see Store.
func (lt *locker) LocksBelow(ctx context.Context, path string) ([]Lock, error) {
	if err := lt.check(ctx); err != nil {
		return nil, err
	}
	if err := checkPath(path); err != nil {
		return nil, err
	}
	lt.mu.RLock()
	defer lt.mu.RUnlock()
	return lt.under(path, now()), nil
}

// removeTree removes the locks rooted at or below p, together with
// whatever else persist does (the store's own part of the operation, run
// with the lock table held so that no lock can appear under p meanwhile).
// persist is told whether there are such locks; the table changes only
// if it succeeds.
func (lt *locker) removeTree(p string, persist func(haveLocks bool) error) error {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	var doomed []string
	for tok, l := range lt.byToken {
		if atOrBelow(l.Root, p) {
			doomed = append(doomed, tok)
		}
	}
	if err := persist(len(doomed) > 0); err != nil {
		return err
	}
	for _, tok := range doomed {
		lt.remove(tok)
	}
	return nil
}

// load puts the unexpired locks ls in the table, at Open.
func (lt *locker) load(ls []Lock) {
	t := now()
	lt.mu.Lock()
	defer lt.mu.Unlock()
	for _, l := range ls {
		if !expired(l, t) {
			lt.add(l)
		}
	}
}
