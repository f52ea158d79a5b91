package dav

import (
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/spf13/afero"
	"golang.org/x/net/webdav"

	"davd/processing"
	"davd/storage"
)

// maxXMLBody bounds the request bodies of every method but PUT: they carry
// small XML documents, and an unbounded read is a memory attack.
const maxXMLBody = 1 << 20

// Config configures a Handler.
type Config struct {
	// Prefix is the URL path the tree is served under, such as "/dav".
	// Empty or "/" serves it at the root.
	Prefix string
	// ReadOnly refuses every method that would change the tree.
	ReadOnly bool
	// Processing decides who gets 102 Processing and when.
	Processing processing.Config
	// Logger receives one line per request; nil discards them.
	Logger *slog.Logger
}

// Handler serves WebDAV over a storage backend.
type Handler struct {
	prefix     string
	readOnly   bool
	fs         *storage.FileSystem
	locks      webdav.LockSystem
	xnet       *webdav.Handler
	processing processing.Config
	log        *slog.Logger
}

// NewHandler returns a Handler serving backend according to cfg.
func NewHandler(backend afero.Fs, cfg Config) (*Handler, error) {
	prefix, err := normalizePrefix(cfg.Prefix)
	if err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{
		prefix:     prefix,
		readOnly:   cfg.ReadOnly,
		fs:         storage.NewFileSystem(backend),
		locks:      webdav.NewMemLS(),
		processing: cfg.Processing,
		log:        logger,
	}
	h.xnet = &webdav.Handler{
		Prefix:     prefix,
		FileSystem: h.fs,
		LockSystem: h.locks,
		Logger: func(r *http.Request, err error) {
			if err != nil {
				h.log.Debug("webdav", "method", r.Method, "path", r.URL.Path, "err", err)
			}
		},
	}
	return h, nil
}

// normalizePrefix accepts "", "/", "/dav", "/dav/" and returns "" or "/dav".
func normalizePrefix(p string) (string, error) {
	if p == "" || p == "/" {
		return "", nil
	}
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("prefix %q must start with /", p)
	}
	if err := validatePath(p); err != nil {
		return "", fmt.Errorf("prefix %q: %w", p, err)
	}
	clean := path.Clean(p)
	if clean == "/" {
		return "", nil
	}
	return clean, nil
}

// ServeHTTP serves one WebDAV request and logs it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	pw, r := processing.Start(w, r, h.processing)
	defer func() {
		pw.Finish()
		h.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", statusOrOK(pw.Status())),
			slog.Duration("duration", time.Since(start)),
			slog.Int64("bytes", pw.BytesWritten()),
			slog.Int("interim", pw.InterimSent()),
		)
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
	name, err := h.resourcePath(r.URL.Path)
	if err != nil {
		writeError(w, err)
		return
	}
	if h.readOnly && writeMethods[r.Method] {
		writeError(w, errorf(http.StatusForbidden, "this server is read-only"))
		return
	}
	if r.Method != http.MethodPut && r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxXMLBody)
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		err = h.serveGet(w, r, name)
	case http.MethodPut:
		err = h.servePut(w, r, name)
	case "COPY", "MOVE":
		if err = h.checkDestination(r, name); err == nil {
			h.xnet.ServeHTTP(w, r)
		}
	case http.MethodOptions, http.MethodDelete, "MKCOL", "PROPFIND", "PROPPATCH", "LOCK", "UNLOCK":
		h.xnet.ServeHTTP(w, r)
	default:
		w.Header().Set("Allow", allowAll)
		err = errorf(http.StatusMethodNotAllowed, "method %s is not supported", r.Method)
	}
	if err != nil {
		writeError(w, err)
	}
}

// allowAll lists every method the handler serves.
const allowAll = "OPTIONS, GET, HEAD, PUT, DELETE, MKCOL, COPY, MOVE, PROPFIND, PROPPATCH, LOCK, UNLOCK"
