package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"davd/storage/state/pgtest"
)

// TestMain lets the test binary run as davd itself (DAVD_TEST_AS_DAVD=1),
// so that crash tests can kill a real process with SIGKILL. The tests'
// client gets a transport of its own, which no httptest.Server.Close can
// reach (see dav's TestMain).
func TestMain(m *testing.M) {
	if os.Getenv("DAVD_TEST_AS_DAVD") == "1" {
		main()
		os.Exit(0)
	}
	http.DefaultClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	os.Exit(pgtest.Run(m))
}

// crashable is a davd in a process of its own.
type crashable struct {
	cmd  *exec.Cmd
	base string
	done chan struct{}
}

// spawnDavd starts davd serving dir in a child process, with the flags
// args before dir, and waits until it answers. With dir "" the storage is
// given by args (--storage).
func spawnDavd(t *testing.T, dir string, args ...string) *crashable {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	args = append([]string{"serve", "--addr", addr, "--log-level", "error"}, args...)
	if dir != "" {
		args = append(args, dir)
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "DAVD_TEST_AS_DAVD=1")
	out := new(syncBuffer)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &crashable{cmd: cmd, base: "http://" + addr, done: make(chan struct{})}
	go func() { cmd.Wait(); close(c.done) }()
	t.Cleanup(c.kill)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if resp, err := http.Get(c.base + "/"); err == nil {
			resp.Body.Close()
			return c
		}
		select {
		case <-c.done:
			t.Fatalf("davd exited before serving:\n%s", out)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("davd did not serve on %s:\n%s", addr, out)
	return nil
}

// kill ends the process with SIGKILL: no deferred function, no flush.
func (c *crashable) kill() {
	c.cmd.Process.Kill()
	<-c.done
}

// lockedMember is locked before each crash.
const lockedMember = "/src/d1/f3"

var originProp = regexp.MustCompile(`<(?:\w+:)?origin[^>/]*>([^<]*)</`)

// origin returns the Z:origin property of name ("" when it has none) and
// whether name exists.
func origin(t *testing.T, base, name string) (string, bool) {
	t.Helper()
	resp, body := request(t, "PROPFIND", base+name, map[string]string{"Depth": "0"},
		`<D:propfind xmlns:D="DAV:"><D:prop><Z:origin xmlns:Z="urn:z"/></D:prop></D:propfind>`)
	if resp.StatusCode == http.StatusNotFound {
		return "", false
	}
	if resp.StatusCode != http.StatusMultiStatus {
		t.Fatalf("PROPFIND %s = %d %s", name, resp.StatusCode, body)
	}
	if m := originProp.FindStringSubmatch(body); m != nil {
		return m[1], true
	}
	return "", true
}

// plant creates a file whose content and Z:origin property are both
// value.
func plant(t *testing.T, base, name, value string) {
	t.Helper()
	if resp, body := request(t, "PUT", base+name, nil, value); resp.StatusCode/100 != 2 {
		t.Fatalf("PUT %s = %d %s", name, resp.StatusCode, body)
	}
	resp, body := request(t, "PROPPATCH", base+name, nil,
		`<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:origin>`+value+`</Z:origin></D:prop></D:set></D:propertyupdate>`)
	if resp.StatusCode != http.StatusMultiStatus {
		t.Fatalf("PROPPATCH %s = %d %s", name, resp.StatusCode, body)
	}
}

// crashTree plants /src (and /dst when withDst) and returns every file
// name planted.
func crashTree(t *testing.T, base string, withDst bool) []string {
	var names []string
	tops := []string{"/src"}
	if withDst {
		tops = append(tops, "/dst")
	}
	for _, top := range tops {
		request(t, "MKCOL", base+top, nil, "")
		for d := range 3 {
			dir := fmt.Sprintf("%s/d%d", top, d)
			request(t, "MKCOL", base+dir, nil, "")
			for f := range 12 {
				name := fmt.Sprintf("%s/f%d", dir, f)
				plant(t, base, name, top+"-"+name[len(top):])
				names = append(names, name)
			}
		}
	}
	return names
}

// TestCrashKeepsStateInStep kills davd with SIGKILL at random points of
// DELETE, overwriting COPY and overwriting MOVE of a tree whose files all
// carry a property equal to their content, restarts it, and checks:
// every file that exists has its own property (a copied one its copy),
// no property waits at a name that is gone (a file created there later
// has none and is not locked), a MOVE's destination is wholly the old one
// or wholly the new one, and nothing reserved is visible.
func TestCrashKeepsStateInStep(t *testing.T) {
	t.Parallel()
	ops := []struct {
		method string
		hdr    map[string]string
	}{
		{"DELETE", nil},
		{"COPY", map[string]string{"Overwrite": "T"}},
		{"MOVE", map[string]string{"Overwrite": "T"}},
	}
	const trials = 8
	for _, op := range ops {
		t.Run(op.method, func(t *testing.T) {
			t.Parallel()
			interrupted, outcomes := 0, map[string]int{}
			for trial := range trials {
				dir := t.TempDir()
				d := spawnDavd(t, dir)
				names := crashTree(t, d.base, op.method != "DELETE")
				hdr := map[string]string{}
				for k, v := range op.hdr {
					hdr[k] = v
				}
				if op.method != "DELETE" {
					hdr["Destination"] = d.base + "/dst"
				}
				// A locked member: its lock must go with it, and only
				// with it.
				resp, _ := request(t, "LOCK", d.base+lockedMember, map[string]string{"Depth": "0"},
					`<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("LOCK = %d", resp.StatusCode)
				}
				hdr["If"] = "<" + d.base + lockedMember + "> (" + resp.Header.Get("Lock-Token") + ")"
				finished := make(chan int, 1)
				go func() {
					req, _ := http.NewRequest(op.method, d.base+"/src", nil)
					for k, v := range hdr {
						req.Header.Set(k, v)
					}
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						finished <- 0
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					finished <- resp.StatusCode
				}()
				time.Sleep(time.Duration(rand.IntN(12000)) * time.Microsecond)
				d.kill()
				if <-finished == 0 {
					interrupted++
				}
				d = spawnDavd(t, dir)
				outcomes[checkCrashState(t, d.base, dir, op.method, names, trial)]++
				d.kill()
			}
			t.Logf("%s: %d of %d trials killed before the answer; tree after restart: %v", op.method, interrupted, trials, outcomes)
		})
	}
}

// awaitResumed waits until a journaled DELETE or COPY of /src that the
// restarted server at base resumes has finished: until then a write
// inside it gets 423. (A MOVE here is one rename, not journaled.)
func awaitResumed(t *testing.T, base, method string) {
	t.Helper()
	probe := map[string]string{"DELETE": "/src/zz-probe", "COPY": "/dst/zz-probe"}[method]
	if probe == "" {
		return
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, body := request(t, "MKCOL", base+probe, nil, "")
		switch {
		case resp.StatusCode == http.StatusCreated:
			request(t, "DELETE", base+probe, nil, "")
			return
		case resp.StatusCode != http.StatusLocked:
			return // 409: the parent is gone
		case time.Now().After(deadline):
			t.Fatalf("%s still running 30 s after the restart: %s", method, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func checkCrashState(t *testing.T, base, dir, method string, names []string, trial int) string {
	t.Helper()
	awaitResumed(t, base, method)
	var gone []string
	kinds := map[string]int{} // for MOVE: what /dst holds
	for _, name := range names {
		got, exists := origin(t, base, name)
		if !exists {
			gone = append(gone, name)
			continue
		}
		content, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got != string(content) {
			t.Errorf("trial %d, %s: %s holds %q with property %q", trial, method, name, content, got)
		}
		if strings.HasPrefix(name, "/dst/") {
			kinds[strings.SplitN(string(content), "-", 2)[0]]++
		}
	}
	if method != "COPY" && len(kinds) > 1 {
		t.Errorf("trial %d, MOVE: /dst mixes the old and the new resource: %v", trial, kinds)
	}
	if !slices.Contains(gone, lockedMember) {
		// Still there: still locked.
		if resp, _ := request(t, "PUT", base+lockedMember, nil, "x"); resp.StatusCode != http.StatusLocked {
			t.Errorf("trial %d, %s: PUT without the token of %s, still there, = %d, want 423", trial, method, lockedMember, resp.StatusCode)
		}
	}
	for _, name := range gone {
		// A resource created where one was removed inherits nothing.
		if resp, body := request(t, "PUT", base+name, nil, "probe"); resp.StatusCode/100 != 2 {
			if resp.StatusCode == http.StatusConflict {
				continue // its collection is gone too
			}
			t.Errorf("trial %d, %s: PUT of removed %s = %d %s", trial, method, name, resp.StatusCode, body)
			continue
		}
		if got, _ := origin(t, base, name); got != "" {
			t.Errorf("trial %d, %s: %s, created after it was removed, inherited property %q", trial, method, name, got)
		}
	}
	srcGone := 0
	for _, name := range gone {
		if strings.HasPrefix(name, "/src/") {
			srcGone++
		}
	}
	outcome := "partial"
	switch {
	case srcGone == 0 && (method != "COPY" || kinds["/dst"] == 36):
		outcome = "untouched"
	case srcGone == 36 || (method == "COPY" && kinds["/src"] == 36):
		outcome = "complete"
	}
	filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && e.Name() != ".davd" && strings.HasPrefix(e.Name(), ".davd") {
			t.Errorf("trial %d, %s: reserved entry left behind: %s", trial, method, p)
		}
		if err == nil && e.Name() == ".davd" && e.IsDir() {
			return filepath.SkipDir
		}
		return nil
	})
	return outcome
}
