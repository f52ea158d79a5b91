package state

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"davd/storage/pathlock"
	"davd/storage/state/pgtest"
)

// openPG opens n Stores on one new database, as n instances would.
func openPG(t *testing.T, n int) []Store {
	t.Helper()
	url := pgtest.Database(t)
	out := make([]Store, n)
	for i := range out {
		s, err := Open(bg, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out[i] = s
	}
	return out
}

// TestPGCrossInstanceLockRace: two stores on one database race CreateLock
// on the same resource, and on a parent (Depth infinity) against its
// child; each round exactly one wins.
func TestPGCrossInstanceLockRace(t *testing.T) {
	t.Parallel()
	st := openPG(t, 2)
	const rounds, perStore = 200, 2
	for r := range rounds {
		// Round kinds: both on one path, or deep parent against child.
		roots := []Lock{{Root: fmt.Sprintf("/r%d", r)}, {Root: fmt.Sprintf("/r%d", r)}}
		if r%2 == 1 {
			roots = []Lock{{Root: fmt.Sprintf("/r%d", r), Deep: true}, {Root: fmt.Sprintf("/r%d/child", r)}}
		}
		var won, lost atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, s := range st {
			for j := range perStore {
				wg.Go(func() {
					<-start
					_, err := s.CreateLock(bg, roots[(i+j)%2])
					switch {
					case err == nil:
						won.Add(1)
					case errors.Is(err, ErrLocked):
						lost.Add(1)
					default:
						t.Error(err)
					}
				})
			}
		}
		close(start)
		wg.Wait()
		if won.Load() != 1 || lost.Load() != 2*perStore-1 {
			t.Fatalf("round %d: %d won, %d lost; want exactly one winner", r, won.Load(), lost.Load())
		}
	}
}

// TestPGCrossInstanceCaps: the caps hold across instances.
func TestPGCrossInstanceCaps(t *testing.T) {
	t.Parallel()
	st := openPG(t, 2)
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			_, err := st[i%2].CreateLock(bg, Lock{Root: fmt.Sprint("/c/", i), User: "alice", Caps: LockCaps{PerUser: 5}})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ErrTooManyLocks):
				refused.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 5 || refused.Load() != 11 {
		t.Errorf("%d created, %d refused; want 5 and 11", ok.Load(), refused.Load())
	}
}

// TestPGSharedState: what one instance writes, the other reads at once
// (no cache), and a lock one removes is gone for the other.
func TestPGSharedState(t *testing.T) {
	t.Parallel()
	st := openPG(t, 2)
	a, b := st[0], st[1]
	if got := mustProps(t, b, "/p"); got != nil {
		t.Fatalf("Props = %q", got)
	}
	mustPatch(t, a, "/p", []Property{prop("urn:x", "a", "<a/>")}, nil)
	if got := mustProps(t, b, "/p"); len(got) != 1 {
		t.Errorf("the other instance sees %q", got)
	}
	l, err := a.CreateLock(bg, Lock{Root: "/p", Deep: true, Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if ls, err := b.LocksCovering(bg, "/p/x"); err != nil || len(ls) != 1 || ls[0].Token != l.Token {
		t.Errorf("the other instance sees locks %v, %v", ls, err)
	}
	if err := b.MoveTree(bg, "/p", "/q"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.LookupLock(bg, l.Token); !errors.Is(err, ErrNoSuchLock) {
		t.Errorf("a lock removed by the other instance: %v", err)
	}
	if got := mustProps(t, a, "/q"); len(got) != 1 {
		t.Errorf("moved properties: %q", got)
	}
	if found, err := HasState(bg, b, "/q"); err != nil || !found {
		t.Errorf("HasState = %v, %v", found, err)
	}
}

// tryAcquire reports whether s grants claims within wait; it releases
// them at once.
func tryAcquire(t *testing.T, s Store, wait time.Duration, claims ...pathlock.Claim) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(bg, wait)
	defer cancel()
	release, err := s.Acquire(ctx, claims...)
	if err != nil {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Acquire(%v): %v", claims, err)
		}
		return false
	}
	release()
	return true
}

// TestPGPathLockConflicts: for every pair of claims, one held through one
// store, the other asked through another: a pair that pathlock.Conflict
// says conflicts waits; one that does not is granted at once, except the
// pairs the key mapping serialises on purpose (see pgpathlocks.go).
func TestPGPathLockConflicts(t *testing.T) {
	t.Parallel()
	st := openPG(t, 2)
	claims := []pathlock.Claim{
		{Path: "/a"}, {Path: "/a", Deep: true}, {Path: "/a", Shared: true}, {Path: "/a", Shared: true, Deep: true},
		{Path: "/a/b"}, {Path: "/a/b", Shared: true}, {Path: "/a/b/c", Deep: true}, {Path: "/ab"}, {Path: "/"},
	}
	overSerialised := func(a, b pathlock.Claim) bool {
		for _, p := range [][2]pathlock.Claim{{a, b}, {b, a}} {
			x, y := p[0], p[1]
			if !x.Shared && !x.Deep && strings.HasPrefix(y.Path, strings.TrimSuffix(x.Path, "/")+"/") {
				return true
			}
		}
		return a.Path == b.Path && a.Shared && b.Shared && a.Deep && b.Deep
	}
	// Pairs run 8 at a time, each in a subtree of its own (a canceled
	// wait takes about 0.1 s: the cancel request is a connection).
	under := func(c pathlock.Claim, i int) pathlock.Claim {
		root := fmt.Sprintf("/t%d", i)
		if c.Path == "/" {
			c.Path = root
		} else {
			c.Path = root + c.Path
		}
		return c
	}
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, a := range claims {
		for j, b := range claims {
			n := i*len(claims) + j
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				ua, ub := under(a, n), under(b, n)
				release, err := st[0].Acquire(bg, ua)
				if err != nil {
					t.Error(err)
					return
				}
				conflict := pathlock.Conflict(a, b)
				wait := 5 * time.Second // granted at once; the bound only stops a hang
				if conflict || overSerialised(a, b) {
					wait = 30 * time.Millisecond
				}
				granted := tryAcquire(t, st[1], wait, ub)
				release()
				switch {
				case conflict && granted:
					t.Errorf("%+v held, %+v granted through another instance", a, b)
				case !conflict && !granted && !overSerialised(a, b):
					t.Errorf("%+v held, %+v waited though they do not conflict", a, b)
				}
			})
		}
	}
	wg.Wait()
}

// TestPGPathLockExclusion: requests through two stores claiming one path
// are never inside together; a waiter that gives up holds nothing.
func TestPGPathLockExclusion(t *testing.T) {
	t.Parallel()
	st := openPG(t, 2)
	var inside, entered atomic.Int64
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for i := range 20 {
				claims := []pathlock.Claim{{Path: "/d/f"}, {Path: "/d", Shared: true}}
				if i%5 == 0 {
					claims = []pathlock.Claim{{Path: "/d", Deep: true}}
				}
				release, err := st[w%2].Acquire(bg, claims...)
				if err != nil {
					t.Error(err)
					return
				}
				if n := inside.Add(1); n != 1 {
					t.Errorf("%d requests inside at once", n)
				}
				entered.Add(1)
				time.Sleep(100 * time.Microsecond)
				inside.Add(-1)
				release()
			}
		})
	}
	wg.Wait()
	if entered.Load() != 120 {
		t.Errorf("%d entries, want 120", entered.Load())
	}

	// A waiter that gives up leaves nothing behind on the server.
	release, err := st[0].Acquire(bg, pathlock.Claim{Path: "/w"})
	if err != nil {
		t.Fatal(err)
	}
	if tryAcquire(t, st[1], 50*time.Millisecond, pathlock.Claim{Path: "/w"}) {
		t.Fatal("granted while held by the other instance")
	}
	release()
	if !tryAcquire(t, st[1], 5*time.Second, pathlock.Claim{Path: "/w", Deep: true}) {
		t.Error("not granted after the holder released")
	}
}

// TestPGOpen: instances starting together create the schema once; a
// database with other tables is refused; a wrong password, a bad URL and
// a server that does not answer fail Open with one clear error that
// does not show the password.
func TestPGOpen(t *testing.T) {
	t.Parallel()
	url := pgtest.Database(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			s, err := Open(bg, url)
			if err != nil {
				t.Error(err)
				return
			}
			s.Close()
		})
	}
	wg.Wait()
	s, err := Open(bg, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n int
	if err := s.(*pgStore).db.QueryRow(`SELECT count(*) FROM meta WHERE key = 'schema_version' AND value = '1'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("schema_version rows: %d, %v", n, err)
	}

	foreign := pgtest.Database(t)
	fs, err := Open(bg, foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.(*pgStore).db.Exec(`DROP TABLE meta; CREATE TABLE meta (x int)`); err != nil {
		t.Fatal(err)
	}
	fs.Close()
	if _, err := Open(bg, foreign); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Open of a database with foreign tables = %v, want ErrCorrupt", err)
	}

	wrong := strings.Replace(url, "davd-test-pw", "not-the-password", 1)
	if wrong == url {
		t.Fatal("test URL has no password to replace")
	}
	start := time.Now()
	_, err = Open(bg, wrong)
	if err == nil || !strings.Contains(err.Error(), "password authentication failed") || strings.Contains(err.Error(), "not-the-password") ||
		strings.Contains(err.Error(), "\n") || errors.Is(err, ErrUnavailable) {
		t.Errorf("Open with a wrong password = %v", err)
	}
	_, err = Open(bg, "postgres://u:secret@127.0.0.1:1/db")
	if !errors.Is(err, ErrUnavailable) || strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "\n") {
		t.Errorf("Open of a port nobody listens on = %v, want ErrUnavailable", err)
	}
	_, err = Open(bg, "postgres://u:secret@127.0.0.1:notaport/db")
	if err == nil || strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "\n") {
		t.Errorf("Open of a bad URL = %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("failing opens took %v", d)
	}
}

// TestPGRestart: with the server stopped, calls fail fast with
// ErrUnavailable; once it is back the same Store works again and the
// committed state is intact.
func TestPGRestart(t *testing.T) {
	t.Parallel()
	pg := pgtest.New(t)
	s, err := Open(bg, pg.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustPatch(t, s, "/p", []Property{prop("urn:x", "a", "<a/>")}, nil)
	l, err := s.CreateLock(bg, Lock{Root: "/p", Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	pg.Stop(t)
	start := time.Now()
	_, propsErr := s.Props(bg, "/p")
	_, lockErr := s.CreateLock(bg, Lock{Root: "/q"})
	_, acqErr := s.Acquire(bg, pathlock.Claim{Path: "/q"})
	for name, err := range map[string]error{"Props": propsErr, "CreateLock": lockErr, "Acquire": acqErr,
		"PatchProps": s.PatchProps(bg, "/p", []Property{prop("urn:x", "b", "<b/>")}, nil)} {
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s with the database down = %v, want ErrUnavailable", name, err)
		}
	}
	if d := time.Since(start); d > 4*(pgConnectTimeout+time.Second) {
		t.Errorf("calls with the database down took %v", d)
	}
	pg.Start(t)
	if got := mustProps(t, s, "/p"); len(got) != 1 {
		t.Errorf("after the restart Props = %q", got)
	}
	if _, err := s.LookupLock(bg, l.Token); err != nil {
		t.Errorf("after the restart: %v", err)
	}
	if !tryAcquire(t, s, 5*time.Second, pathlock.Claim{Path: "/q"}) {
		t.Error("path locks do not work after the restart")
	}
}

// TestPGUnstorablePaths: paths PostgreSQL's text cannot hold (not UTF-8,
// or with NUL), which a storage may list though no request can name
// them, have no state: reads find none (the deep locks of the ancestors
// that can have state cover them), tree operations on them change
// nothing, and writes fail with a reason rather than a database error.
func TestPGUnstorablePaths(t *testing.T) {
	t.Parallel()
	s := openPG(t, 1)[0]
	dir := "/d"
	if err := s.PatchProps(bg, dir, []Property{{Name: xml.Name{Space: "urn:z", Local: "p"}, XML: []byte(`<p xmlns="urn:z">v</p>`)}}, nil); err != nil {
		t.Fatal(err)
	}
	l, err := s.CreateLock(bg, Lock{Root: dir, Deep: true, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/d/a\xffb", "/d/a\x00b", "/d/\xc3\x28/x", "/\xff"} {
		if props, err := s.Props(bg, p); err != nil || props != nil {
			t.Errorf("Props(%q) = %v, %v; want none", p, props, err)
		}
		ls, err := s.LocksCovering(bg, p)
		want := 1
		if p == "/\xff" {
			want = 0
		}
		if err != nil || len(ls) != want || (want == 1 && ls[0].Token != l.Token) {
			t.Errorf("LocksCovering(%q) = %v, %v; want %d (the deep lock of /d)", p, ls, err, want)
		}
		if ls, err := s.LocksBelow(bg, p); err != nil || len(ls) != 0 {
			t.Errorf("LocksBelow(%q) = %v, %v", p, ls, err)
		}
		if err := s.StatePaths(bg, p, func(string) error { return errors.New("called") }); err != nil {
			t.Errorf("StatePaths(%q) = %v", p, err)
		}
		for name, err := range map[string]error{
			"CopyTree to":   s.CopyTree(bg, "/s", p),
			"CopyTree from": s.CopyTree(bg, p, "/e"),
			"MoveTree from": s.MoveTree(bg, p, "/e"),
			"DeleteTree":    s.DeleteTree(bg, p),
		} {
			if err != nil {
				t.Errorf("%s %q = %v", name, p, err)
			}
		}
		if err := s.PatchProps(bg, p, []Property{{Name: xml.Name{Space: "urn:z", Local: "p"}, XML: []byte(`<p xmlns="urn:z">v</p>`)}}, nil); err == nil || errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "UTF-8") {
			t.Errorf("PatchProps(%q) = %v, want a refusal naming UTF-8", p, err)
		}
		if _, err := s.CreateLock(bg, Lock{Root: p, Timeout: time.Minute}); err == nil || errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "UTF-8") {
			t.Errorf("CreateLock(%q) = %v, want a refusal naming UTF-8", p, err)
		}
	}
	// The state of /d is untouched.
	if props, _ := s.Props(bg, dir); len(props) != 1 {
		t.Errorf("Props(/d) = %v", props)
	}
	if _, err := s.LookupLock(bg, l.Token); err != nil {
		t.Errorf("the lock of /d: %v", err)
	}
}

// TestPGHasState: HasState of the PostgreSQL Store (one query that stops
// at the first row) and of a view of it answers what a walk of
// StatePaths answers: properties or a live lock at or below the root,
// not beside it (a sibling sharing a prefix of the name), not above it.
func TestPGHasState(t *testing.T) {
	t.Parallel()
	s := openPG(t, 1)[0]
	prop := []Property{{Name: xml.Name{Space: "urn:z", Local: "p"}, XML: []byte(`<p xmlns="urn:z">v</p>`)}}
	if err := s.PatchProps(bg, "/a/b/c", prop, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateLock(bg, Lock{Root: "/l/m", Timeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	view, err := WithPrefix(s, "/a")
	if err != nil {
		t.Fatal(err)
	}
	walk := func(st Store, root string) bool {
		found := false
		st.StatePaths(bg, root, func(string) error { found = true; return nil })
		return found
	}
	for _, c := range []struct {
		st   Store
		root string
		want bool
	}{
		{s, "/", true}, {s, "/a", true}, {s, "/a/b/c", true}, {s, "/a/b/c/d", false}, {s, "/a/b/cc", false},
		{s, "/a/bb", false}, {s, "/l", true}, {s, "/l/m", true}, {s, "/l/mm", false}, {s, "/x", false}, {s, "/a\xff", false},
		{view, "/", true}, {view, "/b", true}, {view, "/b/c", true}, {view, "/c", false},
	} {
		got, err := HasState(bg, c.st, c.root)
		if err != nil || got != c.want || got != walk(c.st, c.root) {
			t.Errorf("HasState(%s) = %v, %v; want %v (the walk says %v)", c.root, got, err, c.want, walk(c.st, c.root))
		}
	}
}
