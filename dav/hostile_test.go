package dav

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/spf13/afero"
)

// TestHostileXML sends bodies built to exhaust memory or time to every
// method that parses XML and checks the refusal: 400 or 413, quickly, and
// with allocation bounded by the body limit rather than by what the body
// would expand to. It does not run in parallel, so that the allocation
// counters measure this test's requests and little else.
func TestHostileXML(t *testing.T) {
	laughs, err := os.ReadFile("../testdata/xml/billion-laughs.xml")
	if err != nil {
		t.Fatal(err)
	}
	const mib = 1 << 20
	many := func(n int, unit string) string { return strings.Repeat(unit, n) }
	var manyAttrs strings.Builder
	for i := range 50000 {
		fmt.Fprintf(&manyAttrs, " a%d=''", i)
	}
	bodies := []struct {
		name, body string
		want       int
		stream     bool // chunked: only the streaming limit can stop it
	}{
		{"billion laughs", string(laughs), 400, false},
		{"external entity", `<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><D:propfind xmlns:D="DAV:">&x;</D:propfind>`, 400, false},
		{"undefined entities", `<D:propfind xmlns:D="DAV:">` + many(100000, "&a;") + `</D:propfind>`, 400, false},
		{"deep nesting", many(100000, "<a>") + many(100000, "</a>"), 400, false},
		{"deep nesting unclosed", many(300000, "<a>"), 400, false},
		{"many elements", "<D:propfind xmlns:D=\"DAV:\"><D:prop>" + many(100000, "<a/>") + "</D:prop></D:propfind>", 400, false},
		{"huge element name", "<" + many(900000, "n") + "/>", 400, false},
		{"huge prefix", "<" + many(900000, "p") + ":n/>", 400, false},
		{"huge namespace", `<D:propfind xmlns:D="` + many(900000, "n") + `"/>`, 400, false},
		{"many attributes", "<D:propfind xmlns:D=\"DAV:\"" + manyAttrs.String() + "/>", 400, false},
		{"many namespace declarations", "<D:propfind xmlns:D=\"DAV:\"" + strings.ReplaceAll(manyAttrs.String(), " a", " xmlns:a") + "/>", 400, false},
		{"body over the limit", "<D:propfind xmlns:D=\"DAV:\">" + many(2*mib, " ") + "</D:propfind>", 413, false},
		{"comments over the limit", "<D:propfind xmlns:D=\"DAV:\"><!--" + many(mib, "-x") + "--></D:propfind>", 413, false},
		{"chunked body over the limit", "<D:propfind xmlns:D=\"DAV:\">" + many(mib/4, "<!-- -->") + "</D:propfind>", 413, true},
	}
	fs := afero.NewMemMapFs()
	afero.WriteFile(fs, "/x", []byte("target"), 0o644) // PROPPATCH parses only for an existing resource
	srv := testServer(t, fs, Config{})
	client := &http.Client{Timeout: 10 * time.Second}
	for _, b := range bodies {
		for _, method := range []string{"PROPFIND", "PROPPATCH", "LOCK"} {
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			var body io.Reader = strings.NewReader(b.body)
			if b.stream {
				body = chunked{body}
			}
			req, _ := http.NewRequest(method, srv.URL+"/x", body)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", method, b.name, err)
			}
			reason, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			runtime.GC()
			var settled runtime.MemStats
			runtime.ReadMemStats(&settled)
			allocated := after.TotalAlloc - before.TotalAlloc
			retained := int64(settled.HeapAlloc) - int64(before.HeapAlloc)
			t.Logf("%-9s %-28s %d in %6.1fms, allocated %5.1f MiB, retained %+6.2f MiB (body %.2f MiB)",
				method, b.name, resp.StatusCode, float64(took.Microseconds())/1000,
				float64(allocated)/mib, float64(retained)/mib, float64(len(b.body))/mib)
			if resp.StatusCode != b.want {
				t.Errorf("%s %s = %d %q, want %d", method, b.name, resp.StatusCode, reason, b.want)
			}
			if len(reason) == 0 {
				t.Errorf("%s %s: refusal without a reason", method, b.name)
			}
			// The client's copy of the body and the server's 1 MiB buffer
			// are most of this; an expansion would be orders larger.
			if allocated > 48*mib {
				t.Errorf("%s %s allocated %d MiB", method, b.name, allocated/mib)
			}
			if retained > 8*mib {
				t.Errorf("%s %s retained %d MiB after the request", method, b.name, retained/mib)
			}
			if took > 2*time.Second {
				t.Errorf("%s %s took %v", method, b.name, took)
			}
		}
	}
}
