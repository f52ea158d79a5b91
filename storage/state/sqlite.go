package state

// The SQLite Store: the statements it shares with the PostgreSQL Store are
// in sqlcore.go; what is SQLite's own (opening and vetting the file,
// telling a full or read-only file system apart, the in-memory caches
// that a database with a single user allows) is here.

import (
	"context"
	"database/sql"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"modernc.org/sqlite"
)

// sqlStore is the Store over database/sql. The locks live in memory too
// (locker, written through); so does the set of paths that have
// properties, so that Props of any other path does no I/O. The process
// must be the database's only user.
type sqlStore struct {
	*locker // the lock methods
	sqlCore // the statements

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

	// noJournal is true when the database, opened read-only, predates
	// the operations table: its journal is empty.
	noJournal bool
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
	s := &sqlStore{sqlCore: sqlCore{db: db, d: sqliteDialect}, file: file, have: map[string]struct{}{}}
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
	sqliteIOErr    = 10
	sqliteFull     = 13
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
	if cond := s.condition(err); cond != nil {
		return fmt.Errorf("state: open %s: %w: %w", s.file, cond, err)
	}
	return fmt.Errorf("state: open %s: %w", s.file, err)
}

// condition returns ErrFull or ErrReadOnly when err, from a write, is
// due to the file system being full or read-only, and nil otherwise.
// SQLite reports a full disk as SQLITE_FULL and a read-only file as
// SQLITE_READONLY, but a file system that turned read-only under an open
// database (ext4's errors=remount-ro) only as SQLITE_IOERR, without the
// errno: an I/O error is therefore told apart by creating (and removing)
// a file beside the database.
func (s *sqlStore) condition(err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return ErrFull
	case errors.Is(err, syscall.EROFS):
		return ErrReadOnly
	}
	switch sqliteCode(err) {
	case sqliteFull:
		return ErrFull
	case sqliteReadOnly:
		return ErrReadOnly
	case sqliteIOErr:
		f, perr := os.CreateTemp(filepath.Dir(s.file), ".davd-state-probe-*")
		if perr == nil {
			f.Close()
			os.Remove(f.Name())
			return nil
		}
		switch {
		case errors.Is(perr, syscall.EROFS):
			return ErrReadOnly
		case errors.Is(perr, syscall.ENOSPC), errors.Is(perr, syscall.EDQUOT):
			return ErrFull
		}
	}
	return nil
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
			if err := s.createSchema(ctx, tx); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, s.d.intentTable()); err != nil {
			return err
		}
		for _, ddl := range s.d.operationTable() {
			if _, err := tx.ExecContext(ctx, ddl); err != nil {
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
	meta, err := readMeta(ctx, s.db)
	if err != nil {
		return corrupt(s.file, "has an unreadable meta table ("+err.Error()+")")
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

	lrows, err := s.db.QueryContext(ctx, `SELECT `+lockCols+` FROM locks`)
	if err != nil {
		return s.openError(err)
	}
	defer lrows.Close()
	var ls []Lock
	for lrows.Next() {
		l, err := scanLock(lrows)
		if err != nil {
			return s.openError(err)
		}
		ls = append(ls, l)
	}
	if err := lrows.Err(); err != nil {
		return s.openError(err)
	}
	s.locker.load(ls)
	return nil
}

// fail wraps an error of operation op; it also wraps ErrFull or
// ErrReadOnly when the file system is the cause.
func (s *sqlStore) fail(op string, err error) error {
	if cond := s.condition(err); cond != nil {
		return fmt.Errorf("state: %s (%s): %w: %w", op, s.file, cond, err)
	}
	return fmt.Errorf("state: %s (%s): %w", op, s.file, err)
}

// deleteExpired is the statement that purges the locks expired at t.
func (s *sqlStore) deleteExpired(t time.Time) *query {
	q := s.d.q()
	return q.sql(`DELETE FROM locks WHERE expires_ns <> 0 AND expires_ns < `, q.arg(t.UnixNano()))
}

// haveAtOrBelow reports whether p or a path below it has properties: p
// from memory, the paths below it with one query of a range of the
// primary key, so that the cost does not grow with the whole state. wmu
// must be held, which keeps the answer true until the caller's write.
func (s *sqlStore) haveAtOrBelow(ctx context.Context, p string) (bool, error) {
	s.mu.RLock()
	_, ok := s.have[p]
	n := len(s.have)
	s.mu.RUnlock()
	switch {
	case ok:
		return true, nil
	case n == 0:
		return false, nil
	case p == "/":
		return true, nil
	}
	q := s.d.q()
	q.sql(`SELECT EXISTS (SELECT 1 FROM props WHERE `, q.strictlyBelow("path", p), `)`)
	var has bool
	if err := s.db.QueryRowContext(ctx, q.b.String(), q.args...).Scan(&has); err != nil {
		return false, err
	}
	return has, nil
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
	out, err := s.readProps(ctx, path)
	if err != nil {
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
		var err error
		has, err = s.patchProps(ctx, tx, path, set, remove)
		return err
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
	srcHas, dstHas, err := s.haveBoth(ctx, src, dst)
	if err != nil {
		return s.fail("copy properties of "+src+" to "+dst, err)
	}
	if !srcHas && !dstHas {
		return nil
	}
	var gone, added []string
	err = s.write(ctx, func(tx *sql.Tx) error {
		var err error
		if dstHas {
			if gone, err = s.rowPaths(ctx, tx, s.deleteProps(dst)); err != nil {
				return err
			}
		}
		if srcHas {
			if added, err = s.rowPaths(ctx, tx, s.copyProps(src, dst)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return s.fail("copy properties of "+src+" to "+dst, err)
	}
	s.updateHave(gone, added, "", "")
	return nil
}

// haveBoth is haveAtOrBelow of src and of dst.
func (s *sqlStore) haveBoth(ctx context.Context, src, dst string) (srcHas, dstHas bool, err error) {
	if srcHas, err = s.haveAtOrBelow(ctx, src); err != nil {
		return false, false, err
	}
	dstHas, err = s.haveAtOrBelow(ctx, dst)
	return srcHas, dstHas, err
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
		srcHas, dstHas, err := s.haveBoth(ctx, src, dst)
		if err != nil {
			return s.fail("move properties of "+src+" to "+dst, err)
		}
		if !srcHas && !dstHas && !haveLocks {
			return nil
		}
		var gone, added []string
		err = s.write(ctx, func(tx *sql.Tx) error {
			var err error
			if dstHas {
				if gone, err = s.rowPaths(ctx, tx, s.deleteProps(dst)); err != nil {
					return err
				}
			}
			if srcHas {
				if added, err = s.rowPaths(ctx, tx, s.moveProps(src, dst)); err != nil {
					return err
				}
				s.lastMoved.Store(int64(len(added)))
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
		s.updateHave(gone, added, src, dst)
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
		has, err := s.haveAtOrBelow(ctx, path)
		if err != nil {
			return s.fail("delete the state of "+path, err)
		}
		if !has && !haveLocks {
			return nil
		}
		var gone []string
		err = s.write(ctx, func(tx *sql.Tx) error {
			var err error
			if has {
				if gone, err = s.rowPaths(ctx, tx, s.deleteProps(path)); err != nil {
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
		s.updateHave(gone, nil, "", "")
		return nil
	})
}

// updateHave updates the set of paths with properties after a committed
// write that removed every property of the paths gone and gave the paths
// added properties. When movedFrom is set, the added paths were moved from
// there to movedTo, and their old paths lost their properties. The cost is
// that of the rows the write changed, whatever the size of the set.
func (s *sqlStore) updateHave(gone, added []string, movedFrom, movedTo string) {
	if len(gone) == 0 && len(added) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range gone {
		delete(s.have, p)
	}
	for _, p := range added {
		s.have[p] = struct{}{}
		if movedFrom != "" {
			delete(s.have, rebase(p, movedTo, movedFrom))
		}
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
		q := s.insertLockQuery(l)
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
