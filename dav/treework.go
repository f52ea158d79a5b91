package dav

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path"

	"davd/processing"
	"davd/storage"
	"davd/storage/state"
)

// The work of each tree job (treejob.go), for its first run and for a
// resumed one alike. A resumed job looks at the tree again: its source
// or destination may be partly handled, and the phase its record saved
// says what the first run was doing (journal.go).

// serveDelete removes a resource and everything below it (RFC 4918 §9.6).
func (h *Handler) serveDelete(w http.ResponseWriter, r *http.Request, name string) error {
	if name == "/" {
		return errorf(http.StatusForbidden, "the root collection cannot be deleted")
	}
	if d := r.Header.Get("Depth"); d != "" && d != "infinity" {
		return errorf(http.StatusBadRequest, "DELETE takes Depth infinity only")
	}
	ctx := r.Context()
	release, err := h.claim(ctx, change(name, true)...)
	if err != nil {
		return err
	}
	fi, err := h.fs.Stat(ctx, name)
	if err != nil {
		err = storageError(r.URL.Path, err)
	} else if err = h.allowTree(ctx, name, name, PermDelete, PermDelete, fi.IsDir()); err == nil {
		err = h.authorizeWrite(r, name, lockTarget{name: name, members: fi.IsDir(), membership: true})
	}
	if err != nil {
		release()
		return err
	}
	return h.runJob(w, r, &treeJob{method: "DELETE", src: name, deep: true, srcInfo: fi, srcDir: fi.IsDir()}, release)
}

func (h *Handler) deleteWork(ctx context.Context, job *treeJob) treeResult {
	name := job.src
	if job.resumed {
		fi, err := h.fs.Stat(ctx, name)
		if errors.Is(err, os.ErrNotExist) {
			// Removed before the crash; its state may not be.
			return h.outcome(http.StatusNoContent, nil, name, h.state.DeleteTree(context.WithoutCancel(ctx), name))
		}
		if err != nil {
			return failed(storageError(h.prefix+name, err))
		}
		job.srcInfo, job.srcDir = fi, fi.IsDir()
	}
	if has, err := state.HasState(ctx, h.state, name); err != nil {
		return failed(err)
	} else if has {
		end, err := h.intend(ctx, state.Intent{Op: "delete", Src: name, HadState: true})
		if err != nil {
			return failed(err)
		}
		defer end()
	}
	if !job.srcDir {
		// A collection's total would take a walk of its own (see COPY).
		job.progress.SetTotal(1, job.srcInfo.Size())
	}
	var failures []memberFailure
	removed, err := h.newRemovedState(ctx, name)
	if err != nil {
		return failed(err)
	}
	if err := h.fs.RemoveTree(ctx, name, h.treeVisit(ctx, name, &failures, removed)); err != nil {
		return failed(storageError(h.prefix+name, err))
	}
	if len(failures) > 0 {
		removed.flush()
	} else {
		removed.complete()
		if err := h.state.DeleteTree(context.WithoutCancel(ctx), name); err != nil {
			return failed(err)
		}
	}
	return h.outcome(http.StatusNoContent, failures, name, nil)
}

func (h *Handler) copyWork(ctx context.Context, job *treeJob) treeResult {
	src, dst := job.src, job.dst
	progress := job.progress
	exists := job.exists
	if job.resumed {
		fi, err := h.fs.Stat(ctx, src)
		if err != nil {
			return failed(storageError(h.prefix+src, err))
		}
		job.srcDir = fi.IsDir()
		_, err = h.fs.Stat(ctx, dst)
		exists = err == nil
	} else if (!job.srcDir || !job.deep) && (!exists || !job.dstDir) {
		// A total is only known without an extra walk of the tree, which
		// would double the storage calls on the slow backends where
		// progress matters most: when neither the source nor an
		// overwritten destination has members to visit.
		total, bytes := int64(1), sizeOfFile(job.srcInfo)
		if exists {
			total, bytes = 2, bytes+sizeOfFile(job.dstInfo)
		}
		progress.SetTotal(total, bytes)
	}

	// The dead properties must follow whatever happened to the tree, even
	// when the operation was stopped half way: the state is updated with a
	// context that is not cancelled (one statement each).
	stateCtx := context.WithoutCancel(ctx)
	involved, err := h.hasState(ctx, src, dst, exists)
	if err != nil {
		return failed(err)
	}
	if involved {
		end, err := h.intend(ctx, state.Intent{Op: "copy", Src: src, Dst: dst, HadState: true})
		if err != nil {
			return failed(err)
		}
		defer end()
	}
	if res, ok := h.clearPhase(ctx, job, exists); !ok {
		return res
	}
	// The properties are copied before the members: a member is never
	// without its properties, even after a crash, and those of members
	// that end up not copied are swept below (or at the next start).
	if involved {
		if job.deep {
			err = h.state.CopyTree(stateCtx, src, dst)
		} else {
			err = h.copyOwnProps(stateCtx, src, dst)
		}
		if err != nil {
			return failed(err)
		}
	}
	var failures []memberFailure
	visit := h.treeVisit(ctx, dst, &failures, nil)
	copyCtx := storage.WithCopied(ctx, progress.AddBytes)
	var copyErr error
	switch {
	case job.resumed && job.deep:
		// Members the first run copied are not copied again.
		copyErr = h.fs.ResumeCopy(copyCtx, src, dst, visit)
	case job.resumed && exists:
		// A Depth 0 copy of a collection: the collection is there.
	default:
		copyErr = h.fs.CopyTree(copyCtx, src, dst, job.deep, visit)
	}
	// The properties of members that were not copied must not wait at
	// their names for a resource created there later. A failed collection
	// may hold copied members, which lose theirs: the 207 reports it failed.
	for _, f := range failures {
		if err := h.state.DeleteTree(stateCtx, f.name); err != nil {
			return failed(err)
		}
	}
	if involved && (copyErr != nil || ctx.Err() != nil) {
		if err := sweep(stateCtx, h.fs, h.state, dst); err != nil {
			return failed(err)
		}
	}
	return h.outcome(createdOrReplaced(job.exists), failures, dst, copyErr)
}

// clearPhase removes the existing destination of a COPY or a MOVE by
// copies, unless the job's record says it was removed already, and then
// records that it was. ok is false when the job ends there, with res.
func (h *Handler) clearPhase(ctx context.Context, job *treeJob, exists bool) (res treeResult, ok bool) {
	if !exists || job.phase == phaseCopy {
		return treeResult{}, true
	}
	if failures, err := h.clearDestination(ctx, job.dst); err != nil || len(failures) > 0 {
		return h.outcome(0, failures, job.dst, err), false
	}
	if err := job.setPhase(ctx, phaseCopy); err != nil {
		return failed(err), false
	}
	return treeResult{}, true
}

// setPhase saves the job's new phase in its record, if it has one.
func (job *treeJob) setPhase(ctx context.Context, phase string) error {
	job.phase = phase
	if job.entry == nil {
		return nil
	}
	return job.entry.setPhase(ctx, phase)
}

func (h *Handler) moveWork(ctx context.Context, job *treeJob) treeResult {
	if job.byCopies || h.fs.MovesByCopy() || job.phase == phaseClear || job.phase == phaseCopy {
		return h.moveByCopy(ctx, job)
	}
	if job.resumed {
		if _, err := h.fs.Stat(ctx, job.src); errors.Is(err, os.ErrNotExist) {
			// Renamed before the crash; Recover has brought the state in
			// step (its intent).
			return h.outcome(http.StatusCreated, nil, job.src, nil)
		}
		_, err := h.fs.Stat(ctx, job.dst)
		job.exists = err == nil
	}
	job.progress.SetTotal(1, 0) // one rename, whatever the tree's size
	res := h.move(ctx, job)
	if !errors.Is(res.err, errCrossDevice) {
		return res
	}
	// Across devices: by copies, journaled from here on.
	phase := phaseCopy
	if job.exists {
		phase = phaseClear
	}
	job.progress.SetTotal(0, 0)
	job.byCopies = true
	switch {
	case job.entry == nil && !h.journal.Off:
		job.phase = phase
		e, err := h.startEntry(ctx, job.record(UserFrom(ctx), false), job.progress, job.cancel)
		if err != nil {
			return failed(err)
		}
		job.entry = e
	default:
		if err := job.setPhase(ctx, phase); err != nil {
			return failed(err)
		}
	}
	return h.moveByCopy(ctx, job)
}

// move renames src to dst. An existing destination is exchanged with the
// source in one step where the storage can (storage.Exchange), so that at
// every instant, a crash included, dst is the old resource or the new one;
// the old one, now at src's name, is then renamed under a hidden name and
// removed. Elsewhere it is renamed out of the way under a hidden name
// first, and put back if moving src fails. Either way the path locks held
// by the request keep other changes out of both names meanwhile. Across
// devices nothing is changed and the result's error is errCrossDevice.
func (h *Handler) move(ctx context.Context, job *treeJob) treeResult {
	src, dst, exists := job.src, job.dst, job.exists
	if err := ctx.Err(); err != nil {
		return failed(storageError(h.prefix+src, err))
	}
	// Once the renames begin, they and the state must be completed
	// together: a MOVE is not stopped half way.
	ctx = context.WithoutCancel(ctx)
	// Where an overwritten destination goes before it is removed.
	aside := path.Join(path.Dir(src), storage.TempName())
	srcHas, err := state.HasState(ctx, h.state, src)
	if err != nil {
		return failed(err)
	}
	involved := srcHas
	if !involved && exists {
		if involved, err = state.HasState(ctx, h.state, dst); err != nil {
			return failed(err)
		}
	}
	if involved || exists {
		// See recover.go: after a crash, the marks tell whether the
		// rename took place and what is left at src.
		in := state.Intent{Op: "move", Src: src, Dst: dst, Mark: h.fs.Identity(ctx, src), HadState: srcHas}
		if exists {
			in.OldMark = h.fs.Identity(ctx, dst)
			in.Aside = aside
		}
		end, err := h.intend(ctx, in)
		if err != nil {
			return failed(err)
		}
		defer end()
	}
	renameFailed := func(err error) treeResult {
		if storage.IsCrossDevice(err) {
			return failed(errCrossDevice)
		}
		return failed(storageError(h.prefix+src, err))
	}
	var parked string
	if exists {
		err := h.fs.Exchange(ctx, src, dst)
		switch {
		case err == nil:
			parked = aside
			if err := h.fs.RenameReserved(ctx, src, parked); err != nil {
				// Still visible at src: better than removing it by name,
				// which could follow a symbolic link.
				h.log.Error("MOVE could not hide the old destination", "src", src, "err", err)
				parked = ""
			}
		case errors.Is(err, storage.ErrNoExchange):
			if parked, err = h.moveParking(ctx, src, dst, path.Join(path.Dir(dst), path.Base(aside))); err != nil {
				return renameFailed(err)
			}
		default:
			return renameFailed(err)
		}
	} else if err := h.fs.Rename(ctx, src, dst); err != nil {
		return renameFailed(err)
	}
	if parked != "" {
		if err := h.fs.RemoveReserved(ctx, parked); err != nil {
			h.log.Warn("MOVE left the old destination behind", "parked", parked, "err", err)
		}
	}
	if exists {
		if err := h.state.DeleteTree(ctx, dst); err != nil {
			return failed(err)
		}
	}
	if err := h.state.MoveTree(ctx, src, dst); err != nil {
		return failed(err)
	}
	processing.FromContext(ctx).AddResource(h.prefix + dst)
	return h.outcome(createdOrReplaced(exists), nil, dst, nil)
}

// moveParking moves src over an existing dst on storage that cannot
// exchange names: dst is renamed under a hidden name beside it, src to
// dst, and the hidden name (parked) is returned for removal. If moving src fails,
// dst is put back.
func (h *Handler) moveParking(ctx context.Context, src, dst, parked string) (string, error) {
	if err := h.fs.RenameReserved(ctx, dst, parked); err != nil {
		return "", err
	}
	if err := h.fs.Rename(ctx, src, dst); err != nil {
		if rerr := h.fs.RenameReserved(ctx, parked, dst); rerr != nil {
			h.log.Error("MOVE could not restore the destination", "dst", dst, "parked", parked, "err", rerr)
		}
		return "", err
	}
	return parked, nil
}
