package dav

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"davd/processing"
	"davd/storage/state"
)

// A COPY, MOVE or DELETE that touches many members, or a MOVE that is not
// one rename (across devices, on object storage), is a journaled
// operation (see state.Journal): it is recorded before it touches
// anything, saves its progress and phase while it runs, and is marked
// finished with its result. One interrupted by a crash or a shutdown is
// resumed at the next start (resume.go); one started with Prefer:
// respond-async runs after its 202 and is watched through its monitor
// (async.go). The phases a record goes through say what resuming it
// means:
//
//	phaseClear   an existing destination is being removed (COPY, or a
//	             MOVE by copies): resuming removes what is left of it,
//	             then copies.
//	phaseCopy    members are being copied (COPY) or copied and removed
//	             (MOVE by copies): resuming copies what is missing and,
//	             for a MOVE, removes the source.
//	phaseRename  a MOVE by one rename: if the source is still there,
//	             resuming renames it (and switches to copies across
//	             devices); otherwise it is done.
//	phaseRemove  a DELETE: resuming removes what is left.
const (
	phaseClear  = "clear"
	phaseCopy   = "copy"
	phaseRename = "rename"
	phaseRemove = "remove"
)

// Journal is what the handlers of one server share about journaled
// operations: who this process is among the instances sharing a state
// store, how often a running operation saves its progress, and the
// operations running in the background (asynchronous requests, resumed
// operations), which the server waits for at shutdown. Its fields are set
// before the first handler uses it and never changed after.
type Journal struct {
	// Instance names this process in the records it owns; NewJournal
	// makes one from the host name and random bytes.
	Instance string
	// SaveEvery is how often a running operation saves its progress and
	// renews its heartbeat.
	SaveEvery time.Duration
	// Stale is how long an operation of a store shared with other
	// instances (PostgreSQL) may go without a heartbeat before another
	// instance takes it over.
	Stale time.Duration
	// KeepFor and Keep bound the finished records kept for their
	// monitors: older ones, and the oldest beyond Keep, are pruned.
	KeepFor time.Duration
	Keep    int
	// Off journals nothing: operations run as they did before the
	// journal, and a crash leaves them half done. It exists to measure
	// the journal's cost (make bench); Resume still resumes what a
	// journaling run left.
	Off bool

	background sync.WaitGroup
	finished   atomic.Int64 // operations finished, for pruning every pruneEvery
}

// pruneEvery is how many finished operations go by between two prunes of
// the finished records, besides the hourly one: the count stays bounded
// however many operations an hour brings.
const pruneEvery = 100

// NewJournal returns a Journal with the default intervals and a fresh
// instance name.
func NewJournal() *Journal {
	host, _ := os.Hostname()
	if host == "" {
		host = "davd"
	}
	return &Journal{
		Instance:  host + "-" + randomID()[:8],
		SaveEvery: time.Second,
		Stale:     10 * time.Second,
		KeepFor:   24 * time.Hour,
		Keep:      1000,
	}
}

// Wait waits until the operations running in the background have
// stopped, or ctx ends. The server calls it at shutdown, after its
// lifetime has ended (which stops them at their next member).
func (j *Journal) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { j.background.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// goBackground runs fn as a background operation that Wait waits for.
func (j *Journal) goBackground(fn func()) {
	j.background.Add(1)
	go func() {
		defer j.background.Done()
		fn()
	}()
}

// randomID returns 32 random hexadecimal digits: an operation's ID, which
// its monitor URL names, so it must not be guessable.
func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// errTakenOver is the cause of an operation stopped because its record
// is no longer this instance's: another instance took it over after this
// one failed to renew its heartbeat in time.
var errTakenOver = errors.New("taken over by another instance")

// journalEntry is the record of one running operation, owned by the
// goroutine running it. A saver goroutine saves its progress every
// SaveEvery until finish; the record itself is touched only under mu.
type journalEntry struct {
	h        *Handler
	progress *processing.Progress
	cancel   context.CancelCauseFunc // stops the operation (a cancel request)
	// base is the progress saved by the attempts before this one (a
	// resumed operation), added to progress's counts.
	baseResources, baseBytes int64
	// recounts is true for a COPY resumed in its copy phase, whose walk
	// (storage.ResumeCopy) reports again every member the attempts
	// before counted: its resources are the larger of base and progress,
	// not their sum (its bytes are only those copied, and add up).
	recounts bool

	mu sync.Mutex
	op state.Operation

	stopSaver func()
	saverDone chan struct{}
}

// startEntry records op as running under this instance and starts its
// saver. progress is the operation's, cancel stops it.
func (h *Handler) startEntry(ctx context.Context, op state.Operation, progress *processing.Progress, cancel context.CancelCauseFunc) (*journalEntry, error) {
	op.ID = randomID()
	op.Instance = h.journal.Instance
	op.State = state.OpRunning
	op, err := h.state.StartOperation(context.WithoutCancel(ctx), op)
	if err != nil {
		return nil, err
	}
	e := &journalEntry{h: h, progress: progress, cancel: cancel, op: op}
	e.startSaver()
	return e, nil
}

// resumeEntry is the entry of a record taken over to be resumed.
func (h *Handler) resumeEntry(op state.Operation, progress *processing.Progress, cancel context.CancelCauseFunc) *journalEntry {
	e := &journalEntry{h: h, progress: progress, cancel: cancel, op: op,
		baseResources: op.Resources, baseBytes: op.Bytes,
		recounts: op.Method == "COPY" && op.Phase == phaseCopy}
	e.startSaver()
	return e
}

func (e *journalEntry) startSaver() {
	ctx, stop := context.WithCancel(context.Background())
	e.stopSaver, e.saverDone = stop, make(chan struct{})
	go func() {
		defer close(e.saverDone)
		t := time.NewTicker(e.h.journal.SaveEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				e.save(ctx)
			}
		}
	}()
}

// snapshot returns the record with the progress so far.
func (e *journalEntry) snapshot() state.Operation {
	e.mu.Lock()
	defer e.mu.Unlock()
	res, totalRes, bytes, totalBytes, current := e.progress.Snapshot()
	op := e.op
	op.Resources, op.Bytes = e.baseResources+res, e.baseBytes+bytes
	if e.recounts {
		op.Resources = max(e.baseResources, res)
	}
	if totalRes > 0 {
		op.TotalResources = totalRes
	}
	if totalBytes > 0 {
		op.TotalBytes = totalBytes
	}
	op.Current = current
	if p, ok := stripPrefix(e.h.prefix, current); ok {
		op.Current = p // stored as a path, like Src and Dst
	}
	return op
}

// save saves the progress and renews the heartbeat; a cancel request
// or a lost ownership stops the operation.
func (e *journalEntry) save(ctx context.Context) {
	cancel, err := e.h.state.SaveOperation(ctx, e.snapshot())
	switch {
	case errors.Is(err, state.ErrNotOwner):
		e.cancel(errTakenOver)
	case err != nil:
		if ctx.Err() == nil {
			e.h.log.Warn("operation progress not saved", "id", e.op.ID, "err", err)
		}
	case cancel:
		e.cancel(errCancelled)
	}
}

// setPhase saves a new phase before the operation goes on with it: a
// resumed operation must know that what it finds was done by this one.
func (e *journalEntry) setPhase(ctx context.Context, phase string) error {
	e.mu.Lock()
	e.op.Phase = phase
	e.mu.Unlock()
	cancel, err := e.h.state.SaveOperation(context.WithoutCancel(ctx), e.snapshot())
	if cancel {
		e.cancel(errCancelled)
	}
	return err
}

// finish records the end of the operation from res, the outcome of the
// work that ran under ctx. An operation stopped because the server shuts
// down is not finished: it is released, to be resumed at the next start
// here or at once on another instance.
func (e *journalEntry) finish(ctx context.Context, res treeResult) state.Operation {
	e.stopSaver()
	<-e.saverDone
	op := e.snapshot()
	sctx := context.WithoutCancel(ctx)
	cause := context.Cause(ctx)
	switch {
	case res.stopped && errors.Is(cause, errTakenOver):
		e.h.log.Warn("operation taken over by another instance", "id", op.ID)
		return op
	case res.stopped && (errors.Is(cause, errShuttingDown) || e.h.lifetime.Err() != nil):
		if err := e.h.state.ReleaseOperation(sctx, op.ID, op.Instance); err != nil {
			e.h.log.Warn("stopped operation not released; another instance takes it over once its heartbeat is stale", "id", op.ID, "err", err)
		}
		e.h.log.Info("operation stopped by the shutdown; it resumes at the next start", "id", op.ID, "method", op.Method, "path", op.Src)
		return op
	case res.stopped:
		op.State = state.OpCancelled
		op.Status = http.StatusServiceUnavailable
		op.Error = "cancelled by its user"
		if !errors.Is(cause, errCancelled) {
			op.Error = "stopped: its client went away"
		}
	case res.err != nil:
		op.State = state.OpFailed
		op.Status = http.StatusInternalServerError
		op.Error = res.err.Error()
		var he *httpError
		if errors.As(res.err, &he) {
			op.Status, op.Error = he.status, he.reason
		}
	default:
		op.State = state.OpFinished
		op.Status = res.status
		if len(res.failures) > 0 {
			op.Status = http.StatusMultiStatus
		}
	}
	// The store keeps at most state.MaxFailures of them.
	for _, f := range res.failures {
		if res.stopped && f.status == http.StatusServiceUnavailable {
			// Left undone because the operation stopped, which its state
			// says: only the members of the listings being walked at that
			// moment are reported, an arbitrary few of those undone.
			continue
		}
		op.Failures = append(op.Failures, state.MemberFailure{Path: f.name, Status: f.status})
	}
	if err := e.h.state.FinishOperation(sctx, op); err != nil {
		e.h.log.Warn("operation's end not recorded", "id", op.ID, "err", err)
	}
	if j := e.h.journal; j.finished.Add(1)%pruneEvery == 0 {
		if err := e.h.state.PruneOperations(sctx, j.KeepFor, j.Keep); err != nil {
			e.h.log.Warn("pruning finished operations", "err", err)
		}
	}
	return op
}

// logAttrs describe a record in the log.
func logAttrs(op state.Operation) []any {
	return []any{slog.String("id", op.ID), slog.String("method", op.Method), slog.String("path", op.Src), slog.String("destination", op.Dst)}
}
