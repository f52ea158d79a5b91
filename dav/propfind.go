package dav

import (
	"context"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"davd/processing"
	"davd/storage/state"
)

// Depth header values.
const (
	depthZero     = 0
	depthOne      = 1
	depthInfinity = -1
)

// parseDepth reads a Depth header; empty gives def.
func parseDepth(hdr string, def int) (int, error) {
	switch hdr {
	case "":
		return def, nil
	case "0":
		return depthZero, nil
	case "1":
		return depthOne, nil
	case "infinity", "Infinity":
		return depthInfinity, nil
	}
	return 0, errorf(http.StatusBadRequest, "Depth must be 0, 1 or infinity, not %q", hdr)
}

// servePropfind answers PROPFIND with a streamed 207 (RFC 4918 §9.1).
// Collections are read in batches and each response is written as soon as
// it is known, so memory does not grow with the tree or the directory.
func (h *Handler) servePropfind(w http.ResponseWriter, r *http.Request, name string) error {
	depth, err := parseDepth(r.Header.Get("Depth"), depthInfinity)
	if err != nil {
		return err
	}
	req, err := h.propfinds.parse(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	fi, err := h.fs.Stat(ctx, name)
	if err != nil {
		return storageError(r.URL.Path, err)
	}
	limit := h.limits.MaxPropfindEntries
	if depth != depthInfinity || !fi.IsDir() {
		limit = 0
	}
	if limit > 0 {
		// Count first: once the 207 is committed the refusal can no
		// longer be a status.
		n, err := h.countTree(ctx, name, limit)
		if err != nil {
			return storageError(r.URL.Path, err)
		}
		if n > limit {
			writePrecondition(w, http.StatusForbidden, "propfind-finite-depth")
			return nil
		}
	}
	progress := processing.FromContext(ctx)
	keepAlive := h.processing.Interval
	if depth == depthZero || !fi.IsDir() {
		progress.SetTotal(1, 0) // otherwise unknown until the walk ends
		// One resource, already stat'ed: its body is written at once and
		// needs no keep-alive timer, which with its buffer was 8% of a
		// Depth 0 PROPFIND's CPU.
		keepAlive = 0
	}
	var tree *treeState
	if depth != depthZero && fi.IsDir() {
		// Before the 207 is committed: a failure is the answer's status.
		if tree, err = h.readTreeState(ctx, name, req); err != nil {
			return err
		}
	}
	ms := startMultistatus(w, keepAlive)
	walk := propfindWalk{h: h, ms: ms, req: req, progress: progress, limit: int64(limit), tree: tree}
	if err := walk.run(ctx, name, fi, depth); errors.Is(err, errTooManyEntries) {
		// The tree grew past the limit between the count and the walk:
		// the 207 may already be out, so the truncation is reported
		// inside it, as RFC 5323 §5.15 does for SEARCH.
		ms.status(h.hrefFor(name, true), http.StatusInsufficientStorage, "number-of-matches-within-limits")
	} else if err != nil {
		h.log.Warn("PROPFIND ended early", "path", r.URL.Path, "err", err)
	}
	return ms.close()
}

// propfindWalk carries one PROPFIND's state through the tree.
type propfindWalk struct {
	h        *Handler
	ms       *multistatus
	req      propfindRequest
	progress *processing.Progress
	limit    int64        // most resources to report; 0 means no limit
	n        atomic.Int64 // resources formatted so far, by all listers
	tree     *treeState   // state read ahead, or nil
}

// run answers for name and, as depth asks, its members.
//
// Listing and formatting are the costly part of a big PROPFIND (a
// getdents and an fstatat per entry took two thirds of the CPU in a
// profile of Depth: infinity over 10,000 files; building the XML most of
// the rest), so both run in lister goroutines, a batch of entries at a
// time, and the request goroutine only writes: on a tree several
// directories are listed at once. RFC 4918 leaves the order of responses
// free. Memory stays bounded: listers hand over at most a few batches of
// listBatch entries ahead of the writer, and the directories still to
// list are held by name only.
func (p *propfindWalk) run(ctx context.Context, name string, fi os.FileInfo, depth int) error {
	// Straight into the multistatus buffer: a fresh slice grew three times
	// for one response.
	var err error
	p.ms.buf, err = p.formatOne(ctx, p.ms.buf, name, fi, p.preload(ctx, []string{name}).at(0))
	p.ms.flushResponse()
	if msErr := p.ms.failed(); err != nil || msErr != nil || !fi.IsDir() || depth == depthZero {
		return errors.Join(err, msErr)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	l := newLister(ctx, p.h, name, fi, depth == depthInfinity, p.format)
	for b := range l.batches {
		p.ms.writeUnit(*b)
		bodies.Put(b)
		if err := p.ms.failed(); err != nil { // the client went away
			cancel()
			l.drain()
			return err
		}
		if p.limit > 0 && p.n.Load() > p.limit {
			cancel()
			l.drain()
			return errTooManyEntries
		}
	}
	return l.err
}

// bodies recycles the formatted batches.
var bodies = sync.Pool{New: func() any { return new([]byte) }}

// format appends to b the responses for infos, members of collection dir.
// Several listers call it at once. A resource whose state cannot be read
// gets a 500 response of its own; the first such error is returned after
// the batch.
func (p *propfindWalk) format(ctx context.Context, b []byte, dir string, infos []os.FileInfo) ([]byte, error) {
	var first error
	names := make([]string, len(infos))
	for i, c := range infos {
		names[i] = childPath(dir, c.Name())
	}
	pre := p.preload(ctx, names)
	for i, c := range infos {
		var err error
		if b, err = p.formatOne(ctx, b, names[i], c, pre.at(i)); err != nil && first == nil {
			first = err
		}
	}
	return b, first
}

// formatOne appends the response for resource name, unless the user may
// not read it (the lister does not descend into it either). Its state is
// pre when not nil, or read from the store.
func (p *propfindWalk) formatOne(ctx context.Context, b []byte, name string, fi os.FileInfo, pre *loaded) ([]byte, error) {
	if !p.h.readable(name) {
		return b, nil
	}
	if p.limit > 0 && p.n.Add(1) > p.limit {
		return b, errTooManyEntries
	}
	res := resource{name: name, fi: fi, href: p.h.hrefFor(name, fi.IsDir())}
	var err error
	if pre != nil {
		res.dead, res.locks, err = pre.dead, pre.locks, pre.err
	} else {
		err = p.h.load(ctx, &res, p.req)
	}
	if err != nil {
		return appendStatusResponse(b, res.href, http.StatusInternalServerError, ""), err
	}
	p.progress.AddResource(res.href)
	if res.stateSize() <= bigState {
		return p.h.appendResponse(b, &res, p.req), nil
	}
	// Large stored state: the responses already in b go out, then this
	// one a piece at a time, with the stream held so that no other
	// response comes between its pieces. Listers call this too.
	err = p.ms.streamResponse(func(write func([]byte) error) {
		rw := respWriter{b: b, write: write}
		p.h.writeResponse(&rw, &res, p.req)
		write(rw.b)
		b = rw.b[:0]
	})
	return b, err
}

// needsLocks reports whether the answer to req shows locks (as load
// decides).
func needsLocks(req propfindRequest) bool {
	return req.mode != findNamed || wants(req.names, "lockdiscovery")
}

// treeStateMax bounds the dead properties (XML, paths and names) a
// PROPFIND reads at its start; a tree holding more has its properties
// read a batch of members at a time.
const treeStateMax = 8 << 20

// treeState is what a PROPFIND of a collection reads at its start when
// the store reads many paths at once much faster than one at a time
// (state.BatchReader: PostgreSQL, where each call is a round trip): the
// dead properties of the whole tree when they fit in treeStateMax, and
// every lock that can apply to a member (those covering the collection
// and those below it, whose number the lock caps bound). Listing the
// tree then costs a few round trips in all, or one per batch of members
// for large properties, rather than one or two per resource. Like a walk
// path by path, it is no snapshot of one instant: a change made during
// the PROPFIND may or may not show.
type treeState struct {
	br    state.BatchReader
	props map[string][]state.Property // nil: read per batch (PropsOf)
	locks map[string][]state.Lock     // by root, each by token; nil when none are shown
}

// readTreeState reads the treeState of a PROPFIND of the collection
// name, or returns nil when the store reads path by path.
func (h *Handler) readTreeState(ctx context.Context, name string, req propfindRequest) (*treeState, error) {
	br, ok := h.state.(state.BatchReader)
	if !ok {
		return nil, nil
	}
	ts := &treeState{br: br}
	props, fits, err := br.PropsAtOrBelow(ctx, name, treeStateMax)
	if err != nil {
		return nil, err
	}
	if fits {
		ts.props = props
	}
	if !needsLocks(req) {
		return ts, nil
	}
	covering, err := h.state.LocksCovering(ctx, name)
	if err != nil {
		return nil, err
	}
	below, err := h.state.LocksBelow(ctx, name)
	if err != nil {
		return nil, err
	}
	ts.locks = map[string][]state.Lock{}
	for _, l := range append(covering, below...) {
		ts.locks[l.Root] = append(ts.locks[l.Root], l)
	}
	for _, ls := range ts.locks {
		slices.SortFunc(ls, func(a, b state.Lock) int { return strings.Compare(a.Token, b.Token) })
	}
	return ts, nil
}

// covering returns the locks of ts that apply to p: the deep ones rooted
// at its ancestors and those rooted at p, in the order of LocksCovering
// (by root, then token).
func (ts *treeState) covering(p string) []state.Lock {
	if len(ts.locks) == 0 {
		return nil
	}
	var out []state.Lock
	for a := range ancestorsTopDown(p) {
		for _, l := range ts.locks[a] {
			if l.Deep {
				out = append(out, l)
			}
		}
	}
	return append(out, ts.locks[p]...)
}

// ancestorsTopDown yields the proper ancestors of the clean absolute path
// p, "/" first.
func ancestorsTopDown(p string) func(func(string) bool) {
	return func(yield func(string) bool) {
		if p == "/" || !yield("/") {
			return
		}
		for i := 1; i < len(p); i++ {
			if p[i] == '/' && !yield(p[:i]) {
				return
			}
		}
	}
}

// loaded is the state of one resource, read ahead.
type loaded struct {
	dead  []state.Property
	locks []state.Lock
	err   error // reading it failed
}

// preloaded is the state of the resources of one batch, in its order; nil
// when each is to be read on its own.
type preloaded []loaded

// at returns the state of the i-th resource, or nil.
func (p preloaded) at(i int) *loaded {
	if p == nil {
		return nil
	}
	return &p[i]
}

// preload returns the state of names from the walk's treeState, reading
// their properties in one call when the treeState does not hold them;
// nil (each is read on its own) without a treeState. A failure is each
// resource's error.
func (p *propfindWalk) preload(ctx context.Context, names []string) preloaded {
	ts := p.tree
	if ts == nil {
		return nil
	}
	out := make(preloaded, len(names))
	var props [][]state.Property
	var err error
	if ts.props == nil {
		props, err = ts.br.PropsOf(ctx, names)
	}
	for i, n := range names {
		switch {
		case err != nil:
			out[i].err = err
			continue
		case ts.props != nil:
			out[i].dead = ts.props[n]
		default:
			out[i].dead = props[i]
		}
		out[i].locks = ts.covering(n)
	}
	return out
}
