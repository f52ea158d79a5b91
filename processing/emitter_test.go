package processing_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"davd/processing"
)

// These tests run a real loopback server and read its output with a raw TCP
// client, because interim responses are invisible to net/http's client.

// message is one response (interim or final) as seen on the wire.
type message struct {
	at     time.Duration // since the request was sent
	proto  string
	code   int
	header textproto.MIMEHeader
	body   []byte
}

// exchange is everything a raw client saw for one request.
type exchange struct {
	interims []message
	final    message
}

// count returns the number of interim responses with the given code.
func (e exchange) count(code int) int {
	n := 0
	for _, m := range e.interims {
		if m.code == code {
			n++
		}
	}
	return n
}

// rawRequest is a request to write byte for byte.
type rawRequest struct {
	head string // request line and header lines, without the final CRLF
	body string
	// waitContinue sends the body only after reading "100 Continue".
	waitContinue bool
}

// do sends req to addr and reads interim responses and the final response,
// which must carry Content-Length.
func do(addr string, req rawRequest) (exchange, error) {
	var ex exchange
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return ex, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(8 * time.Second)); err != nil {
		return ex, err
	}
	head := strings.ReplaceAll(req.head, "\n", "\r\n") + "\r\n\r\n"
	if !req.waitContinue {
		head += req.body
	}
	sent := time.Now()
	if _, err := io.WriteString(conn, head); err != nil {
		return ex, err
	}
	br := bufio.NewReader(conn)
	tp := textproto.NewReader(br)
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return ex, fmt.Errorf("status line: %w", err)
		}
		proto, rest, _ := strings.Cut(line, " ")
		codeStr, _, _ := strings.Cut(rest, " ")
		code, err := strconv.Atoi(codeStr)
		if err != nil {
			return ex, fmt.Errorf("bad status line %q", line)
		}
		hdr, err := tp.ReadMIMEHeader()
		if err != nil {
			return ex, fmt.Errorf("header after %q: %w", line, err)
		}
		m := message{at: time.Since(sent), proto: proto, code: code, header: hdr}
		if code >= 100 && code <= 199 && code != 101 {
			ex.interims = append(ex.interims, m)
			if code == 100 && req.waitContinue {
				if _, err := io.WriteString(conn, req.body); err != nil {
					return ex, err
				}
			}
			continue
		}
		n, err := strconv.Atoi(hdr.Get("Content-Length"))
		if err != nil {
			return ex, fmt.Errorf("final response %q without Content-Length: %v", line, hdr)
		}
		m.body = make([]byte, n)
		if _, err := io.ReadFull(br, m.body); err != nil {
			return ex, fmt.Errorf("body: %w", err)
		}
		ex.final = m
		return ex, nil
	}
}

// stats is what the server side saw, reported after Finish.
type stats struct {
	status       int
	bytes        int64
	interim      int
	tickerExited bool
}

// result is what both sides saw for one request.
type result struct {
	ex  exchange
	err error // from the client, or a handler that never finished
	st  stats
}

// server starts a loopback server whose handler wraps the response with
// Start and Finish, runs h, and reports stats after Finish. setup, if not
// nil, adjusts the http.Server before it starts. It may be called from any
// goroutine.
func server(t *testing.T, cfg processing.Config, h func(pw *processing.Writer, r *http.Request), setup func(*http.Server)) (*httptest.Server, <-chan stats) {
	ch := make(chan stats, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pw, r := processing.Start(w, r, cfg)
		defer func() { // runs after Finish
			ch <- stats{pw.Status(), pw.BytesWritten(), pw.InterimSent(), processing.TickerExited(pw)}
		}()
		defer pw.Finish()
		h(pw, r)
	}))
	if setup != nil {
		setup(srv.Config)
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, ch
}

// roundTrip sends req to a fresh server (see server) with a raw client. It
// reports failures in the result instead of failing t, so that it can run
// on any goroutine.
func roundTrip(t *testing.T, cfg processing.Config, h func(*processing.Writer, *http.Request), req rawRequest, setup func(*http.Server)) result {
	srv, ch := server(t, cfg, h, setup)
	var res result
	res.ex, res.err = do(srv.Listener.Addr().String(), req)
	select {
	case res.st = <-ch:
	case <-time.After(5 * time.Second):
		res.err = errors.Join(res.err, errors.New("handler did not finish"))
	}
	return res
}

// concurrently runs f(0..n-1) at once and waits for all. The exchanges
// mostly sleep, and t.Parallel alone would run only GOMAXPROCS of them at a
// time, so a table's requests run together and are checked afterwards.
func concurrently(n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { f(i) })
	}
	wg.Wait()
}

func sleep(r *http.Request, d time.Duration) {
	select {
	case <-time.After(d):
	case <-r.Context().Done():
	}
}

// slow sets one header early, sleeps d, then answers 201 with body and a
// header set just before the status.
func slow(d time.Duration, body string) func(*processing.Writer, *http.Request) {
	return func(pw *processing.Writer, r *http.Request) {
		pw.Header().Set("X-Early", "1")
		sleep(r, d)
		pw.Header().Set("X-Final", "1")
		pw.Header().Set("Content-Length", strconv.Itoa(len(body)))
		pw.WriteHeader(http.StatusCreated)
		io.WriteString(pw, body)
	}
}

const finalBody = "the final body\n"

func TestInterimResponses(t *testing.T) {
	t.Parallel()
	deny, err := processing.CompileDeny(processing.DefaultDeny())
	if err != nil {
		t.Fatal(err)
	}
	ms := time.Millisecond
	base := processing.Config{Mode: processing.ModeAuto, After: 100 * ms, Interval: 100 * ms, Deny: deny}
	with := func(f func(*processing.Config)) processing.Config { c := base; f(&c); return c }
	const get11 = "GET /x HTTP/1.1\nHost: test"
	const curl = get11 + "\nUser-Agent: curl/8.5.0" // a client that is not on the deny-list

	tests := []struct {
		name     string
		cfg      processing.Config
		head     string
		handler  func(*processing.Writer, *http.Request)
		min, max int // 102s expected on the wire
		first    time.Duration
		status   int
		header   map[string]string // on the final response
	}{
		{
			name: "http/1.1", cfg: base, head: curl, handler: slow(550*ms, finalBody),
			min: 2, max: 6, first: 100 * ms, status: 201,
		},
		{
			name: "http/1.0 never", cfg: base, head: "GET /x HTTP/1.0", handler: slow(550*ms, finalBody),
			status: 201,
		},
		{
			name: "http/1.0 never even with prefer", cfg: base, head: "GET /x HTTP/1.0\nPrefer: processing",
			handler: slow(300*ms, finalBody), status: 201,
		},
		{
			name: "off", cfg: with(func(c *processing.Config) { c.Mode = processing.ModeOff; c.After = 0; c.Interval = 20 * ms }),
			head: get11 + "\nPrefer: processing", handler: slow(300*ms, finalBody), status: 201,
		},
		{
			name: "cap", cfg: with(func(c *processing.Config) { c.After, c.Interval, c.Max = 50*ms, 50*ms, 3 }),
			head: curl, handler: slow(700*ms, finalBody), min: 3, max: 3, first: 50 * ms, status: 201,
		},
		{
			name: "denied user agent",
			cfg:  with(func(c *processing.Config) { c.After, c.Interval = 50*ms, 50*ms }),
			head: get11 + "\nUser-Agent: python-requests/2.31", handler: slow(400*ms, finalBody), status: 201,
		},
		{
			name: "denied user agent asking with prefer",
			cfg:  with(func(c *processing.Config) { c.After, c.Interval, c.Max = 10*time.Second, 50*ms, 2 }),
			head: get11 + "\nUser-Agent: python-requests/2.31\nPrefer: respond-async, Processing",
			// After is 10 s, so any 102 at all proves the immediate start;
			// more than Max proves the cap is lifted.
			handler: slow(400*ms, finalBody), min: 3, max: 20, status: 201,
			header: map[string]string{"Preference-Applied": "processing"},
		},
		{
			name: "always ignores deny",
			cfg:  with(func(c *processing.Config) { c.Mode = processing.ModeAlways; c.After, c.Interval = 50*ms, 50*ms }),
			head: get11 + "\nUser-Agent: python-requests/2.31", handler: slow(400*ms, finalBody),
			min: 2, max: 10, first: 50 * ms, status: 201,
		},
		{
			name: "allowed user agent",
			cfg:  with(func(c *processing.Config) { c.After, c.Interval = 50*ms, 50*ms }),
			head: get11 + "\nUser-Agent: rclone/v1.70.0", handler: slow(400*ms, finalBody),
			min: 2, max: 10, first: 50 * ms, status: 201,
		},
		{
			name: "flush commits the final status",
			cfg:  with(func(c *processing.Config) { c.After, c.Interval = 20*ms, 20*ms }),
			head: curl,
			handler: func(pw *processing.Writer, r *http.Request) {
				pw.Header().Set("Content-Length", strconv.Itoa(len(finalBody)))
				pw.Header().Set("X-Final", "1")
				pw.Flush()
				sleep(r, 300*ms)
				io.WriteString(pw, finalBody)
			},
			status: 200,
		},
	}
	results := make([]result, len(tests))
	concurrently(len(tests), func(i int) {
		results[i] = roundTrip(t, tests[i].cfg, tests[i].handler, rawRequest{head: tests[i].head}, nil)
	})
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex, s, err := results[i].ex, results[i].st, results[i].err
			if err != nil {
				t.Fatal(err)
			}
			n := ex.count(http.StatusProcessing)
			if n < tt.min || n > tt.max {
				t.Errorf("got %d 102s, want %d..%d", n, tt.min, tt.max)
			}
			if len(ex.interims) != n {
				t.Errorf("got interim responses other than 102: %+v", ex.interims)
			}
			if s.interim != n {
				t.Errorf("InterimSent() = %d, but %d 102s on the wire", s.interim, n)
			}
			for i, m := range ex.interims {
				if m.proto != "HTTP/1.1" {
					t.Errorf("102 #%d proto %q", i, m.proto)
				}
				for _, k := range []string{"X-Early", "X-Final", "Content-Length", "Preference-Applied"} {
					if v := m.header.Get(k); v != "" {
						t.Errorf("102 #%d carries handler header %s: %q", i, k, v)
					}
				}
			}
			if n > 0 && ex.interims[0].at < tt.first {
				t.Errorf("first 102 after %v, want >= %v", ex.interims[0].at, tt.first)
			}
			if ex.final.code != tt.status || s.status != tt.status {
				t.Errorf("final status %d, Status() %d, want %d", ex.final.code, s.status, tt.status)
			}
			if string(ex.final.body) != finalBody || s.bytes != int64(len(finalBody)) {
				t.Errorf("final body %q, BytesWritten %d, want %q", ex.final.body, s.bytes, finalBody)
			}
			if ex.final.header.Get("X-Final") != "1" {
				t.Errorf("final response lacks X-Final: %v", ex.final.header)
			}
			for k, v := range tt.header {
				if got := ex.final.header.Get(k); got != v {
					t.Errorf("final %s = %q, want %q", k, got, v)
				}
			}
			if tt.header["Preference-Applied"] == "" && ex.final.header.Get("Preference-Applied") != "" {
				t.Errorf("unexpected Preference-Applied on final response")
			}
			if !s.tickerExited {
				t.Error("ticker goroutine still running after Finish")
			}
		})
	}
}

// TestNotArmedUntilBodyRead checks that no 102 goes out before the handler
// has read the whole request body (RFC 2518: 102 means the request was
// accepted), and in particular none before "100 Continue".
func TestNotArmedUntilBodyRead(t *testing.T) {
	t.Parallel()
	const body = "0123456789abcdef"
	const before, after = 400 * time.Millisecond, 400 * time.Millisecond
	cfg := processing.Config{Mode: processing.ModeAlways, After: 50 * time.Millisecond, Interval: 50 * time.Millisecond}
	head := "PUT /f HTTP/1.1\nHost: test\nContent-Length: " + strconv.Itoa(len(body))
	echo := func(pw *processing.Writer, r *http.Request) {
		sleep(r, before)
		got, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(pw, err.Error(), http.StatusBadRequest)
			return
		}
		sleep(r, after)
		pw.Header().Set("Content-Length", strconv.Itoa(len(got)))
		pw.WriteHeader(http.StatusCreated)
		pw.Write(got)
	}
	tests := []struct {
		name string
		req  rawRequest
	}{
		{"body sent at once", rawRequest{head: head, body: body}},
		{"expect 100-continue", rawRequest{head: head + "\nExpect: 100-continue", body: body, waitContinue: true}},
		{"chunked", rawRequest{head: "PUT /f HTTP/1.1\nHost: test\nTransfer-Encoding: chunked",
			body: fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body)}},
	}
	results := make([]result, len(tests))
	concurrently(len(tests), func(i int) { results[i] = roundTrip(t, cfg, echo, tests[i].req, nil) })
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex, s, err := results[i].ex, results[i].st, results[i].err
			if err != nil {
				t.Fatal(err)
			}
			if string(ex.final.body) != body || ex.final.code != http.StatusCreated {
				t.Fatalf("final %d %q, want 201 %q", ex.final.code, ex.final.body, body)
			}
			for i, m := range ex.interims {
				if m.code == http.StatusProcessing && m.at < before {
					t.Errorf("102 #%d at %v, before the body was read (>= %v)", i, m.at, before)
				}
			}
			if tt.req.waitContinue && (len(ex.interims) == 0 || ex.interims[0].code != http.StatusContinue) {
				t.Errorf("first interim is not 100 Continue: %+v", ex.interims)
			}
			if n := ex.count(http.StatusProcessing); n < 2 || n != s.interim {
				t.Errorf("got %d 102s (InterimSent %d), want >= 2 after the body was read", n, s.interim)
			}
		})
	}
}

// TestProgressOnInterim checks that 102s carry the Progress header once the
// handler reports work, and that its numerators never decrease.
func TestProgressOnInterim(t *testing.T) {
	t.Parallel()
	const files = 8
	cfg := processing.Config{Mode: processing.ModeAuto, After: 50 * time.Millisecond, Interval: 50 * time.Millisecond}
	res := roundTrip(t, cfg, func(pw *processing.Writer, r *http.Request) {
		p := processing.FromContext(r.Context())
		p.SetTotal(files, files*100)
		sleep(r, 150*time.Millisecond)
		for i := 1; i <= files; i++ {
			p.AddResource(fmt.Sprintf("/d/f%d", i))
			p.AddBytes(100)
			sleep(r, 50*time.Millisecond)
		}
		pw.Header().Set("Content-Length", strconv.Itoa(len(finalBody)))
		io.WriteString(pw, finalBody)
	}, rawRequest{head: "COPY /d HTTP/1.1\nHost: test\nDestination: /e"}, nil)
	if res.err != nil {
		t.Fatal(res.err)
	}
	ex := res.ex
	re := regexp.MustCompile(`^(\d+)/8 "/d/f(\d+)" (\d+)/800 \(bytes\)$`)
	var lastRes, lastBytes, with int
	for i, m := range ex.interims {
		v := m.header.Get("Progress")
		if v == "" {
			if with > 0 {
				t.Errorf("102 #%d has no Progress after one had it", i)
			}
			continue
		}
		with++
		sub := re.FindStringSubmatch(v)
		if sub == nil {
			t.Errorf("102 #%d Progress %q does not match %v", i, v, re)
			continue
		}
		res, _ := strconv.Atoi(sub[1])
		cur, _ := strconv.Atoi(sub[2])
		n, _ := strconv.Atoi(sub[3])
		// The handler adds a resource, then its bytes: a 102 may fall
		// between the two and see the bytes one file behind.
		if res < lastRes || n < lastBytes || cur != res || (n != res*100 && n != (res-1)*100) {
			t.Errorf("102 #%d Progress %q: after %d/%d, or inconsistent", i, v, lastRes, lastBytes)
		}
		lastRes, lastBytes = res, n
	}
	if with < 2 {
		t.Errorf("%d 102s with Progress, want >= 2 (interims: %+v)", with, ex.interims)
	}
	if v := ex.final.header.Get("Progress"); v != "" {
		t.Errorf("final response carries Progress %q", v)
	}
}

// TestWriteDeadlineExtended checks that 102s keep a request alive past the
// server's WriteTimeout when Config.WriteTimeout is set, and (as a control
// proving the test can fail) that the final response is lost without it.
func TestWriteDeadlineExtended(t *testing.T) {
	t.Parallel()
	const serverTimeout = 400 * time.Millisecond
	tests := []struct {
		name         string
		writeTimeout time.Duration
		wantFinal    bool
	}{
		{"extended", serverTimeout, true},
		{"not extended", 0, false},
	}
	results := make([]result, len(tests))
	concurrently(len(tests), func(i int) {
		cfg := processing.Config{Mode: processing.ModeAuto, After: 100 * time.Millisecond,
			Interval: 100 * time.Millisecond, WriteTimeout: tests[i].writeTimeout}
		results[i] = roundTrip(t, cfg, slow(1200*time.Millisecond, finalBody),
			rawRequest{head: "DELETE /big HTTP/1.1\nHost: test"},
			func(s *http.Server) { s.WriteTimeout = serverTimeout })
	})
	for i, tt := range tests {
		ex, err := results[i].ex, results[i].err
		gotFinal := err == nil && ex.final.code == http.StatusCreated && string(ex.final.body) == finalBody
		if gotFinal != tt.wantFinal {
			t.Errorf("%s: final response received = %v (err %v, %d 102s), want %v", tt.name, gotFinal, err, len(ex.interims), tt.wantFinal)
		}
	}
}

// TestReadFromFile checks io.Copy from a file (the GET path that must keep
// sendfile) after some 102s: the bytes arrive intact and are counted.
func TestReadFromFile(t *testing.T) {
	t.Parallel()
	data := make([]byte, 256<<10+17)
	rand.Read(data)
	name := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := processing.Config{Mode: processing.ModeAuto, After: 50 * time.Millisecond, Interval: 50 * time.Millisecond}
	res := roundTrip(t, cfg, func(pw *processing.Writer, r *http.Request) {
		sleep(r, 250*time.Millisecond)
		f, err := os.Open(name)
		if err != nil {
			http.Error(pw, err.Error(), 500)
			return
		}
		defer f.Close()
		pw.Header().Set("Content-Length", strconv.Itoa(len(data)))
		if _, err := io.Copy(pw, f); err != nil {
			panic(err)
		}
	}, rawRequest{head: "GET /f HTTP/1.1\nHost: test"}, nil)
	ex, s := res.ex, res.st
	if res.err != nil {
		t.Fatal(res.err)
	}
	if !bytes.Equal(ex.final.body, data) || ex.final.code != 200 {
		t.Errorf("got %d with %d bytes, want 200 with the file's %d bytes", ex.final.code, len(ex.final.body), len(data))
	}
	if s.bytes != int64(len(data)) || s.status != 200 {
		t.Errorf("BytesWritten %d Status %d, want %d 200", s.bytes, s.status, len(data))
	}
	if n := ex.count(http.StatusProcessing); n < 2 {
		t.Errorf("%d 102s before the file, want >= 2", n)
	}
}

// TestHandlerInterim checks that a handler's own 1xx (103 Early Hints) goes
// out with the handler's headers, does not end 102s, and that the headers do
// not leak into later 102s.
func TestHandlerInterim(t *testing.T) {
	t.Parallel()
	cfg := processing.Config{Mode: processing.ModeAuto, After: 50 * time.Millisecond, Interval: 50 * time.Millisecond}
	const link = "</style.css>; rel=preload"
	res := roundTrip(t, cfg, func(pw *processing.Writer, r *http.Request) {
		pw.Header().Set("Link", link)
		pw.WriteHeader(http.StatusEarlyHints)
		slow(400*time.Millisecond, finalBody)(pw, r)
	}, rawRequest{head: "GET / HTTP/1.1\nHost: test"}, nil)
	ex, s := res.ex, res.st
	if res.err != nil {
		t.Fatal(res.err)
	}
	if len(ex.interims) == 0 || ex.interims[0].code != http.StatusEarlyHints || ex.interims[0].header.Get("Link") != link {
		t.Fatalf("first interim is not 103 with Link: %+v", ex.interims)
	}
	if n := ex.count(http.StatusProcessing); n < 2 || n != s.interim {
		t.Errorf("%d 102s after 103 (InterimSent %d), want >= 2", n, s.interim)
	}
	for i, m := range ex.interims[1:] {
		if m.header.Get("Link") != "" {
			t.Errorf("102 #%d carries Link", i)
		}
	}
	if ex.final.code != 201 || ex.final.header.Get("Link") != link {
		t.Errorf("final %d Link %q, want 201 %q", ex.final.code, ex.final.header.Get("Link"), link)
	}
}

// TestNothingWritten checks that headers set by a handler that writes
// nothing still reach net/http's implicit 200, with Preference-Applied.
func TestNothingWritten(t *testing.T) {
	t.Parallel()
	cfg := processing.Config{Mode: processing.ModeAuto, After: time.Hour, Interval: 50 * time.Millisecond}
	res := roundTrip(t, cfg, func(pw *processing.Writer, r *http.Request) {
		pw.Header().Set("X-Only", "1")
		sleep(r, 200*time.Millisecond)
	}, rawRequest{head: "DELETE /x HTTP/1.1\nHost: test\nPrefer: processing"}, nil)
	ex, s := res.ex, res.st
	if res.err != nil {
		t.Fatal(res.err)
	}
	if ex.final.code != 200 || ex.final.header.Get("X-Only") != "1" ||
		ex.final.header.Get("Preference-Applied") != "processing" {
		t.Errorf("final %d %v, want 200 with X-Only and Preference-Applied", ex.final.code, ex.final.header)
	}
	if n := ex.count(http.StatusProcessing); n < 1 || s.status != 0 || !s.tickerExited {
		t.Errorf("%d 102s, Status %d, ticker exited %v; want >= 1, 0, true", n, s.status, s.tickerExited)
	}
}

// TestHTTP2 checks 102s over (cleartext) HTTP/2 with net/http's client,
// which reports 1xx through httptrace.
func TestHTTP2(t *testing.T) {
	t.Parallel()
	cfg := processing.Config{Mode: processing.ModeAuto, After: 50 * time.Millisecond, Interval: 50 * time.Millisecond}
	srv, ch := server(t, cfg, slow(400*time.Millisecond, finalBody), func(s *http.Server) {
		s.Protocols = new(http.Protocols)
		s.Protocols.SetUnencryptedHTTP2(true)
	})

	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(tr.CloseIdleConnections)
	var got, leaked int // written by the client's read loop, read after Do returns
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		if code == http.StatusProcessing {
			got++
		}
		if h.Get("X-Early") != "" {
			leaked++
		}
		return nil
	}}
	ctx := httptrace.WithClientTrace(context.Background(), trace)
	req, _ := http.NewRequestWithContext(ctx, "MOVE", srv.URL+"/a", nil)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var s stats
	select {
	case s = <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("handler did not finish")
	}
	if resp.ProtoMajor != 2 || resp.StatusCode != 201 || string(body) != finalBody || resp.Header.Get("X-Early") != "1" {
		t.Errorf("got %s %d %q %v, want HTTP/2 201 %q with X-Early", resp.Proto, resp.StatusCode, body, resp.Header, finalBody)
	}
	if got < 2 || got != s.interim || leaked != 0 {
		t.Errorf("client saw %d 102s (%d with handler headers), InterimSent %d; want >= 2, 0, equal", got, leaked, s.interim)
	}
}

// TestNoTickerLeft checks from the outside that no ticker goroutine remains
// once requests are done. It is not parallel so that no other test's
// requests are in flight while it counts.
func TestNoTickerLeft(t *testing.T) {
	cfg := processing.Config{Mode: processing.ModeAlways, After: 10 * time.Millisecond, Interval: 10 * time.Millisecond}
	for i, h := range []func(*processing.Writer, *http.Request){
		slow(100*time.Millisecond, finalBody),
		func(pw *processing.Writer, r *http.Request) { // returns before the first 102
			pw.Header().Set("Content-Length", strconv.Itoa(len(finalBody)))
			io.WriteString(pw, finalBody)
		},
	} {
		res := roundTrip(t, cfg, h, rawRequest{head: "GET / HTTP/1.1\nHost: test"}, nil)
		if res.err != nil {
			t.Fatal(i, res.err)
		}
		if !res.st.tickerExited {
			t.Errorf("handler %d: ticker still running after Finish", i)
		}
	}
	// Handlers of earlier tests may still be returning on a loaded machine;
	// give them a moment, then no ticker may remain.
	deadline := time.Now().Add(3 * time.Second)
	for tickers() != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := tickers(); n != 0 {
		t.Errorf("%d ticker goroutines left", n)
	}
}

// tickers counts goroutines sending a 102 or a keep-alive flush.
func tickers() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return bytes.Count(buf, []byte("processing.(*Writer).fire(")) + bytes.Count(buf, []byte("processing.(*KeepAlive).tick("))
}
