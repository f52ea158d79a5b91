package state

// Every SQL statement of the package is in this file. The statements are
// plain SQL that SQLite and PostgreSQL both accept, except for what the
// dialect supplies: parameter markers, column types, and the byte-exact
// path suffix expression. A PostgreSQL Store would be another dialect plus
// its own open function (the integrity checks in initSQLite are
// SQLite-specific).

import (
	"context"
	"database/sql"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
)

// schemaVersion is the version of the tables below, recorded in meta.
const schemaVersion = 1

// Rows of meta that mark a davd state database.
const (
	metaApplication = "davd-state"
	metaKeyApp      = "application"
	metaKeyVersion  = "schema_version"
)

// dialect holds what differs between SQL engines.
type dialect struct {
	// placeholder returns the marker of the n-th (1-based) parameter.
	placeholder func(n int) string
	// blob is the column type of uninterpreted bytes.
	blob string
	// tail returns an expression for what follows the first n bytes of
	// the text column col, byte for byte; n is a parameter marker.
	tail func(col, n string) string
}

// sqliteDialect is SQLite's. Its substr counts characters in text, so
// tail goes through BLOB to count bytes (paths need not be valid UTF-8).
var sqliteDialect = &dialect{
	placeholder: func(int) string { return "?" },
	blob:        "BLOB",
	tail: func(col, n string) string {
		return "CAST(substr(CAST(" + col + " AS BLOB), " + n + ") AS TEXT)"
	},
}

// A PostgreSQL dialect would be, with text columns declared COLLATE "C" so
// that the range conditions compare bytes:
//
//	placeholder: func(n int) string { return "$" + strconv.Itoa(n) },
//	blob:        "BYTEA",
//	tail:        func(col, n string) string { return "substr(" + col + ", " + n + ")" },

// schema returns the statements that create the tables.
func (d *dialect) schema() []string {
	return []string{
		`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
		`CREATE TABLE props (path TEXT NOT NULL, ns TEXT NOT NULL, local TEXT NOT NULL, xml ` + d.blob + ` NOT NULL,
			PRIMARY KEY (path, ns, local)) WITHOUT ROWID`,
		`CREATE TABLE locks (token TEXT PRIMARY KEY, root TEXT NOT NULL, deep INTEGER NOT NULL,
			shared INTEGER NOT NULL, owner TEXT NOT NULL, "user" TEXT NOT NULL, timeout_ns INTEGER NOT NULL,
			expires_ns INTEGER NOT NULL, created_ns INTEGER NOT NULL)`,
		`CREATE INDEX locks_root ON locks (root)`,
	}
}

// query builds one statement and its arguments in a dialect.
type query struct {
	d    *dialect
	b    strings.Builder
	args []any
}

func (d *dialect) q() *query { return &query{d: d} }

// sql appends text.
func (q *query) sql(s ...string) *query {
	for _, x := range s {
		q.b.WriteString(x)
	}
	return q
}

// arg adds a parameter and returns its marker.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return q.d.placeholder(len(q.args))
}

// atOrBelow returns a condition true when col is p or below it:
// col = p OR (col >= p+"/" AND col < p+"0"), since '0' follows '/'. It is
// written as one range of an index on col, [p, p+"0"), filtered by the
// OR: planners then scan one range instead of merging two (the range
// also holds siblings such as p+"-x", which the filter drops).
func (q *query) atOrBelow(col, p string) string {
	if p == "/" {
		return "1 = 1"
	}
	return "(" + col + " >= " + q.arg(p) + " AND " + col + " < " + q.arg(p+"0") +
		" AND (" + col + " = " + q.arg(p) + " OR " + col + " >= " + q.arg(p+"/") + "))"
}

// sqlStore is the Store over database/sql. The locks live in memory too
// (locker, written through); so does the set of paths that have
// properties, so that Props of any other path does no I/O. The process
// must be the database's only user.
type sqlStore struct {
	*locker // the lock methods

	db   *sql.DB
	d    *dialect
	file string
	// lock keeps other servers off the file (lockState), from open to
	// Close; nil when none is held.
	lock interface{ Close() error }

	// wmu serializes write transactions: the database takes one writer
	// at a time anyway, and holding wmu keeps the set in step with it.
	// Lock order: locker.mu, then wmu, then mu.
	wmu  sync.Mutex
	mu   sync.RWMutex
	have map[string]struct{} // paths with properties

	// For tests: statements run by writes, rows moved by the last MoveTree.
	stmts     atomic.Int64
	lastMoved atomic.Int64
}

// openSQLite opens the SQLite state database file (which prepareFile has
// vetted), checks it and creates its tables when it is empty. uriParams
// are extra SQLite URI parameters (tests use mode=ro).
func openSQLite(ctx context.Context, file, uriParams string) (*sqlStore, error) {
	dsn := "file:" + uriPath(file) +
		"?_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	if uriParams != "" {
		dsn += "&" + uriParams
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("state: open %s: %w", file, err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	s := &sqlStore{db: db, d: sqliteDialect, file: file, have: map[string]struct{}{}}
	s.locker = newLocker(s)
	if err := s.initSQLite(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// uriPath escapes what SQLite URIs give a meaning to in a file path.
func uriPath(file string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(file)
}

// SQLite primary result codes this file tells apart.
const (
	sqliteCorrupt  = 11
	sqliteReadOnly = 8
	sqliteCantOpen = 14
	sqlitePerm     = 3
	sqliteNotADB   = 26
)

// sqliteCode returns the primary SQLite result code of err, or 0.
func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code() & 0xff
	}
	return 0
}

// openError explains a failure to open or first use the database.
func (s *sqlStore) openError(err error) error {
	switch sqliteCode(err) {
	case sqliteCorrupt, sqliteNotADB:
		return fmt.Errorf("%w (%v)", corrupt(s.file, "is damaged or not an SQLite database"), err)
	case sqliteReadOnly, sqlitePerm:
		return fmt.Errorf("state: cannot write state file %s: it, its directory or its file system is read-only: %w", s.file, err)
	case sqliteCantOpen:
		return fmt.Errorf("state: cannot open state file %s: check that it and its directory exist and are readable and writable: %w", s.file, err)
	}
	return fmt.Errorf("state: open %s: %w", s.file, err)
}

// initSQLite checks the database, creates the schema in an empty one and
// loads what is kept in memory. It changes nothing before the database is
// known to be a davd state database or empty.
func (s *sqlStore) initSQLite(ctx context.Context) error {
	var check string
	if err := s.db.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&check); err != nil {
		return s.openError(err)
	}
	if check != "ok" {
		if len(check) > 200 {
			check = check[:200] + "…"
		}
		return corrupt(s.file, "fails SQLite's integrity check ("+strings.ReplaceAll(check, "\n", "; ")+")")
	}
	tables, err := s.tables(ctx)
	if err != nil {
		return s.openError(err)
	}
	if len(tables) > 0 {
		if err := s.checkSchema(ctx, tables); err != nil {
			return err
		}
	}

	err = s.write(ctx, func(tx *sql.Tx) error {
		if len(tables) == 0 {
			for _, ddl := range s.d.schema() {
				if _, err := tx.ExecContext(ctx, ddl); err != nil {
					return err
				}
			}
			q := s.d.q()
			q.sql(`INSERT INTO meta (key, value) VALUES (`, q.arg(metaKeyApp), `, `, q.arg(metaApplication),
				`), (`, q.arg(metaKeyVersion), `, `, q.arg(strconv.Itoa(schemaVersion)), `)`)
			if _, err := tx.ExecContext(ctx, q.b.String(), q.args...); err != nil {
				return err
			}
		}
		_, err := s.exec(ctx, tx, s.deleteExpired(now()))
		return err
	})
	if err != nil {
		return s.openError(err)
	}
	// WAL is recorded in the file. Should the file system not support it,
	// SQLite keeps the previous mode, which is slower but as safe.
	var mode string
	if err := s.db.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode); err != nil {
		return s.openError(err)
	}
	return s.load(ctx)
}

// tables lists the tables of the database, SQLite's own aside.
func (s *sqlStore) tables(ctx context.Context) (map[string]bool, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	tables := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		tables[name] = true
	}
	return tables, rows.Err()
}

// checkSchema verifies that a database with tables is a davd state
// database of a version this code knows.
func (s *sqlStore) checkSchema(ctx context.Context, tables map[string]bool) error {
	if !tables["meta"] {
		return corrupt(s.file, "is an SQLite database but not a davd state database (it has other tables and no davd schema marker)")
	}
	rows, err := s.db.QueryContext(ctx, `SELECT key, value FROM meta`)
	if err != nil {
		return corrupt(s.file, "has an unreadable meta table ("+err.Error()+")")
	}
	defer rows.Close()
	meta := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return corrupt(s.file, "has an unreadable meta table ("+err.Error()+")")
		}
		meta[k] = v
	}
	if err := rows.Err(); err != nil {
		return s.openError(err)
	}
	if meta[metaKeyApp] != metaApplication || meta[metaKeyVersion] == "" {
		return corrupt(s.file, "is an SQLite database but not a davd state database (no davd schema marker in its meta table)")
	}
	if v := meta[metaKeyVersion]; v != strconv.Itoa(schemaVersion) {
		return fmt.Errorf("%w: %s has schema version %s, which this davd does not know (it knows %d): use the davd that wrote it, or move the file away to start with empty state",
			ErrCorrupt, s.file, v, schemaVersion)
	}
	if !tables["props"] || !tables["locks"] {
		return corrupt(s.file, "lacks the props or locks table")
	}
	return nil
}

// load reads the paths with properties and the live locks.
func (s *sqlStore) load(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT path FROM props`)
	if err != nil {
		return s.openError(err)
	}
	defer rows.Close()
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return s.openError(err)
		}
		s.have[p] = struct{}{}
	}
	if err := rows.Err(); err != nil {
		return s.openError(err)
	}

	lrows, err := s.db.QueryContext(ctx, `SELECT token, root, deep, shared, owner, "user", timeout_ns, expires_ns, created_ns FROM locks`)
	if err != nil {
		return s.openError(err)
	}
	defer lrows.Close()
	var ls []Lock
	for lrows.Next() {
		var l Lock
		var timeout, expires, created int64
		if err := lrows.Scan(&l.Token, &l.Root, &l.Deep, &l.Shared, &l.Owner, &l.User, &timeout, &expires, &created); err != nil {
			return s.openError(err)
		}
		l.Timeout = time.Duration(timeout)
		l.Expires = fromNanos(expires)
		l.Created = fromNanos(created)
		ls = append(ls, l)
	}
	if err := lrows.Err(); err != nil {
		return s.openError(err)
	}
	s.locker.load(ls)
	return nil
}

// nanos returns t as nanoseconds since 1970, 0 for the zero time.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos undoes nanos.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// fail wraps an error of operation op.
func (s *sqlStore) fail(op string, err error) error {
	return fmt.Errorf("state: %s (%s): %w", op, s.file, err)
}

// write runs f in a write transaction.
func (s *sqlStore) write(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// exec runs q in tx and returns the number of rows it changed.
func (s *sqlStore) exec(ctx context.Context, tx *sql.Tx, q *query) (int64, error) {
	s.stmts.Add(1)
	res, err := tx.ExecContext(ctx, q.b.String(), q.args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// deleteExpired is the statement that purges the locks expired at t.
func (s *sqlStore) deleteExpired(t time.Time) *query {
	q := s.d.q()
	return q.sql(`DELETE FROM locks WHERE expires_ns <> 0 AND expires_ns < `, q.arg(t.UnixNano()))
}

// haveAtOrBelow reports whether p or a path below it has properties.
func (s *sqlStore) haveAtOrBelow(p string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.have[p]; ok {
		return true
	}
	for q := range s.have {
		if atOrBelow(q, p) {
			return true
		}
	}
	return false
}

// Props returns the dead properties of path; see Store. A path without
// properties is answered from memory.
func (s *sqlStore) Props(ctx context.Context, path string) ([]Property, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if err := checkPath(path); err != nil {
		return nil, err
	}
	s.mu.RLock()
	_, ok := s.have[path]
	s.mu.RUnlock()
	if !ok {
		return nil, nil
	}
	q := s.d.q()
	q.sql(`SELECT ns, local, xml FROM props WHERE path = `, q.arg(path), ` ORDER BY ns, local`)
	rows, err := s.db.QueryContext(ctx, q.b.String(), q.args...)
	if err != nil {
		return nil, s.fail("read properties of "+path, err)
	}
	defer rows.Close()
	var out []Property
	for rows.Next() {
		var p Property
		if err := rows.Scan(&p.Name.Space, &p.Name.Local, &p.XML); err != nil {
			return nil, s.fail("read properties of "+path, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("read properties of "+path, err)
	}
	return out, nil
}

// PatchProps sets and removes properties of path in one transaction; see
// Store. A name both set and removed in one call is an error.
func (s *sqlStore) PatchProps(ctx context.Context, path string, set []Property, remove []xml.Name) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := checkPatch(path, set, remove); err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if len(set) == 0 {
		s.mu.RLock()
		_, ok := s.have[path]
		s.mu.RUnlock()
		if !ok {
			return nil // nothing to remove
		}
	}
	var has bool
	err := s.write(ctx, func(tx *sql.Tx) error {
		for _, p := range set {
			q := s.d.q()
			q.sql(`INSERT INTO props (path, ns, local, xml) VALUES (`, q.arg(path), `, `, q.arg(p.Name.Space), `, `,
				q.arg(p.Name.Local), `, `, q.arg(p.XML), `) ON CONFLICT (path, ns, local) DO UPDATE SET xml = excluded.xml`)
			if _, err := s.exec(ctx, tx, q); err != nil {
				return err
			}
		}
		for _, n := range remove {
			q := s.d.q()
			q.sql(`DELETE FROM props WHERE path = `, q.arg(path), ` AND ns = `, q.arg(n.Space), ` AND local = `, q.arg(n.Local))
			if _, err := s.exec(ctx, tx, q); err != nil {
				return err
			}
		}
		q := s.d.q()
		q.sql(`SELECT EXISTS (SELECT 1 FROM props WHERE path = `, q.arg(path), `)`)
		return tx.QueryRowContext(ctx, q.b.String(), q.args...).Scan(&has)
	})
	if err != nil {
		return s.fail("change properties of "+path, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if has {
		s.have[path] = struct{}{}
	} else {
		delete(s.have, path)
	}
	return nil
}

// CopyTree copies the dead properties of the tree at src to dst with one
// INSERT … SELECT; see Store. What dst and its members had before is
// replaced. The trees must not overlap.
func (s *sqlStore) CopyTree(ctx context.Context, src, dst string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := checkTreeOp("copy", src, dst); err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	srcHas, dstHas := s.haveAtOrBelow(src), s.haveAtOrBelow(dst)
	if !srcHas && !dstHas {
		return nil
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if dstHas {
			if _, err := s.exec(ctx, tx, s.deleteProps(dst)); err != nil {
				return err
			}
		}
		if srcHas {
			q := s.d.q()
			q.sql(`INSERT INTO props (path, ns, local, xml) SELECT `, q.arg(dst), ` || `, s.d.tail("path", q.arg(len(src)+1)),
				`, ns, local, xml FROM props WHERE `, q.atOrBelow("path", src))
			if _, err := s.exec(ctx, tx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return s.fail("copy properties of "+src+" to "+dst, err)
	}
	s.rebaseHave(src, dst, false)
	return nil
}

// MoveTree moves the dead properties of the tree at src to dst with one
// UPDATE, and removes the locks rooted at or below src; see Store. What
// dst and its members had before is replaced. The trees must not overlap.
func (s *sqlStore) MoveTree(ctx context.Context, src, dst string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := checkTreeOp("move", src, dst); err != nil {
		return err
	}
	return s.removeTree(src, func(haveLocks bool) error {
		s.wmu.Lock()
		defer s.wmu.Unlock()
		srcHas, dstHas := s.haveAtOrBelow(src), s.haveAtOrBelow(dst)
		if !srcHas && !dstHas && !haveLocks {
			return nil
		}
		err := s.write(ctx, func(tx *sql.Tx) error {
			if dstHas {
				if _, err := s.exec(ctx, tx, s.deleteProps(dst)); err != nil {
					return err
				}
			}
			if srcHas {
				q := s.d.q()
				q.sql(`UPDATE props SET path = `, q.arg(dst), ` || `, s.d.tail("path", q.arg(len(src)+1)),
					` WHERE `, q.atOrBelow("path", src))
				n, err := s.exec(ctx, tx, q)
				if err != nil {
					return err
				}
				s.lastMoved.Store(n)
			}
			if haveLocks {
				if _, err := s.exec(ctx, tx, s.deleteLocks(src)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return s.fail("move properties of "+src+" to "+dst, err)
		}
		s.rebaseHave(src, dst, true)
		return nil
	})
}

// DeleteTree removes the dead properties and locks of the tree at path;
// see Store.
func (s *sqlStore) DeleteTree(ctx context.Context, path string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := checkPath(path); err != nil {
		return err
	}
	return s.removeTree(path, func(haveLocks bool) error {
		s.wmu.Lock()
		defer s.wmu.Unlock()
		has := s.haveAtOrBelow(path)
		if !has && !haveLocks {
			return nil
		}
		err := s.write(ctx, func(tx *sql.Tx) error {
			if has {
				if _, err := s.exec(ctx, tx, s.deleteProps(path)); err != nil {
					return err
				}
			}
			if haveLocks {
				if _, err := s.exec(ctx, tx, s.deleteLocks(path)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return s.fail("delete the state of "+path, err)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for q := range s.have {
			if atOrBelow(q, path) {
				delete(s.have, q)
			}
		}
		return nil
	})
}

// deleteProps is the statement that deletes the properties at or below p.
func (s *sqlStore) deleteProps(p string) *query {
	q := s.d.q()
	return q.sql(`DELETE FROM props WHERE `, q.atOrBelow("path", p))
}

// deleteLocks is the statement that deletes the locks rooted at or below p.
func (s *sqlStore) deleteLocks(p string) *query {
	q := s.d.q()
	return q.sql(`DELETE FROM locks WHERE `, q.atOrBelow("root", p))
}

// rebaseHave updates the set of paths with properties after dst was given
// the properties of src (which keeps them unless move).
func (s *sqlStore) rebaseHave(src, dst string, move bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var moved []string
	for p := range s.have {
		switch {
		case atOrBelow(p, dst):
			delete(s.have, p)
		case atOrBelow(p, src):
			moved = append(moved, rebase(p, src, dst))
			if move {
				delete(s.have, p)
			}
		}
	}
	for _, p := range moved {
		s.have[p] = struct{}{}
	}
}

// insertLock stores l after purging the locks expired at t (lockPersister).
func (s *sqlStore) insertLock(ctx context.Context, l Lock, t time.Time) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, s.deleteExpired(t)); err != nil {
			return err
		}
		q := s.d.q()
		q.sql(`INSERT INTO locks (token, root, deep, shared, owner, "user", timeout_ns, expires_ns, created_ns) VALUES (`,
			q.arg(l.Token), `, `, q.arg(l.Root), `, `, q.arg(l.Deep), `, `, q.arg(l.Shared), `, `, q.arg(l.Owner), `, `,
			q.arg(l.User), `, `, q.arg(int64(l.Timeout)), `, `, q.arg(nanos(l.Expires)), `, `, q.arg(nanos(l.Created)), `)`)
		_, err := s.exec(ctx, tx, q)
		return err
	})
	if err != nil {
		return s.fail("store lock on "+l.Root, err)
	}
	return nil
}

// updateLock stores the new timeout of l (lockPersister).
func (s *sqlStore) updateLock(ctx context.Context, l Lock) error {
	q := s.d.q()
	q.sql(`UPDATE locks SET timeout_ns = `, q.arg(int64(l.Timeout)), `, expires_ns = `, q.arg(nanos(l.Expires)),
		` WHERE token = `, q.arg(l.Token))
	return s.writeOne(ctx, "refresh lock on "+l.Root, q)
}

// deleteLock removes the lock with token (lockPersister).
func (s *sqlStore) deleteLock(ctx context.Context, token string) error {
	q := s.d.q()
	q.sql(`DELETE FROM locks WHERE token = `, q.arg(token))
	return s.writeOne(ctx, "remove lock", q)
}

// writeOne runs the single statement q in a transaction of its own; what
// names the change in an error.
func (s *sqlStore) writeOne(ctx context.Context, what string, q *query) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, q)
		return err
	})
	if err != nil {
		return s.fail(what, err)
	}
	return nil
}

// Close releases the database. Later calls fail.
func (s *sqlStore) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if s.lock != nil {
		defer s.lock.Close() // after the database: see lockState
	}
	// Wait for writes in progress, so that they are not cut off.
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.db.Close(); err != nil {
		return s.fail("close", err)
	}
	return nil
}

var _ Store = (*sqlStore)(nil)
