package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"mime"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The report: targets and their verdicts, rows and their cells, the
// Markdown table, and the header and footnotes that describe the run.

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
