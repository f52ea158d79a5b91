package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
)

// RFC 9112 §6.3: a request with both Content-Length and Transfer-Encoding
// may be an attempt at request smuggling, and the server must close the
// connection after responding to it. net/http honours Transfer-Encoding
// but deletes Content-Length before the handler sees the request, and
// keeps the connection for the next request. framedConn therefore follows
// the message framing of a plain-HTTP connection as it is read, notes the
// first request that carried both headers, and refuseAmbiguous answers
// that request with 400 and closes the connection.
//
// Over TLS the bytes are encrypted below net/http, so the check covers
// plain HTTP only: the deployment behind a reverse proxy, where smuggling
// between the proxy's reading of a request and davd's matters.

// framingListener wraps every accepted connection in a framedConn.
type framingListener struct{ net.Listener }

func (l framingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &framedConn{Conn: c}, nil
}

// framedConn is a connection whose HTTP/1 framing is tracked as it is read.
type framedConn struct {
	net.Conn
	f         framer       // used only by Read, which net/http never calls concurrently
	ambiguous atomic.Int64 // 1-based index of the first request with both headers; 0: none
	served    atomic.Int64 // requests that reached refuseAmbiguous
}

func (c *framedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.ambiguous.Load() == 0 {
		if i := c.f.feed(p[:n]); i > 0 {
			c.ambiguous.Store(i)
		}
	}
	return n, err
}

// ReadFrom keeps the sendfile path of *net.TCPConn, which net/http looks
// for on the connection.
func (c *framedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// CloseWrite lets net/http half-close the connection so that a client
// still sending the refused request's body reads the 400 before the reset.
func (c *framedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

type framedConnKey struct{}

// withFramedConn is an http.Server ConnContext: it makes the framedConn
// reachable from the requests read from it.
func withFramedConn(ctx context.Context, c net.Conn) context.Context {
	if fc, ok := c.(*framedConn); ok {
		return context.WithValue(ctx, framedConnKey{}, fc)
	}
	return ctx
}

// refuseAmbiguous answers the request that carried both Content-Length and
// Transfer-Encoding, and every later one on its connection, with 400 and
// Connection: close. net/http serves the requests of a connection one at a
// time and has read a request's headers before its handler runs, so the
// n-th request a handler sees is the n-th the framer counted.
func refuseAmbiguous(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fc, ok := r.Context().Value(framedConnKey{}).(*framedConn); ok && r.ProtoMajor == 1 {
			n := fc.served.Add(1)
			if a := fc.ambiguous.Load(); a != 0 && a <= n {
				w.Header().Set("Connection", "close")
				http.Error(w, "the request has both Content-Length and Transfer-Encoding (RFC 9112 section 6.3)", http.StatusBadRequest)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// framer follows HTTP/1 request framing: header lines, then a body of
// Content-Length bytes or chunks. When the bytes stop making sense to it
// (a request net/http will refuse and close on, or a switch of protocol),
// it stops following.
type framer struct {
	state    framerState
	line     []byte // the line being read
	inHead   bool   // the request line has been read
	http10   bool   // HTTP/1.0 ignores Transfer-Encoding
	cl, te   bool   // the headers seen so far
	chunked  bool
	length   int64 // Content-Length
	remain   int64 // bytes of body or chunk data left
	requests int64 // header blocks completed
}

type framerState int

const (
	inHeaders framerState = iota
	inBody
	inChunkSize
	inChunkData
	inChunkEnd
	inTrailer
	lost
)

// maxFramedLine is longer than any header net/http accepts (1 MiB by
// default), so that no valid line is cut.
const maxFramedLine = 1<<20 + 4096

// feed follows p and returns the 1-based index of a request it finds with
// both Content-Length and Transfer-Encoding, or 0.
func (f *framer) feed(p []byte) int64 {
	for len(p) > 0 && f.state != lost {
		switch f.state {
		case inBody, inChunkData:
			n := min(int64(len(p)), f.remain)
			p, f.remain = p[n:], f.remain-n
			if f.remain == 0 {
				if f.state == inBody {
					f.state = inHeaders
				} else {
					f.state = inChunkEnd
				}
			}
			continue
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			f.line = append(f.line, p...)
			if len(f.line) > maxFramedLine {
				f.state = lost
			}
			return 0
		}
		f.line = append(f.line, p[:i]...)
		p = p[i+1:]
		line := bytes.TrimSuffix(f.line, []byte("\r"))
		f.line = f.line[:0]
		if f.readLine(line) {
			return f.requests
		}
	}
	return 0
}

// readLine takes one line without its end; it reports whether the line
// completed a request with both framing headers.
func (f *framer) readLine(line []byte) bool {
	switch f.state {
	case inHeaders:
		switch {
		case !f.inHead:
			if len(line) == 0 {
				return false
			}
			proto := line[bytes.LastIndexByte(line, ' ')+1:]
			if !bytes.HasPrefix(proto, []byte("HTTP/1.")) {
				f.state = lost
				return false
			}
			f.inHead, f.http10 = true, string(proto) == "HTTP/1.0"
			f.cl, f.te, f.chunked, f.length = false, false, false, 0
		case len(line) == 0:
			f.inHead = false
			f.requests++
			both := f.cl && f.te
			switch {
			case f.te && !f.http10:
				f.state = inChunkSize
				if !f.chunked {
					f.state = lost // net/http refuses other codings
				}
			case f.cl && f.length > 0:
				f.state, f.remain = inBody, f.length
			}
			return both
		default:
			name, value, ok := bytes.Cut(line, []byte(":"))
			if !ok {
				f.state = lost
				return false
			}
			value = bytes.TrimSpace(value)
			switch {
			case bytes.EqualFold(name, []byte("Content-Length")):
				n, err := strconv.ParseInt(string(value), 10, 64)
				if err != nil || n < 0 {
					f.state = lost
				}
				f.cl, f.length = true, n
			case bytes.EqualFold(name, []byte("Transfer-Encoding")):
				f.te, f.chunked = true, bytes.EqualFold(value, []byte("chunked"))
			}
		}
	case inChunkSize:
		size, _, _ := bytes.Cut(line, []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		switch {
		case err != nil || n < 0:
			f.state = lost
		case n == 0:
			f.state = inTrailer
		default:
			f.state, f.remain = inChunkData, n
		}
	case inChunkEnd:
		f.state = inChunkSize
		if len(line) != 0 {
			f.state = lost
		}
	case inTrailer:
		if len(line) == 0 {
			f.state = inHeaders
		}
	}
	return false
}
