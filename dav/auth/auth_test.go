package auth

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"davd/dav"
)

func mustHash(t *testing.T, pw string) []byte {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// whoami answers with the user the request was authenticated as.
func whoami(tag string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s:%s", tag, dav.UserFrom(r.Context()))
	})
}

func server(t *testing.T, cfg Config) *httptest.Server {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return srv
}

func basic(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

func send(t *testing.T, method, url string, auth ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range auth {
		req.Header.Add("Authorization", a)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestBasic(t *testing.T) {
	t.Parallel()
	srv := server(t, Config{Realm: "my files", Accounts: []Account{
		{Name: "alice", Hash: mustHash(t, "wonderland"), Handler: whoami("a")},
		{Name: "bob", Hash: mustHash(t, "pa:ss wörd"), Handler: whoami("b")},
	}})
	tests := []struct {
		name   string
		auth   []string
		status int
		body   string
	}{
		{"alice", []string{basic("alice", "wonderland")}, 200, "a:alice"},
		{"alice again, cached", []string{basic("alice", "wonderland")}, 200, "a:alice"},
		{"bob with a colon and UTF-8", []string{basic("bob", "pa:ss wörd")}, 200, "b:bob"},
		{"lower-case scheme", []string{"basic " + base64.StdEncoding.EncodeToString([]byte("alice:wonderland"))}, 200, "a:alice"},
		{"no credentials", nil, 401, ""},
		{"wrong password", []string{basic("alice", "wonderlan")}, 401, ""},
		{"password of another user", []string{basic("alice", "pa:ss wörd")}, 401, ""},
		{"unknown user", []string{basic("carol", "wonderland")}, 401, ""},
		{"name case differs", []string{basic("Alice", "wonderland")}, 401, ""},
		{"empty name", []string{basic("", "wonderland")}, 401, ""},
		{"empty password", []string{basic("alice", "")}, 401, ""},
		{"empty header", []string{""}, 401, ""},
		{"scheme only", []string{"Basic"}, 401, ""},
		{"bad base64", []string{"Basic !!!not-base64!!!"}, 401, ""},
		{"no colon", []string{"Basic " + base64.StdEncoding.EncodeToString([]byte("alicewonderland"))}, 401, ""},
		{"bearer", []string{"Bearer abc"}, 401, ""},
		{"digest", []string{`Digest username="alice", realm="my files"`}, 401, ""},
		{"huge", []string{"Basic " + strings.Repeat("A", 64<<10)}, 401, ""},
		{"two headers, one good", []string{basic("carol", "x"), basic("alice", "wonderland")}, 401, ""},
		{"NUL in name", []string{basic("alice\x00", "wonderland")}, 401, ""},
		{"too long for bcrypt", []string{basic("alice", "wonderland"+strings.Repeat("x", 100))}, 401, ""},
	}
	for _, tt := range tests {
		status, hdr, body := send(t, "PROPFIND", srv.URL+"/x", tt.auth...)
		if status != tt.status {
			t.Errorf("%s: status %d, want %d (%s)", tt.name, status, tt.status, body)
			continue
		}
		if status == 401 {
			if got := hdr.Get("WWW-Authenticate"); got != `Basic realm="my files", charset="UTF-8"` {
				t.Errorf("%s: WWW-Authenticate = %q", tt.name, got)
			}
			if strings.Contains(body, "carol") || strings.Contains(body, "wonderland") {
				t.Errorf("%s: the refusal repeats the credentials: %q", tt.name, body)
			}
		} else if body != tt.body {
			t.Errorf("%s: body %q, want %q", tt.name, body, tt.body)
		}
	}
}

func TestAnonymous(t *testing.T) {
	t.Parallel()
	srv := server(t, Config{Realm: "r", Anonymous: whoami("anon"), Accounts: []Account{
		{Name: "alice", Hash: mustHash(t, "pw"), Handler: whoami("a")},
	}})
	if status, _, body := send(t, "GET", srv.URL); status != 200 || body != "anon:" {
		t.Errorf("no credentials: %d %q, want the anonymous handler", status, body)
	}
	if status, _, body := send(t, "GET", srv.URL, basic("alice", "pw")); status != 200 || body != "a:alice" {
		t.Errorf("alice: %d %q", status, body)
	}
	if status, _, _ := send(t, "GET", srv.URL, basic("alice", "wrong")); status != 401 {
		t.Errorf("wrong credentials fell back to anonymous: %d", status)
	}
}

func TestThrottle(t *testing.T) {
	t.Parallel()
	srv := server(t, Config{Realm: "r", MaxFailures: 3, FailureWindow: time.Hour, Accounts: []Account{
		{Name: "alice", Hash: mustHash(t, "pw"), Handler: whoami("a")},
	}})
	for i := range 3 {
		if status, _, _ := send(t, "GET", srv.URL, basic("alice", fmt.Sprint("guess", i))); status != 401 {
			t.Fatalf("failure %d: status %d", i, status)
		}
	}
	// Requests without credentials do not count, but are refused too
	// once the address is throttled.
	for _, auth := range [][]string{{basic("alice", "pw")}, nil, {basic("alice", "guess")}} {
		status, hdr, body := send(t, "GET", srv.URL, auth...)
		secs, err := strconv.Atoi(hdr.Get("Retry-After"))
		if status != 429 || err != nil || secs < 3590 || secs > 3600 {
			t.Errorf("throttled %q: %d, Retry-After %q (%s)", auth, status, hdr.Get("Retry-After"), body)
		}
	}

	// The window ends; failures start counting afresh.
	th := newThrottle(2, time.Minute)
	t0 := time.Now()
	th.reserve("a", t0)
	th.reserve("a", t0.Add(time.Second))
	if wait, ok := th.blocked("a", t0.Add(2*time.Second)); !ok || wait != 58*time.Second {
		t.Errorf("blocked = %v, %v; want 58s, true", wait, ok)
	}
	if _, wait, ok := th.reserve("a", t0.Add(2*time.Second)); ok || wait != 58*time.Second {
		t.Errorf("reserve = %v, %v; want 58s, false", wait, ok)
	}
	if _, ok := th.blocked("b", t0); ok {
		t.Error("another client is blocked")
	}
	if _, ok := th.blocked("a", t0.Add(time.Minute)); ok {
		t.Error("still blocked after the window")
	}
	th.reserve("a", t0.Add(61*time.Second))
	if _, ok := th.blocked("a", t0.Add(62*time.Second)); ok {
		t.Error("one failure in a new window blocks")
	}
	if _, ok := newThrottle(0, 0).blocked("a", t0); ok {
		t.Error("throttling off still blocks")
	}
}

func TestClientKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"192.0.2.1:5000":              "192.0.2.1",
		"[::ffff:192.0.2.1]:5000":     "192.0.2.1",
		"[2001:db8:1:2:3:4:5:6]:5000": "2001:db8:1:2::/64",
		"[2001:db8:1:2:ff::1]:1":      "2001:db8:1:2::/64",
		"garbage":                     "garbage",
		"192.0.2.1":                   "192.0.2.1", // from dav.ClientAddr: no port
		"2001:db8:1:2:ff::1":          "2001:db8:1:2::/64",
	} {
		if got := clientKey(in); got != want {
			t.Errorf("clientKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	h := whoami("x")
	good := mustHash(t, "pw")
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"plaintext password", Config{Realm: "r", Accounts: []Account{{Name: "a", Hash: []byte("secret"), Handler: h}}}, "not a bcrypt hash"},
		{"duplicate user", Config{Realm: "r", Accounts: []Account{{Name: "a", Hash: good, Handler: h}, {Name: "a", Hash: good, Handler: h}}}, "twice"},
		{"colon in name", Config{Realm: "r", Accounts: []Account{{Name: "a:b", Hash: good, Handler: h}}}, "colon"},
		{"empty name", Config{Realm: "r", Accounts: []Account{{Hash: good, Handler: h}}}, "empty user name"},
		{"quote in realm", Config{Realm: `a"b`}, "realm"},
		{"empty realm", Config{}, "realm"},
		{"window", Config{Realm: "r", MaxFailures: 3}, "FailureWindow"},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to mention %q", tt.name, err, tt.want)
		}
	}
}

func TestHashPassword(t *testing.T) {
	t.Parallel()
	h, err := HashPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CheckHash(h); err != nil {
		t.Error(err)
	}
	if bcrypt.CompareHashAndPassword(h, []byte("pw")) != nil {
		t.Error("hash does not match")
	}
	if _, err := HashPassword(nil, 0); err == nil {
		t.Error("empty password hashed")
	}
	if _, err := HashPassword([]byte(strings.Repeat("x", 73)), bcrypt.MinCost); err == nil {
		t.Error("73-byte password hashed (bcrypt ignores bytes past 72)")
	}
}
