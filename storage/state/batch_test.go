package state

import (
	"encoding/xml"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// TestPGBatchReader: PropsOf and LocksCoveringEach of the PostgreSQL
// Store, directly and through a WithPrefix view, answer for each path
// exactly what Props and LocksCovering answer for it: properties of the
// path only, locks rooted at it and deep locks above it (not deep ones
// above, not those of a sibling or below), with repeated paths, paths
// that cannot have state, and more paths than one query names.
func TestPGBatchReader(t *testing.T) {
	t.Parallel()
	s := openPG(t, 1)[0]
	prop := func(v string) []Property {
		return []Property{{Name: xml.Name{Space: "urn:z", Local: "p"}, XML: []byte(`<p xmlns="urn:z">` + v + `</p>`)}}
	}
	var paths []string
	for i := range pgBatchMax + 20 {
		p := fmt.Sprintf("/top/d/f%04d", i)
		paths = append(paths, p)
		if i%7 == 0 {
			if err := s.PatchProps(bg, p, prop(p), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, p := range []string{"/top", "/top/d", "/top/d/f0003/x", "/other"} {
		if err := s.PatchProps(bg, p, prop(p), nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []Lock{
		{Root: "/top", Deep: true, Shared: true},
		{Root: "/top/d", Deep: false, Shared: true}, // covers /top/d only
		{Root: "/top/d/f0001", Shared: true},
		{Root: "/top/d/f0002", Deep: true, Shared: true},
		{Root: "/top/d/f0002", Shared: true},
		{Root: "/top/d/f0003/x", Shared: true}, // below a path: not covering it
		{Root: "/other", Deep: true},
	} {
		l.Timeout = time.Minute
		if _, err := s.CreateLock(bg, l); err != nil {
			t.Fatal(err)
		}
	}
	paths = append(paths, "/top", "/top/d", "/", "/top/d/f0001", "/top/d/a\xffb", "/top/d/x\x00", "/nothing/here")
	check := func(name string, st Store, minProps int) {
		t.Helper()
		br, ok := st.(BatchReader)
		if !ok {
			t.Fatalf("%s is not a BatchReader", name)
		}
		props, err := br.PropsOf(bg, paths)
		if err != nil {
			t.Fatal(err)
		}
		locks, err := br.LocksCoveringEach(bg, paths)
		if err != nil {
			t.Fatal(err)
		}
		if len(props) != len(paths) || len(locks) != len(paths) {
			t.Fatalf("%s: %d and %d answers for %d paths", name, len(props), len(locks), len(paths))
		}
		withProps, withLocks := 0, 0
		for i, p := range paths {
			wantProps, err := st.Props(bg, p)
			if err != nil {
				t.Fatal(err)
			}
			wantLocks, err := st.LocksCovering(bg, p)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(props[i], wantProps) {
				t.Errorf("%s: PropsOf[%q] = %v, Props = %v", name, p, props[i], wantProps)
			}
			if !reflect.DeepEqual(locks[i], wantLocks) {
				t.Errorf("%s: LocksCoveringEach[%q] = %v, LocksCovering = %v", name, p, locks[i], wantLocks)
			}
			if len(wantProps) > 0 {
				withProps++
			}
			if len(wantLocks) > 0 {
				withLocks++
			}
		}
		if withProps < minProps || withLocks < len(paths)-10 {
			t.Errorf("%s: only %d paths with properties and %d with locks: the comparison proves little", name, withProps, withLocks)
		}
	}
	check("store", s, 100)
	// A repeated path is answered at each place.
	paths = append(paths, paths[:10]...)
	check("store, repeated paths", s, 100)
	view, err := WithPrefix(s, "/top")
	if err != nil {
		t.Fatal(err)
	}
	paths = []string{"/", "/d", "/d/f0000", "/d/f0001", "/d/f0002", "/d/f0003", "/d/f0007", "/d/none", "/d/\xff"}
	check("view", view, 4)
}
