package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// appStart serialises the part of App.Run that parses flags: urfave/cli v2
// keeps HelpFlag and the help command as package-level values and mutates
// them there. One process runs one App in production; tests run many.
var appStart sync.Mutex

// runApp runs app with args, holding appStart until the server listens or
// the app returns.
func runApp(ctx context.Context, args []string, stdout, stderr io.Writer, onListen func(net.Addr)) error {
	appStart.Lock()
	var once sync.Once
	unlock := func() { once.Do(appStart.Unlock) }
	defer unlock()
	return newApp(stdout, stderr, func(a net.Addr) {
		unlock()
		if onListen != nil {
			onListen(a)
		}
	}).RunContext(ctx, args)
}

// startDavd runs `davd serve args...` in-process and returns the base URL
// once it listens. The server stops when the test ends.
func startDavd(t *testing.T, args ...string) string {
	t.Helper()
	base, stop := launchDavd(t, args...)
	t.Cleanup(stop)
	return base
}

// launchDavd is startDavd with the stop left to the caller (restart tests).
func launchDavd(t *testing.T, args ...string) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		args := append([]string{"davd", "serve", "--addr", "127.0.0.1:0", "--log-level", "warn"}, args...)
		done <- runApp(ctx, args, io.Discard, io.Discard, func(a net.Addr) { addrc <- a })
	}()
	select {
	case a := <-addrc:
		var once sync.Once
		return "http://" + a.String(), func() {
			once.Do(func() {
				cancel()
				select {
				case err := <-done:
					if err != nil {
						t.Errorf("davd exited with %v", err)
					}
				case <-time.After(10 * time.Second):
					t.Error("davd did not shut down")
				}
			})
		}
	case err := <-done:
		cancel()
		t.Fatalf("davd %v exited: %v", args, err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("davd did not start")
	}
	return "", nil
}

func TestBadFlagsFailBeforeListening(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	badYAML := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badYAML, []byte("addr: [unclosed\n"), 0o644)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--storage", "ftp://host/dir"}, `unknown scheme "ftp"`},
		{[]string{"--storage", "s3://bucket?endpoint=127.0.0.1:9"}, "not an http:// or https:// URL"},
		{[]string{"--storage", "mem://?latency=soon"}, "latency"},
		{[]string{"--processing", "sometimes"}, "--processing"},
		{[]string{"--processing-after", "-1s"}, "must not be negative"},
		{[]string{"--processing-interval", "-5s"}, "must not be negative"},
		{[]string{"--processing-interval", "0s"}, "must be positive"},
		{[]string{"--processing-max", "-1"}, "--processing-max"},
		{[]string{"--processing-deny", "(unclosed"}, "--processing-deny"},
		{[]string{"--processing-after", "soon"}, "want a duration"},
		{[]string{"--config", filepath.Join(dir, "missing.yaml")}, "config file"},
		{[]string{"--config", badYAML}, "config file"},
		{[]string{"--log-format", "xml"}, "--log-format"},
		{[]string{"--log-level", "loud"}, "--log-level"},
		{[]string{"--prefix", "dav"}, "--prefix"},
		{[]string{"--addr", "127.0.0.1:99999"}, "--addr"},
		{[]string{"--admin-addr", "127.0.0.1:99999"}, "--admin-addr"},
		{[]string{"--on-disconnect", "maybe"}, "--on-disconnect"},
		{[]string{"--no-such-flag"}, "unknown flag"},
		{[]string{"a", "b"}, "at most one DIR"},
		{[]string{"--storage", "mem://", dir}, "not both"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			listened := false
			args := append([]string{"davd", "serve", "--addr", "127.0.0.1:0"}, tt.args...)
			err := runApp(context.Background(), args, &out, &out, func(net.Addr) { listened = true })
			if err == nil {
				t.Fatal("no error")
			}
			if listened {
				t.Error("listened before failing")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if strings.Contains(out.String(), "USAGE") {
				t.Errorf("printed the help text instead of one line:\n%s", out.String())
			}
		})
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := runApp(context.Background(), []string{"davd", "version"}, &out, &out, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "davd ") || !strings.Contains(out.String(), "go1.") {
		t.Errorf("version printed %q", out.String())
	}
}
