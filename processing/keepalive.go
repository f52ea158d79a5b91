package processing

import (
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// keepAliveBuffer is how much a KeepAlive collects before it writes to the
// connection on its own.
const keepAliveBuffer = 32 << 10

// KeepAlive writes a generated response body, such as a 207 Multi-Status,
// whose status is known from the start but whose length is not.
//
// It holds the status back while it can: a body that ends within its
// buffer goes out in one piece with a Content-Length, and while the
// status is not committed the 102 Processing emitter underneath can still
// cover a long wait (RFC 2518 §10.1). Once the buffer fills, or a quiet
// interval passes with no 102 to cover it, the status is committed and the
// body streams; from then on something reaches the client at least every
// interval, so that a long body (a PROPFIND over a huge or slow tree) never
// looks dead to a proxy's read timeout.
//
// Every Write must be a complete unit of the body (one XML response
// element, say): when the interval passes with nothing new, KeepAlive
// writes its filler (whitespace, which XML allows between elements) at
// such a boundary, never inside a unit. No goroutine runs between ticks,
// and none outlives Close.
type KeepAlive struct {
	w        http.ResponseWriter
	rc       *http.ResponseController
	status   int
	filler   []byte
	interval time.Duration
	timer    *time.Timer
	ticks    sync.WaitGroup // the armed or running tick, if any

	mu        sync.Mutex
	buf       []byte
	bufp      *[]byte // where buf came from in keepAliveBuffers
	committed bool
	closed    bool
	last      time.Time
	err       error
}

// NewKeepAlive wraps w for a response of the given status. With a
// non-positive interval it only buffers.
func NewKeepAlive(w http.ResponseWriter, status int, interval time.Duration, filler []byte) *KeepAlive {
	bufp := keepAliveBuffers.Get().(*[]byte)
	k := &KeepAlive{w: w, rc: http.NewResponseController(w), status: status, filler: filler,
		buf: (*bufp)[:0], bufp: bufp, last: time.Now(), interval: interval}
	if interval > 0 {
		k.ticks.Add(1)
		k.timer = time.AfterFunc(interval/2, k.tick)
	}
	return k
}

// Write queues p, a complete unit of the body.
func (k *KeepAlive) Write(p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.err != nil {
		return 0, k.err
	}
	if len(k.buf)+len(p) < keepAliveBuffer {
		k.buf = append(k.buf, p...)
		return len(p), nil
	}
	k.flushLocked(p) // p goes out as it is: a large unit is not copied
	return len(p), k.err
}

// flushLocked commits the status if need be and sends what is queued,
// then more; the filler when there is nothing at all.
func (k *KeepAlive) flushLocked(more []byte) {
	if k.err != nil {
		return
	}
	if !k.committed {
		k.w.WriteHeader(k.status)
		k.committed = true
	}
	if len(k.buf) == 0 && len(more) == 0 {
		k.buf = append(k.buf, k.filler...)
	}
	if len(k.buf) > 0 {
		_, k.err = k.w.Write(k.buf)
		k.buf = k.buf[:0]
	}
	if k.err == nil && len(more) > 0 {
		_, k.err = k.w.Write(more)
	}
	if k.err == nil {
		if err := k.rc.Flush(); err != nil && err != http.ErrNotSupported {
			k.err = err
		}
	}
	k.last = time.Now()
}

// tick runs every half interval: it flushes when the client has heard
// nothing for an interval, unless the status is still held back and 102s
// are keeping the connection alive.
func (k *KeepAlive) tick() {
	defer k.ticks.Done()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed || k.err != nil {
		return
	}
	covered := !k.committed && sendsProcessing(k.w)
	if !covered && time.Since(k.last) >= k.interval {
		k.flushLocked(nil)
	}
	k.ticks.Add(1)
	k.timer.Reset(k.interval / 2)
}

// sendsProcessing reports whether w is a Writer that will go on sending
// 102s until the final status.
func sendsProcessing(w http.ResponseWriter) bool {
	pw, ok := w.(*Writer)
	return ok && pw.keepsAlive()
}

// Close ends the body: a body that was never flushed is sent whole with a
// Content-Length, otherwise the rest is sent. It stops the ticks and waits
// for one that is running, so no goroutine remains.
func (k *KeepAlive) Close() error {
	k.mu.Lock()
	k.closed = true
	k.mu.Unlock()
	if k.timer != nil && k.timer.Stop() {
		k.ticks.Done() // the armed tick will not run
	}
	k.ticks.Wait()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.err != nil {
		return k.err
	}
	if !k.committed {
		k.w.Header().Set("Content-Length", strconv.Itoa(len(k.buf)))
		k.w.WriteHeader(k.status)
		k.committed = true
	}
	if len(k.buf) > 0 {
		_, k.err = k.w.Write(k.buf)
	}
	if k.bufp != nil && cap(k.buf) <= 2*keepAliveBuffer {
		*k.bufp = k.buf[:0] // written: net/http has copied it
		keepAliveBuffers.Put(k.bufp)
	}
	k.buf, k.bufp = nil, nil
	return k.err
}

// keepAliveBuffers holds the buffers of closed KeepAlives: most bodies are
// small and end within one, which was then an allocation per request.
var keepAliveBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

var _ io.WriteCloser = (*KeepAlive)(nil)
