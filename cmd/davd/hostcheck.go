package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"davd/dav"
)

// DNS rebinding: a web page on rebind.attacker.example makes its name
// resolve to 127.0.0.1, and the visitor's browser then sends the page's
// requests to the local davd as same-origin requests, with
// "Host: rebind.attacker.example". A server that asks for no credentials
// would serve them. hostCheck therefore serves requests without
// credentials only when the host the browser named is one a browser can
// only reach this server by: a loopback name, an IP address literal (a
// page's origin is then this server itself), or a name configured with
// --allowed-host.

// hostCheck answers 421 Misdirected Request to requests that carry no
// credentials and name a host that is not allowed. It holds no mutable
// state.
type hostCheck struct {
	allowed []string // lower case, without a trailing dot; "*.example.com" covers subdomains
	trusted []netip.Prefix
	// anonymousOnly: users are configured, so requests with an
	// Authorization header are left to authentication, which a rebound
	// page cannot pass (the browser has no credentials for its name).
	anonymousOnly bool
	logger        *slog.Logger
	next          http.Handler
}

// parseAllowedHosts checks --allowed-host values: host names, optionally
// starting with "*." for every subdomain, without scheme or port.
func parseAllowedHosts(names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		h := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(n)), ".")
		name := strings.TrimPrefix(h, "*.")
		if name == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789-._") != "" ||
			strings.HasPrefix(name, ".") || strings.Contains(name, "..") {
			return nil, fmt.Errorf("%q is not a host name like dav.example.com or *.example.com (no scheme, no port)", n)
		}
		out = append(out, h)
	}
	return out, nil
}

// refusedHost returns the first host r names that may not be served
// without credentials, or "" when there is none. The names are Host and,
// when the peer is a trusted proxy, every X-Forwarded-Host entry: a proxy
// may rewrite Host to its upstream's address, and a page's script may add
// an X-Forwarded-Host of its choice to a same-origin request that reaches
// davd directly from a trusted (loopback) address, so both must pass.
func refusedHost(r *http.Request, allowed []string, trusted []netip.Prefix) string {
	if !hostAllowed(r.Host, allowed) {
		return r.Host
	}
	if len(trusted) == 0 || len(r.Header.Values("X-Forwarded-Host")) == 0 {
		return ""
	}
	peer, err := netip.ParseAddr(dav.ClientAddr(&http.Request{RemoteAddr: r.RemoteAddr}, nil))
	if err != nil || !slices.ContainsFunc(trusted, func(p netip.Prefix) bool { return p.Contains(peer) }) {
		return ""
	}
	for _, v := range r.Header.Values("X-Forwarded-Host") {
		for h := range strings.SplitSeq(v, ",") {
			if h = strings.TrimSpace(h); h != "" && !hostAllowed(h, allowed) {
				return h
			}
		}
	}
	return ""
}

// hostAllowed reports whether hostport (a Host header value) may be
// served without credentials.
func hostAllowed(hostport string, allowed []string) bool {
	if hostport == "" {
		return true // HTTP/1.0 without Host: not a browser
	}
	host := hostport
	if h, port, err := net.SplitHostPort(hostport); err == nil {
		// SplitHostPort takes any port: "localhost:1.attacker.example"
		// would be localhost.
		if port == "" || strings.Trim(port, "0123456789") != "" {
			return false
		}
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")), ".")
	if _, err := netip.ParseAddr(host); err == nil {
		return true // an address literal cannot be rebound
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true // RFC 6761 §6.3: always loopback
	}
	for _, a := range allowed {
		if sub, ok := strings.CutPrefix(a, "*."); ok {
			if strings.HasSuffix(host, "."+sub) {
				return true
			}
		} else if host == a {
			return true
		}
	}
	return false
}

func (c *hostCheck) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if c.anonymousOnly && r.Header.Get("Authorization") != "" {
		c.next.ServeHTTP(w, r)
		return
	}
	host := refusedHost(r, c.allowed, c.trusted)
	if host == "" {
		c.next.ServeHTTP(w, r)
		return
	}
	c.logger.Warn("refused a request without credentials for a host not served (DNS rebinding?)",
		"host", host, "method", r.Method, "path", r.URL.Path, "client", dav.ClientAddr(r, c.trusted))
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Connection", "close")
	w.WriteHeader(http.StatusMisdirectedRequest)
	fmt.Fprintf(w, "421 Misdirected Request: host %q is not served to requests without credentials; the server's administrator can add it with --allowed-host\n", host)
}
