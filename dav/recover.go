package dav

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"syscall"

	"davd/storage"
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
func Recover(ctx context.Context, fs *storage.FileSystem, st state.Store, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	intents, err := st.Intents(ctx)
	if err != nil {
		return err
	}
	for _, in := range intents {
		if err := recoverIntent(ctx, fs, st, in); err != nil {
			return fmt.Errorf("recovering the interrupted %s of %s: %w", in.Op, in.Src, err)
		}
		if err := st.EndIntent(ctx, in.ID); err != nil {
			return err
		}
		log.Warn("recovered an operation interrupted by a crash", "op", in.Op, "src", in.Src, "dst", in.Dst)
	}
	return nil
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
