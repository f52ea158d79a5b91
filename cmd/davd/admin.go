package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"davd/processing"
	"davd/storage"
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

// listenAdmin binds addr; "" means no admin listener, and every method of
// the nil *admin it returns does nothing.
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

// serve starts answering, from the operations and metrics of ops; /healthz
// also probes the storage.
func (a *admin) serve(ops *processing.Registry, backend *storage.Backend, logger *slog.Logger) {
	if a == nil {
		return
	}
	a.srv = &http.Server{
		Handler: ops.AdminHandler(metricsBuildInfo(), a.draining.Load, func(ctx context.Context) error {
			if err := backend.Probe(ctx, probeTimeout); err != nil {
				logger.Warn("health check failed", "err", err)
				return err
			}
			return nil
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	a.served = make(chan struct{})
	logger.Info("admin listening", "url", "http://"+a.ln.Addr().String()+"/")
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
