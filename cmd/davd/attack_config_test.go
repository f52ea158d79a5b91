package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// refusedConfig is a configuration davd must refuse before it listens,
// with one line mentioning want.
type refusedConfig struct {
	name string
	args []string
	want string
}

func checkRefused(t *testing.T, tests []refusedConfig) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			listened := false
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			args := append([]string{"davd", "serve", "--addr", "127.0.0.1:0"}, tt.args...)
			// A server that serves what it should refuse is stopped at once.
			err := runApp(ctx, args, io.Discard, io.Discard, func(net.Addr) { listened = true; cancel() })
			if err == nil || listened {
				t.Fatalf("err %v, listened %v", err, listened)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

// TestAdminExposureRefused: a non-loopback --admin-addr without
// --admin-token-file is refused at start with a hint naming that flag; a
// bad token file is refused too. The ports are invalid, so that a server
// that skipped a check fails in Listen with another message.
func TestAdminExposureRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	empty := filepath.Join(dir, "empty")
	spaced := filepath.Join(dir, "spaced")
	for name, content := range map[string]string{short: "0123456789abcde\n", empty: " \n\n", spaced: "0123456789abcdef\n0123456789abcdef\n"} {
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	good := tokenFile(t, testToken)
	checkRefused(t, []refusedConfig{
		{"0.0.0.0", []string{"--storage", "mem://", "--admin-addr", "0.0.0.0:99999"}, "--admin-token-file"},
		{"[::]", []string{"--storage", "mem://", "--admin-addr", "[::]:99999"}, "--admin-token-file"},
		{"a LAN address", []string{"--storage", "mem://", "--admin-addr", "192.0.2.1:99999"}, "--admin-token-file"},
		{"anonymous allowed", []string{"--storage", "mem://", "--allow-anonymous", "--admin-addr", "0.0.0.0:99999"}, "--admin-token-file"},
		{"token too short", []string{"--storage", "mem://", "--admin-addr", "0.0.0.0:99999", "--admin-token-file", short}, "the token has 15 characters, want 16 or more"},
		{"token file empty", []string{"--storage", "mem://", "--admin-addr", "0.0.0.0:99999", "--admin-token-file", empty}, "is empty"},
		{"two tokens", []string{"--storage", "mem://", "--admin-addr", "0.0.0.0:99999", "--admin-token-file", spaced}, "one token"},
		{"token file missing", []string{"--storage", "mem://", "--admin-addr", "0.0.0.0:99999", "--admin-token-file", filepath.Join(dir, "nothing")}, "--admin-token-file: stat"},
		{"token file a directory", []string{"--storage", "mem://", "--admin-addr", "0.0.0.0:99999", "--admin-token-file", dir}, "not a regular file"},
		{"token without listener", []string{"--storage", "mem://", "--admin-token-file", good}, "--admin-token-file needs --admin-addr"},
		// Allowed: the checks pass and Listen fails on the port.
		{"remote with token", []string{"--storage", "mem://", "--admin-token-file", good, "--admin-addr", "0.0.0.0:99999"}, "--admin-addr: listen"},
		{"bare port", []string{"--storage", "mem://", "--admin-addr", ":99999"}, "--admin-addr: listen"},
		{"loopback", []string{"--storage", "mem://", "--admin-addr", "127.0.0.1:99999"}, "--admin-addr: listen"},
		{"localhost", []string{"--storage", "mem://", "--admin-addr", "localhost:99999"}, "--admin-addr: listen"},
	})
}

// hostRequest sends one request to addr naming host in its Host header,
// with hdr lines added, and returns the status.
func hostRequest(t *testing.T, addr, host, method, target string, hdr ...string) int {
	t.Helper()
	body := ""
	if method == "PUT" {
		body = "EVIL"
		hdr = append(hdr, "Content-Length: 4")
	}
	text := method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n"
	for _, h := range hdr {
		text += h + "\r\n"
	}
	code, _ := sendRaw(t, addr, text+"\r\n"+body)
	return code
}

// TestDNSRebinding: a page whose name was rebound to 127.0.0.1 sends its
// requests to davd with its own name as Host. Without credentials only
// loopback names, address literals and --allowed-host names are served:
// everything else gets 421 and changes nothing, whatever the method.
// Behind a trusted proxy, every X-Forwarded-Host entry must pass too, and
// from an untrusted peer the header changes nothing.
func TestDNSRebinding(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "victim"), "precious")
	base := startDavd(t, "--allowed-host", "dav.example.com", "--allowed-host", "*.example.org",
		"--trusted-proxy", "10.9.9.9", dir)
	addr := strings.TrimPrefix(base, "http://")
	_, port, _ := net.SplitHostPort(addr)
	proxied := startDavd(t, "--allowed-host", "dav.example.com", "--trusted-proxy", "127.0.0.1",
		"--storage", dir, "--state", "memory:") // one state has one server
	paddr := strings.TrimPrefix(proxied, "http://")
	files := func() string { // the tree but the state database, which davd writes itself
		m := tree(t, dir)
		for k := range m {
			if strings.HasPrefix(k, ".davd") {
				delete(m, k)
			}
		}
		return fmt.Sprint(m)
	}
	before := files()

	preflight := []string{"Origin: http://rebind.attacker.example", "Access-Control-Request-Method: DELETE"}
	refused := []struct {
		addr, host, method, target string
		hdr                        []string
	}{
		{addr, "rebind.attacker.example", "PUT", "/victim", nil},
		{addr, "rebind.attacker.example", "PUT", "/new", nil},
		{addr, "rebind.attacker.example", "DELETE", "/victim", nil},
		{addr, "rebind.attacker.example", "GET", "/victim", nil},
		{addr, "rebind.attacker.example", "PROPFIND", "/", []string{"Depth: 1"}},
		{addr, "rebind.attacker.example", "MKCOL", "/made", nil},
		{addr, "rebind.attacker.example", "MOVE", "/victim", []string{"Destination: /moved"}},
		{addr, "rebind.attacker.example", "LOCK", "/victim", nil},
		{addr, "rebind.attacker.example", "OPTIONS", "/victim", preflight},
		{addr, "rebind.attacker.example:" + port, "DELETE", "/victim", nil},
		{addr, "REBIND.attacker.example.", "DELETE", "/victim", nil},
		{addr, "localhost.attacker.example", "DELETE", "/victim", nil},
		{addr, "localhost:" + port + ".attacker.example", "DELETE", "/victim", nil},
		{addr, "evil-dav.example.com", "DELETE", "/victim", nil},
		{addr, "example.org", "DELETE", "/victim", nil}, // *.example.org covers subdomains only
		{addr, "intranet", "DELETE", "/victim", nil},
		// A script adds X-Forwarded-Host to its same-origin request.
		{addr, "rebind.attacker.example", "DELETE", "/victim", []string{"X-Forwarded-Host: localhost"}},
		{paddr, "rebind.attacker.example", "DELETE", "/victim", []string{"X-Forwarded-Host: localhost"}},
		// A trusted proxy forwards a rebound name.
		{paddr, "127.0.0.1:8080", "DELETE", "/victim", []string{"X-Forwarded-Host: rebind.attacker.example"}},
		{paddr, "127.0.0.1:8080", "DELETE", "/victim", []string{"X-Forwarded-Host: dav.example.com, rebind.attacker.example"}},
	}
	for _, r := range refused {
		if code := hostRequest(t, r.addr, r.host, r.method, r.target, r.hdr...); code != 421 {
			t.Errorf("%s %s with Host %q %v = %d, want 421", r.method, r.target, r.host, r.hdr, code)
		}
	}
	if after := files(); after != before {
		t.Fatalf("the tree changed:\n%v\n%v", before, after)
	}

	served := []struct {
		addr, host string
		hdr        []string
	}{
		{addr, addr, nil},
		{addr, "localhost:" + port, nil},
		{addr, "localhost", nil},
		{addr, "LocalHost.:" + port, nil},
		{addr, "app.localhost:" + port, nil},
		{addr, "127.9.8.7", nil},
		{addr, "[::1]:" + port, nil},
		{addr, "192.0.2.7:" + port, nil}, // an address literal cannot be rebound
		{addr, "dav.example.com", nil},
		{addr, "DAV.Example.COM.:443", nil},
		{addr, "a.b.example.org", nil},
		// From an untrusted peer, X-Forwarded-Host is ignored.
		{addr, addr, []string{"X-Forwarded-Host: rebind.attacker.example"}},
		{paddr, "127.0.0.1:8080", []string{"X-Forwarded-Host: dav.example.com"}},
		{paddr, "dav.example.com", []string{"X-Forwarded-Host: dav.example.com"}},
	}
	for i, r := range served {
		target := fmt.Sprintf("/ok%d", i)
		if code := hostRequest(t, r.addr, r.host, "PUT", target, r.hdr...); code != 201 {
			t.Errorf("PUT with Host %q %v = %d, want 201", r.host, r.hdr, code)
		}
	}
}

// TestDNSRebindingUsers: with users, requests with credentials are left
// to authentication whatever their Host (a rebound page has none to send),
// and so are requests without when there is no anonymous entry (they get
// 401). With an anonymous entry, credential-less requests are checked.
func TestDNSRebindingUsers(t *testing.T) {
	t.Parallel()
	users := fmt.Sprintf("users:\n  - name: alice\n    password: %q\n", userHash(t, "alice"))
	for _, tt := range []struct {
		name      string
		anonymous bool
		noCreds   int
	}{
		{"users only", false, 401},
		{"anonymous entry", true, 421},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "pub", "doc"), "public")
			cfg := filepath.Join(t.TempDir(), "davd.yaml")
			text := users
			if tt.anonymous {
				text += "anonymous:\n  root: pub\n  permissions: all\n"
			}
			writeFile(t, cfg, text)
			addr := strings.TrimPrefix(startDavd(t, "--config", cfg, "--max-auth-failures", "0", dir), "http://")
			if code := hostRequest(t, addr, "rebind.attacker.example", "GET", "/pub/doc"); code != tt.noCreds {
				t.Errorf("GET without credentials, rebound Host = %d, want %d", code, tt.noCreds)
			}
			if code := hostRequest(t, addr, "rebind.attacker.example", "GET", "/pub/doc", "Authorization: "+basicAuth("alice")); code != 200 {
				t.Errorf("GET with credentials, rebound Host = %d, want 200", code)
			}
			if code := hostRequest(t, addr, "localhost", "GET", "/"); tt.anonymous && code != 200 && code != 207 {
				t.Errorf("anonymous GET on localhost = %d", code)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "pub", "doc")); string(b) != "public" {
				t.Errorf("pub/doc holds %q", b)
			}
		})
	}
}

// TestCORSAnyOriginRefused: --cors-origin * lets every web site use the
// server through its visitors' browsers; without required credentials
// that is everyone's write access, so it is refused.
func TestCORSAnyOriginRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	anon := filepath.Join(dir, "anon.yaml")
	writeFile(t, anon, fmt.Sprintf("users:\n  - name: alice\n    password: %q\nanonymous:\n  permissions: read\n", userHash(t, "alice")))
	checkRefused(t, []refusedConfig{
		{"no users", []string{"--storage", "mem://", "--cors-origin", "*"}, "--cors-origin *"},
		{"among others", []string{"--storage", "mem://", "--cors-origin", "https://app.example.com", "--cors-origin", "*"}, "--cors-origin *"},
		{"anonymous entry", []string{"--storage", "mem://", "--config", anon, "--cors-origin", "*"}, "--cors-origin *"},
		{"bad allowed host", []string{"--storage", "mem://", "--allowed-host", "https://dav.example.com"}, "--allowed-host"},
		{"allowed host with port", []string{"--storage", "mem://", "--allowed-host", "dav.example.com:443"}, "--allowed-host"},
	})
	users := filepath.Join(dir, "users.yaml")
	writeFile(t, users, fmt.Sprintf("users:\n  - name: alice\n    password: %q\n", userHash(t, "alice")))
	startDavd(t, "--storage", "mem://", "--config", users, "--cors-origin", "*")
}

// TestSecondDavdOnSameState: a second davd on the state of a running one
// would ignore its locks (a PUT without the token succeeded). It is
// refused at start with one line naming the lock file, and starts once
// the first one has stopped.
func TestSecondDavdOnSameState(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base, stop := launchDavd(t, dir)
	defer stop()
	if resp, _ := request(t, "PUT", base+"/doc", nil, "v1"); resp.StatusCode != 201 {
		t.Fatalf("PUT = %d", resp.StatusCode)
	}
	resp, _ := request(t, "LOCK", base+"/doc", map[string]string{"Timeout": "Infinite"},
		`<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`)
	if resp.StatusCode != 200 {
		t.Fatalf("LOCK = %d", resp.StatusCode)
	}
	lockFile := filepath.Join(dir, ".davd", "state.db.lock")
	for _, args := range [][]string{
		{dir},
		{"--storage", "mem://", "--state", "sqlite://" + filepath.Join(dir, ".davd", "state.db")},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		listening := make(chan string, 1)
		exited := make(chan error, 1)
		go func() {
			exited <- runApp(ctx, append([]string{"davd", "serve", "--addr", "127.0.0.1:0", "--log-level", "warn"}, args...),
				io.Discard, io.Discard, func(a net.Addr) { listening <- "http://" + a.String() })
		}()
		select {
		case second := <-listening:
			if resp, _ := request(t, "PUT", second+"/doc", nil, "v2"); resp.StatusCode != 423 {
				t.Errorf("the second davd %v answered a PUT without the lock token with %d", args, resp.StatusCode)
			}
			cancel()
			<-exited
			t.Errorf("a second davd %v started on the state of a running one", args)
		case err := <-exited:
			if err == nil || !strings.Contains(err.Error(), "in use") || !strings.Contains(err.Error(), lockFile) || strings.Contains(err.Error(), "\n") {
				t.Errorf("second davd %v: %v; want one line naming %s", args, err, lockFile)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the second davd neither started nor failed")
		}
		cancel()
	}
	stop()
	base = startDavd(t, dir) // released by the first one's exit
	if resp, _ := request(t, "PUT", base+"/doc", nil, "v2"); resp.StatusCode != 423 {
		t.Errorf("after a restart the lock is not enforced: PUT = %d", resp.StatusCode)
	}
}

// TestStateReachableRefused: a configuration that would serve davd's own
// state is refused before it listens: a user root that is a symbolic
// link to STORAGE/.davd (os.Root lets it through: it stays inside the
// storage), given as a sub-directory or as a storage URL, an anonymous
// root likewise, and a --state file inside a served tree (anonymous GET
// of state.db answered 200).
func TestStateReachableRefused(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	data, other := filepath.Join(base, "data"), filepath.Join(base, "other")
	writeFile(t, filepath.Join(data, "home", "bob", "f"), "bob")
	writeFile(t, filepath.Join(other, "f"), "other")
	os.MkdirAll(filepath.Join(data, ".davd"), 0o700)
	if err := os.Symlink("../.davd", filepath.Join(data, "home", "alice")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(".davd", filepath.Join(data, "statelink")); err != nil {
		t.Fatal(err)
	}
	config := func(name, root string, anonymous bool) string {
		file := filepath.Join(base, name+".yaml")
		text := fmt.Sprintf("users:\n  - name: alice\n    password: %q\n    root: %s\n", userHash(t, "alice"), root)
		if anonymous {
			text = fmt.Sprintf("users:\n  - name: bob\n    password: %q\n    root: home/bob\nanonymous:\n  root: %s\n  permissions: all\n", userHash(t, "bob"), root)
		}
		writeFile(t, file, text)
		return file
	}
	checkRefused(t, []refusedConfig{
		{"user root linked to .davd", []string{"--config", config("sub", "home/alice", false), data}, `root of user "alice"`},
		{"user root URL linked to .davd", []string{"--config", config("url", "file://"+filepath.Join(data, "statelink"), false), data}, `root of user "alice"`},
		{"user root URL of .davd inside", []string{"--config", config("urlsub", "file://"+filepath.Join(data, "statelink", "x"), false), data}, "state directory"},
		{"anonymous root linked to .davd", []string{"--config", config("anon", "statelink", true), data}, "root of anonymous"},
		{"--state in the served tree", []string{"--state", "sqlite://" + filepath.Join(data, "state.db"), data}, "inside --storage"},
		{"--state below the served tree", []string{"--state", "sqlite://" + filepath.Join(data, "home", "state.db"), data}, "inside --storage"},
		{"--state in a user's storage URL root", []string{"--state", "sqlite://" + filepath.Join(other, "s", "state.db"),
			"--config", config("other", "file://"+other, false), data}, `inside root of user "alice"`},
	})
	// Allowed: the state in a .davd, or outside every served tree; a
	// root above the storage sees its .davd only as a reserved name.
	for _, args := range [][]string{
		{"--state", "sqlite://" + filepath.Join(data, ".davd", "other.db"), data},
		{"--state", "sqlite://" + filepath.Join(base, "state", "state.db"), data},
		{"--config", config("parent", "file://"+base, false), data},
	} {
		launched, stop := launchDavd(t, args...)
		if launched != "" {
			stop()
		}
	}
}
