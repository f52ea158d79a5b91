package dav

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path"

	"davd/processing"
	"davd/storage"
	"davd/storage/pathlock"
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
	} else {
		// The source is read while it is copied: no change inside it
		// meanwhile (a journaled copy, resumed, must find it as it was).
		claims = append(claims, pathlock.Claim{Path: src, Deep: true, Shared: true})
	}
	release, err := h.claim(ctx, claims...)
	if err != nil {
		return err
	}
	handedOff := false
	defer func() {
		if !handedOff {
			release()
		}
	}()
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
		return storageError(h.prefix+dst, dstErr)
	}
	dstParent, err := h.fs.Parent(ctx, dst)
	switch {
	case errors.Is(err, storage.ErrNoParent):
		return errorf(http.StatusConflict, "the destination's parent collection does not exist")
	case err != nil: // the parent may well exist (a storage server down is a 503)
		return storageError(h.prefix+path.Dir(dst), err)
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
	job := &treeJob{method: r.Method, src: src, dst: dst, deep: depth == depthInfinity,
		overwrite: r.Header.Get("Overwrite") != "F", srcInfo: srcInfo, srcDir: srcInfo.IsDir(),
		exists: exists, dstDir: exists && dstInfo.IsDir()}
	if exists {
		job.dstInfo = dstInfo
	}
	job.byCopies = isMove && (h.fs.MovesByCopy() || (path.Dir(src) != path.Dir(dst) && !h.sameDevice(ctx, path.Dir(src), dstParent)))
	handedOff = true
	return h.runJob(w, r, job, release)
}

// sameDevice reports whether the collection a and the one dir describes
// are on one device, so that a rename between them can work; true when
// the storage cannot tell.
func (h *Handler) sameDevice(ctx context.Context, a string, dir os.FileInfo) bool {
	ai, err := h.fs.Stat(ctx, a)
	if err != nil {
		return true
	}
	ad, _, aok := storage.FileID(ai)
	dd, _, dok := storage.FileID(dir)
	return !aok || !dok || ad == dd
}

// clearDestination removes an existing destination, with its state,
// before a COPY or a MOVE by copies puts the source there (RFC 4918
// §9.8.4). The members that could not be removed are returned: the
// operation ends there, answered with a 207 naming them.
func (h *Handler) clearDestination(ctx context.Context, dst string) ([]memberFailure, error) {
	var failures []memberFailure
	removed, err := h.newRemovedState(ctx, dst)
	if err != nil {
		return nil, err
	}
	if err := h.fs.RemoveTree(ctx, dst, h.treeVisit(ctx, dst, &failures, removed)); err != nil {
		return nil, storageError(h.prefix+dst, err)
	}
	if len(failures) > 0 {
		removed.flush()
		return failures, nil
	}
	removed.complete()
	// The state follows the tree even when the request was stopped.
	return nil, h.state.DeleteTree(context.WithoutCancel(ctx), dst)
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
