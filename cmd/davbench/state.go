package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"davd/storage/state"
)

// stateProps is how many dead properties the big state of the state rows
// holds.
const stateProps = 500_000

// stateOps is how many one-file operations one run of a state row times;
// the run's sample is their median.
const stateOps = 40

// The directories the two servers of a state row work in: one whose
// state is big, one whose state is empty.
const (
	stateBigDir   = "/state-big"
	stateEmptyDir = "/state-empty"
)

// stateRow times a one-file DELETE, MOVE or COPY (op) on davd with
// stateProps dead properties in its state against the same operation on
// davd with an empty state: a namespace operation should cost what the
// tree it touches holds, not what the whole state holds.
func (b *bench) stateRow(ctx context.Context, op string) row {
	r := row{op: op + " one file", on: fmt.Sprintf("%s props stored", thousands(stateProps)),
		refName: "no props", target: target{ratioAtMost, 2}}
	b.progress("%s on %s", r.op, r.on)
	bigDB, emptyDB, err := b.stateDBs(ctx)
	if err != nil {
		r.err = err
		return r
	}
	specs := []serverSpec{
		b.davd("davd big state", "off", "--state", "sqlite://"+bigDB),
		b.davd("davd empty state", "off", "--state", "sqlite://"+emptyDB),
	}
	var res [][]sample
	rss, err := b.withServers(ctx, specs, func(srvs []*server) error {
		var cs []contender[sample]
		for i, dir := range []string{stateBigDir, stateEmptyDir} {
			c := newDavClient(srvs[i].addr)
			defer c.close()
			cs = append(cs, contender[sample]{
				label: specs[i].label,
				prep:  func(ctx context.Context) error { return b.stateFiles(ctx, dir, op) },
				run:   func(ctx context.Context) (sample, error) { return b.stateOpsRun(ctx, c, dir, op) },
				check: func(context.Context, sample) error { return b.stateCheck(dir, op) },
			})
		}
		var err error
		res, err = alternate(ctx, b.cfg.runs, cs, showSample, b.progressLine)
		return err
	})
	r.err = errors.Join(err, removeTree(context.Background(), b.path(stateBigDir)),
		removeTree(context.Background(), b.path(stateEmptyDir)))
	r.davdRSS = at(rss, 0)
	if r.err == nil {
		r.davd = secs(median(durations(res[0])))
		r.ref = secs(median(durations(res[1])))
		r.notes = append(r.notes, fmt.Sprintf("median of %d sequential requests per run; the same davd with --state holding %s dead properties (on paths beside the files) vs an empty state; peak RSS of the big-state davd",
			stateOps, thousands(stateProps)))
	}
	return r
}

// stateDBs makes, once, the two state files of the state rows: one with
// stateProps properties, written in one statement, and an empty one.
func (b *bench) stateDBs(ctx context.Context) (big, empty string, err error) {
	// Not beside the served root: davd refuses a state directory that
	// contains its storage.
	dir := filepath.Join(b.work, "state-rows")
	big, empty = filepath.Join(dir, "state-big.db"), filepath.Join(dir, "state-empty.db")
	if ok, err := exists(big); err != nil || ok {
		return big, empty, err
	}
	t0 := time.Now()
	for _, f := range []string{empty, big + ".tmp"} {
		st, err := state.Open(ctx, "sqlite://"+f)
		if err != nil {
			return "", "", err
		}
		if err := st.Close(); err != nil {
			return "", "", err
		}
	}
	db, err := sql.Open("sqlite", "file:"+big+".tmp?_pragma=synchronous(OFF)")
	if err != nil {
		return "", "", err
	}
	_, err = db.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		INSERT INTO props (path, ns, local, xml)
		SELECT printf('`+stateBigDir+`/p/d%03d/f%06d', i / 1000, i), 'urn:davbench', 'p', CAST('<p xmlns="urn:davbench">v</p>' AS BLOB) FROM n`,
		stateProps-1)
	if err == nil {
		_, err = db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	}
	err = errors.Join(err, db.Close())
	if err == nil {
		err = os.Rename(big+".tmp", big)
	}
	if err != nil {
		return "", "", fmt.Errorf("state with %d properties: %w", stateProps, err)
	}
	b.progress("wrote a state of %s properties in %s", thousands(stateProps), time.Since(t0).Round(time.Millisecond))
	return big, empty, nil
}

// stateName is the i-th file of a state row's run in dir, and its copy
// or new name.
func stateName(dir string, i int) string   { return fmt.Sprintf("%s/f%03d.txt", dir, i) }
func stateTarget(dir string, i int) string { return fmt.Sprintf("%s/g%03d.txt", dir, i) }

// stateFiles gives dir the stateOps files of a run and no targets.
func (b *bench) stateFiles(ctx context.Context, dir, op string) error {
	if err := removeTree(ctx, b.path(dir)); err != nil {
		return err
	}
	if err := os.MkdirAll(b.path(dir), 0o755); err != nil {
		return err
	}
	for i := range stateOps {
		if err := writeFile(b.path(stateName(dir, i)), 1024); err != nil {
			return err
		}
	}
	return syncSettle(ctx, b.cfg.settle)
}

// stateOpsRun sends the run's stateOps requests one after the other and
// returns their median time.
func (b *bench) stateOpsRun(ctx context.Context, c *davClient, dir, op string) (sample, error) {
	ds := make([]float64, 0, stateOps)
	for i := range stateOps {
		var s sample
		var err error
		switch op {
		case "DELETE":
			s, err = c.delete(ctx, stateName(dir, i))
		default:
			s, err = c.copyMove(ctx, op, stateName(dir, i), stateTarget(dir, i))
		}
		if err != nil {
			return sample{}, err
		}
		ds = append(ds, s.dur.Seconds())
	}
	return sample{dur: time.Duration(median(ds) * float64(time.Second))}, nil
}

// stateCheck verifies what a run left: sources gone unless copied,
// targets there unless deleted.
func (b *bench) stateCheck(dir, op string) error {
	for i := range stateOps {
		src, err := exists(b.path(stateName(dir, i)))
		if err != nil {
			return err
		}
		dst, err := exists(b.path(stateTarget(dir, i)))
		if err != nil {
			return err
		}
		want := []bool{op == "COPY", op != "DELETE"}
		if got := []bool{src, dst}; !slices.Equal(got, want) {
			return fmt.Errorf("after %s of %s: source, target exist = %v, want %v", op, stateName(dir, i), got, want)
		}
	}
	return nil
}
