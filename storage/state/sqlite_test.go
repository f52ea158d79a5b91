package state

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func openFile(t *testing.T, file string) *sqlStore {
	t.Helper()
	s, err := Open(bg, "sqlite://"+file)
	if err != nil {
		t.Fatal(err)
	}
	return s.(*sqlStore)
}

func TestOpenURLs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		url     string
		wantErr string // substring; "" for success
	}{
		{"memory:", ""},
		{"memory://", ""},
		{"sqlite://" + filepath.Join(dir, "new", "deeper", "state.db"), ""},
		{"sqlite://" + filepath.Join(dir, "odd ?#% name", "state.db"), ""},
		{"sqlite://relative/state.db", "absolute"},
		{"sqlite://", "absolute"},
		{"sqlite:relative.db", "unknown state URL"},
		{"postgres://127.0.0.1:1/db", "cannot connect to PostgreSQL at postgres://127.0.0.1:1/db"},
		{"mysql://host/db", `"sqlite:///absolute/path/state.db", "postgres://user:password@host/database" or "memory:"`},
		{"", "unknown state URL"},
		{filepath.Join(dir, "state.db"), "unknown state URL"},
	}
	for _, tt := range tests {
		s, err := Open(bg, tt.url)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("Open(%q): %v", tt.url, err)
				continue
			}
			if err := s.Close(); err != nil {
				t.Error(err)
			}
			continue
		}
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", tt.url)
		} else if !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Open(%q) = %v, want it to mention %q", tt.url, err, tt.wantErr)
		}
	}
	// The directory was made private, the file too.
	fi, err := os.Stat(filepath.Join(dir, "new", "deeper"))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("directory: %v, %v; want mode 0700", fi.Mode(), err)
	}
	fi, err = os.Stat(filepath.Join(dir, "new", "deeper", "state.db"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file: %v, %v; want mode 0600", fi.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(dir, "odd ?#% name", "state.db")); err != nil {
		t.Errorf("a path with URI characters was not taken literally: %v", err)
	}
}

func TestPersistence(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "state.db")
	s := openFile(t, file)
	props := []Property{
		prop("urn:x", "a", `<x:a xmlns:x="urn:x" xml:lang="de">Grüße</x:a>`),
		prop("urn:y", "b", `<y:b xmlns:y="urn:y"/>`),
	}
	mustPatch(t, s, "/dir/file", props, nil)
	mustPatch(t, s, "/gone", props[:1], nil)
	mustPatch(t, s, "/gone", nil, []xml.Name{props[0].Name})
	inf, err := s.CreateLock(bg, Lock{Root: "/dir", Deep: true, Owner: "<owner/>", User: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	timed, err := s.CreateLock(bg, Lock{Root: "/other", Shared: true, Timeout: 90 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	short, err := s.CreateLock(bg, Lock{Root: "/short", Timeout: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Millisecond)

	s = openFile(t, file)
	defer s.Close()
	if got := mustProps(t, s, "/dir/file"); !reflect.DeepEqual(got, props) {
		t.Errorf("after reopening, Props = %q, want %q", got, props)
	}
	if got := mustProps(t, s, "/gone"); got != nil {
		t.Errorf("after reopening, removed properties are back: %q", got)
	}
	for _, want := range []Lock{inf, timed} {
		got, err := s.LookupLock(bg, want.Token)
		if err != nil {
			t.Errorf("after reopening: %v", err)
			continue
		}
		if got.Token != want.Token || got.Root != want.Root || got.Deep != want.Deep || got.Shared != want.Shared ||
			got.Owner != want.Owner || got.User != want.User || got.Timeout != want.Timeout ||
			!got.Expires.Equal(want.Expires) || !got.Created.Equal(want.Created) || got.Expires.IsZero() != want.Expires.IsZero() {
			t.Errorf("after reopening, lock = %+v, want %+v", got, want)
		}
	}
	if _, err := s.LookupLock(bg, short.Token); !errors.Is(err, ErrNoSuchLock) {
		t.Errorf("an expired lock came back: %v", err)
	}
	var n int
	if err := s.db.QueryRow(`SELECT COUNT(*) FROM locks`).Scan(&n); err != nil || n != 2 {
		t.Errorf("lock rows = %d, %v; want 2 (the expired one purged)", n, err)
	}
	if _, err := s.CreateLock(bg, Lock{Root: "/dir/x"}); !errors.Is(err, ErrLocked) {
		t.Errorf("the reloaded deep lock does not conflict: %v", err)
	}
	var mode string
	if err := s.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v", mode, err)
	}
}

// TestPropsWithoutIO shows that paths without properties never reach the
// database: with the database closed under it, they are still answered.
func TestPropsWithoutIO(t *testing.T) {
	t.Parallel()
	s := openFile(t, filepath.Join(t.TempDir(), "state.db"))
	defer s.Close()
	mustPatch(t, s, "/has", []Property{prop("urn:x", "a", "<a/>")}, nil)
	s.db.Close()
	for _, p := range []string{"/", "/ha", "/has/x", "/other"} {
		if got, err := s.Props(bg, p); err != nil || got != nil {
			t.Errorf("Props(%s) = %q, %v; want nil, nil", p, got, err)
		}
	}
	if _, err := s.Props(bg, "/has"); err == nil {
		t.Error("Props of a path with properties did not use the (closed) database")
	}
}

// TestMoveTreeOneStatement moves 20000 property rows and checks that one
// UPDATE did it.
func TestMoveTreeOneStatement(t *testing.T) {
	t.Parallel()
	const rows = 20000
	file := filepath.Join(t.TempDir(), "state.db")
	s := openFile(t, file)
	_, err := s.db.Exec(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		INSERT INTO props (path, ns, local, xml)
		SELECT printf('/big/d%03d/f%05d', i / 100, i), 'urn:x', 'p', CAST('<p/>' AS BLOB) FROM n`, rows-1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.load(bg); err != nil { // learn the paths written behind the store's back
		t.Fatal(err)
	}
	mustPatch(t, s, "/bigger", []Property{prop("urn:x", "p", "<p/>")}, nil)
	mustPatch(t, s, "/big0", []Property{prop("urn:x", "p", "<p/>")}, nil)
	if _, err := s.CreateLock(bg, Lock{Root: "/big/d7", Deep: true}); err != nil {
		t.Fatal(err)
	}

	stmts := s.stmts.Load()
	if err := s.MoveTree(bg, "/big", "/moved/here"); err != nil {
		t.Fatal(err)
	}
	if n := s.lastMoved.Load(); n != rows {
		t.Errorf("the UPDATE moved %d rows, want %d", n, rows)
	}
	// One UPDATE for the properties, one DELETE for the locks.
	if n := s.stmts.Load() - stmts; n != 2 {
		t.Errorf("MoveTree ran %d statements, want 2", n)
	}
	var moved, total int
	s.db.QueryRow(`SELECT COUNT(*) FROM props WHERE path >= '/moved/here/' AND path < '/moved/here0'`).Scan(&moved)
	s.db.QueryRow(`SELECT COUNT(*) FROM props`).Scan(&total)
	if moved != rows || total != rows+2 {
		t.Errorf("%d rows under /moved/here and %d in all, want %d and %d", moved, total, rows, rows+2)
	}
	if got := mustProps(t, s, "/moved/here/d199/f19999"); len(got) != 1 {
		t.Errorf("Props of a moved path = %q", got)
	}
	if got := mustProps(t, s, "/big/d199/f19999"); got != nil {
		t.Errorf("Props of an old path = %q", got)
	}
	for _, p := range []string{"/bigger", "/big0"} {
		if got := mustProps(t, s, p); len(got) != 1 {
			t.Errorf("a sibling lost its properties: %s", p)
		}
	}
	if ls, _ := s.LocksBelow(bg, "/"); len(ls) != 0 {
		t.Errorf("locks below the moved tree survived: %v", ls)
	}
	// The query plan uses the primary key index, not a scan.
	q := s.d.q()
	q.sql(`EXPLAIN QUERY PLAN UPDATE props SET path = path WHERE `, q.atOrBelow("path", "/moved"))
	rowsPlan, err := s.db.Query(q.b.String(), q.args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rowsPlan.Close()
	var plan []string
	for rowsPlan.Next() {
		var id, parent, notused int
		var detail string
		rowsPlan.Scan(&id, &parent, &notused, &detail)
		plan = append(plan, detail)
	}
	if p := strings.Join(plan, "; "); !strings.Contains(p, "SEARCH props USING PRIMARY KEY (path>? AND path<?)") {
		t.Errorf("query plan %q does not use the index", p)
	}
}

// snapshot returns the bytes of file and of its companions, for checking
// that Open left them alone.
func snapshot(t *testing.T, file string) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		b, err := os.ReadFile(file + suffix)
		if err == nil {
			m[suffix] = b
		}
	}
	return m
}

func TestOpenCorrupt(t *testing.T) {
	t.Parallel()
	makeSQLite := func(t *testing.T, file string, stmts ...string) {
		t.Helper()
		db, err := sql.Open("sqlite", file)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, st := range stmts {
			if _, err := db.Exec(st); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name string
		make func(t *testing.T, file string)
		why  string // in the message
	}{
		{"random bytes", func(t *testing.T, file string) {
			b := make([]byte, 8192)
			rand.Read(b)
			os.WriteFile(file, b, 0o600)
		}, "not an SQLite database"},
		{"short file", func(t *testing.T, file string) {
			os.WriteFile(file, []byte("SQLite"), 0o600)
		}, "not an SQLite database"},
		{"SQLite header, garbage after", func(t *testing.T, file string) {
			b := make([]byte, 8192)
			rand.Read(b)
			copy(b, sqliteMagic)
			os.WriteFile(file, b, 0o600)
		}, "damaged or not an SQLite database"},
		{"unrelated tables", func(t *testing.T, file string) {
			makeSQLite(t, file, `CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)`, `INSERT INTO users VALUES (1, 'x')`)
		}, "not a davd state database"},
		{"meta without our marker", func(t *testing.T, file string) {
			makeSQLite(t, file, `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
				`INSERT INTO meta VALUES ('application', 'something-else'), ('schema_version', '1')`)
		}, "no davd schema marker"},
		{"future schema version", func(t *testing.T, file string) {
			makeSQLite(t, file, `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
				`INSERT INTO meta VALUES ('application', 'davd-state'), ('schema_version', '99')`)
		}, "schema version 99"},
		{"damaged pages", func(t *testing.T, file string) {
			s := openFile(t, file)
			for i := range 200 {
				mustPatch(t, s, fmt.Sprintf("/f%03d", i), []Property{prop("urn:x", "p", strings.Repeat("x", 500))}, nil)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) < 6*4096 {
				t.Fatalf("database only %d bytes", len(b))
			}
			for i := 2 * 4096; i < len(b)-4096; i += 4096 { // page headers, page 3 on
				copy(b[i:i+16], bytes.Repeat([]byte{0xA5}, 16))
			}
			os.WriteFile(file, b, 0o600)
		}, "fails SQLite's integrity check"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "state.db")
			tt.make(t, file)
			before := snapshot(t, file)
			s, err := Open(bg, "sqlite://"+file)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("Open = %v, want ErrCorrupt", err)
			}
			for _, want := range []string{file, tt.why, "move it away to start with empty state"} {
				if !strings.Contains(err.Error(), want) && !(want == "move it away to start with empty state" && tt.name == "future schema version") {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if after := snapshot(t, file); !reflect.DeepEqual(after, before) {
				t.Errorf("Open changed the files: before %d, after %d companions; file identical: %v",
					len(before), len(after), bytes.Equal(before[""], after[""]))
			}
		})
	}
}

func TestOpenEmptyFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := openFile(t, file)
	defer s.Close()
	mustPatch(t, s, "/x", []Property{prop("urn:x", "a", "<a/>")}, nil)
}

func TestOpenNotWritable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()

	// Paths no one, root included, can use.
	notDir := filepath.Join(dir, "plainfile")
	if err := os.WriteFile(notDir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	isDir := filepath.Join(dir, "isdir")
	if err := os.Mkdir(isDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{filepath.Join(notDir, "state.db"), isDir} {
		_, err := Open(bg, "sqlite://"+file)
		if err == nil || !strings.Contains(err.Error(), file) || errors.Is(err, ErrCorrupt) {
			t.Errorf("Open(%s) = %v; want an error naming the file, not ErrCorrupt", file, err)
		}
	}

	// A database SQLite can only open read-only, as it does a read-only
	// file: the same path as chmod 0400, reachable even as root.
	file := filepath.Join(dir, "ro.db")
	s := openFile(t, file)
	mustPatch(t, s, "/x", []Property{prop("urn:x", "a", "<a/>")}, nil)
	s.Close()
	before := snapshot(t, file)
	_, err := openSQLite(bg, file, "mode=ro")
	if err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "read-only") || errors.Is(err, ErrCorrupt) {
		t.Errorf("read-only open = %v; want a read-only error naming the file", err)
	}
	// (SQLite may leave -wal and -shm files: mode=ro in a writable
	// directory is a simulation; on a read-only file system it could not.)
	if after := snapshot(t, file); !bytes.Equal(after[""], before[""]) {
		t.Error("a failed read-only open changed the file")
	}

	if os.Geteuid() == 0 {
		t.Log("running as root, where permission bits do not stop writes: " +
			"skipping the chmod 0400 file and 0500 directory cases (the read-only path is tested with mode=ro above)")
		return
	}
	roFile := filepath.Join(dir, "rofile.db")
	s = openFile(t, roFile)
	s.Close()
	if err := os.Chmod(roFile, 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(bg, "sqlite://"+roFile); err == nil || !strings.Contains(err.Error(), roFile) || errors.Is(err, ErrCorrupt) {
		t.Errorf("Open of a 0400 file = %v; want an error naming it", err)
	}
	roDir := filepath.Join(dir, "rodir")
	if err := os.Mkdir(roDir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(roDir, 0o700) })
	newFile := filepath.Join(roDir, "state.db")
	if _, err := Open(bg, "sqlite://"+newFile); err == nil || !strings.Contains(err.Error(), newFile) {
		t.Errorf("Open in a 0500 directory = %v; want an error naming the file", err)
	}
}

func TestOpenCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if _, err := Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "state.db")); !errors.Is(err, context.Canceled) {
		t.Errorf("Open with a canceled context = %v", err)
	}
}
