package processing

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// keepAliveBuffer is how much a KeepAlive collects before it writes to the
// connection on its own.
const keepAliveBuffer = 32 << 10

// KeepAlive buffers a streamed response body and makes sure something
// reaches the client at least every interval, so that a long 207 body (a
// PROPFIND over a huge or slow tree) never looks dead to a proxy's read
// timeout. Once the final status is committed 102s can no longer help;
// this does the same job inside the body.
//
// Every Write must be a complete unit of the body (one XML response
// element, say): when the interval passes with nothing new, KeepAlive
// writes its filler (whitespace, which XML allows between elements) at
// such a boundary, never inside a unit.
type KeepAlive struct {
	mu       sync.Mutex
	w        io.Writer
	rc       *http.ResponseController
	filler   []byte
	buf      []byte
	last     time.Time
	err      error
	interval time.Duration
	stop     chan struct{}
	done     chan struct{}
}

// NewKeepAlive wraps w. With a non-positive interval it only buffers.
func NewKeepAlive(w http.ResponseWriter, interval time.Duration, filler []byte) *KeepAlive {
	k := &KeepAlive{w: w, rc: http.NewResponseController(w), filler: filler,
		buf: make([]byte, 0, keepAliveBuffer), last: time.Now(), interval: interval}
	if interval > 0 {
		k.stop, k.done = make(chan struct{}), make(chan struct{})
		go k.run()
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
	k.buf = append(k.buf, p...)
	if len(k.buf) >= keepAliveBuffer {
		k.flushLocked()
	}
	return len(p), k.err
}

// flushLocked sends what is queued, or the filler when nothing is.
func (k *KeepAlive) flushLocked() {
	if k.err != nil {
		return
	}
	if len(k.buf) == 0 {
		k.buf = append(k.buf, k.filler...)
	}
	_, k.err = k.w.Write(k.buf)
	k.buf = k.buf[:0]
	if k.err == nil {
		if err := k.rc.Flush(); err != nil && err != http.ErrNotSupported {
			k.err = err
		}
	}
	k.last = time.Now()
}

func (k *KeepAlive) run() {
	defer close(k.done)
	t := time.NewTicker(k.interval / 2)
	defer t.Stop()
	for {
		select {
		case <-k.stop:
			return
		case now := <-t.C:
			k.mu.Lock()
			if now.Sub(k.last) >= k.interval {
				k.flushLocked()
			}
			k.mu.Unlock()
		}
	}
}

// Close sends what is queued and stops the ticker; no goroutine remains.
func (k *KeepAlive) Close() error {
	if k.stop != nil {
		close(k.stop)
		<-k.done
		k.stop = nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.buf) > 0 {
		k.flushLocked()
	}
	return k.err
}
