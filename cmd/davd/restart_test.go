package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func request(t *testing.T, method, url string, hdr map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// TestStateSurvivesRestart writes a property and a lock, restarts davd on
// the same directory, and checks both are still there and enforced.
func TestStateSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base, stop := launchDavd(t, "--max-lock-timeout", "0", dir) // Infinite locks must survive
	request(t, "PUT", base+"/doc.txt", nil, "v1")
	resp, _ := request(t, "PROPPATCH", base+"/doc.txt", nil,
		`<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:author xml:lang="en">Ada</Z:author></D:prop></D:set></D:propertyupdate>`)
	if resp.StatusCode != 207 {
		t.Fatalf("PROPPATCH = %d", resp.StatusCode)
	}
	resp, _ = request(t, "LOCK", base+"/doc.txt", map[string]string{"Timeout": "Infinite"},
		`<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>ada</D:owner></D:lockinfo>`)
	token := strings.Trim(resp.Header.Get("Lock-Token"), "<>")
	if resp.StatusCode != 200 || token == "" {
		t.Fatalf("LOCK = %d, token %q", resp.StatusCode, token)
	}
	stop()

	if _, err := os.Stat(filepath.Join(dir, ".davd", "state.db")); err != nil {
		t.Fatalf("state file: %v", err)
	}
	base = startDavd(t, "--max-lock-timeout", "0", dir)
	_, body := request(t, "PROPFIND", base+"/doc.txt", map[string]string{"Depth": "0"}, "")
	for _, want := range []string{`xmlns:Z="urn:z" xml:lang="en">Ada</Z:author>`, token, "<D:timeout>Infinite</D:timeout>", "ada</D:owner>"} {
		if !strings.Contains(body, want) {
			t.Errorf("after restart PROPFIND lacks %q:\n%s", want, body)
		}
	}
	if resp, _ := request(t, "PUT", base+"/doc.txt", nil, "v2"); resp.StatusCode != 423 {
		t.Errorf("PUT without the token after restart = %d, want 423", resp.StatusCode)
	}
	if resp, _ := request(t, "PUT", base+"/doc.txt", map[string]string{"If": "(<" + token + ">)"}, "v2"); resp.StatusCode != 204 {
		t.Errorf("PUT with the token after restart = %d, want 204", resp.StatusCode)
	}
	// The state directory is never reachable.
	for _, m := range []string{"GET", "PROPFIND", "DELETE", "PUT", "MKCOL"} {
		if resp, _ := request(t, m, base+"/.davd/state.db", nil, ""); resp.StatusCode != 404 {
			t.Errorf("%s /.davd/state.db = %d, want 404", m, resp.StatusCode)
		}
	}
	if _, body := request(t, "PROPFIND", base+"/", map[string]string{"Depth": "1"}, ""); strings.Contains(body, ".davd") {
		t.Error("PROPFIND lists .davd")
	}
}

// TestCorruptStateRefusesToServe: a damaged state file stops davd with a
// clear message and is left exactly as it was.
func TestCorruptStateRefusesToServe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, ".davd"), 0o700)
	junk := bytes.Repeat([]byte("not a database "), 100)
	db := filepath.Join(dir, ".davd", "state.db")
	os.WriteFile(db, junk, 0o600)
	var out bytes.Buffer
	err := runApp(context.Background(), []string{"davd", "serve", "--addr", "127.0.0.1:0", dir}, &out, &out, nil)
	if err == nil || !strings.Contains(err.Error(), "state") || !strings.Contains(err.Error(), db) {
		t.Fatalf("serve on a corrupt state file: %v", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error is not one line: %q", err)
	}
	if b, _ := os.ReadFile(db); !bytes.Equal(b, junk) {
		t.Error("the corrupt state file was changed")
	}
}
