package dav

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"davd/dav/ui"
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
// allowed, as the Fetch standard requires). With no origins the wrapper
// adds no CORS headers; it still refuses cross-site writes (see
// crossSiteWrite).
func NewCORS(origins []string, next http.Handler) (http.Handler, error) {
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
	if !allowed {
		if why := crossSiteWrite(r); why != "" {
			refuseCrossSite(w, r, why)
			return
		}
	}
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

// crossSiteWrite explains why r is a write a browser sent on behalf of
// another site, or returns "" when it is not one. A write is any method
// that changes the tree (writeMethods). A browser says where a request
// comes from in Sec-Fetch-Site ("cross-site" and "same-site" are other
// origins) or, older ones, in Origin (compared with the Host the request
// names; "null" is an opaque origin). Requests without either come from
// clients that are not browsers, which carry no one else's cookies or
// credentials, and pass. So does a request carrying ui.Header: a
// cross-site form cannot send a custom header, and a cross-origin script
// only after a preflight that this server grants only to --cors-origin
// origins, which never reach this check.
func crossSiteWrite(r *http.Request) string {
	if !writeMethods[r.Method] || r.Header.Get(ui.Header) != "" {
		return ""
	}
	switch site := strings.ToLower(r.Header.Get("Sec-Fetch-Site")); site {
	case "cross-site", "same-site":
		return "Sec-Fetch-Site: " + site
	case "same-origin", "none":
		return ""
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return ""
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || !sameHost(u.Host, r.Host) {
		return "Origin: " + origin
	}
	return ""
}

// refuseCrossSite answers a cross-site write with 403 and the reason.
func refuseCrossSite(w http.ResponseWriter, r *http.Request, why string) {
	writeError(w, errorf(http.StatusForbidden, "cross-site %s refused: the request comes from another site (%s) "+
		"without the %s header of davd's own page; allow that site with --cors-origin", r.Method, why, ui.Header))
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
