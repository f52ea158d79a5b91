package state

import (
	"context"
	"slices"
)

// The PostgreSQL Store reads the properties of many paths, or of a whole
// tree, in one query (BatchReader): a PROPFIND of a tree then costs a few
// round trips in all, or one per directory, rather than one per resource.

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

// PropsAtOrBelow returns the properties of the tree at root, unless they
// pass maxBytes; see BatchReader. One query reads their size, one reads
// them (a range of the props key): they may change in between, and the
// answer is then one of the two states, or a mix of them, as a walk path
// by path would give.
func (s *pgStore) PropsAtOrBelow(ctx context.Context, root string, maxBytes int64) (map[string][]Property, bool, error) {
	if err := checkPath(root); err != nil {
		return nil, false, err
	}
	if !pgText(root) {
		return map[string][]Property{}, true, s.check(ctx)
	}
	out := map[string][]Property{}
	fits := false
	err := s.do(ctx, pgTreeTimeout, "read the properties below "+root, func(ctx context.Context) error {
		q := s.d.q()
		q.sql(`SELECT COALESCE(SUM(octet_length(xml) + octet_length(path) + octet_length(ns) + octet_length(local)), 0) FROM props WHERE `,
			q.atOrBelow("path", root))
		var size int64
		if err := s.db.QueryRowContext(ctx, q.b.String(), q.args...).Scan(&size); err != nil {
			return err
		}
		if size > maxBytes {
			return nil
		}
		fits = true
		q = s.d.q()
		q.sql(`SELECT path, ns, local, xml FROM props WHERE `, q.atOrBelow("path", root), ` ORDER BY path, ns, local`)
		rows, err := s.db.QueryContext(ctx, q.b.String(), q.args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		var read int64
		for rows.Next() {
			var path string
			var p Property
			if err := rows.Scan(&path, &p.Name.Space, &p.Name.Local, &p.XML); err != nil {
				return err
			}
			if read += int64(len(path) + len(p.Name.Space) + len(p.Name.Local) + len(p.XML)); read > 2*maxBytes {
				fits = false // grew meanwhile
				return nil
			}
			out[path] = append(out[path], p)
		}
		return rows.Err()
	})
	if err != nil || !fits {
		return nil, false, err
	}
	return out, true, nil
}

var _ BatchReader = (*pgStore)(nil)
