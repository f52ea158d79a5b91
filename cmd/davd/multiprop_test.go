package main

import (
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var (
	hrefRe     = regexp.MustCompile(`^<D:href>([^<]*)</D:href>`)
	lockrootRe = regexp.MustCompile(`<D:lockroot><D:href>([^<]*)</D:href>`)
	originRe   = regexp.MustCompile(`<Z:origin[^>]*>([^<]*)</Z:origin>`)
)

// propfindFacts sums up a 207 answer: for each href, its Z:origin values
// and the roots of the locks it shows, sorted.
func propfindFacts(t *testing.T, body string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, resp := range strings.Split(body, "<D:response>")[1:] {
		m := hrefRe.FindStringSubmatch(resp)
		if m == nil {
			t.Fatalf("response without href: %.200s", resp)
		}
		var facts []string
		for _, o := range originRe.FindAllStringSubmatch(resp, -1) {
			facts = append(facts, "origin="+o[1])
		}
		for _, l := range lockrootRe.FindAllStringSubmatch(resp, -1) {
			facts = append(facts, "lock@"+l[1])
		}
		if strings.Contains(resp, " 500 ") {
			facts = append(facts, "500")
		}
		slices.Sort(facts)
		out[m[1]] = strings.Join(facts, " ")
	}
	return out
}

// TestPostgresPropfindBatch: davd on PostgreSQL state reads the state of
// the members of a listed collection in one query for properties and one
// for locks; its PROPFIND answers must be those of davd on SQLite state
// after the same requests: each member with its own properties, the
// locks rooted at it and the deep locks above it, for Depth 1 and
// infinity, allprop and named properties with and without lockdiscovery.
func TestPostgresPropfindBatch(t *testing.T) {
	t.Parallel()
	pg := startInstances(t, 1, "", 0).nodes[0].base
	sqlite := spawnDavd(t, t.TempDir()).base
	for _, base := range []string{pg, sqlite} {
		for _, d := range []string{"/a", "/a/b", "/a/b/c", "/z"} {
			if st, _, body := sendReq("MKCOL", base+d, nil, ""); st != http.StatusCreated {
				t.Fatalf("MKCOL %s = %d %s", d, st, body)
			}
		}
		for i := range 40 {
			dir := []string{"/a", "/a/b", "/a/b/c", "/z"}[i%4]
			name := fmt.Sprintf("%s/f%02d", dir, i)
			sendReq("PUT", base+name, nil, "x")
			if i%3 == 0 {
				if st, _, body := sendReq("PROPPATCH", base+name, nil, propXML(name)); st != http.StatusMultiStatus {
					t.Fatalf("PROPPATCH %s = %d %s", name, st, body)
				}
			}
		}
		sendReq("PROPPATCH", base+"/a/b", nil, propXML("dir b"))
		shared := strings.Replace(raceLockXML, "exclusive", "shared", 1)
		for _, l := range []struct {
			path, depth, body string
		}{
			{"/a", "infinity", shared},
			{"/a/b", "0", shared},
			{"/a/b/f01", "0", shared},
			{"/a/b/c", "infinity", shared},
			{"/a/b/c/f02", "0", shared},
			{"/z/f03", "0", raceLockXML},
		} {
			if st, _, body := sendReq("LOCK", base+l.path, map[string]string{"Depth": l.depth}, l.body); st != http.StatusOK {
				t.Fatalf("LOCK %s = %d %s", l.path, st, body)
			}
		}
	}
	named := func(lockdiscovery bool) string {
		s := `<D:propfind xmlns:D="DAV:"><D:prop><Z:origin xmlns:Z="urn:z"/><D:getcontentlength/>`
		if lockdiscovery {
			s += `<D:lockdiscovery/>`
		}
		return s + `</D:prop></D:propfind>`
	}
	for _, q := range []struct {
		path, depth, body string
	}{
		{"/", "infinity", ""},
		{"/", "infinity", `<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`},
		{"/a/b", "1", named(true)},
		{"/a/b/c", "1", named(true)},
		{"/", "infinity", named(false)},
		{"/z", "1", ""},
		{"/a/b/f01", "0", ""},
	} {
		var facts []map[string]string
		for _, base := range []string{pg, sqlite} {
			st, _, body := sendReq("PROPFIND", base+q.path, map[string]string{"Depth": q.depth}, q.body)
			if st != http.StatusMultiStatus {
				t.Fatalf("PROPFIND %s = %d %s", q.path, st, body)
			}
			facts = append(facts, propfindFacts(t, body))
		}
		if !maps.Equal(facts[0], facts[1]) {
			for _, href := range slices.Sorted(maps.Keys(facts[1])) {
				if facts[0][href] != facts[1][href] {
					t.Errorf("PROPFIND %s Depth %s %.40q: %s: postgres %q, sqlite %q", q.path, q.depth, q.body, href, facts[0][href], facts[1][href])
				}
			}
			if len(facts[0]) != len(facts[1]) {
				t.Errorf("PROPFIND %s: %d responses on postgres, %d on sqlite", q.path, len(facts[0]), len(facts[1]))
			}
		}
		if q.path == "/" && q.body == "" && facts[1]["/a/b/c/f02"] != "lock@/a lock@/a/b/c lock@/a/b/c/f02" {
			t.Errorf("the comparison proves little: /a/b/c/f02 shows %q", facts[1]["/a/b/c/f02"])
		}
	}
}
