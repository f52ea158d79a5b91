package state

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// The lock methods of the PostgreSQL Store. Every one is a query: the
// locks are shared by every instance using the database, so none is kept
// in memory. Times are the database's (pgNow), so that instances whose
// clocks differ agree on when a lock lapses.
//
// CreateLock is one transaction that first takes the advisory lock
// pgKeyLocks exclusively: its conflict check (the resource, its ancestors'
// deep locks, and for a deep lock everything below) and its cap counts
// cannot interleave with another CreateLock of any instance. One key for
// the whole table, rather than keys per path, because a deep lock's check
// covers an unbounded subtree; the critical section is a few index lookups,
// so it bounds LOCK throughput of all instances together at roughly one
// lock per round trip to the database. MoveTree and DeleteTree take the
// same key shared before they delete locks, so that no lock can be created
// under a tree while it is being moved or deleted and survive it.

// lockTable takes the advisory lock pgKeyLocks for the rest of tx:
// exclusively to create a lock, shared to remove locks.
func (s *pgStore) lockTable(ctx context.Context, tx *sql.Tx, exclusive bool) error {
	f := "pg_advisory_xact_lock_shared"
	if exclusive {
		f = "pg_advisory_xact_lock"
	}
	_, err := tx.ExecContext(ctx, `SELECT `+f+`($1, $2)`, pgAdvisoryClass, pgKeyLocks)
	return err
}

// ancestors returns the proper ancestors of the clean absolute path p,
// nearest first ("/" has none).
func ancestors(p string) []string {
	var out []string
	for p != "/" {
		p = parentDir(p)
		out = append(out, p)
	}
	return out
}

// coveringCond is the condition of the locks that apply to p: rooted at
// p, or deep and rooted at an ancestor.
func coveringCond(q *query, p string) string {
	cond := "root = " + q.arg(p)
	if anc := ancestors(p); len(anc) > 0 {
		cond = "(" + cond + " OR (deep AND " + q.in("root", anc) + "))"
	}
	return cond
}

// queryLocks runs q, a SELECT of lockCols, in tx (or the database when tx
// is nil).
func (s *pgStore) queryLocks(ctx context.Context, tx *sql.Tx, q *query) ([]Lock, error) {
	var rows *sql.Rows
	var err error
	if tx != nil {
		rows, err = tx.QueryContext(ctx, q.b.String(), q.args...)
	} else {
		rows, err = s.db.QueryContext(ctx, q.b.String(), q.args...)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Lock
	for rows.Next() {
		l, err := scanLock(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// CreateLock records a new lock; see Store and the comment above.
func (s *pgStore) CreateLock(ctx context.Context, l Lock) (Lock, error) {
	if err := s.check(ctx); err != nil {
		return Lock{}, err
	}
	if err := checkPGPath(l.Root); err != nil {
		return Lock{}, err
	}
	if _, err := expiry(now(), l.Timeout); err != nil {
		return Lock{}, err
	}
	l.Token = newToken()
	caps := l.Caps
	l.Caps = LockCaps{}
	err := s.do(ctx, pgOpTimeout, "store lock on "+l.Root, func(ctx context.Context) error {
		return s.write(ctx, func(tx *sql.Tx) error {
			if err := s.lockTable(ctx, tx, true); err != nil {
				return err
			}
			var t int64
			if err := tx.QueryRowContext(ctx, `SELECT `+pgNow).Scan(&t); err != nil {
				return err
			}
			// Expired locks go first: they count against nothing, and a
			// RefreshLock racing with this transaction waits for it and
			// then finds its lock gone rather than reviving it.
			q := s.d.q()
			q.sql(`DELETE FROM locks WHERE expires_ns <> 0 AND expires_ns < `, q.arg(t))
			if _, err := s.exec(ctx, tx, q); err != nil {
				return err
			}
			if err := s.withinCaps(ctx, tx, l, caps); err != nil {
				return err
			}
			q = s.d.q()
			q.sql(`SELECT `+lockCols+` FROM locks WHERE `, coveringCond(q, l.Root))
			if l.Deep {
				q.sql(` OR `, q.below("root", l.Root))
			}
			cands, err := s.queryLocks(ctx, tx, q)
			if err != nil {
				return err
			}
			var in []Lock
			for _, c := range cands {
				if conflicts(l, c) {
					in = append(in, c)
				}
			}
			if len(in) > 0 {
				return &keepError{&ConflictError{Locks: sortLocks(in)}}
			}
			l.Created = fromNanos(t)
			if l.Timeout > 0 {
				l.Expires = fromNanos(t + int64(l.Timeout))
			}
			_, err = s.exec(ctx, tx, s.insertLockQuery(l))
			return err
		})
	})
	if err != nil {
		return Lock{}, err
	}
	return l, nil
}

// withinCaps fails with ErrTooManyLocks when adding l would pass caps.
// It runs in CreateLock's transaction, after the purge of expired locks.
func (s *pgStore) withinCaps(ctx context.Context, tx *sql.Tx, l Lock, caps LockCaps) error {
	if caps.PerRoot <= 0 && caps.PerUser <= 0 {
		return nil
	}
	q := s.d.q()
	q.sql(`SELECT (SELECT count(*) FROM locks WHERE root = `, q.arg(l.Root), `), (SELECT count(*) FROM locks WHERE "user" = `, q.arg(l.User), `)`)
	var perRoot, perUser int
	if err := tx.QueryRowContext(ctx, q.b.String(), q.args...).Scan(&perRoot, &perUser); err != nil {
		return err
	}
	if caps.PerRoot > 0 && perRoot >= caps.PerRoot {
		return &keepError{fmt.Errorf("%w: the resource already has %d locks, the most allowed", ErrTooManyLocks, perRoot)}
	}
	if caps.PerUser > 0 && perUser >= caps.PerUser {
		return &keepError{fmt.Errorf("%w: the user already holds %d locks, the most allowed", ErrTooManyLocks, perUser)}
	}
	return nil
}

// RefreshLock restarts the timeout of a live lock, by the database's
// clock; see Store.
func (s *pgStore) RefreshLock(ctx context.Context, token string, timeout time.Duration) (Lock, error) {
	if err := s.check(ctx); err != nil {
		return Lock{}, err
	}
	if _, err := expiry(now(), timeout); err != nil {
		return Lock{}, err
	}
	var ls []Lock
	err := s.do(ctx, pgOpTimeout, "refresh a lock", func(ctx context.Context) error {
		q := s.d.q()
		tm := "CAST(" + q.arg(int64(timeout)) + " AS BIGINT)"
		q.sql(`UPDATE locks SET timeout_ns = `, tm, `, expires_ns = CASE WHEN `, tm, ` = 0 THEN 0 ELSE `, pgNow, ` + `, tm,
			` END WHERE token = `, q.arg(token), ` AND `, pgLive, ` RETURNING `, lockCols)
		var err error
		ls, err = s.queryLocks(ctx, nil, q)
		return err
	})
	if err != nil {
		return Lock{}, err
	}
	if len(ls) == 0 {
		return Lock{}, fmt.Errorf("%w: %s", ErrNoSuchLock, token)
	}
	return ls[0], nil
}

// Unlock removes a live lock; see Store.
func (s *pgStore) Unlock(ctx context.Context, token string) error {
	var n int64
	err := s.do(ctx, pgOpTimeout, "remove a lock", func(ctx context.Context) error {
		q := s.d.q()
		q.sql(`DELETE FROM locks WHERE token = `, q.arg(token), ` AND `, pgLive)
		res, err := s.db.ExecContext(ctx, q.b.String(), q.args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: %s", ErrNoSuchLock, token)
	}
	return nil
}

// LookupLock returns the live lock with token; see Store.
func (s *pgStore) LookupLock(ctx context.Context, token string) (Lock, error) {
	var ls []Lock
	err := s.do(ctx, pgOpTimeout, "look up a lock", func(ctx context.Context) error {
		q := s.d.q()
		q.sql(`SELECT `+lockCols+` FROM locks WHERE token = `, q.arg(token), ` AND `, pgLive)
		var err error
		ls, err = s.queryLocks(ctx, nil, q)
		return err
	})
	if err != nil {
		return Lock{}, err
	}
	if len(ls) == 0 {
		return Lock{}, fmt.Errorf("%w: %s", ErrNoSuchLock, token)
	}
	return ls[0], nil
}

// LocksCovering returns the live locks that apply to path; see Store.
func (s *pgStore) LocksCovering(ctx context.Context, path string) ([]Lock, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if err := checkPath(path); err != nil {
		return nil, err
	}
	var ls []Lock
	err := s.do(ctx, pgOpTimeout, "read the locks of "+path, func(ctx context.Context) error {
		q := s.d.q()
		cond := ""
		if pgText(path) {
			cond = coveringCond(q, path)
		} else {
			// Only the deep locks of the ancestors that can have
			// state ("/" always can) cover it.
			var anc []string
			for _, a := range ancestors(path) {
				if pgText(a) {
					anc = append(anc, a)
				}
			}
			cond = "(deep AND " + q.in("root", anc) + ")"
		}
		q.sql(`SELECT `+lockCols+` FROM locks WHERE `, cond, ` AND `, pgLive, ` ORDER BY root, token`)
		var err error
		ls, err = s.queryLocks(ctx, nil, q)
		return err
	})
	return ls, err
}

// LocksBelow returns the live locks rooted strictly below path; see
// Store.
func (s *pgStore) LocksBelow(ctx context.Context, path string) ([]Lock, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if err := checkPath(path); err != nil {
		return nil, err
	}
	if !pgText(path) {
		return nil, nil // nothing below path can have state
	}
	var ls []Lock
	err := s.do(ctx, pgOpTimeout, "read the locks below "+path, func(ctx context.Context) error {
		q := s.d.q()
		q.sql(`SELECT `+lockCols+` FROM locks WHERE `, q.below("root", path), ` AND `, pgLive, ` ORDER BY root, token`)
		var err error
		ls, err = s.queryLocks(ctx, nil, q)
		return err
	})
	return ls, err
}
