package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSymlinkAttacks plants symbolic links inside users' roots, as someone
// with shell access could, and checks that removing or overwriting a link
// removes the link only: bob, who may only read /archive, cannot empty it
// through a link to it, and an administrator deleting a link in alice's
// root does not delete bob's files. The other methods on a link neither
// write through it nor touch what it points at.
func TestSymlinkAttacks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	bob, alice := filepath.Join(data, "home", "bob"), filepath.Join(data, "home", "alice")
	writeFile(t, filepath.Join(bob, "archive", "a.txt"), "archived a")
	writeFile(t, filepath.Join(bob, "archive", "sub", "b.txt"), "archived b")
	writeFile(t, filepath.Join(bob, "proj", "p.txt"), "bob's project")
	writeFile(t, filepath.Join(alice, "x.txt"), "alice's x")
	for link, target := range map[string]string{
		"home/bob/arch":      "archive",
		"home/bob/arch2":     "archive",
		"home/bob/arch3":     "archive",
		"home/bob/arch4":     "archive",
		"home/bob/archfile":  "archive/a.txt",
		"home/bob/dangling":  "archive/missing",
		"home/alice/shared":  "../bob/proj",
		"home/alice/shared2": "../bob/proj",
	} {
		if err := os.Symlink(target, filepath.Join(data, link)); err != nil {
			t.Fatal(err)
		}
	}
	cfg := fmt.Sprintf(`users:
  - name: bob
    password: %q
    root: home/bob
    rules:
      - path: /archive
        permissions: read
  - name: alice
    password: %q
    root: home/alice
  - name: henry
    password: %q
    root: home
`, userHash(t, "bob"), userHash(t, "alice"), userHash(t, "henry"))
	file := filepath.Join(dir, "davd.yaml")
	writeFile(t, file, cfg)
	addr := strings.TrimPrefix(startDavd(t, "--config", file, "--max-auth-failures", "0", data), "http://")
	archive := tree(t, filepath.Join(bob, "archive"))
	proj := tree(t, filepath.Join(bob, "proj"))

	as := func(user string) string { return "Authorization: " + basicAuth(user) }
	lockBody := `<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`
	propBody := `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x xmlns="urn:x">v</x></D:prop></D:set></D:propertyupdate>`
	steps := []struct {
		name, request string
		want          int
	}{
		{"bob deletes a member of /archive", rawRequest(addr, "DELETE", "/archive/a.txt", "", as("bob")), http.StatusForbidden},
		{"bob deletes a link to /archive", rawRequest(addr, "DELETE", "/arch", "", as("bob")), http.StatusNoContent},
		{"henry deletes alice's link to bob's project", rawRequest(addr, "DELETE", "/alice/shared", "", as("henry")), http.StatusNoContent},
		// A link out of alice's root is invisible to her.
		{"alice deletes her own link to bob's project", rawRequest(addr, "DELETE", "/shared2/", "", as("alice")), http.StatusNotFound},
		{"bob copies a file over a link to /archive", rawRequest(addr, "COPY", "/proj/p.txt", "",
			as("bob"), "Destination: http://HOST/arch2", "Overwrite: T"), http.StatusNoContent},
		{"bob puts over a link to a file of /archive", rawRequest(addr, "PUT", "/archfile", "replaced", as("bob")), http.StatusNoContent},
		{"bob makes a collection over a link", rawRequest(addr, "MKCOL", "/arch3", "", as("bob")), http.StatusMethodNotAllowed},
		{"bob sets a property on a link", rawRequest(addr, "PROPPATCH", "/arch3", propBody, as("bob")), http.StatusMultiStatus},
		{"bob locks a dangling link", rawRequest(addr, "LOCK", "/dangling", lockBody, as("bob")), http.StatusCreated},
		{"bob moves a link", rawRequest(addr, "MOVE", "/arch4", "", as("bob"), "Destination: http://HOST/moved"), http.StatusCreated},
		{"bob copies from a link", rawRequest(addr, "COPY", "/arch3", "", as("bob"), "Destination: http://HOST/copied"), http.StatusCreated},
	}
	for _, s := range steps {
		res := rawDo(t, addr, s.request)[0]
		t.Logf("%-48s %d %.80q", s.name, res.status, strings.TrimSpace(res.body))
		if res.status != s.want {
			t.Errorf("%s: %d, want %d (%.200q)", s.name, res.status, s.want, res.body)
		}
	}
	if got := tree(t, filepath.Join(bob, "archive")); fmt.Sprint(got) != fmt.Sprint(archive) {
		t.Errorf("/archive changed:\nbefore %v\nafter  %v", archive, got)
	}
	if got := tree(t, filepath.Join(bob, "proj")); fmt.Sprint(got) != fmt.Sprint(proj) {
		t.Errorf("bob's project changed:\nbefore %v\nafter  %v", proj, got)
	}
	for _, link := range []string{"home/bob/arch", "home/alice/shared"} {
		if _, err := os.Lstat(filepath.Join(data, link)); !os.IsNotExist(err) {
			t.Errorf("%s: the link is still there (%v)", link, err)
		}
	}
	for name, want := range map[string]string{"home/bob/arch2": "bob's project", "home/bob/archfile": "replaced", "home/bob/dangling": ""} {
		p := filepath.Join(data, name)
		if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%s: want a regular file in place of the link, got %v %v", name, fi, err)
		} else if b, _ := os.ReadFile(p); string(b) != want {
			t.Errorf("%s = %q, want %q", name, b, want)
		}
	}
	if _, err := os.Lstat(filepath.Join(bob, "archive", "missing")); !os.IsNotExist(err) {
		t.Errorf("LOCK of a dangling link created its target (%v)", err)
	}
	if target, err := os.Readlink(filepath.Join(bob, "moved")); err != nil || target != "archive" {
		t.Errorf("moved link: %q, %v", target, err)
	}
	if fi, err := os.Lstat(filepath.Join(bob, "arch3")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("arch3 is no longer a link: %v %v", fi, err)
	}
	if b, err := os.ReadFile(filepath.Join(bob, "copied", "sub", "b.txt")); err != nil || string(b) != "archived b" {
		t.Errorf("the copy of the link's target: %q, %v", b, err)
	}
}
