package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"davd/dav"
	"davd/processing"
	"davd/storage"
	"davd/storage/state"
)

// defaultState keeps properties and locks with the files they describe
// (in the reserved .davd directory, which clients cannot reach), or in
// memory for memory storage. Remote storage (a bucket) gets a SQLite file
// of its own in the user's state directory ($XDG_STATE_HOME/davd, else
// ~/.local/state/davd), named after the bucket, prefix and endpoint: never
// inside the bucket, where a database cannot live.
func defaultState(b *storage.Backend) string {
	switch {
	case b.Remote != "":
		return "sqlite://" + remoteStateFile(b.Remote)
	case b.Dir == "":
		return "memory:"
	}
	return "sqlite://" + filepath.Join(b.Dir, storage.ReservedName, "state.db")
}

// remoteStateFile is the default state file of remote storage.
func remoteStateFile(remote string) string {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		dir = filepath.Join(home, ".local", "state")
	}
	sum := sha256.Sum256([]byte(remote))
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, strings.TrimPrefix(strings.Fields(remote)[0], "s3://"))
	if len(name) > 64 {
		name = name[:64]
	}
	return filepath.Join(dir, "davd", name+"-"+hex.EncodeToString(sum[:6])+".db")
}

// sweepReserved removes, in the background, the temporary files and
// parked trees a crash left in directory storage (see
// storage.FileSystem.SweepReserved), and returns a function that waits
// for it; it stops when ctx is cancelled. Memory storage starts empty and
// read-only storage is not touched.
func sweepReserved(ctx context.Context, b *storage.Backend, cfg config) (wait func()) {
	if b.Dir == "" || cfg.readOnly {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		start := time.Now()
		n, err := b.FileSystem().SweepReserved(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			cfg.logger.Warn("sweep of temporary files failed", "removed", n, "err", err)
		case n > 0:
			cfg.logger.Info("temporary files left by a crash removed", "removed", n, "took", time.Since(start).Round(time.Millisecond))
		}
	}()
	return func() { <-done }
}

// recoverState finishes, before anything is served, the changes a crash
// interrupted (see dav.Recover). A read-only server changes nothing: what
// a crash left waits for a server that writes.
// It then resumes, in the background, the journaled operations a crash
// or a shutdown interrupted (see dav.Journal.Resume), holding their paths
// from before anything is served.
func recoverState(ctx context.Context, b *storage.Backend, st state.Store, readOnly bool, tr tracking, log *slog.Logger) error {
	if readOnly {
		return nil
	}
	if err := dav.Recover(ctx, b.FileSystem(), st, log); err != nil {
		return err
	}
	return tr.journal.Resume(ctx, b.FileSystem(), st, dav.Config{Logger: log, Lifetime: tr.lifetime, Operations: tr.ops})
}

// openState opens the state at url; read-only when the server changes
// nothing, so that it runs on a read-only file system.
func openState(ctx context.Context, url string, readOnly bool) (state.Store, error) {
	if readOnly {
		return state.OpenReadOnly(ctx, url)
	}
	return state.Open(ctx, url)
}

// serve runs the server until ctx is cancelled, then shuts down gracefully:
// no new connections, running requests get cfg.shutdownTimeout to finish.
func serve(ctx context.Context, cfg config, onListen func(net.Addr)) error {
	// Listen first: a bad or busy address then fails before storage or
	// state is created. Nothing is accepted until Serve below.
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	ln = cfg.expose.listener(ln)
	defer ln.Close()
	adm, err := listenAdmin(cfg.adminAddr)
	if err != nil {
		return err
	}
	defer adm.close()
	backend, err := storage.Open(cfg.storage, storage.Options{ReadOnly: cfg.readOnly, Create: cfg.create})
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w (create it, or pass --create)", err)
	}
	if err != nil {
		return err
	}
	defer backend.Close()
	defer sweepReserved(ctx, backend, cfg)() // stopped and waited for before the backend closes
	stateURL := cfg.state
	if stateURL == "" {
		stateURL = defaultState(backend)
	}
	st, err := openState(ctx, stateURL, cfg.readOnly)
	if err != nil {
		return fmt.Errorf("--state: %w", err)
	}
	defer st.Close()
	// lifetime outlives every request: it is cancelled only when the
	// shutdown timeout has passed, to stop operations that still run.
	lifetime, abort := context.WithCancel(context.Background())
	defer abort()
	journal := dav.NewJournal()
	journal.Off = cfg.noJournal
	tr := tracking{ops: processing.NewRegistry(cfg.processing.After), onDisconnect: cfg.onDisconnect, lifetime: lifetime,
		noUI: cfg.noUI, journal: journal}
	// Operations resumed in the background stop with lifetime; the state
	// and storage are closed only once they have.
	defer waitJournal(tr.journal, abort, cfg.logger)
	if err := recoverState(ctx, backend, st, cfg.readOnly, tr, cfg.logger); err != nil {
		return fmt.Errorf("--state: %w", err)
	}
	// The server's own directories, which no served tree may reach.
	var secrets []string
	if backend.Dir != "" {
		secrets = append(secrets, filepath.Join(backend.Dir, storage.ReservedName))
	}
	if file, ok := strings.CutPrefix(stateURL, "sqlite://"); ok {
		secrets = append(secrets, filepath.Dir(file))
	}
	rs := &roots{main: backend, mainSt: st, readOnly: cfg.readOnly, opened: map[string]root{}, tr: tr}
	defer rs.close()
	hs := &handlers{cfg: cfg, rs: rs, tr: tr, secrets: secrets, lifetime: lifetime}
	start := userSet{users: cfg.users, anonymous: cfg.anonymous}
	handler, err := hs.build(ctx, start, cfg.realm)
	if err != nil {
		return err
	}
	var rl *reloader // SIGHUP reloads the users (reload.go)
	if cfg.sources.config != "" || cfg.sources.htpasswd != "" {
		rl = &reloader{hs: hs, sw: newSwitchHandler(handler), log: cfg.logger, authed: start.authenticated()}
		handler = rl.sw
	}
	srv := &http.Server{
		Handler: handler,
		// "OPTIONS *" must reach the handler, which asks for credentials
		// like it does for every other request when users are configured.
		DisableGeneralOptionsHandler: true,
		ErrorLog:                     slog.NewLogLogger(cfg.logger.Handler(), slog.LevelWarn),

		// Every request's context ends with lifetime, at the end of the
		// shutdown timeout.
		BaseContext: func(net.Listener) context.Context { return lifetime },
	}
	// Headers must arrive promptly; bodies and responses may take as long
	// as the operation needs, which 102 Processing covers (see deadlines).
	cfg.expose.configure(srv)
	stopReload := watchSignals(ctx, cfg.expose.cert, cfg.adminToken, rl, cfg.logger)
	defer stopReload()
	cfg.logger.Info("davd serving", "storage", backend.Description, "state", stateURL, "url", cfg.expose.scheme()+"://"+ln.Addr().String()+cfg.prefix+"/",
		"processing", cfg.processing.Mode.String(), "users", len(cfg.users), "anonymous", cfg.users == nil || cfg.anonymous != nil,
		"version", version())
	if host, _, _ := net.SplitHostPort(cfg.addr); cfg.credentialsOptional() && !loopbackListen(host) && len(cfg.expose.allowedHosts) == 0 {
		cfg.logger.Warn("requests without credentials are served only when they name a loopback name or an IP address as their host; name the others with --allowed-host")
	}
	adm.serve(tr.ops, backend, st, cfg.adminToken, cfg.logger)
	if onListen != nil {
		onListen(ln.Addr())
	}

	served := make(chan error, 1)
	go func() { served <- cfg.expose.serve(srv, ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	return drain(srv, served, cfg, abort, tr, adm)
}
