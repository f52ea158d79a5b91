package state

import (
	"context"
	"fmt"
	"time"
)

// The journal of a WithPrefix view is the underlying store's: Src and Dst
// are mapped into its namespace and back, and the view knows only the
// operations whose Src and Dst are inside it. Those of other views are
// ErrNoSuchOperation to it, whoever guesses their ID.

// opIn maps the paths of op from the view into the underlying store.
func (s *prefixed) opIn(op Operation) (Operation, error) {
	var err error
	if op.Src, err = s.in(op.Src); err != nil {
		return Operation{}, fmt.Errorf("state: operation %s: %w", op.ID, err)
	}
	if op.Dst != "" {
		if op.Dst, err = s.in(op.Dst); err != nil {
			return Operation{}, fmt.Errorf("state: operation %s: %w", op.ID, err)
		}
	}
	return op, nil
}

// opVisible reports whether op, of the underlying store, is inside the
// view.
func (s *prefixed) opVisible(op Operation) bool {
	return atOrBelow(op.Src, s.prefix) && (op.Dst == "" || atOrBelow(op.Dst, s.prefix))
}

// opOut maps op, which is visible, into the view.
func (s *prefixed) opOut(op Operation) Operation {
	op.Src = s.unprefix(op.Src)
	if op.Dst != "" {
		op.Dst = s.unprefix(op.Dst)
	}
	return op
}

// visibleOp checks that the view is open and that the operation id is
// inside it.
func (s *prefixed) visibleOp(ctx context.Context, id string) error {
	_, err := s.Operation(ctx, id)
	return err
}

// StartOperation records op with its paths in the underlying store.
func (s *prefixed) StartOperation(ctx context.Context, op Operation) (Operation, error) {
	op, err := s.opIn(op)
	if err != nil {
		return Operation{}, err
	}
	got, err := s.st.StartOperation(ctx, op)
	if err != nil {
		return Operation{}, err
	}
	return s.opOut(got), nil
}

// SaveOperation saves the progress in the underlying store. It does not
// check that the operation is inside the view: it saves nothing unless
// op.Instance owns the operation, and runs at every save of every long
// operation.
func (s *prefixed) SaveOperation(ctx context.Context, op Operation) (bool, error) {
	if _, err := s.in("/"); err != nil {
		return false, err
	}
	return s.st.SaveOperation(ctx, op)
}

// FinishOperation records the end of an operation inside the view.
func (s *prefixed) FinishOperation(ctx context.Context, op Operation) error {
	if err := s.visibleOp(ctx, op.ID); err != nil {
		return err
	}
	return s.st.FinishOperation(ctx, op)
}

// ReleaseOperation releases an operation inside the view.
func (s *prefixed) ReleaseOperation(ctx context.Context, id, instance string) error {
	if err := s.visibleOp(ctx, id); err != nil {
		return err
	}
	return s.st.ReleaseOperation(ctx, id, instance)
}

// TakeOperation takes an operation inside the view.
func (s *prefixed) TakeOperation(ctx context.Context, id, instance string, stale time.Duration) (Operation, bool, error) {
	if err := s.visibleOp(ctx, id); err != nil {
		return Operation{}, false, err
	}
	op, took, err := s.st.TakeOperation(ctx, id, instance, stale)
	if err != nil {
		return Operation{}, false, err
	}
	return s.opOut(op), took, nil
}

// RequestCancel asks to stop an operation inside the view.
func (s *prefixed) RequestCancel(ctx context.Context, id string) error {
	if err := s.visibleOp(ctx, id); err != nil {
		return err
	}
	return s.st.RequestCancel(ctx, id)
}

// Operation returns the record of id if it is inside the view.
func (s *prefixed) Operation(ctx context.Context, id string) (Operation, error) {
	if _, err := s.in("/"); err != nil {
		return Operation{}, err
	}
	op, err := s.st.Operation(ctx, id)
	if err != nil {
		return Operation{}, err
	}
	if !s.opVisible(op) {
		return Operation{}, fmt.Errorf("state: operation %s: %w", id, ErrNoSuchOperation)
	}
	return s.opOut(op), nil
}

// Operations lists the records of the underlying store inside the view,
// rebased into it, in the underlying store's order.
func (s *prefixed) Operations(ctx context.Context, runningOnly bool) ([]Operation, error) {
	if _, err := s.in("/"); err != nil {
		return nil, err
	}
	all, err := s.st.Operations(ctx, runningOnly)
	if err != nil {
		return nil, err
	}
	var out []Operation
	for _, op := range all {
		if s.opVisible(op) {
			out = append(out, s.opOut(op))
		}
	}
	return out, nil
}

// PruneOperations prunes the journal of the underlying store, which the
// views share: its bounds are the store's, not the view's.
func (s *prefixed) PruneOperations(ctx context.Context, age time.Duration, keep int) error {
	if _, err := s.in("/"); err != nil {
		return err
	}
	return s.st.PruneOperations(ctx, age, keep)
}

// SharedJournal is the underlying store's.
func (s *prefixed) SharedJournal() bool { return s.st.SharedJournal() }

// DurableJournal is the underlying store's.
func (s *prefixed) DurableJournal() bool { return s.st.DurableJournal() }
