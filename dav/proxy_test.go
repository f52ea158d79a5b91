package dav

import (
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/spf13/afero"
)

func prefixes(t *testing.T, cidrs ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, c := range cidrs {
		out = append(out, netip.MustParsePrefix(c))
	}
	return out
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	h := &Handler{proxies: prefixes(t, "10.0.0.0/8", "::1/128")}
	tests := []struct {
		remote, xff, want string
	}{
		{"192.0.2.7:4000", "", "192.0.2.7"},
		{"192.0.2.7:4000", "203.0.113.9", "192.0.2.7"}, // untrusted peer: header ignored
		{"10.1.2.3:4000", "203.0.113.9", "203.0.113.9"},
		{"10.1.2.3:4000", "198.51.100.1, 203.0.113.9", "203.0.113.9"},               // leftmost was written by the client
		{"10.1.2.3:4000", "203.0.113.9, 10.9.9.9", "203.0.113.9"},                   // a trusted hop is skipped
		{"10.1.2.3:4000", "10.8.8.8, 10.9.9.9", "10.8.8.8"},                         // all trusted: the farthest
		{"10.1.2.3:4000", "203.0.113.9, garbage", "10.1.2.3"},                       // garbage from the proxy: the proxy
		{"10.1.2.3:4000", "", "10.1.2.3"},                                           // nothing forwarded
		{"[::ffff:10.1.2.3]:4000", "203.0.113.9", "203.0.113.9"},                    // mapped IPv4 matches 10/8
		{"[::1]:4000", "2001:db8::1", "2001:db8::1"},                                // IPv6 proxy
		{"10.1.2.3:4000", "[2001:db8::1]:555", "2001:db8::1"},                       // with a port
		{"192.0.2.7:4000", "10.0.0.1", "192.0.2.7"},                                 // spoofing a trusted address
		{"10.1.2.3:4000", strings.Repeat("1.1.1.1, ", 1000) + "2.2.2.2", "2.2.2.2"}, // long chains stay cheap
	}
	for _, tt := range tests {
		r, _ := http.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		if got := h.clientIP(r); got != tt.want {
			t.Errorf("clientIP(%s, XFF %.40q) = %s, want %s", tt.remote, tt.xff, got, tt.want)
		}
	}
}

// TestTrustedProxyDestination runs COPY as it arrives from a TLS-terminating
// proxy that rewrites Host: the Destination names the public https URL.
// Only a trusted peer's X-Forwarded-Host/-Proto make that acceptable.
func TestTrustedProxyDestination(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		proxies []string
		dest    string
		hdr     map[string]string
		want    int
	}{
		{"trusted proxy, public URL", []string{"127.0.0.0/8"}, "https://dav.example.com/d1",
			map[string]string{"X-Forwarded-Host": "dav.example.com", "X-Forwarded-Proto": "https"}, 201},
		{"trusted proxy, explicit default port", []string{"127.0.0.1/32"}, "https://dav.example.com:443/d2",
			map[string]string{"X-Forwarded-Host": "dav.example.com", "X-Forwarded-Proto": "https"}, 201},
		{"trusted proxy, chain of hosts", []string{"127.0.0.0/8"}, "https://dav.example.com/d3",
			map[string]string{"X-Forwarded-Host": "dav.example.com, inner.local", "X-Forwarded-Proto": "https, http"}, 201},
		{"trusted proxy, no proto", []string{"127.0.0.0/8"}, "https://dav.example.com/d4",
			map[string]string{"X-Forwarded-Host": "dav.example.com"}, 201},
		{"trusted proxy, wrong scheme", []string{"127.0.0.0/8"}, "http://dav.example.com/x",
			map[string]string{"X-Forwarded-Host": "dav.example.com", "X-Forwarded-Proto": "https"}, 502},
		{"trusted proxy, other host", []string{"127.0.0.0/8"}, "https://evil.example/x",
			map[string]string{"X-Forwarded-Host": "dav.example.com", "X-Forwarded-Proto": "https"}, 502},
		{"untrusted peer", []string{"10.0.0.0/8"}, "https://dav.example.com/x",
			map[string]string{"X-Forwarded-Host": "dav.example.com", "X-Forwarded-Proto": "https"}, 502},
		{"no trusted proxies", nil, "https://dav.example.com/x",
			map[string]string{"X-Forwarded-Host": "dav.example.com", "X-Forwarded-Proto": "https"}, 502},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fs := afero.NewMemMapFs()
			afero.WriteFile(fs, "/src", []byte("data"), 0o644)
			srv := testServer(t, fs, Config{TrustedProxies: prefixes(t, tt.proxies...)})
			hdr := map[string]string{"Destination": tt.dest}
			for k, v := range tt.hdr {
				hdr[k] = v
			}
			got := do(t, "COPY", srv.URL+"/src", hdr, "")
			if got.status != tt.want {
				t.Fatalf("COPY to %s = %d %q, want %d", tt.dest, got.status, got.body, tt.want)
			}
			if tt.want != 201 {
				if ok, _ := afero.Exists(fs, "/x"); ok {
					t.Error("refused COPY wrote the destination")
				}
			}
		})
	}
}

// TestTrustedProxyLog checks the client address in the request log.
func TestTrustedProxyLog(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		proxies []string
		want    string
	}{
		{[]string{"127.0.0.1/32"}, "client=203.0.113.9"},
		{nil, "client=127.0.0.1"},
	} {
		var logs syncBuffer
		srv := testServer(t, afero.NewMemMapFs(), Config{
			TrustedProxies: prefixes(t, tt.proxies...),
			Logger:         slog.New(slog.NewTextHandler(&logs, nil)),
		})
		do(t, "GET", srv.URL+"/", map[string]string{"X-Forwarded-For": "203.0.113.9"}, "")
		srv.Close() // the log line is written when the request ends
		if !strings.Contains(logs.String(), tt.want) {
			t.Errorf("proxies %v: log %q lacks %q", tt.proxies, logs.String(), tt.want)
		}
	}
}
