package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// loadSpec describes a closed-loop load: conns workers, each on its own
// keep-alive connection, send requests back to back for duration, after an
// uncounted warm-up that opens the connections. Every request is the one
// newReq builds, serialized once.
type loadSpec struct {
	conns    int
	duration time.Duration
	warmup   time.Duration
	// newReq builds one request.
	newReq func(ctx context.Context) (*http.Request, error)
	// check, when not nil, judges a 2xx response whose body of n bytes has
	// been read completely.
	check func(resp *http.Response, n int64) error
}

// loadResult is what one measured load phase did.
type loadResult struct {
	requests int64         // completed with a good response
	errors   int64         // failed, or answered other than 2xx
	elapsed  time.Duration // from the start until the last request ended
	dials    int64         // connections opened, warm-up included
	firstErr error         // the first failure, if any
}

// rps is the rate of good requests.
func (r loadResult) rps() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

// runLoad runs spec and reports the measured phase. The client is lean on
// purpose: each worker writes the same request bytes on its own
// connection and parses the answer with http.ReadResponse, on one
// goroutine. net/http's Transport, with its per-connection read and write
// goroutines, cost about as much CPU as the server it measured; sharing
// two cores with it compressed every ratio and added noise (±10% between
// runs, against ±5% for wrk).
func runLoad(ctx context.Context, spec loadSpec) loadResult {
	req, err := spec.newReq(ctx)
	if err != nil {
		return loadResult{errors: 1, firstErr: err}
	}
	var wire bytes.Buffer
	if err := req.Write(&wire); err != nil {
		return loadResult{errors: 1, firstErr: err}
	}
	conns := make([]*loadConn, spec.conns)
	for i := range conns {
		conns[i] = &loadConn{addr: req.URL.Host, wire: wire.Bytes(), method: req.Method, path: req.URL.Path}
	}
	// A cancelled run must not wait on a blocked read.
	stop := context.AfterFunc(ctx, func() {
		for _, c := range conns {
			c.closeConn()
		}
	})
	defer func() {
		stop()
		for _, c := range conns {
			c.closeConn()
		}
	}()
	if spec.warmup > 0 {
		loadPhase(ctx, conns, spec, spec.warmup)
	}
	res := loadPhase(ctx, conns, spec, spec.duration)
	for _, c := range conns {
		res.dials += c.dials.Load()
	}
	return res
}

// loadPhase runs one worker per connection for d and counts what
// completed.
func loadPhase(ctx context.Context, conns []*loadConn, spec loadSpec, d time.Duration) loadResult {
	var (
		mu  sync.Mutex
		res loadResult
		wg  sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for _, c := range conns {
		wg.Go(func() {
			var good, bad int64
			var first error
			for ctx.Err() == nil && time.Now().Before(deadline) {
				if err := c.do(spec.check); err != nil {
					bad++
					if first == nil {
						first = err
					}
				} else {
					good++
				}
			}
			mu.Lock()
			res.requests += good
			res.errors += bad
			if res.firstErr == nil {
				res.firstErr = first
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	if res.firstErr == nil && ctx.Err() != nil {
		res.firstErr = ctx.Err()
	}
	return res
}

// loadConn is one worker's keep-alive connection.
type loadConn struct {
	addr, method, path string
	wire               []byte // the request, as sent
	dials              atomic.Int64

	mu   sync.Mutex // guards conn against closeConn from a cancelled context
	conn net.Conn
	br   *bufio.Reader
}

// ioTimeout bounds every exchange, so that a server that stops answering
// fails the run instead of hanging it.
const ioTimeout = 30 * time.Second

// do sends the request once and reads the whole answer. A connection the
// server closed while idle is redialled once, as net/http's Transport
// would retry; any other failure is the request's.
func (c *loadConn) do(check func(*http.Response, int64) error) error {
	c.mu.Lock()
	reused := c.conn != nil
	c.mu.Unlock()
	resp, n, err := c.exchange()
	if err != nil && reused && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
		c.closeConn()
		resp, n, err = c.exchange()
	}
	if err != nil {
		c.closeConn()
		return fmt.Errorf("%s %s: %w", c.method, c.path, err)
	}
	if resp.Close {
		c.closeConn()
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s %s: status %d", c.method, c.path, resp.StatusCode)
	}
	if check != nil {
		return check(resp, n)
	}
	return nil
}

// exchange writes the request on the connection, dialling it if needed,
// and reads the response and its body to the end.
func (c *loadConn) exchange() (*http.Response, int64, error) {
	conn, br, err := c.connection()
	if err != nil {
		return nil, 0, err
	}
	if err := conn.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
		return nil, 0, err
	}
	if _, err := conn.Write(c.wire); err != nil {
		return nil, 0, err
	}
	resp, err := http.ReadResponse(br, &http.Request{Method: c.method})
	if err != nil {
		return nil, 0, err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, n, fmt.Errorf("reading the body: %w", err)
	}
	return resp, n, nil
}

// connection returns the open connection, dialling one if there is none.
func (c *loadConn) connection() (net.Conn, *bufio.Reader, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.addr, ioTimeout)
		if err != nil {
			return nil, nil, err
		}
		c.dials.Add(1)
		c.conn, c.br = conn, bufio.NewReaderSize(conn, 64<<10)
	}
	return c.conn, c.br, nil
}

// closeConn drops the connection; the next request dials a new one.
func (c *loadConn) closeConn() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		c.conn.Close()
		c.conn, c.br = nil, nil
	}
}
