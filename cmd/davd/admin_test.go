package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"davd/storage/state"
)

// testToken is an admin token long enough to be accepted.
const testToken = "0123456789abcdef-admin-test-token"

// tokenFile writes token to a file of mode 0600 and returns its name.
func tokenFile(t *testing.T, token string) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "admin.token")
	if err := os.WriteFile(name, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// adminGet sends GET url with "Authorization: Bearer token" (none when
// token is "") and returns the status, the WWW-Authenticate header and
// the body.
func adminGet(t *testing.T, url, token string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(b)
}

// TestAdminBarePortIsLoopback: --admin-addr given as a port alone, with or
// without its colon, listens on 127.0.0.1, not on every interface.
func TestAdminBarePortIsLoopback(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"0", ":0"} {
		t.Run(addr, func(t *testing.T) {
			t.Parallel()
			d := runDavd(t, "--admin-addr", addr, "--storage", "mem://")
			u, err := url.Parse(d.admin)
			if err != nil || d.admin == "" {
				t.Fatalf("admin URL %q: %v", d.admin, err)
			}
			if u.Hostname() != "127.0.0.1" {
				t.Errorf("--admin-addr %s listens on %s, want 127.0.0.1", addr, u.Host)
			}
			if code, _, body := adminGet(t, d.admin+"/healthz", ""); code != http.StatusOK || body != "ok\n" {
				t.Errorf("/healthz = %d %q", code, body)
			}
		})
	}
	if got, want := adminListenAddr("9090"), "127.0.0.1:9090"; got != want {
		t.Errorf("adminListenAddr(9090) = %s, want %s", got, want)
	}
	for _, explicit := range []string{"0.0.0.0:9090", "[::]:9090", "192.0.2.1:9090", "localhost:9090"} {
		if got := adminListenAddr(explicit); got != explicit {
			t.Errorf("adminListenAddr(%s) = %s: an explicit host must be kept", explicit, got)
		}
	}
}

// TestAdminRemovedFlag: --allow-remote-admin is gone; on the command line
// and in the config file it is refused with what replaces it, not with a
// guess at a similar flag.
func TestAdminRemovedFlag(t *testing.T) {
	t.Parallel()
	cfgFile := filepath.Join(t.TempDir(), "davd.yaml")
	writeFile(t, cfgFile, "admin-addr: 0.0.0.0:9090\nallow-remote-admin: true\n")
	for _, args := range [][]string{
		{"serve", "--storage", "mem://", "--allow-remote-admin", "--admin-addr", "0.0.0.0:99999"},
		{"serve", "mem://", "--allow-remote-admin"},
		{"serve", "--storage", "mem://", "--config", cfgFile},
	} {
		err := cliError(t, args...)
		if !strings.Contains(err, "allow-remote-admin") || !strings.Contains(err, "was removed") || !strings.Contains(err, "--admin-token-file") {
			t.Errorf("davd %q: error %q does not say --allow-remote-admin was replaced by --admin-token-file", args, err)
		}
	}
}

// TestAdminToken: with --admin-token-file, /operations and /metrics answer
// 401 with a Bearer challenge to a request without the token or with
// another, and 200 to one with it. /healthz stays open, but says why the
// server is unhealthy only to a request with the token.
func TestAdminToken(t *testing.T) {
	t.Parallel()
	file := tokenFile(t, testToken)
	d := runDavd(t, "--admin-addr", "127.0.0.1:0", "--admin-token-file", file, "--storage", "mem://")
	slow := runDavd(t, "--admin-addr", "127.0.0.1:0", "--admin-token-file", file, "--storage", "mem://?latency=2500ms")
	if d.admin == "" || slow.admin == "" {
		t.Fatal("no admin listener in the log")
	}
	for _, path := range []string{"/operations", "/metrics", "/nothing"} {
		for _, bad := range []string{"", "wrong-token-of-enough-length", testToken + "x", testToken[:16]} {
			code, challenge, body := adminGet(t, d.admin+path, bad)
			if code != http.StatusUnauthorized || challenge != `Bearer realm="davd admin"` {
				t.Errorf("GET %s with token %q = %d, WWW-Authenticate %q; want 401 with a Bearer challenge", path, bad, code, challenge)
			}
			if strings.Count(body, "\n") != 1 || strings.Contains(body, "in_flight") || strings.Contains(body, "davd_") {
				t.Errorf("GET %s with token %q: body %q, want one line of reason", path, bad, body)
			}
		}
		// Another scheme is no token either.
		req, _ := http.NewRequest(http.MethodGet, d.admin+path, nil)
		req.SetBasicAuth("admin", testToken)
		if resp, err := http.DefaultClient.Do(req); err != nil {
			t.Fatal(err)
		} else if resp.Body.Close(); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s with Basic credentials = %d, want 401", path, resp.StatusCode)
		}
	}
	if code, _, body := adminGet(t, d.admin+"/operations", testToken); code != http.StatusOK || !strings.Contains(body, `"in_flight"`) {
		t.Errorf("/operations with the token = %d %q", code, body)
	}
	if code, _, body := adminGet(t, d.admin+"/metrics", testToken); code != http.StatusOK || !strings.Contains(body, "davd_build_info") {
		t.Errorf("/metrics with the token = %d, %d bytes", code, len(body))
	}
	if code, _, body := adminGet(t, d.admin+"/healthz", ""); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz without the token = %d %q, want 200 ok", code, body)
	}
	if code, _, body := adminGet(t, slow.admin+"/healthz", ""); code != http.StatusServiceUnavailable || body != "unhealthy\n" {
		t.Errorf("/healthz of a storage that does not answer, without the token = %d %q, want 503 unhealthy and no details", code, body)
	}
	if code, _, body := adminGet(t, slow.admin+"/healthz", testToken); code != http.StatusServiceUnavailable || !strings.Contains(body, "does not answer") {
		t.Errorf("/healthz of a storage that does not answer, with the token = %d %q, want 503 with the reason", code, body)
	}
}

// TestAdminTokenFileOpen: a token file its group or others may read is
// served, with a warning at start.
func TestAdminTokenFileOpen(t *testing.T) {
	t.Parallel()
	file := tokenFile(t, testToken)
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	d := runDavd(t, "--admin-addr", "127.0.0.1:0", "--admin-token-file", file, "--storage", "mem://")
	if !regexp.MustCompile(`level=WARN msg=".*admin-token-file .* is open to other users \(mode 0644\): chmod 600 it"`).MatchString(d.logs.String()) {
		t.Errorf("no warning about the token file's mode in\n%s", d.logs)
	}
	if code, _, _ := adminGet(t, d.admin+"/operations", testToken); code != http.StatusOK {
		t.Errorf("/operations with the token = %d, want 200", code)
	}
}

// TestAdminTokenReload runs davd as a process: after the token file is
// replaced and SIGHUP sent, the new token is required and the old one
// refused; a file replaced by a too short token is refused and the
// current token stays.
func TestAdminTokenReload(t *testing.T) {
	t.Parallel()
	file := tokenFile(t, testToken)
	p := startProcess(t, "serve", "--addr", "127.0.0.1:0", "--log-level", "info", "--storage", "mem://",
		"--admin-addr", "127.0.0.1:0", "--admin-token-file", file)
	select {
	case <-p.url:
	case <-time.After(20 * time.Second):
		t.Fatalf("davd did not start:\n%s", p.logs)
	}
	listening := regexp.MustCompile(`msg="admin listening" url=(\S+)/`)
	admin := ""
	for deadline := time.Now().Add(10 * time.Second); admin == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := listening.FindStringSubmatch(p.logs.String()); m != nil {
			admin = m[1]
		}
	}
	if admin == "" {
		t.Fatalf("no admin listener in\n%s", p.logs)
	}
	if code, _, _ := adminGet(t, admin+"/operations", testToken); code != http.StatusOK {
		t.Fatalf("/operations with the token = %d", code)
	}
	const next = "fedcba9876543210-the-next-token"
	replaceFile(t, file, next+"\n")
	reloadAndWait(t, p, `msg="admin token reloaded"`, 1)
	if code, _, _ := adminGet(t, admin+"/operations", testToken); code != http.StatusUnauthorized {
		t.Errorf("/operations with the old token after reload = %d, want 401", code)
	}
	if code, _, _ := adminGet(t, admin+"/operations", next); code != http.StatusOK {
		t.Errorf("/operations with the new token = %d, want 200", code)
	}
	replaceFile(t, file, "short\n")
	reloadAndWait(t, p, `msg="admin token reload failed; still requiring the previous one".*want 16 or more`, 1)
	if code, _, _ := adminGet(t, admin+"/operations", next); code != http.StatusOK {
		t.Errorf("/operations with the kept token after a failed reload = %d, want 200", code)
	}
	if code, _, _ := adminGet(t, admin+"/operations", "short"); code != http.StatusUnauthorized {
		t.Errorf("/operations with the refused token = %d, want 401", code)
	}
}

// TestAdminJournal: /operations shows the journal's operations with their
// state, and ?state= keeps those in one state.
func TestAdminJournal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	diskTree(t, dir, 2, 3)
	d := runDavd(t, "--storage", dir, "--admin-addr", "127.0.0.1:0")
	req, _ := http.NewRequest("COPY", d.base+"/tree", nil)
	req.Header.Set("Destination", d.base+"/copy")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("COPY = %d", resp.StatusCode)
	}
	type entry struct {
		Method, Source, Destination, State string
	}
	journal := func(query string) []entry {
		t.Helper()
		code, _, body := adminGet(t, d.admin+"/operations"+query, "")
		var v struct {
			Journal      *[]entry `json:"journal"`
			JournalError string   `json:"journal_error"`
		}
		if err := json.Unmarshal([]byte(body), &v); code != http.StatusOK || err != nil || v.Journal == nil {
			t.Fatalf("/operations%s = %d %q (%v), want a journal", query, code, body, err)
		}
		return *v.Journal
	}
	copied := func(list []entry) bool {
		for _, e := range list {
			if e.Method == "COPY" && strings.HasSuffix(e.Source, "/tree") && e.State == "finished" {
				return true
			}
		}
		return false
	}
	if all := journal(""); !copied(all) {
		t.Errorf("journal %+v has no finished COPY of /tree", all)
	}
	if fin := journal("?state=finished"); !copied(fin) {
		t.Errorf("?state=finished: %+v has no finished COPY of /tree", fin)
	}
	if run := journal("?state=running"); len(run) != 0 {
		t.Errorf("?state=running: %+v, want nothing running", run)
	}
	if code, _, _ := adminGet(t, d.admin+"/operations?state=sleeping", ""); code != http.StatusBadRequest {
		t.Errorf("?state=sleeping = %d, want 400", code)
	}
}

// TestAdminJournalStates lists a real journal through journalLister: an
// operation its instance runs is running; one taken over after its
// instance stopped, or released by a clean shutdown, is resuming; the
// ended ones keep their state; ?state= keeps one state.
func TestAdminJournalStates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := state.Open(ctx, "memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := func(id string) state.Operation {
		t.Helper()
		op, err := st.StartOperation(ctx, state.Operation{ID: id, Instance: "one", Method: "DELETE", Src: "/" + id, Depth: "infinity"})
		if err != nil {
			t.Fatal(err)
		}
		return op
	}
	start("run")
	start("taken")
	if _, took, err := st.TakeOperation(ctx, "taken", "two", 0); err != nil || !took {
		t.Fatalf("TakeOperation = %v, %v", took, err)
	}
	start("released")
	if err := st.ReleaseOperation(ctx, "released", "one"); err != nil {
		t.Fatal(err)
	}
	for _, end := range []string{state.OpFinished, state.OpFailed, state.OpCancelled} {
		op := start(end)
		op.State = end
		if err := st.FinishOperation(ctx, op); err != nil {
			t.Fatal(err)
		}
	}
	list := journalLister(st)
	states := func(want string) map[string]string {
		t.Helper()
		v, err := list(ctx, want)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var got []struct{ ID, State, Source string }
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, e := range got {
			if e.Source != "/"+e.ID {
				t.Errorf("%s: source %q: the record's fields are missing", e.ID, e.Source)
			}
			m[e.ID] = e.State
		}
		return m
	}
	all := states("")
	want := map[string]string{"run": "running", "taken": "resuming", "released": "resuming",
		"finished": "finished", "failed": "failed", "cancelled": "cancelled"}
	if fmt.Sprint(all) != fmt.Sprint(want) {
		t.Errorf("journal states %v, want %v", all, want)
	}
	if got := states("resuming"); fmt.Sprint(got) != "map[released:resuming taken:resuming]" {
		t.Errorf("?state=resuming: %v", got)
	}
	if got := states("running"); fmt.Sprint(got) != "map[run:running]" {
		t.Errorf("?state=running: %v", got)
	}
	if got := states("failed"); fmt.Sprint(got) != "map[failed:failed]" {
		t.Errorf("?state=failed: %v", got)
	}
}
