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
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"davd/processing"
)

// logBuffer collects a server's log while tests read it.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor polls the log until a line matches re, and returns it.
func (l *logBuffer) waitFor(t *testing.T, re string) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := rx.FindString(l.String()); m != "" {
			return m
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no log line matches %s in:\n%s", re, l.String())
	return ""
}

// davdRun is an in-process `davd serve` whose log is kept and whose stop
// (the SIGTERM of main) the test controls.
type davdRun struct {
	base   string
	admin  string // "" unless --admin-addr was given
	logs   *logBuffer
	cancel context.CancelFunc
	done   chan error
}

// runDavd starts davd with args and info-level logs; it is stopped when
// the test ends unless the test stops it first.
func runDavd(t *testing.T, args ...string) *davdRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &davdRun{logs: new(logBuffer), cancel: cancel, done: make(chan error, 1)}
	addrc := make(chan net.Addr, 1)
	go func() {
		args := append([]string{"davd", "serve", "--addr", "127.0.0.1:0", "--log-level", "info"}, args...)
		d.done <- runApp(ctx, args, io.Discard, d.logs, func(a net.Addr) { addrc <- a })
	}()
	select {
	case a := <-addrc:
		d.base = "http://" + a.String()
	case err := <-d.done:
		cancel()
		t.Fatalf("davd %v exited: %v", args, err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("davd did not start")
	}
	if m := regexp.MustCompile(`msg="admin listening" url=(\S+)/`).FindStringSubmatch(d.logs.String()); m != nil {
		d.admin = m[1]
	}
	t.Cleanup(func() { d.stop(t, 60*time.Second) })
	return d
}

// stop cancels davd's context, as SIGTERM does, and waits up to limit for
// it to exit; it returns how long that took.
func (d *davdRun) stop(t *testing.T, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	d.cancel()
	select {
	case err, ok := <-d.done:
		if ok && err != nil {
			t.Errorf("davd exited with %v", err)
		}
		if ok {
			close(d.done)
		}
	case <-time.After(limit):
		t.Fatalf("davd did not exit within %s", limit)
	}
	return time.Since(start)
}

// diskTree makes dir/tree with dirs collections of files files of 100
// bytes each on disk, before davd serves dir: through slowed storage it
// would take seconds. It returns the number of files.
func diskTree(t *testing.T, dir string, dirs, files int) int {
	t.Helper()
	for i := range dirs {
		sub := filepath.Join(dir, "tree", fmt.Sprintf("d%d", i))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		for j := range files {
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%d", j)), bytes.Repeat([]byte("x"), 100), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dirs * files
}

// checkCopy walks a copied tree on disk: every file must be complete and
// no temporary file may be left. It returns the number of files.
func checkCopy(t *testing.T, dir string) int {
	t.Helper()
	files := 0
	filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if strings.HasPrefix(e.Name(), ".davd-tmp-") {
			t.Errorf("temporary file left behind: %s", p)
		}
		if e.Type().IsRegular() {
			files++
			if fi, _ := e.Info(); fi == nil || fi.Size() != 100 {
				t.Errorf("%s is not complete: %v", p, fi)
			}
		}
		return nil
	})
	return files
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metricSample is one line of the Prometheus text format as written.
var metricSample = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*")*\})? [0-9.eE+-]+$`)

// TestAdminDuringSlowCopy watches a slow COPY through the admin listener:
// /operations lists it with rising progress, /metrics counts it once it
// is done, /healthz answers, and the finished operation is logged once.
func TestAdminDuringSlowCopy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	diskTree(t, dir, 4, 6) // a COPY of 29 resources, 2400 bytes
	d := runDavd(t, "--storage", "file://"+dir+"?latency=15ms", "--admin-addr", "127.0.0.1:0",
		"--processing-after", "200ms", "--processing-interval", "200ms", "--processing-max", "0")
	if d.admin == "" {
		t.Fatalf("no admin URL logged:\n%s", d.logs)
	}
	if code, body := get(t, d.admin+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}

	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("COPY", d.base+"/tree", nil)
		req.Header.Set("Destination", d.base+"/copy")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	var seen []processing.OperationInfo
	status := 0
	for status == 0 {
		var list struct {
			InFlight   int                        `json:"in_flight"`
			Operations []processing.OperationInfo `json:"operations"`
		}
		getJSON(t, d.admin+"/operations", &list)
		for _, op := range list.Operations {
			if op.Method == "COPY" {
				seen = append(seen, op)
			}
		}
		select {
		case status = <-done:
		case <-time.After(50 * time.Millisecond):
		}
	}
	if status != http.StatusCreated {
		t.Fatalf("COPY = %d", status)
	}
	if len(seen) < 3 {
		t.Fatalf("COPY seen %d times at /operations", len(seen))
	}
	first, last := seen[0], seen[len(seen)-1]
	for i, op := range seen {
		if op.Path != "/tree" || op.Destination != "/copy" || op.ID != first.ID || op.Start.IsZero() {
			t.Errorf("listed as %+v", op)
		}
		if i > 0 && (op.Resources < seen[i-1].Resources || op.Bytes < seen[i-1].Bytes) {
			t.Errorf("progress went back: %+v after %+v", op, seen[i-1])
		}
	}
	if last.Resources <= first.Resources || last.Interim == 0 || !strings.Contains(last.Progress, "(bytes)") {
		t.Errorf("progress did not rise or no 102 counted: first %+v, last %+v", first, last)
	}

	// The COPY is logged once with its totals: 1 + 4 + 24 resources.
	d.logs.waitFor(t, `msg="operation finished".*method=COPY path=/tree status=201 .*resources=29 bytes=2400 interim=[1-9]`)
	if n := strings.Count(d.logs.String(), `msg="operation finished" id=`+first.ID+" "); n != 1 {
		t.Errorf("COPY logged %d times as finished", n)
	}

	code, text := get(t, d.admin+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics = %d", code)
	}
	for line := range strings.SplitSeq(strings.TrimSuffix(text, "\n"), "\n") {
		if !strings.HasPrefix(line, "# HELP ") && !strings.HasPrefix(line, "# TYPE ") && !metricSample.MatchString(line) {
			t.Errorf("/metrics line %q is not in the text format", line)
		}
	}
	for _, want := range []string{
		`davd_requests_total{method="COPY",status="201"} 1`,
		`davd_request_duration_seconds_count{method="COPY"} 1`,
		`davd_operation_resources_total{method="COPY"} 29`,
		`davd_operations_in_flight 0`,
		"# TYPE davd_request_duration_seconds histogram",
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if !regexp.MustCompile(`(?m)^davd_interim_responses_total\{method="COPY"\} [1-9]`).MatchString(text) {
		t.Error("/metrics counts no 102 for the COPY")
	}
	if code, _ := get(t, d.admin+"/nothing"); code != 404 {
		t.Errorf("/nothing = %d", code)
	}
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// steady returns count() once it has not changed for 100ms.
func steady(count func() int) int {
	n, same := count(), 0
	for deadline := time.Now().Add(5 * time.Second); same < 5 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		if m := count(); m == n {
			same++
		} else {
			n, same = m, 0
		}
	}
	return n
}

// settles waits until count() is at most want, and reports the last count.
func settles(count func() int, want int) (int, bool) {
	n := count()
	for deadline := time.Now().Add(5 * time.Second); n > want && time.Now().Before(deadline); n = count() {
		time.Sleep(20 * time.Millisecond)
	}
	return n, n <= want
}

// TestClientDisconnect closes the connection of a COPY on slow directory
// storage after its first 102. With --on-disconnect finish the copy
// completes; with stop it ends early, and no file is half written. Either
// way, once it ends, the goroutines and file descriptors are back to what
// they were before the COPY.
//
// Not parallel: it counts the goroutines and descriptors of the process.
func TestClientDisconnect(t *testing.T) {
	for _, mode := range []string{"finish", "stop"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			// Big enough that the COPY, whose collections are copied by
			// several goroutines, still runs when it is stopped.
			all := diskTree(t, dir, 8, 8)
			d := runDavd(t, "--storage", "file://"+dir+"?latency=15ms", "--on-disconnect", mode,
				"--processing-after", "100ms", "--processing-interval", "100ms", "--processing-max", "0")
			// One request without keep-alive first: the server's accept
			// loop starts after it reports its address.
			resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Get(d.base + "/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			goroutines, fds := steady(runtime.NumGoroutine), steady(func() int { return openFDs(t) })

			addr := strings.TrimPrefix(d.base, "http://")
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(conn, "COPY /tree HTTP/1.1\r\nHost: %s\r\nUser-Agent: davd-test\r\nDestination: %s/copy\r\n\r\n", addr, d.base)
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			line, err := bufio.NewReader(conn).ReadString('\n')
			if err != nil || !strings.HasPrefix(line, "HTTP/1.1 102") {
				t.Fatalf("first response line %q, %v", line, err)
			}
			// Go away once the copying has begun, not while the COPY's
			// preconditions are checked.
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				if _, err := os.Stat(filepath.Join(dir, "copy")); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the copy did not begin")
				}
			}
			conn.Close()

			logLine := d.logs.waitFor(t, `msg=request method=COPY path=/tree status=\d+ duration=\S+`)
			files := checkCopy(t, filepath.Join(dir, "copy"))
			stoppedLog := strings.Contains(d.logs.String(), `msg="operation stopped before its end" method=COPY path=/tree reason="client went away"`)
			switch mode {
			case "finish":
				if files != all || !strings.Contains(logLine, "status=201") || stoppedLog {
					t.Errorf("finish: %d of %d files copied; %s", files, all, logLine)
				}
			case "stop":
				if files >= all || !stoppedLog {
					t.Errorf("stop: %d of %d files copied, stopped logged %v; %s", files, all, stoppedLog, logLine)
				}
			}

			if n, ok := settles(runtime.NumGoroutine, goroutines); !ok {
				buf := make([]byte, 1<<20)
				t.Errorf("%d goroutines after the COPY, %d before:\n%s", n, goroutines, buf[:runtime.Stack(buf, true)])
			}
			if n, ok := settles(func() int { return openFDs(t) }, fds); !ok {
				t.Errorf("%d open file descriptors after the COPY, %d before", n, fds)
			}
		})
	}
}

// TestShutdownDrains stops davd (as SIGTERM does) while a COPY runs. With
// a shutdown timeout longer than the COPY, the COPY finishes, its client
// keeps getting 102s meanwhile, new connections are refused and /healthz
// says 503. With a shorter one, the COPY is stopped at a member boundary:
// its client gets a final response, and no file is half written.
func TestShutdownDrains(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name         string
		timeout      string
		onDisconnect string
		complete     bool
	}{
		{"finishes within the timeout", "30s", "finish", true},
		{"stopped at the timeout", "300ms", "finish", false},
		{"stopped at the timeout, on-disconnect stop", "300ms", "stop", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			// Big enough that the COPY, whose collections are copied by
			// several goroutines, still runs when it is stopped.
			all := diskTree(t, dir, 8, 8)
			d := runDavd(t, "--storage", "file://"+dir+"?latency=15ms", "--shutdown-timeout", tt.timeout,
				"--admin-addr", "127.0.0.1:0", "--on-disconnect", tt.onDisconnect,
				"--processing-after", "100ms", "--processing-interval", "100ms", "--processing-max", "0")

			var mu sync.Mutex
			var interim []time.Time
			first := make(chan struct{})
			trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
				mu.Lock()
				defer mu.Unlock()
				if interim = append(interim, time.Now()); len(interim) == 1 {
					close(first)
				}
				return nil
			}}
			type result struct {
				status int
				body   string
			}
			done := make(chan result, 1)
			go func() {
				req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
					"COPY", d.base+"/tree", nil)
				req.Header.Set("Destination", d.base+"/copy")
				resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
				if err != nil {
					t.Error(err)
					done <- result{}
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				done <- result{resp.StatusCode, string(b)}
			}()
			select {
			case <-first:
			case <-time.After(10 * time.Second):
				t.Fatal("no 102 before the shutdown")
			}

			shutdownAt := time.Now()
			exited := make(chan time.Duration, 1)
			go func() { exited <- d.stop(t, 60*time.Second) }()
			d.logs.waitFor(t, `msg="shutting down"`)
			if _, err := net.DialTimeout("tcp", strings.TrimPrefix(d.base, "http://"), time.Second); err == nil {
				t.Error("a new connection was accepted during the shutdown")
			}
			if code, _ := get(t, d.admin+"/healthz"); code != http.StatusServiceUnavailable {
				t.Errorf("/healthz during the shutdown = %d, want 503", code)
			}

			res := <-done
			<-exited
			mu.Lock()
			after := 0
			for _, at := range interim {
				if at.After(shutdownAt) {
					after++
				}
			}
			mu.Unlock()
			files := checkCopy(t, filepath.Join(dir, "copy"))
			if tt.complete {
				if res.status != http.StatusCreated || files != all {
					t.Errorf("COPY = %d with %d of %d files", res.status, files, all)
				}
				if after < 2 {
					t.Errorf("only %d 102s during the shutdown", after)
				}
				if strings.Contains(d.logs.String(), "shutdown timeout passed") {
					t.Error("the timeout passed")
				}
				return
			}
			if res.status != http.StatusMultiStatus || !strings.Contains(res.body, "503 Service Unavailable") {
				t.Errorf("stopped COPY answered %d:\n%s", res.status, res.body)
			}
			if files >= all {
				t.Errorf("COPY not stopped: %d of %d files", files, all)
			}
			for _, want := range []string{"shutdown timeout passed", `reason="server shutting down"`} {
				if !strings.Contains(d.logs.String(), want) {
					t.Errorf("log lacks %q", want)
				}
			}
			if strings.Contains(d.logs.String(), "requests still running at exit") {
				t.Error("an operation outlived the server")
			}
		})
	}
}

// TestOperationsShowUser runs a slow COPY as a signed-in user: with users,
// each has a handler of its own, and all of them report to the one
// registry behind /operations.
func TestOperationsShowUser(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	diskTree(t, filepath.Join(dir, "home", "alice"), 4, 6)
	cfgFile := filepath.Join(dir, "davd.yaml")
	writeFile(t, cfgFile, "users:\n  - name: alice\n    password: '"+userHash(t, "alice")+"'\n    root: home/alice\n    permissions: all\n")
	d := runDavd(t, "--config", cfgFile, "--storage", "file://"+dir+"?latency=15ms", "--admin-addr", "127.0.0.1:0")
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("COPY", d.base+"/tree", nil)
		req.Header.Set("Destination", d.base+"/copy")
		req.Header.Set("Authorization", basicAuth("alice"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	var seen *processing.OperationInfo
	for status := 0; status == 0; {
		var list struct {
			Operations []processing.OperationInfo `json:"operations"`
		}
		getJSON(t, d.admin+"/operations", &list)
		for _, op := range list.Operations {
			if op.Method == "COPY" {
				seen = &op
			}
		}
		select {
		case status = <-done:
			if status != http.StatusCreated {
				t.Fatalf("COPY = %d", status)
			}
		case <-time.After(20 * time.Millisecond):
		}
	}
	if seen == nil || seen.User != "alice" || seen.Path != "/tree" {
		t.Errorf("/operations showed the COPY as %+v, want alice's", seen)
	}
}
