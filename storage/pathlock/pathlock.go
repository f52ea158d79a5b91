// Package pathlock serialises the requests that change a tree: namespace
// changes (PUT, MKCOL, DELETE, COPY, MOVE), property changes and the
// creation of WebDAV locks. A WebDAV lock is a promise kept in the state
// store; a path lock is the short-lived mutual exclusion that makes the
// promise hold while requests race. A request checks the WebDAV locks and
// commits its change while it holds the path locks covering everything
// the change touches, so nothing commits to a resource between the moment
// a LOCK is granted and the moment its holder is asked for the token.
//
// A request claims all it needs at once (Acquire) and releases it all at
// once; it never acquires while it holds. That rule makes deadlock
// impossible whatever the paths. Waiting requests are granted in arrival
// order among those that conflict, so a stream of shared claims (uploads
// into one collection) cannot starve an exclusive one (a LOCK of that
// collection).
//
// Locker is the seam for another implementation: several instances of
// davd sharing one state store need their path locks in that store too.
package pathlock

import (
	"context"
	"strings"
	"sync"
)

// Claim is one path a request needs.
type Claim struct {
	// Path is slash-separated, cleaned and absolute ("/" is the root).
	Path string
	// Deep extends the claim to every path below Path.
	Deep bool
	// Shared claims may be held together; an exclusive one alone.
	Shared bool
}

// Locker hands out path locks. Implementations must be safe for
// concurrent use.
type Locker interface {
	// Acquire waits until no claim held by another request conflicts with
	// any of claims, then holds them all. It gives up, holding nothing,
	// with ctx's error when ctx is done first. The release function
	// returned must be called exactly once.
	Acquire(ctx context.Context, claims ...Claim) (release func(), err error)
}

// Conflict reports whether a and b cannot be held at the same time: their
// scopes overlap (the same path, or one below the other when the upper
// one is Deep) and they are not both shared.
func Conflict(a, b Claim) bool {
	if a.Shared && b.Shared {
		return false
	}
	switch {
	case a.Path == b.Path:
		return true
	case a.Deep && below(b.Path, a.Path):
		return true
	case b.Deep && below(a.Path, b.Path):
		return true
	}
	return false
}

// below reports whether p is strictly below dir.
func below(p, dir string) bool {
	if dir == "/" {
		return p != "/"
	}
	return len(p) > len(dir) && p[len(dir)] == '/' && strings.HasPrefix(p, dir)
}

// Manager is the in-process Locker. Its zero value is ready to use.
//
// All state is guarded by mu. A request is one entry: held entries are
// granted, waiting ones sit in queue in arrival order, each with a channel
// closed when it is granted. Scans are linear in the number of requests
// inside the manager, which is bounded by the requests in flight.
type Manager struct {
	mu    sync.Mutex
	held  map[*entry]struct{}
	queue []*entry
}

type entry struct {
	claims  []Claim
	granted chan struct{}
}

var _ Locker = (*Manager)(nil)

// Acquire implements Locker.
func (m *Manager) Acquire(ctx context.Context, claims ...Claim) (func(), error) {
	e := &entry{claims: claims, granted: make(chan struct{})}
	m.mu.Lock()
	if m.held == nil {
		m.held = make(map[*entry]struct{})
	}
	m.queue = append(m.queue, e)
	m.grantLocked()
	m.mu.Unlock()
	select {
	case <-e.granted:
		return func() { m.release(e) }, nil
	case <-ctx.Done():
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	select {
	case <-e.granted: // granted while giving up: hand it back
		delete(m.held, e)
	default:
		for i, q := range m.queue {
			if q == e {
				m.queue = append(m.queue[:i], m.queue[i+1:]...)
				break
			}
		}
	}
	m.grantLocked()
	return nil, ctx.Err()
}

func (m *Manager) release(e *entry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.held, e)
	m.grantLocked()
}

// grantLocked grants every waiting entry that conflicts neither with a
// held one nor with one that waits before it.
func (m *Manager) grantLocked() {
	kept := m.queue[:0]
	for _, e := range m.queue {
		if m.conflictsLocked(e, kept) {
			kept = append(kept, e)
			continue
		}
		m.held[e] = struct{}{}
		close(e.granted)
	}
	clear(m.queue[len(kept):])
	m.queue = kept
}

func (m *Manager) conflictsLocked(e *entry, waiting []*entry) bool {
	for h := range m.held {
		if conflictAny(e.claims, h.claims) {
			return true
		}
	}
	for _, w := range waiting {
		if conflictAny(e.claims, w.claims) {
			return true
		}
	}
	return false
}

func conflictAny(a, b []Claim) bool {
	for _, x := range a {
		for _, y := range b {
			if Conflict(x, y) {
				return true
			}
		}
	}
	return false
}

// Held is the number of requests holding path locks, for tests and
// metrics.
func (m *Manager) Held() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.held)
}
