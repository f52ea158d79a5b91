package state

import (
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// edgePaths sort around "/a/" and "/a0", the bounds of the range query
// for the tree at "/a", or hold what LIKE would give a meaning to: '-' and
// '.' sort between "/a" and "/a/", '0' right after '/', and "\xff" after
// everything.
var edgePaths = []string{
	"/a", "/a/b", "/a/b/c", "/a/%", "/a/_", "/a/\xff", "/a/0",
	"/a-x", "/a.b", "/a0", "/a0/b", "/a%", "/a%/b", "/a_", "/a_/b", "/ab", "/a b", "/a\xff",
	"/%", "/%/a", "/_", "/b", "/b/a",
}

// checkSubtrees compares s with model (the set of paths with properties):
// the table, the in-memory set, Props and haveAtOrBelow of every path of
// interest must all agree with it.
func checkSubtrees(t *testing.T, s *sqlStore, model map[string]bool, step string) {
	t.Helper()
	want := slices.Sorted(maps.Keys(model))
	var table []string
	rows, err := s.db.Query(`SELECT DISTINCT path FROM props ORDER BY path`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			t.Fatal(err)
		}
		table = append(table, p)
	}
	rows.Close()
	if !slices.Equal(table, want) {
		t.Errorf("%s: table has %q, want %q", step, table, want)
	}
	s.mu.RLock()
	set := slices.Sorted(maps.Keys(s.have))
	s.mu.RUnlock()
	if !slices.Equal(set, want) {
		t.Errorf("%s: in-memory set has %q, want %q", step, set, want)
	}
	probes := append(slices.Clone(edgePaths), "/", "/z", "/z/b", "/c", "/c/a", "/a/b/c/d", "/nothing")
	for _, p := range probes {
		wantHas := false
		for q := range model {
			wantHas = wantHas || atOrBelow(q, p)
		}
		s.wmu.Lock()
		has, err := s.haveAtOrBelow(bg, p)
		s.wmu.Unlock()
		if err != nil || has != wantHas {
			t.Errorf("%s: haveAtOrBelow(%q) = %v, %v; want %v", step, p, has, err, wantHas)
		}
		props, err := s.Props(bg, p)
		if err != nil || (len(props) > 0) != model[p] {
			t.Errorf("%s: Props(%q) = %v, %v; want properties: %v", step, p, props, err, model[p])
		}
	}
}

// TestSubtreeRangeQueries runs CopyTree, MoveTree and DeleteTree on trees
// whose neighbours sort just outside (or inside) the range [p+"/", p+"0")
// and checks that exactly the tree is touched.
func TestSubtreeRangeQueries(t *testing.T) {
	t.Parallel()
	s := openFile(t, filepath.Join(t.TempDir(), "state.db"))
	defer s.Close()
	model := map[string]bool{}
	for _, p := range edgePaths {
		// Two properties per path: a path is returned once per row.
		mustPatch(t, s, p, []Property{prop("urn:x", "a", "<a xmlns='urn:x'/>"), prop("urn:x", "b", "<b xmlns='urn:x'/>")}, nil)
		model[p] = true
	}
	checkSubtrees(t, s, model, "start")

	// subtree applies op to the model's paths at or below src.
	subtree := func(src, dst string, keep bool) {
		for p := range maps.Clone(model) {
			if atOrBelow(p, dst) {
				delete(model, p)
			}
		}
		for p := range maps.Clone(model) {
			if atOrBelow(p, src) {
				if dst != "" {
					model[rebase(p, src, dst)] = true
				}
				if !keep {
					delete(model, p)
				}
			}
		}
	}

	steps := []struct {
		name     string
		op       func() error
		src, dst string
		keep     bool
	}{
		{"copy /a to /c", func() error { return s.CopyTree(bg, "/a", "/c") }, "/a", "/c", true},
		{"copy /a_ over /a%", func() error { return s.CopyTree(bg, "/a_", "/a%") }, "/a_", "/a%", true},
		{"move /a to /z", func() error { return s.MoveTree(bg, "/a", "/z") }, "/a", "/z", false},
		{"move /c over /%", func() error { return s.MoveTree(bg, "/c", "/%") }, "/c", "/%", false},
		{"move /a0 to /a", func() error { return s.MoveTree(bg, "/a0", "/a") }, "/a0", "/a", false},
		{"delete /a", func() error { return s.DeleteTree(bg, "/a") }, "/a", "", false},
		{"delete /%/a", func() error { return s.DeleteTree(bg, "/%/a") }, "/%/a", "", false},
		{"copy /nothing over /b", func() error { return s.CopyTree(bg, "/nothing", "/b") }, "/nothing", "/b", true},
		{"delete /z/b", func() error { return s.DeleteTree(bg, "/z/b") }, "/z/b", "", false},
	}
	for _, st := range steps {
		if err := st.op(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if st.dst == "" {
			subtree(st.src, st.src, false) // deleting: dst is the tree itself
		} else {
			subtree(st.src, st.dst, st.keep)
		}
		checkSubtrees(t, s, model, st.name)
	}
	if err := s.DeleteTree(bg, "/"); err != nil {
		t.Fatal(err)
	}
	checkSubtrees(t, s, map[string]bool{}, "delete /")
}

// TestSubtreeQueriesUseIndex checks that SQLite answers the subtree
// queries from a range of the primary key rather than by reading the whole
// table: their cost is that of the tree, not of the state.
func TestSubtreeQueriesUseIndex(t *testing.T) {
	t.Parallel()
	s := openFile(t, filepath.Join(t.TempDir(), "state.db"))
	defer s.Close()
	mustPatch(t, s, "/a/b", []Property{prop("urn:x", "a", "<a xmlns='urn:x'/>")}, nil)

	below := s.d.q()
	below.sql(`SELECT EXISTS (SELECT 1 FROM props WHERE `, below.strictlyBelow("path", "/a"), `)`)
	move := s.d.q()
	move.sql(`UPDATE props SET path = `, move.arg("/z"), ` || `, s.d.tail("path", move.arg(3)),
		` WHERE `, move.atOrBelow("path", "/a"), ` RETURNING path`)
	for _, q := range []*query{below, s.deleteProps("/a"), move, s.deleteLocks("/a")} {
		rows, err := s.db.Query(`EXPLAIN QUERY PLAN `+q.b.String(), q.args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		all := strings.Join(plan, "; ")
		if !strings.Contains(all, "SEARCH") || strings.Contains(all, "SCAN props") || strings.Contains(all, "SCAN locks") {
			t.Errorf("plan of %s\n  is %q; want an index SEARCH and no SCAN", q.b.String(), all)
		}
	}
}
