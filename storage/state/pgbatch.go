package state

import (
	"cmp"
	"context"
	"slices"
	"strings"
)

// The PostgreSQL Store reads the state of many paths in one query each
// for properties and locks (BatchReader): a PROPFIND of a tree then
// costs a few round trips per directory rather than two per resource.

// pgBatchMax is the most paths one query names (PostgreSQL takes at most
// 65,535 parameters per statement).
const pgBatchMax = 1000

// PropsOf returns the dead properties of each of paths; see BatchReader.
// Paths that cannot have state (pgText) are not sent.
func (s *pgStore) PropsOf(ctx context.Context, paths []string) ([][]Property, error) {
	out := make([][]Property, len(paths))
	index := map[string][]int{}
	var ask []string
	for i, p := range paths {
		if err := checkPath(p); err != nil {
			return nil, err
		}
		if !pgText(p) {
			continue
		}
		if _, seen := index[p]; !seen {
			ask = append(ask, p)
		}
		index[p] = append(index[p], i)
	}
	for chunk := range slices.Chunk(ask, pgBatchMax) {
		err := s.do(ctx, pgOpTimeout, "read properties", func(ctx context.Context) error {
			q := s.d.q()
			q.sql(`SELECT path, ns, local, xml FROM props WHERE `, q.in("path", chunk), ` ORDER BY path, ns, local`)
			rows, err := s.db.QueryContext(ctx, q.b.String(), q.args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var path string
				var p Property
				if err := rows.Scan(&path, &p.Name.Space, &p.Name.Local, &p.XML); err != nil {
					return err
				}
				for _, i := range index[path] {
					out[i] = append(out[i], p)
				}
			}
			return rows.Err()
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// LocksCoveringEach returns the locks that apply to each of paths; see
// BatchReader. One query reads the locks rooted at any of the paths and
// the deep locks rooted at any of their ancestors; they are then sorted
// out by path, each path's in the order of LocksCovering.
func (s *pgStore) LocksCoveringEach(ctx context.Context, paths []string) ([][]Lock, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	roots, above := map[string]bool{}, map[string]bool{}
	for _, p := range paths {
		if err := checkPath(p); err != nil {
			return nil, err
		}
		if pgText(p) {
			roots[p] = true
		}
		for _, a := range ancestors(p) {
			if pgText(a) {
				above[a] = true
			}
		}
	}
	var locks []Lock
	rootList, aboveList := keys(roots), keys(above)
	// Chunks of roots, each with every ancestor (few: the paths are
	// usually the members of one collection); a path with no text root
	// still needs the ancestors' query once.
	chunks := slices.Collect(slices.Chunk(rootList, pgBatchMax))
	if len(chunks) == 0 {
		chunks = [][]string{nil}
	}
	for i, chunk := range chunks {
		anc := aboveList
		if i > 0 {
			anc = nil // already read with the first chunk
		}
		if len(chunk) == 0 && len(anc) == 0 {
			continue
		}
		err := s.do(ctx, pgOpTimeout, "read locks", func(ctx context.Context) error {
			q := s.d.q()
			var cond string
			switch {
			case len(chunk) > 0 && len(anc) > 0:
				cond = "(" + q.in("root", chunk) + " OR (deep AND " + q.in("root", anc) + "))"
			case len(chunk) > 0:
				cond = q.in("root", chunk)
			default:
				cond = "(deep AND " + q.in("root", anc) + ")"
			}
			q.sql(`SELECT `+lockCols+` FROM locks WHERE `, cond, ` AND `, pgLive, ` ORDER BY root, token`)
			ls, err := s.queryLocks(ctx, nil, q)
			locks = append(locks, ls...)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(locks, func(a, b Lock) int {
		return cmp.Or(strings.Compare(a.Root, b.Root), strings.Compare(a.Token, b.Token))
	})
	out := make([][]Lock, len(paths))
	for i, p := range paths {
		for _, l := range locks {
			if l.Root == p || (l.Deep && below(p, l.Root)) {
				out[i] = append(out[i], l)
			}
		}
	}
	return out, nil
}

// keys returns the keys of m, sorted.
func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

var _ BatchReader = (*pgStore)(nil)
