package state

import "context"

// BatchReader is implemented by Stores for which reading the state of
// many paths in one call is much cheaper than one call per path: the
// PostgreSQL Store, where every call is a round trip to the database.
// PROPFIND reads the state of the members of a collection it lists
// through it. The SQLite and memory Stores answer a path without state
// from memory, and do not implement it.
type BatchReader interface {
	// PropsOf returns the dead properties of each of paths, in the
	// order of paths: element i is what Props(paths[i]) returns.
	PropsOf(ctx context.Context, paths []string) ([][]Property, error)
	// LocksCoveringEach returns the locks that apply to each of paths,
	// in the order of paths: element i is what LocksCovering(paths[i])
	// returns.
	LocksCoveringEach(ctx context.Context, paths []string) ([][]Lock, error)
}

// prefixedBatch is the view of a Store that is a BatchReader.
type prefixedBatch struct {
	*prefixed
	br BatchReader
}

// inAll maps paths of the view to the underlying Store.
func (s *prefixedBatch) inAll(paths []string) ([]string, error) {
	out := make([]string, len(paths))
	for i, p := range paths {
		q, err := s.in(p)
		if err != nil {
			return nil, err
		}
		out[i] = q
	}
	return out, nil
}

// PropsOf implements BatchReader.
func (s *prefixedBatch) PropsOf(ctx context.Context, paths []string) ([][]Property, error) {
	qs, err := s.inAll(paths)
	if err != nil {
		return nil, err
	}
	return s.br.PropsOf(ctx, qs)
}

// LocksCoveringEach implements BatchReader.
func (s *prefixedBatch) LocksCoveringEach(ctx context.Context, paths []string) ([][]Lock, error) {
	qs, err := s.inAll(paths)
	if err != nil {
		return nil, err
	}
	each, err := s.br.LocksCoveringEach(ctx, qs)
	if err != nil {
		return nil, err
	}
	for i, locks := range each {
		each[i] = s.outAll(locks)
	}
	return each, nil
}
