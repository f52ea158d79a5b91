package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"

	"davd/dav"
)

// SIGHUP reloads the users (the --config file's users, anonymous and
// realm, and the --htpasswd file), the TLS certificate and the admin
// token (--admin-token-file). A new handler
// is built from the new users and replaces the old one for requests that
// arrive afterwards; a request that has entered the old one finishes
// under it. Every other setting is fixed at start.
//
// Roots are opened once and kept: a root named again by the new users
// reuses the backend and state store already open (a SQLite state is
// locked exclusively and cannot be opened twice), and a root no longer
// named stays open, unused, until shutdown. Requests of the old handler
// may still use it, and roots are few.

// switchHandler serves each request with the handler current when the
// request arrives. The handler is never nil.
type switchHandler struct {
	cur atomic.Pointer[http.Handler]
}

func newSwitchHandler(h http.Handler) *switchHandler {
	s := &switchHandler{}
	s.set(h)
	return s
}

// set makes h serve the requests that arrive from now on.
func (s *switchHandler) set(h http.Handler) { s.cur.Store(&h) }

func (s *switchHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.cur.Load()).ServeHTTP(w, r)
}

// handlers builds the whole handler of a set of users over the storage,
// its state and the roots already opened. Calls must not overlap: they
// share rs.
type handlers struct {
	cfg      config // the flags: fixed for the life of the process
	rs       *roots
	tr       tracking
	secrets  []string // the server's own directories, besides rs.secrets
	lifetime context.Context
}

// build returns the handler serving users and anonymous under realm: the
// users' handlers behind authentication (or, with no users at all, one
// handler open to everyone), then CORS, deadlines and the host check.
func (hs *handlers) build(ctx context.Context, set userSet, realm string) (http.Handler, error) {
	cfg := hs.cfg
	cfg.users, cfg.anonymous, cfg.realm = set.users, set.anonymous, realm
	var handler http.Handler
	if !set.authenticated() {
		h, err := dav.NewHandler(hs.rs.main.FileSystem(), hs.rs.mainSt, hs.tr.apply(dav.Config{
			Prefix:         cfg.prefix,
			ReadOnly:       cfg.readOnly,
			Processing:     cfg.processing,
			Logger:         cfg.logger,
			Limits:         cfg.expose.limits,
			TrustedProxies: cfg.expose.trustedProxies,

			InlineActiveContent: cfg.inlineActive,
		}))
		if err != nil {
			return nil, fmt.Errorf("--prefix: %w", err)
		}
		if err := checkSecrets([]servedDir{{"--storage", hs.rs.main.Dir}}, hs.secrets); err != nil {
			return nil, err
		}
		handler = h
	} else {
		hs.rs.served = nil
		h, err := usersHandler(ctx, cfg, hs.rs, hs.tr)
		if err != nil {
			return nil, err
		}
		if err := checkSecrets(hs.rs.served, append(slices.Clip(hs.secrets), hs.rs.secrets...)); err != nil {
			return nil, err
		}
		handler = h
	}
	// CORS goes outside authentication: browsers send preflights without
	// credentials.
	handler, err := cfg.expose.wrap(handler)
	if err != nil {
		return nil, err
	}
	// Outside the deadlines that wrap added: see cutBodies.
	handler = cutBodies(handler, hs.lifetime)
	// Outermost: a rebound page's request must not reach CORS either.
	if cfg.credentialsOptional() {
		handler = &hostCheck{allowed: cfg.expose.allowedHosts, trusted: cfg.expose.trustedProxies,
			anonymousOnly: len(cfg.users) > 0, logger: cfg.logger, next: handler}
	}
	return handler, nil
}

// reloader reads the user sources again and switches to the handler they
// give, or keeps the current one when they fail to load.
type reloader struct {
	hs     *handlers
	sw     *switchHandler
	log    *slog.Logger
	mu     sync.Mutex // one reload at a time: builds share hs.rs
	authed bool       // the server started with users or an anonymous entry
}

// reload reloads the users and logs the outcome: one line at error level
// when the old configuration stays, one at info level when the new one
// serves.
func (rl *reloader) reload(ctx context.Context) error {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	src := rl.hs.cfg.sources
	set, realm, err := rl.load(ctx)
	if err != nil {
		rl.log.Error("configuration reload failed; still serving the previous configuration",
			"config", src.config, "htpasswd", src.htpasswd, "err", err)
		return err
	}
	var changed []string
	for k, v := range set.flags {
		if k != "realm" && !reflect.DeepEqual(v, src.flags[k]) {
			changed = append(changed, k)
		}
	}
	for k := range src.flags {
		if _, ok := set.flags[k]; !ok && k != "realm" {
			changed = append(changed, k)
		}
	}
	slices.Sort(changed)
	attrs := []any{"users", len(set.users), "anonymous", set.anonymous != nil, "realm", realm,
		"config", src.config, "htpasswd", src.htpasswd,
		"reloaded", "users, anonymous, realm and the --htpasswd file; every other setting needs a restart"}
	if len(changed) > 0 {
		attrs = append(attrs, "not_applied", changed)
	}
	rl.log.Info("configuration reloaded", attrs...)
	return nil
}

// load reads the sources, checks them as a start would, and switches to
// their handler.
func (rl *reloader) load(ctx context.Context) (userSet, string, error) {
	cfg := rl.hs.cfg
	set, err := cfg.sources.read()
	if err != nil {
		return set, "", err
	}
	if rl.authed && !set.authenticated() {
		// An emptied or half-written file must not open the share.
		return set, "", errors.New("the new configuration has no users and no anonymous entry, so it would serve everyone " +
			"without authentication: restart davd to do that")
	}
	if err := checkExposure(cfg.addr, set.users, cfg.allowAnonymous); err != nil {
		return set, "", err
	}
	if (len(set.users) == 0 || set.anonymous != nil) && slices.Contains(cfg.expose.corsOrigins, "*") {
		return set, "", errors.New("--cors-origin * is refused when requests without credentials are served")
	}
	realm := cfg.sources.realmOf(set)
	h, err := rl.hs.build(ctx, set, realm)
	if err != nil {
		return set, "", err
	}
	rl.sw.set(h)
	return set, realm, nil
}

// watchSignals reloads, on every SIGHUP, the certificate (with --tls-cert),
// the admin token (with --admin-token-file; token may be nil) and the
// users (with --config or --htpasswd; rl may be nil), until the returned
// function is called. The signal is subscribed before it returns; main
// subscribed earlier still, so a SIGHUP never meets its default action,
// which is to terminate.
func watchSignals(ctx context.Context, cert *certHolder, token *adminToken, rl *reloader, log *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
			}
			if cert != nil {
				if err := cert.reload(); err != nil {
					log.Error("certificate reload failed; still serving the previous one", "err", err)
				} else {
					log.Info("certificate reloaded", "cert", cert.certFile)
				}
			}
			if token != nil {
				if warning, err := token.reload(); err != nil {
					log.Error("admin token reload failed; still requiring the previous one", "err", err)
				} else {
					if warning != "" {
						log.Warn(warning)
					}
					log.Info("admin token reloaded", "file", token.file)
				}
			}
			if rl != nil {
				rl.reload(ctx)
			}
			if cert == nil && token == nil && rl == nil {
				log.Info("SIGHUP: nothing to reload without --tls-cert, --admin-token-file, --config or --htpasswd")
			}
		}
	}()
	return func() {
		cancel()
		<-done
		signal.Stop(hup)
	}
}
