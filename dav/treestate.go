package dav

import (
	"context"
)

// removedFlush bounds how many removed resources a removal remembers
// before it brings the state in step with them (a directory of a million
// files must not sit in memory as a list of names).
const removedFlush = 4096

// removedState keeps the state (dead properties, locks) of a removal in
// step with the tree when the removal does not complete: a member that
// could not be removed, or a removal stopped half way (--on-disconnect
// stop, shutdown), leaves some resources gone and others in place. The
// state of the gone ones must go too, or a resource created later under
// the same name would inherit their properties and locks; the state of
// the others must stay.
//
// When the removal completes, one DeleteTree of its root is enough and
// the list is dropped. Otherwise the roots of the subtrees removed whole
// are collected in post-order (members are removed before their
// collection, so a collection's removal replaces the entries of its
// members, the last ones in the list) and their state is removed; a file
// costs a statement only when it has properties or a lock.
type removedState struct {
	h         *Handler
	ctx       context.Context // not cancelled: the state must follow the tree
	lockRoots map[string]bool
	roots     []removedRoot
}

// removedRoot is a resource removed with everything below it.
type removedRoot struct {
	name  string
	isDir bool
}

// newRemovedState prepares the removal of name.
func (h *Handler) newRemovedState(ctx context.Context, name string) (*removedState, error) {
	ctx = context.WithoutCancel(ctx)
	locks, err := h.state.LocksBelow(ctx, name)
	if err != nil {
		return nil, err
	}
	s := &removedState{h: h, ctx: ctx, lockRoots: make(map[string]bool, len(locks))}
	for _, l := range locks {
		s.lockRoots[l.Root] = true
	}
	return s, nil
}

// removed records that name is gone, with everything below it.
func (s *removedState) removed(name string, isDir bool) {
	if isDir {
		for len(s.roots) > 0 && isBelow(s.roots[len(s.roots)-1].name, name) {
			s.roots = s.roots[:len(s.roots)-1]
		}
	}
	s.roots = append(s.roots, removedRoot{name, isDir})
	if len(s.roots) >= removedFlush {
		s.flush()
	}
}

// flush removes the state of the resources recorded so far. A collection
// always costs a statement (its members' entries were folded into it); a
// file only when it has properties or a lock.
func (s *removedState) flush() {
	for _, r := range s.roots {
		if !r.isDir && !s.lockRoots[r.name] {
			// Props answers without I/O for a resource without any.
			if props, err := s.h.state.Props(s.ctx, r.name); err == nil && len(props) == 0 {
				continue
			}
		}
		if err := s.h.state.DeleteTree(s.ctx, r.name); err != nil {
			s.h.log.Warn("state of a removed resource kept", "path", r.name, "err", err)
		}
	}
	s.roots = s.roots[:0]
}

// complete drops the list after a removal that left nothing behind: the
// caller removes the state of the whole tree at once.
func (s *removedState) complete() { s.roots = nil }
