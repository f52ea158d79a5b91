package dav

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/afero"

	"davd/processing"
	"davd/storage"
	"davd/storage/state"
)

func TestParsePerm(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   []string
		want Perm
		err  bool
	}{
		{[]string{"all"}, PermAll, false},
		{[]string{"none"}, PermNone, false},
		{[]string{"read"}, PermRead, false},
		{[]string{"read", "create"}, PermRead | PermCreate, false},
		{[]string{"Read, Update delete"}, PermRead | PermUpdate | PermDelete, false},
		{[]string{"none", "read"}, PermRead, false},
		{[]string{"write"}, 0, true},
		{[]string{""}, 0, true},
		{nil, 0, true},
	}
	for _, tt := range tests {
		got, err := ParsePerm(tt.in...)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParsePerm(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
		if err == nil {
			if back, err := ParsePerm(got.String()); err != nil || back != got {
				t.Errorf("ParsePerm(%q.String() = %q) = %v, %v", tt.in, got.String(), back, err)
			}
		}
	}
}

func TestPermissionsFor(t *testing.T) {
	t.Parallel()
	p := &Permissions{Default: PermAll, Rules: []Rule{
		{Path: "/ro/", Perm: PermRead},
		{Path: "/ro/inbox", Perm: PermRead | PermCreate},
		{Pattern: "/*/private", Perm: PermNone},
		{Pattern: "/docs/*.pdf", Perm: PermRead},
	}}
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		want    Perm
		uniform bool
	}{
		{"/", PermAll, false},
		{"/other", PermAll, false}, // /other/private may exist
		{"/other/x", PermAll, true},
		{"/ro", PermRead, false},
		{"/ro/a/b", PermRead, true},
		{"/ro/inbox", PermRead | PermCreate, true},
		{"/ro/inbox/x", PermRead | PermCreate, true},
		{"/ro/private", PermNone, true},
		{"/a/private/deep/x", PermNone, true},
		{"/private", PermAll, false}, // /private/private matches /*/private
		{"/rox", PermAll, false},
		{"/docs", PermAll, false},
		{"/docs/a.pdf", PermRead, true},
		{"/docs/a.pdf.txt", PermAll, true},
		{"/docs/sub/a.pdf", PermAll, true},
	}
	for _, tt := range tests {
		if got := p.For(tt.name); got != tt.want {
			t.Errorf("For(%s) = %v, want %v", tt.name, got, tt.want)
		}
		if got := p.uniform(tt.name); got != tt.uniform {
			t.Errorf("uniform(%s) = %v, want %v", tt.name, got, tt.uniform)
		}
	}
	for _, bad := range []Rule{
		{Path: "rel"}, {Path: "/a/../b"}, {Path: `/a\b`}, {Path: "/./a"}, {Path: "/\xff"}, {},
		{Path: "/a", Pattern: "/a"}, {Pattern: "/["}, {Pattern: "*"}, {Pattern: "/a/../*"},
		{Pattern: `/a\`}, {Pattern: `/a\/b`},
	} {
		q := &Permissions{Rules: []Rule{bad}}
		if err := q.Check(); err == nil {
			t.Errorf("rule %+v accepted", bad)
		}
	}
	// A backslash in a pattern makes the next character literal.
	q := &Permissions{Default: PermAll, Rules: []Rule{{Pattern: `/a\*b`, Perm: PermNone}, {Path: "/c*d", Perm: PermNone}}}
	if err := q.Check(); err != nil {
		t.Fatal(err)
	}
	if q.For("/a*b/x") != PermNone || q.For("/axb") != PermAll || q.For("/c*d") != PermNone || q.For("/cxd") != PermAll {
		t.Error("an escaped * in a pattern, or a * in a path, is not literal")
	}
	var none *Permissions
	if none.For("/x") != PermAll || !none.uniform("/") {
		t.Error("nil Permissions must allow everything")
	}
}

// userServer serves backend with the user named in the X-User request
// header, standing in for the authentication that happens in front of a
// Handler in davd.
func userServer(t *testing.T, backend afero.Fs, st state.Store, cfg Config) *httptest.Server {
	t.Helper()
	cfg.Processing = processing.Config{Mode: processing.ModeOff}
	if st == nil {
		var err error
		if st, err = state.Open(context.Background(), "memory:"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
	}
	h, err := NewHandler(storage.NewFileSystem(backend), st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(WithUser(r.Context(), r.Header.Get("X-User"))))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func seed(t *testing.T, fs afero.Fs, files ...string) {
	t.Helper()
	for _, f := range files {
		if strings.HasSuffix(f, "/") {
			if err := fs.MkdirAll(f, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := afero.WriteFile(fs, f, []byte("content of "+f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadOnlyUser(t *testing.T) {
	t.Parallel()
	fs := afero.NewMemMapFs()
	seed(t, fs, "/d/", "/d/f", "/f")
	srv := userServer(t, fs, nil, Config{Permissions: &Permissions{Default: PermRead}})
	dst := map[string]string{"Destination": "BASE/new"}
	runSteps(t, srv.URL, []step{
		{name: "GET", method: "GET", path: "/f", status: 200},
		{name: "HEAD", method: "HEAD", path: "/d", status: 200},
		{name: "PROPFIND", method: "PROPFIND", path: "/", hdr: map[string]string{"Depth": "1"}, status: 207},
		{name: "OPTIONS", method: "OPTIONS", path: "/f", status: 200},
		{name: "PUT existing", method: "PUT", path: "/f", body: "x", status: 403, contains: "permission denied"},
		{name: "PUT new", method: "PUT", path: "/g", body: "x", status: 403},
		{name: "DELETE", method: "DELETE", path: "/f", status: 403},
		{name: "MKCOL", method: "MKCOL", path: "/m", status: 403},
		{name: "MOVE", method: "MOVE", path: "/f", hdr: dst, status: 403},
		{name: "COPY", method: "COPY", path: "/f", hdr: dst, status: 403},
		{name: "COPY over existing", method: "COPY", path: "/f", hdr: map[string]string{"Destination": "BASE/d/f"}, status: 403},
		{name: "PROPPATCH", method: "PROPPATCH", path: "/f", body: propSet(`<Z:a>1</Z:a>`), status: 403},
		{name: "LOCK", method: "LOCK", path: "/f", body: lockExclusive, status: 403},
		{name: "LOCK new", method: "LOCK", path: "/nl", body: lockExclusive, status: 403},
		{name: "UNLOCK", method: "UNLOCK", path: "/f", hdr: map[string]string{"Lock-Token": "<urn:uuid:x>"}, status: 403},
	})
	if ok, _ := afero.Exists(fs, "/new"); ok {
		t.Error("a refused request wrote /new")
	}
	if b, _ := afero.ReadFile(fs, "/f"); string(b) != "content of /f" {
		t.Errorf("/f changed to %q", b)
	}
}

func TestCreateOnlyUser(t *testing.T) {
	t.Parallel()
	fs := afero.NewMemMapFs()
	seed(t, fs, "/f")
	srv := userServer(t, fs, nil, Config{Permissions: &Permissions{Default: PermCreate}})
	runSteps(t, srv.URL, []step{
		{name: "PUT new", method: "PUT", path: "/g", body: "x", status: 201},
		{name: "PUT over", method: "PUT", path: "/g", body: "y", status: 403},
		{name: "MKCOL", method: "MKCOL", path: "/m", status: 201},
		{name: "GET", method: "GET", path: "/g", status: 403},
		{name: "LOCK new", method: "LOCK", path: "/h", body: lockExclusive, status: 201},
		{name: "LOCK existing", method: "LOCK", path: "/f", body: lockExclusive, status: 403},
		{name: "COPY needs read", method: "COPY", path: "/f", hdr: map[string]string{"Destination": "BASE/c"}, status: 403},
	})
}

func TestPathRules(t *testing.T) {
	t.Parallel()
	fs := afero.NewMemMapFs()
	seed(t, fs, "/pub/", "/pub/a", "/secret/", "/secret/s", "/team/", "/team/private/", "/team/private/p", "/team/x", "/ro/", "/ro/r")
	srv := userServer(t, fs, nil, Config{Permissions: &Permissions{Default: PermAll, Rules: []Rule{
		{Path: "/secret", Perm: PermNone},
		{Pattern: "/*/private", Perm: PermRead},
		{Path: "/ro", Perm: PermRead},
	}}})
	inf := map[string]string{"Depth": "infinity"}
	to := func(d string) map[string]string { return map[string]string{"Destination": "BASE" + d} }
	runSteps(t, srv.URL, []step{
		{name: "secret GET", method: "GET", path: "/secret/s", status: 403},
		{name: "secret PROPFIND", method: "PROPFIND", path: "/secret", status: 403},
		{name: "secret PUT", method: "PUT", path: "/secret/n", body: "x", status: 403},
		{name: "read private", method: "GET", path: "/team/private/p", status: 200},
		{name: "write private", method: "PUT", path: "/team/private/p", body: "x", status: 403},
		{name: "DELETE above a protected member", method: "DELETE", path: "/team", status: 403, contains: "/team/private"},
		{name: "MOVE above a protected member", method: "MOVE", path: "/team", hdr: to("/team2"), status: 403},
		{name: "COPY a protected tree out", method: "COPY", path: "/", hdr: to("/pub/all"), status: 403},
		{name: "COPY secret out", method: "COPY", path: "/secret/s", hdr: to("/pub/s"), status: 403},
		{name: "COPY into secret", method: "COPY", path: "/pub/a", hdr: to("/secret/a"), status: 403},
		{name: "MOVE into read-only", method: "MOVE", path: "/pub/a", hdr: to("/ro/a"), status: 403},
		{name: "COPY over read-only", method: "COPY", path: "/pub/a", hdr: to("/ro/r"), status: 403},
		{name: "COPY a file onto a rule", method: "COPY", path: "/team/x", hdr: to("/pub/private"), status: 403},
		{name: "a tree with a member named private", method: "MKCOL", path: "/pub/t", status: 201},
		{name: "its member", method: "MKCOL", path: "/pub/t/private", status: 201},
		{name: "copied where the member is unprotected", method: "COPY", path: "/pub/t", hdr: to("/pub/u"), status: 201},
		{name: "copied where the member lands on the rule", method: "COPY", path: "/pub/t", hdr: to("/u"), status: 403, contains: "/u/private"},
		{name: "allowed DELETE", method: "DELETE", path: "/pub/a", status: 204},
	})
	got := do(t, "PROPFIND", srv.URL+"/", inf, "")
	if got.status != 207 || strings.Contains(got.body, "/secret") || !strings.Contains(got.body, "/team/private/p") {
		t.Errorf("PROPFIND / must hide /secret and show the readable rest: %d %s", got.status, got.body)
	}
	if got := do(t, "GET", srv.URL+"/", nil, ""); strings.Contains(got.body, "secret") || !strings.Contains(got.body, "pub/") {
		t.Errorf("listing must hide /secret: %s", got.body)
	}
	for _, f := range []string{"/secret/s", "/team/private/p", "/ro/r"} {
		if ok, _ := afero.Exists(fs, f); !ok {
			t.Errorf("%s is gone", f)
		}
	}
}

// TestLockTokensBelongToTheirUser checks that a lock token is no bearer
// credential: bob submitting alice's token is treated like any token he
// does not hold.
func TestLockTokensBelongToTheirUser(t *testing.T) {
	t.Parallel()
	fs := afero.NewMemMapFs()
	seed(t, fs, "/f", "/d/")
	var logs bytes.Buffer
	srv := userServer(t, fs, nil, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	lock := do(t, "LOCK", srv.URL+"/f", map[string]string{"X-User": "alice"}, lockExclusive)
	deep := do(t, "LOCK", srv.URL+"/d", map[string]string{"X-User": "alice"}, lockExclusive)
	if lock.status != 200 || deep.status != 200 {
		t.Fatalf("LOCK = %d, %d", lock.status, deep.status)
	}
	tok := lock.header.Get("Lock-Token")
	dtok := deep.header.Get("Lock-Token")
	as := func(user string, kv ...string) map[string]string {
		m := map[string]string{"X-User": user}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = strings.ReplaceAll(kv[i+1], "TOK", strings.Trim(tok, "<>"))
		}
		return m
	}
	runSteps(t, srv.URL, []step{
		{name: "bob with alice's token", method: "PUT", path: "/f", hdr: as("bob", "If", "(<TOK>)"), body: "b", status: 412},
		{name: "bob submitting alice's token in a true If", method: "PUT", path: "/f", hdr: as("bob", "If", "(<TOK>) (Not <DAV:no-lock>)"), body: "b", status: 423},
		{name: "bob without a token", method: "PUT", path: "/f", hdr: as("bob"), body: "b", status: 423},
		{name: "bob into alice's locked collection", method: "PUT", path: "/d/x", hdr: as("bob", "If", "(<"+strings.Trim(dtok, "<>")+">) (Not <DAV:no-lock>)"), body: "b", status: 423},
		{name: "bob deletes with alice's token", method: "DELETE", path: "/f", hdr: as("bob", "If", "(<TOK>) (Not <DAV:no-lock>)"), status: 423},
		{name: "bob refreshes alice's lock", method: "LOCK", path: "/f", hdr: as("bob", "If", "(<TOK>)"), status: 412},
		{name: "bob unlocks alice's lock", method: "UNLOCK", path: "/f", hdr: as("bob", "Lock-Token", tok), status: 403, contains: "another user"},
		{name: "anonymous unlocks alice's lock", method: "UNLOCK", path: "/f", hdr: as("", "Lock-Token", tok), status: 403},
		{name: "alice writes with her token", method: "PUT", path: "/f", hdr: as("alice", "If", "(<TOK>)"), body: "a", status: 204},
		{name: "alice refreshes", method: "LOCK", path: "/f", hdr: as("alice", "If", "(<TOK>)"), status: 200},
		{name: "alice unlocks", method: "UNLOCK", path: "/f", hdr: as("alice", "Lock-Token", tok), status: 204},
		{name: "bob can write now", method: "PUT", path: "/f", hdr: as("bob"), body: "b", status: 204},
	})
	if !regexp.MustCompile(`method=UNLOCK path=/f status=204 .* user=alice`).Match(logs.Bytes()) {
		t.Errorf("request log does not name the user:\n%s", logs.String())
	}
}

// TestChallengeAnonymous: with a Challenge, an anonymous request refused
// by permissions, or for something its tree lacks, gets 401 and the
// challenge, so that the client asks for credentials; a signed-in user,
// and other refusals, still get 403 (or 404).
func TestChallengeAnonymous(t *testing.T) {
	t.Parallel()
	fs := afero.NewMemMapFs()
	seed(t, fs, "/f")
	const ch = `Basic realm="r"`
	srv := userServer(t, fs, nil, Config{Challenge: ch, Permissions: &Permissions{Default: PermRead}})
	anon := map[string]string{}
	runSteps(t, srv.URL, []step{
		{name: "anonymous read", method: "GET", path: "/f", hdr: anon, status: 200},
		{name: "anonymous write", method: "PUT", path: "/f", hdr: anon, body: "x", status: 401, header: [2]string{"WWW-Authenticate", ch}},
		{name: "anonymous delete", method: "DELETE", path: "/f", hdr: anon, status: 401, contains: "sign in"},
		{name: "user write", method: "PUT", path: "/f", hdr: map[string]string{"X-User": "u"}, body: "x", status: 403},
		{name: "anonymous missing", method: "GET", path: "/missing", hdr: anon, status: 401, header: [2]string{"WWW-Authenticate", ch}},
		{name: "user missing", method: "GET", path: "/missing", hdr: map[string]string{"X-User": "u"}, status: 404},
	})
	ro := userServer(t, fs, nil, Config{Challenge: ch, ReadOnly: true})
	if got := do(t, "PUT", ro.URL+"/f", nil, "x"); got.status != 403 || got.header.Get("WWW-Authenticate") != "" {
		t.Errorf("read-only server: %d %q, want a plain 403", got.status, got.header.Get("WWW-Authenticate"))
	}
}

// TestRulePathIsAName: a rule's Path is a name, brackets and all: it
// covers that name and what is below it, and nothing else.
func TestRulePathIsAName(t *testing.T) {
	t.Parallel()
	p := &Permissions{Default: PermAll, Rules: []Rule{{Path: "/Team [HR]", Perm: PermNone}}}
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]Perm{
		"/Team [HR]":              PermNone,
		"/Team [HR]/salaries.txt": PermNone,
		"/Team H":                 PermAll, // what the path would match as a pattern
		"/Team R/x":               PermAll,
	} {
		if got := p.For(name); got != want {
			t.Errorf("For(%q) = %v, want %v", name, got, want)
		}
	}
	if p.uniform("/") {
		t.Error(`uniform("/") with a rule on "/Team [HR]"`)
	}
	fs := afero.NewMemMapFs()
	seed(t, fs, "/Team [HR]/salaries.txt", "/Team H")
	srv := userServer(t, fs, nil, Config{Permissions: p})
	runSteps(t, srv.URL, []step{
		{name: "GET below the rule", method: "GET", path: "/Team%20%5BHR%5D/salaries.txt", status: 403},
		{name: "PROPFIND the rule's name", method: "PROPFIND", path: "/Team%20%5BHR%5D", status: 403},
		{name: "a name the path would match as a pattern", method: "GET", path: "/Team%20H", status: 200},
	})
}

// TestRulesCompareNormalizedNames: a rule written in NFC covers the same
// name sent or stored in NFD (macOS), and the other way round.
func TestRulesCompareNormalizedNames(t *testing.T) {
	t.Parallel()
	const nfc, nfd = "/caf\u00e9", "/cafe\u0301"
	for _, rule := range []string{nfc, nfd} {
		p := &Permissions{Default: PermAll, Rules: []Rule{{Path: rule, Perm: PermNone}, {Pattern: "/x/*\u00e9", Perm: PermRead}}}
		if err := p.Check(); err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string]Perm{
			nfc + "/f": PermNone, nfd + "/f": PermNone, nfc: PermNone, nfd: PermNone,
			"/x/caf\u00e9": PermRead, "/x/cafe\u0301": PermRead, "/cafe": PermAll,
		} {
			if got := p.For(name); got != want {
				t.Errorf("rule %+q: For(%+q) = %v, want %v", rule, name, got, want)
			}
		}
		if p.uniform(nfd) != true || p.uniform("/") {
			t.Errorf("rule %+q: uniform(%+q) = %v, uniform(/) = %v", rule, nfd, p.uniform(nfd), p.uniform("/"))
		}
	}
	// Over HTTP, with the directory stored in NFD and the rule in NFC.
	fs := afero.NewMemMapFs()
	seed(t, fs, nfd+"/secret", "/pub")
	srv := userServer(t, fs, nil, Config{Permissions: &Permissions{Default: PermAll, Rules: []Rule{{Path: nfc, Perm: PermNone}}}})
	runSteps(t, srv.URL, []step{
		{name: "GET the NFD name", method: "GET", path: "/cafe%CC%81/secret", status: 403},
		{name: "DELETE the NFD name", method: "DELETE", path: "/cafe%CC%81", status: 403},
		{name: "DELETE above it", method: "DELETE", path: "/", status: 403},
	})
	if got := do(t, "PROPFIND", srv.URL+"/", map[string]string{"Depth": "1"}, ""); got.status != 207 || strings.Contains(got.body, "cafe") {
		t.Errorf("PROPFIND / lists the NFD name: %d %s", got.status, got.body)
	}
	if ok, _ := afero.Exists(fs, nfd+"/secret"); !ok {
		t.Error("the NFD directory is gone")
	}
}

// TestHiddenNamesDoNotLeak: what a user cannot read is never named in an
// answer, and refusals about such a name do not depend on its existence.
func TestHiddenNamesDoNotLeak(t *testing.T) {
	t.Parallel()
	fs := afero.NewMemMapFs()
	seed(t, fs, "/docs/readme", "/docs/salary-2026.pdf", "/docs/sub/salary-old.pdf")
	srv := userServer(t, fs, nil, Config{Permissions: &Permissions{Default: PermAll, Rules: []Rule{
		{Path: "/docs/salary-2026.pdf", Perm: PermNone},
		{Path: "/docs/salary-2027.pdf", Perm: PermNone},
		{Path: "/docs/sub/salary-old.pdf", Perm: PermNone},
		{Path: "/docs/readonly", Perm: PermRead},
	}}})
	noF := func(d string) map[string]string {
		return map[string]string{"Destination": "BASE" + d, "Overwrite": "F"}
	}
	to := func(d string) map[string]string { return map[string]string{"Destination": "BASE" + d} }
	answers := map[string]response{}
	for _, s := range []step{
		{name: "DELETE above a hidden member", method: "DELETE", path: "/docs"},
		{name: "DELETE above a hidden member deeper", method: "DELETE", path: "/docs/sub"},
		{name: "MOVE above a hidden member", method: "MOVE", path: "/docs", hdr: to("/moved")},
		{name: "COPY above a hidden member", method: "COPY", path: "/docs", hdr: to("/copied")},
		{name: "COPY over a tree with a hidden member", method: "COPY", path: "/docs/readme", hdr: to("/docs/sub")},
		{name: "COPY onto a hidden existing name", method: "COPY", path: "/docs/readme", hdr: noF("/docs/salary-2026.pdf")},
		{name: "COPY onto a hidden missing name", method: "COPY", path: "/docs/readme", hdr: noF("/docs/salary-2027.pdf")},
		{name: "MOVE onto a hidden existing name", method: "MOVE", path: "/docs/readme", hdr: to("/docs/salary-2026.pdf")},
		{name: "MOVE onto a hidden missing name", method: "MOVE", path: "/docs/readme", hdr: to("/docs/salary-2027.pdf")},
	} {
		hdr := map[string]string{}
		for k, v := range s.hdr {
			hdr[k] = strings.ReplaceAll(v, "BASE", srv.URL)
		}
		got := do(t, s.method, srv.URL+s.path, hdr, "")
		answers[s.name] = got
		if got.status != http.StatusForbidden {
			t.Errorf("%s: %d, want 403 (%s)", s.name, got.status, got.body)
		}
		if strings.Contains(got.body, "salary") && !strings.Contains(s.hdr["Destination"], "salary") {
			t.Errorf("%s: the answer names a hidden member: %s", s.name, got.body)
		}
	}
	for _, pair := range [][2]string{
		{"COPY onto a hidden existing name", "COPY onto a hidden missing name"},
		{"MOVE onto a hidden existing name", "MOVE onto a hidden missing name"},
	} {
		a, b := answers[pair[0]], answers[pair[1]]
		if a.status != b.status || strings.ReplaceAll(a.body, "2026", "2027") != b.body {
			t.Errorf("%s and %s differ: %d %q / %d %q", pair[0], pair[1], a.status, a.body, b.status, b.body)
		}
	}
	for _, f := range []string{"/docs/readme", "/docs/salary-2026.pdf", "/docs/sub/salary-old.pdf"} {
		if ok, _ := afero.Exists(fs, f); !ok {
			t.Errorf("%s is gone", f)
		}
	}
}

// TestDeepLockNeedsEveryMember: a Depth infinity LOCK needs update on
// everything it covers, so that it cannot block writes where its owner
// may not write; Depth 0 needs it on the collection alone.
func TestDeepLockNeedsEveryMember(t *testing.T) {
	t.Parallel()
	fs := afero.NewMemMapFs()
	seed(t, fs, "/x/private/", "/x/readonly/", "/x/f", "/y/private/", "/z/")
	st, err := state.Open(context.Background(), "memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	bob := &Permissions{Default: PermAll, Rules: []Rule{
		{Path: "/x/private", Perm: PermNone},
		{Path: "/x/readonly", Perm: PermRead},
		{Path: "/y/private", Perm: PermNone},
		{Path: "/y", Perm: PermAll}, // listed later: it wins over the rule below it
		{Path: "/new/inbox", Perm: PermCreate},
	}}
	srv := userServer(t, fs, st, Config{Permissions: bob})
	admin := userServer(t, fs, st, Config{})
	inf := map[string]string{"Depth": "infinity"}
	zero := map[string]string{"Depth": "0"}
	runSteps(t, srv.URL, []step{
		{name: "deep LOCK over a member bob may not touch", method: "LOCK", path: "/x", hdr: inf, body: lockExclusive, status: 403, contains: "/x"},
		{name: "deep LOCK of the root", method: "LOCK", path: "/", hdr: inf, body: lockExclusive, status: 403},
		// A new resource is an empty file: it has no members to cover.
		{name: "deep LOCK of a new name with a rule below", method: "LOCK", path: "/new", hdr: inf, body: lockExclusive, status: 201},
		{name: "deep LOCK where a later rule overrides", method: "LOCK", path: "/y", hdr: inf, body: lockExclusive, status: 200},
		{name: "deep LOCK without rules below", method: "LOCK", path: "/z", hdr: inf, body: lockExclusive, status: 200},
		{name: "Depth 0 LOCK of the collection", method: "LOCK", path: "/x", hdr: zero, body: lockExclusive, status: 200},
	})
	if got := do(t, "PUT", admin.URL+"/x/private/f", nil, "admin"); got.status != http.StatusCreated {
		t.Errorf("admin PUT below bob's lock = %d %s", got.status, got.body)
	}
}
