package dav

import (
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/afero"
)

func namedPropfind(props ...string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop>`)
	for _, p := range props {
		b.WriteString("<D:" + p + "/>")
	}
	b.WriteString("</D:prop></D:propfind>")
	return b.String()
}

// TestPropfindCacheAnswers sends each body twice, so that the second is
// answered from the cache, and checks that both answers are the same and
// that bodies are never confused with one another.
func TestPropfindCacheAnswers(t *testing.T) {
	t.Parallel()
	fs := afero.NewMemMapFs()
	if err := afero.WriteFile(fs, "/f.txt", []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := testServer(t, fs, Config{})
	tests := []struct {
		name, body string
		status     int
		has, hasNo string
	}{
		{"length", namedPropfind("getcontentlength"), 207, "<D:getcontentlength>5<", "getcontenttype"},
		{"type", namedPropfind("getcontenttype"), 207, "<D:getcontenttype>text/plain", "getcontentlength"},
		{"propname", `<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>`, 207, "<D:getetag/>", "<D:getcontentlength>5<"},
		{"empty is allprop", "", 207, "<D:getcontentlength>5<", "<D:getetag/>"},
		{"malformed", `<D:propfind xmlns:D="DAV:"><D:prop>`, 400, "", "multistatus"},
		{"undeclared prefix", `<D:propfind><D:allprop/></D:propfind>`, 400, "", "multistatus"},
		{"two modes", `<D:propfind xmlns:D="DAV:"><D:allprop/><D:propname/></D:propfind>`, 400, "", "multistatus"},
		{"large", namedPropfind(slices.Repeat([]string{"getcontentlength"}, 200)...), 207, "<D:getcontentlength>5<", "getcontenttype"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var first string
			for i := range 2 {
				resp := do(t, "PROPFIND", srv.URL+"/f.txt", map[string]string{"Depth": "0"}, tt.body)
				if resp.status != tt.status {
					t.Fatalf("request %d: status %d, want %d: %s", i, resp.status, tt.status, resp.body)
				}
				if tt.has != "" && !strings.Contains(resp.body, tt.has) {
					t.Errorf("request %d: body lacks %q: %s", i, tt.has, resp.body)
				}
				if strings.Contains(resp.body, tt.hasNo) {
					t.Errorf("request %d: body has %q: %s", i, tt.hasNo, resp.body)
				}
				if i == 0 {
					first = resp.body
				} else if tt.status == 207 && resp.body != first {
					t.Errorf("the repeated request was answered differently:\n%s\n%s", first, resp.body)
				}
			}
		})
	}
}

// TestPropfindCacheBounds checks what the cache keeps: only bodies that
// parsed, only small ones, never more than propfindCacheEntries, and a
// cached request equal to a fresh parse.
func TestPropfindCacheBounds(t *testing.T) {
	t.Parallel()
	var c propfindCache
	parse := func(body string) (propfindRequest, error) {
		return c.parse(httptest.NewRequest("PROPFIND", "/", strings.NewReader(body)))
	}
	for i := range 3 * propfindCacheEntries {
		if _, err := parse(namedPropfind("p" + strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
		if n := len(c.entries); n > propfindCacheEntries {
			t.Fatalf("%d entries after %d bodies, want at most %d", n, i+1, propfindCacheEntries)
		}
	}
	truncated := `<D:propfind xmlns:D="DAV:">`
	if _, err := parse(truncated); err == nil {
		t.Fatal("a truncated body parsed")
	}
	if _, ok := c.entries[truncated]; ok {
		t.Error("a body that failed to parse was cached")
	}
	big := namedPropfind(slices.Repeat([]string{"getetag"}, 300)...)
	if len(big) <= propfindCacheBody {
		t.Fatalf("test body of %d bytes is not over the limit", len(big))
	}
	if _, err := parse(big); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.entries[big]; ok {
		t.Error("a body over propfindCacheBody was cached")
	}
	body := namedPropfind("getcontentlength", "resourcetype")
	fresh, err := parse(body)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.entries[body]; !ok {
		t.Fatal("a small body that parsed was not cached")
	}
	cached, err := parse(body)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fresh, cached) || cached.mode != findNamed || len(cached.names) != 2 {
		t.Errorf("cached %+v, fresh %+v", cached, fresh)
	}
}
