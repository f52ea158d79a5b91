package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestHealthzProbesStorage: /healthz answers 503 when the storage does not
// answer within the probe's timeout (a storage whose every call takes
// longer stands in for a hung one), and 200 when it does.
func TestHealthzProbesStorage(t *testing.T) {
	t.Parallel()
	slow := runDavd(t, "--admin-addr", "127.0.0.1:0", "--storage", "mem://?latency=2500ms")
	fast := runDavd(t, "--admin-addr", "127.0.0.1:0", "--storage", "mem://")
	if code, body := get(t, slow.admin+"/healthz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "does not answer") {
		t.Errorf("/healthz of a storage that does not answer = %d %q, want 503", code, body)
	}
	if code, body := get(t, fast.admin+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz = %d %q, want 200", code, body)
	}
}
