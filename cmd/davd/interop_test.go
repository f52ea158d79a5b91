package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The interop matrix: long COPY, MOVE and DELETE requests on latency-slowed
// storage, driven by real clients and through real reverse proxies. Each
// case runs its own davd on its own directory, so all cases run in parallel
// and the whole matrix takes a few seconds.
//
// The server's own request log says how many 102s it sent for each request
// ("interim"); where a client can show what it received, both counts must
// agree.

// syncBuffer is a bytes.Buffer safe for the server's logger and the test to
// share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// slowDavd is davd serving dir with every storage call delayed, and its
// JSON request log kept.
type slowDavd struct {
	base string
	log  *syncBuffer
}

// startSlowDavd starts davd on file://dir?latency=latency with args added.
// The tree is made on disk beforehand by the caller, without the latency.
func startSlowDavd(t *testing.T, dir string, latency time.Duration, args ...string) *slowDavd {
	t.Helper()
	s := &slowDavd{log: new(syncBuffer)}
	args = append([]string{"davd", "serve", "--addr", "127.0.0.1:0", "--log-format", "json",
		"--storage", "file://" + dir + "?latency=" + latency.String()}, args...)
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- runApp(ctx, args, io.Discard, s.log, func(a net.Addr) { addrc <- a }) }()
	select {
	case a := <-addrc:
		s.base = "http://" + a.String()
	case err := <-done:
		cancel()
		t.Fatalf("davd %v exited: %v\n%s", args, err, s.log)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("davd did not start")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("davd did not shut down")
		}
	})
	return s
}

// sent returns the status and the number of 102s the server logged for the
// last request with this method and path (with or without a trailing
// slash, which some clients add to collections). The log line is written just
// after the response, so it is waited for.
func (s *slowDavd) sent(t *testing.T, method, path string) (status, interim int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		found := false
		for line := range strings.SplitSeq(s.log.String(), "\n") {
			var e struct {
				Msg, Method, Path string
				Status, Interim   int
			}
			if json.Unmarshal([]byte(line), &e) == nil && e.Msg == "request" && e.Method == method && strings.TrimSuffix(e.Path, "/") == path {
				status, interim, found = e.Status, e.Interim, true
			}
		}
		if found {
			return status, interim
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line for %s %s:\n%s", method, path, s.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// makeTree writes /tree on disk: two collections of three small files.
func makeTree(t *testing.T, dir string) {
	t.Helper()
	for _, d := range []string{"s0", "s1"} {
		if err := os.MkdirAll(filepath.Join(dir, "tree", d), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"f0", "f1", "f2"} {
			if err := os.WriteFile(filepath.Join(dir, "tree", d, f), []byte("content of "+d+"/"+f+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// exists reports whether dir/rel exists on disk.
func exists(dir, rel string) bool {
	_, err := os.Stat(filepath.Join(dir, filepath.FromSlash(rel)))
	return err == nil
}

// slowOp is one long operation on /tree. The latency per storage call is
// chosen so that each takes about two seconds: a MOVE is a rename, a few
// calls, while COPY and DELETE walk the tree.
type slowOp struct {
	method  string
	latency time.Duration
	dst     string // Destination path, for COPY and MOVE
	status  int    // the final status it must end with
	gone    string // a path that must not exist afterwards ("" = none)
	made    string // a path that must exist afterwards ("" = none)
}

var slowOps = []slowOp{
	{method: "COPY", latency: 40 * time.Millisecond * treeWorkers, dst: "/copy", status: 201, made: "copy/s1/f2"},
	{method: "MOVE", latency: 400 * time.Millisecond, dst: "/moved", status: 201, gone: "tree", made: "moved/s1/f2"},
	{method: "DELETE", latency: 70 * time.Millisecond * treeWorkers, status: 204, gone: "tree"},
}

// treeWorkers is how many goroutines davd's COPY and DELETE of /tree use
// (GOMAXPROCS, but /tree has two collections to share out); their storage
// calls overlap, so the latency per call grows with them to keep the
// operations about two seconds long.
var treeWorkers = time.Duration(min(runtime.GOMAXPROCS(0), 2))

// check verifies the tree on disk after op completed.
func (op slowOp) check(t *testing.T, dir string) {
	t.Helper()
	if op.made != "" && !exists(dir, op.made) {
		t.Errorf("%s: %s missing afterwards", op.method, op.made)
	}
	if op.gone != "" && exists(dir, op.gone) {
		t.Errorf("%s: %s still there afterwards", op.method, op.gone)
	}
}

// clientResult is what a client reported: the final status and the 102s it
// saw (-1 when the client cannot show them).
type clientResult struct {
	status int
	seen   int
	out    string
}

// concurrentCase is one case of a matrix. start does the quick setup with
// the paths of tools, and returns the slow part, which must not touch t,
// and the check of its result.
type concurrentCase struct {
	name  string
	tools []string // external programs needed
	start func(t *testing.T, bins []string) (slow func() (clientResult, error), check func(*testing.T, clientResult))
}

// runConcurrently runs each case in a subtest which starts the case's slow
// part in the background before it calls t.Parallel. The slow parts mostly
// wait on slowed storage or a proxy timeout: they all run at once while the
// subtests are created, although no more than GOMAXPROCS parallel subtests
// (two on the CI machine) run at a time, which would make the matrix ten
// times longer.
func runConcurrently(t *testing.T, cases []concurrentCase) {
	began := time.Now()
	t.Cleanup(func() { t.Logf("took %v", time.Since(began).Round(10*time.Millisecond)) })
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var bins []string
			for _, tool := range c.tools {
				bins = append(bins, requireTool(t, tool))
			}
			slow, check := c.start(t, bins)
			var res clientResult
			var err error
			done := make(chan struct{})
			go func() {
				defer close(done)
				res, err = slow()
			}()
			t.Parallel()
			<-done
			if err != nil {
				t.Fatalf("%v\n%s", err, res.out)
			}
			check(t, res)
		})
	}
}

// curlStatus matches a status line in curl -v output.
var curlStatus = regexp.MustCompile(`(?m)^< HTTP/[\d.]+ (\d{3})`)

// curlProgress matches a Progress header in draft-wright-http-progress
// syntax as davd writes it.
var curlProgress = regexp.MustCompile(`(?m)^< Progress: \d+/\d* (?:"[^"]*" )?\d+/\d* \(bytes\)\r?$`)

// runCurl runs curl -v for op on /tree at base and counts its status lines.
// A failing curl is not an error: a proxy's 504 is a result too.
func runCurl(bin, base string, op slowOp, extra ...string) (clientResult, error) {
	args := append([]string{"-sv", "--max-time", "30", "-X", op.method}, extra...)
	if op.dst != "" {
		args = append(args, "-H", "Destination: "+base+op.dst)
	}
	out, err := exec.Command(bin, append(args, base+"/tree")...).CombinedOutput()
	res := clientResult{out: string(out)}
	if err != nil {
		return res, fmt.Errorf("curl: %v", err)
	}
	for _, m := range curlStatus.FindAllStringSubmatch(res.out, -1) {
		code, _ := strconv.Atoi(m[1])
		if code == http.StatusProcessing {
			res.seen++
		} else if code >= 200 {
			res.status = code
		}
	}
	return res, nil
}

// runScript runs a script from testdata/interop with env added to the
// environment and decodes the JSON it prints into v.
func runScript(bin, script string, env []string, v any, args ...string) (string, error) {
	cmd := exec.Command(bin, append([]string{filepath.Join("..", "..", "testdata", "interop", script)}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	text := string(out) + stderr.String()
	if err != nil {
		return text, fmt.Errorf("%s %s: %v", bin, script, err)
	}
	if err := json.Unmarshal(out, v); err != nil {
		return text, fmt.Errorf("%s %s printed %q: %v", bin, script, out, err)
	}
	return text, nil
}

// opArgs returns METHOD URL [DESTINATION] for op on /tree at base.
func opArgs(base string, op slowOp) []string {
	args := []string{op.method, base + "/tree"}
	if op.dst != "" {
		args = append(args, base+op.dst)
	}
	return args
}

// interopClient drives one real client through a slowOp against base.
type interopClient struct {
	name string
	tool string   // external program needed ("" for none)
	args []string // davd flags added to slowTiming
	// want102 says whether the server must send this client 102s (false:
	// it must send none).
	want102 bool
	// takes102 marks a client known to take a 102 for the final response:
	// the case proves it still does, which is why it is on the deny-list.
	takes102 bool
	run      func(bin, base string, op slowOp) (clientResult, error)
	check    func(t *testing.T, op slowOp, res clientResult) // extra checks, may be nil
}

var interopClients = []interopClient{
	{
		name: "curl", tool: "curl", want102: true,
		run: func(bin, base string, op slowOp) (clientResult, error) { return runCurl(bin, base, op) },
		check: func(t *testing.T, op slowOp, res clientResult) {
			// A MOVE is a rename: it has no members to count until it is
			// done, so its 102s carry no Progress yet.
			if op.method != "MOVE" && len(curlProgress.FindAllString(res.out, -1)) == 0 {
				t.Errorf("no 102 carried a well-formed Progress header:\n%s", res.out)
			}
			if i, j := strings.LastIndex(res.out, " 102 Processing"), strings.Index(res.out, fmt.Sprintf(" %d ", op.status)); i > j {
				t.Errorf("a 102 came after the final status:\n%s", res.out)
			}
		},
	},
	{
		// Counts 102s with httptrace. Go ≥ 1.24 has no limit on their number.
		name: "go-net-http", want102: true,
		run: func(_, base string, op slowOp) (clientResult, error) {
			var res clientResult
			ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
				Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
					if code == http.StatusProcessing {
						res.seen++
					}
					return nil
				},
			})
			req, _ := http.NewRequestWithContext(ctx, op.method, base+"/tree", nil)
			if op.dst != "" {
				req.Header.Set("Destination", base+op.dst)
			}
			resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
			if err != nil {
				return res, err
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			res.status, res.out = resp.StatusCode, string(body)
			return res, nil
		},
	},
	{
		// neon 0.32 (cadaver, davfs2, litmus) copes with up to 127 interim
		// responses. cadaver does not show them; the server log counts them.
		name: "cadaver", tool: "cadaver", want102: true,
		run: func(bin, base string, op slowOp) (clientResult, error) {
			line := map[string]string{"COPY": "copy tree copy", "MOVE": "move tree moved", "DELETE": "rmcol tree"}[op.method]
			home, err := os.MkdirTemp("", "cadaver")
			if err != nil {
				return clientResult{}, err
			}
			defer os.RemoveAll(home)
			cmd := exec.Command(bin, base+"/")
			cmd.Stdin = strings.NewReader(line + "\nquit\n")
			cmd.Dir = home
			cmd.Env = append(os.Environ(), "HOME="+home) // no user .cadaverrc or .netrc
			out, err := cmd.CombinedOutput()
			res := clientResult{seen: -1, out: string(out)}
			if err != nil {
				return res, fmt.Errorf("cadaver: %v", err)
			}
			if strings.Contains(res.out, "succeeded") && !strings.Contains(res.out, "failed") {
				res.status = op.status // cadaver reports success, not the code
			}
			return res, nil
		},
	},
	{
		// Node's http module emits 'information' for each 1xx. The script
		// sends "User-Agent: node/v20…".
		name: "node-http", tool: "node", want102: true,
		run: func(bin, base string, op slowOp) (clientResult, error) { return runNode(bin, base, op) },
	},
	{
		// Without a User-Agent a client is on the default deny-list (as
		// Python's bare http.client must be, below), however well it copes.
		name: "node-http-no-user-agent", tool: "node",
		run: func(bin, base string, op slowOp) (clientResult, error) { return runNode(bin, base, op, "UA=") },
	},
	{
		// urllib sends "User-Agent: Python-urllib/3.x", on the default
		// deny-list: in auto mode it gets no 102 and completes.
		name: "python-urllib", tool: "python3",
		run: func(bin, base string, op slowOp) (clientResult, error) { return runPython(bin, "urllib", base, op) },
	},
	{
		// The same client when the deny-list is overridden: http.client takes
		// the first 102 for the final response.
		name: "python-urllib-always", tool: "python3", args: []string{"--processing", "always"}, want102: true, takes102: true,
		run: func(bin, base string, op slowOp) (clientResult, error) { return runPython(bin, "urllib", base, op) },
	},
	{
		// http.client used directly sends no User-Agent at all, and breaks
		// like urllib: no User-Agent is on the default deny-list for it.
		name: "python-http.client", tool: "python3",
		run: func(bin, base string, op slowOp) (clientResult, error) {
			return runPython(bin, "http.client", base, op)
		},
	},
	{
		// A raw HTTP/1.0 client never gets a 1xx (RFC 9110 §15.2), even with
		// --processing always.
		name: "http1.0", args: []string{"--processing", "always"},
		run: func(_, base string, op slowOp) (clientResult, error) {
			addr := strings.TrimPrefix(base, "http://")
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				return clientResult{}, err
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(30 * time.Second))
			fmt.Fprintf(conn, "%s /tree HTTP/1.0\r\nHost: %s\r\n", op.method, addr)
			if op.dst != "" {
				fmt.Fprintf(conn, "Destination: %s\r\n", base+op.dst)
			}
			fmt.Fprintf(conn, "\r\n")
			all, err := io.ReadAll(bufio.NewReader(conn))
			res := clientResult{out: string(all)}
			for _, m := range regexp.MustCompile(`(?m)^HTTP/1\.[01] (\d{3})`).FindAllStringSubmatch(res.out, -1) {
				if code, _ := strconv.Atoi(m[1]); code == http.StatusProcessing {
					res.seen++
				} else {
					res.status = code
				}
			}
			return res, err
		},
	},
}

// runNode runs testdata/interop/request.js with env added to the
// environment and counts the 102s Node reports.
func runNode(bin, base string, op slowOp, env ...string) (clientResult, error) {
	var r struct {
		Status  int
		Interim []struct{ Status int }
	}
	out, err := runScript(bin, "request.js", env, &r, opArgs(base, op)...)
	res := clientResult{status: r.Status, out: out}
	for _, i := range r.Interim {
		if i.Status == http.StatusProcessing {
			res.seen++
		}
	}
	return res, err
}

// runPython runs testdata/interop/request.py with lib ("urllib" or
// "http.client") and returns the status Python reports.
func runPython(bin, lib, base string, op slowOp) (clientResult, error) {
	var r struct{ Status int }
	out, err := runScript(bin, "request.py", nil, &r, append([]string{lib}, opArgs(base, op)...)...)
	return clientResult{status: r.Status, seen: -1, out: out}, err
}

// slowTiming makes davd send a 102 every 200ms from 200ms on, uncapped:
// about nine per two-second operation.
var slowTiming = []string{"--processing-after", "200ms", "--processing-interval", "200ms", "--processing-max", "0"}

// TestInteropClients runs each long operation with each client: the
// operation completes with its final status; the clients that get 102s get
// several, and see every one where they can show it; those that must not get
// one get none.
func TestInteropClients(t *testing.T) {
	t.Parallel()
	var cases []concurrentCase
	for _, c := range interopClients {
		for _, op := range slowOps {
			var tools []string
			if c.tool != "" {
				tools = []string{c.tool}
			}
			cases = append(cases, concurrentCase{name: c.name + "/" + op.method, tools: tools,
				start: func(t *testing.T, bins []string) (func() (clientResult, error), func(*testing.T, clientResult)) {
					bin := ""
					if len(bins) > 0 {
						bin = bins[0]
					}
					dir := t.TempDir()
					makeTree(t, dir)
					s := startSlowDavd(t, dir, op.latency, append(slices.Clone(slowTiming), c.args...)...)
					var took time.Duration
					slow := func() (clientResult, error) {
						began := time.Now()
						defer func() { took = time.Since(began) }()
						return c.run(bin, s.base, op)
					}
					check := func(t *testing.T, res clientResult) {
						status, sent := s.sent(t, op.method, "/tree")
						t.Logf("%v: server sent %d×102, client saw %d, final %d", took.Round(10*time.Millisecond), sent, res.seen, res.status)
						least := 3 // several 102s in two seconds
						if c.takes102 {
							least = 1 // the client stops listening after the first
						}
						switch {
						case c.want102 && sent < least:
							t.Errorf("server sent %d×102 in %v, want several", sent, took)
						case !c.want102 && sent != 0:
							t.Errorf("server sent %d×102, want none", sent)
						}
						if res.seen >= 0 && res.seen != sent {
							t.Errorf("client saw %d×102, server sent %d\n%s", res.seen, sent, res.out)
						}
						if c.takes102 {
							if res.status != http.StatusProcessing {
								t.Errorf("client reported %d; it was expected to take the 102 for the final response\n%s", res.status, res.out)
							}
							return
						}
						if status != op.status || res.status != op.status {
							t.Errorf("final status: server %d, client %d, want %d\n%s", status, res.status, op.status, res.out)
						}
						if c.check != nil {
							c.check(t, op, res)
						}
						op.check(t, dir)
					}
					return slow, check
				}})
		}
	}
	runConcurrently(t, cases)
}

// TestInteropRclone drives a server-side copy, move and purge with the
// Debian rclone (1.60, built with Go 1.19, whose client fails on the 6th
// interim response of a response). In auto mode it is on the deny-list and
// gets no 102; with --processing always the default cap of 5 keeps it
// working while 102s are really sent; without the cap it fails, which shows
// the test can tell.
func TestInteropRclone(t *testing.T) {
	t.Parallel()
	type rcloneOp struct {
		method string
		path   string   // the long request's path in the server log
		status int      // its final status
		args   []string // the rclone command
		made   string   // a path that must exist afterwards
		gone   string   // a path that must not exist afterwards
	}
	ops := []rcloneOp{
		{"COPY", "/f", 201, []string{"copyto", "X:f", "X:f2"}, "f2", ""},
		{"MOVE", "/g", 201, []string{"moveto", "X:g", "X:dst/g"}, "dst/g", "g"},
		{"DELETE", "/d", 204, []string{"purge", "X:d"}, "", "d"},
	}
	modes := []struct {
		name  string
		args  []string
		sent  func(n int) bool // the long request's 102 count
		fails bool             // rclone is expected to fail
	}{
		{"auto", nil, func(n int) bool { return n == 0 }, false},
		{"always-cap5", []string{"--processing", "always"}, func(n int) bool { return n == 5 }, false},
		{"always-uncapped", []string{"--processing", "always", "--processing-max", "0"}, func(n int) bool { return n > 5 }, true},
	}
	var cases []concurrentCase
	for _, m := range modes {
		for _, op := range ops {
			if m.fails && op.method != "COPY" {
				continue // one failure is proof enough
			}
			cases = append(cases, concurrentCase{name: m.name + "/" + op.method, tools: []string{"rclone"},
				start: func(t *testing.T, bins []string) (func() (clientResult, error), func(*testing.T, clientResult)) {
					bin := bins[0]
					dir := t.TempDir()
					for name, content := range map[string]string{"f": "copy me\n", "g": "move me\n", "d/a": "a\n", "d/b": "b\n", "dst/keep": "k\n"} {
						os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
						if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
							t.Fatal(err)
						}
					}
					// 250ms per storage call: the COPY takes at least 2s, the
					// MOVE 1.25s and the purge 1.75s, with a 102 due every
					// 150ms: the fifth at 750ms, the sixth at 900ms.
					s := startSlowDavd(t, dir, 250*time.Millisecond, append([]string{
						"--processing-after", "150ms", "--processing-interval", "150ms"}, m.args...)...)
					slow := func() (clientResult, error) {
						cmd := exec.Command(bin, append(op.args, "--retries", "1", "--low-level-retries", "1")...)
						cmd.Env = append(os.Environ(), "RCLONE_CONFIG=/dev/null",
							"RCLONE_CONFIG_X_TYPE=webdav", "RCLONE_CONFIG_X_URL="+s.base+"/")
						out, err := cmd.CombinedOutput()
						res := clientResult{seen: -1, out: string(out)}
						if err == nil {
							res.status = op.status
						}
						return res, nil
					}
					check := func(t *testing.T, res clientResult) {
						status, sent := s.sent(t, op.method, op.path)
						t.Logf("server sent %d×102 for %s %s, final %d; rclone ok: %v", sent, op.method, op.path, status, res.status != 0)
						if !m.sent(sent) {
							t.Errorf("server sent %d×102 for %s %s", sent, op.method, op.path)
						}
						if m.fails {
							if res.status != 0 || !strings.Contains(res.out, "too many 1xx informational responses") {
								t.Errorf("rclone was expected to fail on the 6th 102:\n%s", res.out)
							}
							return
						}
						if res.status == 0 || status != op.status {
							t.Fatalf("server status %d, want %d; rclone:\n%s", status, op.status, res.out)
						}
						if op.made != "" && !exists(dir, op.made) {
							t.Errorf("%s missing afterwards", op.made)
						}
						if op.gone != "" && exists(dir, op.gone) {
							t.Errorf("%s still there afterwards", op.gone)
						}
					}
					return slow, check
				}})
		}
	}
	runConcurrently(t, cases)
}

// outcome is what becomes of a long request through a reverse proxy.
type outcome int

const (
	completed outcome = iota // the final status comes through
	timedOut                 // the proxy's read timeout runs out
	overLimit                // the proxy gives up after too many 1xx
)

// startDaemon runs bin with args in the foreground with files as its fds 3,
// 4…, stops it when the test ends, and returns once addr accepts
// connections. It returns an error, with the program's output, when the
// program exits first (a port taken meanwhile, say).
func startDaemon(t *testing.T, bin, addr string, files []*os.File, args ...string) error {
	t.Helper()
	out := new(syncBuffer)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = out, out, files
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s %v exited before listening on %s:\n%s", bin, args, addr, out)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not listen on %s:\n%s", bin, addr, out)
		}
	}
}

// reverseProxy is a reverse proxy from a Debian package, started in front
// of upstream with the given read timeout (whole seconds for Apache),
// returning its base URL.
type reverseProxy struct {
	name  string
	tool  string
	limit int // it forwards this many interim responses, then fails (0 = no limit)
	// timeout is the status it answers when its read timeout runs out.
	timeout int
	start   func(t *testing.T, bin, upstream string, timeout time.Duration) string
}

var reverseProxies = []reverseProxy{
	{
		// HAProxy resets "timeout server" on each 1xx it forwards. It is
		// handed a listening socket (bind fd@3), so no port can be taken
		// between choosing and binding it.
		name: "haproxy", tool: "haproxy", timeout: http.StatusGatewayTimeout,
		start: func(t *testing.T, bin, upstream string, timeout time.Duration) string {
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
			conf := filepath.Join(t.TempDir(), "haproxy.cfg")
			os.WriteFile(conf, fmt.Appendf(nil, `defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server %dms
frontend fe
    bind fd@3
    default_backend davd
backend davd
    server davd %s
`, timeout.Milliseconds(), strings.TrimPrefix(upstream, "http://")), 0o644)
			if err := startDaemon(t, bin, l.Addr().String(), []*os.File{f}, "-db", "-f", conf); err != nil {
				t.Fatal(err)
			}
			return "http://" + l.Addr().String()
		},
	},
	{
		// mod_proxy_http resets ProxyTimeout on each 1xx it forwards, but
		// answers 502 once it has forwarded AP_MAX_INTERIM_RESPONSES (10):
		// 9 is the most a response may carry through it. When ProxyTimeout
		// runs out it answers 502 too ("Error reading from remote server"),
		// not 504.
		name: "apache", tool: "apache2", limit: 10, timeout: http.StatusBadGateway,
		start: func(t *testing.T, bin, upstream string, timeout time.Duration) string {
			dir := t.TempDir()
			conf := filepath.Join(dir, "httpd.conf")
			mods := "/usr/lib/apache2/modules/"
			args := []string{"-X", "-f", conf} // -X: one process, in the foreground
			if os.Geteuid() == 0 {
				args = append(args, "-Droot") // it refuses to serve as root
			}
			// Apache takes a port number, not a socket: choose a free one, and
			// choose again should it be taken before Apache binds it.
			var err error
			for range 3 {
				l, lerr := net.Listen("tcp", "127.0.0.1:0")
				if lerr != nil {
					t.Fatal(lerr)
				}
				addr := l.Addr().String()
				l.Close()
				os.WriteFile(conf, fmt.Appendf(nil, `ServerRoot %[1]s
ServerName 127.0.0.1
Listen %[2]s
PidFile %[1]s/httpd.pid
DefaultRuntimeDir %[1]s
ErrorLog %[1]s/error.log
LoadModule mpm_event_module %[4]smod_mpm_event.so
LoadModule authz_core_module %[4]smod_authz_core.so
LoadModule proxy_module %[4]smod_proxy.so
LoadModule proxy_http_module %[4]smod_proxy_http.so
<IfDefine root>
User www-data
Group www-data
</IfDefine>
ProxyPreserveHost On
ProxyTimeout %[5]d
ProxyPass / %[3]s/
`, dir, addr, upstream, mods, int(timeout.Seconds())), 0o644)
				if err = startDaemon(t, bin, addr, nil, args...); err == nil {
					return "http://" + addr
				}
			}
			t.Fatal(err)
			return ""
		},
	},
}

// TestInteropProxies runs long operations through reverse proxies whose
// read timeout (1s) is shorter than the operation (about 2s). With 102s the
// operation completes through the proxy, which forwards every one; without
// them (--processing off), or when the cap runs out too early, the proxy
// answers 504 — so the test can fail. Uncapped 102s go through HAProxy but
// make Apache answer 502 at the 10th; 9 go through.
func TestInteropProxies(t *testing.T) {
	t.Parallel()
	// 102s every 400ms from 400ms on, at most 9 (Apache's limit): the
	// proxy's 1s timeout does not run out for 4.6s, over twice the COPY's
	// two seconds, so a loaded machine cannot make it.
	timing := []string{"--processing-after", "400ms", "--processing-interval", "400ms", "--processing-max", "9"}
	every100ms := []string{"--processing-after", "100ms", "--processing-interval", "100ms"}
	copyOp := slowOps[0] // at least 1.9s of storage latency
	longCopy := copyOp
	longCopy.latency *= 4
	type proxyCase struct {
		name    string
		op      slowOp
		args    []string
		timeout time.Duration // the proxy's read timeout
		// curlArgs are added to curl's command line.
		curlArgs []string
		// outcome is what must happen through the proxy p.
		outcome func(p reverseProxy) outcome
		// only, when set, names the one proxy the case runs through.
		only string
	}
	completes := func(reverseProxy) outcome { return completed }
	timesOut := func(reverseProxy) outcome { return timedOut }
	overApacheLimit := func(p reverseProxy) outcome {
		if p.limit > 0 {
			return overLimit
		}
		return completed
	}
	var pcs []proxyCase
	for _, op := range slowOps {
		pcs = append(pcs, proxyCase{"auto/" + op.method, op, timing, time.Second, nil, completes, ""})
	}
	pcs = append(pcs,
		proxyCase{"off/COPY", copyOp, append(slices.Clone(timing), "--processing", "off"), time.Second, nil, timesOut, ""},
		// One 102 at 400ms, then silence for longer than the timeout.
		proxyCase{"cap-too-low/COPY", copyOp, append(slices.Clone(timing), "--processing-max", "1"), time.Second, nil, timesOut, ""},
		// Ten 102s in the first second: Apache forwards them all and fails.
		proxyCase{"uncapped/COPY", copyOp, append(slices.Clone(every100ms), "--processing-max", "0"), time.Second, nil, overApacheLimit, ""},
		// 9 and 10 102s, sent within the first second of the COPY: the most
		// Apache lets through, and one too many. The proxy waits 30s here
		// so that only the count matters.
		proxyCase{"max-9/COPY", copyOp, append(slices.Clone(every100ms), "--processing-max", "9"), 30 * time.Second, nil, completes, ""},
		proxyCase{"max-10/COPY", copyOp, append(slices.Clone(every100ms), "--processing-max", "10"), 30 * time.Second, nil, overApacheLimit, ""},
		// "Prefer: processing" lifts the cap of 5: a 102 at once and then
		// every 100ms, about twenty — too many for Apache.
		proxyCase{"prefer/COPY", copyOp, every100ms, time.Second, []string{"-H", "Prefer: processing"}, overApacheLimit, ""},
		// The "10-minute COPY behind a 30s timeout" scaled down: the COPY
		// lasts about 20 proxy timeouts (8s against 400ms), with 102s
		// every 50ms and no cap, as the README advises behind HAProxy.
		// Apache's ProxyTimeout counts whole seconds, and its limit of 9
		// 102s rules out long operations anyway: HAProxy only.
		proxyCase{"twenty-timeouts/COPY", longCopy, []string{"--processing-after", "50ms", "--processing-interval", "50ms",
			"--processing-max", "0"}, 400 * time.Millisecond, nil, completes, "haproxy"},
	)
	var cases []concurrentCase
	for _, p := range reverseProxies {
		for _, pc := range pcs {
			if pc.only != "" && pc.only != p.name {
				continue
			}
			cases = append(cases, concurrentCase{name: p.name + "/" + pc.name, tools: []string{p.tool, "curl"},
				start: func(t *testing.T, bins []string) (func() (clientResult, error), func(*testing.T, clientResult)) {
					bin, curl := bins[0], bins[1]
					dir := t.TempDir()
					makeTree(t, dir)
					s := startSlowDavd(t, dir, pc.op.latency, pc.args...)
					front := p.start(t, bin, s.base, pc.timeout)
					var took time.Duration
					slow := func() (clientResult, error) {
						began := time.Now()
						defer func() { took = time.Since(began) }()
						return runCurl(curl, front, pc.op, pc.curlArgs...)
					}
					check := func(t *testing.T, res clientResult) {
						status, sent := s.sent(t, pc.op.method, "/tree")
						t.Logf("%v: server sent %d×102 (final %d), curl got %d×102 and %d through %s",
							took.Round(10*time.Millisecond), sent, status, res.seen, res.status, p.name)
						switch pc.outcome(p) {
						case completed:
							if res.status != pc.op.status {
								t.Fatalf("final status through %s: %d, want %d\n%s", p.name, res.status, pc.op.status, res.out)
							}
							if sent < 3 || res.seen != sent {
								t.Errorf("server sent %d×102, %d came through; want several, all forwarded", sent, res.seen)
							}
							// HAProxy sends header names in lower case.
							if slices.Contains(pc.curlArgs, "Prefer: processing") && !strings.Contains(strings.ToLower(res.out), "< preference-applied: processing") {
								t.Errorf("no Preference-Applied through %s:\n%s", p.name, res.out)
							}
							op := pc.op
							op.check(t, dir)
						case timedOut:
							if res.status != p.timeout || res.seen != sent {
								t.Errorf("through %s: %d after %d×102 (server sent %d), want %d after all of them\n%s",
									p.name, res.status, res.seen, sent, p.timeout, res.out)
							}
						case overLimit:
							if res.status != http.StatusBadGateway || res.seen != p.limit {
								t.Errorf("through %s: %d after %d×102, want 502 after %d\n%s", p.name, res.status, res.seen, p.limit, res.out)
							}
						}
					}
					return slow, check
				}})
		}
	}
	runConcurrently(t, cases)
}
