package state

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"davd/storage/state/pgtest"
)

// impl is one Store implementation under test.
type impl struct {
	name string
	open func(t *testing.T) Store
}

func impls() []impl {
	return []impl{
		{"memory", func(t *testing.T) Store {
			t.Helper()
			s, err := Open(context.Background(), "memory:")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
		{"prefixed", func(t *testing.T) Store {
			// A view of a shared store, with a neighbour's lock and
			// properties beside it that the view must never show.
			t.Helper()
			s, err := Open(context.Background(), "memory:")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			ctx := context.Background()
			if _, err := s.CreateLock(ctx, Lock{Root: "/home/bob", Deep: true}); err != nil {
				t.Fatal(err)
			}
			if err := s.PatchProps(ctx, "/home/bob", []Property{{Name: xml.Name{Space: "x:", Local: "p"}, XML: []byte(`<p xmlns="x:"/>`)}}, nil); err != nil {
				t.Fatal(err)
			}
			v, err := WithPrefix(s, "/home/alice")
			if err != nil {
				t.Fatal(err)
			}
			return v
		}},
		{"sqlite", func(t *testing.T) Store {
			t.Helper()
			s, err := Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "sub", "state.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Error(err)
				}
			})
			return s
		}},
		{"postgres", func(t *testing.T) Store {
			t.Helper()
			s, err := Open(context.Background(), pgtest.Database(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Error(err)
				}
			})
			return s
		}},
	}
}

// eachStore runs f, in parallel, on a fresh store of each implementation.
func eachStore(t *testing.T, f func(t *testing.T, s Store)) {
	t.Helper()
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			t.Parallel()
			f(t, im.open(t))
		})
	}
}

var bg = context.Background()

func prop(space, local, x string) Property {
	return Property{Name: xml.Name{Space: space, Local: local}, XML: []byte(x)}
}

func mustPatch(t *testing.T, s Store, path string, set []Property, remove []xml.Name) {
	t.Helper()
	if err := s.PatchProps(bg, path, set, remove); err != nil {
		t.Fatalf("PatchProps(%s): %v", path, err)
	}
}

func mustProps(t *testing.T, s Store, path string) []Property {
	t.Helper()
	ps, err := s.Props(bg, path)
	if err != nil {
		t.Fatalf("Props(%s): %v", path, err)
	}
	return ps
}

func sortedProps(ps []Property) []Property {
	ps = slices.Clone(ps)
	slices.SortFunc(ps, func(a, b Property) int { return lessName(a.Name, b.Name) })
	return ps
}

func TestPropsRoundTrip(t *testing.T) {
	t.Parallel()
	samples := []Property{
		prop("urn:x", "plain", `<x:plain xmlns:x="urn:x">value</x:plain>`),
		prop("urn:x", "utf8", `<x:utf8 xmlns:x="urn:x">Grüße, 日本語, emoji 🎉, NUL-free but tabs	and
newlines</x:utf8>`),
		prop("http://example.com/ns/", "lang", `<E:lang xmlns:E="http://example.com/ns/" xml:lang="fr-CA">Bonjour à tous</E:lang>`),
		prop("http://example.com/ns/", "nested", `<a:nested xmlns:a="http://example.com/ns/" xmlns:b="urn:b"><b:child b:attr="1 &amp; 2">&lt;text&gt;</b:child><![CDATA[raw <stuff>]]></a:nested>`),
		prop("", "nonamespace", `<nonamespace xmlns="">x</nonamespace>`),
		prop("urn:ü", "ünïcödé", `<ünïcödé xmlns="urn:ü"/>`),
		prop("urn:x", "invalidutf8", "<x:invalidutf8 xmlns:x=\"urn:x\">\xff\xfe</x:invalidutf8>"),
	}
	tests := []struct {
		name string
		path string
		set  []Property
	}{
		{"one", "/f", samples[:1]},
		{"all", "/dir/file.txt", samples},
		{"root", "/", samples[2:4]},
		{"non-ASCII path", "/ordner/Übersicht ä.txt", samples[1:3]},
	}
	eachStore(t, func(t *testing.T, s Store) {
		for _, tt := range tests {
			mustPatch(t, s, tt.path, tt.set, nil)
			got := mustProps(t, s, tt.path)
			if want := sortedProps(tt.set); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: Props = %q, want %q", tt.name, got, want)
			}
			// Returned bytes are the caller's to change.
			if len(got) > 0 {
				got[0].XML[0] = 'Z'
				if again := mustProps(t, s, tt.path); again[0].XML[0] == 'Z' {
					t.Errorf("%s: Props returned the store's own buffer", tt.name)
				}
			}
		}
		// The caller's buffer is copied too.
		buf := []byte(`<x:mine xmlns:x="urn:x"/>`)
		mustPatch(t, s, "/mine", []Property{{Name: xml.Name{Space: "urn:x", Local: "mine"}, XML: buf}}, nil)
		buf[1] = 'Z'
		if got := mustProps(t, s, "/mine"); string(got[0].XML) != `<x:mine xmlns:x="urn:x"/>` {
			t.Errorf("PatchProps kept the caller's buffer: %q", got[0].XML)
		}
		for _, p := range []string{"/nothing", "/di", "/dir", "/dir/file.tx"} {
			if got := mustProps(t, s, p); got != nil {
				t.Errorf("Props(%s) = %q, want nil", p, got)
			}
		}
	})
}

func TestPatchProps(t *testing.T) {
	t.Parallel()
	a1 := prop("urn:x", "a", `<x:a xmlns:x="urn:x">1</x:a>`)
	a2 := prop("urn:x", "a", `<x:a xmlns:x="urn:x">2</x:a>`)
	b := prop("urn:x", "b", `<x:b xmlns:x="urn:x"/>`)
	aOther := prop("urn:y", "a", `<y:a xmlns:y="urn:y"/>`)
	tests := []struct {
		name   string
		before []Property
		set    []Property
		remove []xml.Name
		want   []Property
	}{
		{"replace", []Property{a1, b}, []Property{a2}, nil, []Property{a2, b}},
		{"same local, other namespace", []Property{a1}, []Property{aOther}, nil, []Property{a1, aOther}},
		{"remove", []Property{a1, b}, nil, []xml.Name{a1.Name}, []Property{b}},
		{"remove absent", []Property{b}, nil, []xml.Name{a1.Name, aOther.Name}, []Property{b}},
		{"remove on a path without properties", nil, nil, []xml.Name{a1.Name}, nil},
		{"remove last", []Property{a1}, nil, []xml.Name{a1.Name}, nil},
		{"set and remove others", []Property{a1, b}, []Property{aOther}, []xml.Name{b.Name}, []Property{a1, aOther}},
		{"last of duplicates wins", nil, []Property{a1, a2}, nil, []Property{a2}},
		{"empty call", []Property{a1}, nil, nil, []Property{a1}},
	}
	eachStore(t, func(t *testing.T, s Store) {
		for i, tt := range tests {
			p := fmt.Sprintf("/case%d", i)
			if tt.before != nil {
				mustPatch(t, s, p, tt.before, nil)
			}
			mustPatch(t, s, p, tt.set, tt.remove)
			if got := mustProps(t, s, p); !reflect.DeepEqual(got, sortedProps(tt.want)) {
				t.Errorf("%s: Props = %q, want %q", tt.name, got, sortedProps(tt.want))
			}
		}
	})
}

func TestPatchPropsAtomic(t *testing.T) {
	t.Parallel()
	a := prop("urn:x", "a", `<x:a xmlns:x="urn:x">1</x:a>`)
	b := prop("urn:x", "b", `<x:b xmlns:x="urn:x">1</x:b>`)
	newB := prop("urn:x", "b", `<x:b xmlns:x="urn:x">2</x:b>`)
	c := prop("urn:x", "c", `<x:c xmlns:x="urn:x"/>`)
	tests := []struct {
		name   string
		path   string
		set    []Property
		remove []xml.Name
	}{
		{"empty local name in set", "/p", []Property{newB, c, prop("urn:x", "", "<x/>")}, []xml.Name{a.Name}},
		{"empty XML", "/p", []Property{newB, {Name: xml.Name{Space: "urn:x", Local: "d"}}}, nil},
		{"empty local name in remove", "/p", []Property{newB}, []xml.Name{a.Name, {Space: "urn:x"}}},
		{"set and removed", "/p", []Property{newB, c}, []xml.Name{c.Name}},
		{"relative path", "p", []Property{c}, nil},
		{"unclean path", "/p/", []Property{c}, nil},
		{"dot-dot path", "/q/../p", []Property{c}, nil},
		{"empty path", "", []Property{c}, nil},
	}
	eachStore(t, func(t *testing.T, s Store) {
		mustPatch(t, s, "/p", []Property{a, b}, nil)
		for _, tt := range tests {
			if err := s.PatchProps(bg, tt.path, tt.set, tt.remove); err == nil {
				t.Errorf("%s: PatchProps succeeded", tt.name)
			}
			if got, want := mustProps(t, s, "/p"), []Property{a, b}; !reflect.DeepEqual(got, want) {
				t.Errorf("%s: after a failed PatchProps, Props = %q, want %q", tt.name, got, want)
			}
		}
	})
}

// tree is the fixture of the tree tests: path → one property naming it.
var treePaths = []string{
	"/a", "/a/b", "/a/b/c", "/a/b/c/d", "/a/x",
	"/ab", "/ab/c", "/a-", "/a-/b", "/a.b", "/a0", "/a0/b", "/b", "/b/a",
	"/é", "/é/ü", "/éa",
}

func seedTree(t *testing.T, s Store) {
	t.Helper()
	for _, p := range treePaths {
		mustPatch(t, s, p, []Property{prop("urn:t", "origin", "<t:origin xmlns:t=\"urn:t\">"+p+"</t:origin>")}, nil)
	}
}

// treeState returns, for each path in paths with properties, where its
// origin property says it came from.
func treeState(t *testing.T, s Store, paths []string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, p := range paths {
		for _, pr := range mustProps(t, s, p) {
			x := strings.TrimSuffix(strings.TrimPrefix(string(pr.XML), "<t:origin xmlns:t=\"urn:t\">"), "</t:origin>")
			m[p] = x
		}
	}
	return m
}

func TestTrees(t *testing.T) {
	t.Parallel()
	// Every path that could hold properties after any case.
	probe := append(slices.Clone(treePaths),
		"/", "/z", "/z/b", "/z/b/c", "/z/b/c/d", "/z/x", "/a/z", "/ö", "/ö/ü", "/b/a/b", "/b/a/b/c", "/b/a/b/c/d", "/b/a/x",
		"/a/b/z", "/b/c", "/b/c/d")
	identity := func() map[string]string {
		m := map[string]string{}
		for _, p := range treePaths {
			m[p] = p
		}
		return m
	}
	with := func(changes map[string]string, drop ...string) map[string]string {
		m := identity()
		for _, d := range drop {
			delete(m, d)
		}
		for k, v := range changes {
			m[k] = v
		}
		return m
	}
	aTree := []string{"/a", "/a/b", "/a/b/c", "/a/b/c/d", "/a/x"}
	tests := []struct {
		name    string
		op      string
		src     string
		dst     string
		want    map[string]string
		wantErr bool
	}{
		{name: "delete /a", op: "delete", src: "/a", want: with(nil, aTree...)},
		{name: "delete leaf", op: "delete", src: "/a/b/c/d", want: with(nil, "/a/b/c/d")},
		{name: "delete absent", op: "delete", src: "/nothing", want: identity()},
		{name: "delete root", op: "delete", src: "/", want: map[string]string{}},
		{name: "delete non-ASCII", op: "delete", src: "/é", want: with(nil, "/é", "/é/ü")},
		{name: "move /a to /z", op: "move", src: "/a", dst: "/z",
			want: with(map[string]string{"/z": "/a", "/z/b": "/a/b", "/z/b/c": "/a/b/c", "/z/b/c/d": "/a/b/c/d", "/z/x": "/a/x"}, aTree...)},
		{name: "move /a/b to /b/a/b", op: "move", src: "/a/b", dst: "/b/a/b",
			want: with(map[string]string{"/b/a/b": "/a/b", "/b/a/b/c": "/a/b/c", "/b/a/b/c/d": "/a/b/c/d"}, "/a/b", "/a/b/c", "/a/b/c/d")},
		{name: "move onto a tree replaces it", op: "move", src: "/a/b", dst: "/b",
			want: with(map[string]string{"/b": "/a/b", "/b/c": "/a/b/c", "/b/c/d": "/a/b/c/d"}, "/a/b", "/a/b/c", "/a/b/c/d", "/b/a")},
		{name: "move non-ASCII", op: "move", src: "/é", dst: "/ö",
			want: with(map[string]string{"/ö": "/é", "/ö/ü": "/é/ü"}, "/é", "/é/ü")},
		{name: "move leaf", op: "move", src: "/a/x", dst: "/a/z", want: with(map[string]string{"/a/z": "/a/x"}, "/a/x")},
		{name: "move absent onto a tree clears it", op: "move", src: "/nothing", dst: "/b", want: with(nil, "/b", "/b/a")},
		{name: "copy /a to /z", op: "copy", src: "/a", dst: "/z",
			want: with(map[string]string{"/z": "/a", "/z/b": "/a/b", "/z/b/c": "/a/b/c", "/z/b/c/d": "/a/b/c/d", "/z/x": "/a/x"})},
		{name: "copy onto a tree replaces it", op: "copy", src: "/a/b", dst: "/b",
			want: with(map[string]string{"/b": "/a/b", "/b/c": "/a/b/c", "/b/c/d": "/a/b/c/d"}, "/b/a")},
		{name: "copy non-ASCII", op: "copy", src: "/é", dst: "/ö",
			want: with(map[string]string{"/ö": "/é", "/ö/ü": "/é/ü"})},
		{name: "move into itself", op: "move", src: "/a", dst: "/a/b/z", wantErr: true},
		{name: "move onto itself", op: "move", src: "/a", dst: "/a", wantErr: true},
		{name: "move onto an ancestor", op: "move", src: "/a/b", dst: "/a", wantErr: true},
		{name: "move root", op: "move", src: "/", dst: "/z", wantErr: true},
		{name: "move onto root", op: "move", src: "/a", dst: "/", wantErr: true},
		{name: "copy into itself", op: "copy", src: "/a", dst: "/a/z", wantErr: true},
		{name: "copy root", op: "copy", src: "/", dst: "/z", wantErr: true},
		{name: "copy onto an ancestor", op: "copy", src: "/a/b", dst: "/a", wantErr: true},
		{name: "copy bad path", op: "copy", src: "/a/", dst: "/z", wantErr: true},
		{name: "delete bad path", op: "delete", src: "a", wantErr: true},
	}
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			t.Parallel()
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					s := im.open(t)
					seedTree(t, s)
					var err error
					switch tt.op {
					case "delete":
						err = s.DeleteTree(bg, tt.src)
					case "move":
						err = s.MoveTree(bg, tt.src, tt.dst)
					case "copy":
						err = s.CopyTree(bg, tt.src, tt.dst)
					}
					if tt.wantErr {
						if err == nil {
							t.Fatalf("%s %s %s succeeded", tt.op, tt.src, tt.dst)
						}
						if got := treeState(t, s, probe); !reflect.DeepEqual(got, identity()) {
							t.Errorf("a failed %s changed the tree: %v", tt.op, got)
						}
						return
					}
					if err != nil {
						t.Fatalf("%s %s %s: %v", tt.op, tt.src, tt.dst, err)
					}
					if got := treeState(t, s, probe); !reflect.DeepEqual(got, tt.want) {
						t.Errorf("after %s %s %s:\n got %v\nwant %v", tt.op, tt.src, tt.dst, got, tt.want)
					}
				})
			}
		})
	}
}

func TestTreesAndLocks(t *testing.T) {
	t.Parallel()
	roots := func(ls []Lock) []string {
		var out []string
		for _, l := range ls {
			out = append(out, l.Root)
		}
		return out
	}
	tests := []struct {
		name string
		op   string
		src  string
		dst  string
		want []string // roots of the locks left
	}{
		{"move removes locks at and below src", "move", "/a", "/z", []string{"/a-", "/ab", "/b"}},
		{"move of a leaf", "move", "/a/b/c", "/z", []string{"/a", "/a-", "/a/b", "/ab", "/b"}},
		{"delete removes locks at and below", "delete", "/a/b", "", []string{"/a", "/a-", "/ab", "/b"}},
		{"delete root removes every lock", "delete", "/", "", nil},
		{"copy keeps every lock and copies none", "copy", "/a", "/z", []string{"/a", "/a-", "/a/b", "/a/b/c", "/ab", "/b"}},
	}
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			t.Parallel()
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					s := im.open(t)
					seedTree(t, s)
					for _, l := range []Lock{
						{Root: "/a", Shared: true}, {Root: "/a/b", Shared: true}, {Root: "/a/b/c"},
						{Root: "/ab", Deep: true}, {Root: "/a-", Deep: true}, {Root: "/b", Timeout: time.Hour},
					} {
						if _, err := s.CreateLock(bg, l); err != nil {
							t.Fatal(err)
						}
					}
					var err error
					switch tt.op {
					case "delete":
						err = s.DeleteTree(bg, tt.src)
					case "move":
						err = s.MoveTree(bg, tt.src, tt.dst)
					case "copy":
						err = s.CopyTree(bg, tt.src, tt.dst)
					}
					if err != nil {
						t.Fatal(err)
					}
					ls, err := s.LocksBelow(bg, "/")
					if err != nil {
						t.Fatal(err)
					}
					if got := roots(ls); !reflect.DeepEqual(got, tt.want) {
						t.Errorf("locks left on %q, want %q", got, tt.want)
					}
				})
			}
		})
	}
}

var tokenRE = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestLockConflicts(t *testing.T) {
	t.Parallel()
	type lk struct {
		root   string
		deep   bool
		shared bool
	}
	tests := []struct {
		name     string
		existing []lk
		req      lk
		conflict []string // roots of the conflicting locks, sorted
	}{
		{"exclusive vs exclusive", []lk{{"/a", false, false}}, lk{"/a", false, false}, []string{"/a"}},
		{"shared + shared", []lk{{"/a", true, true}, {"/a", false, true}}, lk{"/a", true, true}, nil},
		{"shared vs exclusive", []lk{{"/a", false, true}}, lk{"/a", false, false}, []string{"/a"}},
		{"exclusive vs shared", []lk{{"/a", false, false}}, lk{"/a", false, true}, []string{"/a"}},
		{"depth-0 parent, child lock", []lk{{"/a", false, false}}, lk{"/a/b", true, false}, nil},
		{"deep parent, child exclusive", []lk{{"/a", true, false}}, lk{"/a/b/c", false, false}, []string{"/a"}},
		{"deep shared parent, child shared", []lk{{"/a", true, true}}, lk{"/a/b/c", false, true}, nil},
		{"deep shared parent, child exclusive", []lk{{"/a", true, true}}, lk{"/a/b", false, false}, []string{"/a"}},
		{"deep request, lock below", []lk{{"/a/b/c", false, false}}, lk{"/a", true, false}, []string{"/a/b/c"}},
		{"deep request, shared lock below", []lk{{"/a/b", false, true}}, lk{"/a", true, false}, []string{"/a/b"}},
		{"depth-0 request, lock below", []lk{{"/a/b", false, false}}, lk{"/a", false, false}, nil},
		{"deep root lock", []lk{{"/", true, false}}, lk{"/x/y", false, true}, []string{"/"}},
		{"deep request on root", []lk{{"/x/y", false, true}, {"/z", true, false}}, lk{"/", true, false}, []string{"/x/y", "/z"}},
		{"sibling with common prefix", []lk{{"/a", true, false}}, lk{"/ab", true, false}, nil},
		{"sibling below the prefix", []lk{{"/ab/c", false, false}, {"/a-", true, false}, {"/a0", true, false}}, lk{"/a", true, false}, nil},
		{"several conflicts, sorted", []lk{{"/a/c", false, true}, {"/a", true, true}, {"/a/b", false, true}, {"/a", false, true}, {"/a/b", true, true}},
			lk{"/a", true, false}, []string{"/a", "/a/b", "/a/c"}},
	}
	eachStore(t, func(t *testing.T, s Store) {
		for i, tt := range tests {
			pre := fmt.Sprintf("/t%d", i)
			full := func(p string) string {
				if p == "/" {
					return pre
				}
				return pre + p
			}
			byRoot := map[string][]string{}
			for _, e := range tt.existing {
				l, err := s.CreateLock(bg, Lock{Root: full(e.root), Deep: e.deep, Shared: e.shared})
				if err != nil {
					t.Fatalf("%s: setting up %v: %v", tt.name, e, err)
				}
				byRoot[l.Root] = append(byRoot[l.Root], l.Token)
			}
			l, err := s.CreateLock(bg, Lock{Root: full(tt.req.root), Deep: tt.req.deep, Shared: tt.req.shared, Owner: "o"})
			if tt.conflict == nil {
				if err != nil {
					t.Errorf("%s: CreateLock: %v", tt.name, err)
				} else if !tokenRE.MatchString(l.Token) {
					t.Errorf("%s: token %q", tt.name, l.Token)
				}
				continue
			}
			if !errors.Is(err, ErrLocked) {
				t.Errorf("%s: CreateLock = %v, %v; want ErrLocked", tt.name, l, err)
				continue
			}
			var ce *ConflictError
			if !errors.As(err, &ce) {
				t.Fatalf("%s: %T is not a *ConflictError", tt.name, err)
			}
			var got, want []string
			for _, c := range ce.Locks {
				got = append(got, c.Root+" "+c.Token)
			}
			for _, r := range tt.conflict {
				toks := slices.Clone(byRoot[full(r)])
				sort.Strings(toks)
				for _, tok := range toks {
					want = append(want, full(r)+" "+tok)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: conflicting locks\n got %q\nwant %q", tt.name, got, want)
			}
		}
	})
}

func TestLockLifecycle(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s Store) {
		before := time.Now()
		in := Lock{Token: "ignored", Root: "/doc", Deep: true, Shared: true, Owner: `<D:href xmlns:D="DAV:">mailto:ü@example.com</D:href>`,
			User: "alice", Timeout: time.Hour, Created: time.Unix(1, 0), Expires: time.Unix(2, 0)}
		l, err := s.CreateLock(bg, in)
		if err != nil {
			t.Fatal(err)
		}
		after := time.Now()
		if !tokenRE.MatchString(l.Token) || len(strings.TrimPrefix(l.Token, "urn:uuid:")) != 36 {
			t.Errorf("token %q is not urn:uuid: and a v4 UUID", l.Token)
		}
		if l.Root != in.Root || l.Deep != in.Deep || l.Shared != in.Shared || l.Owner != in.Owner || l.User != in.User || l.Timeout != in.Timeout {
			t.Errorf("CreateLock changed the request: %+v", l)
		}
		if l.Created.Before(before.Truncate(time.Microsecond)) || l.Created.After(after) {
			t.Errorf("Created = %v, not between %v and %v", l.Created, before, after)
		}
		if !l.Expires.Equal(l.Created.Add(time.Hour)) {
			t.Errorf("Expires = %v, want Created + 1h = %v", l.Expires, l.Created.Add(time.Hour))
		}
		got, err := s.LookupLock(bg, l.Token)
		if err != nil || !reflect.DeepEqual(got, l) {
			t.Errorf("LookupLock = %+v, %v; want %+v", got, err, l)
		}

		// Refresh extends, and can make the lock infinite.
		time.Sleep(2 * time.Millisecond)
		r, err := s.RefreshLock(bg, l.Token, 2*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if r.Timeout != 2*time.Hour || !r.Expires.After(l.Expires.Add(time.Hour)) || !r.Created.Equal(l.Created) || r.Token != l.Token {
			t.Errorf("RefreshLock = %+v, from %+v", r, l)
		}
		if got, _ := s.LookupLock(bg, l.Token); !reflect.DeepEqual(got, r) {
			t.Errorf("after refresh LookupLock = %+v, want %+v", got, r)
		}
		r, err = s.RefreshLock(bg, l.Token, 0)
		if err != nil || r.Timeout != 0 || !r.Expires.IsZero() {
			t.Errorf("RefreshLock(0) = %+v, %v; want an infinite lock", r, err)
		}
		if _, err := s.RefreshLock(bg, l.Token, -time.Second); err == nil {
			t.Error("RefreshLock with a negative timeout succeeded")
		}

		// Infinite lock.
		inf, err := s.CreateLock(bg, Lock{Root: "/inf"})
		if err != nil || !inf.Expires.IsZero() || inf.Timeout != 0 {
			t.Errorf("infinite lock: %+v, %v", inf, err)
		}

		// Unlock.
		if err := s.Unlock(bg, l.Token); err != nil {
			t.Fatal(err)
		}
		if err := s.Unlock(bg, l.Token); !errors.Is(err, ErrNoSuchLock) {
			t.Errorf("second Unlock = %v, want ErrNoSuchLock", err)
		}
		if _, err := s.LookupLock(bg, l.Token); !errors.Is(err, ErrNoSuchLock) {
			t.Errorf("LookupLock after Unlock = %v, want ErrNoSuchLock", err)
		}
		if _, err := s.RefreshLock(bg, l.Token, time.Hour); !errors.Is(err, ErrNoSuchLock) {
			t.Errorf("RefreshLock after Unlock = %v, want ErrNoSuchLock", err)
		}
		if _, err := s.RefreshLock(bg, "urn:uuid:nope", time.Hour); !errors.Is(err, ErrNoSuchLock) {
			t.Errorf("RefreshLock of an unknown token = %v, want ErrNoSuchLock", err)
		}
		if _, err := s.CreateLock(bg, Lock{Root: "/doc"}); err != nil {
			t.Errorf("CreateLock after Unlock: %v", err)
		}

		// Bad requests.
		for _, bad := range []Lock{{Root: "doc"}, {Root: "/doc/"}, {Root: ""}, {Root: "/neg", Timeout: -1}, {Root: "/huge", Timeout: math.MaxInt64}} {
			if _, err := s.CreateLock(bg, bad); err == nil || errors.Is(err, ErrLocked) {
				t.Errorf("CreateLock(%+v) = %v, want a validation error", bad, err)
			}
		}
	})
}

func TestLockTokensUnique(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s Store) {
		seen := map[string]bool{}
		for i := range 200 {
			l, err := s.CreateLock(bg, Lock{Root: "/shared", Shared: true, Deep: i%2 == 0})
			if err != nil {
				t.Fatal(err)
			}
			if !tokenRE.MatchString(l.Token) {
				t.Fatalf("token %q", l.Token)
			}
			if seen[l.Token] {
				t.Fatalf("token %q issued twice", l.Token)
			}
			seen[l.Token] = true
		}
		ls, err := s.LocksCovering(bg, "/shared")
		if err != nil || len(ls) != 200 {
			t.Fatalf("LocksCovering = %d locks, %v", len(ls), err)
		}
		if !slices.IsSortedFunc(ls, func(a, b Lock) int { return strings.Compare(a.Token, b.Token) }) {
			t.Error("locks not sorted by token")
		}
	})
}

func TestLockExpiry(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s Store) {
		short, err := s.CreateLock(bg, Lock{Root: "/e", Deep: true, Timeout: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		keep, err := s.CreateLock(bg, Lock{Root: "/keep", Timeout: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
		if _, err := s.LookupLock(bg, short.Token); !errors.Is(err, ErrNoSuchLock) {
			t.Errorf("LookupLock of an expired lock = %v, want ErrNoSuchLock", err)
		}
		if ls, err := s.LocksCovering(bg, "/e/x"); err != nil || len(ls) != 0 {
			t.Errorf("LocksCovering = %v, %v; want none", ls, err)
		}
		if ls, err := s.LocksBelow(bg, "/"); err != nil || len(ls) != 1 || ls[0].Token != keep.Token {
			t.Errorf("LocksBelow(/) = %v, %v; want only %s", ls, err, keep.Token)
		}
		if _, err := s.RefreshLock(bg, short.Token, time.Hour); !errors.Is(err, ErrNoSuchLock) {
			t.Errorf("RefreshLock of an expired lock = %v, want ErrNoSuchLock", err)
		}
		if err := s.Unlock(bg, short.Token); !errors.Is(err, ErrNoSuchLock) {
			t.Errorf("Unlock of an expired lock = %v, want ErrNoSuchLock", err)
		}
		if _, err := s.CreateLock(bg, Lock{Root: "/e/x"}); err != nil {
			t.Errorf("an expired lock still conflicts: %v", err)
		}
		if _, err := s.LookupLock(bg, keep.Token); err != nil {
			t.Errorf("the unexpired lock is gone: %v", err)
		}
	})
}

func TestLocksCoveringBelow(t *testing.T) {
	t.Parallel()
	locks := []Lock{
		{Root: "/", Shared: true},
		{Root: "/a", Deep: true, Shared: true},
		{Root: "/a", Shared: true},
		{Root: "/a/b", Shared: true},
		{Root: "/a/b/c", Deep: true, Shared: true},
		{Root: "/ab", Deep: true, Shared: true},
		{Root: "/a-", Deep: true, Shared: true},
		{Root: "/a0", Shared: true},
	}
	tests := []struct {
		path     string
		covering []string
		below    []string
	}{
		{"/", []string{"/"}, []string{"/a", "/a", "/a-", "/a/b", "/a/b/c", "/a0", "/ab"}},
		{"/a", []string{"/a", "/a"}, []string{"/a/b", "/a/b/c"}},
		{"/a/b", []string{"/a", "/a/b"}, []string{"/a/b/c"}},
		{"/a/b/c/d/e", []string{"/a", "/a/b/c"}, nil},
		{"/a/x", []string{"/a"}, nil},
		{"/ab", []string{"/ab"}, nil},
		{"/ab/x", []string{"/ab"}, nil},
		{"/a0", []string{"/a0"}, nil},
		{"/a0/x", nil, nil},
		{"/zzz", nil, nil},
	}
	roots := func(ls []Lock) []string {
		var out []string
		for _, l := range ls {
			out = append(out, l.Root)
		}
		return out
	}
	eachStore(t, func(t *testing.T, s Store) {
		for _, l := range locks {
			if _, err := s.CreateLock(bg, l); err != nil {
				t.Fatal(err)
			}
		}
		for _, tt := range tests {
			c, err := s.LocksCovering(bg, tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := roots(c); !reflect.DeepEqual(got, tt.covering) {
				t.Errorf("LocksCovering(%s) = %q, want %q", tt.path, got, tt.covering)
			}
			if !slices.IsSortedFunc(c, func(a, b Lock) int {
				return strings.Compare(a.Root+"\x00"+a.Token, b.Root+"\x00"+b.Token)
			}) {
				t.Errorf("LocksCovering(%s) not sorted", tt.path)
			}
			b, err := s.LocksBelow(bg, tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := roots(b); !reflect.DeepEqual(got, tt.below) {
				t.Errorf("LocksBelow(%s) = %q, want %q", tt.path, got, tt.below)
			}
		}
		for _, bad := range []string{"", "a", "/a/"} {
			if _, err := s.LocksCovering(bg, bad); err == nil {
				t.Errorf("LocksCovering(%q) succeeded", bad)
			}
			if _, err := s.LocksBelow(bg, bad); err == nil {
				t.Errorf("LocksBelow(%q) succeeded", bad)
			}
		}
	})
}

func TestContextAndClose(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s Store) {
		mustPatch(t, s, "/p", []Property{prop("urn:x", "a", "<a/>")}, nil)
		l, err := s.CreateLock(bg, Lock{Root: "/l"})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(bg)
		cancel()
		calls := func(ctx context.Context) map[string]error {
			_, propsErr := s.Props(ctx, "/p")
			_, createErr := s.CreateLock(ctx, Lock{Root: "/other"})
			_, refreshErr := s.RefreshLock(ctx, l.Token, time.Hour)
			_, lookupErr := s.LookupLock(ctx, l.Token)
			_, coveringErr := s.LocksCovering(ctx, "/l")
			_, belowErr := s.LocksBelow(ctx, "/")
			return map[string]error{
				"Props":         propsErr,
				"PatchProps":    s.PatchProps(ctx, "/p", []Property{prop("urn:x", "b", "<b/>")}, nil),
				"CopyTree":      s.CopyTree(ctx, "/p", "/q"),
				"MoveTree":      s.MoveTree(ctx, "/p", "/q"),
				"DeleteTree":    s.DeleteTree(ctx, "/p"),
				"CreateLock":    createErr,
				"RefreshLock":   refreshErr,
				"Unlock":        s.Unlock(ctx, l.Token),
				"LookupLock":    lookupErr,
				"LocksCovering": coveringErr,
				"LocksBelow":    belowErr,
			}
		}
		for name, err := range calls(ctx) {
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s with a canceled context = %v, want context.Canceled", name, err)
			}
		}
		// Nothing changed.
		if got := mustProps(t, s, "/p"); len(got) != 1 {
			t.Errorf("Props = %q", got)
		}
		if _, err := s.LookupLock(bg, l.Token); err != nil {
			t.Error(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		for name, err := range calls(bg) {
			if err == nil {
				t.Errorf("%s on a closed store succeeded", name)
			}
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

func TestConcurrency(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s Store) {
		const workers, rounds = 8, 40
		var wg sync.WaitGroup
		errs := make(chan error, workers*rounds*4)
		for w := range workers {
			wg.Go(func() {
				for i := range rounds {
					// Everyone contends for the same exclusive lock…
					if l, err := s.CreateLock(bg, Lock{Root: "/hot", Deep: true}); err == nil {
						if _, err := s.RefreshLock(bg, l.Token, time.Minute); err != nil {
							errs <- err
						}
						if err := s.Unlock(bg, l.Token); err != nil {
							errs <- err
						}
					} else if !errors.Is(err, ErrLocked) {
						errs <- err
					}
					// …and has a lock and properties of its own.
					mine := fmt.Sprintf("/w%d", w)
					l, err := s.CreateLock(bg, Lock{Root: mine + "/f", Timeout: time.Minute})
					if err != nil {
						errs <- err
						continue
					}
					if _, err := s.LocksCovering(bg, mine+"/f"); err != nil {
						errs <- err
					}
					p := prop("urn:x", fmt.Sprintf("p%d", i%5), fmt.Sprintf("<p>%d</p>", i))
					if err := s.PatchProps(bg, mine+"/f", []Property{p}, []xml.Name{{Space: "urn:x", Local: "gone"}}); err != nil {
						errs <- err
					}
					if _, err := s.Props(bg, mine+"/f"); err != nil {
						errs <- err
					}
					if i%10 == 9 {
						if err := s.MoveTree(bg, mine, mine+"-moved"); err != nil {
							errs <- err
						}
						if err := s.CopyTree(bg, mine+"-moved", mine); err != nil {
							errs <- err
						}
						if err := s.DeleteTree(bg, mine+"-moved"); err != nil {
							errs <- err
						}
					} else if err := s.Unlock(bg, l.Token); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for w := range workers {
			ps := mustProps(t, s, fmt.Sprintf("/w%d/f", w))
			if len(ps) != 5 {
				t.Errorf("worker %d: %d properties, want 5", w, len(ps))
			}
		}
		if ls, err := s.LocksBelow(bg, "/"); err != nil || len(ls) != 0 {
			t.Errorf("locks left: %v, %v", ls, err)
		}
	})
}
