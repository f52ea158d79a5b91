package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestParseSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
		err  string
	}{
		{"0", 0, ""},
		{"1048576", 1 << 20, ""},
		{"1B", 1, ""},
		{"1kB", 1000, ""},
		{"1KB", 1000, ""},
		{"1KiB", 1024, ""},
		{"1MB", 1_000_000, ""},
		{"1MiB", 1 << 20, ""},
		{"4GiB", 4 << 30, ""},
		{"4GB", 4_000_000_000, ""},
		{"2TiB", 2 << 40, ""},
		{"1.5MiB", 3 << 19, ""},
		{" 10 MB ", 10_000_000, ""},
		{"", 0, "no number"},
		{"MB", 0, "no number"},
		{"-1", 0, "negative"},
		{"-1MB", 0, "negative"},
		{"ten", 0, "unit"},
		{"1XB", 0, "unit"},
		{"1mb", 0, "unit"}, // m is milli: refuse rather than guess
		{"9999999TiB", 0, "too large"},
		{"NaN", 0, "unit"},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		switch {
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("parseSize(%q) = %d, %v; want an error mentioning %q", tt.in, got, err, tt.err)
		}
	}
}

func TestExposeFlagsFailBeforeListening(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	os.WriteFile(bad, []byte("junk"), 0o600)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert", bad}, "go together"},
		{[]string{"--tls-key", bad}, "go together"},
		{[]string{"--tls-cert", bad, "--tls-key", bad}, "--tls-cert"},
		{[]string{"--tls-cert", filepath.Join(dir, "missing"), "--tls-key", bad}, "--tls-cert"},
		{[]string{"--trusted-proxy", "10.0.0.0/33"}, "--trusted-proxy"},
		{[]string{"--trusted-proxy", "proxy.example"}, "--trusted-proxy"},
		{[]string{"--cors-origin", "https://app.example/path"}, "--cors-origin"},
		{[]string{"--cors-origin", "app.example"}, "--cors-origin"},
		{[]string{"--max-upload", "4 gigs"}, "--max-upload"},
		{[]string{"--max-upload", "-1"}, "--max-upload"},
		{[]string{"--max-xml-body", "0"}, "--max-xml-body"},
		{[]string{"--max-propfind-entries", "-1"}, "--max-propfind-entries"},
		{[]string{"--max-conns", "-1"}, "--max-conns"},
		{[]string{"--read-timeout", "-1s"}, "--read-timeout"},
		{[]string{"--write-timeout", "-1s"}, "--write-timeout"},
		{[]string{"--read-header-timeout", "-1s"}, "--read-header-timeout"},
		{[]string{"--idle-timeout", "-1s"}, "--idle-timeout"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			listened := false
			args := append([]string{"davd", "serve", "--addr", "127.0.0.1:0", "--storage", "mem://"}, tt.args...)
			err := runApp(context.Background(), args, &out, &out, func(net.Addr) { listened = true })
			if err == nil {
				t.Fatal("no error")
			}
			if listened {
				t.Error("listened before failing")
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is not one line mentioning %q", err, tt.want)
			}
		})
	}
}

// dial opens a raw connection to a davd base URL.
func dial(t *testing.T, base string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestSlowloris dribbles a request header one byte at a time: the server
// must hang up once --read-header-timeout has passed, however steadily the
// bytes arrive.
func TestSlowloris(t *testing.T) {
	t.Parallel()
	base := startDavd(t, "--storage", "mem://", "--read-header-timeout", "300ms")
	conn := dial(t, base)
	start := time.Now()
	closed := make(chan time.Duration, 1)
	go func() {
		io.Copy(io.Discard, conn) // returns when the server closes
		closed <- time.Since(start)
	}()
	header := "GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + strings.Repeat("a", 100)
	for i := 0; i < len(header); i++ {
		if _, err := conn.Write([]byte{header[i]}); err != nil {
			break // the server hung up
		}
		select {
		case took := <-closed:
			if took < 250*time.Millisecond || took > 2*time.Second {
				t.Errorf("connection closed after %v, want about 300ms", took)
			}
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("still connected after dribbling for %v", time.Since(start))
}

// TestReadTimeoutPerRead checks that --read-timeout bounds the pause
// between body bytes, not the whole upload: a slow upload that keeps
// sending succeeds although it takes several timeouts, a stalled one is
// cut and writes nothing.
func TestReadTimeoutPerRead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base := startDavd(t, "--read-timeout", "500ms", dir)

	slow := dial(t, base)
	body := strings.Repeat("x", 40)
	fmt.Fprintf(slow, "PUT /slow HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n", len(body))
	for i := range len(body) / 4 { // 1s in all (two timeouts), never more than 100ms apart
		slow.Write([]byte(body[i*4 : i*4+4]))
		time.Sleep(100 * time.Millisecond)
	}
	slow.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(slow), nil)
	if err != nil {
		t.Fatalf("slow upload: %v", err)
	}
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		t.Errorf("slow but steady upload = %d %q, want 201", resp.StatusCode, b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "slow")); string(b) != body {
		t.Errorf("slow upload stored %q", b)
	}

	stalled := dial(t, base)
	fmt.Fprintf(stalled, "PUT /stalled HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\nhalf")
	stalled.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	io.Copy(io.Discard, stalled) // whatever the server answers, it must hang up
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("stalled upload held for %v", took)
	}
	if _, err := os.Stat(filepath.Join(dir, "stalled")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stalled upload left a file: %v", err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*"))
	for _, l := range leftovers {
		if filepath.Base(l) != ".davd" {
			t.Errorf("temporary file left behind: %s", l)
		}
	}
}

// TestWriteTimeoutSparesLongOperations runs a COPY that takes several
// write timeouts without a single 102 (processing off): the timeout bounds
// writes, not the time before the first one.
func TestWriteTimeoutSparesLongOperations(t *testing.T) {
	t.Parallel()
	base := startDavd(t, "--storage", "mem://?latency=15ms", "--processing", "off", "--write-timeout", "200ms")
	if got := status(t, "MKCOL", base+"/tree"); got != 201 {
		t.Fatal(got)
	}
	for i := range 20 {
		req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/tree/f%d", base, i), strings.NewReader("data"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	req, _ := http.NewRequest("COPY", base+"/tree", nil)
	req.Header.Set("Destination", base+"/copy")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("COPY cut off after %v: %v", time.Since(start), err)
	}
	resp.Body.Close()
	if took := time.Since(start); resp.StatusCode != 201 || took < 400*time.Millisecond {
		t.Errorf("COPY = %d after %v; want 201 after more than two write timeouts", resp.StatusCode, took)
	}
}

// TestMaxConns holds the only connection --max-conns allows: a second
// client waits, unserved, until the first leaves.
func TestMaxConns(t *testing.T) {
	t.Parallel()
	base := startDavd(t, "--storage", "mem://", "--max-conns", "1")
	first := dial(t, base)
	fmt.Fprintf(first, "OPTIONS / HTTP/1.1\r\nHost: localhost\r\n\r\n")
	br := bufio.NewReader(first)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("first connection: %v", err)
	}

	second := dial(t, base)
	fmt.Fprintf(second, "OPTIONS / HTTP/1.1\r\nHost: localhost\r\n\r\n")
	second.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := second.Read(make([]byte, 1)); err == nil {
		t.Fatal("second connection served while the first was open")
	}
	first.Close()
	second.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(second), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("second connection after the first closed: %v", err)
	}
}

// TestLimitFlags checks that the size flags reach the handler with their
// units: --max-upload 1KB is 1000 bytes, --max-xml-body 1KiB is 1024.
func TestLimitFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base := startDavd(t, "--max-upload", "1KB", "--max-xml-body", "1KiB", dir)
	put := func(name string, n int) int {
		req, _ := http.NewRequest("PUT", base+"/"+name, strings.NewReader(strings.Repeat("x", n)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := put("ok", 1000); got != 201 {
		t.Errorf("PUT of 1000 bytes = %d", got)
	}
	if got := put("big", 1001); got != 413 {
		t.Errorf("PUT of 1001 bytes = %d, want 413", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "big")); err == nil {
		t.Error("the refused upload was written")
	}
	propfind := func(n int) int {
		body := `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`
		body += strings.Repeat(" ", n-len(body))
		req, _ := http.NewRequest("PROPFIND", base+"/", strings.NewReader(body))
		req.Header.Set("Depth", "0")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := propfind(1024); got != 207 {
		t.Errorf("PROPFIND with a 1024-byte body = %d", got)
	}
	if got := propfind(1025); got != 413 {
		t.Errorf("PROPFIND with a 1025-byte body = %d, want 413", got)
	}
}

// TestProxyAndCORSFlags checks --trusted-proxy and --cors-origin end to
// end: a COPY whose Destination names the public https URL is accepted
// only when the peer is a trusted proxy, and a preflight is answered only
// for a listed origin.
func TestProxyAndCORSFlags(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want int
	}{
		// The public host must be allowed: no users, so requests carry no
		// credentials (see TestDNSRebinding).
		{[]string{"--trusted-proxy", "127.0.0.1", "--allowed-host", "dav.example.com"}, http.StatusCreated},
		{[]string{"--trusted-proxy", "10.0.0.0/8"}, http.StatusBadGateway},
		{nil, http.StatusBadGateway},
	} {
		base := startDavd(t, append([]string{"--storage", "mem://", "--cors-origin", "https://app.example.com"}, tt.args...)...)
		req, _ := http.NewRequest("PUT", base+"/a", strings.NewReader("a"))
		if resp, err := http.DefaultClient.Do(req); err != nil {
			t.Fatal(err)
		} else {
			resp.Body.Close()
		}
		req, _ = http.NewRequest("COPY", base+"/a", nil)
		req.Header.Set("Destination", "https://dav.example.com/b")
		req.Header.Set("X-Forwarded-Host", "dav.example.com")
		req.Header.Set("X-Forwarded-Proto", "https")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%v: COPY to the public URL = %d, want %d", tt.args, resp.StatusCode, tt.want)
		}
	}

	base := startDavd(t, "--storage", "mem://", "--cors-origin", "https://app.example.com")
	for origin, want := range map[string]string{"https://app.example.com": "https://app.example.com", "https://evil.example": ""} {
		req, _ := http.NewRequest("OPTIONS", base+"/", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "PROPFIND")
		req.Header.Set("Access-Control-Request-Headers", "depth, authorization")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != want {
			t.Errorf("preflight from %s: Allow-Origin %q, want %q", origin, got, want)
		}
	}
}

// TestCORSWithUsers: with users configured, a preflight (which browsers
// send without credentials) is answered without asking for any, while the
// actual request still needs them; both carry the CORS headers so that the
// application can read the 401.
func TestCORSWithUsers(t *testing.T) {
	t.Parallel()
	const app = "https://app.example.com"
	s := startAttackServer(t, "--cors-origin", app)
	do := func(method string, hdr ...string) *http.Response {
		req, _ := http.NewRequest(method, "http://"+s.addr+"/mine", nil)
		req.Header.Set("Origin", app)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	pre := do("OPTIONS", "Access-Control-Request-Method", "PROPFIND", "Access-Control-Request-Headers", "authorization, depth")
	if pre.StatusCode != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != app {
		t.Errorf("preflight = %d %v, want 204 with Allow-Origin", pre.StatusCode, pre.Header)
	}
	anon := do("PROPFIND", "Depth", "0")
	if anon.StatusCode != http.StatusUnauthorized || anon.Header.Get("Access-Control-Allow-Origin") != app ||
		!strings.Contains(anon.Header.Get("Access-Control-Expose-Headers"), "WWW-Authenticate") {
		t.Errorf("PROPFIND without credentials = %d %v, want 401 readable by the app", anon.StatusCode, anon.Header)
	}
	alice := do("PROPFIND", "Depth", "0", "Authorization", basicAuth("alice"))
	if alice.StatusCode != http.StatusMultiStatus || alice.Header.Get("Access-Control-Allow-Origin") != app {
		t.Errorf("PROPFIND as alice = %d %v", alice.StatusCode, alice.Header)
	}
}
