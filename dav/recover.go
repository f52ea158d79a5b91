package dav

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"slices"
	"syscall"
	"time"

	"davd/storage"
	"davd/storage/pathlock"
	"davd/storage/state"
)

// DELETE, COPY and MOVE change the tree and then the state (dead
// properties, locks); a crash between the two would leave state naming
// resources that are gone, or a moved resource with the properties of the
// one it replaced. Each records a state.Intent first when it matters (some
// state is involved, or a MOVE overwrites), and ends it once the state has
// followed. Recover, run at start before anything is served, brings the
// state of each interrupted change in step with what the tree shows:
//
//   - delete of X: the state of every path at or below X that no longer
//     exists is removed (sweep).
//   - copy to D: the properties are copied before the files, so members
//     copied before the crash have theirs; the sweep of D removes those of
//     members never copied.
//   - move of S to D: whether the rename took place is read from the tree
//     (D now holds the resource marked at S). If it did, the state moves as
//     the MOVE would have moved it — unless that was done already — and an
//     old destination left at S by the exchange is removed; if not,
//     nothing changed.
//
// Each step may find its work done already: recovering is idempotent, and
// a crash during recovery is recovered at the next start.

// intend records an intent and returns the function that ends it.
func (h *Handler) intend(ctx context.Context, in state.Intent) (func(), error) {
	ctx = context.WithoutCancel(ctx)
	id, err := h.state.BeginIntent(ctx, in)
	if err != nil {
		return nil, err
	}
	return func() {
		if err := h.state.EndIntent(ctx, id); err != nil {
			h.log.Warn("intent not ended; it is recovered at the next start", "op", in.Op, "path", in.Src, "err", err)
		}
	}, nil
}

// Recover finishes the state changes interrupted by a crash (see above)
// for fs and st. It must run before fs and st serve requests.
//
// Instances that share st (PostgreSQL) list each other's intents, and an
// intent may belong to an operation another instance is still running:
// each intent is recovered while holding the path locks of what it
// touches, which the running operation holds until it has ended its
// intent. An intent whose paths stay held for recoverWait is left to the
// instance running it; one that is gone once they are free was ended by
// its operation.
func Recover(ctx context.Context, fs *storage.FileSystem, st state.Store, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	intents, err := st.Intents(ctx)
	if err != nil {
		return err
	}
	for _, in := range intents {
		wctx, cancel := context.WithTimeout(ctx, recoverWait)
		release, err := st.Acquire(wctx, recoverClaims(in)...)
		cancel()
		if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			log.Info("an operation is running on another instance sharing the state; left to it", "op", in.Op, "src", in.Src, "dst", in.Dst)
			continue
		}
		if err != nil {
			return err
		}
		recovered, err := recoverPending(ctx, fs, st, in)
		release()
		if err != nil {
			return fmt.Errorf("recovering the interrupted %s of %s: %w", in.Op, in.Src, err)
		}
		if recovered {
			log.Warn("recovered an operation interrupted by a crash", "op", in.Op, "src", in.Src, "dst", in.Dst)
		}
	}
	return nil
}

// recoverWait is how long Recover waits for the paths of an intent that
// another instance's running operation holds.
const recoverWait = 500 * time.Millisecond

// recoverClaims are the path locks an operation with intent in holds.
func recoverClaims(in state.Intent) []pathlock.Claim {
	var claims []pathlock.Claim
	if in.Op != "copy" {
		claims = append(claims, pathlock.Claim{Path: in.Src, Deep: true})
	}
	if in.Dst != "" {
		claims = append(claims, pathlock.Claim{Path: in.Dst, Deep: true})
	}
	return claims
}

// recoverPending recovers in and ends it, unless it has been ended
// meanwhile; it reports whether it recovered it.
func recoverPending(ctx context.Context, fs *storage.FileSystem, st state.Store, in state.Intent) (bool, error) {
	intents, err := st.Intents(ctx)
	if err != nil {
		return false, err
	}
	if !slices.ContainsFunc(intents, func(i state.Intent) bool { return i.ID == in.ID }) {
		return false, nil
	}
	if err := recoverIntent(ctx, fs, st, in); err != nil {
		return false, err
	}
	return true, st.EndIntent(ctx, in.ID)
}

func recoverIntent(ctx context.Context, fs *storage.FileSystem, st state.Store, in state.Intent) error {
	switch in.Op {
	case "delete":
		return sweep(ctx, fs, st, in.Src)
	case "copy":
		return sweep(ctx, fs, st, in.Dst)
	case "move":
		return recoverMove(ctx, fs, st, in)
	}
	return fmt.Errorf("unknown intent %q", in.Op)
}

func recoverMove(ctx context.Context, fs *storage.FileSystem, st state.Store, in state.Intent) error {
	var moved bool
	if in.Mark != "" {
		moved = fs.Identity(ctx, in.Dst) == in.Mark
	} else {
		_, srcErr := fs.Stat(ctx, in.Src)
		_, dstErr := fs.Stat(ctx, in.Dst)
		moved = errors.Is(srcErr, os.ErrNotExist) && dstErr == nil
	}
	if !moved {
		return sweep(ctx, fs, st, in.Src)
	}
	if in.Aside != "" {
		// The old destination was put aside, and maybe partly removed.
		for _, aside := range []string{in.Aside, path.Join(path.Dir(in.Dst), path.Base(in.Aside))} {
			if err := fs.RemoveReserved(ctx, aside); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	srcHas, err := state.HasState(ctx, st, in.Src)
	if err != nil {
		return err
	}
	// The MOVE deletes the state of the destination, then moves that of
	// the source (whose locks go). State still at the source, or a source
	// that had none, means the first step may not be done; redoing both is
	// harmless then.
	if srcHas || !in.HadState {
		if err := st.DeleteTree(ctx, in.Dst); err != nil {
			return err
		}
		if err := st.MoveTree(ctx, in.Src, in.Dst); err != nil {
			return err
		}
	}
	if in.OldMark != "" && fs.Identity(ctx, in.Src) == in.OldMark {
		// The exchange left the old destination at the source's name.
		parked := path.Join(path.Dir(in.Src), storage.TempName())
		if err := fs.RenameReserved(ctx, in.Src, parked); err != nil {
			return err
		}
		if err := fs.RemoveReserved(ctx, parked); err != nil {
			return err
		}
	}
	return sweep(ctx, fs, st, in.Src)
}

// sweep removes the state of each path at or below root that no longer
// exists.
func sweep(ctx context.Context, fs *storage.FileSystem, st state.Store, root string) error {
	var gone []string
	err := st.StatePaths(ctx, root, func(p string) error {
		if _, err := fs.Stat(ctx, p); errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			gone = append(gone, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range gone {
		if err := st.DeleteTree(ctx, p); err != nil {
			return err
		}
	}
	return nil
}
