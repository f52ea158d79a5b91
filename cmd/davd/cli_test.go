package main

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cliError runs `davd args...` in-process and returns its error, failing
// the test when it succeeds, listens, or prints more than one line.
func cliError(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	listened := false
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := runApp(ctx, append([]string{"davd"}, args...), &out, &out, func(net.Addr) { listened = true; cancel() })
	if err == nil {
		t.Fatalf("davd %q: no error", args)
	}
	if listened {
		t.Errorf("davd %q listened before failing", args)
	}
	if strings.Contains(err.Error(), "\n") || strings.Contains(out.String(), "USAGE") {
		t.Errorf("davd %q: not one line: %q\n%s", args, err, out.String())
	}
	return err.Error()
}

// cliProcess runs `davd args...` as a process of its own in dir, with
// env, and returns its output up to the "davd serving" line, or all of it
// if it exits first, and whether it served. The process is stopped.
func cliProcess(t *testing.T, dir string, env []string, args ...string) (out string, served bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := davdCommand(ctx, env, args...)
	cmd.Dir = dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "davd serving") {
			served = true
			break
		}
	}
	cancel()
	cmd.Wait()
	return b.String(), served
}

// TestStorageSpellings (issue 17, item 3): a storage spelling that is
// more likely a typo than a directory is refused with a hint, and a
// missing directory is created only when it is the default ./data or
// --create asks for it. Valid one-slash URIs are understood.
func TestStorageSpellings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "share", "hello.txt"), "hello")

	// file:/abs/dir is that directory, not ./file:/abs/dir.
	base := startDavd(t, "--storage", "file:"+filepath.Join(dir, "share"))
	if code, body := get(t, base+"/hello.txt"); code != 200 || body != "hello" {
		t.Errorf("--storage file:/abs: GET = %d %q", code, body)
	}
	// mem: is memory, not a directory named "mem:" in the working directory.
	startDavd(t, "--storage", "mem:")
	if _, err := os.Stat("mem:"); err == nil {
		os.Remove("mem:")
		t.Error("--storage mem: created a directory named mem:")
	}

	missing := filepath.Join(dir, "missing")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", missing}, missing + " does not exist"},
		{[]string{"serve", missing}, "--create"},
		{[]string{"serve", "--storage", "file://" + missing}, "does not exist"},
		{[]string{"serve", "s3:bucket"}, "neither a storage URL"},
		{[]string{"serve", filepath.Join(dir, "a:b")}, "nor an existing directory"},
		{[]string{"serve", "file:relative"}, "not absolute"},
		{[]string{"serve", "~/share"}, "starts with ~"},
		{[]string{"serve", "help"}, "davd help serve"},
		{[]string{"serve", "version"}, "is a davd command"},
		{[]string{"serve", "--read-only", "data"}, "does not exist"}, // ./data is created only for a server that writes
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			args := append([]string{"serve", "--addr", "127.0.0.1:0"}, tt.args[1:]...)
			if err := cliError(t, args...); !strings.Contains(err, tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("a refused storage created %s", missing)
	}

	// --create makes it, wherever it stands on the command line.
	startDavd(t, missing, "--create")
	if fi, err := os.Stat(missing); err != nil || !fi.IsDir() {
		t.Errorf("--create did not create %s: %v", missing, err)
	}
}

// TestDefaultDataCreated: the default storage, ./data, is created when
// missing; another missing directory is not (issue 17, item 3).
func TestDefaultDataCreated(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out, served := cliProcess(t, dir, nil, "serve", "--addr", "127.0.0.1:0", "--state", "memory:", "./other")
	if served || !strings.Contains(out, "does not exist") {
		t.Errorf("serve ./other (missing) served or did not say why:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "other")); err == nil {
		t.Error("./other was created")
	}
	out, served = cliProcess(t, dir, nil, "serve", "--addr", "127.0.0.1:0")
	if !served {
		t.Fatalf("serve without a storage did not serve:\n%s", out)
	}
	if fi, err := os.Stat(filepath.Join(dir, "data")); err != nil || !fi.IsDir() {
		t.Errorf("./data not created: %v", err)
	}
}

// TestFlagsAfterDir (issue 17, item 5): flags after DIR apply, "--" ends
// the flags, and DIR wins over --storage from the config file.
func TestFlagsAfterDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "hello.txt"), "hello")
	cfg := filepath.Join(t.TempDir(), "davd.yaml")
	writeFile(t, cfg, "storage: mem://\n")

	base := startDavd(t, dir, "--read-only", "--config", cfg)
	if code, body := get(t, base+"/hello.txt"); code != 200 || body != "hello" {
		t.Errorf("DIR did not win over the config file's storage: GET = %d %q", code, body)
	}
	resp, _ := request(t, "PUT", base+"/new.txt", nil, "x")
	if resp.StatusCode != 403 {
		t.Errorf("--read-only after DIR: PUT = %d, want 403", resp.StatusCode)
	}
	if _, err := os.Stat(filepath.Join(dir, "new.txt")); err == nil {
		t.Error("--read-only after DIR: the PUT wrote a file")
	}

	if err := cliError(t, "serve", "--addr", "127.0.0.1:0", "--", dir, "--read-only"); !strings.Contains(err, "at most one DIR") {
		t.Errorf("after --, --read-only is an argument; got %q", err)
	}
	if err := cliError(t, "serve", "--addr", "127.0.0.1:0", dir, "--storage", "mem://"); !strings.Contains(err, "not both") {
		t.Errorf("DIR and --storage on the command line: got %q", err)
	}
}

// TestDirOverridesEnvironment: DIR wins over DAVD_STORAGE (issue 17,
// item 5).
func TestDirOverridesEnvironment(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out, served := cliProcess(t, t.TempDir(), []string{"DAVD_STORAGE=mem://"}, "serve", "--addr", "127.0.0.1:0", dir)
	if !served || !strings.Contains(out, `storage="directory `+dir) {
		t.Errorf("DIR with DAVD_STORAGE set: not served from %s:\n%s", dir, out)
	}
}

// TestUsageHints (issue 17, item 5): a mistyped flag, command or config
// key gets one line naming what was probably meant, or the form wanted.
func TestUsageHints(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	top := filepath.Join(dir, "top.yaml")
	writeFile(t, top, "addr: 127.0.0.1:0\nreadonly: true\n")
	nested := filepath.Join(dir, "nested.yaml")
	writeFile(t, nested, "users:\n  - name: bob\n    pasword: x\n")
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"serve", "--readonly"}, []string{"--readonly", "did you mean --read-only?"}},
		{[]string{"serve", dir, "--readonly"}, []string{"did you mean --read-only?"}},
		{[]string{"serve", "--storage", "mem://", "--addr", "18081"}, []string{"--addr 18081: want HOST:PORT, e.g. 127.0.0.1:18081"}},
		{[]string{"serve", "--storage", "mem://", "--admin-addr", "localhost"}, []string{"--admin-addr localhost: want HOST:PORT, e.g. localhost:8080 (or PORT alone for 127.0.0.1)"}},
		{[]string{"serve", "--processing-after", "20"}, []string{"--processing-after 20: want a duration with a unit, e.g. 20s"}},
		{[]string{"serve", "mem://", "--processing-interval", "20"}, []string{"--processing-interval 20: want a duration with a unit, e.g. 20s"}},
		{[]string{"serve", "mem://", "--processing-max", "many"}, []string{"--processing-max many: want a whole number"}},
		{[]string{"serve", "mem://", "--addr"}, []string{"--addr needs a value"}},
		{[]string{"serve", "--storage", "mem://", "--config", top}, []string{top + ":2:1:", `unknown key "readonly"`, `did you mean "read-only"?`, "allowed there: addr, admin-addr,", "users"}},
		{[]string{"serve", "--storage", "mem://", "--config", nested}, []string{nested + ":3:5:", `"pasword" in users[0]`, `did you mean "password"?`, "allowed there: name, password, permissions, root, rules"}},
		{[]string{"serv"}, []string{`unknown command "serv"`, `did you mean "serve"?`}},
		{[]string{"help", "serv"}, []string{`did you mean "serve"?`}},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			err := cliError(t, tt.args...)
			for _, w := range tt.want {
				if !strings.Contains(err, w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestHelpServe: `davd help serve` and a --help after DIR show serve's
// flags (issue 17, item 5).
func TestHelpServe(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"davd", "help", "serve"}, {"davd", "serve", t.TempDir(), "--help"}} {
		var out bytes.Buffer
		listened := false
		if err := runApp(context.Background(), args, &out, &out, func(net.Addr) { listened = true }); err != nil {
			t.Errorf("%q: %v", args, err)
		}
		if listened || !strings.Contains(out.String(), "davd serve") || !strings.Contains(out.String(), "--read-only") {
			t.Errorf("%q: listened %v, printed:\n%s", args, listened, out.String())
		}
	}
}
