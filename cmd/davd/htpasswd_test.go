package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// htpasswdTool runs Apache's htpasswd (Debian apache2-utils) with args.
// Without it the test is skipped, except under CI, where it fails.
func htpasswdTool(t *testing.T, args ...string) {
	t.Helper()
	if _, err := exec.LookPath("htpasswd"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("htpasswd (apache2-utils) is not installed")
		}
		t.Skip("htpasswd (apache2-utils) is not installed")
	}
	if out, err := exec.Command("htpasswd", args...).CombinedOutput(); err != nil {
		t.Fatalf("htpasswd %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// startError runs davd serve with args and returns the error that stops it
// before it listens.
func startError(t *testing.T, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return runApp(ctx, append([]string{"davd", "serve", "--addr", "127.0.0.1:0", "--storage", "mem://"}, args...),
		io.Discard, io.Discard, nil)
}

// TestHtpasswdRefusesOtherHashes: an htpasswd file with an entry that is
// not bcrypt stops davd with a line naming the file, the line number, the
// user and the kind of hash, never the hash or the password.
func TestHtpasswdRefusesOtherHashes(t *testing.T) {
	t.Parallel()
	for _, k := range []struct{ opt, kind string }{
		{"-m", "MD5"}, {"-s", "SHA-1"}, {"-d", "crypt"}, {"-p", "plain-text"}, {"-2", "SHA-256"}, {"-5", "SHA-512"},
	} {
		t.Run(k.opt, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "htpasswd")
			os.WriteFile(file, []byte("# davd users\n"), 0o600)
			htpasswdTool(t, "-b", "-B", "-C", "4", file, "alice", "alice-pw")
			htpasswdTool(t, "-b", k.opt, file, "carol", "Carol-s3cret")
			data, _ := os.ReadFile(file)
			_, hash, _ := strings.Cut(strings.Split(string(data), "\n")[2], ":")
			err := startError(t, "--htpasswd", file)
			if err == nil {
				t.Fatalf("an htpasswd file with a %s entry was accepted", k.kind)
			}
			msg := err.Error()
			for _, want := range []string{file, "line 3", `"carol"`, k.kind, "htpasswd -B"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not give %q", msg, want)
				}
			}
			if strings.Contains(msg, "Carol-s3cret") || strings.Contains(msg, hash) || strings.Contains(msg, "\n") {
				t.Errorf("error shows the password or the hash, or is not one line: %q", msg)
			}
		})
	}
}

// TestHtpasswdStartRefusals: a name in both the config file and the
// htpasswd file, and an htpasswd file without users, stop davd.
func TestHtpasswdStartRefusals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file, cfgFile := filepath.Join(dir, "htpasswd"), filepath.Join(dir, "davd.yaml")
	htpasswdTool(t, "-c", "-b", "-B", "-C", "4", file, "alice", "alice-pw")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf("users:\n  - name: alice\n    password: '%s'\n", cheapHash(t, "x"))), 0o600)
	if err := startError(t, "--config", cfgFile, "--htpasswd", file); err == nil ||
		!strings.Contains(err.Error(), `user "alice" is both in the config file`) || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("alice in both files: %v", err)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("# nobody yet\n\n"), 0o600)
	if err := startError(t, "--htpasswd", empty); err == nil || !strings.Contains(err.Error(), "holds no users") {
		t.Errorf("an htpasswd file without users: %v", err)
	}
	if err := startError(t, "--htpasswd", filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "--htpasswd") {
		t.Errorf("a missing htpasswd file: %v", err)
	}
}

// TestHtpasswdUsers runs davd as a process with users from an htpasswd
// file that htpasswd -B wrote, beside a config file user: both sign in,
// the htpasswd user over the whole storage with every permission. The file
// is then changed with htpasswd (bob added, alice deleted) and SIGHUP
// makes it so; a duplicate name or an MD5 entry added later is refused on
// reload and the previous users keep working. --realm, given on the
// command line, wins over the file's realm after the reload too.
func TestHtpasswdUsers(t *testing.T) {
	t.Parallel()
	dir, conf := t.TempDir(), t.TempDir()
	file, cfgFile := filepath.Join(conf, "htpasswd"), filepath.Join(conf, "davd.yaml")
	htpasswdTool(t, "-c", "-b", "-B", "-C", "4", file, "alice", "alice-pw")
	replaceFile(t, cfgFile, fmt.Sprintf("realm: From the file\nusers:\n  - name: carol\n    password: '%s'\n    root: carol\n    permissions: read\n",
		cheapHash(t, "carol-pw")))
	p := startProcess(t, "serve", "--addr", "127.0.0.1:0", "--log-level", "info", "--config", cfgFile, "--htpasswd", file, "--realm", "Fixed", dir)
	var base string
	select {
	case base = <-p.url:
	case err := <-p.exit:
		t.Fatalf("davd exited: %v\n%s", err, p.logs)
	case <-time.After(20 * time.Second):
		t.Fatalf("davd did not serve:\n%s", p.logs)
	}
	if code, _ := userRequest(t, "PUT", base+"/carol/a.txt", "alice", "alice-pw", "a"); code != http.StatusCreated {
		t.Errorf("PUT as alice (htpasswd) in the storage = %d, want 201", code)
	}
	if code, _ := userRequest(t, "PUT", base+"/a.txt", "alice", "wrong", "a"); code != http.StatusUnauthorized {
		t.Errorf("alice with a wrong password = %d, want 401", code)
	}
	if code, _ := userRequest(t, "GET", base+"/a.txt", "carol", "carol-pw", ""); code != http.StatusOK {
		t.Errorf("GET as carol (config file) in her root = %d, want 200", code)
	}
	if code, _ := userRequest(t, "PUT", base+"/b.txt", "carol", "carol-pw", "b"); code != http.StatusForbidden {
		t.Errorf("PUT as carol, read-only = %d, want 403", code)
	}

	htpasswdTool(t, "-b", "-B", "-C", "4", file, "bob", "bob-pw")
	htpasswdTool(t, "-D", file, "alice")
	line := reloadAndWait(t, p, `.*msg="configuration reloaded".*`, 1)
	if !strings.Contains(line, "users=2") {
		t.Errorf("reload line: %s", line)
	}
	if code, _ := userRequest(t, "PUT", base+"/bob.txt", "bob", "bob-pw", "b"); code != http.StatusCreated {
		t.Errorf("PUT as bob after the reload = %d, want 201", code)
	}
	// --realm on the command line wins over the file, after a reload too.
	if code, challenge := userRequest(t, "GET", base+"/carol/a.txt", "alice", "alice-pw", ""); code != http.StatusUnauthorized ||
		!strings.Contains(challenge, `realm="Fixed"`) {
		t.Errorf("alice, deleted, after the reload = %d %q, want 401 in realm Fixed", code, challenge)
	}

	for i, bad := range []struct {
		add    []string
		reason string
	}{
		{[]string{"-b", "-B", "-C", "4", file, "carol", "other-pw"}, `carol\" is both in the config file`},
		{[]string{"-b", "-m", file, "dave", "dave-pw"}, "MD5"},
	} {
		htpasswdTool(t, bad.add...)
		line := reloadAndWait(t, p, `.*msg="configuration reload failed.*`, i+1)
		if !strings.Contains(line, "level=ERROR") || !strings.Contains(line, bad.reason) {
			t.Errorf("reload failure logged as %s, want an error giving %q", line, bad.reason)
		}
		if code, _ := userRequest(t, "GET", base+"/bob.txt", "bob", "bob-pw", ""); code != http.StatusOK {
			t.Errorf("refused reload: bob = %d, want 200", code)
		}
		if code, _ := userRequest(t, "GET", base+"/a.txt", "carol", "carol-pw", ""); code != http.StatusOK {
			t.Errorf("refused reload: carol with her own password = %d, want 200", code)
		}
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exit:
	case <-time.After(10 * time.Second):
		t.Error("davd did not exit after SIGTERM")
	}
}

// TestReadHtpasswd covers what the htpasswd tool does not write: CRLF
// line ends, $2a$ and $2b$ hashes, and malformed lines.
func TestReadHtpasswd(t *testing.T) {
	t.Parallel()
	hash := cheapHash(t, "pw") // $2a$
	b := "$2b$" + strings.TrimPrefix(hash, "$2a$")
	for _, c := range []struct {
		content string
		users   int
		err     string
	}{
		{"# team\r\nann:" + hash + "\r\n\r\nben:" + b + "\r\n", 2, ""},
		{"ann:" + hash + "\nann:" + b + "\n", 0, `line 2: user "ann" is already on line 1`},
		{"ann " + hash + "\n", 0, "line 1 is not name:hash"},
		{"ann:$1$abc$def\n", 0, "MD5-crypt"},
		{"ann:\n", 0, "an empty password"},
		{"ann:$2y$10$short\n", 0, "malformed bcrypt hash"},
		{":" + hash + "\n", 0, "empty user name"},
	} {
		file := filepath.Join(t.TempDir(), "htpasswd")
		os.WriteFile(file, []byte(c.content), 0o600)
		entries, err := readHtpasswd(file)
		switch {
		case c.err == "" && (err != nil || len(entries) != c.users):
			t.Errorf("%q: %d users, %v; want %d", c.content, len(entries), err, c.users)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: error %v, want one giving %q", c.content, err, c.err)
		}
	}
}
