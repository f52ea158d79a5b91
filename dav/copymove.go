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

// memberFailure is a member of a COPY, MOVE or DELETE that could not be
// handled, reported in a 207 (RFC 4918 §9.6.1, §9.8.8, §9.9.4).
type memberFailure struct {
	name   string
	href   string
	status int
}

// treeVisit reports each handled resource as progress and collects
// failures under base's hrefs. removed is nil for a copy, which counts
// its bytes as they go (see storage.WithCopied); a removal counts each
// resource's size and records it in removed. Members left undone because
// the operation was stopped are answered 503 and not logged one by one: a
// stopped operation is logged once, by logStopped.
func (h *Handler) treeVisit(ctx context.Context, base string, failures *[]memberFailure, removed *removedState) storage.Visit {
	progress := processing.FromContext(ctx)
	return func(rel string, isDir bool, size int64, err error) {
		name := path.Join(base, rel)
		if err != nil {
			status := http.StatusInternalServerError
			var he *httpError
			switch {
			case stopped(err):
				status = http.StatusServiceUnavailable
			case errors.As(storageError(name, err), &he):
				status = he.status
			}
			*failures = append(*failures, memberFailure{name, h.hrefFor(name, isDir), status})
			if !stopped(err) {
				h.log.Warn("member failed", "path", name, "err", err)
			}
			return
		}
		progress.AddResource(h.prefix + name)
		if removed != nil {
			progress.AddBytes(size)
			removed.removed(name, isDir)
		}
	}
}

// writeFailures answers a tree operation: ok when nothing failed, a 207
// naming each failed member otherwise.
func (h *Handler) writeFailures(w http.ResponseWriter, failures []memberFailure, ok int) error {
	if len(failures) == 0 {
		w.WriteHeader(ok)
		return nil
	}
	ms := startMultistatus(w, 0)
	for _, f := range failures {
		ms.status(f.href, f.status, "")
	}
	return ms.close()
}

// serveCopyMove copies or moves a resource (RFC 4918 §9.8, §9.9).
func (h *Handler) serveCopyMove(w http.ResponseWriter, r *http.Request, src string) error {
	dst, err := h.checkDestination(r, src)
	if err != nil {
		return err
	}
	if err := h.allowDestination(dst); err != nil {
		return err
	}
	ctx := r.Context()
	isMove := r.Method == "MOVE"
	claims := change(dst, true)
	if isMove {
		claims = append(claims, change(src, true)...)
	}
	release, err := h.claim(ctx, claims...)
	if err != nil {
		return err
	}
	defer release()
	srcInfo, err := h.fs.Stat(ctx, src)
	if err != nil {
		return storageError(r.URL.Path, err)
	}
	depth := depthInfinity
	if srcInfo.IsDir() {
		if depth, err = parseDepth(r.Header.Get("Depth"), depthInfinity); err != nil {
			return err
		}
		if depth == depthOne || (isMove && depth != depthInfinity) {
			return errorf(http.StatusBadRequest, "%s of a collection takes Depth infinity%s", r.Method,
				map[bool]string{false: " or 0", true: ""}[isMove])
		}
	}
	dstInfo, dstErr := h.fs.Stat(ctx, dst)
	exists := dstErr == nil
	switch {
	case exists && r.Header.Get("Overwrite") == "F":
		return errorf(http.StatusPreconditionFailed, "destination exists and Overwrite is F")
	case !exists && !errors.Is(dstErr, os.ErrNotExist):
		return storageError(dst, dstErr)
	}
	if pfi, err := h.fs.Stat(ctx, path.Dir(dst)); err != nil || !pfi.IsDir() {
		return errorf(http.StatusConflict, "the destination's parent collection does not exist")
	}

	if err := h.allowCopyMove(ctx, src, dst, srcInfo.IsDir() && depth == depthInfinity, isMove, dstInfo); err != nil {
		return err
	}
	targets := []lockTarget{{name: dst, members: exists && dstInfo.IsDir(), membership: !exists}}
	if isMove {
		targets = append(targets, lockTarget{name: src, members: srcInfo.IsDir(), membership: true})
	}
	if err := h.authorizeWrite(r, src, targets...); err != nil {
		return err
	}
	ctx, cancel := h.operationContext(r)
	defer cancel()
	progress := processing.FromContext(ctx)
	if isMove {
		if h.fs.MovesByCopy() { // object storage: no rename (movebycopy.go)
			return h.moveByCopy(ctx, w, r, src, dst, exists)
		}
		progress.SetTotal(1, 0) // one rename, whatever the tree's size
		return h.move(ctx, w, r, src, dst, exists)
	}
	// A total is only known without an extra walk of the tree, which would
	// double the storage calls on the slow backends where progress matters
	// most: when neither the source nor an overwritten destination has
	// members to visit.
	if (!srcInfo.IsDir() || depth == depthZero) && (!exists || !dstInfo.IsDir()) {
		total, bytes := int64(1), sizeOfFile(srcInfo)
		if exists {
			total, bytes = 2, bytes+sizeOfFile(dstInfo)
		}
		progress.SetTotal(total, bytes)
	}

	// The dead properties must follow whatever happened to the tree, even
	// when the operation was stopped half way: the state is updated with a
	// context that is not cancelled (one statement each).
	stateCtx := context.WithoutCancel(ctx)
	involved, err := h.hasState(ctx, src, dst, exists)
	if err != nil {
		return err
	}
	if involved {
		end, err := h.intend(ctx, state.Intent{Op: "copy", Src: src, Dst: dst, HadState: true})
		if err != nil {
			return err
		}
		defer end()
	}
	if exists {
		if answered, err := h.clearDestination(ctx, w, r, dst); answered || err != nil {
			return err
		}
	}
	// The properties are copied before the members: a member is never
	// without its properties, even after a crash, and those of members
	// that end up not copied are swept below (or at the next start).
	if involved {
		if depth == depthInfinity {
			err = h.state.CopyTree(stateCtx, src, dst)
		} else {
			err = h.copyOwnProps(stateCtx, src, dst)
		}
		if err != nil {
			return err
		}
	}
	var failures []memberFailure
	copyCtx := storage.WithCopied(ctx, progress.AddBytes)
	copyErr := h.fs.CopyTree(copyCtx, src, dst, depth == depthInfinity, h.treeVisit(ctx, dst, &failures, nil))
	// The properties of members that were not copied must not wait at
	// their names for a resource created there later. A failed collection
	// may hold copied members, which lose theirs: the 207 reports it failed.
	for _, f := range failures {
		if err := h.state.DeleteTree(stateCtx, f.name); err != nil {
			return err
		}
	}
	if involved && (copyErr != nil || ctx.Err() != nil) {
		if err := sweep(stateCtx, h.fs, h.state, dst); err != nil {
			return err
		}
	}
	if copyErr != nil {
		h.logStopped(ctx, r)
		return storageError(dst, copyErr)
	}
	h.logStopped(ctx, r)
	return h.writeFailures(w, failures, createdOrReplaced(exists))
}

// clearDestination removes an existing destination, with its state,
// before a COPY or a MOVE by copies puts the source there (RFC 4918
// §9.8.4). answered is true when members could not be removed: the 207
// naming them has been written and the request is over.
func (h *Handler) clearDestination(ctx context.Context, w http.ResponseWriter, r *http.Request, dst string) (answered bool, err error) {
	var failures []memberFailure
	removed, err := h.newRemovedState(ctx, dst)
	if err != nil {
		return false, err
	}
	if err := h.fs.RemoveTree(ctx, dst, h.treeVisit(ctx, dst, &failures, removed)); err != nil {
		return false, storageError(dst, err)
	}
	if len(failures) > 0 {
		removed.flush()
		h.logStopped(ctx, r)
		return true, h.writeFailures(w, failures, 0)
	}
	removed.complete()
	// The state follows the tree even when the request was stopped.
	return false, h.state.DeleteTree(context.WithoutCancel(ctx), dst)
}

// hasState reports whether src, or dst when it exists, has dead properties
// or locks at or below it: a COPY or MOVE without any needs no state
// change, and no intent.
func (h *Handler) hasState(ctx context.Context, src, dst string, exists bool) (bool, error) {
	has, err := state.HasState(ctx, h.state, src)
	if err != nil || has || !exists {
		return has, err
	}
	return state.HasState(ctx, h.state, dst)
}

// logStopped logs, once, that an operation was stopped before its end and
// why, when it was.
func (h *Handler) logStopped(ctx context.Context, r *http.Request) {
	if ctx.Err() == nil {
		return
	}
	// The lifetime's end also ends the request's context, so it is asked
	// first: the cause of ctx may be either.
	reason := "client went away"
	switch {
	case h.lifetime.Err() != nil || errors.Is(context.Cause(ctx), errShuttingDown):
		reason = errShuttingDown.Error()
	case errors.Is(context.Cause(ctx), errCancelled):
		reason = errCancelled.Error()
	}
	h.log.Warn("operation stopped before its end", "method", r.Method, "path", r.URL.Path, "reason", reason)
}

func sizeOfFile(fi os.FileInfo) int64 {
	if fi.IsDir() {
		return 0
	}
	return fi.Size()
}

// copyOwnProps copies the dead properties of src alone (a Depth 0 COPY).
func (h *Handler) copyOwnProps(ctx context.Context, src, dst string) error {
	props, err := h.state.Props(ctx, src)
	if err != nil || len(props) == 0 {
		return err
	}
	return h.state.PatchProps(ctx, dst, props, nil)
}

func createdOrReplaced(existed bool) int {
	if existed {
		return http.StatusNoContent
	}
	return http.StatusCreated
}

// move renames src to dst. An existing destination is exchanged with the
// source in one step where the storage can (storage.Exchange), so that at
// every instant, a crash included, dst is the old resource or the new one;
// the old one, now at src's name, is then renamed under a hidden name and
// removed. Elsewhere it is renamed out of the way under a hidden name
// first, and put back if moving src fails. Either way the path locks held
// by the request keep other changes out of both names meanwhile.
func (h *Handler) move(ctx context.Context, w http.ResponseWriter, r *http.Request, src, dst string, exists bool) error {
	if err := ctx.Err(); err != nil {
		h.logStopped(ctx, r)
		return storageError(r.URL.Path, err)
	}
	// Once the renames begin, they and the state must be completed
	// together: a MOVE is not stopped half way.
	ctx = context.WithoutCancel(ctx)
	// Where an overwritten destination goes before it is removed.
	aside := path.Join(path.Dir(src), storage.TempName())
	srcHas, err := state.HasState(ctx, h.state, src)
	if err != nil {
		return err
	}
	involved := srcHas
	if !involved && exists {
		if involved, err = state.HasState(ctx, h.state, dst); err != nil {
			return err
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
			return err
		}
		defer end()
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
				return storageError(r.URL.Path, err)
			}
		default:
			return storageError(r.URL.Path, err)
		}
	} else if err := h.fs.Rename(ctx, src, dst); err != nil {
		return storageError(r.URL.Path, err)
	}
	if parked != "" {
		if err := h.fs.RemoveReserved(ctx, parked); err != nil {
			h.log.Warn("MOVE left the old destination behind", "parked", parked, "err", err)
		}
	}
	if exists {
		if err := h.state.DeleteTree(ctx, dst); err != nil {
			return err
		}
	}
	if err := h.state.MoveTree(ctx, src, dst); err != nil {
		return err
	}
	processing.FromContext(ctx).AddResource(h.prefix + dst)
	w.WriteHeader(createdOrReplaced(exists))
	return nil
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
	defer release()
	fi, err := h.fs.Stat(ctx, name)
	if err != nil {
		return storageError(r.URL.Path, err)
	}
	if err := h.allowTree(ctx, name, name, PermDelete, PermDelete, fi.IsDir()); err != nil {
		return err
	}
	if err := h.authorizeWrite(r, name, lockTarget{name: name, members: fi.IsDir(), membership: true}); err != nil {
		return err
	}
	if has, err := state.HasState(ctx, h.state, name); err != nil {
		return err
	} else if has {
		end, err := h.intend(ctx, state.Intent{Op: "delete", Src: name, HadState: true})
		if err != nil {
			return err
		}
		defer end()
	}
	ctx, cancel := h.operationContext(r)
	defer cancel()
	if !fi.IsDir() {
		// A collection's total would take a walk of its own (see COPY).
		processing.FromContext(ctx).SetTotal(1, fi.Size())
	}
	var failures []memberFailure
	removed, err := h.newRemovedState(ctx, name)
	if err != nil {
		return err
	}
	if err := h.fs.RemoveTree(ctx, name, h.treeVisit(ctx, name, &failures, removed)); err != nil {
		return storageError(r.URL.Path, err)
	}
	h.logStopped(ctx, r)
	if len(failures) > 0 {
		removed.flush()
	} else {
		removed.complete()
		if err := h.state.DeleteTree(context.WithoutCancel(ctx), name); err != nil {
			return err
		}
	}
	return h.writeFailures(w, failures, http.StatusNoContent)
}
