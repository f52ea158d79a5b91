package dav

import (
	"context"
	"errors"
	"os"

	"davd/storage/state"
)

// moveByCopy moves src to dst where one rename cannot: on storage
// without a rename (an object store, see storage.FileSystem.MovesByCopy)
// and across devices. An existing destination is deleted first (RFC 4918
// §9.9.3), then each member is copied and its source deleted once the
// copy is confirmed, with progress per member. Members that fail stay at
// src and are answered in a 207; nothing is lost. The move is not atomic
// while it runs, but it is journaled: after a crash it is resumed
// (resumed jobs skip what the first run did) until it is complete.
//
// The dead properties are copied before the members, as for COPY, and
// the state of whatever is gone from either name is swept afterwards, so
// that each member, wherever it ended, keeps its properties. After a
// crash the two intents below sweep both names the same way (recover.go).
func (h *Handler) moveByCopy(ctx context.Context, job *treeJob) treeResult {
	src, dst := job.src, job.dst
	stateCtx := context.WithoutCancel(ctx)
	exists := job.exists
	if job.resumed {
		_, err := h.fs.Stat(ctx, dst)
		exists = err == nil
		if _, err := h.fs.Stat(ctx, src); errors.Is(err, os.ErrNotExist) {
			// Every member was moved before the crash; what is left is
			// the state of the source.
			if err := h.state.DeleteTree(stateCtx, src); err != nil {
				return failed(err)
			}
			return h.outcome(createdOrReplaced(job.phase == phaseClear), nil, dst, nil)
		}
	}
	involved, err := h.hasState(ctx, src, dst, exists)
	if err != nil {
		return failed(err)
	}
	if involved {
		for _, in := range []state.Intent{{Op: "copy", Src: src, Dst: dst, HadState: true}, {Op: "delete", Src: src, HadState: true}} {
			end, err := h.intend(ctx, in)
			if err != nil {
				return failed(err)
			}
			defer end()
		}
	}
	if res, ok := h.clearPhase(ctx, job, exists); !ok {
		return res
	}
	if involved {
		if job.resumed {
			// Members moved by the first run have their properties at
			// dst already, and src no longer has them: add, not replace.
			err = mergeProps(stateCtx, h.state, src, dst)
		} else {
			err = h.state.CopyTree(stateCtx, src, dst)
		}
		if err != nil {
			return failed(err)
		}
	}
	var failures []memberFailure
	visit := h.treeVisit(ctx, src, &failures, nil)
	var moveErr error
	if h.fs.MovesByCopy() && !job.resumed {
		moveErr = h.fs.MoveTree(ctx, src, dst, visit)
	} else {
		// Across devices, or resumed: dst may hold part of the result.
		moveErr = h.fs.ResumeMove(ctx, src, dst, visit)
	}
	if involved {
		// Locks go with the source, as on a rename; properties stay with
		// each member where it is now.
		for _, root := range []string{src, dst} {
			if err := sweep(stateCtx, h.fs, h.state, root); err != nil {
				return failed(err)
			}
		}
		if len(failures) == 0 && moveErr == nil {
			if err := h.state.DeleteTree(stateCtx, src); err != nil {
				return failed(err)
			}
		}
	}
	return h.outcome(createdOrReplaced(exists), failures, src, moveErr)
}

// mergeProps gives each path at or below dst the dead properties of its
// counterpart below src, leaving its other properties alone.
func mergeProps(ctx context.Context, st state.Store, src, dst string) error {
	var paths []string
	if err := st.StatePaths(ctx, src, func(p string) error { paths = append(paths, p); return nil }); err != nil {
		return err
	}
	for _, p := range paths {
		props, err := st.Props(ctx, p)
		if err != nil {
			return err
		}
		if len(props) > 0 {
			if err := st.PatchProps(ctx, dst+p[len(src):], props, nil); err != nil {
				return err
			}
		}
	}
	return nil
}
