package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"davd/processing"
	"davd/storage"
	"davd/storage/state"
)

// admin is the listener of processing.Registry.AdminHandler. It keeps
// serving while the server drains, so that the operations still running
// can be watched, and stops last.
type admin struct {
	ln       net.Listener
	srv      *http.Server
	draining atomic.Bool
	served   chan struct{}
	closed   sync.Once
}

// listenAdmin binds addr (see adminListenAddr); "" means no admin
// listener, and every method of the nil *admin it returns does nothing.
func listenAdmin(addr string) (*admin, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--admin-addr: %w", err)
	}
	return &admin{ln: ln}, nil
}

// probeTimeout is how long /healthz waits for the storage to describe its
// top before it answers 503.
const probeTimeout = 2 * time.Second

// serve starts answering, from the operations and metrics of ops and the
// journal of st; /healthz also probes the storage. With token, every
// request but /healthz needs it.
func (a *admin) serve(ops *processing.Registry, backend *storage.Backend, st state.Store, token *adminToken, logger *slog.Logger) {
	if a == nil {
		return
	}
	opts := processing.AdminOptions{
		Build:    metricsBuildInfo(),
		Draining: a.draining.Load,
		Healthy: func(ctx context.Context) error {
			if err := backend.Probe(ctx, probeTimeout); err != nil {
				logger.Warn("health check failed", "err", err)
				return err
			}
			return nil
		},
		Token:   token.get,
		Journal: journalLister(st),
	}
	a.srv = &http.Server{
		Handler:           ops.AdminHandler(opts),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	a.served = make(chan struct{})
	logger.Info("admin listening", "url", "http://"+a.ln.Addr().String()+"/", "token", token != nil)
	go func() {
		defer close(a.served)
		if err := a.srv.Serve(a.ln); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("admin listener failed", "err", err)
		}
	}()
}

// metricsBuildInfo describes this binary for davd_build_info, as
// `davd version` does.
func metricsBuildInfo() processing.BuildInfo {
	b := currentBuild()
	return processing.BuildInfo{Version: b.version, Revision: b.commit, GoVersion: b.goVer}
}

// drain makes /healthz answer 503.
func (a *admin) drain() {
	if a != nil {
		a.draining.Store(true)
	}
}

// close stops the admin listener; its requests are all short. It may be
// called more than once.
func (a *admin) close() {
	if a == nil {
		return
	}
	a.closed.Do(func() {
		if a.srv == nil {
			a.ln.Close()
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if a.srv.Shutdown(ctx) != nil {
			a.srv.Close()
		}
		<-a.served
	})
}

// adminListenAddr is the address --admin-addr listens on: a bare port
// (":9090" or "9090") is loopback only, since the admin listener shows
// paths and user names; a host is used as given.
func adminListenAddr(addr string) string {
	if _, err := strconv.ParseUint(addr, 10, 16); err == nil {
		return net.JoinHostPort("127.0.0.1", addr)
	}
	if port, ok := strings.CutPrefix(addr, ":"); ok {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}

// resumingState is the state of a journaled operation that runs again
// after a takeover, or waits for an instance to take it.
const resumingState = "resuming"

// journalEntry is one journaled operation as /operations shows it: the
// record's fields, with State one of processing.JournalStates().
type journalEntry struct {
	state.Operation
	State string `json:"state"` // shadows Operation.State
}

// journalState is op's state for the admin listener: its own, but for a
// running operation that was taken over (Resumed) or that no instance
// owns, which is resuming.
func journalState(op state.Operation) string {
	if op.State == state.OpRunning && (op.Resumed > 0 || op.Instance == "") {
		return resumingState
	}
	return op.State
}

// journalLister lists the operations of j for processing.AdminOptions:
// all of them, or those in the state asked for.
func journalLister(j state.Journal) func(context.Context, string) (any, error) {
	return func(ctx context.Context, want string) (any, error) {
		running := want == state.OpRunning || want == resumingState
		ops, err := j.Operations(ctx, running)
		if err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		list := []journalEntry{} // [] rather than null
		for _, op := range ops {
			s := journalState(op)
			if want == "" || s == want {
				list = append(list, journalEntry{Operation: op, State: s})
			}
		}
		return list, nil
	}
}
