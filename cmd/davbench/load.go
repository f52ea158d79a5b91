package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// loadSpec describes a closed-loop load: conns workers, each on its own
// keep-alive connection, send requests back to back for duration, after an
// uncounted warm-up that opens the connections.
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

// runLoad runs spec against a fresh client and reports the measured phase.
func runLoad(ctx context.Context, spec loadSpec) loadResult {
	var dials atomic.Int64
	dialer := &net.Dialer{}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return dialer.DialContext(ctx, network, addr)
		},
		MaxConnsPerHost:     spec.conns,
		MaxIdleConnsPerHost: spec.conns,
		MaxIdleConns:        spec.conns,
		DisableCompression:  true,
		IdleConnTimeout:     time.Minute,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	if spec.warmup > 0 {
		loadPhase(ctx, client, spec, spec.warmup)
	}
	res := loadPhase(ctx, client, spec, spec.duration)
	res.dials = dials.Load()
	return res
}

// loadPhase runs the workers for d and counts what completed.
func loadPhase(ctx context.Context, client *http.Client, spec loadSpec, d time.Duration) loadResult {
	var (
		mu  sync.Mutex
		res loadResult
		wg  sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for range spec.conns {
		wg.Go(func() {
			var good, bad int64
			var first error
			for ctx.Err() == nil && time.Now().Before(deadline) {
				if err := oneRequest(ctx, client, spec); err != nil {
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

// oneRequest sends one request, drains the body and judges the answer.
func oneRequest(ctx context.Context, client *http.Client, spec loadSpec) error {
	req, err := spec.newReq(ctx)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("%s %s: reading the body: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s %s: status %d", req.Method, req.URL.Path, resp.StatusCode)
	}
	if spec.check != nil {
		return spec.check(resp, n)
	}
	return nil
}
