package state

import (
	"context"
	"errors"
	"slices"
	"sync"
)

// A namespace change (DELETE, COPY, MOVE) touches the tree and the state
// in separate steps, and a crash can fall between them: properties and
// locks then name resources that are gone, or a moved resource carries the
// properties of the one it replaced. An Intent is recorded before the tree
// is touched and ended once the state has followed it; the intents found
// at start are the changes a crash interrupted, which the caller brings in
// step from what the tree shows (dav.Recover). Ending an intent is not in
// the same transaction as the state change, so recovering an intent must
// be idempotent: it may find its state change done already.

// Intent is a namespace change under way.
type Intent struct {
	// ID is assigned by BeginIntent.
	ID int64
	// Op is "delete", "copy" or "move".
	Op string
	// Src is the resource deleted, copied or moved; Dst the destination
	// of a copy or move.
	Src, Dst string
	// Mark identifies the resource at Src when the change began, OldMark
	// the one at Dst (a move's overwritten destination); "" when the
	// storage cannot tell resources apart.
	Mark, OldMark string
	// Aside is the reserved name a move puts the resource it replaces
	// under before removing it; "" when there is none.
	Aside string
	// HadState is true when Src or something below it had properties or
	// locks when the change began.
	HadState bool
}

// errStop ends a walk of StatePaths early.
var errStop = errors.New("stop")

// stateChecker is implemented by Stores that answer HasState faster than
// a walk of StatePaths: PostgreSQL, which reads the paths before the walk.
type stateChecker interface {
	hasState(ctx context.Context, root string) (bool, error)
}

// HasState reports whether root or a path below it has properties or
// locks.
func HasState(ctx context.Context, st Store, root string) (bool, error) {
	if c, ok := st.(stateChecker); ok {
		return c.hasState(ctx, root)
	}
	found := false
	err := st.StatePaths(ctx, root, func(string) error { found = true; return errStop })
	if err != nil && !errors.Is(err, errStop) {
		return false, err
	}
	return found, nil
}

// lockRoots returns the roots of the live locks at or below p.
func (lt *locker) lockRoots(p string) []string {
	lt.mu.RLock()
	defer lt.mu.RUnlock()
	var out []string
	t := now()
	for _, l := range lt.byToken {
		if atOrBelow(l.Root, p) && !expired(l, t) {
			out = append(out, l.Root)
		}
	}
	return out
}

// walkPaths calls fn with each distinct path of props and locks.
func walkPaths(props, locks []string, fn func(string) error) error {
	seen := make(map[string]bool, len(props))
	for _, p := range slices.Concat(props, locks) {
		if seen[p] {
			continue
		}
		seen[p] = true
		if err := fn(p); err != nil {
			return err
		}
	}
	return nil
}

// memIntents keeps the intents of a memory store: nothing survives a
// restart there, so they matter only while it runs.
type memIntents struct {
	mu   sync.Mutex
	next int64
	all  map[int64]Intent
}

func (m *memIntents) begin(in Intent) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.all == nil {
		m.all = map[int64]Intent{}
	}
	m.next++
	in.ID = m.next
	m.all[in.ID] = in
	return in.ID
}

func (m *memIntents) end(id int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.all, id)
}

func (m *memIntents) list() []Intent {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Intent, 0, len(m.all))
	for _, in := range m.all {
		out = append(out, in)
	}
	slices.SortFunc(out, func(a, b Intent) int { return int(a.ID - b.ID) })
	return out
}

// BeginIntent records in; see Store.
func (s *memStore) BeginIntent(ctx context.Context, in Intent) (int64, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	return s.intents.begin(in), nil
}

// EndIntent forgets an intent; see Store.
func (s *memStore) EndIntent(ctx context.Context, id int64) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	s.intents.end(id)
	return nil
}

// Intents lists the intents not ended; see Store.
func (s *memStore) Intents(ctx context.Context) ([]Intent, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	return s.intents.list(), nil
}

// StatePaths walks the paths with state at or below root; see Store.
func (s *memStore) StatePaths(ctx context.Context, root string, fn func(string) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := checkPath(root); err != nil {
		return err
	}
	s.mu.RLock()
	var props []string
	for p := range s.props {
		if atOrBelow(p, root) {
			props = append(props, p)
		}
	}
	s.mu.RUnlock()
	return walkPaths(props, s.lockRoots(root), fn)
}

// BeginIntent records in; see Store.
func (s *sqlStore) BeginIntent(ctx context.Context, in Intent) (int64, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	id, err := s.beginIntent(ctx, in)
	if err != nil {
		return 0, s.fail("record the "+in.Op+" of "+in.Src, err)
	}
	return id, nil
}

// EndIntent forgets an intent; see Store.
func (s *sqlStore) EndIntent(ctx context.Context, id int64) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.endIntent(ctx, id); err != nil {
		return s.fail("end an intent", err)
	}
	return nil
}

// Intents lists the intents not ended, oldest first; see Store.
func (s *sqlStore) Intents(ctx context.Context) ([]Intent, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	out, err := s.intents(ctx)
	if err != nil {
		return nil, s.fail("list intents", err)
	}
	return out, nil
}

// StatePaths walks the paths with state at or below root; see Store. The
// paths below root come from one range query of the primary key: the
// cost follows the subtree, not the whole state.
func (s *sqlStore) StatePaths(ctx context.Context, root string, fn func(string) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := checkPath(root); err != nil {
		return err
	}
	var props []string
	s.mu.RLock()
	_, here := s.have[root]
	n := len(s.have)
	if root == "/" {
		for p := range s.have {
			props = append(props, p)
		}
	}
	s.mu.RUnlock()
	if here && root != "/" {
		props = append(props, root)
	}
	if n > 0 && root != "/" {
		q := s.d.q()
		q.sql(`SELECT DISTINCT path FROM props WHERE `, q.strictlyBelow("path", root))
		below, err := s.rowPaths(ctx, nil, q)
		if err != nil {
			return s.fail("list the state below "+root, err)
		}
		props = append(props, below...)
	}
	return walkPaths(props, s.lockRoots(root), fn)
}

// BeginIntent records the intent with its paths in the underlying store.
func (s *prefixed) BeginIntent(ctx context.Context, in Intent) (int64, error) {
	var err error
	if in.Src, err = s.in(in.Src); err != nil {
		return 0, err
	}
	for _, p := range []*string{&in.Dst, &in.Aside} {
		if *p != "" {
			if *p, err = s.in(*p); err != nil {
				return 0, err
			}
		}
	}
	return s.st.BeginIntent(ctx, in)
}

// EndIntent ends an intent of the underlying store.
func (s *prefixed) EndIntent(ctx context.Context, id int64) error {
	if _, err := s.in("/"); err != nil {
		return err
	}
	return s.st.EndIntent(ctx, id)
}

// Intents lists the intents of the underlying store whose paths are all
// inside the view, rebased into it.
func (s *prefixed) Intents(ctx context.Context) ([]Intent, error) {
	if _, err := s.in("/"); err != nil {
		return nil, err
	}
	all, err := s.st.Intents(ctx)
	if err != nil {
		return nil, err
	}
	var out []Intent
	for _, in := range all {
		if !atOrBelow(in.Src, s.prefix) || (in.Dst != "" && !atOrBelow(in.Dst, s.prefix)) {
			continue
		}
		in.Src = s.unprefix(in.Src)
		for _, p := range []*string{&in.Dst, &in.Aside} {
			if *p != "" {
				*p = s.unprefix(*p)
			}
		}
		out = append(out, in)
	}
	return out, nil
}

// StatePaths walks the view's part of the underlying store.
func (s *prefixed) StatePaths(ctx context.Context, root string, fn func(string) error) error {
	p, err := s.in(root)
	if err != nil {
		return err
	}
	return s.st.StatePaths(ctx, p, func(q string) error { return fn(s.unprefix(q)) })
}

// unprefix maps a path of the underlying store at or below the prefix
// into the view.
func (s *prefixed) unprefix(p string) string {
	if p == s.prefix {
		return "/"
	}
	return p[len(s.prefix):]
}
