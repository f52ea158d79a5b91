package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"davd/storage/s3fs/s3test"
)

// s3Tree3 is a tree of 3 levels: 4 collections of 3 of 2, each of the 24
// leaves holding 50 files (1,200 keys: two pages of a flat listing), one
// empty collection (a marker only), and files at every level.
func s3Tree3() map[string]string {
	keys := map[string]string{"top.txt": "top", "empty/": ""} // a marker: see seedS3
	for a := range 4 {
		keys[fmt.Sprintf("a%d/readme", a)] = "a"
		for b := range 3 {
			keys[fmt.Sprintf("a%d/b%d/note", a, b)] = "b"
			for c := range 2 {
				for f := range 50 {
					keys[fmt.Sprintf("a%d/b%d/c%d/f%02d.txt", a, b, c, f)] = fmt.Sprintf("file %d %d %d %d", a, b, c, f)
				}
			}
		}
	}
	return keys
}

// seedS3 stores tree in the bucket: the files behind the server's back
// (fast), the markers through it (an empty directory of versitygw's
// posix backend is no object).
func seedS3(t *testing.T, s *s3test.Server, tree map[string]string) {
	t.Helper()
	files := map[string]string{}
	for k, v := range tree {
		if strings.HasSuffix(k, "/") {
			s3Put(t, s, k, "")
		} else {
			files[k] = v
		}
	}
	s.Seed(files)
}

// propfindResponses returns the <D:response> elements of a PROPFIND's
// 207, sorted (RFC 4918 leaves their order free).
func propfindResponses(t *testing.T, url, depth string) []string {
	t.Helper()
	code, _, body := s3Request(t, "PROPFIND", url, "", "Depth", depth)
	if code != http.StatusMultiStatus {
		t.Fatalf("PROPFIND %s Depth %s: %d\n%s", url, depth, code, body)
	}
	rs := regexp.MustCompile(`(?s)<D:response>.*?</D:response>`).FindAllString(body, -1)
	slices.Sort(rs)
	return rs
}

// TestS3PropfindFlat: a Depth infinity PROPFIND on a bucket lists the
// tree in one flat listing, one ListObjects request per page of keys
// rather than one per collection, and answers what the collections'
// Depth 1 listings (with a delimiter) answer, and what directory storage
// answers for the same tree.
func TestS3PropfindFlat(t *testing.T) {
	t.Parallel()
	s := s3test.Start(t)
	tree := s3Tree3()
	seedS3(t, s, tree)
	var lists atomic.Int64
	via := s.Watching(t, func(r *http.Request) {
		if s3test.IsList(r) {
			lists.Add(1)
		}
	})
	base := startDavd(t, "--storage", s.URLVia(via, ""), "--state", "sqlite://"+filepath.Join(t.TempDir(), "state.db"))

	before := lists.Load()
	deep := propfindResponses(t, base+"/", "infinity")
	n := lists.Load() - before
	const dirs = 4 + 4*3 + 4*3*2 + 1 // below the root
	pages := int64(len(tree)+dirs+999) / 1000
	// One Stat of the root, then the pages (versitygw may list each
	// directory as a marker too).
	if n > pages+1 || n < 2 {
		t.Errorf("Depth infinity PROPFIND of %d collections (%d objects) made %d list requests, want at most %d (the pages and a Stat)", dirs+1, len(tree), n, pages+1)
	}
	t.Logf("%d list requests for %d collections, %d objects", n, dirs+1, len(tree))
	if want := 1 + dirs + len(tree) - 1; len(deep) != want { // "empty/" is a collection
		t.Errorf("Depth infinity: %d responses, want %d", len(deep), want)
	}

	// The same responses as the collections' own Depth 1 listings.
	var shallow []string
	seen := map[string]bool{}
	hrefRE := regexp.MustCompile(`<D:href>([^<]*)</D:href>`)
	var walk func(href string)
	walk = func(href string) {
		for _, r := range propfindResponses(t, base+href, "1") {
			h := hrefRE.FindStringSubmatch(r)[1]
			if seen[h] {
				continue
			}
			seen[h] = true
			shallow = append(shallow, r)
			if strings.HasSuffix(h, "/") && h != href {
				walk(h)
			}
		}
	}
	walk("/")
	slices.Sort(shallow)
	if !slices.Equal(deep, shallow) {
		t.Errorf("Depth infinity differs from the Depth 1 listings:\n%s", diffLines(deep, shallow))
	}

	// The same resources, types and sizes as directory storage.
	dir := t.TempDir()
	for k, v := range tree {
		p := filepath.Join(dir, filepath.FromSlash(k))
		if strings.HasSuffix(k, "/") {
			os.MkdirAll(p, 0o755)
			continue
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fileBase := startDavd(t, "--storage", dir, "--state", "sqlite://"+filepath.Join(t.TempDir(), "state.db"))
	strip := func(rs []string) []string {
		varying := regexp.MustCompile(`<D:(getlastmodified|getetag|creationdate)>[^<]*</D:[a-z]+>|<D:(getlastmodified|getetag|creationdate)/>`)
		out := make([]string, len(rs))
		for i, r := range rs {
			out[i] = varying.ReplaceAllString(r, "")
		}
		slices.Sort(out)
		return out
	}
	if a, b := strip(deep), strip(propfindResponses(t, fileBase+"/", "infinity")); !slices.Equal(a, b) {
		t.Errorf("Depth infinity on S3 differs from directory storage:\n%s", diffLines(a, b))
	}
}

// diffLines shows the first elements that are in one list and not the
// other.
func diffLines(a, b []string) string {
	in := func(xs []string) map[string]bool {
		m := map[string]bool{}
		for _, x := range xs {
			m[x] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for _, x := range a {
		if !mb[x] && len(out) < 5 {
			out = append(out, "only in first:  "+x)
		}
	}
	for _, x := range b {
		if !ma[x] && len(out) < 10 {
			out = append(out, "only in second: "+x)
		}
	}
	return fmt.Sprintf("%d vs %d responses\n%s", len(a), len(b), strings.Join(out, "\n"))
}
