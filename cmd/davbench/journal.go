package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// The journal rows time davd with its journal (the default) against the
// same davd started with --no-journal, which journals nothing: the
// journal must not slow the COPY, MOVE and DELETE it protects by more than
// 5%, and small requests, which never touch it, not at all.

// journalRounds multiplies BENCH_RUNS for the journal rows: their target
// is 5%, about what consecutive runs on a busy machine differ by, so they
// take more rounds and are judged by the median of each round's ratio,
// which cancels the machine's drift over minutes (see emitterRow).
const journalRounds = 3

// journalMoves is how many MOVEs one run of a MOVE journal row times: on
// file storage a MOVE of a tree is one rename, a millisecond or so, too
// short to time once against the noise; the run's sample is their median.
const journalMoves = 40

// journalPuts is how many PUTs of journalPutSize bytes one run of the
// small-request journal row times, one after the other; the run's sample
// is their median.
const (
	journalPuts    = 100
	journalPutSize = 4096
	journalPutDir  = "/journal-put"
)

// journalTarget is the largest ratio of davd's time with the journal over
// its time without it.
var journalTarget = target{ratioAtMost, 1.05}

// journalPair runs the contender per makes for davd with the journal and
// for davd with --no-journal alternately, each on a fresh server with a
// state file of its own, and fills r: medians, the paired ratio (median of
// the rounds' ratios) and the journaled server's peak RSS. what describes
// one run's sample for the notes.
func (b *bench) journalPair(ctx context.Context, r *row, what string, per func(c *davClient) contender[sample]) {
	b.progress("%s on %s", r.op, r.on)
	dir := filepath.Join(b.work, "journal-rows") // not beside the root: see stateDBs
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.err = err
		return
	}
	on, off := filepath.Join(dir, "on.db"), filepath.Join(dir, "off.db")
	specs := []serverSpec{
		b.davd("davd journal", "off", "--state", "sqlite://"+on),
		b.davd("davd --no-journal", "off", "--state", "sqlite://"+off, "--no-journal"),
	}
	runs := journalRounds * b.cfg.runs
	var res [][]sample
	rss, err := b.withServers(ctx, specs, func(srvs []*server) error {
		var cs []contender[sample]
		for i, s := range srvs {
			c := newDavClient(s.addr)
			defer c.close()
			ct := per(c)
			ct.label = specs[i].label
			cs = append(cs, ct)
		}
		var err error
		res, err = alternate(ctx, runs, cs, showSample, b.progressLine)
		return err
	})
	r.err = errors.Join(err, removeSQLite(on), removeSQLite(off))
	r.davdRSS = at(rss, 0)
	if err != nil {
		return
	}
	on0, off0 := durations(res[0]), durations(res[1])
	r.davd, r.ref = secs(median(on0)), secs(median(off0))
	if ratios := pairedRatios(on0, off0); len(ratios) > 0 {
		r.paired = value{v: median(ratios), set: true}
		r.notes = append(r.notes, fmt.Sprintf("same davd with --no-journal, %d rounds; %s; davd/ref is the median of the rounds' ratios (the medians' ratio gives %.3f)",
			runs, what, r.davd.v/r.ref.v))
	}
}

// removeSQLite removes the SQLite database file and its -wal and -shm
// files, those that exist.
func removeSQLite(file string) error {
	var errs []error
	for _, f := range []string{file, file + "-wal", file + "-shm"} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// journalCopyRow times COPY Depth ∞ of tree t, as copyRow does, with and
// without the journal.
func (b *bench) journalCopyRow(ctx context.Context, t treeSpec) row {
	r := row{op: "COPY Depth ∞, journal", on: t.Label, refName: "--no-journal", target: journalTarget}
	src, dst := "/"+t.Name, "/jcopy-"+t.Name
	b.journalPair(ctx, &r, "one COPY per run", func(c *davClient) contender[sample] {
		return contender[sample]{
			prep: func(ctx context.Context) error {
				if err := removeTree(ctx, b.path(dst)); err != nil {
					return err
				}
				if err := warmTree(ctx, b.path(src), true); err != nil {
					return err
				}
				return syncSettle(ctx, b.cfg.settle)
			},
			run:   func(ctx context.Context) (sample, error) { return c.copyMove(ctx, "COPY", src, dst) },
			check: func(context.Context, sample) error { return checkTree(b.path(dst), t) },
		}
	})
	r.err = errors.Join(r.err, removeTree(context.Background(), b.path(dst)))
	return r
}

// journalDeleteRow times DELETE of a freshly generated tree t, as
// deleteRow does, with and without the journal.
func (b *bench) journalDeleteRow(ctx context.Context, t treeSpec) row {
	r := row{op: "DELETE, journal", on: t.Label, refName: "--no-journal", target: journalTarget}
	victim := "/jdel-" + t.Name
	b.journalPair(ctx, &r, "one DELETE per run", func(c *davClient) contender[sample] {
		return contender[sample]{
			prep:  b.freshVictim(victim, t),
			run:   func(ctx context.Context) (sample, error) { return c.delete(ctx, victim) },
			check: b.victimGone(victim),
		}
	})
	r.err = errors.Join(r.err, removeTree(context.Background(), b.path(victim)))
	return r
}

// journalMoveRow times MOVE of tree t, as moveRow does, with and without
// the journal: journalMoves MOVEs per run, to the new name and back, all
// through the server and all timed; the run's sample is their median.
func (b *bench) journalMoveRow(ctx context.Context, t treeSpec) row {
	r := row{op: "MOVE, journal", on: t.Label, refName: "--no-journal", target: journalTarget}
	src, dst := "/jmv-"+t.Name, "/jmv-"+t.Name+"-moved"
	cleanup, err := b.movePair(ctx, src, dst, t)
	if err != nil {
		r.err = err
		return r
	}
	b.journalPair(ctx, &r, fmt.Sprintf("median of %d MOVEs per run, there and back", journalMoves), func(c *davClient) contender[sample] {
		return contender[sample]{
			prep: func(ctx context.Context) error { return syncSettle(ctx, b.cfg.settle) },
			run: func(ctx context.Context) (sample, error) {
				ds := make([]float64, 0, journalMoves)
				from, to := src, dst
				for range journalMoves {
					s, err := c.copyMove(ctx, "MOVE", from, to)
					if err != nil {
						return sample{}, err
					}
					ds = append(ds, s.dur.Seconds())
					from, to = to, from
				}
				return sample{dur: time.Duration(median(ds) * float64(time.Second))}, nil
			},
			check: func(context.Context, sample) error {
				// An even number of MOVEs leaves the tree where it was.
				if ok, err := exists(b.path(dst)); err != nil || ok {
					return errors.Join(err, fmt.Errorf("%s still exists", dst))
				}
				return checkTree(b.path(src), t)
			},
		}
	})
	r.err = errors.Join(r.err, cleanup(context.Background()))
	return r
}

// journalPutRow times PUTs of new small files, which are never journaled,
// with and without the journal: journalPuts sequential PUTs per run, the
// run's sample their median.
func (b *bench) journalPutRow(ctx context.Context) row {
	r := row{op: "PUT 4 KiB, journal", on: "one request", refName: "--no-journal", target: journalTarget}
	name := func(i int) string { return fmt.Sprintf("%s/f%03d.txt", journalPutDir, i) }
	b.journalPair(ctx, &r, fmt.Sprintf("median of %d sequential PUTs of new %d-byte files per run", journalPuts, journalPutSize), func(c *davClient) contender[sample] {
		return contender[sample]{
			prep: func(ctx context.Context) error {
				if err := removeTree(ctx, b.path(journalPutDir)); err != nil {
					return err
				}
				if err := os.Mkdir(b.path(journalPutDir), 0o755); err != nil {
					return err
				}
				return syncSettle(ctx, b.cfg.settle)
			},
			run: func(ctx context.Context) (sample, error) {
				ds := make([]float64, 0, journalPuts)
				for i := range journalPuts {
					s, err := c.put(ctx, name(i), journalPutSize)
					if err != nil {
						return sample{}, err
					}
					ds = append(ds, s.dur.Seconds())
				}
				return sample{dur: time.Duration(median(ds) * float64(time.Second))}, nil
			},
			check: func(context.Context, sample) error {
				for i := range journalPuts {
					fi, err := os.Stat(b.path(name(i)))
					if err != nil {
						return err
					}
					if fi.Size() != journalPutSize {
						return fmt.Errorf("%s has %d bytes, want %d", name(i), fi.Size(), journalPutSize)
					}
				}
				return nil
			},
		}
	})
	r.err = errors.Join(r.err, removeTree(context.Background(), b.path(journalPutDir)))
	return r
}
