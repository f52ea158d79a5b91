package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"davd/storage/state"
)

// childEnv, when set in the environment, makes the test binary run the
// real main() with the arguments it holds (separated by newlines) instead
// of tests: lifecycle tests need a process of their own to send signals to.
const childEnv = "DAVD_LIFECYCLE_CHILD"

func init() {
	args, ok := os.LookupEnv(childEnv)
	if !ok {
		return
	}
	os.Args = append([]string{"davd"}, strings.Split(args, "\n")...)
	// The parent starts its signals after this line.
	fmt.Fprintln(os.Stdout, "STARTING")
	main()
	os.Exit(0)
}

// davdProcess is davd running as a process of its own.
type davdProcess struct {
	cmd  *exec.Cmd
	logs *logBuffer
	url  chan string // the base URL, once it serves
	exit chan error
}

// startProcess runs main() in a child process with args and waits until it
// has printed STARTING (it is in main, about to call it).
func startProcess(t *testing.T, args ...string) *davdProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), childEnv+"="+strings.Join(args, "\n"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &davdProcess{cmd: cmd, logs: new(logBuffer), url: make(chan string, 1), exit: make(chan error, 1)}
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "STARTING" {
				close(started)
			}
		}
	}()
	serving := regexp.MustCompile(`msg="davd serving".* url=(http://\S+?)/? `)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.logs.Write([]byte(sc.Text() + "\n"))
			if m := serving.FindStringSubmatch(sc.Text()); m != nil {
				p.url <- strings.TrimSuffix(m[1], "/")
			}
		}
		p.exit <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
	})
	select {
	case <-started:
	case err := <-p.exit:
		t.Fatalf("child exited before main: %v\n%s", err, p.logs)
	case <-time.After(10 * time.Second):
		t.Fatal("child did not start")
	}
	return p
}

// bigState writes a state database whose opening takes a while (about a
// twentieth of a second; seconds under the race detector): 20 000 dead
// properties.
func bigState(t *testing.T, dir string) {
	t.Helper()
	file := filepath.Join(dir, ".davd", "state.db")
	st, err := state.Open(context.Background(), "sqlite://"+file)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	db, err := sql.Open("sqlite", "file:"+file)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = db.Exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
		INSERT INTO props (path, ns, local, xml) SELECT '/f' || i, 'urn:x', 'p', '<p xmlns="urn:x">v</p>' FROM n`)
	if err != nil {
		t.Fatal(err)
	}
}

// TestSIGHUPDuringStart sends SIGHUP (what `systemctl reload` sends) to a
// davd every few milliseconds while it opens a big state, and then while
// it serves: it must survive them all and serve.
func TestSIGHUPDuringStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bigState(t, dir)
	p := startProcess(t, "serve", "--addr", "127.0.0.1:0", "--log-level", "info", dir)
	sent := 0
	var base string
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(20 * time.Second)
loop:
	for {
		select {
		case base = <-p.url:
			break loop
		case err := <-p.exit:
			t.Fatalf("davd died after %d SIGHUPs during its start: %v\n%s", sent, err, p.logs)
		case <-deadline:
			t.Fatal("davd did not start within 20s")
		case <-tick.C:
			if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			sent++
		}
	}
	if sent == 0 {
		t.Fatal("davd started before a SIGHUP could be sent: the test proves nothing")
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(50 * time.Millisecond)
	if code := status(t, "PROPFIND", base+"/"); code != 207 {
		t.Errorf("PROPFIND after %d SIGHUPs = %d", sent, code)
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
	t.Logf("%d SIGHUPs during the start", sent)
}

// readOnlyView returns dir as a read-only file system: a read-only bind
// mount of it (root), or, failing that, dir itself with every directory
// made 0555 (not root, where the mode bits stop writes).
func readOnlyView(t *testing.T, dir string) string {
	t.Helper()
	mnt := t.TempDir()
	if err := exec.Command("mount", "--bind", dir, mnt).Run(); err == nil {
		t.Cleanup(func() { exec.Command("umount", mnt).Run() })
		if out, err := exec.Command("mount", "-o", "remount,bind,ro", mnt).CombinedOutput(); err != nil {
			t.Fatalf("remount read-only: %v %s", err, out)
		}
		return mnt
	}
	if os.Geteuid() == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("cannot bind-mount as root under CI")
		}
		t.Skip("cannot bind-mount, and mode bits do not stop root")
	}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o555)
		}
		return nil
	})
	t.Cleanup(func() {
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	return dir
}

// TestReadOnlyOnReadOnlyFS: --read-only serves a tree and its state from a
// read-only file system (it used to open the state for writing and
// refuse to start): files, dead properties and locks are served, every
// change is refused, and nothing is written.
func TestReadOnlyOnReadOnlyFS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base, stop := launchDavd(t, dir)
	request(t, "PUT", base+"/doc.txt", nil, "content")
	if resp, _ := request(t, "PROPPATCH", base+"/doc.txt", nil,
		`<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:author>Ada</Z:author></D:prop></D:set></D:propertyupdate>`); resp.StatusCode != 207 {
		t.Fatalf("PROPPATCH = %d", resp.StatusCode)
	}
	stop()
	empty := filepath.Join(dir, "nostate") // a tree without state
	os.MkdirAll(empty, 0o755)
	os.WriteFile(filepath.Join(empty, "f"), []byte("f"), 0o644)
	ro := readOnlyView(t, dir)
	before := tree(t, dir)

	base = startDavd(t, "--read-only", ro)
	if resp, body := request(t, "GET", base+"/doc.txt", nil, ""); resp.StatusCode != 200 || body != "content" {
		t.Errorf("GET = %d %q", resp.StatusCode, body)
	}
	if _, body := request(t, "PROPFIND", base+"/doc.txt", map[string]string{"Depth": "0"}, ""); !strings.Contains(body, "Ada</Z:author>") {
		t.Errorf("PROPFIND lacks the dead property:\n%s", body)
	}
	for _, m := range []string{"PUT", "DELETE", "PROPPATCH", "LOCK", "MKCOL"} {
		if resp, _ := request(t, m, base+"/doc.txt", nil, ""); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s = %d, want 403", m, resp.StatusCode)
		}
	}
	// Two read-only servers may share a state.
	startDavd(t, "--read-only", ro)
	base = startDavd(t, "--read-only", filepath.Join(ro, "nostate"))
	if resp, body := request(t, "GET", base+"/f", nil, ""); resp.StatusCode != 200 || body != "f" {
		t.Errorf("GET without state = %d %q", resp.StatusCode, body)
	}
	if after := tree(t, dir); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the read-only tree changed:\n%v\n%v", before, after)
	}
}

// TestShutdownCutsUploads: with --shutdown-timeout 300ms, an upload that
// keeps arriving slowly is cut off shortly after the timeout, rather
// than read to its end (it used to keep the process up for the whole
// upload, and was then discarded anyway). Nothing of it is left.
func TestShutdownCutsUploads(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := runDavd(t, "--shutdown-timeout", "300ms", dir)
	conn := dial(t, d.base)
	defer conn.Close()
	const size = 10 << 20 // at 50 kB/s: over three minutes
	fmt.Fprintf(conn, "PUT /big HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n", size)
	sending := make(chan struct{})
	go func() {
		defer close(sending)
		chunk := make([]byte, 1024)
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
			conn.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := conn.Write(chunk); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	time.Sleep(200 * time.Millisecond) // the upload is under way
	took := d.stop(t, 10*time.Second)
	if took > 3*time.Second {
		t.Errorf("davd took %s to exit with --shutdown-timeout 300ms", took)
	}
	<-sending
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != ".davd" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	t.Logf("exited %s after the signal", took)
}
