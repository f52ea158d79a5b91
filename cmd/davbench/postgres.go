package main

// The rows of the postgres group: davd with its state in PostgreSQL (a
// server this program starts on loopback, through package pgserver)
// against the same davd with its state in SQLite, in the same run.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"davd/storage/state/pgserver"
)

// pgTree is the tree of the postgres rows, a 100k tree of its own (its
// properties must not reach the other rows), with a dead property on
// every pgPropEvery-th file.
var pgTree = treeSpec{Name: "pg-t100k", Label: "100k tree, prop on every 10th file", Fanout: 10, Depth: 3, FilesPerLeaf: 100, FileSize: 1024}

const (
	pgPropEvery = 10
	// pgWorkers is how many clients the rate rows run at once, each on
	// a file of its own.
	pgWorkers = 8
)

// pgState is the PostgreSQL server of the postgres rows and the two
// states they compare, made on first use.
type pgState struct {
	once   sync.Once
	err    error
	inst   *pgserver.Installation
	srv    *pgserver.Server
	pgURL  string
	sqlite string // the SQLite state's URL
	ready  bool   // pgTree exists and both states hold its properties
	marker string // a file of pgTree with a property, checked after COPY and MOVE
}

// postgres starts PostgreSQL, makes pgTree and gives both states its
// properties, once.
func (b *bench) postgres(ctx context.Context) (*pgState, error) {
	p := &b.pg
	p.once.Do(func() {
		t0 := time.Now()
		// In the system's temporary directory: the work directory is
		// private to us, and the server may run as another user.
		if p.inst, p.err = pgserver.Setup(""); p.err != nil {
			return
		}
		if p.srv, p.err = p.inst.NewServer(); p.err != nil {
			return
		}
		admin, err := p.srv.Admin()
		if err != nil {
			p.err = err
			return
		}
		p.pgURL, p.err = p.srv.CreateDatabase(ctx, admin, "davbench")
		admin.Close()
		if p.err != nil {
			return
		}
		// Not beside the served root: davd refuses a state directory
		// that contains its storage.
		p.sqlite = "sqlite://" + filepath.Join(b.work, "pg-ref-state", "state.db")
		b.progress("started PostgreSQL on 127.0.0.1:%d in %s", p.srv.Port(), time.Since(t0).Round(time.Millisecond))
	})
	return p, p.err
}

// stopPostgres stops the server of the postgres rows, if one was started.
func (b *bench) stopPostgres() {
	p := &b.pg
	if p.srv != nil {
		if err := p.srv.Stop("fast"); err != nil {
			b.progress("stopping PostgreSQL: %v", err)
		}
	}
	if p.inst != nil {
		p.inst.Remove()
	}
}

// pgSpecs are the two davd servers of a postgres row: PostgreSQL state
// first, SQLite second.
func (b *bench) pgSpecs(p *pgState) []serverSpec {
	return []serverSpec{
		b.davd("davd postgres", "off", "--state", p.pgURL),
		b.davd("davd sqlite", "off", "--state", p.sqlite),
	}
}

// pgPrepareTree generates pgTree and sets a property on every
// pgPropEvery-th file through each server, so that each state holds
// them.
func (b *bench) pgPrepareTree(ctx context.Context, p *pgState) error {
	if p.ready {
		return nil
	}
	t0 := time.Now()
	top := b.path("/" + pgTree.Name)
	if err := errors.Join(removeTree(ctx, top), generateTree(ctx, top, pgTree)); err != nil {
		return err
	}
	var files []string
	err := filepath.WalkDir(top, func(q string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, "/"+pgTree.Name+filepath.ToSlash(strings.TrimPrefix(q, top)))
		}
		return err
	})
	if err != nil {
		return err
	}
	slices.Sort(files)
	var propped []string
	for i := 0; i < len(files); i += pgPropEvery {
		propped = append(propped, files[i])
	}
	p.marker = strings.TrimPrefix(propped[0], "/"+pgTree.Name)
	_, err = b.withServers(ctx, b.pgSpecs(p), func(srvs []*server) error {
		for _, s := range srvs {
			err := parallel(ctx, pgWorkers, len(propped), func(ctx context.Context, hc *http.Client, i int) error {
				return proppatch(ctx, hc, s.url(propped[i]), "v")
			})
			if err != nil {
				return fmt.Errorf("%s: %w", s.label, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	p.ready = true
	b.progress("%s: %s files, %s with a property, in both states, in %s", pgTree.Label, thousands(int64(len(files))),
		thousands(int64(len(propped))), time.Since(t0).Round(time.Millisecond))
	return syncSettle(ctx, b.cfg.settle)
}

// pgClient is an HTTP client for n connections to one server.
func pgClient(n int) *http.Client {
	return &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: n, MaxConnsPerHost: n}}
}

// parallel calls fn for 0…n-1 on workers goroutines sharing one client,
// and returns the first error.
func parallel(ctx context.Context, workers, n int, fn func(ctx context.Context, hc *http.Client, i int) error) error {
	hc := pgClient(workers)
	defer hc.CloseIdleConnections()
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(ctx, hc, i); err != nil {
					mu.Lock()
					first = cmp(first, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(first, ctx.Err())
}

func cmp(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// send sends one request and expects one of want, draining the body; it
// returns the response's headers.
func send(ctx context.Context, hc *http.Client, method, url string, hdr map[string]string, body string, want ...int) (http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !slices.Contains(want, resp.StatusCode) {
		return nil, fmt.Errorf("%s %s: status %d, want %v: %.200s", method, url, resp.StatusCode, want, b)
	}
	if method == "PROPPATCH" && !strings.Contains(string(b), " 200 OK") {
		return nil, fmt.Errorf("PROPPATCH %s: %.300s", url, b)
	}
	return resp.Header, nil
}

// proppatch sets the property Z:p of url to v.
func proppatch(ctx context.Context, hc *http.Client, url, v string) error {
	_, err := send(ctx, hc, "PROPPATCH", url, nil,
		`<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:davbench"><D:set><D:prop><Z:p>`+v+`</Z:p></D:prop></D:set></D:propertyupdate>`,
		http.StatusMultiStatus)
	return err
}

const pgLockBody = `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>davbench</D:owner></D:lockinfo>`

// pgRateRow measures op (one step of a worker, on its own file) in
// operations per second on both states, pgWorkers workers for
// BENCH_DURATION per run.
func (b *bench) pgRateRow(ctx context.Context, name, unit string, op func(ctx context.Context, hc *http.Client, url string, i int) error) row {
	r := row{op: "PostgreSQL state: " + name, on: unit, refName: "SQLite"}
	b.progress("%s (%s)", r.op, r.on)
	p, err := b.postgres(ctx)
	if err != nil {
		r.err = err
		return r
	}
	dir := "/pg-rate"
	prep := func(ctx context.Context) error {
		if err := removeTree(ctx, b.path(dir)); err != nil {
			return err
		}
		if err := generateFlat(b.path(dir), pgWorkers); err != nil {
			return err
		}
		return syncSettle(ctx, b.cfg.settle)
	}
	var res [][]float64
	rss, err := b.withServers(ctx, b.pgSpecs(p), func(srvs []*server) error {
		var cs []contender[float64]
		for _, s := range srvs {
			cs = append(cs, contender[float64]{label: s.label, prep: prep, run: func(ctx context.Context) (float64, error) {
				return rateOf(ctx, b.cfg.duration, pgWorkers, func(ctx context.Context, hc *http.Client, w, i int) error {
					return op(ctx, hc, s.url(fmt.Sprintf("%s/f%d", dir, w)), i)
				})
			}})
		}
		var err error
		res, err = alternate(ctx, b.cfg.runs, cs, func(v float64) string { return thousands(int64(v)) + "/s" }, b.progressLine)
		return err
	})
	r.err = errors.Join(err, removeTree(context.Background(), b.path(dir)))
	r.davdRSS = at(rss, 0)
	if r.err == nil {
		r.davd, r.ref = rate(median(res[0])), rate(median(res[1]))
		r.notes = append(r.notes, fmt.Sprintf("%d clients, each on a file of its own, %s per run; PostgreSQL on loopback (fsync off), SQLite state file beside the tree",
			pgWorkers, b.cfg.duration))
	}
	return r
}

// generateFlat makes dir with files f0…f(n-1) of 1 KiB.
func generateFlat(dir string, n int) error {
	if err := removeTree(context.Background(), dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i := range n {
		if err := writeFile(filepath.Join(dir, fmt.Sprintf("f%d", i)), 1024); err != nil {
			return err
		}
	}
	return nil
}

// rateOf runs workers goroutines calling fn in a loop for d and returns
// the rate of calls; any failure fails it.
func rateOf(ctx context.Context, d time.Duration, workers int, fn func(ctx context.Context, hc *http.Client, w, i int) error) (float64, error) {
	hc := pgClient(workers)
	defer hc.CloseIdleConnections()
	var done atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for w := range workers {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil && time.Now().Before(deadline); i++ {
				if err := fn(ctx, hc, w, i); err != nil {
					mu.Lock()
					first = cmp(first, err)
					mu.Unlock()
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if first != nil {
		return 0, first
	}
	return float64(done.Load()) / time.Since(start).Seconds(), ctx.Err()
}

// lockUnlockRow: LOCK and UNLOCK of a file, one pair per step.
func (b *bench) lockUnlockRow(ctx context.Context) row {
	return b.pgRateRow(ctx, "LOCK+UNLOCK", "pairs/s", func(ctx context.Context, hc *http.Client, url string, _ int) error {
		h, err := send(ctx, hc, "LOCK", url, map[string]string{"Depth": "0", "Timeout": "Second-60"}, pgLockBody, http.StatusOK)
		if err != nil {
			return err
		}
		_, err = send(ctx, hc, "UNLOCK", url, map[string]string{"Lock-Token": h.Get("Lock-Token")}, "", http.StatusNoContent)
		return err
	})
}

// proppatchRow: PROPPATCH of one property of a file, a new value each
// time.
func (b *bench) proppatchRow(ctx context.Context) row {
	return b.pgRateRow(ctx, "PROPPATCH", "requests/s", func(ctx context.Context, hc *http.Client, url string, i int) error {
		return proppatch(ctx, hc, url, fmt.Sprintf("v%d", i))
	})
}

// pgTimedRow runs run on both states, alternately, b.cfg.runs times,
// after prep and followed by check, on the same server each, and fills
// r with the median times.
func (b *bench) pgTimedRow(ctx context.Context, r row, prep func(ctx context.Context, c *davClient) error,
	run func(ctx context.Context, c *davClient) (sample, error), check func(ctx context.Context, c *davClient, s sample) error) row {
	b.progress("%s on %s", r.op, r.on)
	p, err := b.postgres(ctx)
	if err == nil {
		err = b.pgPrepareTree(ctx, p)
	}
	if err != nil {
		r.err = err
		return r
	}
	var res [][]sample
	rss, err := b.withServers(ctx, b.pgSpecs(p), func(srvs []*server) error {
		var cs []contender[sample]
		for _, s := range srvs {
			c := newDavClient(s.addr)
			defer c.close()
			cs = append(cs, contender[sample]{label: s.label,
				prep:  func(ctx context.Context) error { return prep(ctx, c) },
				run:   func(ctx context.Context) (sample, error) { return run(ctx, c) },
				check: func(ctx context.Context, v sample) error { return check(ctx, c, v) }})
		}
		var err error
		res, err = alternate(ctx, b.cfg.runs, cs, showSample, b.progressLine)
		return err
	})
	r.err = err
	r.davdRSS = at(rss, 0)
	if err == nil {
		r.davd, r.ref = secs(median(durations(res[0]))), secs(median(durations(res[1])))
	}
	return r
}

// hasMarkerProp checks that the marker file below top has its property.
func (b *bench) hasMarkerProp(ctx context.Context, c *davClient, top string) error {
	req, err := http.NewRequestWithContext(ctx, "PROPFIND", c.base+top+b.pg.marker,
		strings.NewReader(`<D:propfind xmlns:D="DAV:"><D:prop><Z:p xmlns:Z="urn:davbench"/></D:prop></D:propfind>`))
	if err != nil {
		return err
	}
	req.Header.Set("Depth", "0")
	var body strings.Builder
	if _, _, err := c.do(req, &body, http.StatusMultiStatus); err != nil {
		return err
	}
	if !strings.Contains(body.String(), ">v</") {
		return fmt.Errorf("%s%s lost its property: %.300s", top, b.pg.marker, body.String())
	}
	return nil
}

// pgPropfindRow: PROPFIND allprop Depth infinity of pgTree.
func (b *bench) pgPropfindRow(ctx context.Context) row {
	r := row{op: "PostgreSQL state: PROPFIND Depth ∞, allprop", on: pgTree.Label, refName: "SQLite", target: target{ratioAtMost, 1.3}}
	top := "/" + pgTree.Name
	want := int64(pgTree.Entries())
	r = b.pgTimedRow(ctx, r,
		func(ctx context.Context, _ *davClient) error { return warmTree(ctx, b.path(top), false) },
		func(ctx context.Context, c *davClient) (sample, error) {
			return c.propfind(ctx, top+"/", "infinity", allpropBody)
		},
		func(_ context.Context, _ *davClient, s sample) error {
			if s.entries != want {
				return fmt.Errorf("%s entries, want %s", thousands(s.entries), thousands(want))
			}
			return nil
		})
	if r.err == nil {
		r.notes = append(r.notes, fmt.Sprintf("%s responses, %s with a dead property; davd with --state postgres:// (loopback) vs sqlite://",
			thousands(want), thousands(int64(pgTree.Files()/pgPropEvery))))
	}
	return r
}

// pgCopyRow: COPY of pgTree to a new name; after each run the copy is
// deleted through the same server (untimed), state included.
func (b *bench) pgCopyRow(ctx context.Context) row {
	r := row{op: "PostgreSQL state: COPY Depth ∞", on: pgTree.Label, refName: "SQLite", target: target{ratioAtMost, 1.2}}
	src, dst := "/"+pgTree.Name, "/"+pgTree.Name+"-copy"
	r = b.pgTimedRow(ctx, r,
		func(ctx context.Context, _ *davClient) error {
			if err := errors.Join(removeTree(ctx, b.path(dst)), warmTree(ctx, b.path(src), true)); err != nil {
				return err
			}
			return syncSettle(ctx, b.cfg.settle)
		},
		func(ctx context.Context, c *davClient) (sample, error) { return c.copyMove(ctx, "COPY", src, dst) },
		func(ctx context.Context, c *davClient, _ sample) error {
			if err := errors.Join(checkTree(b.path(dst), pgTree), b.hasMarkerProp(ctx, c, dst)); err != nil {
				return err
			}
			_, err := c.delete(ctx, dst)
			return err
		})
	if r.err == nil {
		r.notes = append(r.notes, fmt.Sprintf("%s dead properties copied with the tree", thousands(int64(pgTree.Files()/pgPropEvery))))
	}
	return r
}

// pgMoveRow: MOVE of pgTree to a new name; after each run it is moved
// back through the same server (untimed), so that its properties follow.
func (b *bench) pgMoveRow(ctx context.Context) row {
	r := row{op: "PostgreSQL state: MOVE", on: pgTree.Label, refName: "SQLite", target: target{ratioAtMost, 1.2}}
	src, dst := "/"+pgTree.Name, "/"+pgTree.Name+"-moved"
	r = b.pgTimedRow(ctx, r,
		func(ctx context.Context, _ *davClient) error { return syncSettle(ctx, b.cfg.settle) },
		func(ctx context.Context, c *davClient) (sample, error) { return c.copyMove(ctx, "MOVE", src, dst) },
		func(ctx context.Context, c *davClient, _ sample) error {
			if err := errors.Join(checkTree(b.path(dst), pgTree), b.hasMarkerProp(ctx, c, dst)); err != nil {
				return err
			}
			_, err := c.copyMove(ctx, "MOVE", dst, src)
			return err
		})
	if r.err == nil {
		r.notes = append(r.notes, fmt.Sprintf("%s dead properties moved with the tree", thousands(int64(pgTree.Files()/pgPropEvery))))
	}
	return r
}
