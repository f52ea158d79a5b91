package processing

import (
	"io"
	"net/http"
	"time"
)

// http.Server's ReadTimeout and WriteTimeout bound a whole request body and
// a whole response: a 4 GiB upload or download over a slow link would be
// cut however alive it is, and so would the final response of a long COPY.
// davd instead bounds each wait: the body must keep arriving and the
// client must keep accepting the response, but neither may take longer
// than the connection needs. 102 Processing writes count as progress.

// sendChunk is how much of a file one sendfile call may send before the
// write deadline is moved on; a client must accept this much within the
// write timeout.
const sendChunk = 1 << 20

// WithDeadlines returns next with per-read and per-write deadlines applied
// to every request: a read of the body may wait at most read, a write (or
// a 102) at most write; zero leaves that side unbounded.
func WithDeadlines(next http.Handler, read, write time.Duration) http.Handler {
	return &deadlines{read: read, write: write, next: next}
}

// deadlines applies per-read and per-write deadlines to every request.
type deadlines struct {
	read, write time.Duration
	next        http.Handler
}

func (d *deadlines) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	if d.write > 0 {
		// A deadline left from the previous request on this connection
		// must not cut this one before it writes anything.
		_ = rc.SetWriteDeadline(time.Time{})
		w = &deadlineWriter{w: w, rc: rc, timeout: d.write, h2: r.ProtoMajor >= 2}
	}
	if d.read > 0 && r.Body != nil && r.Body != http.NoBody {
		r.Body = &deadlineBody{rc: r.Body, ctl: rc, timeout: d.read}
	}
	d.next.ServeHTTP(w, r)
}

// deadlineBody gives each Read of a request body its own deadline. At the
// end of the body the deadline is cleared: net/http then reads in the
// background to notice a client that goes away, and a deadline firing
// there would cancel the request's context in the middle of its work.
// After a failed read it stays, so that net/http's attempt to drain the
// rest of a stalled body fails at once instead of waiting for the client.
type deadlineBody struct {
	rc      io.ReadCloser
	ctl     *http.ResponseController
	timeout time.Duration
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	_ = b.ctl.SetReadDeadline(time.Now().Add(b.timeout))
	n, err := b.rc.Read(p)
	if err == io.EOF {
		_ = b.ctl.SetReadDeadline(time.Time{})
	}
	return n, err
}

func (b *deadlineBody) Close() error { return b.rc.Close() }

// deadlineWriter moves the write deadline before every write, so that the
// timeout bounds one stalled write, never the length of the response.
//
// On HTTP/1 a deadline only fails I/O attempted after it, so it may stay
// set between writes (and covers net/http's flush after the handler). On
// HTTP/2 it is a timer that resets the stream when it fires, written to or
// not, so it is cleared after each write: otherwise a COPY still working a
// minute after its last 102 would be reset.
type deadlineWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	h2      bool
}

func (d *deadlineWriter) extend() { _ = d.rc.SetWriteDeadline(time.Now().Add(d.timeout)) }

// done ends the deadline of a write that has returned, where it must.
func (d *deadlineWriter) done() {
	if d.h2 {
		_ = d.rc.SetWriteDeadline(time.Time{})
	}
}

func (d *deadlineWriter) Header() http.Header { return d.w.Header() }

func (d *deadlineWriter) WriteHeader(code int) {
	d.extend() // 1xx are written at once, final statuses with the body
	defer d.done()
	d.w.WriteHeader(code)
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	d.extend()
	defer d.done()
	return d.w.Write(p)
}

// Flush flushes the underlying writer, if it can.
func (d *deadlineWriter) Flush() {
	d.extend()
	defer d.done()
	_ = d.rc.Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (d *deadlineWriter) Unwrap() http.ResponseWriter { return d.w }

// ReadFrom sends src in chunks of sendChunk, moving the deadline between
// them. Each chunk reaches net/http as a LimitedReader over src itself, so
// a file still goes out with sendfile.
func (d *deadlineWriter) ReadFrom(src io.Reader) (int64, error) {
	rf, ok := d.w.(io.ReaderFrom)
	if !ok {
		return io.Copy(writerOnly{d}, src)
	}
	limit := int64(-1)
	lr, isLimited := src.(*io.LimitedReader)
	if isLimited {
		src, limit = lr.R, lr.N
	}
	var total int64
	for {
		n := int64(sendChunk)
		if limit >= 0 {
			n = min(n, limit-total)
		}
		if n <= 0 {
			break
		}
		d.extend()
		m, err := rf.ReadFrom(&io.LimitedReader{R: src, N: n})
		d.done()
		total += m
		if err != nil {
			if isLimited {
				lr.N -= total
			}
			return total, err
		}
		if m < n {
			break // src ended
		}
	}
	if isLimited {
		lr.N -= total
	}
	return total, nil
}

// writerOnly hides ReadFrom, so that io.Copy does not recurse into it.
type writerOnly struct{ io.Writer }
