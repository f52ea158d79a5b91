package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/webdav"
)

// serverSpec says how to start one server process on a given address.
type serverSpec struct {
	// label names the server in progress lines and errors.
	label string
	// argv is the command line for a server listening on addr; argv[0] is
	// the program.
	argv func(addr string) []string
	// termStatus marks a server that reports SIGTERM in its exit status
	// (rclone: 143): that is then its normal end, not an error.
	termStatus bool
}

// davdSpec runs the davd binary on root with the 102 emitter in the given
// mode; extra flags follow.
func davdSpec(label, bin, root, processing string, extra ...string) serverSpec {
	return serverSpec{label: label, argv: func(addr string) []string {
		args := []string{bin, "serve", "--addr", addr, "--storage", root,
			"--log-level", "error", "--processing", processing, "--shutdown-timeout", "10s"}
		return append(args, extra...)
	}}
}

// xnetSpec runs this program's hidden xnet-serve subcommand: a plain
// golang.org/x/net/webdav Handler over webdav.Dir(root).
func xnetSpec(self, root string) serverSpec {
	return serverSpec{label: "x/net", argv: func(addr string) []string {
		return []string{self, xnetServeCmd, root, addr}
	}}
}

// server is a running server process.
type server struct {
	label  string
	addr   string
	cmd    *exec.Cmd
	stderr *tailWriter
	exited chan struct{} // closed when the process has been waited for
	err    error         // the Wait error, valid once exited is closed

	termStatus bool // see serverSpec
}

// startServer starts spec on a free loopback port and waits until it
// answers OPTIONS. A port taken between choosing and binding it makes the
// process exit; that is retried on another port.
func startServer(ctx context.Context, spec serverSpec) (*server, error) {
	var lastErr error
	for range 3 {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		s, err := launch(spec, addr)
		if err != nil {
			return nil, err
		}
		err = s.waitReady(ctx, 20*time.Second)
		if err == nil {
			return s, nil
		}
		lastErr = err
		select {
		case <-s.exited:
			continue // perhaps the port; try another
		default:
			s.kill()
			return nil, err
		}
	}
	return nil, lastErr
}

// freeAddr picks a loopback port that is free at the moment.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr, nil
}

func launch(spec serverSpec, addr string) (*server, error) {
	argv := spec.argv(addr)
	cmd := exec.Command(argv[0], argv[1:]...)
	s := &server{label: spec.label, addr: addr, cmd: cmd, stderr: &tailWriter{max: 4096}, exited: make(chan struct{}), termStatus: spec.termStatus}
	cmd.Stdout = s.stderr
	cmd.Stderr = s.stderr
	// The server dies with the benchmark, even when the benchmark is killed.
	cmd.SysProcAttr = dieWithParent()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.label, err)
	}
	go func() {
		s.err = cmd.Wait()
		close(s.exited)
	}()
	return s, nil
}

// waitReady polls OPTIONS / until the server answers, it exits, or timeout.
func (s *server) waitReady(ctx context.Context, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(timeout)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodOptions, s.url("/"), nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("%s exited before answering (%v): %s", s.label, s.err, s.stderr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer OPTIONS on %s within %s: %s", s.label, s.addr, timeout, s.stderr)
		}
	}
}

// url is the address of path p on s.
func (s *server) url(p string) string { return "http://" + s.addr + p }

// stop reads the process's peak RSS, then ends it with SIGTERM, or SIGKILL
// when it has not exited 15 s later. It fails when the process had already
// died on its own, or exited with an error.
func (s *server) stop() (peakRSS int64, err error) {
	select {
	case <-s.exited:
		return 0, fmt.Errorf("%s died during the run (%v): %s", s.label, s.err, s.stderr)
	default:
	}
	peakRSS, rssErr := readVmHWM(s.cmd.Process.Pid)
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		s.kill()
		return peakRSS, fmt.Errorf("%s ignored SIGTERM for 15 s; killed", s.label)
	}
	var ee *exec.ExitError
	if s.termStatus && errors.As(s.err, &ee) && (ee.ExitCode() == 128+int(syscall.SIGTERM) ||
		ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGTERM) {
		return peakRSS, rssErr
	}
	if s.err != nil {
		return peakRSS, fmt.Errorf("%s exited with %v: %s", s.label, s.err, s.stderr)
	}
	return peakRSS, rssErr
}

// kill ends the process with SIGKILL and waits for it.
func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// readVmHWM is the peak resident set size of process pid, in bytes.
func readVmHWM(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("peak RSS: %w", err)
	}
	n, err := parseVmHWM(string(b))
	if err != nil {
		return 0, fmt.Errorf("peak RSS of pid %d: %w", pid, err)
	}
	return n, nil
}

// parseVmHWM finds the VmHWM line of a /proc/PID/status text ("VmHWM:
// 12345 kB") and returns it in bytes.
func parseVmHWM(status string) (int64, error) {
	sc := bufio.NewScanner(strings.NewReader(status))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("malformed VmHWM line %q", sc.Text())
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb < 0 {
			return 0, fmt.Errorf("malformed VmHWM line %q", sc.Text())
		}
		return kb * 1024, nil
	}
	return 0, errors.New("no VmHWM line")
}

// tailWriter keeps the last max bytes written to it, for error messages.
type tailWriter struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(t.buf))
	if s == "" {
		return "(no output)"
	}
	return s
}

// buildDavd compiles ./cmd/davd of the module at moduleRoot into out.
func buildDavd(ctx context.Context, goCmd, moduleRoot, out string) error {
	cmd := exec.CommandContext(ctx, goCmd, "build", "-o", out, "./cmd/davd")
	cmd.Dir = moduleRoot
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/davd: %w\n%s", err, b)
	}
	return nil
}

// The hidden subcommands that serve the references, each as a process of
// its own so that its RSS can be measured like davd's.
const (
	// xnetServeCmd serves a plain x/net/webdav Handler.
	xnetServeCmd = "xnet-serve"
	// floorServeCmd serves the net/http floor: a bare handler answering
	// the request-rate rows from memory.
	floorServeCmd = "floor-serve"
)

// floorSpec runs the net/http floor server on root.
func floorSpec(self, root string) serverSpec {
	return serverSpec{label: "net/http floor", argv: func(addr string) []string {
		return []string{self, floorServeCmd, root, addr}
	}}
}

// serveReference serves dir at addr with the reference named by cmd until
// SIGTERM or SIGINT.
func serveReference(cmd string, args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: davbench %s DIR ADDR", cmd)
	}
	dir, addr := args[0], args[1]
	var h http.Handler = &webdav.Handler{FileSystem: webdav.Dir(dir), LockSystem: webdav.NewMemLS()}
	if cmd == floorServeCmd {
		var err error
		if h, err = newFloorHandler(dir); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// floorHandler answers the requests of the request-rate rows with what a
// WebDAV server would send, prepared once: GET gets smallFile's bytes with
// their validators, PROPFIND its 3-property 207. It opens no file, parses
// no XML and checks nothing, so its rate is what net/http alone allows.
type floorHandler struct {
	content, multistatus []byte
	etag, lastModified   string
}

func newFloorHandler(dir string) (*floorHandler, error) {
	name := filepath.Join(dir, filepath.FromSlash(smallFile))
	content, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	lm := fi.ModTime().UTC().Format(http.TimeFormat)
	ms := `<?xml version="1.0" encoding="utf-8"?>` + "\n" +
		`<D:multistatus xmlns:D="DAV:"><D:response><D:href>` + smallFile + `</D:href><D:propstat><D:prop>` +
		`<D:getcontentlength>` + strconv.FormatInt(fi.Size(), 10) + `</D:getcontentlength>` +
		`<D:getlastmodified>` + lm + `</D:getlastmodified><D:resourcetype/>` +
		`</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>`
	return &floorHandler{content: content, multistatus: []byte(ms),
		etag: fmt.Sprintf(`"%x%x"`, fi.ModTime().UnixNano(), fi.Size()), lastModified: lm}, nil
}

func (f *floorHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	switch r.Method {
	case http.MethodGet:
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Etag", f.etag)
		h.Set("Last-Modified", f.lastModified)
		h.Set("Accept-Ranges", "bytes")
		h.Set("Content-Length", strconv.Itoa(len(f.content)))
		w.Write(f.content)
	case "PROPFIND":
		io.Copy(io.Discard, r.Body)
		h.Set("Content-Type", "application/xml; charset=utf-8")
		h.Set("Content-Length", strconv.Itoa(len(f.multistatus)))
		w.WriteHeader(http.StatusMultiStatus)
		w.Write(f.multistatus)
	default: // OPTIONS, for startServer's readiness poll
		h.Set("DAV", "1")
	}
}
