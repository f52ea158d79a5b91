package dav

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/afero"

	"davd/storage"
	"davd/storage/state"
)

// Asynchronous requests (Prefer: respond-async, async.go) over directory
// storage: 202 with a monitor, the monitor's JSON until the end, the tree
// afterwards, failures, cancellation, who may see a monitor, and what
// stays as it was without the preference.

// asyncTree is the tree asyncServer's tests copy: /src holds asyncDirs
// collections of asyncFiles files each.
const (
	asyncDirs  = 10
	asyncFiles = 30
	// asyncMembers is every resource of the tree, /src included.
	asyncMembers = 1 + asyncDirs + asyncDirs*asyncFiles
)

// asyncServer serves a new directory holding the asyncTree at /src, with
// every storage call delayed by latency when it is not 0, and the user
// named in X-User. Progress is saved every 20ms, so that a monitor shows
// it soon. The operations still running in the background are waited for
// before the directory is removed.
func asyncServer(t *testing.T, latency time.Duration) (*httptest.Server, string) {
	t.Helper()
	dir := t.TempDir()
	for d := range asyncDirs {
		sub := filepath.Join(dir, "src", fmt.Sprintf("d%d", d))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := range asyncFiles {
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%d", f)), []byte(asyncContent(d, f)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	root, err := storage.NewRootFs(dir)
	if err != nil {
		t.Fatal(err)
	}
	var backend afero.Fs = root
	if latency > 0 {
		backend = storage.LatencyFs{Fs: root, Delay: latency}
	}
	st, err := state.Open(context.Background(), "memory:")
	if err != nil {
		t.Fatal(err)
	}
	j := NewJournal()
	j.SaveEvery = 20 * time.Millisecond
	lifetime, stop := context.WithCancel(context.Background())
	t.Cleanup(func() {
		// Stop what a failed test left running, and wait for it.
		stop()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := j.Wait(ctx); err != nil {
			t.Errorf("background operations still running: %v", err)
		}
		st.Close()
		root.Close()
	})
	srv := userServer(t, backend, st, Config{Journal: j, Lifetime: lifetime})
	return srv, dir
}

func asyncContent(d, f int) string { return fmt.Sprintf("file %d of collection %d\n", f, d) }

// monitorJSON is what a test reads of a monitor.
type monitorJSON struct {
	ID             string     `json:"id"`
	Monitor        string     `json:"monitor"`
	State          string     `json:"state"`
	Method         string     `json:"method"`
	Source         string     `json:"source"`
	Destination    string     `json:"destination"`
	Depth          string     `json:"depth"`
	Resources      int64      `json:"resources"`
	TotalResources int64      `json:"total_resources"`
	Bytes          int64      `json:"bytes"`
	Started        time.Time  `json:"started"`
	Finished       *time.Time `json:"finished"`
	Resumed        int        `json:"resumed"`
	Status         int        `json:"status"`
	Error          string     `json:"error"`
	Failures       []struct {
		Href   string `json:"href"`
		Status int    `json:"status"`
	} `json:"failures"`
}

var monitorRE = regexp.MustCompile(`^/\.davd/operations/[0-9a-f]{32}$`)

// startAsync sends method on /src-like path with Prefer: respond-async
// as user and checks the 202: its headers and its JSON.
func startAsync(t *testing.T, srv *httptest.Server, user, method, path string, hdr map[string]string) monitorJSON {
	t.Helper()
	h := map[string]string{"Prefer": "respond-async", "X-User": user}
	for k, v := range hdr {
		h[k] = v
	}
	resp := do(t, method, srv.URL+path, h, "")
	if resp.status != http.StatusAccepted {
		t.Fatalf("%s %s with Prefer: respond-async = %d %s, want 202", method, path, resp.status, resp.body)
	}
	loc := resp.header.Get("Location")
	if !monitorRE.MatchString(loc) {
		t.Errorf("Location = %q, want a monitor", loc)
	}
	if got := resp.header.Get("Preference-Applied"); got != "respond-async" {
		t.Errorf("Preference-Applied = %q", got)
	}
	if ct := resp.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var m monitorJSON
	if err := json.Unmarshal([]byte(resp.body), &m); err != nil {
		t.Fatalf("202 body %q: %v", resp.body, err)
	}
	if m.Monitor != loc || !strings.HasSuffix(loc, "/"+m.ID) {
		t.Errorf("monitor %q, id %q, Location %q", m.Monitor, m.ID, loc)
	}
	if m.Method != method || m.Source != path || m.Started.IsZero() {
		t.Errorf("202 record %+v for %s %s", m, method, path)
	}
	if m.State != state.OpRunning && m.State != state.OpFinished {
		t.Errorf("202 record in state %q", m.State)
	}
	return m
}

// getMonitor reads the monitor at url as user.
func getMonitor(t *testing.T, srv *httptest.Server, user, url string) (int, monitorJSON) {
	t.Helper()
	resp := do(t, "GET", srv.URL+url, map[string]string{"X-User": user}, "")
	var m monitorJSON
	if resp.status == http.StatusOK {
		if err := json.Unmarshal([]byte(resp.body), &m); err != nil {
			t.Fatalf("monitor body %q: %v", resp.body, err)
		}
		if cc := resp.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("monitor Cache-Control = %q", cc)
		}
		if ns, csp := resp.header.Get("X-Content-Type-Options"), resp.header.Get("Content-Security-Policy"); ns != "nosniff" || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("monitor X-Content-Type-Options = %q, Content-Security-Policy = %q", ns, csp)
		}
	}
	return resp.status, m
}

// waitMonitor polls the monitor until its operation is no longer running.
func waitMonitor(t *testing.T, srv *httptest.Server, user, url string) monitorJSON {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, m := getMonitor(t, srv, user, url)
		if st != http.StatusOK {
			t.Fatalf("GET %s = %d", url, st)
		}
		if m.State != state.OpRunning {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("operation still running after 30s: %+v", m)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkFinished checks the final record of an operation that succeeded.
func checkFinished(t *testing.T, m monitorJSON, status int, minResources int64) {
	t.Helper()
	if m.State != state.OpFinished || m.Status != status || m.Error != "" || len(m.Failures) != 0 {
		t.Errorf("final record: state %q status %d error %q failures %v, want finished %d", m.State, m.Status, m.Error, m.Failures, status)
	}
	if m.Resources < minResources {
		t.Errorf("final record counts %d resources, want at least %d", m.Resources, minResources)
	}
	if m.Finished == nil || m.Finished.Before(m.Started) {
		t.Errorf("final record: started %v, finished %v", m.Started, m.Finished)
	}
}

// checkTree checks that dir/root holds the whole asyncTree.
func checkTree(t *testing.T, dir, root string) {
	t.Helper()
	for d := range asyncDirs {
		for f := range asyncFiles {
			p := filepath.Join(dir, root, fmt.Sprintf("d%d", d), fmt.Sprintf("f%d", f))
			if b, err := os.ReadFile(p); err != nil || string(b) != asyncContent(d, f) {
				t.Fatalf("%s: %q, %v", p, b, err)
			}
		}
	}
}

// TestAsyncCopyMoveDelete runs a COPY, a MOVE and a DELETE of a
// collection of a few hundred members asynchronously, each watched on
// its monitor to the end.
func TestAsyncCopyMoveDelete(t *testing.T) {
	srv, dir := asyncServer(t, 0)

	m := startAsync(t, srv, "alice", "COPY", "/src", map[string]string{"Destination": srv.URL + "/copy"})
	if m.Destination != "/copy" || m.Depth != "infinity" {
		t.Errorf("COPY record: destination %q depth %q", m.Destination, m.Depth)
	}
	end := waitMonitor(t, srv, "alice", m.Monitor)
	checkFinished(t, end, http.StatusCreated, asyncMembers)
	if end.Bytes == 0 {
		t.Error("COPY counted no bytes")
	}
	checkTree(t, dir, "src")
	checkTree(t, dir, "copy")

	// A MOVE by one rename is done at once: answered as it always was.
	resp := do(t, "MOVE", srv.URL+"/copy", map[string]string{"Prefer": "respond-async", "X-User": "alice", "Destination": srv.URL + "/moved"}, "")
	if resp.status != http.StatusCreated || resp.header.Get("Preference-Applied") != "" || resp.header.Get("Location") != "" {
		t.Errorf("MOVE by one rename with Prefer: respond-async = %d, Preference-Applied %q, Location %q; want 201 without them",
			resp.status, resp.header.Get("Preference-Applied"), resp.header.Get("Location"))
	}
	checkTree(t, dir, "moved")
	if _, err := os.Stat(filepath.Join(dir, "copy")); !os.IsNotExist(err) {
		t.Errorf("MOVE left its source: %v", err)
	}

	// Over an existing destination: 204.
	m = startAsync(t, srv, "alice", "COPY", "/src", map[string]string{"Destination": srv.URL + "/moved"})
	checkFinished(t, waitMonitor(t, srv, "alice", m.Monitor), http.StatusNoContent, asyncMembers)
	checkTree(t, dir, "moved")

	m = startAsync(t, srv, "alice", "DELETE", "/moved", nil)
	checkFinished(t, waitMonitor(t, srv, "alice", m.Monitor), http.StatusNoContent, 1)
	if _, err := os.Stat(filepath.Join(dir, "moved")); !os.IsNotExist(err) {
		t.Errorf("DELETE left its resource: %v", err)
	}
	checkTree(t, dir, "src")

	// A finished operation's monitor stays readable.
	if st, again := getMonitor(t, srv, "alice", m.Monitor); st != http.StatusOK || again.State != state.OpFinished {
		t.Errorf("monitor of a finished DELETE: %d %+v", st, again)
	}
}

// TestAsyncCopyFailures copies a tree holding a symbolic link back to
// its top: the link is the one member that fails (508), and the final
// record says 207 and names it, as a 207 would.
func TestAsyncCopyFailures(t *testing.T) {
	srv, dir := asyncServer(t, 0)
	if err := os.Symlink("..", filepath.Join(dir, "src", "d3", "loop")); err != nil {
		t.Fatal(err)
	}
	m := startAsync(t, srv, "alice", "COPY", "/src", map[string]string{"Destination": srv.URL + "/dst"})
	end := waitMonitor(t, srv, "alice", m.Monitor)
	if end.State != state.OpFinished || end.Status != http.StatusMultiStatus {
		t.Fatalf("final record: state %q status %d, want finished 207", end.State, end.Status)
	}
	if len(end.Failures) != 1 || end.Failures[0].Href != "/dst/d3/loop" || end.Failures[0].Status != http.StatusLoopDetected {
		t.Errorf("failures %+v, want /dst/d3/loop 508", end.Failures)
	}
	checkTree(t, dir, "dst")
}

// TestAsyncCancel cancels a slow COPY through its monitor: it stops at a
// member boundary, its record says cancelled with fewer resources than
// the tree has, and every file copied is complete.
func TestAsyncCancel(t *testing.T) {
	srv, dir := asyncServer(t, 5*time.Millisecond)
	m := startAsync(t, srv, "alice", "COPY", "/src", map[string]string{"Destination": srv.URL + "/dst"})
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, now := getMonitor(t, srv, "alice", m.Monitor)
		if now.State != state.OpRunning {
			t.Fatalf("the COPY ended before it was cancelled: %+v", now)
		}
		if now.Resources >= 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the COPY made no progress: %+v", now)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Someone else cannot cancel it.
	if resp := do(t, "DELETE", srv.URL+m.Monitor, map[string]string{"X-User": "bob"}, ""); resp.status != http.StatusNotFound {
		t.Errorf("bob's DELETE of alice's monitor = %d", resp.status)
	}
	resp := do(t, "DELETE", srv.URL+m.Monitor, map[string]string{"X-User": "alice"}, "")
	if resp.status != http.StatusOK {
		t.Fatalf("DELETE of the monitor = %d %s", resp.status, resp.body)
	}
	var end monitorJSON
	if err := json.Unmarshal([]byte(resp.body), &end); err != nil {
		t.Fatal(err)
	}
	if end.State != state.OpCancelled || end.Status != http.StatusServiceUnavailable || end.Error != "cancelled by its user" || end.Finished == nil {
		t.Errorf("cancelled record: %+v", end)
	}
	if len(end.Failures) != 0 {
		t.Errorf("cancelled record lists %d failures, first %+v: the members left undone are not failures", len(end.Failures), end.Failures[0])
	}
	if end.Resources >= asyncMembers || end.Resources == 0 {
		t.Errorf("cancelled COPY counted %d resources of %d", end.Resources, asyncMembers)
	}
	// A second DELETE answers the record as it is.
	if resp := do(t, "DELETE", srv.URL+m.Monitor, map[string]string{"X-User": "alice"}, ""); resp.status != http.StatusOK || !strings.Contains(resp.body, `"cancelled"`) {
		t.Errorf("DELETE of a cancelled monitor = %d %s", resp.status, resp.body)
	}
	// Only complete files, under their names, and fewer than all.
	files := 0
	filepath.WalkDir(filepath.Join(dir, "dst"), func(p string, e os.DirEntry, err error) error {
		if err != nil {
			t.Error(err)
			return nil
		}
		if storage.IsReserved(e.Name()) {
			t.Errorf("left behind: %s", p)
		}
		if e.Type().IsRegular() {
			files++
			var d, f int
			if _, err := fmt.Sscanf(strings.TrimPrefix(p, filepath.Join(dir, "dst")), "/d%d/f%d", &d, &f); err != nil {
				t.Errorf("unexpected %s", p)
			} else if b, _ := os.ReadFile(p); string(b) != asyncContent(d, f) {
				t.Errorf("%s: %q, incomplete", p, b)
			}
		}
		return nil
	})
	if files == 0 || files >= asyncDirs*asyncFiles {
		t.Errorf("cancelled COPY left %d files of %d", files, asyncDirs*asyncFiles)
	}
	t.Logf("cancelled after %d resources, %d files, %d failures", end.Resources, files, len(end.Failures))
}

// TestAsyncMonitorAccess checks who sees a monitor, and which names are
// none.
func TestAsyncMonitorAccess(t *testing.T) {
	srv, _ := asyncServer(t, 0)
	m := startAsync(t, srv, "alice", "COPY", "/src", map[string]string{"Destination": srv.URL + "/dst"})
	waitMonitor(t, srv, "alice", m.Monitor)
	for _, c := range []struct {
		user, url string
		status    int
	}{
		{"alice", m.Monitor, http.StatusOK},
		{"bob", m.Monitor, http.StatusNotFound},
		{"", m.Monitor, http.StatusNotFound},
		{"alice", "/.davd/operations/" + strings.Repeat("0", 32), http.StatusNotFound},
		{"alice", "/.davd/operations/" + strings.ToUpper(m.ID), http.StatusNotFound},
		{"alice", "/.davd/operations/" + m.ID[:31], http.StatusNotFound},
		{"alice", "/.davd/operations/" + m.ID + "0", http.StatusNotFound},
		{"alice", "/.davd/operations/" + m.ID + "/x", http.StatusNotFound},
		{"alice", "/.davd/operations/../../src", http.StatusNotFound},
		{"alice", "/.davd/operations/", http.StatusNotFound},
	} {
		if st, _ := getMonitor(t, srv, c.user, c.url); st != c.status {
			t.Errorf("GET %s as %q = %d, want %d", c.url, c.user, st, c.status)
		}
	}
	if resp := do(t, "DELETE", srv.URL+m.Monitor, map[string]string{"X-User": "bob"}, ""); resp.status != http.StatusNotFound {
		t.Errorf("bob's DELETE of alice's monitor = %d", resp.status)
	}
	if resp := do(t, "PUT", srv.URL+m.Monitor, map[string]string{"X-User": "alice"}, "x"); resp.status != http.StatusMethodNotAllowed {
		t.Errorf("PUT on a monitor = %d, want 405", resp.status)
	}
}

// TestAsyncNotApplied checks that requests without the preference, and
// requests that are not journaled, are answered as they always were.
func TestAsyncNotApplied(t *testing.T) {
	srv, dir := asyncServer(t, 0)
	alice := map[string]string{"X-User": "alice"}
	with := func(h map[string]string) map[string]string {
		out := map[string]string{"X-User": "alice"}
		for k, v := range h {
			out[k] = v
		}
		return out
	}
	plain := func(what string, resp response, status int) {
		t.Helper()
		if resp.status != status {
			t.Errorf("%s = %d %s, want %d", what, resp.status, resp.body, status)
		}
		for _, k := range []string{"Location", "Preference-Applied"} {
			if v := resp.header.Get(k); v != "" {
				t.Errorf("%s: %s: %s", what, k, v)
			}
		}
	}
	plain("COPY of a collection", do(t, "COPY", srv.URL+"/src", with(map[string]string{"Destination": srv.URL + "/a"}), ""), http.StatusCreated)
	plain("COPY over a collection", do(t, "COPY", srv.URL+"/src", with(map[string]string{"Destination": srv.URL + "/a"}), ""), http.StatusNoContent)
	plain("MOVE of a collection", do(t, "MOVE", srv.URL+"/a", with(map[string]string{"Destination": srv.URL + "/b"}), ""), http.StatusCreated)
	plain("DELETE of a collection", do(t, "DELETE", srv.URL+"/b", alice, ""), http.StatusNoContent)
	checkTree(t, dir, "src")
	// Single files are not journaled: answered at once, preference or not.
	async := map[string]string{"Prefer": "respond-async"}
	plain("COPY of a file with Prefer", do(t, "COPY", srv.URL+"/src/d0/f0", with(map[string]string{"Prefer": "respond-async", "Destination": srv.URL + "/one"}), ""), http.StatusCreated)
	plain("MOVE of a file with Prefer", do(t, "MOVE", srv.URL+"/one", with(map[string]string{"Prefer": "respond-async", "Destination": srv.URL + "/two"}), ""), http.StatusCreated)
	plain("DELETE of a file with Prefer", do(t, "DELETE", srv.URL+"/two", with(async), ""), http.StatusNoContent)
	// A Depth 0 COPY of a collection to a new name creates one empty
	// collection.
	plain("Depth 0 COPY with Prefer", do(t, "COPY", srv.URL+"/src", with(map[string]string{"Prefer": "respond-async", "Depth": "0", "Destination": srv.URL + "/empty"}), ""), http.StatusCreated)
	// A request that fails its preconditions fails at once, with its
	// status, not with 202.
	plain("COPY onto an existing collection with Overwrite F", do(t, "COPY", srv.URL+"/src", with(map[string]string{"Prefer": "respond-async", "Overwrite": "F", "Destination": srv.URL + "/empty"}), ""), http.StatusPreconditionFailed)
	plain("DELETE of nothing with Prefer", do(t, "DELETE", srv.URL+"/nothing", with(async), ""), http.StatusNotFound)
	// Other spellings of the preference are understood.
	m := startAsync(t, srv, "alice", "DELETE", "/empty", map[string]string{"Prefer": "wait=5, RESPOND-ASYNC"})
	checkFinished(t, waitMonitor(t, srv, "alice", m.Monitor), http.StatusNoContent, 1)
}

// TestAsyncBusy writes into the destination of a running asynchronous
// COPY: 423 with the reason, after a short wait, and the COPY goes on.
func TestAsyncBusy(t *testing.T) {
	srv, dir := asyncServer(t, 3*time.Millisecond)
	m := startAsync(t, srv, "alice", "COPY", "/src", map[string]string{"Destination": srv.URL + "/dst"})
	// Once /dst exists (before, a PUT below it fails at once with 409,
	// its parent missing).
	if !waitUntil(5*time.Second, func() bool { _, now := getMonitor(t, srv, "alice", m.Monitor); return now.Resources > 0 }) {
		t.Fatal("the COPY made no progress")
	}
	if resp := do(t, "DELETE", srv.URL+"/dst", map[string]string{"X-User": "bob"}, ""); resp.status != http.StatusLocked {
		t.Errorf("DELETE of the destination of a running COPY = %d %q, want 423", resp.status, resp.body)
	}
	if resp := do(t, "PUT", srv.URL+"/src/d0/f0", map[string]string{"X-User": "bob"}, "changed"); resp.status != http.StatusLocked {
		t.Errorf("PUT into the source of a running COPY = %d %q, want 423", resp.status, resp.body)
	}
	began := time.Now()
	resp := do(t, "PUT", srv.URL+"/dst/new.txt", map[string]string{"X-User": "bob"}, "hello")
	took := time.Since(began)
	if resp.status != http.StatusLocked || !strings.Contains(resp.body, "COPY of /src to /dst is running") {
		t.Errorf("PUT into the destination of a running COPY = %d %q, want 423 with the reason", resp.status, resp.body)
	}
	if took < busyAfter || took > 5*time.Second {
		t.Errorf("423 after %s", took)
	}
	// Elsewhere, writes go on.
	if resp := do(t, "PUT", srv.URL+"/other.txt", map[string]string{"X-User": "bob"}, "hello"); resp.status != http.StatusCreated {
		t.Errorf("PUT elsewhere = %d", resp.status)
	}
	if st, now := getMonitor(t, srv, "alice", m.Monitor); st != http.StatusOK || now.State != state.OpRunning {
		t.Fatalf("the COPY was not running any more when the PUT was answered: %+v", now)
	}
	checkFinished(t, waitMonitor(t, srv, "alice", m.Monitor), http.StatusCreated, asyncMembers)
	checkTree(t, dir, "dst")
	if _, err := os.Stat(filepath.Join(dir, "dst", "new.txt")); !os.IsNotExist(err) {
		t.Errorf("the refused PUT wrote: %v", err)
	}
}

// waitUntil polls cond every 10ms until it holds (true) or d has passed.
func waitUntil(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// TestResumeCopyCounts resumes a COPY interrupted half way (its record
// says 31 resources copied, and /dst holds them): the resumed walk
// reports every member again, kept or copied, and the final record
// must count each resource of the tree once, not those 31 twice.
func TestResumeCopyCounts(t *testing.T) {
	_, dir := asyncServer(t, 0)
	for f := range asyncFiles {
		sub := filepath.Join(dir, "dst", "d0")
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%d", f)), []byte(asyncContent(0, f)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	st, err := state.Open(ctx, "memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	op, err := st.StartOperation(ctx, state.Operation{ID: randomID(), Instance: "gone", User: "alice", Method: "COPY",
		Src: "/src", Dst: "/dst", Depth: "infinity", Overwrite: true, Async: true, Phase: phaseCopy})
	if err != nil {
		t.Fatal(err)
	}
	op.Resources, op.Bytes = 2+asyncFiles, 100
	if _, err := st.SaveOperation(ctx, op); err != nil {
		t.Fatal(err)
	}
	end := resumeAndWait(t, dir, st, op.ID)
	if end.State != state.OpFinished || end.Status != http.StatusCreated || end.Resumed != 1 {
		t.Errorf("resumed COPY: state %q status %d resumed %d", end.State, end.Status, end.Resumed)
	}
	if end.Resources != asyncMembers {
		t.Errorf("resumed COPY counted %d resources, the tree has %d", end.Resources, asyncMembers)
	}
	checkTree(t, dir, "dst")
}

// TestAsyncPrefix serves the tree under /dav: the monitor is below the
// prefix, and the record's paths are the client's.
func TestAsyncPrefix(t *testing.T) {
	backend := storage.NewMemFs()
	makeTree(t, backend, "/src", 3, 5, 10)
	srv := userServer(t, backend, nil, Config{Prefix: "/dav"})
	resp := do(t, "COPY", srv.URL+"/dav/src", map[string]string{"X-User": "alice", "Prefer": "respond-async", "Destination": srv.URL + "/dav/dst"}, "")
	loc := resp.header.Get("Location")
	if resp.status != http.StatusAccepted || !regexp.MustCompile(`^/dav/\.davd/operations/[0-9a-f]{32}$`).MatchString(loc) {
		t.Fatalf("COPY under a prefix = %d, Location %q", resp.status, loc)
	}
	end := waitMonitor(t, srv, "alice", loc)
	checkFinished(t, end, http.StatusCreated, 1+3+15)
	if end.Source != "/dav/src" || end.Destination != "/dav/dst" || end.Monitor != loc {
		t.Errorf("record under a prefix: %+v", end)
	}
	if resp := do(t, "HEAD", srv.URL+loc, map[string]string{"X-User": "alice"}, ""); resp.status != http.StatusOK || resp.body != "" {
		t.Errorf("HEAD of the monitor = %d %q", resp.status, resp.body)
	}
	if st, _ := getMonitor(t, srv, "alice", strings.TrimPrefix(loc, "/dav")); st != http.StatusNotFound {
		t.Errorf("the monitor outside the prefix = %d, want 404", st)
	}
	if resp := do(t, "GET", srv.URL+"/dav/dst/d2/f4", map[string]string{"X-User": "alice"}, ""); resp.status != http.StatusOK {
		t.Errorf("copied member = %d", resp.status)
	}
}

// TestResumeCancelled resumes an operation whose user asked to cancel it
// while it was abandoned (its instance dead): it is not carried on, but
// ends cancelled, with what the first run did left as it is.
func TestResumeCancelled(t *testing.T) {
	_, dir := asyncServer(t, 0)
	ctx := context.Background()
	st, err := state.Open(ctx, "memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	op, err := st.StartOperation(ctx, state.Operation{ID: randomID(), Instance: "gone", User: "alice", Method: "COPY",
		Src: "/src", Dst: "/dst", Depth: "infinity", Overwrite: true, Async: true, Phase: phaseCopy})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RequestCancel(ctx, op.ID); err != nil {
		t.Fatal(err)
	}
	end := resumeAndWait(t, dir, st, op.ID)
	if end.State != state.OpCancelled || end.Error != "cancelled by its user" || end.Resumed != 1 {
		t.Errorf("resumed after a cancel request: state %q error %q resumed %d", end.State, end.Error, end.Resumed)
	}
	if _, err := os.Stat(filepath.Join(dir, "dst", "d9", "f29")); !os.IsNotExist(err) {
		t.Errorf("the cancelled COPY was carried on: %v", err)
	}
}

// resumeAndWait resumes the journal of st over the directory dir, as a
// server does at start, waits for what it resumed to end, and returns the
// record of operation id.
func resumeAndWait(t *testing.T, dir string, st state.Store, id string) state.Operation {
	t.Helper()
	ctx := context.Background()
	root, err := storage.NewRootFs(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	lifetime, stop := context.WithCancel(ctx)
	defer stop() // ends the journal's watch
	j := NewJournal()
	if err := j.Resume(ctx, storage.NewFileSystem(root), st, Config{Lifetime: lifetime}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := j.Wait(wctx); err != nil {
		t.Fatal(err)
	}
	end, err := st.Operation(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return end
}
