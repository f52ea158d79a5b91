package state

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
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
func Open(ctx context.Context, url string) (Store, error) {
	switch {
	case url == "memory:" || url == "memory://":
		return newMemory(), nil
	case strings.HasPrefix(url, "sqlite://"):
		file := strings.TrimPrefix(url, "sqlite://")
		if !filepath.IsAbs(file) {
			return nil, fmt.Errorf("state: %q: the state file must be an absolute path, as in %s", url, stateURLForms)
		}
		file = filepath.Clean(file)
		if err := prepareFile(file); err != nil {
			return nil, err
		}
		return openSQLite(ctx, file, "")
	case strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://"):
		return openPostgres(ctx, url)
	}
	return nil, fmt.Errorf("state: unknown state URL %q: want %s", url, stateURLForms)
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
