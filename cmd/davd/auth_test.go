package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Passwords of the test users; hashes are made at bcrypt's lowest cost so
// that the tests stay fast.
var (
	hashOnce sync.Once
	hashes   = map[string]string{}
)

func userHash(t *testing.T, name string) string {
	t.Helper()
	hashOnce.Do(func() {
		for _, n := range []string{"alice", "bob", "carol", "dave", "frank", "erin", "grace", "henry"} {
			h, err := bcrypt.GenerateFromPassword([]byte(n+"-pw"), bcrypt.MinCost)
			if err != nil {
				panic(err)
			}
			hashes[n] = string(h)
		}
	})
	return hashes[name]
}

func basicAuth(user string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+user+"-pw"))
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// rawResult is one answer read off a raw connection.
type rawResult struct {
	status int
	header http.Header
	body   string
}

// rawDo sends requests exactly as written, nothing cleaned or re-encoded,
// on one connection, and reads an answer to each.
func rawDo(t *testing.T, addr string, requests ...string) []rawResult {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Generous: bcrypt under the race detector on a loaded machine is slow,
	// and this is a guard against hanging, not a speed test.
	conn.SetDeadline(time.Now().Add(time.Minute))
	if _, err := io.WriteString(conn, strings.Join(requests, "")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	var out []rawResult
	for _, req := range requests {
		method, _, _ := strings.Cut(req, " ")
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("reading the answer to %q: %v", strings.SplitN(req, "\r\n", 2)[0], err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out = append(out, rawResult{resp.StatusCode, resp.Header, string(b)})
	}
	return out
}

// rawRequest formats one HTTP/1.1 request; hdr is "Name: value" lines.
func rawRequest(addr, method, target, body string, hdr ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, target, addr)
	for _, h := range hdr {
		b.WriteString(strings.ReplaceAll(h, "HOST", addr) + "\r\n")
	}
	if body != "" || method == "PUT" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n" + body)
	return b.String()
}

// tree returns every file below dir with its content ("->target" for a
// symbolic link, "/" for a directory), to prove that nothing changed.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			m[rel] = "->" + target
		case d.IsDir():
			m[rel] = "/"
		default:
			b, _ := os.ReadFile(p)
			m[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// attackServer starts davd with users whose roots sit side by side, and
// a user on a storage of her own, with symbolic links planted in alice's
// root that point into bob's, into erin's, and up to the storage itself.
type attackServer struct {
	addr, data, erinDir string
}

func startAttackServer(t *testing.T, extra ...string) attackServer {
	t.Helper()
	dir := t.TempDir()
	s := attackServer{data: filepath.Join(dir, "data"), erinDir: filepath.Join(dir, "erin")}
	alice, bob := filepath.Join(s.data, "home", "alice"), filepath.Join(s.data, "home", "bob")
	writeFile(t, filepath.Join(bob, "secret"), "bob's secret")
	writeFile(t, filepath.Join(bob, "sub", "deep"), "bob's deep secret")
	writeFile(t, filepath.Join(alice, "mine"), "alice's")
	writeFile(t, filepath.Join(alice, "dir", "f"), "alice's f")
	writeFile(t, filepath.Join(alice, "archive", "old"), "archived")
	writeFile(t, filepath.Join(s.data, "shared", "doc"), "shared doc")
	writeFile(t, filepath.Join(s.erinDir, "diary"), "erin's diary")
	for name, target := range map[string]string{
		"rel": "../bob", "abs": bob, "file": "../bob/secret", "absfile": filepath.Join(bob, "secret"),
		"up": "../..", "ext": s.erinDir, "dir/deeprel": "../../bob/sub",
	} {
		if err := os.Symlink(target, filepath.Join(alice, name)); err != nil {
			t.Fatal(err)
		}
	}
	cfg := fmt.Sprintf(`# attack test configuration
storage: %s
users:
  - name: alice
    password: %q
    root: home/alice
    permissions: all
    rules:
      - path: /archive
        permissions: read
  - name: bob
    password: %q
    root: /home/bob/
  - name: carol
    password: %q
    root: shared
    permissions: read
  - name: dave
    password: %q
    root: shared
    permissions: [read, create, update, delete]
  - name: frank
    password: %q
    root: shared
    permissions: all
  - name: erin
    password: %q
    root: file://%s
    permissions: all
  - name: grace
    password: %q
    root: file://%s/shared
  - name: henry
    password: %q
    root: file://%s
`, s.data, userHash(t, "alice"), userHash(t, "bob"), userHash(t, "carol"), userHash(t, "dave"), userHash(t, "frank"),
		userHash(t, "erin"), s.erinDir, userHash(t, "grace"), s.data, userHash(t, "henry"), s.data)
	file := filepath.Join(dir, "davd.yaml")
	writeFile(t, file, cfg)
	base := startDavd(t, append([]string{"--config", file, "--max-auth-failures", "0"}, extra...)...)
	s.addr = strings.TrimPrefix(base, "http://")
	return s
}

// everyMethod is every method a client might try, known or not.
var everyMethod = []string{"OPTIONS", "GET", "HEAD", "PUT", "DELETE", "MKCOL", "COPY", "MOVE", "PROPFIND",
	"PROPPATCH", "LOCK", "UNLOCK", "POST", "PATCH", "TRACE", "SEARCH", "FOO", "get", "Put"}

// TestUnauthenticatedEveryMethod: a server with users answers 401 with a
// challenge to every method, on every path, whatever the Authorization
// header holds if it does not prove a user, and writes nothing.
func TestUnauthenticatedEveryMethod(t *testing.T) {
	t.Parallel()
	s := startAttackServer(t, "--realm", "attack test")
	before := tree(t, s.data)
	badAuth := []string{
		"", // none
		"Authorization: ",
		"Authorization: Basic",
		"Authorization: Basic ",
		"Authorization: Basic !!!!",
		"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("alice")),
		"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(":")),
		"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("alice:")),
		"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("alice:bob-pw")),
		"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("nobody:nobody-pw")),
		"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("alice :alice-pw")),
		"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("alice\x00:alice-pw")),
		"Authorization: Bearer " + base64.StdEncoding.EncodeToString([]byte("alice:alice-pw")),
		"Authorization: Digest username=\"alice\", realm=\"attack test\", response=\"x\"",
		"Authorization: Basic " + strings.Repeat("QUFB", 4000),
		"Authorization: " + basicAuth("nobody") + "\r\nAuthorization: " + basicAuth("alice"),
		"Proxy-Authorization: " + basicAuth("alice"),
		"X-Forwarded-User: alice",
		"X-Remote-User: alice",
	}
	for _, auth := range badAuth {
		var reqs []string
		for _, m := range everyMethod {
			hdr := []string{"Destination: http://HOST/stolen", "Depth: infinity", "Overwrite: T", "Lock-Token: <urn:uuid:x>"}
			if auth != "" {
				hdr = append(hdr, auth)
			}
			body := ""
			if m == "PUT" || m == "Put" || m == "POST" || m == "PATCH" {
				body = "planted"
			}
			targets := []string{"/mine"}
			if auth == "" {
				targets = []string{"/", "/mine", "/new", "/home/bob/secret"}
			}
			for _, target := range targets {
				reqs = append(reqs, rawRequest(s.addr, m, target, body, hdr...))
			}
		}
		reqs = append(reqs, rawRequest(s.addr, "OPTIONS", "*", ""))
		for i, res := range rawDo(t, s.addr, reqs...) {
			line := strings.SplitN(reqs[i], "\r\n", 2)[0]
			if res.status != http.StatusUnauthorized {
				t.Errorf("%s with %.40q: %d, want 401 (%s)", line, auth, res.status, res.body)
				continue
			}
			if got := res.header.Get("WWW-Authenticate"); got != `Basic realm="attack test", charset="UTF-8"` {
				t.Errorf("%s: WWW-Authenticate %q", line, got)
			}
		}
	}
	if after := tree(t, s.data); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("unauthenticated requests changed the storage:\nbefore %v\nafter  %v", before, after)
	}
}

// TestOptionsThenWrite: authentication is per request, not per
// connection: an OPTIONS (answered or not) followed on the same
// connection by a write without credentials gets 401, and method
// overrides do not turn a harmless method into a write.
func TestOptionsThenWrite(t *testing.T) {
	t.Parallel()
	s := startAttackServer(t)
	a := "Authorization: " + basicAuth("alice")
	res := rawDo(t, s.addr,
		rawRequest(s.addr, "OPTIONS", "/", ""),
		rawRequest(s.addr, "PUT", "/planted1", "x"),
		rawRequest(s.addr, "OPTIONS", "/", "", a),
		rawRequest(s.addr, "PUT", "/planted2", "x"),
		rawRequest(s.addr, "DELETE", "/mine", ""),
		rawRequest(s.addr, "OPTIONS", "*", "", a),
		rawRequest(s.addr, "MOVE", "/mine", "", "Destination: http://HOST/moved"),
		rawRequest(s.addr, "PUT", "/planted3", "x", "Expect: 100-continue"),
	)
	want := []int{401, 401, 200, 401, 401, 200, 401, 401}
	for i, r := range res {
		if r.status != want[i] {
			t.Errorf("request %d: %d, want %d (%s)", i, r.status, want[i], r.body)
		}
	}
	c := "Authorization: " + basicAuth("carol") // read-only
	for _, o := range []string{"X-HTTP-Method-Override: DELETE", "X-HTTP-Method: DELETE", "X-Method-Override: PUT"} {
		for _, m := range []string{"POST", "GET", "OPTIONS"} {
			r := rawDo(t, s.addr, rawRequest(s.addr, m, "/doc", "x", c, o))[0]
			if r.status == http.StatusNoContent || r.status == http.StatusCreated {
				t.Errorf("carol %s /doc with %s: %d", m, o, r.status)
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(s.data, "shared", "doc")); err != nil || string(b) != "shared doc" {
		t.Errorf("/doc changed: %q %v", b, err)
	}
	for _, f := range []string{"planted1", "planted2", "planted3", "moved"} {
		if _, err := os.Lstat(filepath.Join(s.data, "home", "alice", f)); err == nil {
			t.Errorf("%s was written", f)
		}
	}
	if _, err := os.Stat(filepath.Join(s.data, "home", "alice", "mine")); err != nil {
		t.Errorf("/mine is gone: %v", err)
	}
}

// TestCrossUserAttacks: alice, authenticated, tries to read or write bob's
// root (a sibling directory) and erin's (another storage) by path, by
// encoded dot segments, by Destination, through symbolic links planted in
// her own root, and with bob's lock token. None may touch their files.
func TestCrossUserAttacks(t *testing.T) {
	t.Parallel()
	s := startAttackServer(t)
	bobDir := filepath.Join(s.data, "home", "bob")
	bobBefore, erinBefore := tree(t, bobDir), tree(t, s.erinDir)

	// bob locks his secret first: alice must not be able to use the token.
	lock := rawDo(t, s.addr, rawRequest(s.addr, "LOCK", "/secret", lockBody, "Authorization: "+basicAuth("bob")))[0]
	if lock.status != 200 {
		t.Fatalf("bob LOCK /secret = %d %s", lock.status, lock.body)
	}
	tok := lock.header.Get("Lock-Token")

	a := "Authorization: " + basicAuth("alice")
	dst := func(d string) string { return "Destination: " + d }
	tests := []struct {
		name, method, target, body string
		hdr                        []string
		want                       int
	}{
		{"bob's path inside alice's root", "GET", "/home/bob/secret", "", nil, 404},
		{"sibling name", "GET", "/bob/secret", "", nil, 404},
		{"dot segments", "GET", "/../bob/secret", "", nil, 400},
		{"dot segments twice", "GET", "/../../home/bob/secret", "", nil, 400},
		{"encoded dots", "GET", "/%2e%2e/bob/secret", "", nil, 400},
		{"encoded dots upper case", "GET", "/%2E%2E/%2E%2E/home/bob/secret", "", nil, 400},
		{"half encoded", "GET", "/.%2e/bob/secret", "", nil, 400},
		{"encoded slash", "GET", "/..%2fbob%2fsecret", "", nil, 400},
		{"encoded slash deeper", "GET", "/dir/..%2f..%2fbob/secret", "", nil, 400},
		{"double encoded", "GET", "/%252e%252e/bob/secret", "", nil, 404},
		{"backslashes", "GET", "/..%5cbob%5csecret", "", nil, 404}, // one name, in alice's root
		{"NUL", "GET", "/mine%00/../../bob/secret", "", nil, 400},
		{"overlong UTF-8 dots", "GET", "/%c0%ae%c0%ae/bob/secret", "", nil, 400},
		{"double slash", "GET", "//home/bob/secret", "", nil, 404},
		{"absolute-form with bob's path", "GET", "http://HOST/../bob/secret", "", nil, 400},
		{"relative symlink to bob's root", "GET", "/rel/secret", "", nil, 404},
		{"absolute symlink to bob's root", "GET", "/abs/secret", "", nil, 404},
		{"relative symlink to bob's file", "GET", "/file", "", nil, 404},
		{"absolute symlink to bob's file", "GET", "/absfile", "", nil, 404},
		{"symlink up to the storage", "GET", "/up/home/bob/secret", "", nil, 404},
		{"symlink to erin's storage", "GET", "/ext/diary", "", nil, 404},
		{"symlinked parent, deeper", "GET", "/dir/deeprel/deep", "", nil, 404},
		{"PROPFIND through a symlink", "PROPFIND", "/rel", "", []string{"Depth: 1"}, 404},
		{"PUT through a symlinked parent", "PUT", "/rel/planted", "x", nil, 403},
		{"PUT through the storage link", "PUT", "/up/home/bob/planted", "x", nil, 403},
		{"MKCOL through a symlink", "MKCOL", "/abs/newdir", "", nil, 409},
		{"DELETE through a symlink", "DELETE", "/rel/secret", "", nil, 404},
		{"DELETE a link to bob's file", "DELETE", "/file", "", nil, 404},
		{"PROPPATCH through a symlink", "PROPPATCH", "/absfile", propPatchBody, nil, 404},
		{"LOCK through a symlinked parent", "LOCK", "/rel/x", lockBody, nil, 403},
		{"COPY out through a symlink", "COPY", "/rel/secret", "", []string{dst("/stolen")}, 404},
		{"COPY a link to bob's file", "COPY", "/file", "", []string{dst("/stolen")}, 404},
		{"MOVE through a symlink", "MOVE", "/abs/secret", "", []string{dst("/stolen")}, 404},
		{"COPY the storage link", "COPY", "/up", "", []string{dst("/stolen")}, 404},
		{"Destination with dot segments", "COPY", "/mine", "", []string{dst("http://HOST/../bob/x")}, 400},
		{"Destination with encoded dots", "COPY", "/mine", "", []string{dst("http://HOST/%2e%2e/bob/x")}, 400},
		{"Destination with encoded slash", "MOVE", "/mine", "", []string{dst("http://HOST/..%2fbob%2fx")}, 400},
		{"Destination path-only dots", "COPY", "/mine", "", []string{dst("/../../home/bob/x")}, 400},
		{"Destination named like bob's root", "COPY", "/mine", "", []string{dst("/home/bob/x")}, 409},
		{"Destination through a symlink", "COPY", "/mine", "", []string{dst("http://HOST/rel/x")}, 409},
		{"Destination over a link to bob's file", "COPY", "/mine", "", []string{dst("/file"), "Overwrite: T"}, 405},
		{"MOVE Destination through a symlink", "MOVE", "/mine", "", []string{dst("/abs/x")}, 409},
		{"Destination on another host", "COPY", "/mine", "", []string{dst("http://bob.example/secret")}, 502},
		{"Destination with a backslash", "COPY", "/mine", "", []string{dst(`http://HOST/..\bob\x`)}, 201}, // one name, in alice's root
		{"Destination with NUL", "COPY", "/mine", "", []string{dst("http://HOST/x%00/../../bob")}, 400},
		{"Destination into .davd", "COPY", "/mine", "", []string{dst("/.davd/x")}, 403},
		{"bob's lock token", "PUT", "/mine", "x", []string{"If: (" + tok + ")"}, 412},
		{"bob's lock token, tagged with his path", "PUT", "/mine", "x", []string{"If: <http://HOST/home/bob/secret> (" + tok + ")"}, 412},
		{"refresh bob's lock", "LOCK", "/mine", "", []string{"If: (" + tok + ")"}, 412},
		{"UNLOCK with bob's token", "UNLOCK", "/secret", "", []string{"Lock-Token: " + tok}, 409},
		{"UNLOCK with bob's token on her own file", "UNLOCK", "/mine", "", []string{"Lock-Token: " + tok}, 409},
		{"rule: read-only archive", "PUT", "/archive/new", "x", nil, 403},
		{"rule: DELETE above the archive", "DELETE", "/archive", "", nil, 403},
		{"rule: MOVE into the archive", "MOVE", "/dir", "", []string{dst("/archive/dir")}, 403},
		{"rule: COPY over archived file", "COPY", "/dir/f", "", []string{dst("/archive/old")}, 403},
		{"rule: DELETE whose subtree holds the archive", "DELETE", "/", "", nil, 403},
		{"rule: reading the archive is fine", "GET", "/archive/old", "", nil, 200},
	}
	for _, tt := range tests {
		hdr := append([]string{a}, tt.hdr...)
		r := rawDo(t, s.addr, rawRequest(s.addr, tt.method, strings.ReplaceAll(tt.target, "HOST", s.addr), tt.body, hdr...))[0]
		if r.status != tt.want {
			t.Errorf("%s: %s %s = %d, want %d (%s)", tt.name, tt.method, tt.target, r.status, tt.want, strings.TrimSpace(r.body))
		}
		if strings.Contains(r.body, "bob's") || strings.Contains(r.body, "erin's") {
			t.Errorf("%s: the answer leaks another user's content: %s", tt.name, r.body)
		}
	}
	// A depth-infinity PROPFIND of alice's root lists none of the links
	// that lead out of it.
	r := rawDo(t, s.addr, rawRequest(s.addr, "PROPFIND", "/", "", a, "Depth: infinity"))[0]
	if r.status != 207 || !strings.Contains(r.body, "/dir/f") {
		t.Errorf("PROPFIND / = %d %s", r.status, r.body)
	}
	for _, leak := range []string{"/rel", "/abs", "/up/", "/ext", "deeprel", "diary", "/sub/"} {
		if strings.Contains(r.body, leak) {
			t.Errorf("PROPFIND / lists %s:\n%s", leak, r.body)
		}
	}

	if b, err := os.ReadFile(filepath.Join(s.data, "home", "alice", `..\bob\x`)); err != nil || string(b) != "alice's" {
		t.Errorf(`the copy to ..\bob\x is not in alice's root: %q, %v`, b, err)
	}
	if after := tree(t, bobDir); fmt.Sprint(after) != fmt.Sprint(bobBefore) {
		t.Errorf("bob's root changed:\nbefore %v\nafter  %v", bobBefore, after)
	}
	if after := tree(t, s.erinDir); fmt.Sprint(after) != fmt.Sprint(erinBefore) {
		t.Errorf("erin's root changed:\nbefore %v\nafter  %v", erinBefore, after)
	}
	// bob's lock survived alice's attempts and still protects his file.
	b := "Authorization: " + basicAuth("bob")
	if r := rawDo(t, s.addr, rawRequest(s.addr, "PUT", "/secret", "y", b))[0]; r.status != 423 {
		t.Errorf("bob's lock is gone: PUT without token = %d", r.status)
	}
	if r := rawDo(t, s.addr, rawRequest(s.addr, "UNLOCK", "/secret", "", b, "Lock-Token: "+tok))[0]; r.status != 204 {
		t.Errorf("bob UNLOCK = %d %s", r.status, r.body)
	}
	// erin's own storage works, and is hers alone.
	e := "Authorization: " + basicAuth("erin")
	if r := rawDo(t, s.addr, rawRequest(s.addr, "GET", "/diary", "", e))[0]; r.status != 200 || r.body != "erin's diary" {
		t.Errorf("erin GET /diary = %d %q", r.status, r.body)
	}
}

const lockBody = `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`
const propPatchBody = `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><Z:a xmlns:Z="urn:z">1</Z:a></D:prop></D:set></D:propertyupdate>`

// TestSharedRootUsers: users who share a root share its files and locks,
// but not their lock tokens, and a read-only user among them gets 403 for
// every change.
func TestSharedRootUsers(t *testing.T) {
	t.Parallel()
	s := startAttackServer(t)
	c, d, f := "Authorization: "+basicAuth("carol"), "Authorization: "+basicAuth("dave"), "Authorization: "+basicAuth("frank")
	for _, w := range []struct{ method, target, body string }{
		{"PUT", "/doc", "x"}, {"PUT", "/new", "x"}, {"DELETE", "/doc", ""}, {"MKCOL", "/col", ""},
		{"MOVE", "/doc", ""}, {"COPY", "/doc", ""}, {"PROPPATCH", "/doc", propPatchBody},
		{"LOCK", "/doc", lockBody}, {"LOCK", "/new", lockBody}, {"UNLOCK", "/doc", ""},
	} {
		r := rawDo(t, s.addr, rawRequest(s.addr, w.method, w.target, w.body, c, "Destination: http://HOST/copy", "Lock-Token: <urn:uuid:x>"))[0]
		if r.status != 403 {
			t.Errorf("read-only carol %s %s = %d, want 403 (%s)", w.method, w.target, r.status, r.body)
		}
	}
	if r := rawDo(t, s.addr, rawRequest(s.addr, "GET", "/doc", "", c))[0]; r.status != 200 || r.body != "shared doc" {
		t.Errorf("carol GET /doc = %d %q", r.status, r.body)
	}

	lock := rawDo(t, s.addr, rawRequest(s.addr, "LOCK", "/doc", lockBody, d))[0]
	if lock.status != 200 {
		t.Fatalf("dave LOCK = %d %s", lock.status, lock.body)
	}
	tok := lock.header.Get("Lock-Token")
	for _, tt := range []struct {
		name   string
		req    string
		status int
	}{
		{"frank with dave's token", rawRequest(s.addr, "PUT", "/doc", "f", f, "If: ("+tok+")"), 412},
		{"frank submitting dave's token", rawRequest(s.addr, "PUT", "/doc", "f", f, "If: ("+tok+") (Not <DAV:no-lock>)"), 423},
		{"frank deleting", rawRequest(s.addr, "DELETE", "/doc", "", f, "If: ("+tok+") (Not <DAV:no-lock>)"), 423},
		{"frank unlocking", rawRequest(s.addr, "UNLOCK", "/doc", "", f, "Lock-Token: "+tok), 403},
		// grace's root is the same directory given as a storage URL, and
		// henry's the whole storage: they share the state, so dave's lock
		// holds for them too.
		{"grace, same directory by URL", rawRequest(s.addr, "PUT", "/doc", "g", "Authorization: "+basicAuth("grace")), 423},
		{"henry, the whole storage by URL", rawRequest(s.addr, "PUT", "/shared/doc", "h", "Authorization: "+basicAuth("henry")), 423},
		{"henry cannot reach the state", rawRequest(s.addr, "GET", "/.davd/state.db", "", "Authorization: "+basicAuth("henry")), 404},
		{"dave writing", rawRequest(s.addr, "PUT", "/doc", "d", d, "If: ("+tok+")"), 204},
	} {
		if r := rawDo(t, s.addr, tt.req)[0]; r.status != tt.status {
			t.Errorf("%s: %d, want %d (%s)", tt.name, r.status, tt.status, r.body)
		}
	}
	// The lock is recorded as dave's in the shared state.
	r := rawDo(t, s.addr, rawRequest(s.addr, "PROPFIND", "/doc", `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/></D:prop></D:propfind>`, f, "Depth: 0"))[0]
	if !strings.Contains(r.body, strings.Trim(tok, "<>")) {
		t.Errorf("frank cannot see dave's lock: %s", r.body)
	}
}

func TestAuthThrottling(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "davd.yaml")
	writeFile(t, file, fmt.Sprintf("users:\n  - name: alice\n    password: %q\n", userHash(t, "alice")))
	base := startDavd(t, "--config", file, "--storage", "mem://", "--max-auth-failures", "3", "--auth-failure-window", "1m")
	addr := strings.TrimPrefix(base, "http://")
	for i := range 3 {
		auth := "Authorization: Basic " + base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "alice:guess%d", i))
		if r := rawDo(t, addr, rawRequest(addr, "GET", "/", "", auth))[0]; r.status != 401 {
			t.Fatalf("guess %d: %d", i, r.status)
		}
	}
	for _, auth := range []string{"Authorization: " + basicAuth("alice"), "X-None: 1"} {
		r := rawDo(t, addr, rawRequest(addr, "GET", "/", "", auth))[0]
		secs, err := strconv.Atoi(r.header.Get("Retry-After"))
		if r.status != 429 || err != nil || secs < 55 || secs > 60 {
			t.Errorf("after 3 failures, %s: %d Retry-After %q", auth, r.status, r.header.Get("Retry-After"))
		}
	}
}

// TestExposureRefused: without users, a non-loopback address needs
// --allow-anonymous. The addresses have an invalid port, so that a server
// that skipped the check would fail in Listen with another message.
func TestExposureRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	withUsers := filepath.Join(dir, "users.yaml")
	writeFile(t, withUsers, fmt.Sprintf("users:\n  - name: alice\n    password: %q\n", userHash(t, "alice")))
	anonOnly := filepath.Join(dir, "anon.yaml")
	writeFile(t, anonOnly, "anonymous:\n  permissions: read\n")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--addr", "0.0.0.0:99999"}, "--allow-anonymous"},
		{[]string{"--addr", ":99999"}, "--allow-anonymous"},
		{[]string{"--addr", "[::]:99999"}, "--allow-anonymous"},
		{[]string{"--addr", "192.0.2.1:99999"}, "--allow-anonymous"},
		{[]string{"--addr", "example.com:99999"}, "--allow-anonymous"},
		{[]string{"--addr", "0.0.0.0:99999", "--config", anonOnly}, "--allow-anonymous"},
		{[]string{"--addr", "0.0.0.0"}, "--addr"},
		// Allowed: the check passes and Listen fails on the port.
		{[]string{"--addr", "0.0.0.0:99999", "--allow-anonymous"}, "--addr: listen"},
		{[]string{"--addr", "0.0.0.0:99999", "--config", withUsers}, "--addr: listen"},
		{[]string{"--addr", "127.0.0.1:99999"}, "--addr: listen"},
		{[]string{"--addr", "[::1]:99999"}, "--addr: listen"},
		{[]string{"--addr", "localhost:99999"}, "--addr: listen"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			listened := false
			err := runApp(context.Background(), append([]string{"davd", "serve", "--storage", "mem://"}, tt.args...),
				io.Discard, io.Discard, func(net.Addr) { listened = true })
			if err == nil || listened {
				t.Fatalf("err %v, listened %v", err, listened)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

// TestUsersConfigRefused: a config file that would leave a user with
// other rights than written, or hold a plaintext password, stops davd
// before it listens, with one line naming the problem.
func TestUsersConfigRefused(t *testing.T) {
	t.Parallel()
	h := userHash(t, "alice")
	user := func(extra string) string {
		return fmt.Sprintf("users:\n  - name: alice\n    password: %q\n%s", h, extra)
	}
	tests := []struct {
		name, yaml, want string
	}{
		{"plaintext password", "users:\n  - name: alice\n    password: alice-pw\n", "not a bcrypt hash"},
		{"no password", "users:\n  - name: alice\n", "not a bcrypt hash"},
		{"misspelt key", user("    permision: read\n"), "permision"},
		{"misspelt top-level key", "user:\n  - name: alice\n", `unknown key "user"`},
		{"unknown permission", user("    permissions: write\n"), `unknown permission "write"`},
		{"empty permissions", user("    permissions: []\n"), "no permission"},
		{"rule without permissions", user("    rules:\n      - path: /x\n"), "no permission"},
		{"relative rule path", user("    rules:\n      - path: x\n        permissions: read\n"), "must start with /"},
		{"bad glob", user("    rules:\n      - pattern: /[x\n        permissions: read\n"), "syntax error in pattern"},
		{"root climbing", user("    root: ../other\n"), "climbs"},
		{"root in .davd", user("    root: .davd\n"), "reserved"},
		{"colon in name", fmt.Sprintf("users:\n  - name: a:b\n    password: %q\n", h), "colon"},
		{"duplicate", user("") + fmt.Sprintf("  - name: alice\n    password: %q\n", h), "twice"},
		{"anonymous with a password", user("anonymous:\n  password: x\n  permissions: read\n"), "anonymous"},
		{"anonymous without permissions", user("anonymous:\n  root: pub\n"), "must state its permissions"},
		{"users not a list", "users: alice\n", "config file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "davd.yaml")
			writeFile(t, file, tt.yaml)
			listened := false
			err := runApp(context.Background(), []string{"davd", "serve", "--addr", "127.0.0.1:0", "--storage", "mem://", "--config", file},
				io.Discard, io.Discard, func(net.Addr) { listened = true })
			if err == nil || listened {
				t.Fatalf("err %v, listened %v", err, listened)
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q does not mention %q on one line", err, tt.want)
			}
			if strings.Contains(err.Error(), h) {
				t.Errorf("error repeats the password hash: %q", err)
			}
		})
	}
}

// TestHashPasswordRoundTrip: a hash printed by davd hash-password from
// stdin signs the user in.
func TestHashPasswordRoundTrip(t *testing.T) {
	t.Parallel()
	run := func(stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		appStart.Lock()
		defer appStart.Unlock()
		app := newApp(&out, io.Discard, nil)
		app.Reader = strings.NewReader(stdin)
		err := app.RunContext(context.Background(), append([]string{"davd", "hash-password"}, args...))
		return out.String(), err
	}
	out, err := run("correct horse: battery staple\r\nignored second line\n", "--cost", "4")
	if err != nil {
		t.Fatal(err)
	}
	hash := strings.TrimSpace(out)
	if !regexp.MustCompile(`^\$2a\$04\$[./A-Za-z0-9]{53}$`).MatchString(hash) || strings.Count(out, "\n") != 1 {
		t.Fatalf("hash-password printed %q", out)
	}
	for _, bad := range []struct{ stdin, want string }{
		{"", "empty password"}, {"\n", "empty password"}, {strings.Repeat("x", 73) + "\n", "72"},
	} {
		if _, err := run(bad.stdin, "--cost", "4"); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("stdin %.10q: error %v, want it to mention %q", bad.stdin, err, bad.want)
		}
	}
	if _, err := run("pw\n", "--cost", "99"); err == nil {
		t.Error("cost 99 accepted")
	}

	file := filepath.Join(t.TempDir(), "davd.yaml")
	writeFile(t, file, fmt.Sprintf("users:\n  - name: horse\n    password: '%s'\n", hash))
	base := startDavd(t, "--config", file, "--storage", "mem://")
	addr := strings.TrimPrefix(base, "http://")
	good := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("horse:correct horse: battery staple"))
	bad := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("horse:correct horse: battery staple\r"))
	res := rawDo(t, addr, rawRequest(addr, "MKCOL", "/x", "", good), rawRequest(addr, "MKCOL", "/y", "", bad))
	if res[0].status != 201 || res[1].status != 401 {
		t.Errorf("sign-in with the hashed password: %d, with a stray CR: %d", res[0].status, res[1].status)
	}
}

// TestOptionsStarWithoutUsers: with the server's own "OPTIONS *" answer
// turned off (so that it asks for credentials when there are users), a
// server without users still answers it.
func TestOptionsStarWithoutUsers(t *testing.T) {
	t.Parallel()
	addr := strings.TrimPrefix(startDavd(t, "--storage", "mem://"), "http://")
	if r := rawDo(t, addr, rawRequest(addr, "OPTIONS", "*", ""))[0]; r.status != 200 || r.header.Get("DAV") == "" {
		t.Errorf("OPTIONS * = %d, DAV %q", r.status, r.header.Get("DAV"))
	}
}

// TestExampleConfig: davd.example.yaml is accepted as it stands, names
// every visible flag, and its users are asked for credentials.
func TestExampleConfig(t *testing.T) {
	t.Parallel()
	example, err := os.ReadFile("davd.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range serveFlags() {
		name := f.Names()[0]
		if name == "config" || !visible(f) {
			continue
		}
		if !regexp.MustCompile(`(?m)^#?` + regexp.QuoteMeta(name) + `:`).Match(example) {
			t.Errorf("davd.example.yaml does not show --%s", name)
		}
	}
	data := t.TempDir()
	addr := strings.TrimPrefix(startDavd(t, "--config", "davd.example.yaml", "--storage", data), "http://")
	if r := rawDo(t, addr, rawRequest(addr, "PROPFIND", "/", ""))[0]; r.status != 401 {
		t.Errorf("unauthenticated PROPFIND = %d", r.status)
	}
	for _, d := range []string{"home/alice", "home/bob"} {
		if fi, err := os.Stat(filepath.Join(data, d)); err != nil || !fi.IsDir() {
			t.Errorf("root %s not created: %v", d, err)
		}
	}
}

// TestAnonymousEntry: with an anonymous entry, requests without
// credentials are served from its root with its permissions; a change it
// may not make, or a file only alice has, asks for credentials, which then
// work.
func TestAnonymousEntry(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	writeFile(t, filepath.Join(data, "public", "readme"), "public")
	writeFile(t, filepath.Join(data, "home", "alice", "mine"), "alice's")
	file := filepath.Join(dir, "davd.yaml")
	writeFile(t, file, fmt.Sprintf("users:\n  - name: alice\n    password: %q\n    root: home/alice\nanonymous:\n  root: public\n  permissions: read\n", userHash(t, "alice")))
	addr := strings.TrimPrefix(startDavd(t, "--config", file, "--storage", data, "--realm", "pub"), "http://")
	a := "Authorization: " + basicAuth("alice")
	res := rawDo(t, addr,
		rawRequest(addr, "GET", "/readme", ""),
		rawRequest(addr, "GET", "/mine", ""),
		rawRequest(addr, "PUT", "/readme", "x"),
		rawRequest(addr, "GET", "/mine", "", a),
		rawRequest(addr, "GET", "/readme", "", "Authorization: Basic "+base64.StdEncoding.EncodeToString([]byte("alice:wrong"))),
	)
	for i, want := range []struct {
		status int
		body   string
	}{{200, "public"}, {401, ""}, {401, ""}, {200, "alice's"}, {401, ""}} {
		if res[i].status != want.status || (want.body != "" && res[i].body != want.body) {
			t.Errorf("request %d: %d %q, want %d %q", i, res[i].status, res[i].body, want.status, want.body)
		}
	}
	if got := res[2].header.Get("WWW-Authenticate"); !strings.Contains(got, `realm="pub"`) {
		t.Errorf("anonymous PUT: WWW-Authenticate %q", got)
	}
}
