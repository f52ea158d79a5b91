package state

// The journal of the two SQL Stores: their statements are in sqlcore.go;
// here is how each store runs them. SQLite writes under its write mutex
// and goes by the process's clock; PostgreSQL runs every call under its
// timeout and goes by the database's clock, the one clock that all the
// instances sharing the journal agree on.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// journalFail wraps an error of the SQLite journal's operation what; the
// store's own decisions (ErrNotOwner, ErrNoSuchOperation, an ID taken)
// are returned as they are.
func (s *sqlStore) journalFail(what string, err error) error {
	var keep *keepError
	if errors.As(err, &keep) {
		return keep.err
	}
	return s.fail(what, err)
}

// StartOperation records op as running; see Journal.
func (s *sqlStore) StartOperation(ctx context.Context, op Operation) (Operation, error) {
	if err := s.check(ctx); err != nil {
		return Operation{}, err
	}
	if err := checkOperation(op); err != nil {
		return Operation{}, err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	out, err := s.startOperation(ctx, op, time.Now().UnixNano())
	if err != nil {
		return Operation{}, s.journalFail("record operation "+op.ID, err)
	}
	return out, nil
}

// SaveOperation stores op's progress; see Journal.
func (s *sqlStore) SaveOperation(ctx context.Context, op Operation) (bool, error) {
	if err := s.check(ctx); err != nil {
		return false, err
	}
	if err := checkOwner(op.ID, op.Instance); err != nil {
		return false, err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	cancel, err := s.saveOperation(ctx, op, time.Now().UnixNano())
	if err != nil {
		return false, s.journalFail("save operation "+op.ID, err)
	}
	return cancel, nil
}

// FinishOperation records op's end; see Journal.
func (s *sqlStore) FinishOperation(ctx context.Context, op Operation) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := checkEnd(op); err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.finishOperation(ctx, op, time.Now().UnixNano()); err != nil {
		return s.journalFail("finish operation "+op.ID, err)
	}
	return nil
}

// ReleaseOperation leaves the operation without an owner; see Journal.
func (s *sqlStore) ReleaseOperation(ctx context.Context, id, instance string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := checkOwner(id, instance); err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.releaseOperation(ctx, id, instance); err != nil {
		return s.journalFail("release operation "+id, err)
	}
	return nil
}

// TakeOperation makes instance the owner of a running operation whose
// owner is gone; see Journal.
func (s *sqlStore) TakeOperation(ctx context.Context, id, instance string, stale time.Duration) (Operation, bool, error) {
	if err := s.check(ctx); err != nil {
		return Operation{}, false, err
	}
	if err := checkOwner(id, instance); err != nil {
		return Operation{}, false, err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	op, took, err := s.takeOperation(ctx, id, instance, stale, time.Now().UnixNano())
	if err != nil {
		return Operation{}, false, s.journalFail("take operation "+id, err)
	}
	return op, took, nil
}

// RequestCancel asks the owner to stop; see Journal.
func (s *sqlStore) RequestCancel(ctx context.Context, id string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.requestCancel(ctx, id); err != nil {
		return s.journalFail("cancel operation "+id, err)
	}
	return nil
}

// Operation returns the record of id; see Journal.
func (s *sqlStore) Operation(ctx context.Context, id string) (Operation, error) {
	if err := s.check(ctx); err != nil {
		return Operation{}, err
	}
	if s.noJournal {
		return Operation{}, fmt.Errorf("state: operation %s: %w", id, ErrNoSuchOperation)
	}
	op, err := s.operation(ctx, s.db, id)
	if err != nil {
		return Operation{}, s.journalFail("read operation "+id, err)
	}
	return op, nil
}

// Operations lists the records, running ones first; see Journal.
func (s *sqlStore) Operations(ctx context.Context, runningOnly bool) ([]Operation, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if s.noJournal {
		return nil, nil
	}
	out, err := s.operations(ctx, runningOnly)
	if err != nil {
		return nil, s.fail("list operations", err)
	}
	return out, nil
}

// PruneOperations removes old finished records; see Journal.
func (s *sqlStore) PruneOperations(ctx context.Context, age time.Duration, keep int) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.pruneOperations(ctx, age, keep, time.Now().UnixNano()); err != nil {
		return s.fail("prune operations", err)
	}
	return nil
}

// SharedJournal is false: the SQLite file belongs to one process (its
// lock file keeps others away).
func (s *sqlStore) SharedJournal() bool { return false }

// DurableJournal is true: the journal is in the file.
func (s *sqlStore) DurableJournal() bool { return true }

// pgOperationText rejects an operation whose text PostgreSQL cannot hold
// (see pgText). Current and Error, which are only shown, are made to fit
// by pgFit instead.
func pgOperationText(op Operation) error {
	for _, v := range []string{op.ID, op.User, op.Method, op.Src, op.Dst, op.Depth, op.Instance, op.Phase} {
		if !pgText(v) {
			return fmt.Errorf("state: operation %q cannot be stored in PostgreSQL: a field is not valid UTF-8 or holds a NUL byte", op.ID)
		}
	}
	return nil
}

// pgFit returns v with what PostgreSQL's text cannot hold replaced: NUL
// bytes dropped, invalid UTF-8 as U+FFFD.
func pgFit(v string) string {
	if pgText(v) {
		return v
	}
	return strings.ToValidUTF8(strings.ReplaceAll(v, "\x00", ""), "\uFFFD")
}

// pgNoSuchOperation is the answer for an ID PostgreSQL cannot hold, which
// therefore names no operation.
func (s *pgStore) pgNoSuchOperation(ctx context.Context, id string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	return fmt.Errorf("state: operation %q: %w", id, ErrNoSuchOperation)
}

// StartOperation records op as running; see Journal. Started and
// Heartbeat come from the database's clock.
func (s *pgStore) StartOperation(ctx context.Context, op Operation) (Operation, error) {
	if err := checkOperation(op); err != nil {
		return Operation{}, err
	}
	if err := pgOperationText(op); err != nil {
		return Operation{}, err
	}
	op.Current = pgFit(op.Current)
	var out Operation
	err := s.do(ctx, pgOpTimeout, "record operation "+op.ID, func(ctx context.Context) error {
		var err error
		out, err = s.startOperation(ctx, op, 0)
		return err
	})
	return out, err
}

// SaveOperation stores op's progress; see Journal.
func (s *pgStore) SaveOperation(ctx context.Context, op Operation) (bool, error) {
	if err := checkOwner(op.ID, op.Instance); err != nil {
		return false, err
	}
	if err := pgOperationText(op); err != nil {
		return false, err
	}
	op.Current = pgFit(op.Current)
	var cancel bool
	err := s.do(ctx, pgOpTimeout, "save operation "+op.ID, func(ctx context.Context) error {
		var err error
		cancel, err = s.saveOperation(ctx, op, 0)
		return err
	})
	return cancel, err
}

// FinishOperation records op's end; see Journal. Finished comes from the
// database's clock.
func (s *pgStore) FinishOperation(ctx context.Context, op Operation) error {
	if err := checkEnd(op); err != nil {
		return err
	}
	if err := pgOperationText(op); err != nil {
		return err
	}
	op.Current, op.Error = pgFit(op.Current), pgFit(op.Error)
	return s.do(ctx, pgOpTimeout, "finish operation "+op.ID, func(ctx context.Context) error {
		return s.finishOperation(ctx, op, 0)
	})
}

// ReleaseOperation leaves the operation without an owner; see Journal.
func (s *pgStore) ReleaseOperation(ctx context.Context, id, instance string) error {
	if err := checkOwner(id, instance); err != nil {
		return err
	}
	if !pgText(id) || !pgText(instance) {
		return s.pgNoSuchOperation(ctx, id)
	}
	return s.do(ctx, pgOpTimeout, "release operation "+id, func(ctx context.Context) error {
		return s.releaseOperation(ctx, id, instance)
	})
}

// TakeOperation makes instance the owner of a running operation whose
// owner is gone; see Journal. The heartbeat's age is judged by the
// database's clock, so that instances whose clocks differ agree.
func (s *pgStore) TakeOperation(ctx context.Context, id, instance string, stale time.Duration) (Operation, bool, error) {
	if err := checkOwner(id, instance); err != nil {
		return Operation{}, false, err
	}
	if !pgText(id) || !pgText(instance) {
		return Operation{}, false, s.pgNoSuchOperation(ctx, id)
	}
	var op Operation
	var took bool
	err := s.do(ctx, pgOpTimeout, "take operation "+id, func(ctx context.Context) error {
		var err error
		op, took, err = s.takeOperation(ctx, id, instance, stale, 0)
		return err
	})
	return op, took, err
}

// RequestCancel asks the owner to stop; see Journal.
func (s *pgStore) RequestCancel(ctx context.Context, id string) error {
	if !pgText(id) {
		return s.pgNoSuchOperation(ctx, id)
	}
	return s.do(ctx, pgOpTimeout, "cancel operation "+id, func(ctx context.Context) error {
		return s.requestCancel(ctx, id)
	})
}

// Operation returns the record of id; see Journal.
func (s *pgStore) Operation(ctx context.Context, id string) (Operation, error) {
	if !pgText(id) {
		return Operation{}, s.pgNoSuchOperation(ctx, id)
	}
	var op Operation
	err := s.do(ctx, pgOpTimeout, "read operation "+id, func(ctx context.Context) error {
		var err error
		op, err = s.operation(ctx, s.db, id)
		return err
	})
	return op, err
}

// Operations lists the records of every instance, running ones first;
// see Journal.
func (s *pgStore) Operations(ctx context.Context, runningOnly bool) ([]Operation, error) {
	var out []Operation
	err := s.do(ctx, pgOpTimeout, "list operations", func(ctx context.Context) error {
		var err error
		out, err = s.operations(ctx, runningOnly)
		return err
	})
	return out, err
}

// PruneOperations removes old finished records, by the database's clock;
// see Journal.
func (s *pgStore) PruneOperations(ctx context.Context, age time.Duration, keep int) error {
	return s.do(ctx, pgOpTimeout, "prune operations", func(ctx context.Context) error {
		return s.pruneOperations(ctx, age, keep, 0)
	})
}

// SharedJournal is true: every instance on the database works on it.
func (s *pgStore) SharedJournal() bool { return true }

// DurableJournal is true.
func (s *pgStore) DurableJournal() bool { return true }
