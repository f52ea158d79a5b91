package state

import (
	"path/filepath"
	"slices"
	"testing"
)

func statePaths(t *testing.T, s Store, root string) []string {
	t.Helper()
	var out []string
	if err := s.StatePaths(bg, root, func(p string) error { out = append(out, p); return nil }); err != nil {
		t.Fatalf("StatePaths(%s): %v", root, err)
	}
	slices.Sort(out)
	return out
}

// TestStatePaths: the paths with properties or locks at or below a root,
// each once, and nothing beside the root that merely shares its prefix.
func TestStatePaths(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s Store) {
		for _, p := range []string{"/a", "/a/b", "/a/b/c", "/a-b", "/a0", "/z"} {
			mustPatch(t, s, p, []Property{prop("urn:x", "p", `<x:p xmlns:x="urn:x">1</x:p>`)}, nil)
		}
		if _, err := s.CreateLock(bg, Lock{Root: "/a/lockonly"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateLock(bg, Lock{Root: "/a/b"}); err != nil {
			t.Fatal(err)
		}
		if got, want := statePaths(t, s, "/a"), []string{"/a", "/a/b", "/a/b/c", "/a/lockonly"}; !slices.Equal(got, want) {
			t.Errorf("StatePaths(/a) = %v, want %v", got, want)
		}
		if got := statePaths(t, s, "/a/b/c/d"); len(got) != 0 {
			t.Errorf("StatePaths below a leaf = %v", got)
		}
		if got := statePaths(t, s, "/"); len(got) != 7 {
			t.Errorf("StatePaths(/) = %v, want 7 paths", got)
		}
		for root, want := range map[string]bool{"/a": true, "/a/lockonly": true, "/q": false, "/a/b/c/d": false} {
			if got, err := HasState(bg, s, root); err != nil || got != want {
				t.Errorf("HasState(%s) = %v, %v; want %v", root, got, err, want)
			}
		}
	})
}

// TestIntents: intents are listed oldest first until ended.
func TestIntents(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s Store) {
		a, err := s.BeginIntent(bg, Intent{Op: "move", Src: "/a", Dst: "/b", Mark: "1:2", OldMark: "1:3", Aside: "/.davd-tmp-x", HadState: true})
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.BeginIntent(bg, Intent{Op: "delete", Src: "/c"})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Intents(bg)
		if err != nil || len(got) != 2 || got[0].ID != a || got[1].ID != b {
			t.Fatalf("Intents = %+v, %v", got, err)
		}
		want := Intent{ID: a, Op: "move", Src: "/a", Dst: "/b", Mark: "1:2", OldMark: "1:3", Aside: "/.davd-tmp-x", HadState: true}
		if got[0] != want {
			t.Errorf("intent read back as %+v, want %+v", got[0], want)
		}
		if err := s.EndIntent(bg, a); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Intents(bg); len(got) != 1 || got[0].ID != b {
			t.Errorf("after EndIntent: %+v", got)
		}
	})
}

// TestIntentsSurviveRestart: an intent not ended is there after the
// database is closed and opened again, as after a crash.
func TestIntentsSurviveRestart(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "state.db")
	s := openFile(t, file)
	if _, err := s.BeginIntent(bg, Intent{Op: "copy", Src: "/s", Dst: "/d", HadState: true}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openFile(t, file)
	defer s.Close()
	got, err := s.Intents(bg)
	if err != nil || len(got) != 1 || got[0].Op != "copy" || got[0].Dst != "/d" {
		t.Fatalf("after reopening: %+v, %v", got, err)
	}
}
