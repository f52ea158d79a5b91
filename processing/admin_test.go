package processing

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// journalOp is what a journal of the tests lists: JSON-able, with a state.
type journalOp struct {
	ID    string `json:"id"`
	State string `json:"state"`
}

// adminGet serves GET target from h with token as Bearer token ("": none).
func adminGet(t *testing.T, h http.Handler, target, token string) (int, http.Header, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+target, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestAdminJournalView: /operations shows what the journal function
// lists under "journal", passes ?state= on, refuses a state that is not
// one, and still lists the registry's operations when the journal fails.
func TestAdminJournalView(t *testing.T) {
	t.Parallel()
	ops := []journalOp{{"a", "running"}, {"b", "resuming"}, {"c", "finished"}, {"d", "failed"}}
	var asked []string
	fail := false
	h := NewRegistry(time.Hour).AdminHandler(AdminOptions{
		Journal: func(_ context.Context, state string) (any, error) {
			asked = append(asked, state)
			if fail {
				return nil, errors.New("journal: database is locked")
			}
			list := []journalOp{}
			for _, op := range ops {
				if state == "" || op.State == state {
					list = append(list, op)
				}
			}
			return list, nil
		},
	})
	type view struct {
		InFlight     *int            `json:"in_flight"`
		Operations   []OperationInfo `json:"operations"`
		Journal      []journalOp     `json:"journal"`
		JournalError string          `json:"journal_error"`
	}
	decode := func(target string) view {
		t.Helper()
		code, hdr, body := adminGet(t, h, target, "")
		var v view
		if err := json.Unmarshal([]byte(body), &v); code != http.StatusOK || err != nil || v.InFlight == nil || v.Operations == nil {
			t.Fatalf("GET %s = %d %q (%v)", target, code, body, err)
		}
		if ns := hdr.Get("X-Content-Type-Options"); ns != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options = %q", target, ns)
		}
		return v
	}
	if v := decode("/operations"); len(v.Journal) != 4 || v.JournalError != "" {
		t.Errorf("journal %+v (%q), want all 4", v.Journal, v.JournalError)
	}
	if v := decode("/operations?state=resuming"); len(v.Journal) != 1 || v.Journal[0].ID != "b" {
		t.Errorf("?state=resuming: journal %+v, want b", v.Journal)
	}
	if v := decode("/operations?state=cancelled"); v.Journal == nil || len(v.Journal) != 0 {
		t.Errorf("?state=cancelled: journal %+v, want []", v.Journal)
	}
	if got := strings.Join(asked, ","); got != ",resuming,cancelled" {
		t.Errorf("journal asked for %q", got)
	}
	if code, _, body := adminGet(t, h, "/operations?state=sleeping", ""); code != http.StatusBadRequest || !strings.Contains(body, "running, resuming, finished, failed, cancelled") {
		t.Errorf("?state=sleeping = %d %q, want 400 naming the states", code, body)
	}
	fail = true
	if v := decode("/operations"); v.Journal != nil || !strings.Contains(v.JournalError, "database is locked") {
		t.Errorf("failing journal: %+v, want journal_error and the registry's operations", v)
	}

	// Without a journal there is no "journal" member.
	_, _, body := adminGet(t, NewRegistry(time.Hour).AdminHandler(AdminOptions{}), "/operations", "")
	if strings.Contains(body, "journal") {
		t.Errorf("without a journal: %q", body)
	}
}

// TestAdminHandlerToken: with a token, everything but /healthz needs it,
// as a Bearer token of any case; /healthz says why only to it. The token
// is asked for at each request.
func TestAdminHandlerToken(t *testing.T) {
	t.Parallel()
	token := "first-token-0123456789"
	h := NewRegistry(time.Hour).AdminHandler(AdminOptions{
		Token:   func() string { return token },
		Healthy: func(context.Context) error { return errors.New("disk on fire") },
	})
	for _, target := range []string{"/operations", "/metrics", "/", "/healthz/x"} {
		code, hdr, _ := adminGet(t, h, target, "")
		if code != http.StatusUnauthorized || hdr.Get("WWW-Authenticate") != `Bearer realm="davd admin"` {
			t.Errorf("GET %s without the token = %d %q", target, code, hdr.Get("WWW-Authenticate"))
		}
	}
	if code, _, _ := adminGet(t, h, "/operations", token); code != http.StatusOK {
		t.Errorf("/operations with the token = %d", code)
	}
	if code, _, body := adminGet(t, h, "/healthz", ""); code != http.StatusServiceUnavailable || body != "unhealthy\n" {
		t.Errorf("/healthz without the token = %d %q", code, body)
	}
	if code, _, body := adminGet(t, h, "/healthz", "not-"+token); code != http.StatusServiceUnavailable || body != "unhealthy\n" {
		t.Errorf("/healthz with a wrong token = %d %q", code, body)
	}
	if code, _, body := adminGet(t, h, "/healthz", token); code != http.StatusServiceUnavailable || body != "disk on fire\n" {
		t.Errorf("/healthz with the token = %d %q", code, body)
	}
	// The scheme is case-insensitive (RFC 9110 §11.1).
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/operations", nil)
	req.Header.Set("Authorization", "bearer "+token)
	if resp, err := srv.Client().Do(req); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusOK {
		t.Errorf("lower-case bearer = %d", resp.StatusCode)
	}
	old := token
	token = "second-token-0123456789"
	if code, _, _ := adminGet(t, h, "/operations", old); code != http.StatusUnauthorized {
		t.Errorf("the previous token after a change = %d, want 401", code)
	}
	if code, _, _ := adminGet(t, h, "/operations", token); code != http.StatusOK {
		t.Errorf("the new token = %d, want 200", code)
	}
}
