package main

// The pieces of the journal's crash tests (journal_crash_test.go): a tree
// of thousands of members built behind davd's back, with dead properties
// on some members set through davd and one unrelated file locked; the
// storage read behind davd's back to tell an untouched, a split and a
// complete tree apart; and the check of a finished result through davd
// and on the storage.

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"davd/storage"
	"davd/storage/s3fs/s3test"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The served names of every trial: the operation's source, and a file
// outside it, locked before the operation, whose lock must survive.
const (
	jsrc        = "/src"
	jlocked     = "/other/locked.txt"
	jlockedBody = "locked"
)

// jstall is how long a tree that is not complete may stay unchanged
// after a restart before the trial gives up on it: a resumed operation
// starts right after davd does and changes the tree at every member.
const jstall = 5 * time.Second

// jdeadline bounds the wait for a resumed operation to finish.
const jdeadline = 60 * time.Second

// jtree is a trial's tree below the source: every file has content of
// its own (salted per trial); every 50th file, the source itself and the
// collection d01 carry a dead property Z:origin set through davd.
type jtree struct {
	files   []string          // relative to the source: "d03/e2/f17"
	dirs    []string          // relative collections; "" is the source itself
	content map[string]string // file -> content
	props   map[string]string // member ("" the source) -> Z:origin
}

// newJTree makes a tree of top collections of sub collections of per
// files each.
func newJTree(top, sub, per int, salt string) *jtree {
	tr := &jtree{dirs: []string{""}, content: map[string]string{}, props: map[string]string{"": "p-root", "d01": "p-d01"}}
	for a := range top {
		d := fmt.Sprintf("d%02d", a)
		tr.dirs = append(tr.dirs, d)
		for b := range sub {
			e := fmt.Sprintf("%s/e%d", d, b)
			tr.dirs = append(tr.dirs, e)
			for f := range per {
				name := fmt.Sprintf("%s/f%02d", e, f)
				if len(tr.files)%50 == 0 {
					tr.props[name] = "p-" + name
				}
				tr.files = append(tr.files, name)
				tr.content[name] = fmt.Sprintf("%s %s #%d", salt, name, len(tr.files))
			}
		}
	}
	return tr
}

// under returns the served path of the tree's member rel below top.
func under(top, rel string) string {
	if rel == "" {
		return top
	}
	return top + "/" + rel
}

// jscenario is one kind of operation the journal must finish.
type jscenario struct {
	name   string
	method string // COPY, MOVE or DELETE
	s3     bool   // on a bucket (versitygw) instead of a directory
	cross  bool   // the destination is on a tmpfs mounted inside the directory
}

// dst is the destination of the operation, "" for DELETE.
func (sc jscenario) dst() string {
	switch {
	case sc.method == "DELETE":
		return ""
	case sc.cross:
		return "/mnt/dst"
	}
	return "/dst"
}

// wantStatus is the status of the uninterrupted operation.
func (sc jscenario) wantStatus() int {
	if sc.method == "DELETE" {
		return http.StatusNoContent
	}
	return http.StatusCreated
}

// jscan is what the storage holds, read behind davd's back.
type jscan struct {
	files    map[string]string      // served path -> content ("" unless read)
	infos    map[string]fs.FileInfo // served path -> file info (read with content on S3)
	dirs     map[string]bool        // served paths of collections
	reserved []string               // reserved names (".davd…") but davd's own /.davd
}

// count returns how many of the tree's files are at their name below
// top, and how many of those hold their own content (when read).
func (s jscan) count(tr *jtree, top string) (present, intact int) {
	for _, f := range tr.files {
		if c, ok := s.files[under(top, f)]; ok {
			present++
			if c == tr.content[f] {
				intact++
			}
		}
	}
	return present, intact
}

// state tells the tree apart, by names only: "untouched" (the operation
// did not begin), "complete" (its whole result is there) or "partial".
func (sc jscenario) state(tr *jtree, s jscan) string {
	n := len(tr.files)
	src, _ := s.count(tr, jsrc)
	dst := 0
	if sc.dst() != "" {
		dst, _ = s.count(tr, sc.dst())
	}
	switch {
	case src == n && dst == 0 && (sc.dst() == "" || !s.dirs[sc.dst()]):
		return "untouched"
	case sc.method == "COPY" && src == n && dst == n,
		sc.method == "MOVE" && src == 0 && !s.dirs[jsrc] && dst == n,
		sc.method == "DELETE" && src == 0 && !s.dirs[jsrc]:
		return "complete"
	}
	return "partial"
}

// describe says what the storage holds, for a failure message.
func (sc jscenario) describe(tr *jtree, s jscan) string {
	src, _ := s.count(tr, jsrc)
	text := fmt.Sprintf("%d of %d files at %s", src, len(tr.files), jsrc)
	if sc.dst() != "" {
		dst, _ := s.count(tr, sc.dst())
		text += fmt.Sprintf(", %d at %s", dst, sc.dst())
	}
	return text
}

// jsite is where a trial's tree is stored: a directory of its own (with
// a tmpfs at /mnt for a cross-device MOVE), or a prefix of a bucket.
type jsite struct {
	dir    string   // the served directory; "" on S3
	args   []string // davd's storage and state flags on S3
	s3     *s3test.Server
	prefix string // of the bucket's keys, on S3
}

// newJSite stores a fresh tree, and the file to lock, for trial n of sc
// (on srv for S3).
func newJSite(t *testing.T, sc jscenario, srv *s3test.Server, n int, tr *jtree) *jsite {
	t.Helper()
	files := map[string]string{jlocked: jlockedBody}
	for _, f := range tr.files {
		files[under(jsrc, f)] = tr.content[f]
	}
	if sc.s3 {
		site := &jsite{s3: srv, prefix: fmt.Sprintf("t%02d", n)}
		seed := map[string]string{}
		for name, content := range files {
			seed[site.prefix+name] = content
		}
		srv.Seed(seed)
		site.args = []string{"--storage", srv.URL(site.prefix), "--state", "sqlite://" + filepath.Join(t.TempDir(), "state.db")}
		return site
	}
	site := &jsite{dir: t.TempDir()}
	if sc.cross {
		mountTmpfs(t, filepath.Join(site.dir, "mnt"))
	}
	for name, content := range files {
		p := filepath.Join(site.dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return site
}

// start runs davd on the site in a process of its own, with extra flags.
func (s *jsite) start(t *testing.T, extra ...string) *crashable {
	t.Helper()
	return spawnDavd(t, s.dir, append(slices.Clone(s.args), extra...)...)
}

// startSlow is start with every storage call delayed by latency (a
// directory only): an operation long enough to be interrupted at will.
func (s *jsite) startSlow(t *testing.T, latency string, extra ...string) *crashable {
	t.Helper()
	if s.dir == "" {
		t.Fatal("startSlow serves a directory")
	}
	args := []string{"--storage", "file://" + s.dir + "?latency=" + latency,
		"--state", "sqlite://" + filepath.Join(s.dir, ".davd", "state.db")}
	return spawnDavd(t, "", append(args, extra...)...)
}

// file is where the site's member name is on disk: in the directory, or
// in versitygw's posix storage, where every object is a file of its own,
// written anew by each PUT or server-side copy.
func (s *jsite) file(name string) string {
	if s.s3 != nil {
		return filepath.Join(s.s3.Dir(), s.s3.Bucket, filepath.FromSlash(s.prefix+name))
	}
	return filepath.Join(s.dir, filepath.FromSlash(name))
}

// scan reads the site behind davd's back; the files' content too when
// withContent.
func (s *jsite) scan(t *testing.T, withContent bool) jscan {
	t.Helper()
	sc := jscan{files: map[string]string{}, infos: map[string]fs.FileInfo{}, dirs: map[string]bool{}}
	reserved := func(name string) {
		for _, part := range strings.Split(name, "/") {
			if strings.HasPrefix(part, storage.ReservedName) {
				sc.reserved = append(sc.reserved, name)
				return
			}
		}
	}
	if s.s3 != nil {
		pages := s3.NewListObjectsV2Paginator(s.s3.Client(), &s3.ListObjectsV2Input{Bucket: aws.String(s.s3.Bucket), Prefix: aws.String(s.prefix + "/")})
		for pages.HasMorePages() {
			page, err := pages.NextPage(context.Background())
			if err != nil {
				t.Fatalf("list the bucket: %v", err)
			}
			for _, o := range page.Contents {
				key := *o.Key
				name := strings.TrimPrefix(key, s.prefix)
				reserved(name)
				if strings.HasSuffix(name, "/") {
					sc.dirs[strings.TrimSuffix(name, "/")] = true
					continue
				}
				for d := path.Dir(name); d != "/"; d = path.Dir(d) {
					sc.dirs[d] = true
				}
				sc.files[name] = ""
				if withContent {
					b, err := os.ReadFile(s.file(name))
					if os.IsNotExist(err) {
						delete(sc.files, name) // removed since listed: a resumed operation runs
						continue
					}
					if err != nil {
						t.Fatalf("read %s behind versitygw: %v", key, err)
					}
					sc.files[name] = string(b)
					if fi, err := os.Stat(s.file(name)); err == nil {
						sc.infos[name] = fi
					}
				}
			}
		}
		return sc
	}
	err := filepath.WalkDir(s.dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil // removed while walking: a resumed operation runs
			}
			return err
		}
		name := filepath.ToSlash(strings.TrimPrefix(p, s.dir))
		if name == "" {
			return nil
		}
		if name == "/"+storage.ReservedName {
			return filepath.SkipDir
		}
		reserved(name)
		if e.IsDir() {
			sc.dirs[name] = true
			return nil
		}
		sc.files[name] = ""
		if fi, err := e.Info(); err == nil {
			sc.infos[name] = fi
		}
		if withContent {
			b, err := os.ReadFile(p)
			if err != nil && !os.IsNotExist(err) {
				return err
			}
			sc.files[name] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", s.dir, err)
	}
	return sc
}

// jprops reads every member below the root with one Depth infinity
// PROPFIND: served path (no trailing slash) -> Z:origin ("" when none).
func jprops(t *testing.T, base string) map[string]string {
	t.Helper()
	code, _, body := sendReq("PROPFIND", base+"/", map[string]string{"Depth": "infinity"},
		`<D:propfind xmlns:D="DAV:"><D:prop><Z:origin xmlns:Z="urn:z"/></D:prop></D:propfind>`)
	if code != http.StatusMultiStatus {
		t.Fatalf("PROPFIND / Depth infinity = %d %.300s", code, body)
	}
	var ms struct {
		Responses []struct {
			Href     string `xml:"DAV: href"`
			Propstat []struct {
				Status string `xml:"DAV: status"`
				Prop   struct {
					Origin *string `xml:"urn:z origin"`
				} `xml:"DAV: prop"`
			} `xml:"DAV: propstat"`
		} `xml:"DAV: response"`
	}
	if err := xml.Unmarshal([]byte(body), &ms); err != nil {
		t.Fatalf("PROPFIND / Depth infinity: %v", err)
	}
	got := map[string]string{}
	for _, r := range ms.Responses {
		u, err := url.Parse(r.Href)
		if err != nil {
			t.Fatalf("href %q: %v", r.Href, err)
		}
		name := u.Path
		if name != "/" {
			name = strings.TrimSuffix(name, "/")
		}
		got[name] = ""
		for _, ps := range r.Propstat {
			if strings.Contains(ps.Status, " 200 ") && ps.Prop.Origin != nil {
				got[name] = *ps.Prop.Origin
			}
		}
	}
	return got
}

// few lists at most five of names, and how many there are.
func few(names []string) string {
	slices.Sort(names)
	if len(names) > 5 {
		return fmt.Sprintf("%d, e.g. %s", len(names), strings.Join(names[:5], " "))
	}
	return fmt.Sprintf("%d: %s", len(names), strings.Join(names, " "))
}

// jtrial is one tree on one site, and the operation run on it.
type jtrial struct {
	sc    jscenario
	tr    *jtree
	site  *jsite
	token string // of the lock on jlocked
	// recreated is set once the source's name was created again after
	// a MOVE or DELETE (it must carry nothing of the old source).
	recreated bool
	// probed is a file put inside the tree during the resume and
	// accepted (the operation had finished), to be removed.
	probed string
}

// newJTrial stores a fresh tree of top×sub×per files for trial n.
func newJTrial(t *testing.T, sc jscenario, srv *s3test.Server, n, top, sub, per int) *jtrial {
	t.Helper()
	tr := newJTree(top, sub, per, fmt.Sprintf("trial %d of %s", n, sc.name))
	return &jtrial{sc: sc, tr: tr, site: newJSite(t, sc, srv, n, tr)}
}

// prepare sets the tree's dead properties and locks jlocked through the
// davd at base.
func (j *jtrial) prepare(t *testing.T, base string) {
	t.Helper()
	for rel, v := range j.tr.props {
		code, _, body := sendReq("PROPPATCH", base+under(jsrc, rel), nil,
			`<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:origin>`+v+`</Z:origin></D:prop></D:set></D:propertyupdate>`)
		if code != http.StatusMultiStatus || strings.Contains(body, " 4") {
			t.Fatalf("PROPPATCH %s = %d %s", under(jsrc, rel), code, body)
		}
	}
	code, hdr, body := sendReq("LOCK", base+jlocked, map[string]string{"Timeout": "Second-86400"}, raceLockXML)
	if code != http.StatusOK || hdr.Get("Lock-Token") == "" {
		t.Fatalf("LOCK %s = %d %s", jlocked, code, body)
	}
	j.token = hdr.Get("Lock-Token")
}

// send starts the operation on the davd at base; the channel gets its
// final status, or 0 when no complete answer came (davd was killed).
func (j *jtrial) send(base string) <-chan int {
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(j.sc.method, base+jsrc, nil)
		if j.sc.dst() != "" {
			req.Header.Set("Destination", base+j.sc.dst())
		}
		c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Minute}
		resp, err := c.Do(req)
		if err != nil {
			done <- 0
			return
		}
		defer resp.Body.Close()
		if _, err := io.ReadAll(resp.Body); err != nil {
			done <- 0
			return
		}
		done <- resp.StatusCode
	}()
	return done
}

// await polls the storage until the operation's result is complete, the
// tree stops changing for jstall, or jdeadline passes; it returns the
// last state seen.
func (j *jtrial) await(t *testing.T) (string, jscan) {
	t.Helper()
	deadline := time.Now().Add(jdeadline)
	last, changed := "", time.Now()
	for {
		s := j.site.scan(t, false)
		st := j.sc.state(j.tr, s)
		if st == "complete" {
			return st, s
		}
		src, _ := s.count(j.tr, jsrc)
		dst := 0
		if j.sc.dst() != "" {
			dst, _ = s.count(j.tr, j.sc.dst())
		}
		if fp := fmt.Sprint(src, dst, len(s.files), len(s.dirs)); fp != last {
			last, changed = fp, time.Now()
		}
		if time.Since(changed) > jstall || time.Now().After(deadline) {
			return st, s
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// awaitWritable waits, once the tree is complete, until davd lets a
// client write where the operation worked (423 until the operation is
// marked finished): after a MOVE or DELETE it creates the source's name
// again (MKCOL), after a COPY it puts and deletes a file inside the
// destination. Every 423 must say why.
func (j *jtrial) awaitWritable(t *testing.T, base string) []string {
	t.Helper()
	var problems []string
	method, target, content := "MKCOL", jsrc, ""
	if j.sc.method == "COPY" {
		method, target, content = "PUT", j.sc.dst()+"/probe-finished.txt", "probe"
	}
	for deadline := time.Now().Add(jdeadline); ; time.Sleep(50 * time.Millisecond) {
		code, _, body := sendReq(method, base+target, nil, content)
		if code == http.StatusLocked {
			if strings.TrimSpace(body) == "" {
				problems = append(problems, fmt.Sprintf("%s %s answered 423 without a reason", method, target))
			}
			if time.Now().After(deadline) {
				return append(problems, fmt.Sprintf("%s %s still answered 423 %s after %s, with the tree complete", method, target, jdeadline, body))
			}
			continue
		}
		if code != http.StatusCreated {
			return append(problems, fmt.Sprintf("%s %s, once the tree was complete, = %d %.200s", method, target, code, body))
		}
		break
	}
	if method == "MKCOL" {
		j.recreated = true
		return problems
	}
	if code, _, body := sendReq("DELETE", base+target, nil, ""); code != http.StatusNoContent {
		problems = append(problems, fmt.Sprintf("DELETE %s = %d %.200s", target, code, body))
	}
	return problems
}

// want returns the members davd must show for outcome ("complete" or
// "untouched"), served path -> Z:origin, and the files the storage must
// hold, served path -> content.
func (j *jtrial) want(outcome string) (members, files map[string]string) {
	members = map[string]string{"/": "", "/other": "", jlocked: ""}
	files = map[string]string{jlocked: jlockedBody}
	if j.sc.cross {
		members["/mnt"] = ""
	}
	var tops []string
	switch {
	case outcome == "untouched", j.sc.method == "DELETE":
		if outcome == "untouched" {
			tops = []string{jsrc}
		}
	case j.sc.method == "COPY":
		tops = []string{jsrc, j.sc.dst()}
	case j.sc.method == "MOVE":
		tops = []string{j.sc.dst()}
	}
	for _, top := range tops {
		for _, d := range j.tr.dirs {
			members[under(top, d)] = j.tr.props[d]
		}
		for _, f := range j.tr.files {
			members[under(top, f)] = j.tr.props[f]
			files[under(top, f)] = j.tr.content[f]
		}
	}
	if j.recreated {
		members[jsrc] = ""
	}
	return members, files
}

// verify checks the result through davd at base and on the storage:
// exactly the members of outcome, each with its own properties and
// content, nothing reserved left, and the lock on jlocked still held.
func (j *jtrial) verify(t *testing.T, base, outcome string) []string {
	t.Helper()
	wantMembers, wantFiles := j.want(outcome)
	var problems, missing, extra, wrongProp, wrongContent []string
	got := jprops(t, base)
	for name, v := range wantMembers {
		g, ok := got[name]
		switch {
		case !ok:
			missing = append(missing, name)
		case g != v:
			wrongProp = append(wrongProp, fmt.Sprintf("%s=%q(want %q)", name, g, v))
		}
	}
	for name := range got {
		if _, ok := wantMembers[name]; !ok {
			extra = append(extra, name)
		}
	}
	if len(missing) > 0 {
		problems = append(problems, "PROPFIND lacks "+few(missing))
	}
	if len(extra) > 0 {
		problems = append(problems, "PROPFIND shows members that should not be there: "+few(extra))
	}
	if len(wrongProp) > 0 {
		problems = append(problems, "wrong Z:origin on "+few(wrongProp))
	}
	s := j.site.scan(t, true)
	missing, extra = nil, nil
	for name, c := range wantFiles {
		g, ok := s.files[name]
		switch {
		case !ok:
			missing = append(missing, name)
		case g != c:
			wrongContent = append(wrongContent, name)
		}
	}
	for name := range s.files {
		if _, ok := wantFiles[name]; !ok {
			extra = append(extra, name)
		}
	}
	for name := range s.dirs {
		if _, ok := wantMembers[name]; !ok {
			extra = append(extra, name+"/")
		}
	}
	if len(missing) > 0 {
		problems = append(problems, "the storage lacks "+few(missing))
	}
	if len(extra) > 0 {
		problems = append(problems, "the storage holds what should not be there: "+few(extra))
	}
	if len(wrongContent) > 0 {
		problems = append(problems, "wrong content in "+few(wrongContent))
	}
	if len(s.reserved) > 0 {
		problems = append(problems, "reserved names left on the storage: "+few(s.reserved))
	}
	if code, _, _ := sendReq("PUT", base+jlocked, nil, "x"); code != http.StatusLocked {
		problems = append(problems, fmt.Sprintf("PUT %s without its lock token = %d, want 423: the lock is gone", jlocked, code))
	}
	return problems
}

// checkRecreated creates names of the old source again after a MOVE or
// DELETE (the source itself was by awaitWritable): none may carry a
// property of the member that was there.
func (j *jtrial) checkRecreated(t *testing.T, base string) []string {
	t.Helper()
	if !j.recreated {
		return nil
	}
	var problems []string
	file := j.tr.files[0] // every 50th, the first included, has a property
	steps := []struct{ method, name string }{{"MKCOL", "d01"}, {"MKCOL", "d00"}, {"MKCOL", path.Dir(file)}, {"PUT", file}}
	for _, st := range steps {
		content := ""
		if st.method == "PUT" {
			content = "again"
		}
		if code, _, body := sendReq(st.method, base+under(jsrc, st.name), nil, content); code != http.StatusCreated {
			return append(problems, fmt.Sprintf("%s %s again = %d %.200s", st.method, under(jsrc, st.name), code, body))
		}
	}
	for _, rel := range []string{"", "d01", file} {
		if v, _ := origin(t, base, under(jsrc, rel)); v != "" {
			problems = append(problems, fmt.Sprintf("%s, created again, carries the old property %q", under(jsrc, rel), v))
		}
	}
	return problems
}
