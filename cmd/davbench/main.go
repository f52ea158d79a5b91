// Command davbench measures davd against its references on the same trees,
// in the same run: find, cp -r, rm -rf and mv for the tree operations, and
// a plain golang.org/x/net/webdav Handler over webdav.Dir (in a process of
// its own) for everything; the journal rows (journal.go) time davd against
// itself started with --no-journal. It prints one Markdown table of
// medians, ratios and targets. Run it with `make bench`; it needs nothing beyond loopback.
//
// Settings come from flags or, as defaults, the environment:
//
//	BENCH_RUNS=3        runs per row (the median is reported)
//	BENCH_BIG=1         add the 1M-file tree
//	BENCH_DIR=/tmp      where the work directory is made
//	BENCH_DURATION=3s   length of each load run
//	BENCH_SETTLE=500ms  pause after sync before every write-heavy timed run
//	BENCH_DAVD=path     use this davd binary instead of building ./cmd/davd
//	BENCH_ONLY=a,b      run only these groups (see -h)
//	BENCH_KEEP=1        keep the work directory
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == xnetServeCmd || os.Args[1] == floorServeCmd) {
		if err := serveReference(os.Args[1], os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "davbench "+os.Args[1]+":", err)
			os.Exit(1)
		}
		return
	}
	cfg, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "davbench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, cfg, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "davbench:", err)
		os.Exit(1)
	}
}

// The groups of rows, in the order they run; BENCH_ONLY selects some.
var groups = []string{"propfind", "depth1", "copy", "delete", "move", "journal", "state", "postgres", "get4k", "propfind0", "emitter", "get1g", "put1g", "s3"}

// config is the validated settings of one benchmark run.
type config struct {
	runs     int
	big      bool
	dir      string
	duration time.Duration
	warmup   time.Duration
	settle   time.Duration
	conns    int
	davd     string
	only     []string // empty: all groups
	keep     bool
	goCmd    string
}

// parseConfig reads the environment (through getenv) and then the flags,
// which win.
func parseConfig(args []string, getenv func(string) string, usageOut io.Writer) (config, error) {
	cfg := config{runs: 3, duration: 3 * time.Second, warmup: 500 * time.Millisecond,
		settle: 500 * time.Millisecond, conns: 32, dir: os.TempDir(), goCmd: "go"}
	var only string
	envErr := errors.Join(
		envValue(getenv, "BENCH_RUNS", &cfg.runs, strconv.Atoi),
		envValue(getenv, "BENCH_BIG", &cfg.big, strconv.ParseBool),
		envValue(getenv, "BENCH_DIR", &cfg.dir, identity),
		envValue(getenv, "BENCH_DURATION", &cfg.duration, time.ParseDuration),
		envValue(getenv, "BENCH_SETTLE", &cfg.settle, time.ParseDuration),
		envValue(getenv, "BENCH_DAVD", &cfg.davd, identity),
		envValue(getenv, "BENCH_ONLY", &only, identity),
		envValue(getenv, "BENCH_KEEP", &cfg.keep, strconv.ParseBool),
		envValue(getenv, "GO", &cfg.goCmd, identity),
	)
	if envErr != nil {
		return cfg, envErr
	}
	fs := flag.NewFlagSet("davbench", flag.ContinueOnError)
	fs.SetOutput(usageOut)
	fs.IntVar(&cfg.runs, "runs", cfg.runs, "runs per row, alternating davd and the references; the median is reported (BENCH_RUNS)")
	fs.BoolVar(&cfg.big, "big", cfg.big, "add the 1M-file tree (BENCH_BIG)")
	fs.StringVar(&cfg.dir, "dir", cfg.dir, "directory to make the work directory in (BENCH_DIR)")
	fs.DurationVar(&cfg.duration, "duration", cfg.duration, "length of each load run (BENCH_DURATION)")
	fs.DurationVar(&cfg.warmup, "warmup", cfg.warmup, "uncounted load before each load run")
	fs.DurationVar(&cfg.settle, "settle", cfg.settle, "pause after sync before every write-heavy timed run (BENCH_SETTLE)")
	fs.IntVar(&cfg.conns, "conns", cfg.conns, "connections of the load generator")
	fs.StringVar(&cfg.davd, "davd", cfg.davd, "davd binary to use instead of building ./cmd/davd (BENCH_DAVD)")
	fs.StringVar(&only, "only", only, "comma-separated groups to run: "+strings.Join(groups, ",")+" (BENCH_ONLY)")
	fs.BoolVar(&cfg.keep, "keep", cfg.keep, "keep the work directory (BENCH_KEEP)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if cfg.runs < 1 || cfg.conns < 1 || cfg.duration <= 0 || cfg.warmup < 0 || cfg.settle < 0 {
		return cfg, errors.New("runs and conns must be at least 1, duration positive, warmup and settle not negative")
	}
	for g := range strings.SplitSeq(only, ",") {
		if g = strings.TrimSpace(g); g == "" {
			continue
		}
		if !slices.Contains(groups, g) {
			return cfg, fmt.Errorf("unknown group %q in BENCH_ONLY/-only; groups: %s", g, strings.Join(groups, ","))
		}
		cfg.only = append(cfg.only, g)
	}
	return cfg, nil
}

func identity(s string) (string, error) { return s, nil }

// envValue sets *dst from the environment variable name when it is set and
// not empty.
func envValue[T any](getenv func(string) string, name string, dst *T, parse func(string) (T, error)) error {
	s := strings.TrimSpace(getenv(name))
	if s == "" {
		return nil
	}
	v, err := parse(s)
	if err != nil {
		return fmt.Errorf("%s=%q: %w", name, s, err)
	}
	*dst = v
	return nil
}

// wants reports whether group g is to run.
func (c config) wants(g string) bool { return len(c.only) == 0 || slices.Contains(c.only, g) }

// bench is one benchmark run: its settings, paths and progress output.
type bench struct {
	cfg     config
	root    string // the directory both servers serve
	work    string // the work directory, root's parent
	davdBin string
	self    string // this program, for the x/net server
	start   time.Time
	log     io.Writer
	pg      pgState // the PostgreSQL server of the postgres rows
}

// progress prints a line to the progress output, stamped with the time
// since the start.
func (b *bench) progress(format string, args ...any) {
	el := time.Since(b.start).Round(time.Second)
	fmt.Fprintf(b.log, "[%02d:%02d] %s\n", int(el.Minutes()), int(el.Seconds())%60, fmt.Sprintf(format, args...))
}

func (b *bench) progressLine(s string) { b.progress("    %s", s) }

// path is the filesystem path of the URL path p.
func (b *bench) path(p string) string { return filepath.Join(b.root, filepath.FromSlash(p)) }

func (b *bench) davd(label, processing string, extra ...string) serverSpec {
	return davdSpec(label, b.davdBin, b.root, processing, extra...)
}

func (b *bench) xnet() serverSpec { return xnetSpec(b.self, b.root) }

func (b *bench) floor() serverSpec { return floorSpec(b.self, b.root) }

// The fixed files of the request-rate and throughput rows.
const (
	smallFile = "/get-4k.txt"
	smallSize = 4096
	bigFile   = "/big-1g.bin"
	putFile   = "/put-1g.bin"
	bigSize   = 1 << 30
)

// findFormat is what the find reference prints per entry: the facts of the
// 3-property PROPFIND.
const findFormat = `%s %T@ %y %p\n`

// run is the whole benchmark: it prepares the work directory and davd,
// runs every selected row and prints the report to out.
func run(ctx context.Context, cfg config, out, log io.Writer) error {
	b := &bench{cfg: cfg, start: time.Now(), log: log}
	moduleRoot, err := findModuleRoot(ctx, cfg.goCmd)
	if err != nil {
		return err
	}
	if b.self, err = os.Executable(); err != nil {
		return fmt.Errorf("locate davbench itself: %w", err)
	}
	if err := os.MkdirAll(cfg.dir, 0o755); err != nil {
		return fmt.Errorf("BENCH_DIR: %w", err)
	}
	work, err := os.MkdirTemp(cfg.dir, "davbench-")
	if err != nil {
		return fmt.Errorf("work directory: %w", err)
	}
	defer func() {
		if cfg.keep {
			b.progress("kept %s", work)
			return
		}
		b.progress("removing %s", work)
		if err := removeTree(context.Background(), work); err != nil {
			b.progress("cleanup: %v", err)
		}
	}()
	defer b.stopPostgres()
	b.work = work
	b.root = filepath.Join(work, "root")
	if err := os.Mkdir(b.root, 0o755); err != nil {
		return err
	}
	b.progress("work directory %s", work)

	var facts []string
	if cfg.davd != "" {
		b.davdBin = cfg.davd
	} else {
		b.davdBin = filepath.Join(work, "davd")
		t0 := time.Now()
		if err := buildDavd(ctx, cfg.goCmd, moduleRoot, b.davdBin); err != nil {
			return err
		}
		b.progress("built davd in %s", time.Since(t0).Round(time.Millisecond))
	}

	sizes := []treeSpec{tree10k, tree100k}
	if cfg.big {
		sizes = append(sizes, tree1M)
	}
	needTrees := cfg.wants("propfind") || cfg.wants("copy") || cfg.wants("delete") || cfg.wants("move") || cfg.wants("journal")
	var trees []treeSpec
	if needTrees {
		trees = append(trees, sizes...)
	}
	if cfg.wants("depth1") {
		trees = append(trees, flat100k)
	}
	for _, t := range trees {
		t0 := time.Now()
		if err := generateTree(ctx, b.path("/"+t.Name), t); err != nil {
			return err
		}
		b.progress("generated %s: %s files in %s directories, %s", t.Label, thousands(int64(t.Files())), thousands(int64(t.Dirs())), time.Since(t0).Round(time.Millisecond))
		facts = append(facts, fmt.Sprintf("%s %s", t.Label, time.Since(t0).Round(100*time.Millisecond)))
	}
	if cfg.wants("get4k") || cfg.wants("propfind0") || cfg.wants("emitter") {
		if err := writeFile(b.path(smallFile), smallSize); err != nil {
			return err
		}
	}
	if cfg.wants("get1g") {
		if err := writeFile(b.path(bigFile), bigSize); err != nil {
			return err
		}
	}
	if err := syncSettle(ctx, 2*cfg.settle); err != nil {
		return err
	}

	var rows []row
	add := func(r row) {
		if r.err != nil {
			b.progress("ERROR %s on %s: %v", r.op, r.on, r.err)
		}
		rows = append(rows, r)
	}
	steps := b.plan(sizes)
	for _, s := range steps {
		if ctx.Err() != nil {
			break
		}
		if !cfg.wants(s.group) {
			continue
		}
		add(s.run(ctx))
	}
	if cfg.wants("s3") && ctx.Err() == nil {
		for _, r := range b.s3Rows(ctx) { // s3.go
			add(r)
		}
	}
	if cfg.wants("propfind") {
		add(rssRow("PROPFIND Depth ∞", tree1M.Label, rows, func(r row) bool {
			return strings.HasPrefix(r.op, "PROPFIND Depth ∞") && r.on == tree1M.Label
		}, cfg.big))
	}
	if cfg.wants("depth1") {
		add(rssRow("PROPFIND Depth 1", flat100k.Label, rows, func(r row) bool {
			return strings.HasPrefix(r.op, "PROPFIND Depth 1") && r.on == flat100k.Label
		}, true))
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}

	hdr := header(ctx, cfg, moduleRoot, b.davdBin, work)
	writeReport(out, hdr, rows, footnotes(cfg, facts), time.Since(b.start))
	for _, r := range rows {
		if r.err != nil {
			return errors.New("some rows failed; see ERROR above")
		}
	}
	return nil
}

// step is one row of the plan.
type step struct {
	group string
	run   func(ctx context.Context) row
}

// plan lists the rows in the order they run and are printed.
func (b *bench) plan(sizes []treeSpec) []step {
	var steps []step
	for _, v := range []struct{ name, body string }{{"allprop", allpropBody}, {"3 props", threePropsBody}} {
		for _, t := range sizes {
			steps = append(steps, step{"propfind", func(ctx context.Context) row {
				return b.propfindRow(ctx, t, "infinity", v.name, v.body, target{ratioAtMost, 1.5})
			}})
		}
	}
	for _, v := range []struct{ name, body string }{{"allprop", allpropBody}, {"3 props", threePropsBody}} {
		steps = append(steps, step{"depth1", func(ctx context.Context) row {
			return b.propfindRow(ctx, flat100k, "1", v.name, v.body, target{})
		}})
	}
	for _, t := range sizes {
		steps = append(steps, step{"copy", func(ctx context.Context) row { return b.copyRow(ctx, t) }})
	}
	for _, t := range sizes {
		steps = append(steps, step{"delete", func(ctx context.Context) row { return b.deleteRow(ctx, t) }})
	}
	for _, t := range sizes {
		steps = append(steps, step{"move", func(ctx context.Context) row { return b.moveRow(ctx, t) }})
	}
	for _, fn := range []func(context.Context, treeSpec) row{b.journalCopyRow, b.journalMoveRow, b.journalDeleteRow} {
		for _, t := range sizes {
			steps = append(steps, step{"journal", func(ctx context.Context) row { return fn(ctx, t) }})
		}
	}
	steps = append(steps, step{"journal", b.journalPutRow})
	for _, op := range []string{"DELETE", "MOVE", "COPY"} {
		steps = append(steps, step{"state", func(ctx context.Context) row { return b.stateRow(ctx, op) }})
	}
	for _, fn := range []func(context.Context) row{b.lockUnlockRow, b.proppatchRow, b.pgPropfindRow, b.pgCopyRow, b.pgMoveRow} {
		steps = append(steps, step{"postgres", fn})
	}
	steps = append(steps,
		step{"get4k", b.get4kRow},
		step{"propfind0", b.propfind0Row},
		step{"emitter", b.emitterRow},
		step{"get1g", b.get1gRow},
		step{"put1g", b.put1gRow},
	)
	return steps
}

// withServers starts fresh server processes, runs fn with them, stops them
// and returns their peak RSS, in the order of specs. A fresh process per
// row makes its VmHWM belong to that row alone.
func (b *bench) withServers(ctx context.Context, specs []serverSpec, fn func(srvs []*server) error) ([]int64, error) {
	rss := make([]int64, len(specs))
	var srvs []*server
	var err error
	for _, spec := range specs {
		s, e := startServer(ctx, spec)
		if e != nil {
			err = e
			break
		}
		srvs = append(srvs, s)
	}
	if err == nil {
		err = fn(srvs)
	}
	for i, s := range srvs {
		r, e := s.stop()
		rss[i] = r
		if err == nil {
			err = e
		}
	}
	return rss, err
}

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
	prep := func(ctx context.Context) error {
		if err := removeTree(ctx, b.path(victim)); err != nil {
			return err
		}
		if err := generateTree(ctx, b.path(victim), t); err != nil {
			return err
		}
		return syncSettle(ctx, b.cfg.settle)
	}
	check := func(context.Context, sample) error {
		if ok, err := exists(b.path(victim)); err != nil || ok {
			return errors.Join(err, fmt.Errorf("%s still exists", victim))
		}
		return nil
	}
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
	cleanup := func(ctx context.Context) error {
		return errors.Join(removeTree(ctx, b.path(src)), removeTree(ctx, b.path(dst)))
	}
	if err := errors.Join(cleanup(ctx), generateTree(ctx, b.path(src), t)); err != nil {
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

// findModuleRoot is the directory of the main module's go.mod.
func findModuleRoot(ctx context.Context, goCmd string) (string, error) {
	out, err := exec.CommandContext(ctx, goCmd, "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run davbench inside the davd module (go run ./cmd/davbench)")
	}
	return filepath.Dir(gomod), nil
}

// ---- statistics and formatting ----

// median is the middle value (the mean of the two middle ones for an even
// count); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func durations(ss []sample) []float64 {
	out := make([]float64, len(ss))
	for i, s := range ss {
		out[i] = s.dur.Seconds()
	}
	return out
}

func rates(ss []sample) []float64 {
	out := make([]float64, len(ss))
	for i, s := range ss {
		out[i] = s.mbps()
	}
	return out
}

// unit is what a value measures.
type unit int

const (
	unitSeconds unit = iota
	unitReqPerSec
	unitMBps
	unitBytes
)

// value is one cell's number; the zero value is "not measured".
type value struct {
	v   float64
	u   unit
	set bool
}

func secs(s float64) value     { return value{s, unitSeconds, true} }
func rate(r float64) value     { return value{r, unitReqPerSec, true} }
func mbps(r float64) value     { return value{r, unitMBps, true} }
func bytesValue(n int64) value { return value{float64(n), unitBytes, true} }
func (v value) String() string {
	if !v.set {
		return "—"
	}
	switch v.u {
	case unitSeconds:
		return fmtSeconds(v.v)
	case unitReqPerSec:
		return thousands(int64(v.v+0.5)) + " req/s"
	case unitMBps:
		return fmt.Sprintf("%.0f MB/s", v.v)
	default:
		return mib(int64(v.v))
	}
}

// fmtSeconds prints a duration with 3 significant digits or so.
func fmtSeconds(s float64) string {
	switch {
	case s < 0.01:
		return fmt.Sprintf("%.2f ms", s*1000)
	case s < 1:
		return fmt.Sprintf("%.1f ms", s*1000)
	case s < 100:
		return fmt.Sprintf("%.2f s", s)
	default:
		return fmt.Sprintf("%.0f s", s)
	}
}

// perEntry is a time per entry, in µs, to show linear growth.
func perEntry(s float64, n int64) string {
	if n <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f µs", s/float64(n)*1e6)
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// thousands prints n with comma separators.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// fmtRatio prints a measured ratio.
func fmtRatio(x float64) string { return fmt.Sprintf("%.2f×", x) }

// targetKind is how a row's target is judged.
type targetKind int

const (
	noTarget       targetKind = iota
	ratioAtMost               // davd/reference ≤ limit (times)
	ratioAtLeast              // davd/reference ≥ limit (rates)
	secondsAtMost             // davd ≤ limit seconds
	bytesAtMost               // davd ≤ limit bytes
	overheadAtMost            // 1 − davd/reference ≤ limit
)

// target is a row's goal.
type target struct {
	kind  targetKind
	limit float64
}

func (t target) String() string {
	l := strconv.FormatFloat(t.limit, 'f', -1, 64)
	switch t.kind {
	case ratioAtMost:
		return "≤ " + l + "×"
	case ratioAtLeast:
		return "≥ " + l + "×"
	case secondsAtMost:
		return "≤ " + strconv.FormatFloat(t.limit*1000, 'f', -1, 64) + " ms"
	case bytesAtMost:
		return "≤ " + strconv.FormatFloat(t.limit/(1<<20), 'f', -1, 64) + " MiB"
	case overheadAtMost:
		return "overhead ≤ " + strconv.FormatFloat(t.limit*100, 'f', -1, 64) + "%"
	default:
		return "—"
	}
}

// verdict is "met", "MISSED", "ERROR", or "—" when there is nothing to
// judge.
func (t target) verdict(r row) string {
	if r.err != nil {
		return "ERROR"
	}
	if r.skipped != "" || t.kind == noTarget || !r.davd.set {
		return "—"
	}
	ratio, ok := r.ratio()
	var met bool
	switch t.kind {
	case ratioAtMost:
		met = ok && ratio <= t.limit
	case ratioAtLeast:
		met = ok && ratio >= t.limit
	case overheadAtMost:
		met = ok && 1-ratio <= t.limit
	case secondsAtMost, bytesAtMost:
		met, ok = r.davd.v <= t.limit, true
	}
	if !ok {
		return "—"
	}
	if met {
		return "met"
	}
	return "MISSED"
}

// row is one line of the table.
type row struct {
	op, on    string
	davd      value
	refName   string
	ref       value
	xnet      value
	xnetIsRef bool // x/net is the reference: its column would repeat it
	target    target
	davdRSS   int64
	xnetRSS   int64
	// paired, when set, is the ratio: the median of the ratios of runs
	// made in the same round, rather than the ratio of the medians.
	paired  value
	notes   []string
	err     error
	skipped string
}

// ratio is davd/reference: a time ratio for times (lower is better), a
// rate ratio for rates (higher is better).
func (r row) ratio() (float64, bool) {
	if r.paired.set {
		return r.paired.v, true
	}
	return ratioOf(r.davd, r.ref)
}

func ratioOf(a, b value) (float64, bool) {
	if !a.set || !b.set || b.v == 0 {
		return 0, false
	}
	return a.v / b.v, true
}

// cells renders the row for the table.
func (r row) cells() []string {
	ref := "—"
	if r.refName != "" {
		ref = r.refName + " " + r.ref.String()
	}
	ratio := "—"
	if x, ok := r.ratio(); ok {
		ratio = fmtRatio(x)
	}
	xnet, xratio := r.xnet.String(), "—"
	if r.xnetIsRef {
		xnet = "(reference)"
	} else if x, ok := ratioOf(r.xnet, r.ref); ok {
		xratio = fmtRatio(x)
	}
	rss := func(n int64) string {
		if n <= 0 {
			return "—"
		}
		return mib(n)
	}
	notes := strings.Join(r.notes, "; ")
	davd := r.davd.String()
	switch {
	case r.skipped != "":
		davd, notes = "not run", r.skipped
	case r.err != nil:
		msg := strings.Join(strings.Fields(r.err.Error()), " ")
		if len(msg) > 160 {
			msg = msg[:160] + "…"
		}
		notes = strings.TrimPrefix(notes+"; error: "+msg, "; ")
	}
	return []string{r.op, r.on, davd, ref, ratio, r.target.String(), r.target.verdict(r), xnet, xratio, rss(r.davdRSS), rss(r.xnetRSS), notes}
}

var tableHeader = []string{"operation", "on", "davd", "reference", "davd/ref", "target", "met", "x/net webdav", "x/net/ref", "davd peak RSS", "x/net peak RSS", "notes"}

// writeTable prints rows as a padded Markdown table.
func writeTable(w io.Writer, rows [][]string) {
	widths := make([]int, len(tableHeader))
	all := append([][]string{tableHeader}, rows...)
	for _, r := range all {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		b.WriteString("|")
		for i, c := range cells {
			c = strings.ReplaceAll(c, "|", `\|`)
			b.WriteString(" " + c + strings.Repeat(" ", max(widths[i]-utf8.RuneCountInString(c), 0)) + " |")
		}
		fmt.Fprintln(w, b.String())
	}
	line(tableHeader)
	sep := make([]string, len(widths))
	for i, n := range widths {
		sep[i] = strings.Repeat("-", max(n, 3))
	}
	line(sep)
	for _, r := range rows {
		line(r)
	}
}

// writeReport prints the header lines, the table and its footnotes.
func writeReport(w io.Writer, header []string, rows []row, notes []string, wall time.Duration) {
	fmt.Fprintln(w)
	for _, h := range header {
		fmt.Fprintln(w, "- "+h)
	}
	fmt.Fprintln(w)
	cells := make([][]string, len(rows))
	for i, r := range rows {
		cells[i] = r.cells()
	}
	writeTable(w, cells)
	fmt.Fprintln(w)
	for _, n := range notes {
		fmt.Fprintln(w, "- "+n)
	}
	fmt.Fprintf(w, "- total wall time: %s\n", wall.Round(time.Second))
}

// header describes the machine, toolchain and davd build.
func header(ctx context.Context, cfg config, moduleRoot, davdBin, work string) []string {
	cmdOut := func(dir, name string, args ...string) string {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			return "unknown"
		}
		return strings.TrimSpace(string(out))
	}
	commit := cmdOut(moduleRoot, "git", "rev-parse", "--short", "HEAD")
	if st := cmdOut(moduleRoot, "git", "status", "--porcelain", "--untracked-files=no"); st != "" && st != "unknown" {
		commit += " + uncommitted changes in the working tree"
	}
	build := "built from " + moduleRoot
	if cfg.davd != "" {
		build = "prebuilt " + davdBin
	}
	return []string{
		"date: " + time.Now().UTC().Format("2006-01-02 15:04:05 UTC"),
		"machine: " + cmdOut("", "uname", "-a"),
		fmt.Sprintf("cpu: %s; nproc %d; memory %s", cpuModel(), runtime.NumCPU(), memTotal()),
		"go: " + cmdOut(moduleRoot, cfg.goCmd, "version"),
		fmt.Sprintf("davd: commit %s (%s; `davd version`: %s)", commit, build, cmdOut("", davdBin, "version")),
		fmt.Sprintf("trees in %s on %s", work, mountOf(work)),
		fmt.Sprintf("each row: median of %d runs alternating davd, reference, x/net (each round starts with the next side); load: %d connections × %s after %s warm-up", cfg.runs, cfg.conns, cfg.duration, cfg.warmup),
	}
}

// mountOf describes the filesystem holding dir, from /proc/mounts: the
// longest mount point that contains it.
func mountOf(dir string) string {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return "unknown filesystem"
	}
	best, desc := -1, "unknown filesystem"
	for l := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 4 {
			continue
		}
		mp := f[1]
		if (dir == mp || strings.HasPrefix(dir, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > best {
			best, desc = len(mp), fmt.Sprintf("%s (%s on %s, %s)", mp, f[2], f[0], f[3])
		}
	}
	return desc
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// memTotal is MemTotal of /proc/meminfo.
func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			if kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64); err == nil {
				return fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	return "unknown"
}

// footnotes explain the table.
func footnotes(cfg config, gen []string) []string {
	ctype := mime.TypeByExtension(".txt")
	how := "taken from the name: " + ctype
	if ctype == "" {
		how = "not known from the name on this machine, so a server sniffs the content"
	}
	notes := []string{
		"davd/ref is davd's time over the reference's for times (lower is better) and davd's rate over the reference's for req/s and MB/s (higher is better); x/net/ref likewise for plain x/net/webdav (`webdav.Handler` over `webdav.Dir`, its own process).",
		"PROPFIND reference: `find DIR -printf '" + strings.TrimSuffix(findFormat, `\n`) + `\n'` + "` (`-maxdepth 1` for Depth 1) into a pipe the bench drains, as the HTTP client drains the body; every PROPFIND is checked for 207, a complete multistatus and the exact number of responses.",
		"trees: 10k = 10,000 files of 1 KiB in 111 directories (root included); 100k = 100,000 in 1,111; 1M = 1,000,000 in 11,111 (BENCH_BIG=1 only); 100k-entry dir = 100,000 files in one directory. Files are named *.txt, so getcontenttype is " + how + ".",
		fmt.Sprintf("outside the timed part and the same for every side: each DELETE gets a freshly generated tree, each COPY/PUT a removed target, each MOVE a source renamed back; then sync and %s settle. COPY sources, PROPFIND trees and the GET file are read (stat, and contents for COPY/GET) just before every run so that all sides start with a warm cache. Results are checked after each run (entry counts, sizes, absence).", cfg.settle),
		"peak RSS: VmHWM of a server process started fresh for that row; MOVE target is absolute.",
	}
	if len(gen) > 0 {
		notes = append(notes, "tree generation: "+strings.Join(gen, ", "))
	}
	if cfg.runs < 3 {
		notes = append(notes, fmt.Sprintf("WARNING: only %d run(s) per row; use at least 3 for a median", cfg.runs))
	}
	return notes
}
