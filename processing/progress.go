package processing

import (
	"context"
	"strconv"
	"sync"
)

// Progress counts work done by a request. Start puts one in the request
// context so that code deep inside a handler (a tree walker, a copy loop) can
// report progress without knowing about HTTP; the 102 emitter reads it for
// the Progress header.
//
// All methods are safe for concurrent use, because the handler updates it
// while the ticker goroutine (or a status page) reads it. They are also
// nil-safe, so callers need not check whether a Progress is present.
type Progress struct {
	mu             sync.Mutex
	resources      int64
	totalResources int64
	bytes          int64
	totalBytes     int64
	current        string
	cancel         func() // set by SetCancel; nil: the work cannot be cancelled
}

// ctxKey is the context key for *Progress; an unexported type cannot collide
// with other packages' keys.
type ctxKey struct{}

// FromContext returns the Progress carried by ctx, or nil when there is none.
func FromContext(ctx context.Context) *Progress {
	p, _ := ctx.Value(ctxKey{}).(*Progress)
	return p
}

// WithProgress returns a context carrying p. Start uses it; it is exported so
// that a caller can create the Progress itself (for example to list running
// operations) before calling Start, which then reuses it.
func WithProgress(ctx context.Context, p *Progress) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// AddResource records one more resource done and remembers path as the one
// currently being worked on.
func (p *Progress) AddResource(path string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.resources++
	p.current = path
	p.mu.Unlock()
}

// AddBytes records n more bytes done. Non-positive n is ignored because the
// Progress header's numerators must never decrease.
func (p *Progress) AddBytes(n int64) {
	if p == nil || n <= 0 {
		return
	}
	p.mu.Lock()
	p.bytes += n
	p.mu.Unlock()
}

// SetTotal records the expected totals, when known (for example after a
// tree has been counted). 0 (or less) means unknown.
func (p *Progress) SetTotal(resources, bytes int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.totalResources = max(resources, 0)
	p.totalBytes = max(bytes, 0)
	p.mu.Unlock()
}

// SetCancel records how to stop the work this Progress counts, so that
// Registry.Cancel can stop it on behalf of the user who started it; nil
// forgets it. cancel must be safe to call more than once and from any
// goroutine; it should only ask the work to stop at its next consistent
// point. Work that records a cancel function is listed by the Registry
// from its start, like a tree method.
func (p *Progress) SetCancel(cancel func()) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.cancel = cancel
	p.mu.Unlock()
}

// cancellable reports whether a cancel function is recorded.
func (p *Progress) cancellable() bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cancel != nil
}

// Cancel calls the recorded cancel function and reports whether there was
// one.
func (p *Progress) Cancel() bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	cancel := p.cancel
	p.mu.Unlock()
	if cancel == nil {
		return false
	}
	cancel()
	return true
}

// Snapshot returns a consistent copy of all counters. A nil Progress
// returns zeros.
func (p *Progress) Snapshot() (resources, totalResources, bytes, totalBytes int64, current string) {
	if p == nil {
		return 0, 0, 0, 0, ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.resources, p.totalResources, p.bytes, p.totalBytes, p.current
}

// Header returns the value of a Progress header in draft-wright-http-progress
// syntax, for example
//
//	1200/100000 "/tree/d03/file-0042.txt" 1228800/102400000 (bytes)
//
// Unknown totals are left empty after the slash ("1200/ "/x" 1228800/
// (bytes)") and the quoted path is omitted when there is none. The path is a
// quoted-string: '"' and '\' are backslash-escaped, and control characters,
// which no header may carry (HTTP/2 rejects the field outright), are
// percent-encoded. A nil Progress returns "".
func (p *Progress) Header() string {
	if p == nil {
		return ""
	}
	res, totalRes, n, totalBytes, cur := p.Snapshot()
	b := make([]byte, 0, 64+len(cur))
	b = appendFraction(b, res, totalRes)
	if cur != "" {
		b = append(b, ' ')
		b = appendQuoted(b, cur)
	}
	b = append(b, ' ')
	b = appendFraction(b, n, totalBytes)
	b = append(b, " (bytes)"...)
	return string(b)
}

// appendFraction appends "n/total", leaving total empty when unknown.
func appendFraction(b []byte, n, total int64) []byte {
	b = strconv.AppendInt(b, n, 10)
	b = append(b, '/')
	if total > 0 {
		b = strconv.AppendInt(b, total, 10)
	}
	return b
}

// appendQuoted appends s as an RFC 9110 quoted-string.
func appendQuoted(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 && c != '\t' || c == 0x7f:
			b = append(b, '%', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// interimValue returns the Progress header value for a 102, or "" while
// nothing has been recorded: an all-zero header tells the client nothing.
func (p *Progress) interimValue() string {
	if res, _, n, _, _ := p.Snapshot(); res == 0 && n == 0 {
		return ""
	}
	return p.Header()
}
