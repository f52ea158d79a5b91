package dav

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"path"
	"strings"
	"time"

	"davd/dav/ui"
	"davd/processing"
	"davd/storage"
	"davd/storage/state"
)

// Config configures a Handler.
type Config struct {
	// Prefix is the URL path the tree is served under, such as "/dav".
	// Empty or "/" serves it at the root.
	Prefix string
	// ReadOnly refuses every method that would change the tree.
	ReadOnly bool
	// Processing decides who gets 102 Processing and when; its Interval
	// also bounds how long a streamed 207 may stay silent.
	Processing processing.Config
	// Logger receives one line per request, and one more with the totals
	// of each finished long operation; nil discards them.
	Logger *slog.Logger
	// Limits bounds request bodies and PROPFIND responses.
	Limits Limits
	// TrustedProxies are the peers whose X-Forwarded-For, -Proto and
	// -Host headers are believed; everyone else's are ignored.
	TrustedProxies []netip.Prefix
	// Operations tracks running requests for /operations, metrics and
	// shutdown; nil gives the Handler a private one.
	Operations *processing.Registry
	// OnDisconnect says whether a COPY, MOVE or DELETE whose client went
	// away finishes (the default) or stops.
	OnDisconnect OnDisconnect
	// Lifetime, when cancelled, stops every running COPY, MOVE and DELETE
	// at its next member, whatever OnDisconnect says: a server cancels it
	// when its shutdown timeout has passed. nil means never.
	Lifetime context.Context
	// Permissions limits what the handler's user may do, and where; nil
	// allows everything (ReadOnly still applies). Authentication happens
	// in front of the handler, which serves one user or one set of users
	// with the same rights: give each its own Handler.
	Permissions *Permissions
	// Challenge, when set, is the WWW-Authenticate value sent with a 401
	// instead of a 403 when Permissions refuse a request that has no user,
	// and instead of a 404 when such a request names nothing: clients
	// send credentials only when asked, so an anonymous client that may
	// read but not write, or that looks for something in a user's tree,
	// learns that signing in would help.
	Challenge string
	// InlineActiveContent serves stored files of active types (HTML, SVG,
	// XML, JavaScript: see activeType) inline instead of as attachments.
	// They keep X-Content-Type-Options: nosniff and
	// Content-Security-Policy: sandbox either way.
	InlineActiveContent bool
	// NoUI serves collections to browsers as the plain listing that
	// WebDAV clients and curl get, instead of the file manager (dav/ui),
	// and leaves the reserved path of its assets unserved.
	NoUI bool
	// Journal is shared by the handlers of one server: it names this
	// instance in the records of journaled operations and tracks those
	// running in the background (journal.go). nil gives the Handler a
	// private one.
	Journal *Journal
}

// Handler serves WebDAV over a storage backend.
type Handler struct {
	prefix       string
	readOnly     bool
	fs           *storage.FileSystem
	state        state.Store
	processing   processing.Config
	log          *slog.Logger
	perms        *Permissions // nil: everything allowed
	challenge    string
	ops          *processing.Registry
	onDisconnect OnDisconnect
	lifetime     context.Context
	limits       Limits
	proxies      []netip.Prefix
	propfinds    propfindCache
	inlineActive bool   // serve active types inline (Config.InlineActiveContent)
	ui           *ui.UI // nil: no file manager (Config.NoUI)
	journal      *Journal
	running      runningCache // of a shared journal (claims.go)
}

// NewHandler returns a Handler serving fs, with dead properties and locks
// kept in st.
func NewHandler(fs *storage.FileSystem, st state.Store, cfg Config) (*Handler, error) {
	prefix, err := NormalizePrefix(cfg.Prefix)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return nil, errors.New("dav: a state store is required")
	}
	var perms *Permissions
	if cfg.Permissions != nil {
		perms = &Permissions{Default: cfg.Permissions.Default, Rules: append([]Rule(nil), cfg.Permissions.Rules...)}
		if err := perms.Check(); err != nil {
			return nil, fmt.Errorf("dav: %w", err)
		}
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ops := cfg.Operations
	if ops == nil {
		ops = processing.NewRegistry(cfg.Processing.After)
	}
	lifetime := cfg.Lifetime
	if lifetime == nil {
		lifetime = context.Background()
	}
	journal := cfg.Journal
	if journal == nil {
		journal = NewJournal()
	}
	var fm *ui.UI
	if !cfg.NoUI {
		fm = ui.New(ui.Config{Prefix: prefix, Operations: ops, ReadOnly: cfg.ReadOnly})
	}
	return &Handler{
		ui:           fm,
		prefix:       prefix,
		readOnly:     cfg.ReadOnly,
		fs:           fs,
		state:        st,
		processing:   cfg.Processing,
		log:          logger,
		perms:        perms,
		challenge:    cfg.Challenge,
		ops:          ops,
		onDisconnect: cfg.OnDisconnect,
		lifetime:     lifetime,
		limits:       cfg.Limits,
		proxies:      cfg.TrustedProxies,
		inlineActive: cfg.InlineActiveContent,
		journal:      journal,
	}, nil
}

// NormalizePrefix accepts "", "/", "/dav", "/dav/" and returns "" or "/dav";
// anything else is an error naming the problem.
func NormalizePrefix(p string) (string, error) {
	if p == "" || p == "/" {
		return "", nil
	}
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("prefix %q must start with /", p)
	}
	if err := validatePath(p); err != nil {
		return "", fmt.Errorf("prefix %q: %w", p, err)
	}
	// Stored names may hold backslashes; a prefix, written by the
	// operator and matched by clients that may turn it into a separator,
	// may not.
	if strings.ContainsRune(p, '\\') {
		return "", fmt.Errorf("prefix %q: a backslash is not allowed", p)
	}
	clean := path.Clean(p)
	if clean == "/" {
		return "", nil
	}
	return clean, nil
}

// ServeHTTP serves one WebDAV request, tracks it in the operation
// registry and logs it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	pw, r := processing.Start(w, r, h.processing)
	op := h.ops.Begin(r, pw, UserFrom(r.Context()))
	defer func() {
		pw.Finish()
		if info := op.End(); info.Long {
			h.logOperation(r.Context(), info)
		}
		if !h.log.Enabled(r.Context(), slog.LevelInfo) {
			return // the attributes cost ~3% of a small GET's CPU
		}
		attrs := []slog.Attr{slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", statusOrOK(pw.Status())),
			slog.Duration("duration", time.Since(start)),
			slog.Int64("bytes", pw.BytesWritten()),
			slog.Int("interim", pw.InterimSent()),
			slog.String("client", h.clientIP(r)),
		}
		if user := UserFrom(r.Context()); user != "" {
			attrs = append(attrs, slog.String("user", user))
		}
		h.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	}()
	h.serve(pw, r)
}

func statusOrOK(code int) int {
	if code == 0 {
		return http.StatusOK // net/http's default when the handler wrote nothing
	}
	return code
}

// writeMethods change the tree; a read-only server refuses them.
var writeMethods = map[string]bool{
	"PUT": true, "DELETE": true, "MKCOL": true, "COPY": true, "MOVE": true,
	"PROPPATCH": true, "LOCK": true, "UNLOCK": true, "POST": true, "PATCH": true,
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodOptions {
		// Answered for every path, even outside the prefix: Windows probes
		// the server root before it maps a drive under a prefix.
		h.serveOptions(w, r)
		return
	}
	// An asynchronous operation's monitor (async.go), and the file
	// manager's reserved path, before any storage lookup: they are below
	// the reserved name .davd, so they never name a stored resource.
	if id, ok := h.monitorPath(r.URL.Path); ok {
		if err := h.serveMonitor(w, r, id); err != nil {
			h.refuse(w, r, err)
		}
		return
	}
	// The file manager's reserved path, before any storage lookup: it is
	// below the reserved name .davd, so it never names a stored resource.
	if rest, ok := h.uiPath(r.URL.Path); ok {
		h.serveUI(w, r, rest)
		return
	}
	name, err := h.resourcePath(r.URL.Path)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if h.readOnly && writeMethods[r.Method] {
		h.writeError(w, r, errorf(http.StatusForbidden, "this server is read-only"))
		return
	}
	if err := h.checkMethod(r, name); err != nil {
		h.refuse(w, r, err)
		return
	}
	if err := h.limitBody(w, r); err != nil {
		h.writeError(w, r, err)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		err = h.serveGet(w, r, name)
	case http.MethodPut:
		err = h.servePut(w, r, name)
	case "PROPFIND":
		err = h.servePropfind(w, r, name)
	case "PROPPATCH":
		err = h.serveProppatch(w, r, name)
	case "MKCOL":
		err = h.serveMkcol(w, r, name)
	case http.MethodDelete:
		err = h.serveDelete(w, r, name)
	case "COPY", "MOVE":
		err = h.serveCopyMove(w, r, name)
	case "LOCK":
		err = h.serveLock(w, r, name)
	case "UNLOCK":
		err = h.serveUnlock(w, r, name)
	default:
		w.Header().Set("Allow", h.allowHeader())
		err = errorf(http.StatusMethodNotAllowed, "method %s is not supported", r.Method)
	}
	if err != nil {
		h.refuse(w, r, err)
	}
}

// refuse answers err. When the handler has a challenge, a permission
// refusal or a 404 of a request without a user becomes a 401 with it:
// signing in may give the rights, or a tree that has the resource.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	if h.challenge != "" && UserFrom(r.Context()) == "" && errors.As(err, &he) &&
		(errors.Is(he.err, errPermission) || he.status == http.StatusNotFound) {
		w.Header().Set("WWW-Authenticate", h.challenge)
		err = &httpError{status: http.StatusUnauthorized, reason: he.reason + "; sign in for more", err: he.err}
	}
	h.writeError(w, r, err)
}

// allowAll lists every method the handler serves.
const allowAll = "OPTIONS, GET, HEAD, PUT, DELETE, MKCOL, COPY, MOVE, PROPFIND, PROPPATCH, LOCK, UNLOCK"

// allowRead lists the methods a read-only handler answers: allowAll
// without writeMethods.
const allowRead = "OPTIONS, GET, HEAD, PROPFIND"

// allowHeader is the Allow header of h's OPTIONS and 405 answers.
func (h *Handler) allowHeader() string {
	if h.readOnly {
		return allowRead
	}
	return allowAll
}

// serveOptions advertises WebDAV class 1 and 2, or class 1 alone when
// the handler is read-only: class 2 promises LOCK, which a read-only
// server refuses, and macOS then mounts the share read-only, as it is.
// Windows looks for MS-Author-Via.
func (h *Handler) serveOptions(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	if h.readOnly {
		hdr.Set("DAV", "1")
	} else {
		hdr.Set("DAV", "1, 2")
	}
	hdr.Set("MS-Author-Via", "DAV")
	hdr.Set("Allow", h.allowHeader())
	hdr.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// serveMkcol creates a collection (RFC 4918 §9.3).
func (h *Handler) serveMkcol(w http.ResponseWriter, r *http.Request, name string) error {
	if r.ContentLength > 0 || len(r.TransferEncoding) > 0 {
		return errorf(http.StatusUnsupportedMediaType, "MKCOL with a body is not supported")
	}
	ctx := r.Context()
	release, err := h.claim(ctx, change(name, false)...)
	if err != nil {
		return err
	}
	defer release()
	if _, err := h.fs.Stat(ctx, name); err == nil {
		return errorf(http.StatusMethodNotAllowed, "%s already exists", r.URL.Path)
	}
	if err := h.authorizeWrite(r, name, lockTarget{name: name, membership: true}); err != nil {
		return err
	}
	if err := h.fs.Mkdir(ctx, name, 0o755); err != nil {
		return storageError(r.URL.Path, err)
	}
	w.WriteHeader(http.StatusCreated)
	return nil
}
