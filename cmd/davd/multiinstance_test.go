package main

// Several davd instances on one directory and one PostgreSQL state,
// behind HAProxy in round-robin: each instance is a real process (the
// test binary run as davd, see spawnDavd), the database a real
// PostgreSQL (package pgtest), the balancer the Debian HAProxy.

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"davd/storage/state/pgtest"
)

// cluster is davd instances sharing a directory and a PostgreSQL state,
// and HAProxy in front of them.
type cluster struct {
	dir   string
	state string       // the PostgreSQL URL
	nodes []*crashable // the instances, in HAProxy's order d0, d1…
	front string       // HAProxy's base URL
}

// startCluster starts n instances serving a new directory with the state
// at stateURL (a new database on the test binary's shared server when
// ""), each with the extra flags args, and HAProxy balancing them in
// round-robin. HAProxy names the instance that served each answer in
// the header X-Davd-Instance ("d0", "d1"…).
func startCluster(t *testing.T, n int, stateURL string, args ...string) *cluster {
	t.Helper()
	haproxy := requireTool(t, "haproxy")
	c := startInstances(t, n, stateURL, 0, args...)
	c.front = startBalancer(t, haproxy, c.nodes)
	// Every instance answers through the balancer, in turn.
	seen := map[string]bool{}
	for range 2 * n {
		resp, _ := request(t, "OPTIONS", c.front+"/", nil, "")
		seen[resp.Header.Get("X-Davd-Instance")] = true
	}
	if len(seen) != n {
		t.Fatalf("HAProxy sent %d requests to instances %v, want all %d in turn", 2*n, seen, n)
	}
	return c
}

// startInstances is startCluster without the balancer; every storage
// call of the instances is delayed by latency when it is not 0.
func startInstances(t *testing.T, n int, stateURL string, latency time.Duration, args ...string) *cluster {
	t.Helper()
	if stateURL == "" {
		stateURL = pgtest.Database(t)
	}
	c := &cluster{dir: t.TempDir(), state: stateURL}
	storage := c.dir
	if latency > 0 {
		storage = "file://" + c.dir + "?latency=" + latency.String()
	}
	for range n {
		c.nodes = append(c.nodes, spawnDavd(t, storage, append([]string{"--state", stateURL}, args...)...))
	}
	return c
}

// startBalancer starts HAProxy in front of nodes, in round-robin for each
// request (not each connection), with the settings the README gives: the
// server timeout long enough for 102s (HAProxy forwards them and restarts
// the timeout on each), a failed connection retried on another instance,
// an instance that does not accept connections taken out of rotation
// within a few hundred milliseconds.
func startBalancer(t *testing.T, bin string, nodes []*crashable) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	f, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var servers strings.Builder
	for i, n := range nodes {
		fmt.Fprintf(&servers, "    server d%d %s check inter 200ms fall 1 rise 2\n", i, strings.TrimPrefix(n.base, "http://"))
	}
	conf := filepath.Join(t.TempDir(), "haproxy.cfg")
	os.WriteFile(conf, fmt.Appendf(nil, `defaults
    mode http
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 10s
    retries 2
    option redispatch 1
frontend fe
    bind fd@3
    default_backend davd
backend davd
    balance roundrobin
    http-response set-header X-Davd-Instance %%s
%s`, servers.String()), 0o644)
	if err := startDaemon(t, bin, l.Addr().String(), []*os.File{f}, "-db", "-f", conf); err != nil {
		t.Fatal(err)
	}
	return "http://" + l.Addr().String()
}

// TestMultiInstanceLitmus runs litmus through HAProxy in front of two
// instances: requests alternate between them, so every lock test takes
// its lock on one instance and is checked on the other.
func TestMultiInstanceLitmus(t *testing.T) {
	t.Parallel()
	bin := requireTool(t, "litmus")
	c := startCluster(t, 2, "")
	cmd := exec.Command(bin, "-k", c.front+"/")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "TESTS=basic copymove props locks http")
	out, _ := cmd.CombinedOutput()
	checkLitmus(t, string(out))
}

// TestMultiInstanceCadaver runs the cadaver session of TestCadaver
// through the balancer.
func TestMultiInstanceCadaver(t *testing.T) {
	t.Parallel()
	bin := requireTool(t, "cadaver")
	c := startCluster(t, 2, "")
	cadaverSession(t, bin, c.front, true)
	if _, err := os.Stat(filepath.Join(c.dir, "dir1", "a.txt")); !os.IsNotExist(err) {
		t.Errorf("deleted file still on disk: %v", err)
	}
	// The lock, taken through one instance, was released through the
	// other: the file is writable without a token again.
	if resp, body := request(t, "PUT", c.nodes[0].base+"/dir1/c.txt", nil, "free"); resp.StatusCode/100 != 2 {
		t.Errorf("PUT after cadaver's unlock = %d %s", resp.StatusCode, body)
	}
}

// TestMultiInstanceRclone copies, syncs, checks and moves a tree with
// rclone through the balancer.
func TestMultiInstanceRclone(t *testing.T) {
	t.Parallel()
	bin := requireTool(t, "rclone")
	c := startCluster(t, 2, "")
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "sub dir"), 0o755)
	files := map[string]string{"a.txt": "alpha", "b c.txt": "bravo charlie", "sub dir/déjà vu.txt": "deep", "sub dir/emoji 😀.bin": "\x00\x01\x02"}
	for name, content := range files {
		os.WriteFile(filepath.Join(src, name), []byte(content), 0o644)
	}
	rclone := rcloneAt(t, bin, c.front, false)
	rclone("copy", src, ":webdav:up")
	if out := rclone("check", src, ":webdav:up"); !strings.Contains(out, "0 differences found") {
		t.Errorf("rclone check after copy:\n%s", out)
	}
	os.Remove(filepath.Join(src, "a.txt"))
	os.WriteFile(filepath.Join(src, "new.txt"), []byte("new"), 0o644)
	rclone("sync", src, ":webdav:up")
	if out := rclone("check", src, ":webdav:up"); !strings.Contains(out, "0 differences found") {
		t.Errorf("rclone check after sync:\n%s", out)
	}
	rclone("moveto", ":webdav:up/new.txt", ":webdav:up/moved.txt")
	if out := rclone("lsf", "-R", ":webdav:up"); !strings.Contains(out, "moved.txt") || strings.Contains(out, "new.txt") || strings.Contains(out, "a.txt\n") {
		t.Errorf("listing after sync and move:\n%s", out)
	}
}

// sendReq is request without t.Fatal, for goroutines, and with a
// timeout: a transport error is status 0.
func sendReq(method, url string, hdr map[string]string, body string) (int, http.Header, string) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, err.Error()
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	client := *http.DefaultClient
	client.Timeout = 30 * time.Second // no test hangs on a server that does
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err.Error()
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header, string(b)
}

// waitFor polls cond every 20ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// checkLitmus scores litmus output as TestLitmus does: every required
// suite passes completely, nothing skipped, no warning.
func checkLitmus(t *testing.T, out string) {
	t.Helper()
	text := strings.ReplaceAll(out, "\r", "\n")
	seen := map[string]bool{}
	skipped, total := 0, 0
	for _, line := range strings.Split(text, "\n") {
		if m := litmusSkipped.FindStringSubmatch(line); m != nil {
			skipped, _ = strconv.Atoi(m[1])
		}
		m := litmusSummary.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		suite := m[1]
		run, _ := strconv.Atoi(m[2])
		passed, _ := strconv.Atoi(m[3])
		seen[suite] = true
		total += passed
		t.Logf("litmus %-9s %d/%d passed, %d skipped", suite, passed, run+skipped, skipped)
		if litmusRequired[suite] && (passed != run || skipped != 0 || run == 0) {
			t.Errorf("litmus suite %s: %d of %d passed, %d skipped; it must pass completely", suite, passed, run, skipped)
		}
		skipped = 0
	}
	for suite := range litmusRequired {
		if !seen[suite] {
			t.Errorf("litmus suite %s did not report a summary", suite)
		}
	}
	if n := strings.Count(text, "WARNING"); n > 0 {
		t.Errorf("litmus printed %d warnings", n)
	}
	t.Logf("litmus: %d tests passed in all", total)
	if t.Failed() {
		t.Logf("litmus output:\n%s", failureLines(text))
	}
}
