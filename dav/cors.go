package dav

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// corsMethods are the methods a browser may send cross-origin once its
// preflight is answered: every method the Handler serves.
const corsMethods = allowAll

// corsRequestHeaders are the request headers WebDAV clients in a browser
// need beyond the CORS-safelisted ones.
const corsRequestHeaders = "Authorization, Content-Type, Depth, Destination, Overwrite, If, Lock-Token, Timeout, " +
	"If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since, Range, Prefer, X-Expected-Entity-Length, X-Requested-With"

// corsExposedHeaders are the response headers a browser script may read;
// without this list it sees only the CORS-safelisted ones and no ETag.
const corsExposedHeaders = "DAV, ETag, Lock-Token, Location, Content-Range, Content-Length, Last-Modified, Allow, " +
	"Preference-Applied, Retry-After, WWW-Authenticate"

// CORS lets web applications on the listed origins use the server from a
// browser. Requests from any other origin get no CORS headers at all, so
// the browser keeps them from reading the response; the server itself
// still enforces its own authentication and permissions on every request.
type CORS struct {
	origins map[string]bool
	any     bool // "*": every origin, without credentials
	next    http.Handler
}

// NewCORS wraps next. Each origin is "scheme://host[:port]" exactly as
// browsers send it, or "*" for any origin (then credentials are not
// allowed, as the Fetch standard requires). With no origins next is
// returned unchanged.
func NewCORS(origins []string, next http.Handler) (http.Handler, error) {
	if len(origins) == 0 {
		return next, nil
	}
	c := &CORS{origins: map[string]bool{}, next: next}
	for _, o := range origins {
		if o == "*" {
			c.any = true
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return nil, fmt.Errorf("CORS origin %q must be scheme://host[:port], like https://app.example.com", o)
		}
		c.origins[strings.ToLower(o)] = true
	}
	return c, nil
}

// ServeHTTP answers preflights itself and adds CORS headers to the
// responses of allowed origins.
func (c *CORS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	allowed := origin != "" && (c.any || c.origins[strings.ToLower(origin)])
	h := w.Header()
	h.Add("Vary", "Origin")
	if !allowed {
		c.next.ServeHTTP(w, r)
		return
	}
	if c.any {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	reqMethod := r.Header.Get("Access-Control-Request-Method")
	if r.Method != http.MethodOptions || reqMethod == "" {
		h.Set("Access-Control-Expose-Headers", corsExposedHeaders)
		c.next.ServeHTTP(w, r)
		return
	}
	// A preflight carries no credentials, so it is answered here, before
	// any authentication in next would refuse it.
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	if !listHas(corsMethods, reqMethod) {
		// No Allow-Methods: the browser refuses the actual request.
		h.Del("Access-Control-Allow-Origin")
		h.Del("Access-Control-Allow-Credentials")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h.Set("Access-Control-Allow-Methods", corsMethods)
	h.Set("Access-Control-Allow-Headers", corsRequestHeaders)
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

// listHas reports whether the comma-separated list holds v exactly
// (methods are case-sensitive).
func listHas(list, v string) bool {
	for e := range strings.SplitSeq(list, ",") {
		if strings.TrimSpace(e) == v {
			return true
		}
	}
	return false
}
