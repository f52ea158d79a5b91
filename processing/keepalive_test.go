package processing_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"davd/processing"
)

// streamed is a handler writing units of a 207 body through a KeepAlive,
// pausing between them.
func streamed(interval, pause time.Duration, units ...string) func(*processing.Writer, *http.Request) {
	return func(pw *processing.Writer, r *http.Request) {
		k := processing.NewKeepAlive(pw, http.StatusMultiStatus, interval, []byte("\n"))
		for i, u := range units {
			if i > 0 {
				sleep(r, pause)
			}
			k.Write([]byte(u))
		}
		k.Close()
	}
}

// TestKeepAliveWhole checks that a body that ends before anything forces a
// flush goes out whole, with a Content-Length, and that while 102s cover
// the wait the status is held back, so 102s keep coming until the end.
func TestKeepAliveWhole(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cfg      processing.Config
		pause    time.Duration
		min102   int
		wantBody string
	}{
		{"quick", processing.Config{Mode: processing.ModeOff}, 0, 0, "<a/><b/>"},
		{"covered by 102s", processing.Config{Mode: processing.ModeAlways, After: 20 * time.Millisecond,
			Interval: 20 * time.Millisecond}, 250 * time.Millisecond, 3, "<a/><b/>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := roundTrip(t, tt.cfg, streamed(40*time.Millisecond, tt.pause, "<a/>", "<b/>"),
				rawRequest{head: "PROPFIND / HTTP/1.1\nHost: test"}, nil)
			if res.err != nil {
				t.Fatal(res.err)
			}
			if res.ex.final.code != 207 || string(res.ex.final.body) != tt.wantBody {
				t.Errorf("final %d %q, want 207 %q", res.ex.final.code, res.ex.final.body, tt.wantBody)
			}
			if n := res.ex.count(102); n < tt.min102 {
				t.Errorf("%d 102s, want at least %d", n, tt.min102)
			}
			if !res.st.tickerExited {
				t.Error("a tick is still scheduled after Close and Finish")
			}
		})
	}
}

// TestKeepAliveStreams checks that without 102s to cover a long body (102s
// off, or their cap reached) the status is committed after one quiet
// interval and filler keeps the stream alive until the end.
func TestKeepAliveStreams(t *testing.T) {
	t.Parallel()
	const interval, pause = 40 * time.Millisecond, 400 * time.Millisecond
	tests := []struct {
		name     string
		cfg      processing.Config
		want102s int
	}{
		{"102s off", processing.Config{Mode: processing.ModeOff}, 0},
		{"cap reached", processing.Config{Mode: processing.ModeAlways, After: 20 * time.Millisecond,
			Interval: 20 * time.Millisecond, Max: 2}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := server(t, tt.cfg, streamed(interval, pause, "<a/>", "<b/>"), nil)
			interims := 0
			ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
				Got1xxResponse: func(int, textproto.MIMEHeader) error { interims++; return nil },
			})
			req, _ := http.NewRequestWithContext(ctx, "PROPFIND", srv.URL, nil)
			start := time.Now()
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			headers := time.Since(start)
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 207 || headers >= pause {
				t.Errorf("207 status came after %v (%d), want it before the handler's %v pause ends", headers, resp.StatusCode, pause)
			}
			if interims != tt.want102s {
				t.Errorf("%d 102s, want %d", interims, tt.want102s)
			}
			if !strings.HasPrefix(string(body), "<a/>\n") || !strings.HasSuffix(string(body), "\n<b/>") {
				t.Errorf("body %q: want the units with filler between them", body)
			}
		})
	}
}
