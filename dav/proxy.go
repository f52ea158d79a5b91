package dav

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// A reverse proxy in front of davd (HAProxy, Apache, Caddy, nginx) makes
// every request come from the proxy's address, and often to the proxy's
// idea of the Host: the client's address and the public scheme and host
// only survive in X-Forwarded-For, -Proto and -Host. Anyone can send those
// headers, so they are believed only from the peers in
// Config.TrustedProxies, and only for what they are needed for: the client
// address in the log and the Destination check of COPY and MOVE.

// peerTrusted reports whether the request's immediate peer is a trusted
// proxy.
func (h *Handler) peerTrusted(r *http.Request) bool {
	if len(h.proxies) == 0 {
		return false
	}
	addr, ok := remoteAddr(r.RemoteAddr)
	if !ok {
		return false
	}
	for _, p := range h.proxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// remoteAddr parses an http.Request.RemoteAddr ("ip:port"); IPv4-mapped
// IPv6 addresses become IPv4 so that 10.0.0.0/8 matches them.
func remoteAddr(s string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		host = s
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return addr.Unmap().WithZone(""), true
}

// clientIP is ClientAddr with the handler's trusted proxies.
func (h *Handler) clientIP(r *http.Request) string { return ClientAddr(r, h.proxies) }

// ClientAddr is the IP address r came from: the peer, or, when the peer is
// in trusted, the rightmost X-Forwarded-For entry that is not itself a
// trusted proxy. Entries left of that one were written by the client and
// prove nothing. Authentication throttling counts failures against it.
func ClientAddr(r *http.Request, trusted []netip.Prefix) string {
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	peer, ok := remoteAddr(r.RemoteAddr)
	if !ok {
		return r.RemoteAddr
	}
	if !isTrusted(peer) {
		return peer.String()
	}
	hops := forwardedList(r.Header.Values("X-Forwarded-For"))
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		addr, ok := remoteAddr(hops[i])
		if !ok {
			break // garbage: keep the last address a trusted hop vouched for
		}
		client = addr
		if !isTrusted(addr) {
			break
		}
	}
	return client.String()
}

// forwardedList splits comma-separated header values into trimmed entries.
func forwardedList(values []string) []string {
	var out []string
	for _, v := range values {
		for e := range strings.SplitSeq(v, ",") {
			if e = strings.TrimSpace(e); e != "" {
				out = append(out, e)
			}
		}
	}
	return out
}

// publicOrigin returns the scheme and host the client used as a trusted
// proxy reports them, or empty strings when the peer is not trusted or
// sent nothing usable. With a chain of proxies the first entry is the
// client-facing one.
func (h *Handler) publicOrigin(r *http.Request) (scheme, host string) {
	if !h.peerTrusted(r) {
		return "", ""
	}
	if p := forwardedList(r.Header.Values("X-Forwarded-Proto")); len(p) > 0 {
		if s := strings.ToLower(p[0]); s == "http" || s == "https" {
			scheme = s
		}
	}
	if hs := forwardedList(r.Header.Values("X-Forwarded-Host")); len(hs) > 0 {
		host = hs[0]
	}
	return scheme, host
}

// isOwnHost reports whether a Destination URL names this server: the Host
// the request was sent to, or the public host and scheme a trusted proxy
// forwarded. Without a trusted proxy the scheme is not compared, so a
// TLS-terminating proxy that keeps the Host header keeps working.
func (h *Handler) isOwnHost(r *http.Request, u *url.URL) bool {
	if sameHost(u.Host, r.Host) {
		return true
	}
	scheme, host := h.publicOrigin(r)
	if host == "" || !sameHost(u.Host, host) {
		return false
	}
	return scheme == "" || strings.EqualFold(u.Scheme, scheme)
}
