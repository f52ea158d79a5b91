package state

import (
	"encoding/xml"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// TestPGBatchReader: PropsOf of the PostgreSQL Store, directly and
// through a WithPrefix view, answers for each path exactly what Props
// answers for it, with repeated paths, paths that cannot have state, and
// more paths than one query names; PropsAtOrBelow answers for a tree
// what Props answers for each of its paths with state, or false when
// they do not fit.
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
		if len(props) != len(paths) {
			t.Fatalf("%s: %d answers for %d paths", name, len(props), len(paths))
		}
		withProps := 0
		for i, p := range paths {
			wantProps, err := st.Props(bg, p)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(props[i], wantProps) {
				t.Errorf("%s: PropsOf[%q] = %v, Props = %v", name, p, props[i], wantProps)
			}
			if len(wantProps) > 0 {
				withProps++
			}
		}
		if withProps < minProps {
			t.Errorf("%s: only %d paths with properties: the comparison proves little", name, withProps)
		}
		// The whole tree at once: every path at or below the root with
		// properties, and those only.
		for _, root := range []string{"/", "/top", "/top/d/f0003", "/top/d/f0004"} {
			all, ok, err := br.PropsAtOrBelow(bg, root, 1<<20)
			if err != nil || !ok {
				t.Fatalf("%s: PropsAtOrBelow(%s) = %v, %v", name, root, ok, err)
			}
			want := map[string][]Property{}
			if err := st.StatePaths(bg, root, func(p string) error {
				ps, err := st.Props(bg, p)
				if len(ps) > 0 {
					want[p] = ps
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(all, want) {
				t.Errorf("%s: PropsAtOrBelow(%s) has %d paths, Props of each %d", name, root, len(all), len(want))
				for p := range want {
					if !reflect.DeepEqual(all[p], want[p]) {
						t.Errorf("%s: %s: %v, want %v", name, p, all[p], want[p])
					}
				}
			}
			if _, ok, err := br.PropsAtOrBelow(bg, root, 10); err != nil || (ok && len(want) > 0) {
				t.Errorf("%s: PropsAtOrBelow(%s) within 10 bytes = %v, %v; want false", name, root, ok, err)
			}
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
