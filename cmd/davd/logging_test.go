package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// davdCommand is the test binary run as davd (see TestMain) with args,
// stopped by the context's end at the latest.
func davdCommand(ctx context.Context, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "DAVD_TEST_AS_DAVD=1"), env...)
	return cmd
}

// jsonLines parses every line of out as one JSON object, failing the test
// for any line that is not one.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var v map[string]any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Errorf("not a JSON line: %q", sc.Text())
			continue
		}
		lines = append(lines, v)
	}
	return lines
}

// TestJSONLogStartupErrors: with --log-format json (on the command line,
// in the environment or in the config file) an error that stops davd,
// whether found while parsing the flags or once the logger exists, is one
// JSON line on stderr; with text it stays the plain line "davd: ...".
func TestJSONLogStartupErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	jsonConfig := filepath.Join(dir, "json.yaml")
	if err := os.WriteFile(jsonConfig, []byte("log-format: json\nprocessing-after: soon\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { held.Close() }) // after the parallel subtests
	busy := held.Addr().String()
	for _, tt := range []struct {
		name string
		env  []string
		args []string
		want string // in the error
		json bool
	}{
		{"bad duration", nil, []string{"--log-format", "json", "--processing-after", "soon"}, "processing-after", true},
		{"flag after", nil, []string{"--processing-after=soon", "--log-format=json"}, "processing-after", true},
		{"unknown flag", nil, []string{"-log-format", "json", "--no-such-flag"}, "no-such-flag", true},
		{"bad value", nil, []string{"--log-format", "json", "--on-disconnect", "maybe"}, "--on-disconnect", true},
		{"address in use", nil, []string{"--log-format", "json", "--storage", "mem://", "--addr", busy}, "address already in use", true},
		{"environment", []string{"DAVD_LOG_FORMAT=json"}, []string{"--processing-max", "-1"}, "--processing-max", true},
		{"config file", nil, []string{"--config", jsonConfig}, "processing-after", true},
		{"flag over environment", []string{"DAVD_LOG_FORMAT=json"}, []string{"--log-format", "text", "--processing-max", "-1"}, "--processing-max", false},
		{"text", nil, []string{"--processing-max", "-1"}, "--processing-max", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := davdCommand(ctx, tt.env, append([]string{"serve", "--addr", "127.0.0.1:0"}, tt.args...)...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("davd %v: %v, want exit status 1; stderr:\n%s", tt.args, err, stderr.String())
			}
			out := stderr.String()
			if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
				t.Fatalf("stderr is not one line:\n%s", out)
			}
			if !tt.json {
				if !strings.HasPrefix(out, "davd: ") || !strings.Contains(out, tt.want) {
					t.Errorf("stderr = %q, want davd: ...%s...", out, tt.want)
				}
				return
			}
			lines := jsonLines(t, out)
			if len(lines) != 1 {
				return
			}
			l := lines[0]
			errText, _ := l["err"].(string)
			if l["level"] != "ERROR" || l["msg"] != "davd exited" || !strings.Contains(errText, tt.want) {
				t.Errorf("line = %v, want level ERROR and an err naming %q", l, tt.want)
			}
			if _, err := time.Parse(time.RFC3339Nano, l["time"].(string)); err != nil {
				t.Errorf("time: %v", err)
			}
		})
	}
}

// TestJSONLogDurations: a server run with --log-format json writes only
// JSON lines, from its start to its shutdown; a request's duration, and
// the shutdown timeout, are numbers of seconds.
func TestJSONLogDurations(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := davdCommand(ctx, nil, "serve", "--addr", "127.0.0.1:0", "--storage", "mem://",
		"--log-format", "json", "--log-level", "info", "--shutdown-timeout", "90s")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	logs := make(chan string, 100)
	go func() {
		defer close(logs)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs <- sc.Text()
		}
	}()
	var all []string
	next := func() map[string]any {
		t.Helper()
		select {
		case line, ok := <-logs:
			if !ok {
				t.Fatalf("davd closed stderr; logged:\n%s", strings.Join(all, "\n"))
			}
			all = append(all, line)
			var v map[string]any
			if err := json.Unmarshal([]byte(line), &v); err != nil {
				t.Fatalf("not a JSON line: %q", line)
			}
			return v
		case <-ctx.Done():
			t.Fatalf("no more log lines; logged:\n%s", strings.Join(all, "\n"))
		}
		return nil
	}

	var url string
	for url == "" {
		if l := next(); l["msg"] == "davd serving" {
			url, _ = l["url"].(string)
		}
	}
	req, _ := http.NewRequest(http.MethodPut, url+"f", strings.NewReader("hello"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	for {
		l := next()
		if l["msg"] != "request" {
			continue
		}
		d, ok := l["duration"].(float64)
		if !ok || d <= 0 || d > 10 {
			t.Errorf("request duration = %#v, want a number of seconds", l["duration"])
		}
		if l["method"] != "PUT" || l["status"] != float64(201) {
			t.Errorf("request line = %v", l)
		}
		break
	}

	cmd.Process.Signal(syscall.SIGTERM)
	for {
		if l := next(); l["msg"] == "shutting down" {
			if l["timeout"] != float64(90) {
				t.Errorf("shutdown timeout = %#v, want 90 (seconds)", l["timeout"])
			}
			break
		}
	}
	for line := range logs { // to the end: every line is JSON
		all = append(all, line)
		if !json.Valid([]byte(line)) {
			t.Errorf("not a JSON line: %q", line)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("davd exited with %v; logged:\n%s", err, strings.Join(all, "\n"))
	}
}

// TestTextLogDurations: the text format gives durations with their unit.
func TestTextLogDurations(t *testing.T) {
	t.Parallel()
	d := runDavd(t, "--storage", "mem://")
	if code, _ := get(t, d.base+"/"); code != http.StatusOK && code != http.StatusMultiStatus {
		t.Fatalf("GET / = %d", code)
	}
	line := d.logs.waitFor(t, `msg=request method=GET .*`)
	if !regexp.MustCompile(` duration=[0-9.]+(ns|µs|ms|s|m[0-9.]+s) `).MatchString(line) {
		t.Errorf("request line %q has no duration with a unit", line)
	}
}
