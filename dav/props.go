package dav

import (
	"context"
	"encoding/xml"
	"net/http"
	"os"
	"path"
	"strconv"
	"time"

	"davd/storage"
	"davd/storage/state"
)

// resource is one resource being described, with what its properties need
// loaded once.
type resource struct {
	name  string // storage path
	href  string
	fi    os.FileInfo
	dead  []state.Property
	locks []state.Lock
}

// liveProp is a property the server computes. Live properties are read
// from the FileInfo alone: no file is opened to answer a PROPFIND.
type liveProp struct {
	// value appends the property's content; ok is false when the
	// property does not apply to the resource (it is then reported 404).
	value func(h *Handler, res *resource, b []byte) ([]byte, bool)
	// protected properties cannot be set or removed by PROPPATCH.
	protected bool
	// allprop properties are included in allprop responses (RFC 4331's
	// quota properties are not: they cost a statfs).
	allprop bool
}

// liveProps are the DAV: live properties, in the order allprop lists them.
var liveProps = map[string]liveProp{
	"resourcetype":          {value: propResourceType, protected: true, allprop: true},
	"getcontentlength":      {value: propContentLength, protected: true, allprop: true},
	"getcontenttype":        {value: propContentType, allprop: true},
	"getetag":               {value: propETag, protected: true, allprop: true},
	"getlastmodified":       {value: propLastModified, protected: true, allprop: true},
	"creationdate":          {value: propCreationDate, protected: true, allprop: true},
	"displayname":           {value: propDisplayName, allprop: true},
	"supportedlock":         {value: propSupportedLock, protected: true, allprop: true},
	"lockdiscovery":         {value: propLockDiscovery, protected: true, allprop: true},
	"quota-available-bytes": {value: propQuotaAvailable, protected: true},
	"quota-used-bytes":      {value: propQuotaUsed, protected: true},
}

// allpropOrder fixes the order of allprop and propname output.
var allpropOrder = []string{"resourcetype", "getcontentlength", "getcontenttype", "getetag",
	"getlastmodified", "creationdate", "displayname", "supportedlock", "lockdiscovery"}

func propResourceType(_ *Handler, res *resource, b []byte) ([]byte, bool) {
	if res.fi.IsDir() {
		b = append(b, "<D:collection/>"...)
	}
	return b, true
}

func propContentLength(_ *Handler, res *resource, b []byte) ([]byte, bool) {
	if res.fi.IsDir() {
		return b, false
	}
	return strconv.AppendInt(b, res.fi.Size(), 10), true
}

func propContentType(_ *Handler, res *resource, b []byte) ([]byte, bool) {
	if res.fi.IsDir() {
		return b, false
	}
	return appendEscaped(b, contentType(res.name)), true
}

func propETag(_ *Handler, res *resource, b []byte) ([]byte, bool) {
	return appendETag(b, res.fi, "&quot;"), true
}

func propLastModified(_ *Handler, res *resource, b []byte) ([]byte, bool) {
	return appendHTTPTime(b, res.fi.ModTime()), true
}

func propCreationDate(_ *Handler, res *resource, b []byte) ([]byte, bool) {
	return appendISOTime(b, creationTime(res.fi)), true
}

// creationTime is the inode change time where the platform has one, as
// Apache reports it; Linux's stat has no birth time.
func creationTime(fi os.FileInfo) time.Time {
	return storage.ChangeTime(fi)
}

func propDisplayName(_ *Handler, res *resource, b []byte) ([]byte, bool) {
	if res.name == "/" {
		return b, false
	}
	return appendEscaped(b, path.Base(res.name)), true
}

func propSupportedLock(_ *Handler, _ *resource, b []byte) ([]byte, bool) {
	return append(b, "<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>"+
		"<D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>"...), true
}

func propLockDiscovery(h *Handler, res *resource, b []byte) ([]byte, bool) {
	for _, l := range res.locks {
		b = h.appendActiveLock(b, l)
	}
	return b, true
}

func propQuotaAvailable(h *Handler, _ *resource, b []byte) ([]byte, bool) {
	avail, _, ok := h.fs.Quota()
	return strconv.AppendInt(b, avail, 10), ok
}

func propQuotaUsed(h *Handler, _ *resource, b []byte) ([]byte, bool) {
	_, used, ok := h.fs.Quota()
	return strconv.AppendInt(b, used, 10), ok
}

// appendActiveLock appends a DAV:activelock element describing l.
func (h *Handler) appendActiveLock(b []byte, l state.Lock) []byte {
	b = append(b, "<D:activelock><D:locktype><D:write/></D:locktype><D:lockscope>"...)
	if l.Shared {
		b = append(b, "<D:shared/>"...)
	} else {
		b = append(b, "<D:exclusive/>"...)
	}
	b = append(b, "</D:lockscope><D:depth>"...)
	if l.Deep {
		b = append(b, "infinity"...)
	} else {
		b = append(b, '0')
	}
	b = append(b, "</D:depth>"...)
	b = append(b, l.Owner...) // a self-contained DAV:owner element, or nothing
	b = append(b, "<D:timeout>"...)
	if l.Expires.IsZero() {
		b = append(b, "Infinite"...)
	} else {
		left := max(int64(time.Until(l.Expires).Round(time.Second)/time.Second), 0)
		b = append(b, "Second-"...)
		b = strconv.AppendInt(b, left, 10)
	}
	b = append(b, "</D:timeout><D:locktoken><D:href>"...)
	b = appendEscaped(b, l.Token)
	b = append(b, "</D:href></D:locktoken><D:lockroot><D:href>"...)
	b = appendEscaped(b, h.hrefFor(l.Root, false))
	return append(b, "</D:href></D:lockroot></D:activelock>"...)
}

// propfind modes.
const (
	findAllProp = iota
	findPropName
	findNamed
)

// propfindRequest is what a PROPFIND body asks for.
type propfindRequest struct {
	mode  int
	names []xml.Name // findNamed: the properties; findAllProp: DAV:include
}

// parsePropfind reads a DAV:propfind body; an empty body means allprop
// (RFC 4918 §9.1).
func parsePropfind(root *xmlElement) (propfindRequest, error) {
	req := propfindRequest{mode: findAllProp}
	if root == nil {
		return req, nil
	}
	if !root.is("propfind") {
		return req, badXML("PROPFIND body must be a DAV:propfind element")
	}
	seen := 0
	for _, c := range root.children {
		switch {
		case c.is("prop"):
			req.mode, seen = findNamed, seen+1
			for _, p := range c.children {
				req.names = append(req.names, p.name)
			}
		case c.is("allprop"):
			req.mode, seen = findAllProp, seen+1
		case c.is("propname"):
			req.mode, seen = findPropName, seen+1
		case c.is("include"):
			for _, p := range c.children {
				req.names = append(req.names, p.name)
			}
		}
	}
	if seen != 1 {
		return req, badXML("DAV:propfind needs exactly one of DAV:prop, DAV:allprop or DAV:propname")
	}
	return req, nil
}

// load fetches what res's properties need from the state store.
func (h *Handler) load(ctx context.Context, res *resource, req propfindRequest) error {
	var err error
	if res.dead, err = h.state.Props(ctx, res.name); err != nil {
		return err
	}
	if req.mode == findNamed && !wants(req.names, "lockdiscovery") {
		return nil
	}
	res.locks, err = h.state.LocksCovering(ctx, res.name)
	return err
}

func wants(names []xml.Name, local string) bool {
	for _, n := range names {
		if n.Space == nsDAV && n.Local == local {
			return true
		}
	}
	return false
}

// flushAt is how much of a streamed response is built before it is
// written out.
const flushAt = 32 << 10

// bigState is the stored state (dead properties and lock owners) beyond
// which a resource's response is streamed a piece at a time instead of
// being built whole: memory per request then stays bounded by flushAt
// plus the largest single property or lock, whatever a resource stores,
// even state written before the limits existed.
const bigState = 64 << 10

// stateSize is about how many bytes res's stored state adds to its
// response.
func (res *resource) stateSize() int {
	n := 0
	for _, p := range res.dead {
		n += len(p.XML)
	}
	for _, l := range res.locks {
		n += len(l.Owner) + len(l.Root) + 300 // the activelock's own markup
	}
	return n
}

// respWriter builds response XML. With write set, the buffer is handed
// to write whenever it passes flushAt between two properties (or two
// locks), and a large dead property goes out without being copied, so
// that the buffer never holds more than flushAt and one small piece.
// Without write, the buffer holds the whole response.
type respWriter struct {
	b     []byte
	write func([]byte) error // nil: build the whole response in b
}

// piece marks the end of a property: the buffer may go out now.
func (rw *respWriter) piece() {
	if rw.write != nil && len(rw.b) >= flushAt {
		rw.write(rw.b) // an error stays in the stream, which drops the rest
		rw.b = rw.b[:0]
	}
}

// raw appends a complete property element, written as it is when it is
// large and the response is streamed.
func (rw *respWriter) raw(x []byte) {
	if rw.write == nil || len(x) < flushAt {
		rw.b = append(rw.b, x...)
		rw.piece()
		return
	}
	rw.write(rw.b)
	rw.b = rw.b[:0]
	rw.write(x)
}

// appendResponse appends res's DAV:response element for req to b.
func (h *Handler) appendResponse(b []byte, res *resource, req propfindRequest) []byte {
	rw := respWriter{b: b}
	h.writeResponse(&rw, res, req)
	return rw.b
}

// writeResponse writes res's DAV:response element for req to rw, a
// property at a time.
func (h *Handler) writeResponse(rw *respWriter, res *resource, req propfindRequest) {
	b := append(rw.b, "<D:response><D:href>"...)
	b = appendEscaped(b, res.href)
	b = append(b, "</D:href><D:propstat><D:prop>"...)
	rw.b = b
	var missing []xml.Name
	switch req.mode {
	case findPropName:
		for _, local := range allpropOrder {
			// lockdiscovery always applies: its value, which holds
			// every lock owner, need not be built to know it.
			if local != "lockdiscovery" {
				if _, ok := liveProps[local].value(h, res, nil); !ok {
					continue
				}
			}
			if deadProp(res, nsDAV, local) == nil {
				rw.b = appendEmpty(rw.b, xml.Name{Space: nsDAV, Local: local})
			}
		}
		for _, p := range res.dead {
			rw.b = appendEmpty(rw.b, p.Name)
			rw.piece()
		}
	case findAllProp:
		for _, local := range allpropOrder {
			if deadProp(res, nsDAV, local) == nil {
				h.writeLive(rw, res, local)
			}
		}
		for _, p := range res.dead {
			rw.raw(p.XML)
		}
		for _, n := range req.names { // DAV:include
			if n.Space == nsDAV && !liveProps[n.Local].allprop && liveProps[n.Local].value != nil {
				h.writeLive(rw, res, n.Local)
			}
		}
	case findNamed:
		for _, n := range req.names {
			if p := deadProp(res, n.Space, n.Local); p != nil {
				rw.raw(p.XML)
				continue
			}
			if n.Space == nsDAV {
				if n.Local == "lockdiscovery" {
					h.writeLockDiscoveryProp(rw, res)
					continue
				}
				if lp, ok := liveProps[n.Local]; ok {
					if v, ok := lp.value(h, res, nil); ok {
						rw.b = appendLiveValue(rw.b, n.Local, v)
						continue
					}
				}
			}
			missing = append(missing, n)
		}
	}
	b = append(rw.b, "</D:prop>"...)
	b = appendStatus(b, http.StatusOK)
	b = append(b, "</D:propstat>"...)
	if len(missing) > 0 {
		b = append(b, "<D:propstat><D:prop>"...)
		for _, n := range missing {
			b = appendEmpty(b, n)
		}
		b = append(b, "</D:prop>"...)
		b = appendStatus(b, http.StatusNotFound)
		b = append(b, "</D:propstat>"...)
	}
	rw.b = append(b, "</D:response>"...)
}

// writeLive writes a live property if it applies to res; lockdiscovery
// goes out a lock at a time.
func (h *Handler) writeLive(rw *respWriter, res *resource, local string) {
	if local == "lockdiscovery" {
		h.writeLockDiscoveryProp(rw, res)
		return
	}
	rw.b = h.appendLive(rw.b, res, local)
}

// writeLockDiscoveryProp writes the DAV:lockdiscovery property of res, a
// lock at a time: each activelock carries its client's DAV:owner.
func (h *Handler) writeLockDiscoveryProp(rw *respWriter, res *resource) {
	if len(res.locks) == 0 {
		rw.b = append(rw.b, "<D:lockdiscovery/>"...)
		return
	}
	rw.b = append(rw.b, "<D:lockdiscovery>"...)
	for _, l := range res.locks {
		rw.b = h.appendActiveLock(rw.b, l)
		rw.piece()
	}
	rw.b = append(rw.b, "</D:lockdiscovery>"...)
}

// appendLive appends a live property if it applies to res.
func (h *Handler) appendLive(b []byte, res *resource, local string) []byte {
	start := len(b)
	b = append(b, "<D:"...)
	b = append(b, local...)
	b = append(b, '>')
	valueStart := len(b)
	b, ok := liveProps[local].value(h, res, b)
	if !ok {
		return b[:start]
	}
	if len(b) == valueStart { // empty: <D:x/>, shorter by the name and 3 bytes
		return append(b[:valueStart-1], "/>"...)
	}
	b = append(b, "</D:"...)
	b = append(b, local...)
	return append(b, '>')
}

func appendLiveValue(b []byte, local string, v []byte) []byte {
	b = append(b, "<D:"...)
	b = append(b, local...)
	if len(v) == 0 {
		return append(b, "/>"...)
	}
	b = append(b, '>')
	b = append(b, v...)
	b = append(b, "</D:"...)
	b = append(b, local...)
	return append(b, '>')
}

// appendEmpty appends an empty element for a property name in any
// namespace, declaring the namespace on the element itself.
func appendEmpty(b []byte, n xml.Name) []byte {
	switch n.Space {
	case nsDAV:
		b = append(b, "<D:"...)
		b = append(b, n.Local...)
	case "":
		b = append(b, '<')
		b = append(b, n.Local...)
		b = append(b, ` xmlns=""`...)
	default:
		b = append(b, "<R:"...)
		b = append(b, n.Local...)
		b = append(b, ` xmlns:R="`...)
		b = appendEscaped(b, n.Space)
		b = append(b, '"')
	}
	return append(b, "/>"...)
}

func deadProp(res *resource, space, local string) *state.Property {
	for i := range res.dead {
		if res.dead[i].Name.Space == space && res.dead[i].Name.Local == local {
			return &res.dead[i]
		}
	}
	return nil
}
