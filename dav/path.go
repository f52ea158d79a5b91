package dav

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"unicode/utf8"

	"davd/storage"
)

// stripPrefix removes prefix from p on a path-segment boundary: with prefix
// "/dav", "/dav" and "/dav/x" match but "/davx" does not. (x/net/webdav's
// plain TrimPrefix let "PUT /davx" write "/x".)
func stripPrefix(prefix, p string) (string, bool) {
	if prefix == "" {
		return p, true
	}
	rest, ok := strings.CutPrefix(p, prefix)
	if !ok || (rest != "" && rest[0] != '/') {
		return "", false
	}
	if rest == "" {
		rest = "/"
	}
	return rest, true
}

// validatePath refuses paths that have no business in a WebDAV URL and that
// are the raw material of traversal attacks: a NUL byte, which no Linux
// name holds, and ".." segments. Cleaning would make most of them
// harmless, but a client sending them is confused or hostile, and a clear
// 400 serves both better than a guess. A path that is not valid UTF-8 is
// refused too: no such name is listed (see listable).
//
// A "." segment names the directory it is in and is cleaned away: rclone
// (through Go's url.URL.String) sends "/./a:b" for a top-level name with
// a colon, lest "a:b" read as a URL scheme.
//
// Everything else is a name, served as it is stored. On Linux a backslash
// is an ordinary character and only "/" separates segments, so a name like
// `..\x` (a single segment), "..x" or a literal "%2F" stays inside its
// directory, and control characters are characters. The href PROPFIND
// gives for such a name percent-encodes every byte outside the URL path
// grammar (hrefFor), and decodes back to the stored name.
func validatePath(p string) error {
	switch {
	case strings.IndexByte(p, 0) >= 0:
		return errorf(http.StatusBadRequest, "path contains a NUL byte")
	case !utf8.ValidString(p):
		return errorf(http.StatusBadRequest, "path is not valid UTF-8")
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == ".." {
			return errorf(http.StatusBadRequest, "path contains a %q segment", seg)
		}
	}
	return nil
}

// listable reports whether the stored name (one segment) is listed by
// PROPFIND and the HTML index: whether a client can address it. A name
// that is not valid UTF-8 is left out, with everything below it. Its href
// could be percent-encoded, but it could not be kept in a PostgreSQL state
// (text is UTF-8 there), XML could not carry it as a display name, and
// most clients (Windows, macOS, rclone's default encodings) cannot name
// it; validatePath refuses it when asked for. Every other name is listed
// and served.
func listable(name string) bool { return utf8.ValidString(name) }

// resourcePath maps a request's URL path to the storage name it addresses.
func (h *Handler) resourcePath(urlPath string) (string, error) {
	if err := validatePath(urlPath); err != nil {
		return "", err
	}
	name, ok := stripPrefix(h.prefix, urlPath)
	if !ok {
		return "", errorf(http.StatusNotFound, "%s is outside %s", urlPath, h.prefix)
	}
	if storage.IsReserved(name) {
		return "", errorf(http.StatusNotFound, "%s: no such resource", urlPath)
	}
	return path.Clean(name), nil
}

// checkDestination validates the Destination of a COPY or MOVE before
// anything is touched and returns its storage path.
func (h *Handler) checkDestination(r *http.Request, src string) (string, error) {
	dst, err := h.destination(r)
	if err != nil {
		return "", err
	}
	switch {
	case dst == src:
		return "", errorf(http.StatusForbidden, "source and destination are the same resource")
	case src == "/" || isBelow(dst, src):
		return "", errorf(http.StatusForbidden, "cannot %s a collection into itself", strings.ToLower(r.Method))
	case dst == "/" || isBelow(src, dst):
		return "", errorf(http.StatusForbidden, "destination %s contains the source", dst)
	}
	switch ow := r.Header.Get("Overwrite"); ow {
	case "T", "F":
	case "":
		// RFC 4918 §10.6: a missing Overwrite means T.
		r.Header.Set("Overwrite", "T")
	default:
		return "", errorf(http.StatusBadRequest, "Overwrite must be T or F, not %q", ow)
	}
	return dst, nil
}

// destination parses the Destination header into a storage path.
func (h *Handler) destination(r *http.Request) (string, error) {
	hdr := r.Header.Get("Destination")
	if hdr == "" {
		return "", errorf(http.StatusBadRequest, "%s needs a Destination header", r.Method)
	}
	u, err := url.Parse(hdr)
	if err != nil {
		return "", errorf(http.StatusBadRequest, "Destination is not a URL: %v", errors.Unwrap(err))
	}
	if u.Host != "" && !h.isOwnHost(r, u) {
		return "", errorf(http.StatusBadGateway, "Destination names another server (%s)", u.Host)
	}
	if u.Path == "" || !strings.HasPrefix(u.Path, "/") {
		return "", errorf(http.StatusBadRequest, "Destination has no absolute path")
	}
	if err := validatePath(u.Path); err != nil {
		return "", errorf(http.StatusBadRequest, "Destination: %s", err)
	}
	name, ok := stripPrefix(h.prefix, u.Path)
	if !ok {
		return "", errorf(http.StatusBadGateway, "Destination %s is outside this server's namespace %s", u.Path, h.prefix)
	}
	if storage.IsReserved(name) {
		return "", errorf(http.StatusForbidden, "Destination %s is a reserved name", u.Path)
	}
	return path.Clean(name), nil
}

// sameHost compares two Host values, ignoring case and a default port.
func sameHost(a, b string) bool {
	return strings.EqualFold(trimDefaultPort(a), trimDefaultPort(b))
}

func trimDefaultPort(hostport string) string {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || (port != "80" && port != "443") {
		return hostport
	}
	return host
}
