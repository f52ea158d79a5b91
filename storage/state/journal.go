package state

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// A COPY, MOVE or DELETE of a collection, or a MOVE that is not one
// rename (across devices, on object storage), touches many members one
// at a time and can take minutes: a crash, a deploy or a power cut half
// way would leave the tree split between the old and the new. Such an
// operation is recorded in the journal before it touches anything, saves
// its progress at bounded intervals while it runs, and is marked finished
// with its result. The records not finished are the operations to resume:
// at start by the instance that finds them, or, with a store shared by
// several instances (PostgreSQL), by another instance once their own has
// stopped renewing their heartbeat (TakeOperation). Finished records are
// kept for a while so that their clients can read the result (the monitor
// of an asynchronous request), then pruned.
//
// Intents (intents.go) keep the state in step with the tree for each
// single step; the journal makes the whole operation finish.

// States of an Operation.
const (
	// OpRunning is an operation not finished yet: running, or
	// interrupted and waiting to be resumed.
	OpRunning = "running"
	// OpFinished is an operation that ran to its end; some members may
	// have failed (Failures), as a 207 would report them.
	OpFinished = "finished"
	// OpFailed is an operation that could not run at all (Error says
	// why, Status is its final status).
	OpFailed = "failed"
	// OpCancelled is an operation stopped by its user at a member
	// boundary: what was done stays done.
	OpCancelled = "cancelled"
)

// ErrNoSuchOperation means the journal has no operation with the ID.
var ErrNoSuchOperation = errors.New("state: no such operation")

// ErrNotOwner means the operation is finished, or another instance has
// taken it over: the caller must stop working on it.
var ErrNotOwner = errors.New("state: operation is not owned by this instance")

// Operation is one journaled COPY, MOVE or DELETE. Src and Dst are paths
// in the store's namespace, like every other path (a WithPrefix view maps
// them, and shows only the operations whose Src and Dst are inside it);
// Current, Phase and the paths of Failures are the caller's, kept as
// given, and a view does not map them.
type Operation struct {
	// ID is chosen by the caller: unguessable (a random UUID), since an
	// asynchronous request's monitor URL names it.
	ID string `json:"id"`
	// User is the authenticated user who started it, "" when anonymous.
	User string `json:"user,omitempty"`
	// Method is COPY, MOVE or DELETE.
	Method string `json:"method"`
	// Src is the request's resource, Dst the destination of a COPY or
	// MOVE ("" for DELETE).
	Src string `json:"source"`
	Dst string `json:"destination,omitempty"`
	// Depth is "0" or "infinity"; Overwrite the request's Overwrite
	// header (true unless it was F).
	Depth     string `json:"depth"`
	Overwrite bool   `json:"overwrite"`
	// Async is true when the client asked for an asynchronous answer
	// (Prefer: respond-async) and got 202.
	Async bool `json:"async,omitempty"`
	// Instance identifies the process working on it; "" once a clean
	// shutdown released it, so that any instance may take it at once.
	Instance string `json:"instance,omitempty"`
	// Started and Heartbeat are set by the store, from its clock, when
	// the operation is started and each time it is saved; Finished when
	// it is finished.
	Started   time.Time `json:"started"`
	Heartbeat time.Time `json:"heartbeat"`
	Finished  time.Time `json:"finished,omitzero"`
	// Phase is where the operation stands, for resuming it: its meaning
	// belongs to the caller (dav), the store keeps it as is.
	Phase string `json:"phase,omitempty"`
	// State is one of OpRunning, OpFinished, OpFailed, OpCancelled.
	State string `json:"state"`
	// Resumed counts the times the operation was taken over after its
	// instance stopped (a crash, a shutdown).
	Resumed int `json:"resumed,omitempty"`
	// Progress, as saved: resources and bytes done, their totals (0 when
	// unknown) and the member last handled.
	Resources      int64  `json:"resources"`
	TotalResources int64  `json:"total_resources,omitempty"`
	Bytes          int64  `json:"bytes"`
	TotalBytes     int64  `json:"total_bytes,omitempty"`
	Current        string `json:"current,omitempty"`
	// CancelRequested is set by RequestCancel; the owner sees it at its
	// next save and stops at the next member boundary.
	CancelRequested bool `json:"cancel_requested,omitempty"`
	// Status is the final HTTP status once finished (207 when members
	// failed), 0 before.
	Status int `json:"status,omitempty"`
	// Failures are the members a 207 would list, at most MaxFailures.
	Failures []MemberFailure `json:"failures,omitempty"`
	// Error says why a failed operation failed.
	Error string `json:"error,omitempty"`
}

// MemberFailure is one member of an operation that could not be handled.
type MemberFailure struct {
	Path   string `json:"path"`
	Status int    `json:"status"`
}

// MaxFailures bounds Operation.Failures as stored: a record stays small
// whatever the tree. The operation's status still says members failed.
const MaxFailures = 1000

// Journal records long operations; every Store is one. All methods are
// safe for concurrent use, and atomic: two instances calling
// TakeOperation for one operation at once, one wins.
type Journal interface {
	// StartOperation records op as running, owned by op.Instance, and
	// returns it with Started and Heartbeat set from the store's clock.
	// ID, Instance and Src must be set, Src and Dst valid paths. What op
	// says of its end (State, Finished, Status, Failures, Error), of its
	// history (Resumed) and CancelRequested is ignored. An ID already
	// recorded is an error.
	StartOperation(ctx context.Context, op Operation) (Operation, error)
	// SaveOperation stores op's Phase, progress and Current and renews
	// its heartbeat, if op.Instance still owns it and it is running; else
	// ErrNotOwner. It reports whether a cancellation was requested.
	SaveOperation(ctx context.Context, op Operation) (cancel bool, err error)
	// FinishOperation records op's end: State (OpFinished, OpFailed or
	// OpCancelled), Status, progress, Failures (cut to MaxFailures) and
	// Error; Finished is set from the store's clock. ErrNotOwner as for
	// SaveOperation.
	FinishOperation(ctx context.Context, op Operation) error
	// ReleaseOperation leaves the running operation id, owned by
	// instance, without an owner, so that any instance may take it at
	// once: a clean shutdown stopped it at a member boundary.
	ReleaseOperation(ctx context.Context, id, instance string) error
	// TakeOperation makes instance the owner of the running operation
	// id when it has no owner, or instance owns it already, or its
	// owner's heartbeat is older than stale by the store's clock. It
	// returns the record and whether it took it; taking it from another
	// owner (or none) counts one more Resumed and renews the heartbeat.
	TakeOperation(ctx context.Context, id, instance string, stale time.Duration) (Operation, bool, error)
	// RequestCancel asks the owner of the running operation id to stop
	// it. ErrNoSuchOperation when there is none; a finished operation is
	// left as it is (no error).
	RequestCancel(ctx context.Context, id string) error
	// Operation returns the record of id, or ErrNoSuchOperation.
	Operation(ctx context.Context, id string) (Operation, error)
	// Operations lists the records: every running one, then, unless
	// runningOnly, the finished ones, newest first.
	Operations(ctx context.Context, runningOnly bool) ([]Operation, error)
	// PruneOperations removes the finished records older than age, and
	// the oldest finished ones beyond keep. Zero, for either, means no
	// such bound; running records are never removed.
	PruneOperations(ctx context.Context, age time.Duration, keep int) error
	// SharedJournal reports whether other processes may work on this
	// journal at the same time (PostgreSQL): an operation found running
	// there may be another instance's, alive. Elsewhere the store belongs
	// to one process, and whatever is found running at start was
	// interrupted.
	SharedJournal() bool
	// DurableJournal reports whether the journal survives a restart
	// (false for memory: nothing is resumed after a crash).
	DurableJournal() bool
}

// errOperationExists is StartOperation's error for an ID already recorded.
var errOperationExists = errors.New("state: operation already recorded")

// checkOperation rejects an operation StartOperation cannot record.
func checkOperation(op Operation) error {
	if op.ID == "" || op.Instance == "" {
		return fmt.Errorf("state: operation %q of instance %q: an operation needs an ID and an owner", op.ID, op.Instance)
	}
	if err := checkPath(op.Src); err != nil {
		return fmt.Errorf("state: operation %s: %w", op.ID, err)
	}
	if op.Dst != "" {
		if err := checkPath(op.Dst); err != nil {
			return fmt.Errorf("state: operation %s: %w", op.ID, err)
		}
	}
	return nil
}

// checkOwner rejects a call by no instance: only an owner saves, finishes,
// releases or takes an operation.
func checkOwner(id, instance string) error {
	if instance == "" {
		return fmt.Errorf("state: operation %s: no instance given: %w", id, ErrNotOwner)
	}
	return nil
}

// checkEnd rejects a state FinishOperation cannot record.
func checkEnd(op Operation) error {
	switch op.State {
	case OpFinished, OpFailed, OpCancelled:
		return checkOwner(op.ID, op.Instance)
	}
	return fmt.Errorf("state: operation %s: cannot finish in state %q", op.ID, op.State)
}

// cutFailures returns fs cut to MaxFailures, in a slice of its own.
func cutFailures(fs []MemberFailure) []MemberFailure {
	if len(fs) == 0 {
		return nil
	}
	return slices.Clone(fs[:min(len(fs), MaxFailures)])
}
