package state

import "context"

// BatchReader is implemented by Stores for which reading the state of
// many paths in one call is much cheaper than one call per path: the
// PostgreSQL Store, where every call is a round trip to the database.
// PROPFIND reads the properties of a whole tree, or of the members of
// each collection it lists, through it. The SQLite and memory Stores
// answer a path without state from memory, and do not implement it.
type BatchReader interface {
	// PropsOf returns the dead properties of each of paths, in the
	// order of paths: element i is what Props(paths[i]) returns.
	PropsOf(ctx context.Context, paths []string) ([][]Property, error)
	// PropsAtOrBelow returns the dead properties of root and of every
	// path below it, by path (each path's as Props returns them),
	// unless their XML passes maxBytes in all: then it returns false,
	// having read at most about maxBytes.
	PropsAtOrBelow(ctx context.Context, root string, maxBytes int64) (map[string][]Property, bool, error)
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

// PropsAtOrBelow implements BatchReader.
func (s *prefixedBatch) PropsAtOrBelow(ctx context.Context, root string, maxBytes int64) (map[string][]Property, bool, error) {
	q, err := s.in(root)
	if err != nil {
		return nil, false, err
	}
	props, ok, err := s.br.PropsAtOrBelow(ctx, q, maxBytes)
	if !ok || err != nil {
		return nil, ok, err
	}
	out := make(map[string][]Property, len(props))
	for p, ps := range props {
		if p == s.prefix {
			out["/"] = ps
		} else {
			out[p[len(s.prefix):]] = ps
		}
	}
	return out, true, nil
}

// hasState answers HasState through the view (stateChecker): the paths
// at or below root in the view are those at or below its own path.
func (s *prefixedBatch) hasState(ctx context.Context, root string) (bool, error) {
	q, err := s.in(root)
	if err != nil {
		return false, err
	}
	return HasState(ctx, s.st, q)
}
