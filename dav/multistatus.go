package dav

import (
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"davd/processing"
)

// multistatus streams a 207 Multi-Status body. Responses are written as
// they are produced, so memory stays flat however many resources a
// PROPFIND or COPY covers; the keep-alive writer underneath flushes at
// least every processing interval so that the stream never goes silent.
//
// Several goroutines may write (PROPFIND's listers stream large responses
// themselves, see streamResponse); each write is one or more complete
// response elements, or the pieces of one response written under mu, so
// responses never interleave.
type multistatus struct {
	w    *processing.KeepAlive
	buf  []byte  // the response being built, reused; the request goroutine's
	bufp *[]byte // where buf came from in msBuffers

	mu  sync.Mutex // held for one write, or for all the pieces of one response
	err error      // the first write error; guarded by mu
}

// startMultistatus opens a 207 body; the status is committed when the
// body is first flushed (see processing.KeepAlive). keepAlive is the
// longest the stream may stay silent (0: no limit).
func startMultistatus(w http.ResponseWriter, keepAlive time.Duration) *multistatus {
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	bufp := msBuffers.Get().(*[]byte)
	ms := &multistatus{w: processing.NewKeepAlive(w, http.StatusMultiStatus, keepAlive, []byte("\n")), buf: (*bufp)[:0], bufp: bufp}
	ms.buf = append(ms.buf, `<?xml version="1.0" encoding="utf-8"?>`+"\n"+`<D:multistatus xmlns:D="DAV:">`...)
	ms.flushResponse()
	return ms
}

// flushResponse hands the finished element in ms.buf to the stream.
func (ms *multistatus) flushResponse() {
	ms.writeUnit(ms.buf)
	ms.buf = ms.buf[:0]
}

// failed returns the first write error: the client went away.
func (ms *multistatus) failed() error {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return ms.err
}

// streamResponse gives f the stream to itself: f writes one response in
// pieces through write, and no other response can come between them.
// Memory then stays bounded by the largest piece, not the response.
func (ms *multistatus) streamResponse(f func(write func([]byte) error)) error {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	f(func(b []byte) error {
		if ms.err == nil && len(b) > 0 {
			_, ms.err = ms.w.Write(b)
		}
		return ms.err
	})
	return ms.err
}

// status writes a response that carries only a status for href, as COPY,
// MOVE and DELETE report a failed member, with an optional RFC 4918
// precondition element.
func (ms *multistatus) status(href string, code int, condition string) {
	ms.buf = appendStatusResponse(ms.buf, href, code, condition)
	ms.flushResponse()
}

// appendStatusResponse appends a response element carrying only a status
// for href, with an optional RFC 4918 precondition element.
func appendStatusResponse(b []byte, href string, code int, condition string) []byte {
	b = append(b, "<D:response><D:href>"...)
	b = appendEscaped(b, href)
	b = append(b, "</D:href>"...)
	b = appendStatus(b, code)
	if condition != "" {
		b = append(b, "<D:error><D:"...)
		b = append(b, condition...)
		b = append(b, "/></D:error>"...)
	}
	return append(b, "</D:response>"...)
}

// writeUnit hands a run of complete response elements to the stream.
func (ms *multistatus) writeUnit(b []byte) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.err == nil {
		_, ms.err = ms.w.Write(b)
	}
}

// close ends the body and stops the keep-alive writer.
func (ms *multistatus) close() error {
	ms.buf = append(ms.buf, "</D:multistatus>\n"...)
	ms.flushResponse()
	if ms.bufp != nil && cap(ms.buf) <= 64<<10 {
		*ms.bufp = ms.buf[:0]
		msBuffers.Put(ms.bufp)
	}
	ms.buf, ms.bufp = nil, nil
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if err := ms.w.Close(); ms.err == nil {
		ms.err = err
	}
	return ms.err
}

// msBuffers holds the response-building buffers of finished multistatus
// bodies: a small PROPFIND otherwise allocated one per request.
var msBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func appendStatus(b []byte, code int) []byte {
	b = append(b, "<D:status>HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(code)...)
	return append(b, "</D:status>"...)
}

// hrefFor turns a storage path into the href clients see: the prefix
// added, every byte outside the URL path grammar percent-encoded, and a
// trailing slash on collections.
func (h *Handler) hrefFor(name string, isDir bool) string {
	p := h.prefix + name
	if isDir && p[len(p)-1] != '/' {
		p += "/"
	}
	return (&url.URL{Path: p}).EscapedPath()
}

// appendEscaped appends s as XML character data. Characters XML 1.0
// cannot carry at all become U+FFFD rather than breaking the document.
func appendEscaped(b []byte, s string) []byte {
	// Most names and values need no escaping: copy the plain prefix at
	// once (the byte-wise loop was 6% of a Depth: infinity PROPFIND).
	i := 0
	for i < len(s) && plainXML[s[i]] {
		i++
	}
	b = append(b, s[:i]...)
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '&':
				b = append(b, "&amp;"...)
			case c == '<':
				b = append(b, "&lt;"...)
			case c == '>':
				b = append(b, "&gt;"...)
			case c == '"':
				b = append(b, "&quot;"...)
			case c == '\r':
				b = append(b, "&#xD;"...)
			case c < 0x20 && c != '\t' && c != '\n':
				b = append(b, "\uFFFD"...)
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == 0xFFFE || r == 0xFFFF {
			b = append(b, "\uFFFD"...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return b
}

// escapeAttr escapes s for an attribute value.
func escapeAttr(s string) string { return string(appendEscaped(nil, s)) }

// plainXML marks the bytes appendEscaped copies unchanged: printable ASCII
// other than & < > ".
var plainXML = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '&' && c != '<' && c != '>' && c != '"'
	}
	return t
}()
