package dav

import (
	"context"
	"time"

	"davd/processing"
	"davd/storage"
	"davd/storage/pathlock"
	"davd/storage/state"
)

// Resuming: the journaled operations found running in a state store at
// start were interrupted (a crash, a kill, a shutdown that stopped them),
// unless the store is shared with other instances (PostgreSQL) and their
// own instance is alive and renewing their heartbeat. Resume takes the
// interrupted ones over and runs them again in the background from the
// phase their record saved (journal.go, treework.go): a MOVE or DELETE is
// completed, a COPY completed without copying again what is there. Each
// holds the path locks of its source and destination from before the
// server serves, so no request can race it: those that would write there
// get 423 (claims.go). With a shared store, Resume goes on looking for
// operations whose instance stopped heartbeating, and takes them over.

// Resume resumes the interrupted operations of fs and st (see above) and,
// for a shared store, keeps watching for abandoned ones until cfg's
// Lifetime ends. It must run after Recover and before fs and st serve
// requests. cfg is the configuration of the handler that runs them
// (Logger, Lifetime, Processing); its Journal is j.
func (j *Journal) Resume(ctx context.Context, fs *storage.FileSystem, st state.Store, cfg Config) error {
	cfg.Journal, cfg.NoUI, cfg.Prefix, cfg.Permissions, cfg.ReadOnly = j, true, "", nil, false
	h, err := NewHandler(fs, st, cfg)
	if err != nil {
		return err
	}
	if !st.DurableJournal() {
		h.log.Warn("the state is kept in memory: an operation interrupted by a crash or a restart cannot be resumed; use a state file or database for that")
	}
	if err := st.PruneOperations(ctx, j.KeepFor, j.Keep); err != nil {
		return err
	}
	stale := time.Duration(0) // the store is this process's alone
	if st.SharedJournal() {
		stale = j.Stale
	}
	if err := h.resumeAbandoned(ctx, stale, true); err != nil {
		return err
	}
	go h.watchJournal(st.SharedJournal())
	return nil
}

// watchJournal prunes the finished records now and then and, with a
// shared store, takes over the operations of instances that stopped,
// until the handler's lifetime ends.
func (h *Handler) watchJournal(shared bool) {
	every := time.Hour
	if shared {
		every = h.journal.Stale / 2
	}
	t := time.NewTicker(every)
	defer t.Stop()
	lastPrune := time.Now()
	for {
		select {
		case <-h.lifetime.Done():
			return
		case <-t.C:
		}
		if shared {
			if err := h.resumeAbandoned(h.lifetime, h.journal.Stale, false); err != nil && h.lifetime.Err() == nil {
				h.log.Warn("looking for abandoned operations", "err", err)
			}
		}
		if time.Since(lastPrune) >= time.Hour {
			lastPrune = time.Now()
			if err := h.state.PruneOperations(h.lifetime, h.journal.KeepFor, h.journal.Keep); err != nil && h.lifetime.Err() == nil {
				h.log.Warn("pruning finished operations", "err", err)
			}
		}
	}
}

// resumeAbandoned takes over and resumes each running operation whose
// owner's heartbeat is older than stale. With claimNow, the path locks of
// each are taken before it returns (at start, nobody else holds any);
// otherwise each waits for them in the background.
func (h *Handler) resumeAbandoned(ctx context.Context, stale time.Duration, claimNow bool) error {
	ops, err := h.state.Operations(ctx, true)
	if err != nil {
		return err
	}
	for _, found := range ops {
		op, took, err := h.state.TakeOperation(ctx, found.ID, h.journal.Instance, stale)
		if err != nil {
			return err
		}
		if !took {
			continue
		}
		job := &treeJob{method: op.Method, src: op.Src, dst: op.Dst, deep: op.Depth != "0",
			overwrite: op.Overwrite, resumed: true, phase: op.Phase, exists: op.Phase == phaseClear}
		var release func()
		if claimNow {
			// Nobody else holds these paths at start, but an operation
			// resumed just before may overlap this one (two COPYs of one
			// source share it): wait for it in the background then.
			wctx, cancel := context.WithTimeout(ctx, claimNowWait)
			release, err = h.state.Acquire(wctx, job.claims()...)
			cancel()
			if err != nil && ctx.Err() != nil {
				return err
			}
		}
		h.journal.goBackground(func() {
			if release == nil {
				var err error
				if release, err = h.state.Acquire(h.lifetime, job.claims()...); err != nil {
					return // shutting down: it stays for the next start
				}
			}
			defer release()
			h.resume(job, op)
		})
	}
	return nil
}

// claimNowWait bounds how long Resume waits at start for the paths of
// one operation before it leaves the waiting to the operation itself.
const claimNowWait = 2 * time.Second

// claims are the path locks a job holds (as its request did).
func (job *treeJob) claims() []pathlock.Claim {
	switch job.method {
	case "DELETE":
		return change(job.src, true)
	case "COPY":
		return append(change(job.dst, true), pathlock.Claim{Path: job.src, Deep: true, Shared: true})
	}
	return append(change(job.dst, true), change(job.src, true)...)
}

// resume runs a job taken over from the journal to its end.
func (h *Handler) resume(job *treeJob, op state.Operation) {
	progress := new(processing.Progress)
	ctx, cancel := context.WithCancelCause(processing.WithProgress(WithUser(context.Background(), op.User), progress))
	stop := context.AfterFunc(h.lifetime, func() { cancel(errShuttingDown) })
	defer func() { stop(); cancel(nil) }()
	job.progress, job.cancel = progress, cancel
	job.entry = h.resumeEntry(op, progress, cancel)
	if op.CancelRequested {
		// Its user cancelled it while it was abandoned: it stops at once,
		// with what was done left as it is.
		cancel(errCancelled)
	}
	h.log.Warn("resuming an interrupted operation", append(logAttrs(op), "phase", op.Phase, "resumed", op.Resumed)...)
	end := job.entry.finish(ctx, h.work(ctx, job))
	h.log.Info("resumed operation ended", append(logAttrs(end), "state", end.State, "status", end.Status, "resources", end.Resources)...)
}
