package auth

import (
	"net/http"
	"net/netip"
	"testing"
	"time"
)

// TestThrottleBehindTrustedProxy: behind a trusted proxy every request
// comes from the proxy's address; failures are counted against the
// X-Forwarded-For client, so one client's guesses do not lock out the
// others. From an untrusted peer the header changes nothing.
func TestThrottleBehindTrustedProxy(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name         string
		proxies      []netip.Prefix
		otherBlocked bool
	}{
		{"trusted proxy", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, false},
		{"untrusted peer", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, true},
	} {
		srv := server(t, Config{Realm: "r", MaxFailures: 2, FailureWindow: time.Hour, TrustedProxies: tt.proxies,
			Accounts: []Account{{Name: "alice", Hash: mustHash(t, "pw"), Handler: whoami("a")}}})
		get := func(from, pw string) int {
			req, _ := http.NewRequest("GET", srv.URL, nil)
			req.Header.Set("X-Forwarded-For", from)
			req.SetBasicAuth("alice", pw)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		for range 2 {
			get("203.0.113.1", "guess")
		}
		if got := get("203.0.113.1", "pw"); got != http.StatusTooManyRequests {
			t.Errorf("%s: the guessing client got %d, want 429", tt.name, got)
		}
		want := http.StatusOK
		if tt.otherBlocked {
			want = http.StatusTooManyRequests
		}
		if got := get("203.0.113.2", "pw"); got != want {
			t.Errorf("%s: another client got %d, want %d", tt.name, got, want)
		}
	}
}
