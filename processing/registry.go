package processing

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Registry keeps the requests a server is running, so that an operator can
// see the slow ones (/operations), so that metrics can be kept for all of
// them, and so that a server shutting down can wait until none is left.
//
// Every request is tracked, because any request may turn slow, but only
// the slow ones are listed. A request is slow when:
//
//   - its method may walk a tree (COPY, MOVE, DELETE, PROPFIND, LOCK):
//     listed from its start, because its cost depends on the tree's size,
//     which is not known in advance;
//   - or it has sent a 102 Processing;
//   - or it has run longer than the Registry's slowAfter (the server's
//     --processing-after: the time after which the server itself deems a
//     request worth a 102).
//
// A finished request counts as a long operation, worth a log line with its
// totals, when it sent a 102 or ran longer than slowAfter; a PROPFIND of
// one resource is listed while it runs but is not long.
//
// A Registry is safe for concurrent use. The zero value is not usable; use
// NewRegistry. Methods on a nil *Registry track nothing but still work, so
// that handlers need not check.
type Registry struct {
	slowAfter time.Duration

	mu    sync.Mutex
	seq   uint64
	ops   map[*Operation]struct{}
	empty chan struct{} // closed while ops is empty, for Wait
	m     metrics
}

// NewRegistry returns an empty Registry. Requests running longer than
// slowAfter are listed and, once finished, logged as long operations;
// slowAfter <= 0 makes every request slow.
func NewRegistry(slowAfter time.Duration) *Registry {
	r := &Registry{slowAfter: slowAfter, ops: make(map[*Operation]struct{}), empty: make(chan struct{})}
	close(r.empty)
	return r
}

// isTreeMethod reports whether requests with method are listed from their
// start: their cost grows with the tree.
func isTreeMethod(method string) bool {
	switch method {
	case "COPY", "MOVE", "DELETE", "PROPFIND", "LOCK":
		return true
	}
	return false
}

// Operation is one request being tracked by a Registry.
type Operation struct {
	reg         *Registry
	id          string
	method      string
	path        string
	destination string
	user        string
	start       time.Time
	progress    *Progress
	w           *Writer
}

// Begin starts tracking req, whose response goes through w (for the 102s
// sent and the final status) and whose context carries the Progress to
// report (Start puts one there). user is the authenticated user, "" when
// anonymous. The caller must call End when the request is done.
func (r *Registry) Begin(req *http.Request, w *Writer, user string) *Operation {
	op := &Operation{
		reg:      r,
		method:   req.Method,
		path:     req.URL.Path,
		user:     user,
		start:    time.Now(),
		progress: FromContext(req.Context()),
		w:        w,
	}
	if d := req.Header.Get("Destination"); d != "" {
		op.destination = destinationPath(d)
	}
	if r == nil {
		return op
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	op.id = strconv.FormatUint(r.seq, 10)
	if len(r.ops) == 0 {
		r.empty = make(chan struct{})
	}
	r.ops[op] = struct{}{}
	return op
}

// destinationPath shows a Destination header as its path when it is an
// absolute URL on this server, as is usual, and as given otherwise.
func destinationPath(d string) string {
	req, err := http.NewRequest(http.MethodGet, d, nil)
	if err != nil || req.URL.Path == "" {
		return d
	}
	return req.URL.Path
}

// End stops tracking the operation, records it in the metrics, and
// returns its final state. Call it after the response is finished; later
// calls only return the state again.
func (op *Operation) End() OperationInfo {
	info := op.info(time.Now())
	r := op.reg
	if r == nil {
		return info
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.ops[op]; !ok {
		return info // ended before: counted once
	}
	delete(r.ops, op)
	if len(r.ops) == 0 {
		close(r.empty)
	}
	r.m.observe(info)
	return info
}

// OperationInfo is a snapshot of an operation, as /operations shows it and
// as the log line of a finished long operation reports it.
type OperationInfo struct {
	// ID identifies the operation among those of this server run.
	ID string `json:"id"`
	// Method and Path are the request's method and URL path.
	Method string `json:"method"`
	Path   string `json:"path"`
	// Destination is the path of a COPY's or MOVE's Destination header.
	Destination string `json:"destination,omitempty"`
	// User is the authenticated user, "" when anonymous.
	User string `json:"user,omitempty"`
	// Start is when the request began.
	Start time.Time `json:"start"`
	// Seconds is how long the operation has run (or ran).
	Seconds float64 `json:"seconds"`
	// Resources and Bytes are the work done so far; the totals are 0 when
	// unknown. Current is the resource last handled.
	Resources      int64  `json:"resources"`
	TotalResources int64  `json:"total_resources,omitempty"`
	Bytes          int64  `json:"bytes"`
	TotalBytes     int64  `json:"total_bytes,omitempty"`
	Current        string `json:"current,omitempty"`
	// Progress is the same in draft-wright-http-progress syntax, as the
	// Progress header of a 102 carries it.
	Progress string `json:"progress"`
	// Interim is the number of 102 Processing responses sent.
	Interim int `json:"interim"`
	// Status is the final status, 0 while it is not written yet.
	Status int `json:"status,omitempty"`
	// ResponseBytes is the size of the response body written so far.
	ResponseBytes int64 `json:"response_bytes"`
	// Cancellable reports whether the operation can be stopped with
	// Registry.Cancel.
	Cancellable bool `json:"cancellable,omitempty"`
	// Long reports whether the operation sent a 102 or ran longer than
	// the registry's threshold; a finished long operation is logged.
	Long bool `json:"-"`

	duration time.Duration
}

// Duration is how long the operation has run (or ran).
func (i OperationInfo) Duration() time.Duration { return i.duration }

func (op *Operation) info(now time.Time) OperationInfo {
	res, totalRes, n, totalN, cur := op.progress.Snapshot()
	d := now.Sub(op.start)
	info := OperationInfo{
		ID: op.id, Method: op.method, Path: op.path, Destination: op.destination, User: op.user,
		Start: op.start, Seconds: d.Seconds(), duration: d,
		Resources: res, TotalResources: totalRes, Bytes: n, TotalBytes: totalN, Current: cur,
		Progress: op.progress.Header(), Cancellable: op.progress.cancellable(),
	}
	if op.w != nil {
		info.Interim, info.Status, info.ResponseBytes = op.w.InterimSent(), op.w.Status(), op.w.BytesWritten()
	}
	var slowAfter time.Duration
	if op.reg != nil {
		slowAfter = op.reg.slowAfter
	}
	info.Long = info.Interim > 0 || d >= slowAfter
	return info
}

// Operations returns the slow operations now running, oldest first.
func (r *Registry) Operations() []OperationInfo {
	if r == nil {
		return nil
	}
	now := time.Now()
	r.mu.Lock()
	ops := make([]*Operation, 0, len(r.ops))
	for op := range r.ops {
		ops = append(ops, op)
	}
	r.mu.Unlock()
	list := make([]OperationInfo, 0, len(ops))
	for _, op := range ops {
		if info := op.info(now); isTreeMethod(op.method) || info.Long || info.Cancellable {
			list = append(list, info)
		}
	}
	slices.SortFunc(list, func(a, b OperationInfo) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(len(a.ID), len(b.ID)), cmp.Compare(a.ID, b.ID))
	})
	return list
}

// OperationsOf returns the operations Operations lists that were started
// by user ("" for anonymous requests), oldest first: what a user may see
// of the server's work without seeing anyone else's.
func (r *Registry) OperationsOf(user string) []OperationInfo {
	all := r.Operations()
	mine := all[:0]
	for _, info := range all {
		if info.User == user {
			mine = append(mine, info)
		}
	}
	return mine
}

// Cancel asks the running operation id, started by user, to stop (see
// Progress.SetCancel), and reports whether there was such an operation
// that could be cancelled. Another user's operation is never touched, and
// is reported like one that does not exist.
func (r *Registry) Cancel(id, user string) bool {
	if r == nil {
		return false
	}
	r.mu.Lock()
	var found *Operation
	for op := range r.ops {
		if op.id == id && op.user == user {
			found = op
			break
		}
	}
	r.mu.Unlock()
	return found != nil && found.progress.Cancel()
}

// InFlight returns the number of requests running.
func (r *Registry) InFlight() int {
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ops)
}

// Wait blocks until no request is running or ctx is done, and returns
// ctx's error in the latter case. A server uses it after closing its
// connections, because http.Server.Close does not wait for handlers: an
// operation told to stop must be let reach its next consistent point
// before the process exits.
func (r *Registry) Wait(ctx context.Context) error {
	if r == nil {
		return nil
	}
	for {
		r.mu.Lock()
		n, empty := len(r.ops), r.empty
		r.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-empty:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
