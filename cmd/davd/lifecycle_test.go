package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
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
// second on the CI machine): 300 000 dead properties.
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
	_, err = db.Exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000)
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
	tick := time.NewTicker(5 * time.Millisecond)
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
