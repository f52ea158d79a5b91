package dav

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path"

	"davd/processing"
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
	_, root, err := readXMLBody(r)
	if err != nil {
		return err
	}
	req, err := parsePropfind(root)
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
	ms := startMultistatus(w, h.processing.Interval)
	walk := propfindWalk{h: h, ms: ms, req: req, progress: processing.FromContext(ctx), left: limit}
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
	res      resource // reused for every entry
	left     int      // entries still allowed when > 0; 0 means no limit
}

// run answers for name and, as depth asks, its members.
//
// Listing is the costly part of a big PROPFIND (a getdents and an fstatat
// per entry: about two thirds of the CPU in a profile of Depth: infinity
// over 10,000 files), so it runs in listers beside the request goroutine,
// which formats and writes: the two overlap, and on a tree several
// directories are listed at once. RFC 4918 leaves the order of responses
// free. Memory stays bounded: listers hand over at most a few batches of
// listBatch entries ahead of the writer, and the directories still to
// list are held by name only.
func (p *propfindWalk) run(ctx context.Context, name string, fi os.FileInfo, depth int) error {
	if err := p.emit(ctx, name, fi); err != nil || !fi.IsDir() || depth == depthZero {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	l := newLister(ctx, p.h, name, fi, depth == depthInfinity)
	for b := range l.batches {
		for _, c := range b.infos {
			if !p.h.readable(path.Join(b.dir, c.Name())) {
				continue // the lister does not descend into it either
			}
			if err := p.emit(ctx, path.Join(b.dir, c.Name()), c); err != nil {
				cancel()
				l.drain()
				return err
			}
		}
	}
	return l.err
}

// emit writes the response for one resource.
func (p *propfindWalk) emit(ctx context.Context, name string, fi os.FileInfo) error {
	if p.left > 0 {
		if p.left--; p.left == 0 {
			p.left = -1 // the next entry is one too many
		}
	} else if p.left < 0 {
		return errTooManyEntries
	}
	p.res = resource{name: name, fi: fi, href: p.h.hrefFor(name, fi.IsDir())}
	if err := p.h.load(ctx, &p.res, p.req); err != nil {
		p.ms.status(p.res.href, http.StatusInternalServerError, "")
		return err
	}
	p.ms.buf = p.h.appendResponse(p.ms.buf, &p.res, p.req)
	p.ms.flushResponse()
	p.progress.AddResource(p.res.href)
	return p.ms.err // non-nil when the client went away
}
