package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Asynchronous requests (Prefer: respond-async) end to end: with curl,
// as the README shows them, and across instances on PostgreSQL, where
// another instance finishes the operation of one that was killed.

// monitorState is what these tests read of a monitor's JSON.
type monitorState struct {
	State     string `json:"state"`
	Status    int    `json:"status"`
	Resources int64  `json:"resources"`
	Resumed   int    `json:"resumed"`
	Error     string `json:"error"`
	Failures  []any  `json:"failures"`
}

var locationRE = regexp.MustCompile(`(?mi)^Location: (/\.davd/operations/[0-9a-f]{32})\r?$`)

// TestAsyncCopyCurl is the README's session: curl starts a COPY with
// Prefer: respond-async, gets 202 and the monitor's URL at once, and
// polls the monitor until the COPY has finished.
func TestAsyncCopyCurl(t *testing.T) {
	t.Parallel()
	curl := requireTool(t, "curl")
	base := slowTree(t)
	out, err := exec.Command(curl, "-si", "-X", "COPY", "-H", "Destination: "+base+"/copy",
		"-H", "Prefer: respond-async", base+"/tree").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	t.Logf("curl -si -X COPY:\n%s", out)
	if !regexp.MustCompile(`^HTTP/1.1 202 Accepted\r\n`).Match(out) || !strings.Contains(string(out), "Preference-Applied: respond-async\r\n") {
		t.Fatalf("want 202 with Preference-Applied, curl printed:\n%s", out)
	}
	m := locationRE.FindSubmatch(out)
	if m == nil {
		t.Fatalf("no monitor in the 202:\n%s", out)
	}
	monitor := base + string(m[1])
	var last monitorState
	polls := 0
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		out, err := exec.Command(curl, "-s", "--fail", monitor).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %s: %v\n%s", monitor, err, out)
		}
		polls++
		if polls == 1 || !strings.Contains(string(out), `"running"`) {
			t.Logf("curl -s %s:\n%s", monitor, out)
		}
		if err := json.Unmarshal(out, &last); err != nil {
			t.Fatalf("monitor: %v\n%s", err, out)
		}
		if last.State != "running" || time.Now().After(deadline) {
			break
		}
	}
	if last.State != "finished" || last.Status != http.StatusCreated || last.Resources != 1+4+4*6 {
		t.Errorf("final record %+v, want finished, 201, 29 resources", last)
	}
	if polls < 2 {
		t.Errorf("the COPY was over at the first poll: the session shows no progress")
	}
	if got := status(t, "GET", base+"/copy/d3/f5"); got != 200 {
		t.Errorf("copied tree incomplete: GET = %d", got)
	}
}

// TestMultiAsyncTakeover kills, with SIGKILL, the instance running an
// asynchronous COPY on PostgreSQL state; the other instance takes the
// operation over once its heartbeat is stale (Journal.Stale, 10s) and
// finishes it, and its monitor, asked of the survivor, says so.
func TestMultiAsyncTakeover(t *testing.T) {
	t.Parallel()
	const dirs, files = 30, 50
	c := startInstances(t, 1, "", 0)
	survivor := c.nodes[0]
	for d := range dirs {
		// /other, a third of /src's size, is the second COPY's.
		if d < dirs/3 {
			other := filepath.Join(c.dir, "other", fmt.Sprintf("d%02d", d))
			if err := os.MkdirAll(other, 0o755); err != nil {
				t.Fatal(err)
			}
			for f := range files {
				if err := os.WriteFile(filepath.Join(other, fmt.Sprintf("f%02d", f)), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		sub := filepath.Join(c.dir, "src", fmt.Sprintf("d%02d", d))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := range files {
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%02d", f)), fmt.Appendf(nil, "%d/%d\n", d, f), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Every storage call of the victim takes 2ms: the COPY would last
	// seconds.
	victim := spawnDavd(t, "file://"+c.dir+"?latency=2ms", "--state", c.state)
	st, hdr, body := sendReq("COPY", victim.base+"/src", map[string]string{"Destination": victim.base + "/dst", "Prefer": "respond-async"}, "")
	if st != http.StatusAccepted || hdr.Get("Location") == "" {
		t.Fatalf("COPY with Prefer: respond-async = %d %s", st, body)
	}
	monitor := hdr.Get("Location")
	read := func(base string) monitorState {
		t.Helper()
		st, _, body := sendReq("GET", base+monitor, nil, "")
		var m monitorState
		if st != http.StatusOK {
			t.Fatalf("GET %s%s = %d %s", base, monitor, st, body)
		}
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("monitor: %v\n%s", err, body)
		}
		return m
	}
	// A second COPY on the victim, cancelled through the survivor: the
	// cancel request goes through the shared journal. (Not of /src: on
	// PostgreSQL two deep shared claims of one path exclude each other,
	// see state/pgpathlocks.go, and the second would get 423.)
	st, hdr2, body := sendReq("COPY", victim.base+"/other", map[string]string{"Destination": victim.base + "/dst2", "Prefer": "respond-async"}, "")
	if st != http.StatusAccepted {
		t.Fatalf("second COPY = %d %s", st, body)
	}
	st, _, body = sendReq("DELETE", survivor.base+hdr2.Get("Location"), nil, "")
	var cancelled monitorState
	if err := json.Unmarshal([]byte(body), &cancelled); err != nil || st != http.StatusOK || cancelled.State != "cancelled" {
		t.Errorf("DELETE of the second COPY's monitor on the other instance = %d %s", st, body)
	}
	// Kill it once it is well under way, but far from done.
	if !waitFor(10*time.Second, func() bool { return read(victim.base).Resources >= 50 }) {
		t.Fatalf("the COPY made no progress: %+v", read(victim.base))
	}
	victim.kill()
	killed := time.Now()
	before := read(survivor.base)
	if before.State != "running" || before.Resources >= 1+dirs+dirs*files {
		t.Fatalf("at the kill the survivor's monitor says %+v, want running, partly done", before)
	}
	// Until the survivor takes the COPY over, nobody holds its paths but
	// the journal: a write into its destination must still be refused.
	if st, _, body := sendReq("PUT", survivor.base+"/dst/early.txt", nil, "early"); st != http.StatusLocked || !strings.Contains(body, "COPY") {
		t.Errorf("PUT into the abandoned COPY's destination = %d %s, want 423 naming the COPY", st, body)
	}
	var end monitorState
	if !waitFor(60*time.Second, func() bool { end = read(survivor.base); return end.State != "running" }) {
		t.Fatalf("the COPY was not finished 60s after the kill: %+v", end)
	}
	took := time.Since(killed)
	t.Logf("finished by the survivor %s after the kill, from %d resources: %+v", took.Round(100*time.Millisecond), before.Resources, end)
	if end.State != "finished" || end.Status != http.StatusCreated || end.Resumed < 1 || len(end.Failures) != 0 {
		t.Errorf("final record %+v, want finished, 201, resumed", end)
	}
	for d := range dirs {
		for f := range files {
			p := filepath.Join(c.dir, "dst", fmt.Sprintf("d%02d", d), fmt.Sprintf("f%02d", f))
			if b, err := os.ReadFile(p); err != nil || string(b) != fmt.Sprintf("%d/%d\n", d, f) {
				t.Fatalf("%s: %q, %v", p, b, err)
			}
		}
	}
	// Nothing beyond the copy. What the killed instance was writing under
	// reserved temporary names stays (hidden from clients) until an
	// instance starts and sweeps the tree: the survivor, already running,
	// does not sweep after a takeover.
	var extra, temp []string
	filepath.WalkDir(filepath.Join(c.dir, "dst"), func(p string, e os.DirEntry, err error) error {
		switch {
		case err != nil || !e.Type().IsRegular() || regexp.MustCompile(`/d\d\d/f\d\d$`).MatchString(p):
		case strings.HasPrefix(e.Name(), ".davd-tmp-"):
			temp = append(temp, p)
		default:
			extra = append(extra, p)
		}
		return nil
	})
	if len(extra) > 0 {
		t.Errorf("left in the destination: %v", extra)
	}
	if len(temp) > 0 {
		t.Logf("temporary files of the killed instance, left for the next start's sweep: %v", temp)
	}
	if st, _, body := sendReq("PROPFIND", survivor.base+"/dst/d00/", map[string]string{"Depth": "1"}, ""); st != http.StatusMultiStatus || strings.Contains(body, ".davd-tmp-") {
		t.Errorf("PROPFIND of the copy = %d, temporary names shown: %v", st, strings.Contains(body, ".davd-tmp-"))
	}
	// Writes go through again.
	if st, _, body := sendReq("PUT", survivor.base+"/dst/late.txt", nil, "late"); st != http.StatusCreated {
		t.Errorf("PUT after the COPY = %d %s", st, body)
	}
}
