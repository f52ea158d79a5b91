package dav

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/afero"

	"davd/processing"
	"davd/storage"
	"davd/storage/state"
)

// syncBuffer is a bytes.Buffer a logger may write while a test reads it.
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

// makeTree writes root/d0..d(dirs-1)/f0..f(files-1), each of size bytes,
// straight into the backend.
func makeTree(t *testing.T, fs afero.Fs, root string, dirs, files, size int) {
	t.Helper()
	for d := range dirs {
		for f := range files {
			dir := fmt.Sprintf("%s/d%d", root, d)
			if err := fs.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := afero.WriteFile(fs, fmt.Sprintf("%s/f%d", dir, f), bytes.Repeat([]byte("x"), size), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// opServer serves backend with a registry that deems every request long,
// so that each one is logged with its totals, and with the user "alice".
func opServer(t *testing.T, backend afero.Fs, cfg Config) (*httptest.Server, *processing.Registry, *syncBuffer) {
	t.Helper()
	st, err := state.Open(context.Background(), "memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logs := new(syncBuffer)
	if cfg.Operations == nil {
		cfg.Operations = processing.NewRegistry(0)
	}
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	h, err := NewHandler(storage.NewFileSystem(backend), st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(WithUser(r.Context(), "alice")))
	}))
	t.Cleanup(srv.Close)
	return srv, cfg.Operations, logs
}

// finishedLine returns the "operation finished" log record of method on
// path, waiting briefly: it is written as the handler returns.
func finishedLine(t *testing.T, logs *syncBuffer, method, path string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for line := range strings.SplitSeq(logs.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) != nil {
				continue
			}
			if rec["msg"] == "operation finished" && rec["method"] == method && rec["path"] == path {
				return rec
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no operation finished line for %s %s in:\n%s", method, path, logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestOperationTotals checks what each operation counts, and which totals
// it knows in advance.
func TestOperationTotals(t *testing.T) {
	t.Parallel()
	backend := afero.NewMemMapFs()
	srv, _, logs := opServer(t, backend, Config{})
	lockBody := `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`
	for i, tt := range []struct {
		method, path string
		hdr          map[string]string
		body         string
		// want: resources, total_resources, bytes, total_bytes (0 = absent)
		res, totalRes, n, totalN float64
	}{
		// Tree: 1 collection, 2 collections of 3 files of 100 bytes.
		{"COPY", "/t", map[string]string{"Destination": "/copy"}, "", 9, 0, 600, 0},
		{"DELETE", "/t", nil, "", 9, 0, 600, 0},
		{"MOVE", "/t", map[string]string{"Destination": "/moved"}, "", 1, 1, 0, 0},
		{"PROPFIND", "/t", map[string]string{"Depth": "infinity"}, "", 9, 0, 0, 0},
		{"PROPFIND", "/t", map[string]string{"Depth": "0"}, "", 1, 1, 0, 0},
		{"LOCK", "/t", nil, lockBody, 1, 1, 0, 0},
		{"COPY", "/t/d0/f0", map[string]string{"Destination": "/f"}, "", 1, 1, 100, 100},
		{"COPY", "/t/d0/f0", map[string]string{"Destination": "/t/d0/f1"}, "", 2, 2, 200, 200},
		{"DELETE", "/t/d0/f0", nil, "", 1, 1, 100, 100},
	} {
		root := fmt.Sprintf("/c%d", i)
		makeTree(t, backend, root+"/t", 2, 3, 100)
		hdr := map[string]string{}
		for k, v := range tt.hdr {
			if k == "Destination" {
				v = srv.URL + root + v
			}
			hdr[k] = v
		}
		path := root + tt.path
		resp := do(t, tt.method, srv.URL+path, hdr, tt.body)
		if resp.status >= 300 && resp.status != http.StatusMultiStatus {
			t.Fatalf("%s %s = %d %s", tt.method, path, resp.status, resp.body)
		}
		rec := finishedLine(t, logs, tt.method, path)
		for _, f := range []struct {
			key  string
			want float64
		}{{"resources", tt.res}, {"total_resources", tt.totalRes}, {"bytes", tt.n}, {"total_bytes", tt.totalN}} {
			got, _ := rec[f.key].(float64)
			if got != f.want {
				t.Errorf("%s %s: %s = %v, want %v", tt.method, tt.path, f.key, got, f.want)
			}
		}
		if rec["user"] != "alice" || rec["id"] == "" || rec["status"] == nil {
			t.Errorf("%s %s: log line lacks user, id or status: %v", tt.method, tt.path, rec)
		}
		if d, ok := tt.hdr["Destination"]; ok && rec["destination"] != root+d {
			t.Errorf("%s %s: destination = %v, want %s", tt.method, tt.path, rec["destination"], root+d)
		}
	}
}

var progressNumerators = regexp.MustCompile(`^(\d+)/(\d*)(?: "[^"]*")? (\d+)/(\d*) \(bytes\)$`)

// TestProgressRises runs a COPY on slow storage and watches it two ways:
// the Progress header of each 102, and the registry's listing. Neither
// numerator may ever decrease, and both must rise while the COPY runs.
func TestProgressRises(t *testing.T) {
	t.Parallel()
	mem := afero.NewMemMapFs()
	makeTree(t, mem, "/t", 3, 8, 1000)
	srv, reg, _ := opServer(t, storage.LatencyFs{Fs: mem, Delay: 2 * time.Millisecond}, Config{
		Processing: processing.Config{Mode: processing.ModeAlways, After: 10 * time.Millisecond, Interval: 10 * time.Millisecond},
	})

	var mu sync.Mutex
	var headers []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		mu.Lock()
		defer mu.Unlock()
		if v := h.Get("Progress"); code == http.StatusProcessing && v != "" {
			headers = append(headers, v)
		}
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "COPY", srv.URL+"/t", nil)
	req.Header.Set("Destination", srv.URL+"/copy")
	req.Header.Set("Prefer", "processing")
	done := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()

	var listed []processing.OperationInfo
	var status int
poll:
	for {
		select {
		case status = <-done:
			break poll
		case <-time.After(3 * time.Millisecond):
		}
		for _, op := range reg.Operations() {
			if op.Method == "COPY" {
				listed = append(listed, op)
			}
		}
	}
	if status != http.StatusCreated {
		t.Fatalf("COPY = %d", status)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(headers) < 3 {
		t.Fatalf("only %d 102s carried a Progress header: %q", len(headers), headers)
	}
	var lastRes, lastBytes int64
	for _, h := range headers {
		m := progressNumerators.FindStringSubmatch(h)
		if m == nil {
			t.Fatalf("Progress %q does not parse", h)
		}
		res, _ := strconv.ParseInt(m[1], 10, 64)
		n, _ := strconv.ParseInt(m[3], 10, 64)
		if res < lastRes || n < lastBytes {
			t.Errorf("Progress went back: %q after %d resources, %d bytes", h, lastRes, lastBytes)
		}
		lastRes, lastBytes = res, n
	}
	if first := progressNumerators.FindStringSubmatch(headers[0]); first[1] == strconv.FormatInt(lastRes, 10) {
		t.Errorf("Progress did not rise over the 102s: %q", headers)
	}

	if len(listed) < 3 {
		t.Fatalf("COPY listed only %d times while it ran", len(listed))
	}
	lastRes, lastBytes = 0, 0
	for _, op := range listed {
		if op.Resources < lastRes || op.Bytes < lastBytes {
			t.Errorf("registry progress went back: %d/%d after %d/%d", op.Resources, op.Bytes, lastRes, lastBytes)
		}
		lastRes, lastBytes = op.Resources, op.Bytes
		if op.Path != "/t" || op.Destination != "/copy" || op.User != "alice" || op.ID == "" {
			t.Errorf("listed as %+v", op)
		}
	}
	if lastRes <= listed[0].Resources || listed[len(listed)-1].Interim == 0 {
		t.Errorf("registry progress did not rise, or no 102 counted: first %+v, last %+v", listed[0], listed[len(listed)-1])
	}
	if n := reg.InFlight(); n != 0 {
		t.Errorf("%d requests still in flight after the COPY", n)
	}
}

// TestStoppedIsNotInternal checks the status of a request stopped while it
// consulted the state (its context ended): 503, not 500.
func TestStoppedIsNotInternal(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("state: query: %w", context.Canceled), http.StatusServiceUnavailable},
		{context.DeadlineExceeded, http.StatusServiceUnavailable},
		{fmt.Errorf("state: disk on fire"), http.StatusInternalServerError},
		{storageError("/a", fmt.Errorf("copy /a: %w", context.Canceled)), http.StatusServiceUnavailable},
	} {
		rec := httptest.NewRecorder()
		writeError(rec, tt.err)
		if rec.Code != tt.want {
			t.Errorf("writeError(%v) = %d, want %d", tt.err, rec.Code, tt.want)
		}
	}
}

// failRemove refuses to remove one path, as a file the server may not
// delete would.
type failRemove struct {
	afero.Fs
	path string
}

func (f failRemove) Remove(name string) error {
	if name == f.path {
		return os.ErrPermission
	}
	return f.Fs.Remove(name)
}

// TestPartialDeleteState deletes a tree of which one member cannot be
// removed. The dead properties and locks of the removed members must go
// with them (a resource created later under the same name starts clean),
// while the member left in place keeps its own.
func TestPartialDeleteState(t *testing.T) {
	t.Parallel()
	mem := afero.NewMemMapFs()
	srv := testServer(t, failRemove{mem, "/t/b/keep"}, Config{})
	for _, p := range []string{"/t", "/t/a", "/t/b", "/t/c"} {
		mem.MkdirAll(p, 0o755)
	}
	files := []string{"/t/a/f", "/t/b/keep", "/t/b/gone", "/t/c/x"}
	for _, p := range files {
		afero.WriteFile(mem, p, []byte("x"), 0o644)
	}
	for _, p := range append(files, "/t/c") {
		r := do(t, "PROPPATCH", srv.URL+p, nil, `<D:propertyupdate xmlns:D="DAV:" xmlns:X="urn:x"><D:set><D:prop><X:p>old</X:p></D:prop></D:set></D:propertyupdate>`)
		if r.status != http.StatusMultiStatus || !strings.Contains(r.body, "200 OK") {
			t.Fatalf("PROPPATCH %s = %d %s", p, r.status, r.body)
		}
	}
	lock := do(t, "LOCK", srv.URL+"/t/b/gone", nil, `<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`)
	token := lock.header.Get("Lock-Token")
	if lock.status != http.StatusOK || token == "" {
		t.Fatalf("LOCK = %d", lock.status)
	}

	del := do(t, "DELETE", srv.URL+"/t", map[string]string{"If": "<" + srv.URL + "/t/b/gone> (" + token + ")"}, "")
	if del.status != http.StatusMultiStatus || !strings.Contains(del.body, "/t/b/keep") {
		t.Fatalf("DELETE = %d %s", del.status, del.body)
	}

	for _, p := range []string{"/t/a", "/t/c"} {
		if r := do(t, "MKCOL", srv.URL+p, nil, ""); r.status != http.StatusCreated {
			t.Fatalf("MKCOL %s = %d", p, r.status)
		}
	}
	for _, p := range []string{"/t/a/f", "/t/b/gone", "/t/c/x"} {
		if r := do(t, "PUT", srv.URL+p, nil, "new"); r.status != http.StatusCreated {
			t.Errorf("PUT %s over a removed resource = %d %s (a lock outlived it?)", p, r.status, r.body)
		}
	}
	for _, p := range []string{"/t/a/f", "/t/b/gone", "/t/c/x", "/t/c", "/t/b/keep"} {
		r := do(t, "PROPFIND", srv.URL+p, map[string]string{"Depth": "0"}, "")
		if has := strings.Contains(r.body, ">old<"); has != (p == "/t/b/keep") {
			t.Errorf("%s has the old property: %v, want %v", p, has, p == "/t/b/keep")
		}
	}
}

// failRename refuses the first rename of anything to one path.
type failRename struct {
	afero.Fs
	path   string
	failed *atomic.Bool
}

func (f failRename) Rename(oldname, newname string) error {
	if newname == f.path && f.failed.CompareAndSwap(false, true) {
		return os.ErrPermission
	}
	return f.Fs.Rename(oldname, newname)
}

// TestPartialCopyState copies a tree of which one member cannot be
// copied: the copied members get their dead properties, and the member
// that is missing leaves none waiting at its name.
func TestPartialCopyState(t *testing.T) {
	t.Parallel()
	mem := afero.NewMemMapFs()
	srv := testServer(t, failRename{mem, "/copy/skip", new(atomic.Bool)}, Config{})
	mem.MkdirAll("/t", 0o755)
	for _, p := range []string{"/t/ok", "/t/skip"} {
		afero.WriteFile(mem, p, []byte("x"), 0o644)
		r := do(t, "PROPPATCH", srv.URL+p, nil, `<D:propertyupdate xmlns:D="DAV:" xmlns:X="urn:x"><D:set><D:prop><X:p>old</X:p></D:prop></D:set></D:propertyupdate>`)
		if r.status != http.StatusMultiStatus {
			t.Fatalf("PROPPATCH %s = %d", p, r.status)
		}
	}
	if r := do(t, "COPY", srv.URL+"/t", map[string]string{"Destination": srv.URL + "/copy"}, ""); r.status != http.StatusMultiStatus || !strings.Contains(r.body, "/copy/skip") {
		t.Fatalf("COPY = %d %s", r.status, r.body)
	}
	if r := do(t, "PUT", srv.URL+"/copy/skip", nil, "new"); r.status != http.StatusCreated {
		t.Fatalf("PUT = %d", r.status)
	}
	for p, want := range map[string]bool{"/copy/ok": true, "/copy/skip": false} {
		r := do(t, "PROPFIND", srv.URL+p, map[string]string{"Depth": "0"}, "")
		if has := strings.Contains(r.body, ">old<"); has != want {
			t.Errorf("%s has the copied property: %v, want %v", p, has, want)
		}
	}
}
