package main

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// The tree rows: PROPFIND, COPY, DELETE and MOVE of generated trees, each
// timed on davd, its command-line reference and x/net, alternately.

// triple runs davd, a reference and x/net alternately on fresh servers,
// and fills r's medians (times) and peak RSS.
func (b *bench) triple(ctx context.Context, r *row, mk func(dc, xc *davClient) []contender[sample]) [][]sample {
	b.progress("%s on %s", r.op, r.on)
	var res [][]sample
	rss, err := b.withServers(ctx, []serverSpec{b.davd("davd", "off"), b.xnet()}, func(srvs []*server) error {
		dc, xc := newDavClient(srvs[0].addr), newDavClient(srvs[1].addr)
		defer dc.close()
		defer xc.close()
		var err error
		res, err = alternate(ctx, b.cfg.runs, mk(dc, xc), showSample, b.progressLine)
		return err
	})
	r.err = err
	r.davdRSS, r.xnetRSS = rss[0], rss[1]
	if err == nil {
		r.davd = secs(median(durations(res[0])))
		r.ref = secs(median(durations(res[1])))
		r.xnet = secs(median(durations(res[2])))
	}
	return res
}

func showSample(s sample) string { return secs(s.dur.Seconds()).String() }

// propfindRow times PROPFIND with depth ("infinity" or "1") and body on
// tree t, against find printing the same facts into a drained pipe.
func (b *bench) propfindRow(ctx context.Context, t treeSpec, depth, variant, body string, tgt target) row {
	depthLabel, want := "∞", int64(t.Entries())
	findArgs := []string{b.path("/" + t.Name), "-printf", findFormat}
	if depth == "1" {
		depthLabel, want = "1", int64(1+t.RootChildren())
		findArgs = []string{b.path("/" + t.Name), "-maxdepth", "1", "-printf", findFormat}
	}
	r := row{op: fmt.Sprintf("PROPFIND Depth %s, %s", depthLabel, variant), on: t.Label, refName: "find", target: tgt}
	p := "/" + t.Name + "/"
	warm := func(ctx context.Context) error { return warmTree(ctx, b.path(p), false) }
	count := func(_ context.Context, s sample) error {
		if s.entries != want {
			return fmt.Errorf("%s entries, want %s", thousands(s.entries), thousands(want))
		}
		return nil
	}
	res := b.triple(ctx, &r, func(dc, xc *davClient) []contender[sample] {
		return []contender[sample]{
			{label: "davd", prep: warm, check: count, run: func(ctx context.Context) (sample, error) { return dc.propfind(ctx, p, depth, body) }},
			{label: "find", prep: warm, check: count, run: func(ctx context.Context) (sample, error) { return runCmd(ctx, "find", findArgs...) }},
			{label: "x/net", prep: warm, check: count, run: func(ctx context.Context) (sample, error) { return xc.propfind(ctx, p, depth, body) }},
		}
	})
	if r.err == nil {
		r.notes = append(r.notes, fmt.Sprintf("%s responses; body davd %s, x/net %s; davd %s/entry",
			thousands(want), mb(res[0][0].bytes), mb(res[2][0].bytes), perEntry(r.davd.v, want)))
	}
	return r
}

// copyRow times COPY of tree t to a new name against cp -r. Before each
// run the previous copy is removed and the source is read, untimed.
func (b *bench) copyRow(ctx context.Context, t treeSpec) row {
	r := row{op: "COPY Depth ∞", on: t.Label, refName: "cp -r", target: target{ratioAtMost, 1}}
	src, dst := "/"+t.Name, "/copy-"+t.Name
	prep := func(ctx context.Context) error {
		if err := removeTree(ctx, b.path(dst)); err != nil {
			return err
		}
		if err := warmTree(ctx, b.path(src), true); err != nil {
			return err
		}
		return syncSettle(ctx, b.cfg.settle)
	}
	check := func(context.Context, sample) error { return checkTree(b.path(dst), t) }
	b.triple(ctx, &r, func(dc, xc *davClient) []contender[sample] {
		return []contender[sample]{
			{label: "davd", prep: prep, check: check, run: func(ctx context.Context) (sample, error) { return dc.copyMove(ctx, "COPY", src, dst) }},
			{label: "cp -r", prep: prep, check: check, run: func(ctx context.Context) (sample, error) { return runCmd(ctx, "cp", "-r", b.path(src), b.path(dst)) }},
			{label: "x/net", prep: prep, check: check, run: func(ctx context.Context) (sample, error) { return xc.copyMove(ctx, "COPY", src, dst) }},
		}
	})
	r.err = errors.Join(r.err, removeTree(context.Background(), b.path(dst)))
	if r.err == nil {
		r.notes = append(r.notes, fmt.Sprintf("davd %s/entry", perEntry(r.davd.v, int64(t.Entries()))))
	}
	return r
}

// deleteRow times DELETE of a freshly generated tree t against rm -rf.
func (b *bench) deleteRow(ctx context.Context, t treeSpec) row {
	r := row{op: "DELETE", on: t.Label, refName: "rm -rf", target: target{ratioAtMost, 1}}
	victim := "/del-" + t.Name
	prep, check := b.freshVictim(victim, t), b.victimGone(victim)
	b.triple(ctx, &r, func(dc, xc *davClient) []contender[sample] {
		return []contender[sample]{
			{label: "davd", prep: prep, check: check, run: func(ctx context.Context) (sample, error) { return dc.delete(ctx, victim) }},
			{label: "rm -rf", prep: prep, check: check, run: func(ctx context.Context) (sample, error) { return runCmd(ctx, "rm", "-rf", b.path(victim)) }},
			{label: "x/net", prep: prep, check: check, run: func(ctx context.Context) (sample, error) { return xc.delete(ctx, victim) }},
		}
	})
	r.err = errors.Join(r.err, removeTree(context.Background(), b.path(victim)))
	if r.err == nil {
		r.notes = append(r.notes, fmt.Sprintf("davd %s/entry", perEntry(r.davd.v, int64(t.Entries()))))
	}
	return r
}

// moveRow times MOVE of a generated tree t to a new name against mv; after
// each run the tree is renamed back, untimed.
func (b *bench) moveRow(ctx context.Context, t treeSpec) row {
	r := row{op: "MOVE", on: t.Label, refName: "mv", target: target{secondsAtMost, 0.050}}
	src, dst := "/mv-"+t.Name, "/mv-"+t.Name+"-moved"
	cleanup, err := b.movePair(ctx, src, dst, t)
	if err != nil {
		r.err = err
		return r
	}
	prep := func(ctx context.Context) error { return syncSettle(ctx, b.cfg.settle) }
	check := func(context.Context, sample) error {
		if ok, err := exists(b.path(src)); err != nil || ok {
			return errors.Join(err, fmt.Errorf("%s still exists", src))
		}
		if err := checkTree(b.path(dst), t); err != nil {
			return err
		}
		return os.Rename(b.path(dst), b.path(src))
	}
	b.triple(ctx, &r, func(dc, xc *davClient) []contender[sample] {
		return []contender[sample]{
			{label: "davd", prep: prep, check: check, run: func(ctx context.Context) (sample, error) { return dc.copyMove(ctx, "MOVE", src, dst) }},
			{label: "mv", prep: prep, check: check, run: func(ctx context.Context) (sample, error) { return runCmd(ctx, "mv", b.path(src), b.path(dst)) }},
			{label: "x/net", prep: prep, check: check, run: func(ctx context.Context) (sample, error) { return xc.copyMove(ctx, "MOVE", src, dst) }},
		}
	})
	r.err = errors.Join(r.err, cleanup(context.Background()))
	return r
}

// freshVictim is the prep of a DELETE row: tree t generated anew at
// victim, then the disk settled.
func (b *bench) freshVictim(victim string, t treeSpec) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := removeTree(ctx, b.path(victim)); err != nil {
			return err
		}
		if err := generateTree(ctx, b.path(victim), t); err != nil {
			return err
		}
		return syncSettle(ctx, b.cfg.settle)
	}
}

// victimGone is the check of a DELETE row: nothing is left at victim.
func (b *bench) victimGone(victim string) func(context.Context, sample) error {
	return func(context.Context, sample) error {
		if ok, err := exists(b.path(victim)); err != nil || ok {
			return errors.Join(err, fmt.Errorf("%s still exists", victim))
		}
		return nil
	}
}

// movePair prepares a MOVE row: tree t generated at src and nothing at
// dst. cleanup removes both.
func (b *bench) movePair(ctx context.Context, src, dst string, t treeSpec) (cleanup func(context.Context) error, err error) {
	cleanup = func(ctx context.Context) error {
		return errors.Join(removeTree(ctx, b.path(src)), removeTree(ctx, b.path(dst)))
	}
	return cleanup, errors.Join(cleanup(ctx), generateTree(ctx, b.path(src), t))
}
