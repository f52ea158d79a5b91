package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// userRequest sends method to url as user (no credentials when user is
// "") and returns the status and the WWW-Authenticate header.
func userRequest(t *testing.T, method, url, user, password, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
}

// cheapHash is a bcrypt hash of password at the lowest cost, for tests.
func cheapHash(t *testing.T, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// replaceFile replaces file's content at once (a rename), as editors and
// configuration management do.
func replaceFile(t *testing.T, file, content string) {
	t.Helper()
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
}

// reloadAndWait sends SIGHUP to p and waits for the log line of the
// reload it causes: the n-th line matching re.
func reloadAndWait(t *testing.T, p *davdProcess, re string, n int) string {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	rx := regexp.MustCompile(re)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := rx.FindAllString(p.logs.String(), -1); len(m) >= n {
			return m[n-1]
		}
	}
	t.Fatalf("no %d lines match %s after SIGHUP:\n%s", n, re, p.logs)
	return ""
}

// slowPut is a PUT whose body is sent in two parts on a connection of its
// own, with Expect: 100-continue: the server's 100 proves the request has
// passed authentication and its handler reads the body.
type slowPut struct {
	conn net.Conn
	r    *bufio.Reader
	rest string
}

func startSlowPut(t *testing.T, base, path, user, password, first, rest string) *slowPut {
	t.Helper()
	addr := strings.TrimPrefix(base, "http://")
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	req, _ := http.NewRequest("PUT", base+path, nil)
	req.SetBasicAuth(user, password)
	fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
		path, addr, req.Header.Get("Authorization"), len(first)+len(rest))
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
		t.Fatalf("PUT %s as %s: got %q (%v), want 100 Continue", path, user, line, err)
	}
	if _, err := r.ReadString('\n'); err != nil { // the blank line after the 100
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, first); err != nil {
		t.Fatal(err)
	}
	return &slowPut{conn: conn, r: r, rest: rest}
}

// finish sends the rest of the body and returns the status.
func (p *slowPut) finish(t *testing.T) int {
	t.Helper()
	if _, err := io.WriteString(p.conn, p.rest); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(p.r, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestSIGHUPReloadsUsers runs davd as a process with alice and carol,
// replaces the config file with one where bob takes alice's place (and her
// root, a storage URL with a state of its own) and the realm changes, and
// sends SIGHUP: bob signs in, alice gets 401, and a PUT alice started
// before the reload completes under the old configuration. A broken
// config, and one without users, are then refused with one error line
// each, and the previous configuration keeps serving.
func TestSIGHUPReloadsUsers(t *testing.T) {
	t.Parallel()
	dir, own := t.TempDir(), t.TempDir()
	cfgFile := filepath.Join(t.TempDir(), "davd.yaml")
	alice, bob, carol := cheapHash(t, "alice-pw"), cheapHash(t, "bob-pw"), cheapHash(t, "carol-pw")
	replaceFile(t, cfgFile, fmt.Sprintf(`max-xml-body: 1MiB
users:
  - name: alice
    password: '%s'
    root: file://%s
  - name: carol
    password: '%s'
`, alice, own, carol))
	p := startProcess(t, "serve", "--addr", "127.0.0.1:0", "--log-level", "info", "--config", cfgFile, dir)
	var base string
	select {
	case base = <-p.url:
	case err := <-p.exit:
		t.Fatalf("davd exited: %v\n%s", err, p.logs)
	case <-time.After(20 * time.Second):
		t.Fatalf("davd did not serve:\n%s", p.logs)
	}
	if code, _ := userRequest(t, "PUT", base+"/a.txt", "alice", "alice-pw", "alice's"); code != http.StatusCreated {
		t.Fatalf("PUT as alice = %d", code)
	}
	if code, _ := userRequest(t, "PROPFIND", base+"/", "bob", "bob-pw", ""); code != http.StatusUnauthorized {
		t.Fatalf("bob before the reload = %d, want 401", code)
	}
	slow := startSlowPut(t, base, "/slow.txt", "alice", "alice-pw", "first half, ", "second half")

	replaceFile(t, cfgFile, fmt.Sprintf(`max-xml-body: 2MiB
realm: Team files
users:
  - name: bob
    password: '%s'
    root: file://%s
  - name: carol
    password: '%s'
`, bob, own, carol))
	line := reloadAndWait(t, p, `.*msg="configuration reloaded".*`, 1)
	if !strings.Contains(line, "users=2") || !strings.Contains(line, "not_applied=[max-xml-body]") {
		t.Errorf("reload line does not give the users or the settings not applied: %s", line)
	}
	if code, _ := userRequest(t, "GET", base+"/a.txt", "bob", "bob-pw", ""); code != http.StatusOK {
		t.Errorf("bob, in alice's former root, after the reload: GET = %d, want 200", code)
	}
	code, challenge := userRequest(t, "GET", base+"/a.txt", "alice", "alice-pw", "")
	if code != http.StatusUnauthorized {
		t.Errorf("alice after the reload = %d, want 401", code)
	}
	if !strings.Contains(challenge, `realm="Team files"`) {
		t.Errorf("challenge after the reload = %q, want the new realm", challenge)
	}
	if code, _ := userRequest(t, "PROPFIND", base+"/", "carol", "carol-pw", ""); code != http.StatusMultiStatus {
		t.Errorf("carol after the reload: PROPFIND = %d", code)
	}
	// Alice's PUT entered before the reload: it finishes as hers.
	if code := slow.finish(t); code != http.StatusCreated {
		t.Errorf("PUT alice began before the reload = %d, want 201", code)
	}
	if got, err := os.ReadFile(filepath.Join(own, "slow.txt")); err != nil || string(got) != "first half, second half" {
		t.Errorf("the PUT begun before the reload stored %q, %v", got, err)
	}

	for i, broken := range []struct{ content, reason string }{
		{"users:\n  - name: dave\n    password: plain-text\n", "not a bcrypt hash"},
		{"users: [\n", "config file"},
		{"", "no users and no anonymous entry"},
	} {
		replaceFile(t, cfgFile, broken.content)
		line := reloadAndWait(t, p, `.*msg="configuration reload failed.*`, i+1)
		if !strings.Contains(line, "level=ERROR") || !strings.Contains(line, broken.reason) {
			t.Errorf("config %q: reload failure logged as %s, want an error giving %q", broken.content, line, broken.reason)
		}
		if code, _ := userRequest(t, "GET", base+"/a.txt", "bob", "bob-pw", ""); code != http.StatusOK {
			t.Errorf("config %q refused: bob = %d, want 200 (the previous configuration)", broken.content, code)
		}
		if code, _ := userRequest(t, "GET", base+"/a.txt", "", "", ""); code != http.StatusUnauthorized {
			t.Errorf("config %q refused: a request without credentials = %d, want 401", broken.content, code)
		}
	}
	if n := strings.Count(p.logs.String(), "configuration reload failed"); n != 3 {
		t.Errorf("%d reload failure lines for 3 refused configs:\n%s", n, p.logs)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exit:
		if err != nil {
			t.Errorf("davd exited with %v after SIGTERM\n%s", err, p.logs)
		}
	case <-time.After(10 * time.Second):
		t.Error("davd did not exit after SIGTERM")
	}
}
