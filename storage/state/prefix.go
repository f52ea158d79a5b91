package state

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// prefixed is a view of a Store in which every path is below prefix.
type prefixed struct {
	st     Store
	prefix string // clean, absolute, not "/"
	closed atomic.Bool
}

// WithPrefix returns a view of st for a tree mounted at prefix: path p of
// the view is prefix+p in st. It is how several users whose roots are
// sub-directories of one storage share that storage's Store: each user's
// "/x" is the storage's "/home/alice/x", so the same file has the same
// properties and locks whoever reaches it, and one user's paths cannot name
// another's.
//
// Locks the view returns have their Root rebased into the view; a deep lock
// rooted above prefix, which covers the whole view, appears rooted at "/".
// LookupLock, RefreshLock and Unlock know only the locks that touch the
// view: a token of a lock elsewhere in st is ErrNoSuchLock. Close ends the
// view but leaves st open: the caller still owns it. prefix "" or "/" returns st itself.
// The view is a BatchReader when st is one.
func WithPrefix(st Store, prefix string) (Store, error) {
	if prefix == "" || prefix == "/" {
		return st, nil
	}
	if err := checkPath(prefix); err != nil {
		return nil, fmt.Errorf("state: prefix: %w", err)
	}
	p := &prefixed{st: st, prefix: prefix}
	if br, ok := st.(BatchReader); ok {
		return &prefixedBatch{prefixed: p, br: br}, nil
	}
	return p, nil
}

// in maps a path of the view to st.
func (s *prefixed) in(p string) (string, error) {
	if s.closed.Load() {
		return "", errClosed
	}
	if err := checkPath(p); err != nil {
		return "", err
	}
	if p == "/" {
		return s.prefix, nil
	}
	return s.prefix + p, nil
}

// visible reports whether lock l of st touches the view.
func (s *prefixed) visible(l Lock) bool {
	return atOrBelow(l.Root, s.prefix) || (l.Deep && atOrBelow(s.prefix, l.Root))
}

// out maps a lock of st into the view; l must be visible.
func (s *prefixed) out(l Lock) Lock {
	switch {
	case l.Root == s.prefix || !atOrBelow(l.Root, s.prefix):
		l.Root = "/"
	default:
		l.Root = l.Root[len(s.prefix):]
	}
	return l
}

func (s *prefixed) outAll(locks []Lock) []Lock {
	out := make([]Lock, 0, len(locks))
	for _, l := range locks {
		if s.visible(l) {
			out = append(out, s.out(l))
		}
	}
	return out
}

// Props implements Store.
func (s *prefixed) Props(ctx context.Context, p string) ([]Property, error) {
	q, err := s.in(p)
	if err != nil {
		return nil, err
	}
	return s.st.Props(ctx, q)
}

// PatchProps implements Store.
func (s *prefixed) PatchProps(ctx context.Context, p string, set []Property, remove []xml.Name) error {
	q, err := s.in(p)
	if err != nil {
		return err
	}
	return s.st.PatchProps(ctx, q, set, remove)
}

// CopyTree implements Store.
func (s *prefixed) CopyTree(ctx context.Context, src, dst string) error {
	return s.tree(src, dst, func(a, b string) error { return s.st.CopyTree(ctx, a, b) })
}

// MoveTree implements Store.
func (s *prefixed) MoveTree(ctx context.Context, src, dst string) error {
	return s.tree(src, dst, func(a, b string) error { return s.st.MoveTree(ctx, a, b) })
}

func (s *prefixed) tree(src, dst string, op func(a, b string) error) error {
	a, err := s.in(src)
	if err != nil {
		return err
	}
	b, err := s.in(dst)
	if err != nil {
		return err
	}
	return op(a, b)
}

// DeleteTree implements Store.
func (s *prefixed) DeleteTree(ctx context.Context, p string) error {
	q, err := s.in(p)
	if err != nil {
		return err
	}
	return s.st.DeleteTree(ctx, q)
}

// CreateLock implements Store.
func (s *prefixed) CreateLock(ctx context.Context, l Lock) (Lock, error) {
	root, err := s.in(l.Root)
	if err != nil {
		return Lock{}, err
	}
	l.Root = root
	got, err := s.st.CreateLock(ctx, l)
	if err != nil {
		var ce *ConflictError
		if errors.As(err, &ce) {
			return Lock{}, &ConflictError{Locks: s.outAll(ce.Locks)}
		}
		return Lock{}, err
	}
	return s.out(got), nil
}

// lookup returns the lock with token if it touches the view.
func (s *prefixed) lookup(ctx context.Context, token string) (Lock, error) {
	if s.closed.Load() {
		return Lock{}, errClosed
	}
	l, err := s.st.LookupLock(ctx, token)
	if err != nil {
		return Lock{}, err
	}
	if !s.visible(l) {
		return Lock{}, ErrNoSuchLock
	}
	return l, nil
}

// RefreshLock implements Store.
func (s *prefixed) RefreshLock(ctx context.Context, token string, timeout time.Duration) (Lock, error) {
	if _, err := s.lookup(ctx, token); err != nil {
		return Lock{}, err
	}
	l, err := s.st.RefreshLock(ctx, token, timeout)
	if err != nil {
		return Lock{}, err
	}
	return s.out(l), nil
}

// Unlock implements Store.
func (s *prefixed) Unlock(ctx context.Context, token string) error {
	if _, err := s.lookup(ctx, token); err != nil {
		return err
	}
	return s.st.Unlock(ctx, token)
}

// LookupLock implements Store.
func (s *prefixed) LookupLock(ctx context.Context, token string) (Lock, error) {
	l, err := s.lookup(ctx, token)
	if err != nil {
		return Lock{}, err
	}
	return s.out(l), nil
}

// LocksCovering implements Store.
func (s *prefixed) LocksCovering(ctx context.Context, p string) ([]Lock, error) {
	q, err := s.in(p)
	if err != nil {
		return nil, err
	}
	locks, err := s.st.LocksCovering(ctx, q)
	if err != nil {
		return nil, err
	}
	return s.outAll(locks), nil
}

// LocksBelow implements Store.
func (s *prefixed) LocksBelow(ctx context.Context, p string) ([]Lock, error) {
	q, err := s.in(p)
	if err != nil {
		return nil, err
	}
	locks, err := s.st.LocksBelow(ctx, q)
	if err != nil {
		return nil, err
	}
	return s.outAll(locks), nil
}

// Close ends the view; the underlying Store stays open.
func (s *prefixed) Close() error {
	s.closed.Store(true)
	return nil
}
