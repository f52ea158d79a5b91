package processing

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// AdminOptions is what AdminHandler serves besides the registry's own
// operations and metrics. Every field may be left zero.
type AdminOptions struct {
	// Build labels davd_build_info.
	Build BuildInfo
	// Draining reports true once the server is shutting down.
	Draining func() bool
	// Healthy reports why the server cannot serve, or nil.
	Healthy func(context.Context) error
	// Token returns the bearer token every request but /healthz must
	// carry; "" (or a nil Token) lets every request in. It is called for
	// each request, so the token may change while the handler serves.
	Token func() string
	// Journal lists the journaled operations whose state (one of
	// JournalStates()) is state, or all of them when state is "": a value
	// that marshals to a JSON array. Nil when there is no journal.
	Journal func(ctx context.Context, state string) (any, error)
}

// JournalStates returns the states of a journaled operation as
// /operations?state= names them: running (by the instance that started
// it), resuming (running after a takeover, or waiting without an owner),
// finished, failed and cancelled.
func JournalStates() []string {
	return []string{"running", "resuming", "finished", "failed", "cancelled"}
}

// AdminRealm is the realm of the admin listener's Bearer challenge.
const AdminRealm = "davd admin"

// AdminHandler serves what an operator needs, from the operations and
// metrics of r:
//
//	GET /operations  the slow operations running, as JSON, and (with
//	                 opts.Journal) every journaled operation under
//	                 "journal"; ?state=S keeps the journaled ones in state S
//	GET /metrics     Prometheus metrics (see MetricsHandler; build labels
//	                 davd_build_info)
//	GET /healthz     200 while serving; 503 once draining reports true, or
//	                 while healthy (when not nil) reports an error
//
// With a token, every request but /healthz needs "Authorization: Bearer
// TOKEN" and gets 401 without it; /healthz stays open to load balancers
// but tells a request without the token only "ok", "shutting down" or
// "unhealthy", never why.
//
// It belongs on a listener of its own, apart from the WebDAV tree, so
// that it can be bound to localhost or a private network and is never
// confused with a resource path.
func (r *Registry) AdminHandler(opts AdminOptions) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /operations", func(w http.ResponseWriter, req *http.Request) {
		want := req.URL.Query().Get("state")
		if want != "" && !slices.Contains(JournalStates(), want) {
			http.Error(w, fmt.Sprintf("state %q: want one of %s", want, strings.Join(JournalStates(), ", ")), http.StatusBadRequest)
			return
		}
		list := r.Operations()
		if list == nil {
			list = []OperationInfo{} // [] rather than null
		}
		body := struct {
			InFlight     int             `json:"in_flight"`
			Operations   []OperationInfo `json:"operations"`
			Journal      any             `json:"journal,omitempty"`
			JournalError string          `json:"journal_error,omitempty"`
		}{InFlight: r.InFlight(), Operations: list}
		if opts.Journal != nil {
			// The registry's view stays useful when the journal's store
			// does not answer: the error goes beside it.
			j, err := opts.Journal(req.Context(), want)
			if err != nil {
				body.JournalError = err.Error()
			} else {
				body.Journal = j
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff") // it holds names users chose
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(body)
	})
	mux.Handle("GET /metrics", r.MetricsHandler(opts.Build))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if opts.Draining != nil && opts.Draining() {
			// A load balancer stops sending new requests here.
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "shutting down")
			return
		}
		if opts.Healthy != nil {
			if err := opts.Healthy(req.Context()); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				if bearerReason(req, opts.Token) == "" {
					fmt.Fprintln(w, err)
				} else {
					fmt.Fprintln(w, "unhealthy")
				}
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/healthz" {
			if why := bearerReason(req, opts.Token); why != "" {
				w.Header().Set("WWW-Authenticate", `Bearer realm="`+AdminRealm+`"`)
				http.Error(w, why, http.StatusUnauthorized)
				return
			}
		}
		mux.ServeHTTP(w, req)
	})
}

// bearerReason returns why req may not see the admin listener's details,
// or "" when it may: token is nil or returns "", or req carries it as a
// Bearer token. The comparison takes the same time whatever the tokens.
func bearerReason(req *http.Request, token func() string) string {
	if token == nil {
		return ""
	}
	want := token()
	if want == "" {
		return ""
	}
	h := req.Header.Get("Authorization")
	if h == "" {
		return "this admin listener needs Authorization: Bearer TOKEN (the token of --admin-token-file)"
	}
	scheme, got, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "Authorization must be a Bearer token"
	}
	// Hashes of equal length: the comparison says nothing of the
	// token's length either.
	a, b := sha256.Sum256([]byte(strings.TrimSpace(got))), sha256.Sum256([]byte(want))
	if subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
		return "wrong bearer token"
	}
	return ""
}
