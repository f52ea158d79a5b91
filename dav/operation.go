package dav

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"davd/processing"
)

// OnDisconnect says what a COPY, MOVE or DELETE does when its client goes
// away before the final response.
type OnDisconnect int

const (
	// FinishOnDisconnect lets the operation run to its end and logs the
	// result. (A client that goes away while the request's preconditions
	// are still being checked, before anything changed, stops it in either
	// mode.) It is the default because a tree operation stopped half way
	// leaves a tree that is neither the old one nor the new one: some
	// members copied, moved or deleted, others not, with no client left to
	// tell which. The client most likely retries; finding the work done is
	// better than finding half of it.
	FinishOnDisconnect OnDisconnect = iota
	// StopOnDisconnect stops the operation at the next member (or the next
	// 8 MiB of a large file), for servers where an abandoned operation
	// should not go on using the storage. The tree stays consistent member
	// by member: every file is either completely there or absent (copies
	// are written under a temporary name and renamed into place).
	StopOnDisconnect
)

// ParseOnDisconnect parses "finish" or "stop".
func ParseOnDisconnect(s string) (OnDisconnect, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "finish":
		return FinishOnDisconnect, nil
	case "stop":
		return StopOnDisconnect, nil
	}
	return 0, fmt.Errorf("%q: use finish or stop", s)
}

// String returns "finish" or "stop".
func (d OnDisconnect) String() string {
	if d == StopOnDisconnect {
		return "stop"
	}
	return "finish"
}

// errShuttingDown is the cause of an operation stopped because the server
// shuts down and the shutdown timeout has passed.
var errShuttingDown = errors.New("server shutting down")

// errCancelled is the cause of an operation its user stopped through the
// registry (the file manager's Cancel button).
var errCancelled = errors.New("cancelled by its user")

// operationContext is the context a tree operation (COPY, MOVE, DELETE)
// runs under. With FinishOnDisconnect it is not cancelled when the client
// goes away; with StopOnDisconnect it is. Either way it is cancelled when
// the handler's Lifetime ends (the shutdown timeout has passed), because
// then the process is about to exit and stopping between members is the
// only way to leave a consistent tree, and when the user who started it
// cancels it through the registry (processing.Registry.Cancel). An
// asynchronous operation (async) outlives its request whatever
// OnDisconnect says, and reports to a Progress of its own, which its
// journal record publishes. cancel stops the operation with a cause;
// done releases the context.
func (h *Handler) operationContext(r *http.Request, async bool) (ctx context.Context, cancel context.CancelCauseFunc, done func()) {
	ctx = r.Context()
	progress := processing.FromContext(ctx)
	if async {
		progress = new(processing.Progress)
		ctx = processing.WithProgress(ctx, progress)
	}
	if async || h.onDisconnect == FinishOnDisconnect {
		ctx = context.WithoutCancel(ctx)
	}
	ctx, cancel = context.WithCancelCause(ctx)
	stop := context.AfterFunc(h.lifetime, func() { cancel(errShuttingDown) })
	progress.SetCancel(func() { cancel(errCancelled) })
	return ctx, cancel, func() { progress.SetCancel(nil); stop(); cancel(nil) }
}

// stopped reports whether err means the operation was stopped (client gone
// or shutdown) rather than failed.
func stopped(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// logOperation logs a finished long operation once, with its totals.
func (h *Handler) logOperation(ctx context.Context, info processing.OperationInfo) {
	attrs := []slog.Attr{
		slog.String("id", info.ID),
		slog.String("method", info.Method),
		slog.String("path", info.Path),
		slog.Int("status", statusOrOK(info.Status)),
		slog.Duration("duration", info.Duration()),
		slog.Int64("resources", info.Resources),
		slog.Int64("bytes", info.Bytes),
		slog.Int("interim", info.Interim),
	}
	if info.TotalResources > 0 {
		attrs = append(attrs, slog.Int64("total_resources", info.TotalResources))
	}
	if info.TotalBytes > 0 {
		attrs = append(attrs, slog.Int64("total_bytes", info.TotalBytes))
	}
	if info.Destination != "" {
		attrs = append(attrs, slog.String("destination", info.Destination))
	}
	if info.User != "" {
		attrs = append(attrs, slog.String("user", info.User))
	}
	h.log.LogAttrs(ctx, slog.LevelInfo, "operation finished", attrs...)
}
