package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{7}, 7},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{10, 1, 1, 1, 10}, 1},
	} {
		in := append([]float64(nil), c.in...)
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
		for i := range in {
			if in[i] != c.in[i] {
				t.Errorf("median reordered its input: %v", c.in)
			}
		}
	}
}

func TestFormatting(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{fmtRatio(11.04), "11.04×"},
		{fmtRatio(0.5), "0.50×"},
		{thousands(0), "0"},
		{thousands(999), "999"},
		{thousands(1000), "1,000"},
		{thousands(101111), "101,111"},
		{thousands(-1234567), "-1,234,567"},
		{secs(0.00052).String(), "0.52 ms"},
		{secs(0.21).String(), "210.0 ms"},
		{secs(2.3456).String(), "2.35 s"},
		{rate(12345.4).String(), "12,345 req/s"},
		{mbps(1523.7).String(), "1524 MB/s"},
		{bytesValue(64 << 20).String(), "64.0 MiB"},
		{value{}.String(), "—"},
		{target{ratioAtMost, 1.5}.String(), "≤ 1.5×"},
		{target{ratioAtMost, 1}.String(), "≤ 1×"},
		{target{ratioAtLeast, 0.9}.String(), "≥ 0.9×"},
		{target{secondsAtMost, 0.05}.String(), "≤ 50 ms"},
		{target{bytesAtMost, 64 << 20}.String(), "≤ 64 MiB"},
		{target{overheadAtMost, 0.02}.String(), "overhead ≤ 2%"},
		{target{}.String(), "—"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestVerdict(t *testing.T) {
	for _, c := range []struct {
		name string
		r    row
		want string
	}{
		{"time ratio met", row{davd: secs(1.4), ref: secs(1), target: target{ratioAtMost, 1.5}}, "met"},
		{"time ratio equal", row{davd: secs(1.5), ref: secs(1), target: target{ratioAtMost, 1.5}}, "met"},
		{"time ratio missed", row{davd: secs(11), ref: secs(1), target: target{ratioAtMost, 1.5}}, "MISSED"},
		{"rate met", row{davd: rate(2000), ref: rate(1000), target: target{ratioAtLeast, 2}}, "met"},
		{"rate missed", row{davd: rate(1900), ref: rate(1000), target: target{ratioAtLeast, 2}}, "MISSED"},
		{"absolute met", row{davd: secs(0.001), ref: secs(0.002), target: target{secondsAtMost, 0.05}}, "met"},
		{"absolute missed", row{davd: secs(0.051), target: target{secondsAtMost, 0.05}}, "MISSED"},
		{"bytes met", row{davd: bytesValue(60 << 20), target: target{bytesAtMost, 64 << 20}}, "met"},
		{"bytes missed", row{davd: bytesValue(65 << 20), target: target{bytesAtMost, 64 << 20}}, "MISSED"},
		{"overhead met", row{davd: rate(990), ref: rate(1000), target: target{overheadAtMost, 0.02}}, "met"},
		{"overhead missed", row{davd: rate(970), ref: rate(1000), target: target{overheadAtMost, 0.02}}, "MISSED"},
		{"faster with emitter", row{davd: rate(1010), ref: rate(1000), target: target{overheadAtMost, 0.02}}, "met"},
		{"no target", row{davd: secs(1), ref: secs(1)}, "—"},
		{"error", row{davd: secs(1), ref: secs(1), target: target{ratioAtMost, 1}, err: errors.New("x")}, "ERROR"},
		{"skipped", row{skipped: "BENCH_BIG", target: target{bytesAtMost, 1}}, "—"},
		{"no reference", row{davd: secs(1), target: target{ratioAtMost, 1}}, "—"},
	} {
		if got := c.r.target.verdict(c.r); got != c.want {
			t.Errorf("%s: verdict %q, want %q", c.name, got, c.want)
		}
	}
}

func TestRowCells(t *testing.T) {
	r := row{op: "PROPFIND Depth ∞, allprop", on: "100k tree", davd: secs(2.2), refName: "find", ref: secs(0.2),
		xnet: secs(2.4), target: target{ratioAtMost, 1.5}, davdRSS: 30 << 20, xnetRSS: 40 << 20, notes: []string{"n"}}
	got := strings.Join(r.cells(), " | ")
	want := "PROPFIND Depth ∞, allprop | 100k tree | 2.20 s | find 200.0 ms | 11.00× | ≤ 1.5× | MISSED | 2.40 s | 12.00× | 30.0 MiB | 40.0 MiB | n"
	if got != want {
		t.Errorf("cells:\n got %s\nwant %s", got, want)
	}
	r = row{op: "GET 4 KiB", davd: rate(3000), refName: "x/net", ref: rate(1000), xnetIsRef: true, target: target{ratioAtLeast, 2}}
	if c := r.cells(); c[4] != "3.00×" || c[6] != "met" || c[7] != "(reference)" || c[8] != "—" {
		t.Errorf("rate row cells %q", c)
	}
}

func TestParseVmHWM(t *testing.T) {
	const status = `Name:	davd
Umask:	0022
State:	S (sleeping)
Pid:	4242
VmPeak:	 1262512 kB
VmSize:	 1262512 kB
VmLck:	       0 kB
VmHWM:	   23456 kB
VmRSS:	   21000 kB
Threads:	7
`
	got, err := parseVmHWM(status)
	if err != nil || got != 23456*1024 {
		t.Errorf("parseVmHWM = %d, %v; want %d", got, err, 23456*1024)
	}
	for _, bad := range []string{"", "VmRSS:\t1 kB\n", "VmHWM:\t12 MB\n", "VmHWM:\tx kB\n", "VmHWM:\n"} {
		if _, err := parseVmHWM(bad); err == nil {
			t.Errorf("parseVmHWM(%q) succeeded", bad)
		}
	}
}

func TestTreeLayouts(t *testing.T) {
	for _, c := range []struct {
		t                    treeSpec
		files, dirs, leaves  int
		rootChildren         int
		firstLeaf, firstFile string
	}{
		{tree10k, 10_000, 111, 100, 10, "d0/d0", "f00.txt"},
		{tree100k, 100_000, 1_111, 1_000, 10, "d0/d0/d0", "f00.txt"},
		{tree1M, 1_000_000, 11_111, 10_000, 10, "d0/d0/d0/d0", "f00.txt"},
		{flat100k, 100_000, 1, 1, 100_000, ".", "f00000.txt"},
	} {
		tr := c.t
		if tr.Files() != c.files || tr.Dirs() != c.dirs || tr.Leaves() != c.leaves || tr.RootChildren() != c.rootChildren {
			t.Errorf("%s: %d files, %d dirs, %d leaves, %d root children; want %d, %d, %d, %d", tr.Label,
				tr.Files(), tr.Dirs(), tr.Leaves(), tr.RootChildren(), c.files, c.dirs, c.leaves, c.rootChildren)
		}
		if tr.Entries() != c.files+c.dirs {
			t.Errorf("%s: %d entries", tr.Label, tr.Entries())
		}
		leaves := tr.leafDirs()
		if len(leaves) != c.leaves || leaves[0] != c.firstLeaf {
			t.Errorf("%s: %d leaf dirs starting %q", tr.Label, len(leaves), leaves[0])
		}
		seen := map[string]bool{}
		for _, l := range leaves {
			seen[l] = true
		}
		if len(seen) != len(leaves) {
			t.Errorf("%s: duplicate leaf directories", tr.Label)
		}
		if got := tr.fileName(0); got != c.firstFile {
			t.Errorf("%s: first file %q, want %q", tr.Label, got, c.firstFile)
		}
		if tr.FileSize != 1024 || len(fileContent(tr.FileSize)) != 1024 {
			t.Errorf("%s: files are not 1 KiB", tr.Label)
		}
	}
	if n := tree100k.FilesPerLeaf; tree100k.fileName(n-1) != "f99.txt" {
		t.Errorf("last file %q", tree100k.fileName(n-1))
	}
}

// multistatus builds a body like x/net's, with n responses.
func multistatus(prefix string, n int) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><` + prefix + `multistatus xmlns:D="DAV:">`)
	for i := range n {
		b.WriteString("<" + prefix + "response><" + prefix + "href>/t/f" + strings.Repeat("x", i%7) + ".txt</" + prefix + "href>" +
			"<" + prefix + "propstat><" + prefix + "prop><" + prefix + "resourcetype></" + prefix + "resourcetype></" + prefix + "prop>" +
			"<" + prefix + "responsedescription>no response> here</" + prefix + "responsedescription></" + prefix + "propstat></" + prefix + "response>")
	}
	b.WriteString("</" + prefix + "multistatus>\n")
	return b.String()
}

func TestMultistatusCounter(t *testing.T) {
	for _, prefix := range []string{"D:", "", "ns1:", "lp-2.x:"} {
		body := multistatus(prefix, 25)
		for _, chunk := range []int{1, 2, 3, 7, 9, 10, 64, 127, 128, 129, 1000, len(body)} {
			var m multistatusCounter
			for s := body; s != ""; {
				n := min(chunk, len(s))
				if _, err := m.Write([]byte(s[:n])); err != nil {
					t.Fatal(err)
				}
				s = s[n:]
			}
			if m.responses != 25 || m.n != int64(len(body)) {
				t.Errorf("prefix %q, chunks of %d: %d responses, %d bytes; want 25, %d", prefix, chunk, m.responses, m.n, len(body))
			}
			if err := m.finish(); err != nil {
				t.Errorf("prefix %q, chunks of %d: %v", prefix, chunk, err)
			}
		}
	}
	var m multistatusCounter
	body := multistatus("D:", 3)
	io.WriteString(&m, body[:len(body)-10])
	if err := m.finish(); err == nil {
		t.Error("a truncated multistatus passed")
	}
	m = multistatusCounter{}
	io.WriteString(&m, "<D:MultiStatus><D:response></D:response></D:MULTISTATUS>")
	if err := m.finish(); err != nil || m.responses != 1 {
		t.Errorf("case-insensitive end: %v, %d responses", err, m.responses)
	}
}

func TestIsClosingTag(t *testing.T) {
	for in, want := range map[string]bool{
		"</": true, "x</D:": true, "</ns1:": true,
		"<": false, "<D:": false, "</:": false, "</foo": false, "": false, "/": false, "x": false,
	} {
		if got := isClosingTag([]byte(in)); got != want {
			t.Errorf("isClosingTag(%q) = %v", in, got)
		}
	}
}

func TestPatternReader(t *testing.T) {
	r := &patternReader{left: 10_000_019, pattern: fileContent(1000)}
	n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, make([]byte, 4093))
	if err != nil || n != 10_000_019 {
		t.Errorf("read %d bytes, %v", n, err)
	}
}

func TestLineCounter(t *testing.T) {
	var c lineCounter
	io.WriteString(&c, "a b\nc")
	io.WriteString(&c, " d\n")
	if c.bytes != 8 || c.lines != 2 {
		t.Errorf("%d bytes, %d lines", c.bytes, c.lines)
	}
}

func TestParseConfig(t *testing.T) {
	env := map[string]string{"BENCH_RUNS": "5", "BENCH_BIG": "1", "BENCH_DURATION": "2s", "BENCH_ONLY": "copy, move"}
	cfg, err := parseConfig([]string{"-runs", "4"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.runs != 4 || !cfg.big || cfg.duration != 2*time.Second || cfg.conns != 32 || cfg.settle != 500*time.Millisecond {
		t.Errorf("config %+v", cfg)
	}
	if !cfg.wants("copy") || !cfg.wants("move") || cfg.wants("propfind") {
		t.Errorf("only = %v", cfg.only)
	}
	cfg, err = parseConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil || cfg.runs != 3 || cfg.big || !cfg.wants("propfind") {
		t.Errorf("defaults: %+v, %v", cfg, err)
	}
	for _, bad := range []map[string]string{{"BENCH_RUNS": "x"}, {"BENCH_RUNS": "0"}, {"BENCH_BIG": "maybe"}, {"BENCH_ONLY": "nope"}} {
		if _, err := parseConfig(nil, func(k string) string { return bad[k] }, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestGenerateCheckRemove(t *testing.T) {
	small := treeSpec{Name: "small", Label: "small", Fanout: 3, Depth: 2, FilesPerLeaf: 11, FileSize: 100}
	top := t.TempDir() + "/small"
	ctx := t.Context()
	if err := generateTree(ctx, top, small); err != nil {
		t.Fatal(err)
	}
	if err := checkTree(top, small); err != nil {
		t.Fatal(err)
	}
	if err := warmTree(ctx, top, true); err != nil {
		t.Fatal(err)
	}
	if err := checkTree(top, tree10k); err == nil {
		t.Error("checkTree accepted the wrong layout")
	}
	if err := removeTree(ctx, top); err != nil {
		t.Fatal(err)
	}
	if ok, err := exists(top); ok || err != nil {
		t.Errorf("after removeTree: exists %v, %v", ok, err)
	}
	if err := removeTree(ctx, top); err != nil {
		t.Errorf("removing a missing tree: %v", err)
	}
}

// TestFloorHandler checks that the floor server answers like a WebDAV
// server would, so that its rate is a fair ceiling: the file's bytes and
// validators on GET, a well-formed 207 with the file's facts on PROPFIND.
func TestFloorHandler(t *testing.T) {
	dir := t.TempDir()
	content := bytes.Repeat([]byte("x"), smallSize)
	if err := os.WriteFile(filepath.Join(dir, smallFile), content, 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := newFloorHandler(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	resp, err := http.Get(srv.URL + smallFile)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, content) || resp.Header.Get("Etag") == "" || resp.Header.Get("Last-Modified") == "" {
		t.Errorf("GET: %d, %d bytes, header %v", resp.StatusCode, len(got), resp.Header)
	}

	req, _ := http.NewRequest("PROPFIND", srv.URL+smallFile, strings.NewReader(threePropsBody))
	req.Header.Set("Depth", "0")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	var ms struct {
		Href   string `xml:"response>href"`
		Length int    `xml:"response>propstat>prop>getcontentlength"`
	}
	if err := xml.Unmarshal(got, &ms); err != nil || resp.StatusCode != 207 || ms.Href != smallFile || ms.Length != smallSize {
		t.Errorf("PROPFIND: %d, %+v, %v: %s", resp.StatusCode, ms, err, got)
	}
}

// TestAlternateRotates checks that each round starts one contender further
// along and that results still come back in the order of the contenders.
func TestAlternateRotates(t *testing.T) {
	var order []string
	mk := func(label string) contender[string] {
		return contender[string]{label: label, run: func(context.Context) (string, error) {
			order = append(order, label)
			return label, nil
		}}
	}
	res, err := alternate(context.Background(), 4, []contender[string]{mk("a"), mk("b"), mk("c")}, func(s string) string { return s }, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(order, ""), "abcbcacababc"; got != want {
		t.Errorf("run order %s, want %s", got, want)
	}
	for i, label := range []string{"a", "b", "c"} {
		if len(res[i]) != 4 || res[i][0] != label || res[i][3] != label {
			t.Errorf("results of %s: %v", label, res[i])
		}
	}
}

func TestPairedRatio(t *testing.T) {
	// The machine's speed drifts between rounds; the rounds' ratios are
	// 0.95, 0.8 and 0.9, while the medians' ratio is 95/100.
	a := []float64{95, 40, 180}
	b := []float64{100, 50, 200}
	got := pairedRatios(a, b)
	if len(got) != 3 || median(got) != 0.9 {
		t.Fatalf("pairedRatios = %v", got)
	}
	if got := pairedRatios([]float64{1, 2}, []float64{0, 4}); len(got) != 1 || got[0] != 0.5 {
		t.Errorf("a zero rate must be left out: %v", got)
	}
	r := row{davd: rate(median(a)), ref: rate(median(b))}
	if x, _ := r.ratio(); x != 0.95 {
		t.Errorf("unpaired ratio = %v", x)
	}
	r.paired = value{v: median(got), set: true}
	if x, _ := r.ratio(); x != 0.9 {
		t.Errorf("paired ratio = %v, want the paired value", x)
	}
}
