package ui_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/spf13/afero"

	"davd/dav"
	"davd/processing"
	"davd/storage"
	"davd/storage/state"
)

// chromiumPath is Debian's Chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// startDavd serves fs with cfg on 127.0.0.1, behind the cross-site write
// check, as davd does, and returns its URL.
func startDavd(t *testing.T, fs afero.Fs, cfg dav.Config) string {
	t.Helper()
	st, err := state.Open(context.Background(), "memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if cfg.Operations == nil {
		cfg.Operations = processing.NewRegistry(time.Hour)
	}
	cfg.Processing = processing.Config{Mode: processing.ModeOff}
	h, err := dav.NewHandler(storage.NewFileSystem(fs), st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := dav.NewCORS(nil, h)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return srv.URL
}

// tab is a headless Chromium tab that records what must never happen: a
// JavaScript dialog (alert, confirm, prompt: the page uses none, so one
// means injected script ran) and an uncaught exception.
type tab struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	dialogs  []string
	problems []string
}

// newTab starts Chromium for one test. Without Chromium the test is
// skipped, except under CI=true, where it fails.
func newTab(t *testing.T) *tab {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and no Chromium at %s (apt-get install chromium): %v", chromiumPath, err)
		}
		t.Skipf("no Chromium at %s: %v", chromiumPath, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath), chromedp.NoSandbox,
		chromedp.Headless, chromedp.DisableGPU, chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1024, 640))
	tb := &tab{t: t}
	// Chromium now and then exits before it listens when started right
	// after the previous test's instance (CI saw it once in a full run):
	// a start that failed that way is retried, a few times at most.
	for attempt := 1; ; attempt++ {
		err := tb.start(opts)
		if err == nil {
			break
		}
		if attempt == 3 || !strings.Contains(err.Error(), "chrome failed to start") {
			t.Fatalf("starting Chromium (attempt %d): %v", attempt, err)
		}
		t.Logf("Chromium did not start (attempt %d), retrying: %v", attempt, err)
		time.Sleep(time.Second)
	}
	t.Cleanup(tb.check)
	return tb
}

// start starts Chromium with opts and opens the tab; on failure
// everything started is stopped again.
func (tb *tab) start(opts []chromedp.ExecAllocatorOption) error {
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithListener(tb.listen))
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	stop := func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc()
	}
	if err := chromedp.Do(ctx); err != nil {
		stop()
		return err
	}
	tb.ctx = ctx
	tb.t.Cleanup(stop)
	return nil
}

// listen records the events check judges.
func (tb *tab) listen(ev any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	switch ev := ev.(type) {
	case *page.EventJavascriptDialogOpening:
		tb.dialogs = append(tb.dialogs, string(ev.Type)+": "+ev.Message)
		go chromedp.Call(tb.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		tb.problems = append(tb.problems, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, msg))
	case *runtime.EventConsoleAPICalled:
		tb.problems = append(tb.problems, fmt.Sprintf("console.%s called", ev.Type))
	}
}

// check fails the test for any dialog or script problem seen.
func (tb *tab) check() {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, d := range tb.dialogs {
		tb.t.Errorf("a JavaScript dialog opened: %s", d)
	}
	for _, p := range tb.problems {
		tb.t.Errorf("page script: %s", p)
	}
}

func (tb *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, steps...); err != nil {
		tb.t.Fatal(err)
	}
}

// open navigates to u and waits until the page's script has drawn it.
func (tb *tab) open(u string) {
	tb.t.Helper()
	tb.do(chromedp.Navigate(u))
	tb.wait(`document.body.dataset.ready === '1'`)
}

// eval evaluates expr in the page.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// pickedInto waits until the folder picker shows dir with its listing
// loaded: before that the dialog still changes size, and a click aimed
// at its OK button can land on a folder link instead.
func (tb *tab) pickedInto(dir string) {
	tb.t.Helper()
	tb.wait(`document.querySelector('#dlgbody .here').textContent === 'Into: ` + dir + `' && document.querySelector('#dlgbody .picker').getAttribute('aria-busy') === 'false'`)
}

// wait polls expr until it is true, for at most 15 s.
func (tb *tab) wait(expr string) {
	tb.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		// Errors while a new page loads (no body yet, context gone) count
		// as not yet.
		ok, err := chromedp.Run(tb.ctx, chromedp.Evaluate[bool]("(() => { try { return !!("+expr+") } catch (e) { return false } })()"))
		if err == nil && ok {
			return
		}
		if tb.ctx.Err() != nil {
			tb.t.Fatalf("waiting for %s: %v", expr, err)
		}
		if time.Now().After(deadline) {
			msg := eval[string](tb, `document.getElementById('msg') ? document.getElementById('msg').textContent : ''`)
			tb.t.Fatalf("waiting for %s: timed out (message on the page: %q)", expr, msg)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// names returns the names of the listed rows that are shown, in order.
func (tb *tab) names() []string {
	tb.t.Helper()
	return eval[[]string](tb, `[...document.querySelectorAll('#rows tr')].filter(r => !r.hidden).map(r => r.dataset.name)`)
}

// row is the CSS selector of the row of name (names in tests are plain).
func row(name string) chromedp.CSS {
	return chromedp.CSS(fmt.Sprintf(`#rows tr[data-name=%q]`, name))
}

// selectOnly ticks the checkbox of each name, and no other.
func (tb *tab) selectOnly(names ...string) {
	tb.t.Helper()
	tb.do(chromedp.Click(chromedp.CSS("#selall")))
	if eval[bool](tb, `document.getElementById('selall').checked`) {
		tb.do(chromedp.Click(chromedp.CSS("#selall")))
	}
	for _, n := range names {
		tb.do(chromedp.Click(row(n) + " input"))
	}
}

// screenshot saves the whole page as PNG in the test's directory and, when
// DAVD_UI_SCREENSHOTS names a directory, there too.
func (tb *tab) screenshot(name string) []byte {
	tb.t.Helper()
	png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Fatal(err)
	}
	dirs := []string{tb.t.TempDir()}
	if d := os.Getenv("DAVD_UI_SCREENSHOTS"); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		if err := os.WriteFile(filepath.Join(d, name+".png"), png, 0o644); err != nil {
			tb.t.Fatal(err)
		}
	}
	return png
}

func writeFiles(t *testing.T, fs afero.Fs, files map[string]string) {
	t.Helper()
	for name, body := range files {
		if err := afero.WriteFile(fs, name, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func mustRead(t *testing.T, fs afero.Fs, name string) string {
	t.Helper()
	b, err := afero.ReadFile(fs, name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return string(b)
}

// TestBrowserBrowse: breadcrumbs, sort (folders first), filter, search,
// keyboard; light and dark screenshots for the README.
func TestBrowserBrowse(t *testing.T) {
	fs := afero.NewMemMapFs()
	writeFiles(t, fs, map[string]string{
		"/Documents/report-2026.pdf": strings.Repeat("p", 250_000), "/Documents/notes.md": "# notes",
		"/Documents/archive/old-report.txt": "old", "/Photos/holiday.jpg": strings.Repeat("j", 3_500_000),
		"/music.mp3": strings.Repeat("m", 7_000_000), "/a-very-long-name-" + strings.Repeat("without-any-break-", 8) + ".txt": strings.Repeat("l", 40),
		"/readme.txt": "hello", "/backup.zip": strings.Repeat("z", 1200),
	})
	base := startDavd(t, fs, dav.Config{Prefix: "/dav"})
	tb := newTab(t)
	tb.do(chromedp.EmulateViewport(1024, 640))
	tb.open(base + "/dav/")
	if got := tb.names(); got[0] != "Documents" || got[1] != "Photos" {
		t.Errorf("folders are not first by name: %v", got)
	}
	tb.screenshot("filemanager-light")
	if _, err := chromedp.Call(tb.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}); err != nil {
		t.Fatal(err)
	}
	tb.screenshot("filemanager-dark")
	if bg := eval[string](tb, `getComputedStyle(document.documentElement).backgroundColor`); bg != "rgb(21, 24, 27)" {
		t.Errorf("dark theme background = %s", bg)
	}

	// Sort by size: folders stay first, then files by size; again: descending.
	tb.do(chromedp.Click(chromedp.CSS(`[data-sort=size]`)))
	got := tb.names()
	if !slices.Equal(got[:2], []string{"Documents", "Photos"}) || got[2] != "readme.txt" || got[3] == "readme.txt" || got[len(got)-1] != "music.mp3" {
		t.Errorf("sorted by size: %v", got)
	}
	if title := eval[string](tb, `document.querySelector('#rows tr[data-name="music.mp3"] td.size').title`); title != "7,000,000 bytes" {
		t.Errorf("exact size on hover = %q", title)
	}
	tb.do(chromedp.Click(chromedp.CSS(`[data-sort=size]`)))
	if got := tb.names(); got[2] != "music.mp3" {
		t.Errorf("sorted by size, descending: %v", got)
	}

	// Filter.
	tb.do(chromedp.SendKeys(chromedp.CSS("#filter"), "README"))
	if got := tb.names(); !slices.Equal(got, []string{"readme.txt"}) {
		t.Errorf("filter README shows %v", got)
	}
	eval[bool](tb, `(f => (f.value = '', f.dispatchEvent(new Event('input')), true))(document.getElementById('filter'))`)
	if got := tb.names(); len(got) != 6 {
		t.Errorf("the emptied filter shows %v", got)
	}

	// Search of the subtree, served by the server.
	tb.do(chromedp.SendKeys(chromedp.CSS("#search"), "report\r"))
	tb.wait(`document.getElementById('rstatus').textContent.includes('matches')`)
	hits := eval[[]string](tb, `[...document.querySelectorAll('#rrows a')].map(a => a.textContent + ' ' + a.getAttribute('href'))`)
	if !slices.Equal(hits, []string{"Documents/archive/old-report.txt /dav/Documents/archive/old-report.txt", "Documents/report-2026.pdf /dav/Documents/report-2026.pdf"}) {
		t.Errorf("search hits: %v", hits)
	}

	// Keyboard: down from the filter to the first row, Enter opens it.
	tb.do(chromedp.Click(chromedp.CSS(`[data-sort=name]`)))
	tb.do(chromedp.Focus(chromedp.CSS("#filter")), chromedp.KeyEvent(kb.ArrowDown))
	tb.wait(`document.activeElement && document.activeElement.closest('#rows tr') && document.activeElement.closest('tr').dataset.name === 'Documents'`)
	tb.do(chromedp.KeyEvent("\r"))
	tb.wait(`location.pathname === '/dav/Documents/' && document.body.dataset.ready === '1'`)

	// Breadcrumbs: down into archive/, back to the root through the crumbs.
	tb.do(chromedp.Click(row("archive") + " a"))
	tb.wait(`location.pathname === '/dav/Documents/archive/' && document.body.dataset.ready === '1'`)
	crumbs := eval[[]string](tb, `[...document.querySelectorAll('#crumbs a, #crumbs span[aria-current]')].map(e => e.textContent)`)
	if !slices.Equal(crumbs, []string{"dav", "Documents", "archive"}) {
		t.Errorf("breadcrumbs: %v", crumbs)
	}
	tb.do(chromedp.Click(chromedp.CSS(`#crumbs a[href="/dav/Documents/"]`)))
	tb.wait(`location.pathname === '/dav/Documents/' && document.body.dataset.ready === '1'`)
	tb.do(chromedp.Click(chromedp.CSS(`#crumbs a[href="/dav/"]`)))
	tb.wait(`location.pathname === '/dav/' && document.body.dataset.ready === '1'`)

	// 390 px: no horizontal scrolling, long names wrap.
	tb.do(chromedp.EmulateViewport(390, 800))
	if w := eval[int](tb, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("at 390 px the page is %d px wide", w)
	}
	tb.screenshot("filemanager-390")
}

// TestBrowserActions: upload three files and a folder, then create,
// rename, move, copy and delete, each checked in storage.
func TestBrowserActions(t *testing.T) {
	fs := afero.NewMemMapFs()
	writeFiles(t, fs, map[string]string{"/dest/.keep": "", "/old.txt": "old"})
	base := startDavd(t, fs, dav.Config{})
	tb := newTab(t)
	tb.open(base + "/")

	src := t.TempDir()
	var files []string
	for i, body := range []string{"one", "two", strings.Repeat("three", 100_000)} {
		p := filepath.Join(src, fmt.Sprintf("up%d.txt", i+1))
		os.WriteFile(p, []byte(body), 0o644)
		files = append(files, p)
	}
	tb.do(chromedp.SetUploadFiles(chromedp.CSS("#files"), files))
	tb.wait(`document.getElementById('uptotal').textContent === 'Uploaded 3 files'`)
	tb.wait(`document.querySelector('#rows tr[data-name="up3.txt"]')`)
	if got := mustRead(t, fs, "/up3.txt"); len(got) != 500_000 || mustRead(t, fs, "/up1.txt") != "one" {
		t.Errorf("uploaded files differ")
	}
	if v := eval[float64](tb, `document.getElementById('upbar').value`); v != 1 {
		t.Errorf("overall progress after the upload = %v", v)
	}

	folder := filepath.Join(t.TempDir(), "album")
	os.MkdirAll(filepath.Join(folder, "inner"), 0o755)
	os.WriteFile(filepath.Join(folder, "a.txt"), []byte("A"), 0o644)
	os.WriteFile(filepath.Join(folder, "inner", "b.txt"), []byte("B"), 0o644)
	tb.do(chromedp.SetUploadFiles(chromedp.CSS("#dirfiles"), []string{folder}))
	tb.wait(`document.getElementById('uptotal').textContent === 'Uploaded 2 files'`)
	if mustRead(t, fs, "/album/a.txt") != "A" || mustRead(t, fs, "/album/inner/b.txt") != "B" {
		t.Error("the folder upload is incomplete")
	}

	// New folder.
	tb.do(chromedp.Click(chromedp.CSS("#newfolder")), chromedp.SendKeys(chromedp.CSS("#dlginput"), "made"), chromedp.Click(chromedp.CSS("#dlgok")))
	tb.wait(`document.querySelector('#rows tr[data-name="made"]')`)
	if fi, err := fs.Stat("/made"); err != nil || !fi.IsDir() {
		t.Errorf("new folder: %v", err)
	}
	// Rename.
	tb.selectOnly("old.txt")
	tb.do(chromedp.Click(chromedp.CSS("#rename")))
	tb.wait(`document.getElementById('dlg').open`)
	eval[bool](tb, `(document.getElementById('dlginput').value = 'renamed.txt', true)`)
	tb.do(chromedp.Click(chromedp.CSS("#dlgok")))
	tb.wait(`document.querySelector('#rows tr[data-name="renamed.txt"]')`)
	if mustRead(t, fs, "/renamed.txt") != "old" {
		t.Error("rename did not happen")
	}
	// Move into dest/ with the folder picker.
	tb.selectOnly("renamed.txt", "up1.txt")
	tb.do(chromedp.Click(chromedp.CSS("#move")), chromedp.Click(chromedp.CSS(`#dlgbody a[data-name="dest"]`)))
	tb.pickedInto("/dest")
	tb.do(chromedp.Click(chromedp.CSS("#dlgok")))
	tb.wait(`!document.querySelector('#rows tr[data-name="up1.txt"]')`)
	if mustRead(t, fs, "/dest/renamed.txt") != "old" || mustRead(t, fs, "/dest/up1.txt") != "one" {
		t.Error("move did not happen")
	}
	// Copy album/ into made/.
	tb.selectOnly("album")
	tb.do(chromedp.Click(chromedp.CSS("#copy")), chromedp.Click(chromedp.CSS(`#dlgbody a[data-name="made"]`)))
	tb.pickedInto("/made")
	tb.do(chromedp.Click(chromedp.CSS("#dlgok")))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, err := afero.ReadFile(fs, "/made/album/inner/b.txt"); err == nil && string(b) == "B" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("copy did not happen")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Delete, with confirmation.
	tb.selectOnly("album", "up2.txt")
	tb.do(chromedp.Click(chromedp.CSS("#delete")))
	if text := eval[string](tb, `document.getElementById('dlgtext').textContent`); !strings.Contains(text, "album/\nup2.txt") {
		t.Errorf("delete confirmation says %q", text)
	}
	tb.screenshot("filemanager-delete")
	tb.do(chromedp.Click(chromedp.CSS("#dlgok")))
	tb.wait(`!document.querySelector('#rows tr[data-name="album"]') && !document.querySelector('#rows tr[data-name="up2.txt"]')`)
	if _, err := fs.Stat("/album"); err == nil {
		t.Error("album/ still exists")
	}
	// A refusal is shown in words, with the server's reason.
	tb.selectOnly("made")
	tb.do(chromedp.Click(chromedp.CSS("#rename")))
	tb.wait(`document.getElementById('dlg').open`)
	eval[bool](tb, `(document.getElementById('dlginput').value = 'dest', true)`)
	tb.do(chromedp.Click(chromedp.CSS("#dlgok")))
	tb.wait(`!document.getElementById('msg').hidden`)
	if msg := eval[string](tb, `document.getElementById('msg').textContent`); !strings.Contains(msg, "Already exists") {
		t.Errorf("renaming onto an existing name says %q", msg)
	}
}

// TestBrowserLongOperation: a COPY of a large folder on slowed storage
// shows its progress advancing in the page; a MOVE of it shows and ends;
// a second COPY is cancelled from the page and stops early.
func TestBrowserLongOperation(t *testing.T) {
	mem := afero.NewMemMapFs()
	for i := range 300 {
		afero.WriteFile(mem, fmt.Sprintf("/big/f%03d.txt", i), []byte("data"), 0o644)
	}
	mem.MkdirAll("/to", 0o755)
	base := startDavd(t, storage.LatencyFs{Fs: mem, Delay: 3 * time.Millisecond}, dav.Config{})
	tb := newTab(t)
	tb.open(base + "/")
	tb.selectOnly("big")
	tb.do(chromedp.Click(chromedp.CSS("#copy")), chromedp.Click(chromedp.CSS(`#dlgbody a[data-name="to"]`)))
	tb.pickedInto("/to")
	tb.do(chromedp.Click(chromedp.CSS("#dlgok")))
	var seen []int
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		n := eval[int](tb, `(() => { const o = document.querySelector('#ops .op'); return o ? +o.dataset.resources : -1 })()`)
		if n < 0 && len(seen) > 0 {
			break // finished
		}
		if n > 0 && (len(seen) == 0 || n > seen[len(seen)-1]) {
			seen = append(seen, n)
			if len(seen) == 3 {
				tb.screenshot("filemanager-progress")
			}
		}
		time.Sleep(40 * time.Millisecond)
	}
	t.Logf("progress seen: %v", seen)
	if len(seen) < 3 {
		t.Errorf("the progress bar advanced through %v; want at least 3 steps", seen)
	}
	tb.wait(`document.getElementById('ops').hidden && !document.getElementById('msg').textContent`)
	if n, _ := afero.ReadDir(mem, "/to/big"); len(n) != 300 {
		t.Errorf("copied %d members", len(n))
	}

	// MOVE: one rename whatever the size; it shows and ends.
	tb.selectOnly("big")
	tb.do(chromedp.Click(chromedp.CSS("#move")), chromedp.Click(chromedp.CSS(`#dlgbody a[data-name="to"]`)))
	tb.pickedInto("/to")
	tb.do(chromedp.Click(chromedp.CSS("#dlgok")))
	tb.wait(`!document.getElementById('msg').hidden && document.getElementById('msg').textContent.includes('Already exists')`)
	// (to/big exists: the refusal is in words.) Move it elsewhere instead.
	mem.MkdirAll("/to2", 0o755)
	tb.do(chromedp.Reload())
	tb.wait(`document.body.dataset.ready === '1'`)
	tb.selectOnly("big")
	tb.do(chromedp.Click(chromedp.CSS("#move")), chromedp.Click(chromedp.CSS(`#dlgbody a[data-name="to2"]`)))
	tb.pickedInto("/to2")
	tb.do(chromedp.Click(chromedp.CSS("#dlgok")))
	tb.wait(`!document.querySelector('#rows tr[data-name="big"]')`)
	if n, _ := afero.ReadDir(mem, "/to2/big"); len(n) != 300 {
		t.Errorf("moved %d members", len(n))
	}

	// Cancel a COPY from the page: a bigger folder, so that the COPY is
	// still running when the page shows it, however loaded the machine.
	for i := 300; i < 3000; i++ {
		afero.WriteFile(mem, fmt.Sprintf("/to2/big/f%04d.txt", i), []byte("data"), 0o644)
	}
	tb.open(base + "/to2/")
	tb.selectOnly("big")
	tb.do(chromedp.Click(chromedp.CSS("#copy")), chromedp.Click(chromedp.CSS(`#dlgbody a`))) // ⬆ ..
	tb.pickedInto("/")
	tb.do(chromedp.Click(chromedp.CSS("#dlgok")))
	// The running COPY shows with its Cancel button.
	tb.wait(`document.querySelector('#ops .op button')`)
	tb.do(chromedp.Click(chromedp.CSS("#ops .op button")))
	tb.wait(`document.getElementById('ops').hidden`)
	if n, _ := afero.ReadDir(mem, "/big"); len(n) >= 3000 {
		t.Errorf("the cancelled COPY copied all %d members", len(n))
	}
}

// TestBrowserZip: the page's ZIP link, fetched with Go's client, holds the
// folder's tree and contents.
func TestBrowserZip(t *testing.T) {
	fs := afero.NewMemMapFs()
	writeFiles(t, fs, map[string]string{"/proj/main.go": "package main", "/proj/docs/guide.md": "# guide", "/proj/empty/.keep": ""})
	base := startDavd(t, fs, dav.Config{Prefix: "/dav"})
	tb := newTab(t)
	tb.open(base + "/dav/")
	tb.selectOnly("proj")
	href := eval[string](tb, `document.getElementById('zip').getAttribute('href')`)
	if href != "/dav/.davd/ui/zip?path=%2Fproj" {
		t.Errorf("ZIP link = %q", href)
	}
	resp, err := http.Get(base + href)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("%d %v: %v", resp.StatusCode, resp.Header, err)
	}
	got := map[string]string{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		got[f.Name] = string(b)
	}
	want := map[string]string{"docs/": "", "docs/guide.md": "# guide", "empty/": "", "empty/.keep": "", "main.go": "package main"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ZIP holds %v, want %v", got, want)
	}
	// The browser downloads it from the same link.
	dl := t.TempDir()
	if _, err := chromedp.CallBrowser(tb.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dl}); err != nil {
		t.Fatal(err)
	}
	tb.do(chromedp.Click(chromedp.CSS("#zip")))
	waitDownload(t, dl, body)
	tb.screenshot("filemanager-zip")
}

// waitDownload waits until a file in dir holds want.
func waitDownload(t *testing.T, dir string, want []byte) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil && !strings.HasSuffix(e.Name(), ".crdownload") && bytes.Equal(b, want) {
				return
			}
		}
	}
	t.Fatalf("no download of %d bytes arrived in %s", len(want), dir)
}

// TestBrowserReadOnlyUser: a user who may only read sees no write button.
func TestBrowserReadOnlyUser(t *testing.T) {
	fs := afero.NewMemMapFs()
	writeFiles(t, fs, map[string]string{"/a.txt": "a", "/dir/b.txt": "b"})
	base := startDavd(t, fs, dav.Config{Permissions: &dav.Permissions{Default: dav.PermRead}})
	tb := newTab(t)
	tb.open(base + "/")
	shown := eval[[]string](tb, `[...document.querySelectorAll('#toolbar [data-need]')].filter(b => !b.hidden).map(b => b.id)`)
	if !slices.Equal(shown, []string{"zip"}) {
		t.Errorf("a read-only user sees %v", shown)
	}
	tb.screenshot("filemanager-readonly")
	full := startDavd(t, afero.NewMemMapFs(), dav.Config{})
	tb.open(full + "/")
	shown = eval[[]string](tb, `[...document.querySelectorAll('#toolbar [data-need]')].filter(b => !b.hidden).map(b => b.id)`)
	if len(shown) != 8 {
		t.Errorf("a user with every right sees %v", shown)
	}
}

// TestBrowserHostileName: a stored HTML file named like markup is listed,
// previewed and downloaded, and no script of it runs anywhere.
func TestBrowserHostileName(t *testing.T) {
	const name = `<img src=x onerror=alert(1)>.html`
	const body = `<script>alert(2)</script><img src=x onerror=alert(3)>`
	fs := afero.NewMemMapFs()
	writeFiles(t, fs, map[string]string{"/" + name: body, "/\"'><svg onload=alert(4)>/x.txt": "x"})
	base := startDavd(t, fs, dav.Config{})
	tb := newTab(t)
	tb.open(base + "/")
	if got := tb.names(); !slices.Contains(got, name) {
		t.Fatalf("listed: %q", got)
	}
	if n := eval[int](tb, `document.querySelectorAll('img, svg, script:not([src]):not([type="application/json"])').length`); n != 0 {
		t.Errorf("the names made %d elements", n)
	}
	if got := eval[string](tb, `document.querySelector('#rows tr:last-child a').getAttribute('href')`); got != "/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E.html" {
		t.Errorf("link = %q", got)
	}
	// Filter and search with the name.
	tb.do(chromedp.SendKeys(chromedp.CSS("#search"), "onerror\r"))
	tb.wait(`document.getElementById('rstatus').textContent.includes('match')`)
	// Preview: shown as text.
	tb.do(chromedp.Click(chromedp.CSS(`#rows tr:last-child button.pv`)))
	tb.wait(`document.querySelector('#dlgbody pre') && document.querySelector('#dlgbody pre').textContent.includes('<script>')`)
	tb.screenshot("filemanager-hostile-preview")
	// Download from the preview.
	dl := t.TempDir()
	if _, err := chromedp.CallBrowser(tb.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dl}); err != nil {
		t.Fatal(err)
	}
	tb.do(chromedp.Click(chromedp.CSS("#pvdownload")))
	waitDownload(t, dl, []byte(body))
	tb.do(chromedp.Click(chromedp.CSS("#dlgok")))
	// Opening the file's own URL: an attachment, sandboxed; nothing runs.
	resp, err := http.Get(base + "/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E.html")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cd, csp := resp.Header.Get("Content-Disposition"), resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(cd, "attachment") || !strings.Contains(csp, "sandbox") {
		t.Errorf("the file is served with Content-Disposition %q and CSP %q", cd, csp)
	}
	chromedp.Do(tb.ctx, chromedp.Navigate(base+"/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E.html")) // a download: the load "fails"
	time.Sleep(300 * time.Millisecond)
	tb.open(base + "/%22'%3E%3Csvg%20onload%3Dalert(4)%3E/")
	if got := eval[string](tb, `document.querySelector('#crumbs span[aria-current]').textContent`); got != `"'><svg onload=alert(4)>` {
		t.Errorf("breadcrumb = %q", got)
	}
}

// TestBrowserTenThousand reports how long a folder of 10,000 entries
// takes to render and become usable (a filter applied), and checks that
// it does. The time is reported, not asserted (machines differ).
func TestBrowserTenThousand(t *testing.T) {
	fs := afero.NewMemMapFs()
	fs.MkdirAll("/many", 0o755)
	for i := range 10_000 {
		afero.WriteFile(fs, fmt.Sprintf("/many/file-%05d.txt", i), nil, 0o644)
	}
	base := startDavd(t, fs, dav.Config{})
	tb := newTab(t)
	tb.open(base + "/") // warm the browser and the asset cache
	start := time.Now()
	tb.do(chromedp.Navigate(base + "/many/"))
	if n := eval[int](tb, `document.querySelectorAll('#rows tr').length`); n == 0 {
		t.Error("no rows drawn at load")
	}
	tb.wait(`document.body.dataset.ready === '1'`)
	ready := time.Since(start)
	tb.wait(`document.getElementById('rows').dataset.complete === '1'`)
	complete := time.Since(start)
	if n := eval[int](tb, `document.querySelectorAll('#rows tr').length`); n != 10_000 {
		t.Errorf("%d rows", n)
	}
	timing := eval[string](tb, `(n => 'response ' + Math.round(n.responseStart) + '-' + Math.round(n.responseEnd) + ' ms, DOM ' + Math.round(n.domInteractive) + ' ms, script done ' + document.body.dataset.readyMs + ' ms, load ' + Math.round(n.loadEventEnd) + ' ms')(performance.getEntriesByType('navigation')[0])`)
	filterStart := time.Now()
	tb.do(chromedp.SendKeys(chromedp.CSS("#filter"), "09999"))
	tb.wait(`document.querySelectorAll('#rows tr').length === 1`)
	filtered := time.Since(filterStart)
	t.Logf("10,000 entries: first rows drawn and usable %v after navigation, all rows %v (browser clock: %s); filtering took %v",
		ready.Round(time.Millisecond), complete.Round(time.Millisecond), timing, filtered.Round(time.Millisecond))
}
