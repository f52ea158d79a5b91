package state

import (
	"context"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"sync"

	"davd/storage/pathlock"
)

// Path locks of the PostgreSQL Store exclude across instances through
// PostgreSQL's transaction-level advisory locks, which have two modes,
// shared and exclusive. A claim maps to keys in the manner of
// multiple-granularity locking. Each path P has two keys, N(P) and W(P).
// A claim on P takes
//
//   - N(A) shared for every proper ancestor A of P ("something below A is
//     claimed"), and N(P) exclusive, or shared for a shared claim;
//   - when exclusive, W(A) shared for every proper ancestor A ("something
//     below A is written");
//   - when Deep and shared, W(P) exclusive.
//
// Then every pair of claims that pathlock.Conflict says conflict shares a
// key in conflicting modes: the same path through N(P) (or W(P) for two
// deep shared claims); a deep exclusive claim on P and any claim below
// through N(P); a deep shared claim on P and an exclusive claim below
// through W(P). Some claims that do not conflict are serialised too, which
// is safe: a non-deep exclusive claim on P and claims below P (N(P)), two
// deep shared claims on one path (W(P)), and unrelated paths whose keys
// collide (keys are 64-bit FNV-1a hashes of "davd:n:"+P and "davd:w:"+P).
//
// A request takes its keys in ascending order, each once in the strongest
// mode it needs, so requests cannot deadlock; they are held by a
// transaction on a connection of the path-lock pool (at most
// pgPathLockConns per instance, waiting claims included) and released by
// its COMMIT, or by the server when the connection dies. The in-process
// pathlock.Manager runs first: requests of one instance that conflict wait
// for each other there, in arrival order, without holding a connection.

// pgKey returns the advisory lock key of path p of kind ("n" or "w").
func pgKey(kind, p string) int64 {
	h := fnv.New64a()
	h.Write([]byte("davd:" + kind + ":" + p))
	return int64(h.Sum64())
}

// pgKeys returns the keys of claims, ascending, each with whether it is
// taken exclusively.
func pgKeys(claims []pathlock.Claim) (keys []int64, exclusive []bool) {
	modes := map[int64]bool{}
	take := func(k int64, x bool) { modes[k] = modes[k] || x }
	for _, c := range claims {
		anc := ancestors(c.Path)
		for _, a := range anc {
			take(pgKey("n", a), false)
			if !c.Shared {
				take(pgKey("w", a), false)
			}
		}
		take(pgKey("n", c.Path), !c.Shared)
		if c.Deep && c.Shared {
			take(pgKey("w", c.Path), true)
		}
	}
	for k := range modes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	exclusive = make([]bool, len(keys))
	for i, k := range keys {
		exclusive[i] = modes[k]
	}
	return keys, exclusive
}

// Acquire holds path locks across every instance sharing the database;
// see pathlock.Locker and the comment above. It waits as long as ctx
// lives, for claims of other requests; a database that cannot be reached
// fails it with ErrUnavailable after the connect timeout.
func (s *pgStore) Acquire(ctx context.Context, claims ...pathlock.Claim) (func(), error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	for _, c := range claims {
		if err := checkPath(c.Path); err != nil {
			return nil, err
		}
	}
	local, err := s.paths.Acquire(ctx, claims...)
	if err != nil {
		return nil, err
	}
	keys, exclusive := pgKeys(claims)
	// The transaction must outlive a cancellation of ctx (database/sql
	// rolls back a transaction whose context is done): only release ends
	// it. Waiting for the keys does honour ctx.
	tx, err := s.lockDB.BeginTx(context.WithoutCancel(ctx), nil)
	if err != nil {
		local()
		return nil, s.fail(ctx, "take path locks", err)
	}
	var b strings.Builder
	for i, k := range keys {
		// One statement per key, run in order by the simple protocol in
		// one round trip: the keys are numbers, nothing is interpolated.
		if exclusive[i] {
			b.WriteString("SELECT pg_advisory_xact_lock(CAST('")
		} else {
			b.WriteString("SELECT pg_advisory_xact_lock_shared(CAST('")
		}
		b.WriteString(strconv.FormatInt(k, 10))
		b.WriteString("' AS BIGINT));")
	}
	if _, err := tx.ExecContext(ctx, b.String()); err != nil {
		tx.Rollback()
		local()
		return nil, s.fail(ctx, "take path locks", err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			// A failed COMMIT means the connection is gone, and the
			// server released the keys with it.
			tx.Commit()
			local()
		})
	}, nil
}

var _ pathlock.Locker = (*pgStore)(nil)
