package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRunLoad drives the lean client against a real server: every answer
// it counts as good was a complete 2xx (fixed-length or chunked), a server
// that closes connections gets redialled, and failures are counted with
// the first one kept.
func TestRunLoad(t *testing.T) {
	t.Parallel()
	var served, closed atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n := served.Add(1)
		switch r.URL.Path {
		case "/fixed":
			io.WriteString(w, "hello")
		case "/chunked":
			w.WriteHeader(http.StatusMultiStatus)
			io.WriteString(w, "part one;")
			w.(http.Flusher).Flush() // no Content-Length: chunked
			fmt.Fprintf(w, "%s", body)
		case "/close":
			if n%3 == 0 {
				w.Header().Set("Connection", "close")
				closed.Add(1)
			}
			io.WriteString(w, "bye")
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	run := func(path, method, body string, check func(*http.Response, int64) error) loadResult {
		return runLoad(context.Background(), loadSpec{conns: 4, duration: 200 * time.Millisecond, warmup: 50 * time.Millisecond,
			newReq: func(ctx context.Context) (*http.Request, error) {
				return http.NewRequestWithContext(ctx, method, srv.URL+path, strings.NewReader(body))
			}, check: check})
	}

	before := served.Load()
	res := run("/fixed", http.MethodGet, "", func(resp *http.Response, n int64) error {
		if n != 5 {
			return fmt.Errorf("%d bytes", n)
		}
		return nil
	})
	if res.errors != 0 || res.requests == 0 || res.dials != 4 {
		t.Errorf("fixed: %+v", res)
	}
	if all := served.Load() - before; res.requests > all {
		t.Errorf("fixed: %d counted, %d served", res.requests, all)
	}

	res = run("/chunked", "PROPFIND", "<propfind/>", func(resp *http.Response, n int64) error {
		if resp.StatusCode != http.StatusMultiStatus || n != int64(len("part one;<propfind/>")) {
			return fmt.Errorf("status %d, %d bytes", resp.StatusCode, n)
		}
		return nil
	})
	if res.errors != 0 || res.requests == 0 || res.dials != 4 {
		t.Errorf("chunked: %+v", res)
	}

	res = run("/close", http.MethodGet, "", nil)
	if res.errors != 0 || res.requests == 0 || res.dials <= 4 || closed.Load() == 0 {
		t.Errorf("close: %+v, %d closed by the server", res, closed.Load())
	}

	res = run("/missing", http.MethodGet, "", nil)
	if res.requests != 0 || res.errors == 0 || res.firstErr == nil || !strings.Contains(res.firstErr.Error(), "status 404") {
		t.Errorf("missing: %+v", res)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res = runLoad(ctx, loadSpec{conns: 2, duration: time.Hour,
		newReq: func(ctx context.Context) (*http.Request, error) {
			return http.NewRequest(http.MethodGet, srv.URL+"/fixed", nil)
		}})
	if res.firstErr == nil {
		t.Errorf("cancelled: %+v", res)
	}
}
