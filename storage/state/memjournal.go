package state

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// memJournal is the journal of a memory store: nothing survives a
// restart, so it serves only the monitors of the operations of the
// running process. Its clock is the process's, in UTC.
type memJournal struct {
	mu  sync.Mutex
	ops map[string]*Operation // by ID; never shared with callers
}

// cloneOperation returns a copy of op that shares no memory with it.
func cloneOperation(op *Operation) Operation {
	c := *op
	c.Failures = slices.Clone(op.Failures)
	return c
}

// owned returns the running operation id owned by instance; mu must be
// held.
func (j *memJournal) owned(id, instance string) (*Operation, error) {
	op := j.ops[id]
	switch {
	case op == nil:
		return nil, fmt.Errorf("state: operation %s: %w", id, ErrNoSuchOperation)
	case op.State != OpRunning || op.Instance != instance:
		return nil, fmt.Errorf("state: operation %s: %w", id, ErrNotOwner)
	}
	return op, nil
}

// StartOperation records op as running; see Journal.
func (s *memStore) StartOperation(ctx context.Context, op Operation) (Operation, error) {
	if err := s.check(ctx); err != nil {
		return Operation{}, err
	}
	if err := checkOperation(op); err != nil {
		return Operation{}, err
	}
	j := &s.journal
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.ops == nil {
		j.ops = map[string]*Operation{}
	}
	if j.ops[op.ID] != nil {
		return Operation{}, fmt.Errorf("state: operation %s: %w", op.ID, errOperationExists)
	}
	t := time.Now().UTC()
	op.Started, op.Heartbeat, op.Finished = t, t, time.Time{}
	op.State, op.Resumed, op.CancelRequested, op.Status, op.Failures, op.Error = OpRunning, 0, false, 0, nil, ""
	j.ops[op.ID] = &op
	return cloneOperation(&op), nil
}

// SaveOperation stores op's progress; see Journal.
func (s *memStore) SaveOperation(ctx context.Context, op Operation) (bool, error) {
	if err := s.check(ctx); err != nil {
		return false, err
	}
	if err := checkOwner(op.ID, op.Instance); err != nil {
		return false, err
	}
	j := &s.journal
	j.mu.Lock()
	defer j.mu.Unlock()
	cur, err := j.owned(op.ID, op.Instance)
	if err != nil {
		return false, err
	}
	cur.Phase, cur.Current = op.Phase, op.Current
	cur.Resources, cur.TotalResources, cur.Bytes, cur.TotalBytes = op.Resources, op.TotalResources, op.Bytes, op.TotalBytes
	cur.Heartbeat = time.Now().UTC()
	return cur.CancelRequested, nil
}

// FinishOperation records op's end; see Journal.
func (s *memStore) FinishOperation(ctx context.Context, op Operation) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := checkEnd(op); err != nil {
		return err
	}
	j := &s.journal
	j.mu.Lock()
	defer j.mu.Unlock()
	cur, err := j.owned(op.ID, op.Instance)
	if err != nil {
		return err
	}
	t := time.Now().UTC()
	cur.State, cur.Status, cur.Error, cur.Failures = op.State, op.Status, op.Error, cutFailures(op.Failures)
	cur.Phase, cur.Current = op.Phase, op.Current
	cur.Resources, cur.TotalResources, cur.Bytes, cur.TotalBytes = op.Resources, op.TotalResources, op.Bytes, op.TotalBytes
	cur.Heartbeat, cur.Finished = t, t
	return nil
}

// ReleaseOperation leaves the operation without an owner; see Journal.
func (s *memStore) ReleaseOperation(ctx context.Context, id, instance string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := checkOwner(id, instance); err != nil {
		return err
	}
	j := &s.journal
	j.mu.Lock()
	defer j.mu.Unlock()
	cur, err := j.owned(id, instance)
	if err != nil {
		return err
	}
	cur.Instance = ""
	return nil
}

// TakeOperation makes instance the owner of a running operation whose
// owner is gone; see Journal.
func (s *memStore) TakeOperation(ctx context.Context, id, instance string, stale time.Duration) (Operation, bool, error) {
	if err := s.check(ctx); err != nil {
		return Operation{}, false, err
	}
	if err := checkOwner(id, instance); err != nil {
		return Operation{}, false, err
	}
	j := &s.journal
	j.mu.Lock()
	defer j.mu.Unlock()
	cur := j.ops[id]
	if cur == nil {
		return Operation{}, false, fmt.Errorf("state: operation %s: %w", id, ErrNoSuchOperation)
	}
	t := time.Now().UTC()
	if cur.State != OpRunning || !(cur.Instance == "" || cur.Instance == instance || cur.Heartbeat.Before(t.Add(-stale))) {
		return cloneOperation(cur), false, nil
	}
	if cur.Instance != instance {
		cur.Resumed++
	}
	cur.Instance, cur.Heartbeat = instance, t
	return cloneOperation(cur), true, nil
}

// RequestCancel asks the owner to stop; see Journal.
func (s *memStore) RequestCancel(ctx context.Context, id string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	j := &s.journal
	j.mu.Lock()
	defer j.mu.Unlock()
	cur := j.ops[id]
	if cur == nil {
		return fmt.Errorf("state: operation %s: %w", id, ErrNoSuchOperation)
	}
	if cur.State == OpRunning {
		cur.CancelRequested = true
	}
	return nil
}

// Operation returns the record of id; see Journal.
func (s *memStore) Operation(ctx context.Context, id string) (Operation, error) {
	if err := s.check(ctx); err != nil {
		return Operation{}, err
	}
	j := &s.journal
	j.mu.Lock()
	defer j.mu.Unlock()
	cur := j.ops[id]
	if cur == nil {
		return Operation{}, fmt.Errorf("state: operation %s: %w", id, ErrNoSuchOperation)
	}
	return cloneOperation(cur), nil
}

// Operations lists the records, running ones first; see Journal.
func (s *memStore) Operations(ctx context.Context, runningOnly bool) ([]Operation, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	j := &s.journal
	j.mu.Lock()
	var out []Operation
	for _, op := range j.ops {
		if !runningOnly || op.State == OpRunning {
			out = append(out, cloneOperation(op))
		}
	}
	j.mu.Unlock()
	slices.SortFunc(out, compareOperations)
	return out, nil
}

// compareOperations orders operations as Operations lists them: running
// ones first, oldest first, then the others, newest first; ties by ID.
func compareOperations(a, b Operation) int {
	ar, br := a.State == OpRunning, b.State == OpRunning
	switch {
	case ar && !br:
		return -1
	case br && !ar:
		return 1
	case ar:
		if c := a.Started.Compare(b.Started); c != 0 {
			return c
		}
	default:
		if c := b.Finished.Compare(a.Finished); c != 0 {
			return c
		}
	}
	return cmp.Compare(a.ID, b.ID)
}

// PruneOperations removes old finished records; see Journal.
func (s *memStore) PruneOperations(ctx context.Context, age time.Duration, keep int) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	j := &s.journal
	j.mu.Lock()
	defer j.mu.Unlock()
	cutoff := time.Now().UTC().Add(-age)
	var done []Operation
	for id, op := range j.ops {
		switch {
		case op.State == OpRunning:
		case age > 0 && op.Finished.Before(cutoff):
			delete(j.ops, id)
		default:
			done = append(done, *op)
		}
	}
	if keep > 0 && len(done) > keep {
		slices.SortFunc(done, compareOperations)
		for _, op := range done[keep:] {
			delete(j.ops, op.ID)
		}
	}
	return nil
}

// SharedJournal is false: the memory store belongs to its process.
func (s *memStore) SharedJournal() bool { return false }

// DurableJournal is false: the journal is lost with the process.
func (s *memStore) DurableJournal() bool { return false }
