package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// stateURLForms lists the URLs Open accepts, for error messages.
const stateURLForms = `"sqlite:///absolute/path/state.db", "postgres://user:password@host/database" or "memory:"`

// Open opens the Store named by url:
//
//	memory:                   a new, empty in-memory store
//	sqlite:///abs/state.db    an SQLite database file
//	postgres://user:pw@host/db (or postgresql://) a PostgreSQL database,
//	                          which several davd instances may share
//
// The path after "sqlite://" is taken literally (no %-decoding, no query)
// and must be absolute. Its directory is created (mode 0700) when missing,
// and the file (mode 0600) when it does not exist. An existing file that
// is not a davd state database — not SQLite, failing an integrity check,
// or holding other tables without davd's schema marker — is left
// untouched and reported with an error wrapping ErrCorrupt. A file that
// cannot be opened for writing is reported as such.
//
// A PostgreSQL URL is pgx's (libpq's keywords in the query). Open connects
// (within 5 seconds unless connect_timeout says less) and creates or
// checks the schema, so that a bad URL, an unreachable server or a wrong
// password fail here; the password never appears in its errors.
//
// An SQLite store holds an exclusive lock (flock) on the file's
// companion FILE.lock (created beside it, holding the owner's process id)
// from Open to Close: a second server on the same state — which would
// ignore the first one's locks, and it its — fails to open it, with an
// error naming the lock file.
func Open(ctx context.Context, url string) (Store, error) {
	return open(ctx, url, false)
}

// OpenReadOnly is Open for a server that changes nothing: it creates,
// writes and removes no file, on a read-only file system or not. A state
// file that does not exist, or is empty, gives an empty in-memory store
// (there is nothing to read, and nothing will be written); its directory
// is not created. An existing SQLite file is opened under a shared lock
// on its FILE.lock, opened without being created, so that read-only
// servers may share a state but not with a server that writes it; a
// missing lock file is not created and the state is read without one.
// The database is opened as immutable (SQLite then creates no -wal or
// -shm file and takes no lock of its own) unless a non-empty FILE-wal
// holds changes a crashed writer did not merge into FILE: then it is
// opened with SQLite's mode=ro on a writable directory, which reads them
// (SQLite may need to create FILE-shm for that), and still as immutable
// on a read-only one, which cannot hold them and where they are ignored.
// The store's write methods fail.
func OpenReadOnly(ctx context.Context, url string) (Store, error) {
	return open(ctx, url, true)
}

func open(ctx context.Context, url string, readOnly bool) (Store, error) {
	switch {
	case url == "memory:" || url == "memory://":
		return newMemory(), nil
	case strings.HasPrefix(url, "sqlite://"):
		file := strings.TrimPrefix(url, "sqlite://")
		if !filepath.IsAbs(file) {
			return nil, fmt.Errorf("state: %q: the state file must be an absolute path, as in %s", url, stateURLForms)
		}
		file = filepath.Clean(file)
		if readOnly {
			return openReadOnly(ctx, file)
		}
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			return nil, fmt.Errorf("state: cannot create the directory of state file %s: %w", file, err)
		}
		lock, err := lockState(file, false)
		if err != nil {
			return nil, err
		}
		if err := prepareFile(file); err != nil {
			lock.Close()
			return nil, err
		}
		s, err := openSQLite(ctx, file, "")
		if err != nil {
			lock.Close()
			return nil, err
		}
		s.lock = lock
		return s, nil
	case strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://"):
		return openPostgres(ctx, url)
	}
	return nil, fmt.Errorf("state: unknown state URL %q: want %s", url, stateURLForms)
}

// lockState takes the lock on file+".lock": exclusive, creating the file
// when missing, or shared, without creating it. A shared lock whose file
// cannot be opened (it does not exist, or cannot be read) is skipped
// (nil, nil): a reader writes nothing, not even a lock file.
func lockState(file string, shared bool) (*os.File, error) {
	name := file + ".lock"
	var f *os.File
	var err error
	if shared {
		// A reader creates nothing: flock works on a descriptor opened
		// read-only, and a missing lock file means no writer holds it.
		if f, err = os.Open(name); err != nil {
			return nil, nil
		}
	} else {
		f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	}
	if err != nil {
		return nil, fmt.Errorf("state: cannot create the lock file %s of state file %s: %w", name, file, err)
	}
	if err := lockFile(f, shared); err != nil {
		f.Close()
		if errors.Is(err, errLockHeld) {
			holder := ""
			if b, _ := os.ReadFile(name); len(b) > 0 && len(b) < 32 {
				holder = " (process " + strings.TrimSpace(string(b)) + ")"
			}
			return nil, fmt.Errorf("state: state file %s is in use by another davd%s, which holds %s: "+
				"two servers on one state would ignore each other's locks; stop the other one or give this one another --state",
				file, holder, name)
		}
		return nil, fmt.Errorf("state: cannot lock %s: %w", name, err)
	}
	if !shared {
		// Only for the message above; the lock is what counts.
		f.Truncate(0)
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// openReadOnly is OpenReadOnly for an SQLite file.
func openReadOnly(ctx context.Context, file string) (Store, error) {
	fi, err := os.Stat(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return newMemory(), nil
	case err != nil:
		return nil, fmt.Errorf("state: cannot use state file %s: %w", file, err)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("state: state file %s is not a regular file", file)
	case fi.Size() == 0:
		return newMemory(), nil
	}
	if err := checkMagic(file); err != nil {
		return nil, err
	}
	lock, err := lockState(file, true)
	if err != nil {
		return nil, err
	}
	// Immutable: SQLite creates no -wal or -shm file and takes no lock,
	// which is right while the shared lock keeps writers away. Changes
	// left in a crashed writer's WAL need mode=ro to be read, which may
	// create the -shm file, and so a writable directory.
	params := "immutable=1"
	if fi, err := os.Stat(file + "-wal"); err == nil && fi.Size() > 0 &&
		dirWritable(filepath.Dir(file)) {
		params = "mode=ro"
	}
	s, err := openSQLiteReadOnly(ctx, file, params)
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		return nil, err
	}
	if lock != nil {
		s.lock = lock
	}
	return s, nil
}

// openSQLiteReadOnly is openSQLite for a database it must not write: it
// checks the database and loads it, and creates nothing.
func openSQLiteReadOnly(ctx context.Context, file, uriParams string) (*sqlStore, error) {
	dsn := "file:" + uriPath(file) + "?_pragma=busy_timeout(10000)&" + uriParams
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("state: open %s: %w", file, err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	s := &sqlStore{sqlCore: sqlCore{db: db, d: sqliteDialect}, file: file, have: map[string]struct{}{}}
	s.locker = newLocker(s)
	fail := func(err error) (*sqlStore, error) {
		db.Close()
		return nil, err
	}
	var check string
	if err := db.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&check); err != nil {
		return fail(s.openError(err))
	}
	if check != "ok" {
		return fail(corrupt(file, "fails SQLite's integrity check"))
	}
	tables, err := s.tables(ctx)
	if err != nil {
		return fail(s.openError(err))
	}
	if err := s.checkSchema(ctx, tables); err != nil {
		return fail(err)
	}
	s.noJournal = !tables["operations"]
	if err := s.load(ctx); err != nil {
		return fail(err)
	}
	return s, nil
}

// sqliteMagic starts every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// corrupt returns the error for a state file that cannot be trusted.
func corrupt(file, why string) error {
	return fmt.Errorf("%w: %s %s; it was left untouched: move it away to start with empty state (its dead properties and locks are then lost)",
		ErrCorrupt, file, why)
}

// prepareFile makes sure the directory of file exists, creates file when
// it does not exist, and rejects an existing file that cannot be written
// or is plainly not an SQLite database. It never changes an existing file.
func prepareFile(file string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("state: cannot create the directory of state file %s: %w", file, err)
	}
	fi, err := os.Stat(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// An empty file is an empty database to SQLite; creating it here
		// gives it restrictive permissions, which its -wal and -shm
		// companions inherit.
		f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			if errors.Is(err, fs.ErrExist) {
				return prepareFile(file) // created meanwhile: check it
			}
			return fmt.Errorf("state: cannot create state file %s: %w", file, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("state: cannot create state file %s: %w", file, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("state: cannot use state file %s: %w", file, err)
	case fi.IsDir():
		return fmt.Errorf("state: state file %s is a directory", file)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("state: state file %s is not a regular file", file)
	}
	f, err := os.OpenFile(file, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("state: cannot open state file %s for writing: %w", file, err)
	}
	f.Close()
	return checkMagic(file)
}

// checkMagic rejects a file that is plainly not an SQLite database; an
// empty file is a new one.
func checkMagic(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("state: cannot read state file %s: %w", file, err)
	}
	defer f.Close()
	var hdr [len(sqliteMagic)]byte
	n, err := io.ReadFull(f, hdr[:])
	switch {
	case n == 0 && err == io.EOF:
		return nil // empty: a new database
	case err != nil && err != io.ErrUnexpectedEOF:
		return fmt.Errorf("state: cannot read state file %s: %w", file, err)
	case string(hdr[:n]) != sqliteMagic:
		return corrupt(file, "is not an SQLite database")
	}
	return nil
}
