package main

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// TestAttackAuthConcurrentGuesses: a client sends 99 wrong passwords and
// the right one at the same moment, each on its own connection. At most
// --max-auth-failures of them may be checked (answered 401); the rest get
// 429, and so does the right password afterwards, for the rest of the
// window.
func TestAttackAuthConcurrentGuesses(t *testing.T) {
	t.Parallel()
	const limit, burst = 5, 100
	dir := t.TempDir()
	file := filepath.Join(dir, "davd.yaml")
	writeFile(t, file, fmt.Sprintf("users:\n  - name: alice\n    password: %q\n", userHash(t, "alice")))
	addr := strings.TrimPrefix(startDavd(t, "--config", file, "--storage", "mem://",
		"--max-auth-failures", fmt.Sprint(limit), "--auth-failure-window", "1m"), "http://")

	guess := func(pw string) string {
		return rawRequest(addr, "GET", "/", "", "Connection: close",
			"Authorization: Basic "+base64.StdEncoding.EncodeToString([]byte("alice:"+pw)))
	}
	conns := make([]net.Conn, burst)
	for i := range conns {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Minute))
		conns[i] = c
	}
	statuses := make([]int, burst)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	for i, c := range conns {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			req := guess(fmt.Sprint("guess", i))
			if i == burst/2 {
				req = guess("alice-pw")
			}
			ready.Done()
			<-start
			if _, err := io.WriteString(c, req); err != nil {
				return
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()

	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	if count[401] > limit {
		t.Errorf("%d of %d simultaneous guesses were checked (401), want at most %d; statuses %v", count[401], burst, limit, count)
	}
	if count[401]+count[429]+count[200] != burst || count[200] > 1 {
		t.Errorf("statuses %v, want only 401, 429 and at most one 200", count)
	}
	if r := rawDo(t, addr, guess("alice-pw"))[0]; r.status != 429 {
		t.Errorf("the right password after the burst: %d, want 429 for the rest of the window", r.status)
	}
}

// TestAttackAuthTimingEnumeration: a failed sign-in takes as long for a
// user whose hash is cheap (bcrypt cost 4) as for a name that does not
// exist, which costs the dearest hash configured (cost 6 here). Before, the
// cheap user's failures were several times faster, which told an attacker
// the name existed. The fastest of several tries is compared, which the
// machine's load disturbs least; before the fix it was a quarter of the other.
func TestAttackAuthTimingEnumeration(t *testing.T) {
	t.Parallel()
	cheap, err := bcrypt.GenerateFromPassword([]byte("cheap-pw"), 4)
	if err != nil {
		t.Fatal(err)
	}
	// Cost 8, not less: each bcrypt call has a fixed part, which the
	// cheap user's top-up calls pay several times; at cost 8 it is a few
	// percent, at cost 6 enough to fail on a loaded machine.
	dear, err := bcrypt.GenerateFromPassword([]byte("dear-pw"), 8)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "davd.yaml")
	writeFile(t, file, fmt.Sprintf("users:\n  - name: cheap\n    password: %q\n  - name: dear\n    password: %q\n", cheap, dear))
	addr := strings.TrimPrefix(startDavd(t, "--config", file, "--storage", "mem://", "--max-auth-failures", "0"), "http://")

	// Tries alternate between the names, so that a change in the
	// machine's load falls on both.
	times := map[string][]time.Duration{}
	for range 9 {
		for _, name := range []string{"cheap", "nobody"} {
			auth := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(name+":wrong"))
			start := time.Now()
			if r := rawDo(t, addr, rawRequest(addr, "GET", "/", "", auth))[0]; r.status != 401 {
				t.Fatalf("%s: %d", name, r.status)
			}
			times[name] = append(times[name], time.Since(start))
		}
	}
	known, unknown := slices.Min(times["cheap"]), slices.Min(times["nobody"])
	t.Logf("failed sign-in: known cheap user %v, unknown name %v", known, unknown)
	if known < unknown*6/10 || unknown < known*6/10 {
		t.Errorf("failed sign-in of the cost-4 user takes %v, of an unknown name %v: the time tells which names exist", known, unknown)
	}
}

// TestAttackAnonymousProbeChallenged: with an anonymous entry, a request
// without credentials for something the anonymous tree does not have is
// challenged (401 with WWW-Authenticate), not answered 404: the client
// would never send the credentials that find it in a user's tree. What
// the anonymous user can see is still served, and a signed-in user's 404
// stays a 404.
func TestAttackAnonymousProbeChallenged(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	writeFile(t, filepath.Join(data, "public", "readme"), "public")
	writeFile(t, filepath.Join(data, "home", "alice", "docs", "mine"), "alice's")
	file := filepath.Join(dir, "davd.yaml")
	writeFile(t, file, fmt.Sprintf("users:\n  - name: alice\n    password: %q\n    root: home/alice\nanonymous:\n  root: public\n  permissions: read\n", userHash(t, "alice")))
	addr := strings.TrimPrefix(startDavd(t, "--config", file, "--storage", data, "--realm", "pub"), "http://")
	a := "Authorization: " + basicAuth("alice")
	propfind := `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`
	for _, tt := range []struct {
		method, target string
		hdr            []string
		status         int
	}{
		{"GET", "/readme", nil, 200},
		{"PROPFIND", "/", []string{"Depth: 1"}, 207},
		{"GET", "/docs/mine", nil, 401},
		{"PROPFIND", "/docs/", []string{"Depth: 1"}, 401},
		{"PROPFIND", "/docs/mine", []string{"Depth: 0"}, 401},
		{"GET", "/nowhere", nil, 401},
		{"GET", "/docs/mine", []string{a}, 200},
		{"PROPFIND", "/docs/", []string{a, "Depth: 1"}, 207},
		{"GET", "/nowhere", []string{a}, 404},
	} {
		body := ""
		if tt.method == "PROPFIND" {
			body = propfind
		}
		r := rawDo(t, addr, rawRequest(addr, tt.method, tt.target, body, tt.hdr...))[0]
		if r.status != tt.status {
			t.Errorf("%s %s %q: %d, want %d (%s)", tt.method, tt.target, tt.hdr, r.status, tt.status, strings.TrimSpace(r.body))
			continue
		}
		if got := r.header.Get("WWW-Authenticate"); (r.status == 401) != strings.Contains(got, `realm="pub"`) {
			t.Errorf("%s %s %q: %d with WWW-Authenticate %q", tt.method, tt.target, tt.hdr, r.status, got)
		}
	}
}
