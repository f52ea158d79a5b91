package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"davd/dav"
)

// abortGrace is how long operations told to stop (the shutdown timeout
// has passed) get to reach their next consistent point and answer their
// clients before the process exits. They stop between members, or between
// 8 MiB chunks of a file, so this is generous.
const abortGrace = 30 * time.Second

// waitJournal stops the journaled operations still running in the
// background (asynchronous requests, resumed operations) at their next
// member and waits for them to release their records, which the next
// start resumes, before the state and storage are closed.
func waitJournal(j *dav.Journal, abort context.CancelFunc, log *slog.Logger) {
	abort()
	ctx, cancel := context.WithTimeout(context.Background(), abortGrace)
	defer cancel()
	if err := j.Wait(ctx); err != nil {
		log.Error("operations still running at exit; they resume at the next start")
	}
}

// closeGrace is how long handlers get to return once their connections
// are closed (after abortGrace), before storage and state are closed.
const closeGrace = 5 * time.Second

// drain shuts srv down after a signal: it stops accepting at once, lets
// running requests finish for up to cfg.shutdownTimeout (102s keep going
// to their clients meanwhile: http.Server.Shutdown only closes idle
// connections and leaves request contexts alone), then cancels lifetime so
// that COPY, MOVE and DELETE stop at their next member and every other
// request's context ends, and waits for every handler to return before the
// caller closes storage and state.
func drain(srv *http.Server, served <-chan error, cfg config, abort context.CancelFunc, tr tracking, adm *admin) error {
	ops := tr.ops
	adm.drain()
	cfg.logger.Info("shutting down", "timeout", cfg.shutdownTimeout, "in_flight", ops.InFlight())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err == nil {
		// Asynchronous and resumed operations get what is left of the
		// timeout too.
		err = tr.journal.Wait(sctx)
	}
	if err != nil {
		cfg.logger.Warn("shutdown timeout passed; stopping running operations", "in_flight", ops.InFlight())
		abort()
		gctx, gcancel := context.WithTimeout(context.Background(), abortGrace)
		defer gcancel()
		// Shutdown again, so that the stopped operations' final responses
		// are written before the connections close.
		if err := srv.Shutdown(gctx); err != nil {
			cfg.logger.Warn("closing connections", "err", err, "in_flight", ops.InFlight())
			srv.Close()
		}
		// Close does not wait for handlers, and the storage and state must
		// not be closed under one: a PUT whose connection was just closed
		// still removes its temporary file.
		wctx, wcancel := context.WithTimeout(context.Background(), closeGrace)
		defer wcancel()
		if err := ops.Wait(wctx); err != nil {
			cfg.logger.Error("requests still running at exit", "in_flight", ops.InFlight())
		}
	}
	adm.close()
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// errShutdown is the error of a request body read once the shutdown
// timeout has passed.
var errShutdown = errors.New("server shutting down: the request body is no longer read")

// cutBodies makes the bodies of next's requests fail once lifetime ends
// (the shutdown timeout has passed): an upload still arriving then is cut
// off at once, instead of being read to its end only to be discarded. It
// must be outside processing.WithDeadlines, so that its body is the
// innermost: a read blocked at the moment lifetime ends is woken by a
// read deadline in the past, which the deadline wrapper cannot move on
// again, because every later read sees lifetime ended first.
func cutBodies(next http.Handler, lifetime context.Context) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		// The controller must not be used once the handler has returned.
		var mu sync.Mutex
		returned := false
		stop := context.AfterFunc(lifetime, func() {
			mu.Lock()
			defer mu.Unlock()
			if !returned {
				_ = rc.SetReadDeadline(time.Now())
			}
		})
		defer func() {
			stop()
			mu.Lock()
			returned = true
			mu.Unlock()
		}()
		r.Body = &cutBody{ReadCloser: r.Body, lifetime: lifetime}
		next.ServeHTTP(w, r)
	})
}

// cutBody fails every read once lifetime has ended.
type cutBody struct {
	io.ReadCloser
	lifetime context.Context
}

func (b *cutBody) Read(p []byte) (int, error) {
	if b.lifetime.Err() != nil {
		return 0, errShutdown
	}
	return b.ReadCloser.Read(p)
}
