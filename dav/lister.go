package dav

import (
	"context"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"

	"davd/storage"
)

// formatter turns a batch of members of collection dir into response
// elements appended to b.
type formatter func(ctx context.Context, b []byte, dir string, infos []os.FileInfo) ([]byte, error)

// lister lists collections concurrently for PROPFIND: a pool of workers
// takes directories from a stack (depth first, so that the stack stays
// small), formats their members a batch at a time, sends the batches'
// bytes, and pushes the subdirectories it finds when the walk is
// recursive.
type lister struct {
	h       *Handler
	ctx     context.Context
	deep    bool
	format  formatter
	batches chan *[]byte // from bodies

	mu      sync.Mutex
	wake    *sync.Cond
	pending []string // directories waiting to be listed
	busy    int      // workers listing a directory
	err     error    // the first listing error
	seen    map[dirID]bool
}

// dirID identifies a directory on disk. A symbolic link inside the root
// may point back at an ancestor; descending only into directories not
// seen before keeps such a loop from making the walk endless.
type dirID struct{ dev, ino uint64 }

// firstVisit reports whether the directory fi describes has not been
// walked yet, and marks it walked. Backends without inode numbers (memory)
// have no links, hence no loops.
func (l *lister) firstVisit(fi os.FileInfo) bool {
	dev, ino, ok := storage.FileID(fi)
	if !ok {
		return true
	}
	id := dirID{dev, ino}
	if l.seen[id] {
		return false
	}
	l.seen[id] = true
	return true
}

// maxListers bounds the workers: beyond the number of cores they only
// contend; on slow storage a few more would help, but the tree's fan-out
// is not known in advance.
const maxListers = 4

// newLister starts listing dir; batches is closed when the walk is done.
func newLister(ctx context.Context, h *Handler, dir string, fi os.FileInfo, deep bool, format formatter) *lister {
	workers := min(runtime.GOMAXPROCS(0), maxListers)
	l := &lister{h: h, ctx: ctx, deep: deep, format: format, batches: make(chan *[]byte, 2*workers), pending: []string{dir},
		seen: make(map[dirID]bool)}
	l.firstVisit(fi)
	l.wake = sync.NewCond(&l.mu)
	var wg sync.WaitGroup
	if deep && h.fs.ListsFlat() {
		wg.Go(func() { l.walkFlat(dir) })
		workers = 0
	}
	for range workers {
		wg.Go(l.work)
	}
	go func() {
		wg.Wait()
		close(l.batches)
	}()
	return l
}

// work lists directories until none are pending and no worker can add more.
func (l *lister) work() {
	for {
		l.mu.Lock()
		for len(l.pending) == 0 && l.busy > 0 {
			l.wake.Wait()
		}
		if len(l.pending) == 0 {
			l.mu.Unlock()
			l.wake.Broadcast() // the walk is over: release the others
			return
		}
		dir := l.pending[len(l.pending)-1]
		l.pending = l.pending[:len(l.pending)-1]
		l.busy++
		l.mu.Unlock()

		var formatErr error
		err := l.h.fs.ListDir(l.ctx, dir, func(infos []os.FileInfo) error {
			infos = slices.DeleteFunc(infos, unlistable)
			if len(infos) == 0 {
				return nil
			}
			body := bodies.Get().(*[]byte)
			var err error
			*body, err = l.format(l.ctx, (*body)[:0], dir, infos)
			if formatErr == nil {
				formatErr = err
			}
			select {
			case l.batches <- body:
			case <-l.ctx.Done():
				return l.ctx.Err()
			}
			if l.deep {
				l.push(dir, infos)
			}
			return nil
		})

		if err == nil {
			err = formatErr
		}
		l.mu.Lock()
		l.busy--
		if err != nil && l.err == nil {
			l.err = err
		}
		if err != nil && l.ctx.Err() != nil {
			l.pending = nil // cancelled: stop everyone
		}
		l.mu.Unlock()
		l.wake.Broadcast()
	}
}

// flatBatch is how many bytes of responses walkFlat gathers before it
// sends them: a flat listing yields the members of many small
// collections, each of which would otherwise be a batch of its own.
const flatBatch = 32 << 10

// walkFlat lists the tree below dir in one flat listing, on storage that
// lists whole trees at once (an object store: one request per page of
// keys instead of one per collection), and sends the responses as work
// does. It leaves out what work leaves out: unlistable names, and what is
// below them or below a collection the user may not read. The order is
// the listing's (depth first, in key order); RFC 4918 leaves it free.
func (l *lister) walkFlat(dir string) {
	pruned := "" // a collection left out, with what is below it
	body := bodies.Get().(*[]byte)
	*body = (*body)[:0]
	send := func() error {
		if len(*body) == 0 {
			return nil
		}
		select {
		case l.batches <- body:
		case <-l.ctx.Done():
			return l.ctx.Err()
		}
		body = bodies.Get().(*[]byte)
		*body = (*body)[:0]
		return nil
	}
	var formatErr error
	err := l.h.fs.ListTree(l.ctx, dir, func(d string, infos []os.FileInfo) error {
		// The listing is depth first: once outside the pruned
		// collection, nothing below it comes again.
		if pruned != "" && (d == pruned || strings.HasPrefix(d, pruned+"/")) {
			return nil
		}
		pruned = ""
		kept := infos[:0:0]
		for _, fi := range infos {
			if !listable(fi.Name()) {
				if fi.IsDir() {
					pruned = childPath(d, fi.Name())
				}
				continue
			}
			if fi.IsDir() && !l.h.readable(childPath(d, fi.Name())) {
				pruned = childPath(d, fi.Name()) // format leaves it out too
			}
			kept = append(kept, fi)
		}
		if len(kept) == 0 {
			return nil
		}
		var err error
		*body, err = l.format(l.ctx, *body, d, kept)
		if formatErr == nil {
			formatErr = err
		}
		if len(*body) < flatBatch {
			return nil
		}
		return send()
	})
	if err == nil {
		err = send()
	}
	if len(*body) == 0 {
		bodies.Put(body)
	}
	if err == nil {
		err = formatErr
	}
	l.mu.Lock()
	l.err = err
	l.mu.Unlock()
}

// unlistable is the members a listing leaves out (see listable).
func unlistable(fi os.FileInfo) bool { return !listable(fi.Name()) }

// push queues the subdirectories among infos, members of dir.
func (l *lister) push(dir string, infos []os.FileInfo) {
	n := 0
	l.mu.Lock()
	for _, fi := range infos {
		if !fi.IsDir() {
			continue
		}
		// What the user may not read is left out, with what is below it.
		if child := childPath(dir, fi.Name()); l.h.readable(child) && l.firstVisit(fi) {
			l.pending = append(l.pending, child)
			n++
		}
	}
	l.mu.Unlock()
	for range n {
		l.wake.Signal()
	}
}

// drain discards what the workers still send after the walk was cancelled,
// so that none of them stays blocked.
func (l *lister) drain() {
	for b := range l.batches {
		bodies.Put(b)
	}
}

// childPath is path.Join(dir, name) for a clean dir and a name read from
// it, which has no slash and is never . or ..: without path.Clean, which
// took 3.5% of a Depth: infinity PROPFIND.
func childPath(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}
