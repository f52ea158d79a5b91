package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
)

// The load and large-file rows: request rates under load (GET 4 KiB,
// PROPFIND Depth 0, the 102 emitter's cost), GET and PUT of 1 GB, and
// the peak-RSS summary.

// loadRates runs the load spec built by mk against fresh servers, one
// per spec, alternately (first, second, ..., first, ...) and returns their
// rates, round by round, and peak RSS in the order of specs; failed
// requests make the row an error.
func (b *bench) loadRates(ctx context.Context, r *row, runs int, specs []serverSpec, mk func(s *server) loadSpec) (perRound [][]float64, rss []int64) {
	b.progress("%s (%s)", r.op, r.on)
	var res [][]loadResult
	rss, err := b.withServers(ctx, specs, func(srvs []*server) error {
		var cs []contender[loadResult]
		for _, s := range srvs {
			spec := mk(s)
			cs = append(cs, contender[loadResult]{label: s.label, run: func(ctx context.Context) (loadResult, error) {
				return runLoad(ctx, spec), ctx.Err()
			}})
		}
		var err error
		res, err = alternate(ctx, runs, cs, func(l loadResult) string {
			return fmt.Sprintf("%s req/s (%d errors)", thousands(int64(l.rps())), l.errors)
		}, b.progressLine)
		return err
	})
	r.err = err
	perRound = make([][]float64, len(specs))
	if err != nil {
		return perRound, rss
	}
	var errs []error
	dials := make([]string, len(specs))
	for i := range specs {
		var rates []float64
		var most int64
		for _, l := range res[i] {
			rates = append(rates, l.rps())
			most = max(most, l.dials)
			if l.errors > 0 {
				errs = append(errs, fmt.Errorf("%s: %d failed requests, first: %w", specs[i].label, l.errors, l.firstErr))
			}
		}
		perRound[i] = rates
		dials[i] = strconv.FormatInt(most, 10)
	}
	r.err = errors.Join(errs...)
	r.notes = append(r.notes, fmt.Sprintf("%d conns × %s keep-alive; %s connections opened", b.cfg.conns, b.cfg.duration, strings.Join(dials, "/")))
	return perRound, rss
}

// medians is the median of each contender's rates.
func medians(perRound [][]float64) []float64 {
	med := make([]float64, len(perRound))
	for i, rates := range perRound {
		med[i] = median(rates)
	}
	return med
}

// floorNote records in r the rate of the net/http floor server (a bare
// handler answering from memory) against x/net's: no server built on
// net/http can beat x/net by more than that on this machine.
func floorNote(r *row, floor, xnet float64) {
	if xnet > 0 {
		r.notes = append(r.notes, fmt.Sprintf("net/http floor (bare handler, answer from memory) %s req/s = %.2f× x/net: the ceiling for any server on net/http here",
			thousands(int64(floor)), floor/xnet))
	}
}

// get4kRow compares GET of a 4 KiB file, in requests per second.
func (b *bench) get4kRow(ctx context.Context) row {
	r := row{op: "GET 4 KiB", on: "requests/s", refName: "x/net", xnetIsRef: true, target: target{ratioAtLeast, 2}}
	perRound, rss := b.loadRates(ctx, &r, b.cfg.runs, []serverSpec{b.davd("davd", "off"), b.xnet(), b.floor()}, b.getLoad)
	med := medians(perRound)
	r.davd, r.ref = rate(med[0]), rate(med[1])
	r.davdRSS, r.xnetRSS = at(rss, 0), at(rss, 1)
	floorNote(&r, med[2], med[1])
	return r
}

// getLoad is the GET 4 KiB load on s.
func (b *bench) getLoad(s *server) loadSpec {
	u := s.url(smallFile)
	return loadSpec{conns: b.cfg.conns, duration: b.cfg.duration, warmup: b.cfg.warmup,
		newReq: func(ctx context.Context) (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		},
		check: func(resp *http.Response, n int64) error {
			if resp.StatusCode != http.StatusOK || n != smallSize {
				return fmt.Errorf("GET %s: status %d, %d bytes, want 200 and %d", smallFile, resp.StatusCode, n, smallSize)
			}
			return nil
		}}
}

// propfind0Row compares PROPFIND Depth 0 of the 3 properties on one
// file, in requests per second.
func (b *bench) propfind0Row(ctx context.Context) row {
	r := row{op: "PROPFIND Depth 0, 3 props", on: "requests/s", refName: "x/net", xnetIsRef: true, target: target{ratioAtLeast, 3}}
	perRound, rss := b.loadRates(ctx, &r, b.cfg.runs, []serverSpec{b.davd("davd", "off"), b.xnet(), b.floor()}, func(s *server) loadSpec {
		u := s.url(smallFile)
		return loadSpec{conns: b.cfg.conns, duration: b.cfg.duration, warmup: b.cfg.warmup,
			newReq: func(ctx context.Context) (*http.Request, error) {
				req, err := http.NewRequestWithContext(ctx, "PROPFIND", u, strings.NewReader(threePropsBody))
				if err == nil {
					req.Header.Set("Depth", "0")
					req.Header.Set("Content-Type", `application/xml; charset="utf-8"`)
				}
				return req, err
			},
			check: func(resp *http.Response, _ int64) error {
				if resp.StatusCode != http.StatusMultiStatus {
					return fmt.Errorf("PROPFIND %s: status %d, want 207", smallFile, resp.StatusCode)
				}
				return nil
			}}
	})
	med := medians(perRound)
	r.davd, r.ref = rate(med[0]), rate(med[1])
	r.davdRSS, r.xnetRSS = at(rss, 0), at(rss, 1)
	floorNote(&r, med[2], med[1])
	return r
}

// emitterRow compares GET 4 KiB on davd with the 102 emitter armed for
// every request (but never firing) against davd with it off.
func (b *bench) emitterRow(ctx context.Context) row {
	r := row{op: "GET 4 KiB, 102 emitter on", on: "requests/s", refName: "emitter off", target: target{overheadAtMost, 0.02}}
	// Five times the runs, judged by the median of each round's ratio: the
	// target is 2%, consecutive runs on this machine differ by 5–10%, and
	// the machine's speed drifts over minutes, which a ratio within one
	// round cancels and a ratio of two medians does not.
	runs := 5 * b.cfg.runs
	perRound, rss := b.loadRates(ctx, &r, runs, []serverSpec{
		b.davd("davd always", "always", "--processing-after", "1h"),
		b.davd("davd off", "off")}, b.getLoad)
	med := medians(perRound)
	r.davd, r.ref = rate(med[0]), rate(med[1])
	r.davdRSS = at(rss, 0)
	if ratios := pairedRatios(perRound[0], perRound[1]); len(ratios) > 0 {
		r.paired = value{v: median(ratios), set: true}
		r.notes = append(r.notes, fmt.Sprintf("--processing always --processing-after 1h vs off, %d rounds; overhead %.1f%% (median of the rounds' ratios; the medians' ratio gives %.1f%%)",
			runs, (1-r.paired.v)*100, (1-med[0]/med[1])*100))
	}
	return r
}

// pairedRatios divides a's rates by b's, round by round.
func pairedRatios(a, b []float64) []float64 {
	var out []float64
	for i := range min(len(a), len(b)) {
		if b[i] > 0 {
			out = append(out, a[i]/b[i])
		}
	}
	return out
}

// bigPair runs davd and x/net alternately with one big transfer per run
// and fills r with their median MB/s.
func (b *bench) bigPair(ctx context.Context, r *row, run func(c *davClient, ctx context.Context) (sample, error), prep func(ctx context.Context) error, check func(ctx context.Context, s sample) error) {
	b.progress("%s (%s)", r.op, r.on)
	var res [][]sample
	rss, err := b.withServers(ctx, []serverSpec{b.davd("davd", "off"), b.xnet()}, func(srvs []*server) error {
		var cs []contender[sample]
		for _, s := range srvs {
			c := newDavClient(s.addr)
			defer c.close()
			cs = append(cs, contender[sample]{label: s.label, prep: prep, check: check,
				run: func(ctx context.Context) (sample, error) { return run(c, ctx) }})
		}
		var err error
		res, err = alternate(ctx, b.cfg.runs, cs, func(s sample) string { return fmt.Sprintf("%.0f MB/s", s.mbps()) }, b.progressLine)
		return err
	})
	r.err = err
	r.davdRSS, r.xnetRSS = rss[0], rss[1]
	if err == nil {
		r.davd, r.ref = mbps(median(rates(res[0]))), mbps(median(rates(res[1])))
	}
}

// get1gRow measures GET of a 1 GiB file in MB/s; there is no target.
func (b *bench) get1gRow(ctx context.Context) row {
	r := row{op: "GET 1 GiB", on: "MB/s", refName: "x/net", xnetIsRef: true}
	warm := func(ctx context.Context) error { return warmFiles(ctx, []string{b.path(bigFile)}) }
	b.bigPair(ctx, &r, func(c *davClient, ctx context.Context) (sample, error) { return c.get(ctx, bigFile) }, warm,
		func(_ context.Context, s sample) error {
			if s.bytes != bigSize {
				return fmt.Errorf("GET %s: %d bytes, want %d", bigFile, s.bytes, bigSize)
			}
			return nil
		})
	return r
}

// put1gRow measures PUT of a new 1 GiB file in MB/s.
func (b *bench) put1gRow(ctx context.Context) row {
	r := row{op: "PUT 1 GiB", on: "MB/s", refName: "x/net", xnetIsRef: true, target: target{ratioAtLeast, 0.9}}
	name := b.path(putFile)
	b.bigPair(ctx, &r, func(c *davClient, ctx context.Context) (sample, error) { return c.put(ctx, putFile, bigSize) },
		func(ctx context.Context) error {
			if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			return syncSettle(ctx, b.cfg.settle)
		},
		func(context.Context, sample) error {
			fi, err := os.Stat(name)
			if err != nil {
				return err
			}
			if fi.Size() != bigSize {
				return fmt.Errorf("%s has %d bytes, want %d", putFile, fi.Size(), bigSize)
			}
			return nil
		})
	r.err = errors.Join(r.err, os.Remove(name))
	return r
}

// rssRow summarises the peak RSS of the rows that match, against the
// 64 MiB target. ran is false when those rows were not run by design.
func rssRow(op, on string, rows []row, match func(row) bool, ran bool) row {
	r := row{op: "peak RSS, " + op, on: on, target: target{bytesAtMost, 64 << 20}}
	if !ran {
		r.skipped = "1M tree: set BENCH_BIG=1"
		return r
	}
	var d, x int64
	n := 0
	for _, src := range rows {
		if match(src) {
			n++
			d, x = max(d, src.davdRSS), max(x, src.xnetRSS)
		}
	}
	if n == 0 || d == 0 {
		r.err = errors.New("no measurement")
		return r
	}
	r.davd, r.xnet = bytesValue(d), bytesValue(x)
	r.davdRSS, r.xnetRSS = d, x
	r.notes = append(r.notes, fmt.Sprintf("max of the %d rows above, each on a fresh process", n))
	return r
}

func at(s []int64, i int) int64 {
	if i < len(s) {
		return s[i]
	}
	return 0
}
