package dav

import (
	"context"
	"net/http"

	"davd/storage/state"
)

// moveByCopy moves src to dst on storage without a rename (an object
// store, see storage.FileSystem.MovesByCopy): an existing destination is
// deleted first (RFC 4918 §9.9.3), then each member is copied and its
// source deleted once the copy is confirmed, with progress per member.
// Members that fail stay at src and are answered in a 207; nothing is
// lost. The move is not atomic: a client that watches, or a crash, can
// see the tree split between src and dst.
//
// The dead properties are copied before the members, as for COPY, and
// the state of whatever is gone from either name is swept afterwards, so
// that each member, wherever it ended, keeps its properties. After a
// crash the two intents below sweep both names the same way (recover.go).
func (h *Handler) moveByCopy(ctx context.Context, w http.ResponseWriter, r *http.Request, src, dst string, exists bool) error {
	stateCtx := context.WithoutCancel(ctx)
	involved, err := h.hasState(ctx, src, dst, exists)
	if err != nil {
		return err
	}
	if involved {
		for _, in := range []state.Intent{{Op: "copy", Src: src, Dst: dst, HadState: true}, {Op: "delete", Src: src, HadState: true}} {
			end, err := h.intend(ctx, in)
			if err != nil {
				return err
			}
			defer end()
		}
	}
	var failures []memberFailure
	if exists {
		if answered, err := h.clearDestination(ctx, w, r, dst); answered || err != nil {
			return err
		}
	}
	if involved {
		if err := h.state.CopyTree(stateCtx, src, dst); err != nil {
			return err
		}
	}
	moveErr := h.fs.MoveTree(ctx, src, dst, h.treeVisit(ctx, src, &failures, nil))
	if involved {
		// Locks go with the source, as on a rename; properties stay with
		// each member where it is now.
		for _, root := range []string{src, dst} {
			if err := sweep(stateCtx, h.fs, h.state, root); err != nil {
				return err
			}
		}
		if len(failures) == 0 && moveErr == nil {
			if err := h.state.DeleteTree(stateCtx, src); err != nil {
				return err
			}
		}
	}
	h.logStopped(ctx, r)
	if moveErr != nil {
		return storageError(r.URL.Path, moveErr)
	}
	return h.writeFailures(w, failures, createdOrReplaced(exists))
}
