package state

// Every SQL statement the two SQL Stores (SQLite and PostgreSQL) share is
// built in this file. The statements are plain SQL that both engines
// accept, except for what the dialect supplies: parameter markers, column
// types, and the byte-exact path suffix expression. What only one engine
// runs (SQLite's integrity checks and pragmas, PostgreSQL's advisory locks
// and lock queries) is in sqlite.go and postgres*.go.

import (
	"context"
	"database/sql"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
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
	// text is the column type of paths, names and tokens. Its ordering
	// must be byte order: the range conditions below rely on it.
	text string
	// int64 and boolean are the column types of those Go types.
	int64, boolean string
	// id declares a 64-bit primary key the database assigns.
	id string
	// keyed follows the column list of a table stored by its primary key.
	keyed string
	// str returns an expression for text parameter marker m where the
	// engine cannot infer its type (an operand of ||).
	str func(m string) string
	// tail returns an expression for what follows the first n bytes of
	// the text column col, byte for byte; n is a parameter marker.
	tail func(col, n string) string
	// extra are statements the engine adds after the common schema
	// (indexes that only it needs).
	extra []string
	// clock is an expression of the database's clock in nanoseconds
	// since 1970, which the journal then goes by; "" when it goes by the
	// clock of the store's process, passed as a parameter.
	clock string
}

// sqliteDialect is SQLite's. Its substr counts characters in text, so
// tail goes through BLOB to count bytes (paths need not be valid UTF-8).
var sqliteDialect = &dialect{
	placeholder: func(int) string { return "?" },
	blob:        "BLOB",
	text:        "TEXT",
	int64:       "INTEGER",
	boolean:     "INTEGER",
	id:          "INTEGER PRIMARY KEY",
	keyed:       " WITHOUT ROWID",
	str:         func(m string) string { return m },
	tail: func(col, n string) string {
		return "CAST(substr(CAST(" + col + " AS BLOB), " + n + ") AS TEXT)"
	},
}

// schema returns the statements that create the tables of schema version
// 1, meta first. The intents table comes with intentTable.
func (d *dialect) schema() []string {
	t := d.text
	return append([]string{
		`CREATE TABLE meta (key ` + t + ` PRIMARY KEY, value ` + t + ` NOT NULL)`,
		`CREATE TABLE props (path ` + t + ` NOT NULL, ns ` + t + ` NOT NULL, local ` + t + ` NOT NULL, xml ` + d.blob + ` NOT NULL,
			PRIMARY KEY (path, ns, local))` + d.keyed,
		`CREATE TABLE locks (token ` + t + ` PRIMARY KEY, root ` + t + ` NOT NULL, deep ` + d.boolean + ` NOT NULL,
			shared ` + d.boolean + ` NOT NULL, owner ` + t + ` NOT NULL, "user" ` + t + ` NOT NULL, timeout_ns ` + d.int64 + ` NOT NULL,
			expires_ns ` + d.int64 + ` NOT NULL, created_ns ` + d.int64 + ` NOT NULL)`,
		`CREATE INDEX locks_root ON locks (root)`,
	}, d.extra...)
}

// intentTable creates the table of intents, in databases made before it
// existed too: older versions of davd ignore it.
func (d *dialect) intentTable() string {
	t := d.text
	return `CREATE TABLE IF NOT EXISTS intents (id ` + d.id + `, op ` + t + ` NOT NULL,
	src ` + t + ` NOT NULL, dst ` + t + ` NOT NULL, mark ` + t + ` NOT NULL, old_mark ` + t + ` NOT NULL, aside ` + t + ` NOT NULL, had_state ` + d.boolean + ` NOT NULL)`
}

// operationTable creates the journal's table and its index, in
// databases made before they existed too: older versions of davd ignore
// them. Times are nanoseconds since 1970, 0 for none; failures is the
// JSON of Operation.Failures, "" for none.
func (d *dialect) operationTable() []string {
	t, n, b := d.text, d.int64, d.boolean
	return []string{
		`CREATE TABLE IF NOT EXISTS operations (id ` + t + ` PRIMARY KEY, "user" ` + t + ` NOT NULL, method ` + t + ` NOT NULL,
	src ` + t + ` NOT NULL, dst ` + t + ` NOT NULL, depth ` + t + ` NOT NULL, overwrite ` + b + ` NOT NULL, async ` + b + ` NOT NULL,
	instance ` + t + ` NOT NULL, started_ns ` + n + ` NOT NULL, heartbeat_ns ` + n + ` NOT NULL, finished_ns ` + n + ` NOT NULL,
	phase ` + t + ` NOT NULL, state ` + t + ` NOT NULL, resumed ` + n + ` NOT NULL, resources ` + n + ` NOT NULL,
	total_resources ` + n + ` NOT NULL, bytes ` + n + ` NOT NULL, total_bytes ` + n + ` NOT NULL, current_member ` + t + ` NOT NULL,
	cancel_requested ` + b + ` NOT NULL, status ` + n + ` NOT NULL, failures ` + t + ` NOT NULL, error ` + t + ` NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS operations_state ON operations (state)`,
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

// strictlyBelow returns a condition true when col is below p, which is
// not "/": col >= p+"/" AND col < p+"0", one range of an index on col.
func (q *query) strictlyBelow(col, p string) string {
	return "(" + col + " >= " + q.arg(p+"/") + " AND " + col + " < " + q.arg(p+"0") + ")"
}

// below is strictlyBelow for any p, "/" included.
func (q *query) below(col, p string) string {
	if p == "/" {
		return "(" + col + " <> " + q.arg("/") + ")"
	}
	return q.strictlyBelow(col, p)
}

// in returns col IN (vs...); vs must not be empty.
func (q *query) in(col string, vs []string) string {
	marks := make([]string, len(vs))
	for i, v := range vs {
		marks[i] = q.arg(v)
	}
	return col + " IN (" + strings.Join(marks, ", ") + ")"
}

// lockCols are the columns of a lock row, in the order scanLock reads.
const lockCols = `token, root, deep, shared, owner, "user", timeout_ns, expires_ns, created_ns`

// scanLock reads a row of lockCols.
func scanLock(rows interface{ Scan(...any) error }) (Lock, error) {
	var l Lock
	var timeout, expires, created int64
	if err := rows.Scan(&l.Token, &l.Root, &l.Deep, &l.Shared, &l.Owner, &l.User, &timeout, &expires, &created); err != nil {
		return Lock{}, err
	}
	l.Timeout = time.Duration(timeout)
	l.Expires = fromNanos(expires)
	l.Created = fromNanos(created)
	return l, nil
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

// sqlCore runs the statements both SQL Stores share on one database.
type sqlCore struct {
	db *sql.DB
	d  *dialect

	// For tests: statements run by writes, rows moved by the last MoveTree.
	stmts     atomic.Int64
	lastMoved atomic.Int64
}

// write runs f in a write transaction.
func (c *sqlCore) write(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := c.db.BeginTx(ctx, nil)
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
func (c *sqlCore) exec(ctx context.Context, tx *sql.Tx, q *query) (int64, error) {
	c.stmts.Add(1)
	res, err := tx.ExecContext(ctx, q.b.String(), q.args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// rowPaths runs q, a statement whose rows are one path each (a write's
// RETURNING clause, or a SELECT) in tx, or in the database when tx is
// nil, and returns those paths.
func (c *sqlCore) rowPaths(ctx context.Context, tx *sql.Tx, q *query) ([]string, error) {
	var rows *sql.Rows
	var err error
	if tx != nil {
		c.stmts.Add(1)
		rows, err = tx.QueryContext(ctx, q.b.String(), q.args...)
	} else {
		rows, err = c.db.QueryContext(ctx, q.b.String(), q.args...)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// createSchema creates the tables in an empty database and marks it.
func (c *sqlCore) createSchema(ctx context.Context, tx *sql.Tx) error {
	for _, ddl := range c.d.schema() {
		if _, err := tx.ExecContext(ctx, ddl); err != nil {
			return err
		}
	}
	q := c.d.q()
	q.sql(`INSERT INTO meta (key, value) VALUES (`, q.arg(metaKeyApp), `, `, q.arg(metaApplication),
		`), (`, q.arg(metaKeyVersion), `, `, q.arg(strconv.Itoa(schemaVersion)), `)`)
	_, err := tx.ExecContext(ctx, q.b.String(), q.args...)
	return err
}

// queryer is what *sql.DB and *sql.Tx have in common for reads.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// readMeta returns the rows of the meta table, read through qr.
func readMeta(ctx context.Context, qr queryer) (map[string]string, error) {
	rows, err := qr.QueryContext(ctx, `SELECT key, value FROM meta`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	meta := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		meta[k] = v
	}
	return meta, rows.Err()
}

// readProps returns the properties of path, ordered by name.
func (c *sqlCore) readProps(ctx context.Context, path string) ([]Property, error) {
	q := c.d.q()
	q.sql(`SELECT ns, local, xml FROM props WHERE path = `, q.arg(path), ` ORDER BY ns, local`)
	rows, err := c.db.QueryContext(ctx, q.b.String(), q.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Property
	for rows.Next() {
		var p Property
		if err := rows.Scan(&p.Name.Space, &p.Name.Local, &p.XML); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// patchProps sets and removes properties of path in tx and reports
// whether path has properties afterwards.
func (c *sqlCore) patchProps(ctx context.Context, tx *sql.Tx, path string, set []Property, remove []xml.Name) (bool, error) {
	for _, p := range set {
		q := c.d.q()
		q.sql(`INSERT INTO props (path, ns, local, xml) VALUES (`, q.arg(path), `, `, q.arg(p.Name.Space), `, `,
			q.arg(p.Name.Local), `, `, q.arg(p.XML), `) ON CONFLICT (path, ns, local) DO UPDATE SET xml = excluded.xml`)
		if _, err := c.exec(ctx, tx, q); err != nil {
			return false, err
		}
	}
	for _, n := range remove {
		q := c.d.q()
		q.sql(`DELETE FROM props WHERE path = `, q.arg(path), ` AND ns = `, q.arg(n.Space), ` AND local = `, q.arg(n.Local))
		if _, err := c.exec(ctx, tx, q); err != nil {
			return false, err
		}
	}
	var has bool
	q := c.d.q()
	q.sql(`SELECT EXISTS (SELECT 1 FROM props WHERE path = `, q.arg(path), `)`)
	err := tx.QueryRowContext(ctx, q.b.String(), q.args...).Scan(&has)
	return has, err
}

// copyProps is the statement that copies the properties of the tree at
// src to dst and returns the new rows' paths.
func (c *sqlCore) copyProps(src, dst string) *query {
	q := c.d.q()
	return q.sql(`INSERT INTO props (path, ns, local, xml) SELECT `, c.d.str(q.arg(dst)), ` || `, c.d.tail("path", q.arg(len(src)+1)),
		`, ns, local, xml FROM props WHERE `, q.atOrBelow("path", src), ` RETURNING path`)
}

// moveProps is the statement that moves the properties of the tree at
// src to dst and returns their new paths.
func (c *sqlCore) moveProps(src, dst string) *query {
	q := c.d.q()
	return q.sql(`UPDATE props SET path = `, c.d.str(q.arg(dst)), ` || `, c.d.tail("path", q.arg(len(src)+1)),
		` WHERE `, q.atOrBelow("path", src), ` RETURNING path`)
}

// deleteProps is the statement that deletes the properties at or below p
// and returns their paths.
func (c *sqlCore) deleteProps(p string) *query {
	q := c.d.q()
	return q.sql(`DELETE FROM props WHERE `, q.atOrBelow("path", p), ` RETURNING path`)
}

// deleteLocks is the statement that deletes the locks rooted at or below p.
func (c *sqlCore) deleteLocks(p string) *query {
	q := c.d.q()
	return q.sql(`DELETE FROM locks WHERE `, q.atOrBelow("root", p))
}

// insertLockQuery is the statement that stores l.
func (c *sqlCore) insertLockQuery(l Lock) *query {
	q := c.d.q()
	return q.sql(`INSERT INTO locks (`+lockCols+`) VALUES (`,
		q.arg(l.Token), `, `, q.arg(l.Root), `, `, q.arg(l.Deep), `, `, q.arg(l.Shared), `, `, q.arg(l.Owner), `, `,
		q.arg(l.User), `, `, q.arg(int64(l.Timeout)), `, `, q.arg(nanos(l.Expires)), `, `, q.arg(nanos(l.Created)), `)`)
}

// beginIntent records in and returns its ID.
func (c *sqlCore) beginIntent(ctx context.Context, in Intent) (int64, error) {
	var id int64
	err := c.write(ctx, func(tx *sql.Tx) error {
		q := c.d.q()
		q.sql(`INSERT INTO intents (op, src, dst, mark, old_mark, aside, had_state) VALUES (`, q.arg(in.Op), `, `, q.arg(in.Src),
			`, `, q.arg(in.Dst), `, `, q.arg(in.Mark), `, `, q.arg(in.OldMark), `, `, q.arg(in.Aside), `, `, q.arg(in.HadState), `) RETURNING id`)
		c.stmts.Add(1)
		return tx.QueryRowContext(ctx, q.b.String(), q.args...).Scan(&id)
	})
	return id, err
}

// endIntent deletes the intent id.
func (c *sqlCore) endIntent(ctx context.Context, id int64) error {
	return c.write(ctx, func(tx *sql.Tx) error {
		q := c.d.q()
		_, err := c.exec(ctx, tx, q.sql(`DELETE FROM intents WHERE id = `, q.arg(id)))
		return err
	})
}

// intents lists the intents, oldest first.
func (c *sqlCore) intents(ctx context.Context) ([]Intent, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT id, op, src, dst, mark, old_mark, aside, had_state FROM intents ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Intent
	for rows.Next() {
		var in Intent
		if err := rows.Scan(&in.ID, &in.Op, &in.Src, &in.Dst, &in.Mark, &in.OldMark, &in.Aside, &in.HadState); err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, rows.Err()
}

// opCols are the columns of an operation row, in the order scanOperation
// reads.
const opCols = `id, "user", method, src, dst, depth, overwrite, async, instance, started_ns, heartbeat_ns, finished_ns,
	phase, state, resumed, resources, total_resources, bytes, total_bytes, current_member, cancel_requested, status, failures, error`

// scanOperation reads a row of opCols; its times are in UTC.
func scanOperation(rows interface{ Scan(...any) error }) (Operation, error) {
	var op Operation
	var started, heartbeat, finished, resumed, status int64
	var failures string
	if err := rows.Scan(&op.ID, &op.User, &op.Method, &op.Src, &op.Dst, &op.Depth, &op.Overwrite, &op.Async, &op.Instance,
		&started, &heartbeat, &finished, &op.Phase, &op.State, &resumed, &op.Resources, &op.TotalResources, &op.Bytes,
		&op.TotalBytes, &op.Current, &op.CancelRequested, &status, &failures, &op.Error); err != nil {
		return Operation{}, err
	}
	op.Started, op.Heartbeat, op.Finished = fromNanos(started).UTC(), fromNanos(heartbeat).UTC(), fromNanos(finished).UTC()
	op.Resumed, op.Status = int(resumed), int(status)
	if failures != "" {
		if err := json.Unmarshal([]byte(failures), &op.Failures); err != nil {
			return Operation{}, fmt.Errorf("operation %s: failures: %w", op.ID, err)
		}
	}
	return op, nil
}

// failuresText returns the failures column of fs, cut to MaxFailures.
func failuresText(fs []MemberFailure) (string, error) {
	fs = cutFailures(fs)
	if len(fs) == 0 {
		return "", nil
	}
	b, err := json.Marshal(fs)
	return string(b), err
}

// now returns the journal's clock in q: the database's when it has one
// (dialect.clock), else t, nanoseconds since 1970 by the process's clock.
func (q *query) now(t int64) string {
	if q.d.clock != "" {
		return q.d.clock
	}
	return q.arg(t)
}

// opGone returns the error of a write to the operation id that changed
// nothing: ErrNoSuchOperation when there is none, else ErrNotOwner. Both
// are decisions, not failures: they come wrapped in a keepError.
func (c *sqlCore) opGone(ctx context.Context, tx *sql.Tx, id string) error {
	var exists bool
	q := c.d.q()
	q.sql(`SELECT EXISTS (SELECT 1 FROM operations WHERE id = `, q.arg(id), `)`)
	if err := tx.QueryRowContext(ctx, q.b.String(), q.args...).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		return &keepError{fmt.Errorf("state: operation %s: %w", id, ErrNoSuchOperation)}
	}
	return &keepError{fmt.Errorf("state: operation %s: %w", id, ErrNotOwner)}
}

// owned is the condition of the running operation id owned by instance.
func (q *query) owned(id, instance string) string {
	return `id = ` + q.arg(id) + ` AND instance = ` + q.arg(instance) + ` AND state = ` + q.arg(OpRunning)
}

// startOperation records op as running (see Journal); t is the process's
// clock.
func (c *sqlCore) startOperation(ctx context.Context, op Operation, t int64) (Operation, error) {
	op.Finished, op.State, op.Resumed, op.CancelRequested, op.Status, op.Failures, op.Error = time.Time{}, OpRunning, 0, false, 0, nil, ""
	var started, heartbeat int64
	err := c.write(ctx, func(tx *sql.Tx) error {
		q := c.d.q()
		q.sql(`INSERT INTO operations (`+opCols+`) VALUES (`,
			q.arg(op.ID), `, `, q.arg(op.User), `, `, q.arg(op.Method), `, `, q.arg(op.Src), `, `, q.arg(op.Dst), `, `,
			q.arg(op.Depth), `, `, q.arg(op.Overwrite), `, `, q.arg(op.Async), `, `, q.arg(op.Instance), `, `,
			q.now(t), `, `, q.now(t), `, 0, `, q.arg(op.Phase), `, `, q.arg(OpRunning), `, 0, `,
			q.arg(op.Resources), `, `, q.arg(op.TotalResources), `, `, q.arg(op.Bytes), `, `, q.arg(op.TotalBytes), `, `,
			q.arg(op.Current), `, `, q.arg(false), `, 0, '', '') ON CONFLICT (id) DO NOTHING RETURNING started_ns, heartbeat_ns`)
		c.stmts.Add(1)
		err := tx.QueryRowContext(ctx, q.b.String(), q.args...).Scan(&started, &heartbeat)
		if errors.Is(err, sql.ErrNoRows) {
			return &keepError{fmt.Errorf("state: operation %s: %w", op.ID, errOperationExists)}
		}
		return err
	})
	if err != nil {
		return Operation{}, err
	}
	op.Started, op.Heartbeat = fromNanos(started).UTC(), fromNanos(heartbeat).UTC()
	return op, nil
}

// saveOperation stores op's progress and renews its heartbeat if
// op.Instance owns it, and reports whether a cancellation was requested
// (see Journal); t is the process's clock.
func (c *sqlCore) saveOperation(ctx context.Context, op Operation, t int64) (bool, error) {
	var cancel bool
	err := c.write(ctx, func(tx *sql.Tx) error {
		q := c.d.q()
		q.sql(`UPDATE operations SET phase = `, q.arg(op.Phase), `, resources = `, q.arg(op.Resources),
			`, total_resources = `, q.arg(op.TotalResources), `, bytes = `, q.arg(op.Bytes), `, total_bytes = `, q.arg(op.TotalBytes),
			`, current_member = `, q.arg(op.Current), `, heartbeat_ns = `, q.now(t),
			` WHERE `, q.owned(op.ID, op.Instance), ` RETURNING cancel_requested`)
		c.stmts.Add(1)
		err := tx.QueryRowContext(ctx, q.b.String(), q.args...).Scan(&cancel)
		if errors.Is(err, sql.ErrNoRows) {
			return c.opGone(ctx, tx, op.ID)
		}
		return err
	})
	return cancel, err
}

// finishOperation records op's end if op.Instance owns it (see Journal);
// t is the process's clock.
func (c *sqlCore) finishOperation(ctx context.Context, op Operation, t int64) error {
	failures, err := failuresText(op.Failures)
	if err != nil {
		return err
	}
	return c.write(ctx, func(tx *sql.Tx) error {
		q := c.d.q()
		q.sql(`UPDATE operations SET state = `, q.arg(op.State), `, status = `, q.arg(int64(op.Status)), `, phase = `, q.arg(op.Phase),
			`, resources = `, q.arg(op.Resources), `, total_resources = `, q.arg(op.TotalResources), `, bytes = `, q.arg(op.Bytes),
			`, total_bytes = `, q.arg(op.TotalBytes), `, current_member = `, q.arg(op.Current), `, failures = `, q.arg(failures),
			`, error = `, q.arg(op.Error), `, heartbeat_ns = `, q.now(t), `, finished_ns = `, q.now(t),
			` WHERE `, q.owned(op.ID, op.Instance))
		n, err := c.exec(ctx, tx, q)
		if err == nil && n == 0 {
			return c.opGone(ctx, tx, op.ID)
		}
		return err
	})
}

// releaseOperation leaves the running operation id, owned by instance,
// without an owner (see Journal).
func (c *sqlCore) releaseOperation(ctx context.Context, id, instance string) error {
	return c.write(ctx, func(tx *sql.Tx) error {
		q := c.d.q()
		q.sql(`UPDATE operations SET instance = '' WHERE `, q.owned(id, instance))
		n, err := c.exec(ctx, tx, q)
		if err == nil && n == 0 {
			return c.opGone(ctx, tx, id)
		}
		return err
	})
}

// takeOperation makes instance the owner of the running operation id
// when it has none, has it already or its owner's heartbeat is older
// than stale, in one conditional UPDATE: of instances that try at once,
// one wins (see Journal). t is the process's clock.
func (c *sqlCore) takeOperation(ctx context.Context, id, instance string, stale time.Duration, t int64) (Operation, bool, error) {
	var op Operation
	var took bool
	err := c.write(ctx, func(tx *sql.Tx) error {
		q := c.d.q()
		q.sql(`UPDATE operations SET resumed = resumed + CASE WHEN instance = `, q.arg(instance), ` THEN 0 ELSE 1 END, instance = `,
			q.arg(instance), `, heartbeat_ns = `, q.now(t), ` WHERE id = `, q.arg(id), ` AND state = `, q.arg(OpRunning),
			` AND (instance = '' OR instance = `, q.arg(instance), ` OR heartbeat_ns < `, q.now(t), ` - `, q.arg(int64(stale)),
			`) RETURNING `+opCols)
		c.stmts.Add(1)
		var err error
		op, err = scanOperation(tx.QueryRowContext(ctx, q.b.String(), q.args...))
		if err == nil {
			took = true
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		op, err = c.operation(ctx, tx, id)
		return err
	})
	return op, took, err
}

// requestCancel marks the running operation id as to be cancelled (see
// Journal).
func (c *sqlCore) requestCancel(ctx context.Context, id string) error {
	return c.write(ctx, func(tx *sql.Tx) error {
		q := c.d.q()
		q.sql(`UPDATE operations SET cancel_requested = `, q.arg(true), ` WHERE id = `, q.arg(id), ` AND state = `, q.arg(OpRunning))
		n, err := c.exec(ctx, tx, q)
		if err != nil || n > 0 {
			return err
		}
		if err := c.opGone(ctx, tx, id); errors.Is(err, ErrNoSuchOperation) {
			return err
		}
		return nil // finished: left as it is
	})
}

// operation reads the record of id through qr (the database, or a
// transaction); ErrNoSuchOperation, in a keepError, when there is none.
func (c *sqlCore) operation(ctx context.Context, qr interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}, id string) (Operation, error) {
	q := c.d.q()
	q.sql(`SELECT `+opCols+` FROM operations WHERE id = `, q.arg(id))
	op, err := scanOperation(qr.QueryRowContext(ctx, q.b.String(), q.args...))
	if errors.Is(err, sql.ErrNoRows) {
		return Operation{}, &keepError{fmt.Errorf("state: operation %s: %w", id, ErrNoSuchOperation)}
	}
	return op, err
}

// operations lists the records as Journal.Operations does: running ones
// oldest first, then, unless runningOnly, the others newest first.
func (c *sqlCore) operations(ctx context.Context, runningOnly bool) ([]Operation, error) {
	q := c.d.q()
	q.sql(`SELECT ` + opCols + ` FROM operations`)
	if runningOnly {
		q.sql(` WHERE state = `, q.arg(OpRunning))
	}
	q.sql(` ORDER BY CASE WHEN state = '` + OpRunning + `' THEN 0 ELSE 1 END, CASE WHEN state = '` + OpRunning +
		`' THEN started_ns ELSE -finished_ns END, id`)
	rows, err := c.db.QueryContext(ctx, q.b.String(), q.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Operation
	for rows.Next() {
		op, err := scanOperation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, op)
	}
	return out, rows.Err()
}

// pruneOperations removes the finished records older than age (when
// positive) and the oldest ones beyond keep (when positive); t is the
// process's clock.
func (c *sqlCore) pruneOperations(ctx context.Context, age time.Duration, keep int, t int64) error {
	if age <= 0 && keep <= 0 {
		return nil
	}
	return c.write(ctx, func(tx *sql.Tx) error {
		if age > 0 {
			q := c.d.q()
			q.sql(`DELETE FROM operations WHERE state <> `, q.arg(OpRunning), ` AND finished_ns < `, q.now(t), ` - `, q.arg(int64(age)))
			if _, err := c.exec(ctx, tx, q); err != nil {
				return err
			}
		}
		if keep > 0 {
			q := c.d.q()
			q.sql(`DELETE FROM operations WHERE state <> `, q.arg(OpRunning), ` AND id NOT IN (SELECT id FROM operations WHERE state <> `,
				q.arg(OpRunning), ` ORDER BY finished_ns DESC, id LIMIT `, q.arg(int64(keep)), `)`)
			if _, err := c.exec(ctx, tx, q); err != nil {
				return err
			}
		}
		return nil
	})
}
