package dav

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"davd/storage"
)

// TestPropfindInfinityTree checks the concurrent walker: over a tree on
// disk, every resource is answered exactly once, and symbolic links that
// loop back to an ancestor are reported without being followed forever.
func TestPropfindInfinityTree(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	want := map[string]bool{"/": true}
	for d := range 7 {
		sub := fmt.Sprintf("/d%d/", d)
		want[sub] = true
		for e := range 3 {
			deeper := fmt.Sprintf("%se%d/", sub, e)
			want[deeper] = true
			if err := os.MkdirAll(filepath.Join(dir, deeper), 0o755); err != nil {
				t.Fatal(err)
			}
			for f := range 40 {
				name := fmt.Sprintf("%sf%02d", deeper, f)
				want[name] = true
				if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// Two loops, to a parent and to the root; an absolute link, even to
	// the root itself, counts as leaving it (os.Root) and is not listed.
	for link, target := range map[string]string{"/d0/e0/up": "..", "/d1/top": "..", "/d2/abs": dir} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
		want[link+"/"] = filepath.IsLocal(target) || target == ".."
	}
	rfs, err := storage.NewRootFs(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rfs.Close() })
	srv := testServer(t, rfs, Config{})

	for _, body := range []string{"", `<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>`} {
		resp := do(t, "PROPFIND", srv.URL+"/", map[string]string{"Depth": "infinity"}, body)
		if resp.status != 207 {
			t.Fatalf("PROPFIND = %d", resp.status)
		}
		got := map[string]int{}
		for _, m := range regexp.MustCompile(`<D:href>([^<]*)</D:href>`).FindAllStringSubmatch(resp.body, -1) {
			got[m[1]]++
		}
		for href, n := range got {
			if n != 1 {
				t.Errorf("%s answered %d times", href, n)
			}
			if !want[href] {
				t.Errorf("unexpected %s: a loop was followed", href)
			}
		}
		for href, listed := range want {
			if listed && got[href] == 0 {
				t.Errorf("%s missing", href)
			}
		}
	}
}
