package state

import (
	"context"
	"encoding/xml"
	"slices"
	"sync"
)

// memStore is the in-memory Store: everything is lost on Close.
type memStore struct {
	*locker // the lock methods

	mu      sync.RWMutex
	props   map[string]map[xml.Name][]byte // path → name → element
	intents memIntents
	journal memJournal
}

// newMemory returns an empty in-memory Store.
func newMemory() *memStore {
	return &memStore{locker: newLocker(nil), props: map[string]map[xml.Name][]byte{}}
}

// Props returns the dead properties of path; see Store.
func (s *memStore) Props(ctx context.Context, path string) ([]Property, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if err := checkPath(path); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := s.props[path]
	if len(m) == 0 {
		return nil, nil
	}
	out := make([]Property, 0, len(m))
	for n, x := range m {
		out = append(out, Property{Name: n, XML: slices.Clone(x)})
	}
	slices.SortFunc(out, func(a, b Property) int { return lessName(a.Name, b.Name) })
	return out, nil
}

// PatchProps sets and removes properties of path all-or-nothing; see
// Store. A name both set and removed in one call is an error.
func (s *memStore) PatchProps(ctx context.Context, path string, set []Property, remove []xml.Name) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := checkPatch(path, set, remove); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.props[path]
	if m == nil {
		if len(set) == 0 {
			return nil
		}
		m = map[xml.Name][]byte{}
		s.props[path] = m
	}
	for _, p := range set {
		m[p.Name] = slices.Clone(p.XML)
	}
	for _, n := range remove {
		delete(m, n)
	}
	if len(m) == 0 {
		delete(s.props, path)
	}
	return nil
}

// CopyTree copies the dead properties of the tree at src to dst; see
// Store. What dst and its members had before is replaced. The trees must
// not overlap.
func (s *memStore) CopyTree(ctx context.Context, src, dst string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := checkTreeOp("copy", src, dst); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteProps(dst)
	copies := map[string]map[xml.Name][]byte{}
	for p, m := range s.props {
		if atOrBelow(p, src) {
			copies[rebase(p, src, dst)] = cloneProps(m)
		}
	}
	for p, m := range copies {
		s.props[p] = m
	}
	return nil
}

// MoveTree moves the dead properties of the tree at src to dst and
// removes the locks rooted at or below src; see Store. What dst and its
// members had before is replaced. The trees must not overlap.
func (s *memStore) MoveTree(ctx context.Context, src, dst string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := checkTreeOp("move", src, dst); err != nil {
		return err
	}
	return s.removeTree(src, func(bool) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.deleteProps(dst)
		moved := map[string]map[xml.Name][]byte{}
		for p, m := range s.props {
			if atOrBelow(p, src) {
				moved[rebase(p, src, dst)] = m
				delete(s.props, p)
			}
		}
		for p, m := range moved {
			s.props[p] = m
		}
		return nil
	})
}

// DeleteTree removes the dead properties and locks of the tree at path;
// see Store.
func (s *memStore) DeleteTree(ctx context.Context, path string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := checkPath(path); err != nil {
		return err
	}
	return s.removeTree(path, func(bool) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.deleteProps(path)
		return nil
	})
}

// deleteProps drops the properties at or below p; mu must be held.
func (s *memStore) deleteProps(p string) {
	for q := range s.props {
		if atOrBelow(q, p) {
			delete(s.props, q)
		}
	}
}

// Close releases the store: every later call fails, and the content is
// gone once the store is no longer referenced.
func (s *memStore) Close() error {
	s.closed.Store(true)
	return nil
}

func cloneProps(m map[xml.Name][]byte) map[xml.Name][]byte {
	c := make(map[xml.Name][]byte, len(m))
	for n, x := range m {
		c[n] = x // elements are never modified in place
	}
	return c
}

var _ Store = (*memStore)(nil)
