package storage

import (
	"context"
	"io"
	"path"
	"runtime"
	"strings"
	"time"
)

// sweepSlack is how far before the sweep's start an entry must have
// changed to be removed: file times come from a clock that may lag the
// one time.Now reads by a tick, and an entry made by an operation that
// began after the sweep must never look older than the sweep.
const sweepSlack = 100 * time.Millisecond

// SweepReserved removes what crashes left under reserved temporary names
// (TempName): uploads and copies written under such names, and
// destinations a MOVE set aside. It walks the whole tree, and leaves
// alone entries changed (ctime, or mtime where there is none) since it
// began, which belong to operations running now; it neither enters the
// state directory nor follows symbolic links. It runs on a thread of its
// own at the lowest CPU and I/O priority (Linux, macOS), stops when ctx is
// cancelled, and returns how many entries it removed.
func (f *FileSystem) SweepReserved(ctx context.Context) (int, error) {
	cutoff := time.Now().Add(-sweepSlack)
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		// The thread is never unlocked: it ends with the goroutine, and
		// its priority with it.
		runtime.LockOSThread()
		lowerPriority()
		c, err := f.openCollection("/")
		if err != nil {
			done <- result{0, hide(err)}
			return
		}
		defer c.close()
		s := sweep{ctx: ctx, cutoff: cutoff}
		err = s.dir(c, "/", 0)
		done <- result{s.removed, err}
	}()
	r := <-done
	return r.n, r.err
}

// sweep is the state of one SweepReserved.
type sweep struct {
	ctx     context.Context
	cutoff  time.Time
	removed int
}

// dir sweeps collection c, at rel, and the collections below it. Failures
// below c are skipped: the sweep removes what it can.
func (s *sweep) dir(c collection, rel string, depth int) error {
	if depth >= maxTreeDepth {
		return nil
	}
	d, err := c.list()
	if err != nil {
		return err
	}
	defer d.Close()
	for {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		infos, rerr := d.Readdir(listBatch)
		for _, fi := range infos {
			name := fi.Name()
			switch {
			case name == ReservedName && rel == "/":
				// The server's state: not temporary.
			case strings.HasPrefix(name, tempPrefix):
				if entryChanged(c, name, fi).Before(s.cutoff) && c.removeAll(name) == nil {
					s.removed++
				}
			case fi.IsDir(): // a directory itself, never a link to one
				sub, err := c.sub(name)
				if err != nil {
					continue
				}
				err = s.dir(sub, path.Join(rel, name), depth+1)
				sub.close()
				if err != nil && s.ctx.Err() != nil {
					return err
				}
			}
		}
		if rerr == io.EOF || (rerr == nil && len(infos) == 0) {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}
