package dav

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/net/webdav"
)

// confirmLocks checks that the request may modify src and dst (either may
// be empty) under the locks held on them, following x/net/webdav's own
// handler: without an If header, a temporary zero-depth lock proves that
// nobody else holds one; with it, some list of conditions must confirm.
// The returned release must be called when the modification is done.
func (h *Handler) confirmLocks(r *http.Request, src, dst string) (release func(), err error) {
	hdr := r.Header.Get("If")
	if hdr == "" {
		now := time.Now()
		var tokens []string
		release = func() {
			for _, t := range tokens {
				h.locks.Unlock(now, t)
			}
		}
		for _, name := range []string{src, dst} {
			if name == "" {
				continue
			}
			token, err := h.locks.Create(now, webdav.LockDetails{Root: name, Duration: -1, ZeroDepth: true})
			if err != nil {
				release()
				if errors.Is(err, webdav.ErrLocked) {
					return nil, errorf(http.StatusLocked, "%s is locked", name)
				}
				return nil, err
			}
			tokens = append(tokens, token)
		}
		return release, nil
	}

	ih, ok := parseIfHeader(hdr)
	if !ok {
		return nil, errorf(http.StatusBadRequest, "malformed If header")
	}
	// The lists are alternatives: any one that confirms will do.
	for _, l := range ih.lists {
		lsrc := l.resourceTag
		if lsrc == "" {
			lsrc = src
		} else {
			u, err := url.Parse(lsrc)
			if err != nil || (u.Host != "" && !sameHost(u.Host, r.Host)) {
				continue
			}
			var ok bool
			if lsrc, ok = stripPrefix(h.prefix, u.Path); !ok {
				continue
			}
		}
		release, err := h.locks.Confirm(time.Now(), lsrc, dst, l.conditions...)
		if errors.Is(err, webdav.ErrConfirmationFailed) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return release, nil
	}
	// RFC 4918 §10.4.1: when every list fails, the request fails with 412.
	return nil, errorf(http.StatusPreconditionFailed, "no If condition holds")
}
