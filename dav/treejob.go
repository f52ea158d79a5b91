package dav

import (
	"context"
	"errors"
	"net/http"
	"os"

	"davd/processing"
	"davd/storage/state"
)

// treeJob is a COPY, MOVE or DELETE whose preconditions hold (checked by
// its request, or by the request that started it when it is resumed): what
// it does, and, when it is journaled, its record. It belongs to the
// goroutine running it.
type treeJob struct {
	method    string // COPY, MOVE or DELETE
	src, dst  string // dst is "" for DELETE
	deep      bool   // Depth infinity (always for MOVE and DELETE)
	overwrite bool   // the request's Overwrite (T unless F)
	// What the request found; srcInfo and dstInfo are nil for a resumed
	// job, which looks again.
	srcInfo, dstInfo os.FileInfo
	srcDir           bool
	exists, dstDir   bool // the destination existed, as a collection
	// byCopies is true for a MOVE that is not one rename: on storage
	// without rename, or across devices.
	byCopies bool
	// resumed is true for a job taken from the journal after its first
	// run was interrupted; phase is where that run stood (journal.go).
	resumed bool
	phase   string

	progress *processing.Progress
	cancel   context.CancelCauseFunc
	entry    *journalEntry // nil while not journaled
}

// treeResult is the outcome of a tree job: answered to its client, or
// kept in its record for the monitor of an asynchronous request.
type treeResult struct {
	// status is the final status when no member failed.
	status int
	// failures are the members a 207 names.
	failures []memberFailure
	// err, when not nil, is the answer instead (the job could not run).
	err error
	// stopped is true when the job was stopped (shutdown, cancel, client
	// gone with StopOnDisconnect) before its end.
	stopped bool
}

// journaled reports whether the job is journaled from its start: a DELETE
// or COPY of a collection (or over one), and a MOVE by copies. A MOVE by
// one rename is atomic and needs none (its intent keeps the state in
// step, recover.go): journaling it would double its cost for nothing. One
// that turns out to cross devices after all is journaled when it does
// (moveWork).
func (j *treeJob) journaled() bool {
	switch j.method {
	case "DELETE":
		return j.srcDir
	case "COPY":
		return (j.srcDir && j.deep) || j.dstDir
	}
	return j.byCopies
}

// firstPhase is the phase a job's record starts in.
func (j *treeJob) firstPhase() string {
	switch {
	case j.method == "DELETE":
		return phaseRemove
	case j.method == "MOVE" && !j.byCopies:
		return phaseRename
	case j.exists:
		return phaseClear
	}
	return phaseCopy
}

// record is the job's journal record, before it starts.
func (j *treeJob) record(user string, async bool) state.Operation {
	depth := "infinity"
	if !j.deep {
		depth = "0"
	}
	return state.Operation{User: user, Method: j.method, Src: j.src, Dst: j.dst, Depth: depth,
		Overwrite: j.overwrite, Async: async, Phase: j.firstPhase()}
}

// runJob runs a job whose preconditions its request has checked, holding
// the path locks that release gives back. A journaled job is recorded
// first; with Prefer: respond-async it then runs in the background and
// the request is answered 202 at once (async.go).
func (h *Handler) runJob(w http.ResponseWriter, r *http.Request, job *treeJob, release func()) error {
	journaled := !h.journal.Off && job.journaled()
	async := journaled && prefersAsync(r)
	ctx, cancel, done := h.operationContext(r, async)
	job.progress, job.cancel = processing.FromContext(ctx), cancel
	if journaled {
		job.phase = job.firstPhase()
		e, err := h.startEntry(ctx, job.record(UserFrom(ctx), async), job.progress, cancel)
		if err != nil {
			done()
			release()
			return err
		}
		job.entry = e
	}
	if async {
		h.journal.goBackground(func() {
			defer release()
			defer done()
			op := job.entry.finish(ctx, h.work(ctx, job))
			h.log.Info("asynchronous operation ended", append(logAttrs(op), "state", op.State, "status", op.Status)...)
		})
		return h.writeAccepted(w, r, job.entry.snapshot())
	}
	defer release()
	defer done()
	res := h.work(ctx, job)
	if job.entry != nil {
		job.entry.finish(ctx, res)
	}
	h.logStopped(ctx, r)
	if res.err != nil {
		return res.err
	}
	return h.writeFailures(w, res.failures, res.status)
}

// work does the job under ctx and tells what came of it.
func (h *Handler) work(ctx context.Context, job *treeJob) treeResult {
	var res treeResult
	switch job.method {
	case "DELETE":
		res = h.deleteWork(ctx, job)
	case "COPY":
		res = h.copyWork(ctx, job)
	default:
		res = h.moveWork(ctx, job)
	}
	if ctx.Err() != nil {
		res.stopped = stopped(res.err)
		for _, f := range res.failures {
			res.stopped = res.stopped || f.status == http.StatusServiceUnavailable
		}
	}
	return res
}

// failed is the result of a job that could not run.
func failed(err error) treeResult { return treeResult{err: err} }

// outcome is the result of a job with its members' failures; err, from
// the storage about name, fails it as a whole.
func (h *Handler) outcome(status int, failures []memberFailure, name string, err error) treeResult {
	if err != nil {
		return treeResult{err: storageError(h.prefix+name, err), failures: failures}
	}
	return treeResult{status: status, failures: failures}
}

// errCrossDevice is what move returns when the source and the
// destination are on different devices: the MOVE goes on by copies.
var errCrossDevice = errors.New("source and destination on different devices")
