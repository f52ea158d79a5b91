package dav

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/afero"
)

func lockinfoOwner(scope string, ownerText int) string {
	return `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:` + scope + `/></D:lockscope><D:locktype><D:write/></D:locktype>` +
		`<D:owner>` + strings.Repeat("o", ownerText) + `</D:owner></D:lockinfo>`
}

// TestLockCaps: a DAV:owner over MaxLockOwner is refused with 413 and
// creates nothing; Infinite and over-long timeouts are granted
// MaxLockTimeout, and the response says so; a lock beyond
// MaxLocksPerResource or MaxLocksPerUser is refused with 507.
func TestLockCaps(t *testing.T) {
	t.Parallel()
	srv := testServer(t, afero.NewMemMapFs(), Config{Limits: Limits{
		MaxLockOwner: 200, MaxLocksPerResource: 2, MaxLocksPerUser: 4, MaxLockTimeout: time.Hour}})
	do(t, "PUT", srv.URL+"/f", nil, "x")

	got := do(t, "LOCK", srv.URL+"/new", nil, lockinfoOwner("exclusive", 500))
	if got.status != 413 || !strings.Contains(got.body, "DAV:owner") {
		t.Errorf("LOCK with a 500-byte owner = %d %q, want 413 naming DAV:owner", got.status, got.body)
	}
	if got := do(t, "PROPFIND", srv.URL+"/new", map[string]string{"Depth": "0"}, ""); got.status != 404 {
		t.Errorf("the refused LOCK created /new: PROPFIND = %d", got.status)
	}

	for _, tt := range []struct{ timeout, want string }{
		{"Infinite", "Second-3600"},
		{"Second-4100000000", "Second-3600"},
		{"Infinite, Second-60", "Second-3600"},
		{"Second-60", "Second-60"},
	} {
		got := do(t, "LOCK", srv.URL+"/t", map[string]string{"Timeout": tt.timeout}, lockinfoOwner("exclusive", 10))
		if got.status != 200 && got.status != 201 || !strings.Contains(got.body, "<D:timeout>"+tt.want+"</D:timeout>") {
			t.Errorf("LOCK Timeout: %s = %d %s, want %s", tt.timeout, got.status, got.body, tt.want)
		}
		tok := got.header.Get("Lock-Token")
		// A refresh asking for Infinite is capped too.
		if tt.want == "Second-60" {
			got = do(t, "LOCK", srv.URL+"/t", map[string]string{"Timeout": "Infinite", "If": "(" + tok + ")"}, "")
			if got.status != 200 || !strings.Contains(got.body, "<D:timeout>Second-3600</D:timeout>") {
				t.Errorf("refresh with Timeout: Infinite = %d %s, want Second-3600", got.status, got.body)
			}
		}
		do(t, "UNLOCK", srv.URL+"/t", map[string]string{"Lock-Token": tok}, "")
	}

	// Per resource: two shared locks, then 507.
	lockToken(t, srv.URL, "/f", lockinfoOwner("shared", 10), nil)
	lockToken(t, srv.URL, "/f", lockinfoOwner("shared", 10), nil)
	got = do(t, "LOCK", srv.URL+"/f", nil, lockinfoOwner("shared", 10))
	if got.status != 507 || !strings.Contains(got.body, "/f") {
		t.Errorf("third lock on /f = %d %q, want 507", got.status, got.body)
	}
	// Per user (here: anonymous): four in all, then 507.
	lockToken(t, srv.URL, "/g", lockinfoOwner("exclusive", 10), nil)
	lockToken(t, srv.URL, "/h", lockinfoOwner("exclusive", 10), nil)
	got = do(t, "LOCK", srv.URL+"/i", nil, lockinfoOwner("exclusive", 10))
	if got.status != 507 || !strings.Contains(got.body, "user") {
		t.Errorf("fifth lock of the user = %d %q, want 507", got.status, got.body)
	}
	if got := do(t, "PROPFIND", srv.URL+"/i", map[string]string{"Depth": "0"}, ""); got.status != 404 {
		t.Errorf("the refused LOCK created /i: PROPFIND = %d", got.status)
	}
}

// TestDeadPropertyCaps: a property over MaxPropertySize is refused with
// 413, a PROPPATCH that would grow a resource's dead properties past
// MaxDeadBytes with 507, both changing nothing; patches that shrink them
// pass.
func TestDeadPropertyCaps(t *testing.T) {
	t.Parallel()
	srv := testServer(t, afero.NewMemMapFs(), Config{Limits: Limits{MaxPropertySize: 300, MaxDeadBytes: 1000}})
	do(t, "PUT", srv.URL+"/f", nil, "x")
	prop := func(name string, n int) string {
		return `<Z:` + name + `>` + strings.Repeat("v", n) + `</Z:` + name + `>`
	}
	get := `<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`

	got := do(t, "PROPPATCH", srv.URL+"/f", nil, propSet(prop("small", 10)+prop("big", 400)))
	if got.status != 413 || !strings.Contains(got.body, "{urn:z}big") {
		t.Errorf("PROPPATCH with a 400-byte property = %d %q, want 413 naming it", got.status, got.body)
	}
	if body := do(t, "PROPFIND", srv.URL+"/f", map[string]string{"Depth": "0"}, get).body; strings.Contains(body, "small") {
		t.Error("the refused PROPPATCH stored a property")
	}
	for _, name := range []string{"a", "b", "c"} {
		if got := do(t, "PROPPATCH", srv.URL+"/f", nil, propSet(prop(name, 250))); got.status != 207 {
			t.Fatalf("PROPPATCH %s = %d", name, got.status)
		}
	}
	got = do(t, "PROPPATCH", srv.URL+"/f", nil, propSet(prop("d", 250)))
	if got.status != 507 || !strings.Contains(got.body, "1000 bytes") {
		t.Errorf("PROPPATCH past 1000 dead bytes = %d %q, want 507", got.status, got.body)
	}
	// Replacing a property with a smaller one, and removing one, pass.
	if got := do(t, "PROPPATCH", srv.URL+"/f", nil, propSet(prop("a", 10))); got.status != 207 {
		t.Errorf("shrinking a = %d %q", got.status, got.body)
	}
	if got := do(t, "PROPPATCH", srv.URL+"/f", nil, propSet(prop("d", 250))); got.status != 207 {
		t.Errorf("d after shrinking a = %d %q", got.status, got.body)
	}
	body := do(t, "PROPFIND", srv.URL+"/f", map[string]string{"Depth": "0"}, get).body
	for _, name := range []string{"<Z:a", "<Z:b", "<Z:c", "<Z:d"} {
		if !strings.Contains(body, name) {
			t.Errorf("PROPFIND lacks %s", name)
		}
	}
}
