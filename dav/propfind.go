package dav

import (
	"context"
	"errors"
	"net/http"
	"os"
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
	ms := startMultistatus(w, keepAlive)
	walk := propfindWalk{h: h, ms: ms, req: req, progress: progress, limit: int64(limit)}
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
	p.ms.buf, err = p.formatOne(ctx, p.ms.buf, name, fi, nil)
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
	pre := p.h.preload(ctx, names, p.req)
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

// loaded is the state of one resource, read ahead by preload.
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

// preload reads, for a store that reads many paths at once much faster
// than one at a time (state.BatchReader: PostgreSQL), what load would
// read for each of names, in one call for the properties and one for
// the locks. It returns nil, for load to do, when the store is not such
// a store or there is only one name. A failure is each resource's error.
func (h *Handler) preload(ctx context.Context, names []string, req propfindRequest) preloaded {
	br, ok := h.state.(state.BatchReader)
	if !ok || len(names) < 2 {
		return nil
	}
	out := make(preloaded, len(names))
	props, err := br.PropsOf(ctx, names)
	var locks [][]state.Lock
	if err == nil && needsLocks(req) {
		locks, err = br.LocksCoveringEach(ctx, names)
	}
	for i := range out {
		switch {
		case err != nil:
			out[i].err = err
		case locks != nil:
			out[i] = loaded{dead: props[i], locks: locks[i]}
		default:
			out[i].dead = props[i]
		}
	}
	return out
}
