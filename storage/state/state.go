// Package state keeps what WebDAV stores beside file content: dead
// properties and write locks, keyed by resource path.
//
// Paths are slash-separated, cleaned, absolute and without a trailing slash
// ("/" is the root, "/a/b" a member). A Store must be safe for concurrent
// use. Three implementations exist: SQLite on disk and PostgreSQL (both
// through database/sql, sharing their SQL), and memory.
package state

import (
	"davd/storage/pathlock"

	"context"
	"encoding/xml"
	"errors"
	"time"
)

// Errors a Store reports; test with errors.Is.
var (
	// ErrLocked means a lock request conflicts with existing locks; the
	// error is a *ConflictError naming them.
	ErrLocked = errors.New("state: resource is locked")
	// ErrNoSuchLock means no live lock has the token.
	ErrNoSuchLock = errors.New("state: no such lock")
	// ErrCorrupt means the state file exists but cannot be trusted. It is
	// never recreated silently: the operator must act.
	ErrCorrupt = errors.New("state: state file is corrupt")
	// ErrFull means a change could not be stored because the state
	// file's file system (or its quota) is full. Nothing was changed.
	ErrFull = errors.New("state: no space left for the state file")
	// ErrReadOnly means a change could not be stored because the state
	// file or its file system has become read-only. Nothing was changed;
	// reads still work.
	ErrReadOnly = errors.New("state: state file is read-only")
	// ErrTooManyLocks means CreateLock would pass one of the new lock's
	// Caps; nothing was stored.
	ErrTooManyLocks = errors.New("state: too many locks")
	// ErrUnavailable means the state database cannot be reached (it is
	// down, restarting or out of connections) or did not answer within
	// the store's timeout. Nothing is known to have changed; the call may
	// be retried later.
	ErrUnavailable = errors.New("state: state database unavailable")
)

// Property is one dead property.
type Property struct {
	// Name is the property's namespace URI and local name.
	Name xml.Name
	// XML is the complete property element, self-contained: every
	// namespace prefix it uses is declared on it, and xml:lang, when in
	// effect, is on it too. Stores keep it byte for byte.
	XML []byte
}

// Lock is one WebDAV write lock.
type Lock struct {
	// Token is the lock token, an absolute URI ("urn:uuid:…") made by the
	// Store from a CSPRNG.
	Token string
	// Root is the path of the locked resource.
	Root string
	// Deep is true for Depth: infinity, false for Depth: 0.
	Deep bool
	// Shared is true for a shared lock, false for an exclusive one.
	Shared bool
	// Owner is the client's whole DAV:owner element, self-contained (its
	// inherited namespace declarations and xml:lang included), or "" when
	// the LOCK request had none.
	Owner string
	// User is the authenticated user who created the lock ("" if none).
	User string
	// Timeout is the lock's timeout; 0 means infinite.
	Timeout time.Duration
	// Expires is when the lock lapses; zero for an infinite lock.
	Expires time.Time
	// Created is when the lock was made.
	Created time.Time
	// Caps bound CreateLock. They belong to the request only: they are
	// never stored, and are zero in every Lock a Store returns.
	Caps LockCaps
}

// LockCaps bound the live locks CreateLock lets exist, so that the lock
// table, which Stores keep in memory, stays bounded. Zero means no limit.
type LockCaps struct {
	// PerRoot is the most live locks rooted at one path (shared locks;
	// there is only ever one exclusive lock).
	PerRoot int
	// PerUser is the most live locks one User may hold; "" is a user
	// too, so every anonymous client shares one count.
	PerUser int
}

// ConflictError is returned with ErrLocked and names the locks in the way.
type ConflictError struct {
	Locks []Lock
}

func (e *ConflictError) Error() string { return ErrLocked.Error() }

// Is makes errors.Is(err, ErrLocked) true.
func (e *ConflictError) Is(target error) bool { return target == ErrLocked }

// Store keeps dead properties, locks, intents and the journal of long
// operations. Expired locks are never returned
// by any method and may be purged lazily.
type Store interface {
	// Props returns the dead properties of path, nil when it has none. It
	// is on the path of every PROPFIND entry, so a path without properties
	// must be answered without I/O.
	Props(ctx context.Context, path string) ([]Property, error)
	// PatchProps sets and removes properties of path all-or-nothing (RFC
	// 4918 §9.2): set replaces a property of the same name; removing an
	// absent property is not an error.
	PatchProps(ctx context.Context, path string, set []Property, remove []xml.Name) error

	// CopyTree gives dst and everything below it copies of the dead
	// properties of src and everything below it. Locks are not copied.
	CopyTree(ctx context.Context, src, dst string) error
	// MoveTree moves the dead properties of src and everything below it to
	// dst, in one statement whatever the tree's size, and removes the locks
	// rooted at or below src (RFC 4918 §7.7: locks do not move).
	MoveTree(ctx context.Context, src, dst string) error
	// DeleteTree removes the dead properties and the locks of path and
	// everything below it.
	DeleteTree(ctx context.Context, path string) error

	// CreateLock records a new lock. The Store fills in Token, Created and
	// Expires (now + Timeout, or zero when Timeout is 0). It fails with a
	// *ConflictError (ErrLocked) when an existing lock's scope overlaps
	// the new one's and either is exclusive. Scopes overlap when the roots
	// are equal, or one root is below the other and the upper lock is Deep.
	// It fails with ErrTooManyLocks when the lock would pass l.Caps; the
	// count and the insert are one atomic step.
	CreateLock(ctx context.Context, l Lock) (Lock, error)
	// RefreshLock restarts the timeout of a lock, with a new timeout.
	RefreshLock(ctx context.Context, token string, timeout time.Duration) (Lock, error)
	// Unlock removes a lock.
	Unlock(ctx context.Context, token string) error
	// LookupLock returns the lock with token.
	LookupLock(ctx context.Context, token string) (Lock, error)
	// LocksCovering returns the locks that apply to path: rooted at path,
	// or Deep and rooted at an ancestor of path.
	LocksCovering(ctx context.Context, path string) ([]Lock, error)
	// LocksBelow returns the locks rooted strictly below path.
	LocksBelow(ctx context.Context, path string) ([]Lock, error)

	// BeginIntent records a namespace change about to touch the tree and
	// returns its ID; EndIntent forgets it once the state has followed the
	// tree. Intents lists those not ended, oldest first: at start, the
	// changes a crash interrupted (see Intent).
	BeginIntent(ctx context.Context, in Intent) (int64, error)
	EndIntent(ctx context.Context, id int64) error
	Intents(ctx context.Context) ([]Intent, error)
	// StatePaths calls fn with each path at or below root that has dead
	// properties or is the root of a live lock, once each, in no
	// particular order; an error from fn ends the walk and is returned.
	StatePaths(ctx context.Context, root string, fn func(path string) error) error

	// Acquire holds path locks (see package pathlock) in the namespace of
	// the store's paths: requests that change the tree claim what they
	// touch, check the locks above and commit while they hold it. Every
	// view of one store (WithPrefix) shares its path locks, so users whose
	// roots overlap exclude each other; a store shared by several
	// processes must make them exclude each other too.
	pathlock.Locker

	// Journal records the long operations (see Journal).
	Journal

	// Close releases the store.
	Close() error
}
