package processing

import (
	"context"
	"io"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Writer wraps a request's http.ResponseWriter and, when the policy allows,
// sends 102 Processing from a ticker goroutine until the handler writes its
// final status. It also records the final status and body size for logging,
// whether or not 102s are enabled.
//
// Writer implements http.ResponseWriter, http.Flusher and io.ReaderFrom, and
// Unwrap lets http.NewResponseController reach the underlying writer (for
// SetWriteDeadline, Hijack, ...). Methods reached through Unwrap bypass the
// Writer's lock, so a handler must not hijack the connection or write to it
// directly before its final status while 102s may still be sent.
//
// Like any ResponseWriter, a Writer is used by one handler goroutine;
// only Status, BytesWritten and InterimSent may be read from others (for
// example a list of running operations).
type Writer struct {
	w        http.ResponseWriter
	cfg      Config
	prefer   bool // client sent "Prefer: processing": no After, no Max, acknowledge
	progress *Progress

	// hdr holds the handler's headers while 102s may still be sent, because
	// net/http sends everything in w.Header() with each 1xx. It is nil when
	// 102s are disabled and once the headers are handed over to w (final
	// status or Finish). Only the handler goroutine reads or writes it, so a
	// non-nil hdr also tells the handler side "not committed yet".
	hdr http.Header

	// mu serialises every use of w (and w.Header()) between the handler and
	// the ticker goroutine while 102s may still be sent; ResponseWriter is not
	// safe for concurrent use.
	mu sync.Mutex
	// final is set under mu once no further 102 may be sent (the final status
	// was written, or Finish was called); the ticker checks it under mu
	// before touching w, so it never writes after the final status.
	final bool

	status  atomic.Int32 // atomics: a status page may read these while the handler runs
	written atomic.Int64
	interim atomic.Int32

	enabled bool            // 102s may be sent to this request
	ctx     context.Context // the request's: once done, nobody is waiting
	armed   atomic.Bool     // the whole request has been read
	// timer schedules the next 102. It is a timer rather than a goroutine
	// so that the great majority of requests, which end before the first
	// 102 is due, cost no goroutine. It is set under mu, and never again
	// once final is set.
	timer *time.Timer
	// ticks counts the armed or running timer callbacks, for Finish to
	// wait on: none may outlive the request.
	ticks    sync.WaitGroup
	stopOnce sync.Once
}

// The interfaces other packages rely on: http.ResponseController finds Flush
// and Unwrap, and io.Copy finds ReadFrom (sendfile on GET).
var _ interface {
	http.ResponseWriter
	http.Flusher
	io.ReaderFrom
	Unwrap() http.ResponseWriter
} = (*Writer)(nil)

// Start wraps w for request r according to cfg. It returns the wrapper and a
// request derived from r whose context carries a *Progress (the one already
// in r's context, if any) and, when 102s are enabled, whose Body reports when
// it has been read to EOF: RFC 2518 allows 102 only once the complete request
// has been accepted, and sending one earlier would also cut short a client
// waiting for "100 Continue".
//
// When 102s are disabled for r, Start starts no goroutine and copies no
// headers. Callers MUST defer pw.Finish(), which stops the ticker goroutine
// before net/http finishes the response.
func Start(w http.ResponseWriter, r *http.Request, cfg Config) (*Writer, *http.Request) {
	ctx := r.Context()
	p := FromContext(ctx)
	if p == nil {
		p = new(Progress)
		ctx = WithProgress(ctx, p)
	}
	pw := &Writer{w: w, progress: p}
	on, prefer := cfg.enabled(r)
	if !on {
		if ctx != r.Context() {
			r = r.WithContext(ctx)
		}
		return pw, r
	}

	pw.cfg, pw.prefer = cfg, prefer
	// Move headers set before Start (by middleware) into the separate map
	// too, so that they go out with the final response only. The map is
	// sized for a typical response, so that filling it does not grow it.
	h := w.Header()
	pw.hdr = make(http.Header, max(len(h), 8))
	maps.Copy(pw.hdr, h)
	clear(h)

	pw.enabled, pw.ctx = true, ctx
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		if ctx != r.Context() {
			r = r.WithContext(ctx)
		}
		pw.arm()
	} else {
		body := &armingBody{rc: r.Body, arm: pw.arm}
		r = r.WithContext(ctx) // a shallow copy, so the caller's r keeps its Body
		r.Body = body
	}
	if !prefer {
		pw.mu.Lock()
		pw.schedule(cfg.After)
		pw.mu.Unlock()
	}
	return pw, r
}

// Header returns the header map the handler should fill. While 102s may
// still be sent it is a separate map that is copied into the underlying one
// with the final status; afterwards (for trailers) it is the underlying one.
func (pw *Writer) Header() http.Header {
	if pw.hdr != nil {
		return pw.hdr
	}
	return pw.w.Header()
}

// WriteHeader writes the final status (code >= 200, or 101), ending 102s.
// A 1xx from the handler itself (for example 103 Early Hints) is passed
// through with the handler's current headers, as net/http would send it, and
// does not end 102s.
func (pw *Writer) WriteHeader(code int) {
	if pw.hdr == nil {
		pw.w.WriteHeader(code) // first: it panics on invalid codes
		if !isInterim(code) {
			pw.status.CompareAndSwap(0, int32(code))
		}
		return
	}
	if isInterim(code) {
		pw.passInterim(code)
		return
	}
	pw.commit(code)
}

// Write writes body bytes, committing status 200 first if the handler has
// not written a status, as net/http does.
func (pw *Writer) Write(b []byte) (int, error) {
	pw.implicitOK()
	n, err := pw.w.Write(b)
	pw.written.Add(int64(n))
	return n, err
}

// ReadFrom copies src to the response, committing status 200 if needed. It
// delegates to the underlying writer's ReadFrom when there is one, because
// net/http's uses sendfile for files: wrapping must not cost GET its
// zero-copy path.
func (pw *Writer) ReadFrom(src io.Reader) (int64, error) {
	pw.implicitOK()
	var n int64
	var err error
	if rf, ok := pw.w.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(pw.w, src) // pw.w, not pw: no recursion into ReadFrom
	}
	pw.written.Add(n)
	return n, err
}

// Flush commits status 200 if needed, then flushes the underlying writer
// (if it can flush at all).
func (pw *Writer) Flush() {
	pw.implicitOK()
	_ = http.NewResponseController(pw.w).Flush()
}

// Unwrap returns the underlying ResponseWriter, for http.ResponseController.
func (pw *Writer) Unwrap() http.ResponseWriter { return pw.w }

// Finish stops 102s and waits for a 102 being sent, so that nothing of
// this request outlives the handler and net/http can finish the response
// without racing a 102. If the handler wrote nothing, its headers are
// handed to the underlying writer for net/http's implicit 200. Finish is
// idempotent; call it from the handler goroutine, typically deferred.
func (pw *Writer) Finish() {
	if !pw.enabled {
		return
	}
	pw.stopOnce.Do(func() {
		pw.mu.Lock()
		pw.final = true
		if pw.hdr != nil {
			pw.handOver()
		}
		t := pw.timer
		pw.mu.Unlock()
		if t != nil && t.Stop() {
			pw.ticks.Done() // the scheduled 102 will not run
		}
	})
	pw.ticks.Wait()
}

// Status returns the final status written: 200 if the handler wrote a body
// without WriteHeader, 0 if it wrote nothing yet.
func (pw *Writer) Status() int { return int(pw.status.Load()) }

// BytesWritten returns the number of body bytes written.
func (pw *Writer) BytesWritten() int64 { return pw.written.Load() }

// InterimSent returns the number of 102s the Writer has sent.
func (pw *Writer) InterimSent() int { return int(pw.interim.Load()) }

// implicitOK commits status 200 unless a final status was written, because
// a body write implies it.
func (pw *Writer) implicitOK() {
	if pw.hdr != nil {
		pw.commit(http.StatusOK)
		return
	}
	pw.status.CompareAndSwap(0, http.StatusOK)
}

// commit writes the final status with the handler's headers and ends 102s.
func (pw *Writer) commit(code int) {
	pw.mu.Lock()
	defer pw.mu.Unlock() // deferred: WriteHeader panics on invalid codes
	pw.final = true
	pw.handOver()
	pw.w.WriteHeader(code)
	pw.status.CompareAndSwap(0, int32(code))
}

// handOver moves the handler's headers into the underlying header map, adds
// Preference-Applied when "Prefer: processing" was honoured, and makes
// Header return the underlying map from now on. Called with mu held.
func (pw *Writer) handOver() {
	h := pw.w.Header()
	for k, v := range pw.hdr {
		h[k] = v
	}
	if pw.prefer && !hasPreference(h.Values("Preference-Applied"), "processing") {
		h.Add("Preference-Applied", "processing")
	}
	pw.hdr = nil
}

// passInterim sends the handler's own 1xx with the handler's headers, then
// empties the underlying map again so that later 102s carry none of them.
func (pw *Writer) passInterim(code int) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	h := pw.w.Header()
	for k, v := range pw.hdr {
		h[k] = v
	}
	pw.w.WriteHeader(code)
	clear(h)
}

// send102 sends one 102 unless the final status has been written. It
// reports whether more may follow (false at the final status or the cap).
func (pw *Writer) send102() bool {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	if pw.final {
		return false
	}
	if pw.cfg.WriteTimeout > 0 {
		// A 1xx does not extend Server.WriteTimeout; without this the final
		// response of a long operation would hit the old deadline.
		// ErrNotSupported only means there is no deadline to extend.
		_ = http.NewResponseController(pw.w).SetWriteDeadline(time.Now().Add(pw.cfg.WriteTimeout))
	}
	h := pw.w.Header()
	if v := pw.progress.interimValue(); v != "" {
		h.Set("Progress", v)
	}
	pw.w.WriteHeader(http.StatusProcessing)
	h.Del("Progress")
	n := int(pw.interim.Add(1))
	return pw.prefer || pw.cfg.Max <= 0 || n < pw.cfg.Max
}

// schedule arranges for fire to run after d. Called with mu held.
func (pw *Writer) schedule(d time.Duration) {
	if pw.final {
		return
	}
	pw.ticks.Add(1)
	if pw.timer == nil {
		pw.timer = time.AfterFunc(d, pw.fire)
	} else {
		pw.timer.Reset(d)
	}
}

// fire sends a 102 if the request has been read completely (ticks before
// that are skipped, and not counted), then schedules the next one, until
// the final status, the cap, or the end of the request. Without "Prefer:
// processing" the first fire comes After the request started; with it, as
// soon as the request is armed.
func (pw *Writer) fire() {
	defer pw.ticks.Done()
	if pw.ctx.Err() != nil {
		return // client gone or handler returned: nobody to keep alive
	}
	if pw.armed.Load() && !pw.send102() {
		return
	}
	pw.mu.Lock()
	pw.schedule(pw.cfg.Interval)
	pw.mu.Unlock()
}

// arm records that the whole request has been read; with "Prefer:
// processing" the first 102 is due at once.
func (pw *Writer) arm() {
	if pw.armed.Swap(true) || !pw.prefer {
		return
	}
	pw.mu.Lock()
	pw.schedule(0)
	pw.mu.Unlock()
}

// keepsAlive reports whether the Writer will go on sending 102s until the
// final status: enabled, not final, below its cap.
func (pw *Writer) keepsAlive() bool {
	if !pw.enabled {
		return false
	}
	pw.mu.Lock()
	final := pw.final
	pw.mu.Unlock()
	return !final && (pw.prefer || pw.cfg.Max <= 0 || int(pw.interim.Load()) < pw.cfg.Max)
}

// isInterim reports whether code is a 1xx that leaves the response open;
// 101 Switching Protocols is final for net/http.
func isInterim(code int) bool {
	return code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols
}

// armingBody arms the Writer when the request body has been read to EOF.
// net/http returns io.EOF together with the last bytes of a Content-Length
// body, so a handler that reads exactly the body still arms it.
type armingBody struct {
	rc  io.ReadCloser
	arm func()
}

func (b *armingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.arm()
	}
	return n, err
}

func (b *armingBody) Close() error { return b.rc.Close() }
