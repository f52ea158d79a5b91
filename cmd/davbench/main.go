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
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
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
