package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pipelineRaw sends text, which may hold several requests, exactly as
// given and reads every response until the server closes the connection
// (or a bounded wait passes). It returns the responses, each with its
// body read, and whether the server closed the connection.
func pipelineRaw(t *testing.T, addr, text string) (resps []*http.Response, bodies []string, closed bool) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, text); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	for range 10 { // bounded: the text holds at most a few requests
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return resps, bodies, false
			}
			return resps, bodies, true // EOF or reset: closed
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resps, bodies = append(resps, resp), append(bodies, string(b))
	}
	return resps, bodies, false
}

// TestSmuggledLength sends a request with both Content-Length and
// Transfer-Encoding, followed on the same connection by a second request.
// RFC 9112 §6.1: such a message may be an attempt at request smuggling;
// the server must not keep the connection for what follows. davd refuses
// the request with 400 and closes: the second request is never answered.
func TestSmuggledLength(t *testing.T) {
	t.Parallel()
	addr := strings.TrimPrefix(startDavd(t, "--storage", "mem://"), "http://")
	smuggled := "PUT /a HTTP/1.1\r\nHost: " + addr + "\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"5\r\nhello\r\n0\r\n\r\n" +
		"PUT /smuggled HTTP/1.1\r\nHost: " + addr + "\r\nContent-Length: 4\r\n\r\nevil"
	resps, bodies, closed := pipelineRaw(t, addr, smuggled)
	for i, r := range resps {
		t.Logf("response %d: %d %.80q", i, r.StatusCode, bodies[i])
	}
	if len(resps) != 1 || !closed {
		t.Fatalf("%d responses, connection closed %v: want one answer, then the connection closed", len(resps), closed)
	}
	if resps[0].StatusCode != http.StatusBadRequest {
		t.Errorf("status %d, want 400", resps[0].StatusCode)
	}
	status, _ := sendRaw(t, addr, "GET /smuggled HTTP/1.1\r\nHost: "+addr+"\r\nConnection: close\r\n\r\n")
	if status != http.StatusNotFound {
		t.Errorf("the smuggled request was served: GET /smuggled is %d", status)
	}
	status, _ = sendRaw(t, addr, "GET /a HTTP/1.1\r\nHost: "+addr+"\r\nConnection: close\r\n\r\n")
	if status != http.StatusNotFound {
		t.Errorf("the ambiguous PUT was served: GET /a is %d", status)
	}
}

// storedFiles are uploads a hostile user could leave for others to open:
// name, content, and whether the type is active (must be an attachment).
var storedFiles = []struct {
	name, body string
	active     bool
}{
	{"evil.html", "<script>alert(document.cookie)</script>", true},
	{"evil.htm", "<script>alert(1)</script>", true},
	{"evil.svg", `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`, true},
	{"evil.xml", `<?xml-stylesheet type="text/xsl" href="x.xsl"?><a/>`, true},
	{"evil.js", "alert(1)", true},
	{"evil.mjs", "alert(1)", true},
	{"sniff.txt", "<html><script>alert(1)</script></html>", false},
	{"sniff", "<html><script>alert(1)</script></html>", false},
	{"pic.png", "\x89PNG\r\n\x1a\n", false},
}

// TestStoredContentCannotScript uploads script-bearing files and checks
// that davd serves every stored file with nosniff and a sandbox CSP, and
// the active types as attachments unless --inline-active-content; and that
// the listing davd writes itself is locked down too.
func TestStoredContentCannotScript(t *testing.T) {
	t.Parallel()
	for _, inline := range []bool{false, true} {
		args := []string{"--storage", "mem://"}
		if inline {
			args = append(args, "--inline-active-content")
		}
		base := startDavd(t, args...)
		for _, f := range storedFiles {
			put(t, base+"/"+f.name, f.body)
			for _, method := range []string{"GET", "HEAD"} {
				req, _ := http.NewRequest(method, base+"/"+f.name, nil)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				h := resp.Header
				what := method + " " + f.name
				if inline {
					what += " (inline)"
				}
				if resp.StatusCode != http.StatusOK {
					t.Errorf("%s: status %d", what, resp.StatusCode)
				}
				if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
					t.Errorf("%s: X-Content-Type-Options %q, want nosniff", what, got)
				}
				if got := h.Get("Content-Security-Policy"); got != "sandbox" {
					t.Errorf("%s: Content-Security-Policy %q, want sandbox", what, got)
				}
				disp := h.Get("Content-Disposition")
				switch wantAttachment := f.active && !inline; {
				case wantAttachment && !strings.HasPrefix(disp, "attachment"):
					t.Errorf("%s (%s): Content-Disposition %q, want an attachment", what, h.Get("Content-Type"), disp)
				case wantAttachment && !strings.Contains(disp, f.name):
					t.Errorf("%s: Content-Disposition %q does not name the file", what, disp)
				case !wantAttachment && disp != "":
					t.Errorf("%s (%s): Content-Disposition %q, want none", what, h.Get("Content-Type"), disp)
				}
			}
		}
		// The listing: rendered, but nothing runs.
		resp, err := http.Get(base + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("listing: X-Content-Type-Options %q, want nosniff", got)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("listing: Content-Security-Policy %q, want default-src 'none'", csp)
		}
	}
}

// put stores body at url and fails the test unless it was created.
func put(t *testing.T, url, body string) {
	t.Helper()
	req, _ := http.NewRequest("PUT", url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT %s: %d", url, resp.StatusCode)
	}
}

// TestListingLinksFromCleanPath asks for listings through raw paths with
// doubled slashes (GET //evil.example/ must not become links to the host
// evil.example) and checks that every link in the listing is an absolute
// path on davd: one leading slash, under the prefix.
func TestListingLinksFromCleanPath(t *testing.T) {
	t.Parallel()
	for _, prefix := range []string{"", "/dav"} {
		root := t.TempDir()
		for _, d := range []string{"evil.example/sub", "a/b"} {
			if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		os.WriteFile(filepath.Join(root, "evil.example", "payload.html"), []byte("x"), 0o644)
		addr := strings.TrimPrefix(startDavd(t, "--prefix", prefix, root), "http://")
		href := regexp.MustCompile(`href="([^"]*)"`)
		for _, target := range []string{
			prefix + "//evil.example/",
			prefix + "//evil.example//sub//",
			prefix + "///evil.example/",
			prefix + "//a/b/",
			prefix + "/a//b",
			prefix + "/",
		} {
			status, body := sendRaw(t, addr, "GET "+target+" HTTP/1.1\r\nHost: "+addr+"\r\nConnection: close\r\n\r\n")
			if status != http.StatusOK {
				t.Errorf("GET %s: status %d", target, status)
				continue
			}
			links := href.FindAllStringSubmatch(body, -1)
			if len(links) == 0 {
				t.Errorf("GET %s: no links in %q", target, body)
			}
			for _, l := range links {
				if !strings.HasPrefix(l[1], prefix+"/") || strings.HasPrefix(l[1], "//") || strings.Contains(l[1], "//") {
					t.Errorf("GET %s: link %q is not a clean path under %q", target, l[1], prefix+"/")
				}
			}
			if strings.Contains(body, "//evil") {
				t.Errorf("GET %s: listing carries the raw path: %q", target, body)
			}
		}
	}
}

// TestSmuggledLengthLater pipelines honest requests whose bodies look like
// headers (a Content-Length body and a chunked one with a trailer) before
// the ambiguous one: the honest ones are served, the ambiguous one gets
// 400, and the connection closes before the request after it.
func TestSmuggledLengthLater(t *testing.T) {
	t.Parallel()
	addr := strings.TrimPrefix(startDavd(t, "--storage", "mem://"), "http://")
	fake := "GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
	chunked := func(s string) string { return strconv.FormatInt(int64(len(s)), 16) + ";ext=1\r\n" + s + "\r\n" }
	text := "PUT /a HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + strconv.Itoa(len(fake)) + "\r\n\r\n" + fake +
		"PUT /b HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(fake) + chunked("x") + "0\r\nX-Trailer: 1\r\n\r\n" +
		"GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n" +
		"PUT /c HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n" +
		"PUT /d HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\n\r\nx"
	resps, bodies, closed := pipelineRaw(t, addr, text)
	var got []int
	for _, r := range resps {
		got = append(got, r.StatusCode)
	}
	if want := []int{201, 201, 200, 400}; !slices.Equal(got, want) || !closed {
		t.Fatalf("statuses %v, closed %v; want %v and closed", got, closed, want)
	}
	if bodies[2] != fake {
		t.Errorf("GET /a: %q, want %q", bodies[2], fake)
	}
	for _, p := range []string{"/c", "/d"} {
		if status, _ := sendRaw(t, addr, "GET "+p+" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"); status != 404 {
			t.Errorf("GET %s: %d, want 404 (never created)", p, status)
		}
	}
}

// TestFramerSplits feeds the framer a pipelined stream cut at every byte:
// wherever the reads end, it finds the ambiguous request at the same
// index, and none in a stream without one.
func TestFramerSplits(t *testing.T) {
	t.Parallel()
	fake := "X HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
	honest := "\r\nPUT /a HTTP/1.1\r\ncontent-length: " + strconv.Itoa(len(fake)) + "\r\n\r\n" + fake +
		"PUT /b HTTP/1.1\r\nTRANSFER-ENCODING: Chunked\r\n\r\n" + strconv.FormatInt(int64(len(fake)), 16) + "\r\n" + fake + "\r\n0\r\nT: 1\r\n\r\n" +
		"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n" // 1.0: no body
	for _, tt := range []struct {
		stream string
		want   int64
	}{
		{honest, 0},
		{honest + "PUT /c HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 4},
		{"PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 1},
	} {
		for cut := range len(tt.stream) + 1 {
			var f framer
			got := f.feed([]byte(tt.stream[:cut]))
			if got == 0 {
				got = f.feed([]byte(tt.stream[cut:]))
			}
			if got != tt.want {
				t.Fatalf("cut at %d of %q: ambiguous request %d, want %d", cut, tt.stream, got, tt.want)
			}
		}
	}
}
