package processing

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// AdminHandler serves what an operator needs, from the operations and
// metrics of r:
//
//	GET /operations  the slow operations running, as JSON
//	GET /metrics     Prometheus metrics (see MetricsHandler; build labels
//	                 davd_build_info)
//	GET /healthz     200 while serving; 503 once draining reports true, or
//	                 while healthy (when not nil) reports an error
//
// It belongs on a listener of its own, apart from the WebDAV tree, so
// that it can be bound to localhost or a private network and is never
// confused with a resource path.
func (r *Registry) AdminHandler(build BuildInfo, draining func() bool, healthy func(context.Context) error) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /operations", func(w http.ResponseWriter, _ *http.Request) {
		list := r.Operations()
		if list == nil {
			list = []OperationInfo{} // [] rather than null
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(struct {
			InFlight   int             `json:"in_flight"`
			Operations []OperationInfo `json:"operations"`
		}{r.InFlight(), list})
	})
	mux.Handle("GET /metrics", r.MetricsHandler(build))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if draining() {
			// A load balancer stops sending new requests here.
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "shutting down")
			return
		}
		if healthy != nil {
			if err := healthy(req.Context()); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintln(w, err)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}
