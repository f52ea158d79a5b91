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
		{Path: "/*/private", Perm: PermNone},
		{Path: "/docs/*.pdf", Perm: PermRead},
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
	for _, bad := range []string{"rel", "/a/../b", "/[", `/a\b`, "/./a"} {
		q := &Permissions{Rules: []Rule{{Path: bad}}}
		if err := q.Check(); err == nil {
			t.Errorf("rule path %q accepted", bad)
		}
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
		{Path: "/*/private", Perm: PermRead},
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
