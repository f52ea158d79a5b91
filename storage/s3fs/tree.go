package s3fs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"gocloud.dev/blob"
)

// Visit is told about each resource a tree operation handles: rel is its
// path below the operation's root ("" for the root), size its content
// length, err why it failed. It is the type of storage.Visit.
type Visit = func(rel string, isDir bool, size int64, err error)

// deleteBatch is how many keys one DeleteObjects request removes: S3's
// maximum.
const deleteBatch = 1000

// flushEvery is how often MoveTree deletes the sources copied so far
// when fewer than a batch are waiting: each member is reported moved only
// once its source is deleted.
const flushEvery = 200 * time.Millisecond

// tree is the state one tree operation shares among its requests: a
// bounded pool, the visit callback (called by one goroutine at a time),
// and the members that failed, whose collections must stay.
type tree struct {
	f     *Fs
	ctx   context.Context
	slots chan struct{}
	wg    sync.WaitGroup

	mu     sync.Mutex
	visit  Visit
	failed []string // rel of failed members
}

func (f *Fs) newTree(ctx context.Context, visit Visit) *tree {
	return &tree{f: f, ctx: ctx, slots: make(chan struct{}, f.cfg.Parallel), visit: visit}
}

// goFn runs fn in the pool, waiting for a free slot.
func (t *tree) goFn(fn func()) {
	t.slots <- struct{}{}
	t.wg.Go(func() {
		defer func() { <-t.slots }()
		fn()
	})
}

func (t *tree) report(rel string, isDir bool, size int64, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.failed = append(t.failed, rel)
	}
	t.visit(rel, isDir, size, err)
}

// keeps reports whether a failure at or below rel keeps collection rel.
func (t *tree) keeps(rel string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, f := range t.failed {
		if rel == "" || f == rel || strings.HasPrefix(f, rel+"/") {
			return true
		}
	}
	return false
}

// member is an object below a collection being worked on.
type member struct {
	key  string // full key
	rel  string // below the collection, without a trailing "/"
	dir  bool   // a collection marker
	size int64
}

// list calls fn with each page of the keys below dirKey, flat (no
// delimiter): one request per thousand keys, whatever the tree's shape.
func (t *tree) list(dirKey string, fn func([]member)) error {
	token := blob.FirstPageToken
	for len(token) > 0 {
		if err := t.ctx.Err(); err != nil {
			return err
		}
		if t.f.cfg.Latency > 0 {
			time.Sleep(t.f.cfg.Latency)
		}
		ctx, cancel := context.WithTimeout(t.ctx, opTimeout)
		objs, next, err := t.f.b.ListPage(ctx, token, listPage, &blob.ListOptions{Prefix: dirKey})
		cancel()
		if err != nil {
			return pathErr("list", dirKey, err)
		}
		page := make([]member, 0, len(objs))
		for _, o := range objs {
			rel := strings.TrimPrefix(o.Key, dirKey)
			if rel == "" {
				continue // the collection's own marker
			}
			m := member{key: o.Key, size: o.Size}
			if strings.HasSuffix(rel, "/") {
				m.dir, rel = true, strings.TrimSuffix(rel, "/")
			}
			m.rel = rel
			page = append(page, m)
		}
		fn(page)
		token = next
	}
	return nil
}

// rawKey reports whether key reaches the server unchanged through the
// blob driver, which escapes control characters and "../": only such keys
// may go through the raw client (DeleteObjects).
func rawKey(key string) bool {
	for _, c := range key {
		if c < 32 {
			return false
		}
	}
	return !strings.Contains(key, "../")
}

// deleteKeys removes members (in one DeleteObjects request when their
// keys allow) and reports each, under base joined with rel. A member
// whose deletion fails is reported with its error.
func (t *tree) deleteKeys(ms []member, report func(m member, err error)) {
	var raw []types.ObjectIdentifier
	var rawMs []member
	for _, m := range ms {
		if err := t.ctx.Err(); err != nil {
			report(m, err)
			continue
		}
		if !rawKey(m.key) {
			ctx, cancel := t.f.callCtx(t.ctx)
			err := t.f.b.Delete(ctx, m.key)
			cancel()
			if err = pathErr("delete", m.key, err); errors.Is(err, os.ErrNotExist) {
				err = nil
			}
			report(m, err)
			continue
		}
		raw = append(raw, types.ObjectIdentifier{Key: aws.String(m.key)})
		rawMs = append(rawMs, m)
	}
	if len(raw) == 0 {
		return
	}
	ctx, cancel := t.f.callCtx(t.ctx)
	defer cancel()
	out, err := t.f.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
		Bucket: aws.String(t.f.cfg.Bucket),
		Delete: &types.Delete{Objects: raw, Quiet: aws.Bool(true)},
	})
	if err != nil {
		err = pathErr("delete", path.Dir(rawMs[0].key), err)
		for _, m := range rawMs {
			report(m, err)
		}
		return
	}
	errs := map[string]error{}
	for _, e := range out.Errors {
		if aws.ToString(e.Code) == "NoSuchKey" {
			continue
		}
		errs[aws.ToString(e.Key)] = &os.PathError{Op: "delete", Path: aws.ToString(e.Key),
			Err: fmt.Errorf("%w: %s: %s", ErrUnavailable, aws.ToString(e.Code), aws.ToString(e.Message))}
	}
	for _, m := range rawMs {
		report(m, errs[m.key])
	}
}

// callCtx is call with a parent context.
func (f *Fs) callCtx(parent context.Context) (context.Context, context.CancelFunc) {
	if f.cfg.Latency > 0 {
		time.Sleep(f.cfg.Latency)
	}
	return context.WithTimeout(parent, opTimeout)
}

// byDepth orders collection markers deepest first, so that each is
// removed after its members.
func byDepth(ms []member) {
	sort.SliceStable(ms, func(i, j int) bool {
		return strings.Count(ms[i].rel, "/") > strings.Count(ms[j].rel, "/")
	})
}

// RemoveTree removes name and everything below it: the objects in
// batches of up to a thousand keys (DeleteObjects), then the collection
// markers, deepest first. Each resource is reported to visit; a failed
// member keeps its ancestors' markers, unreported. The error is non-nil
// only when the operation could not run at all (name missing, store
// unreachable before anything was removed).
func (f *Fs) RemoveTree(ctx context.Context, name string, visit Visit) error {
	name = path.Clean("/" + name)
	fi, err := f.Stat(name)
	if err != nil {
		return err
	}
	t := f.newTree(ctx, visit)
	if !fi.IsDir() {
		cctx, cancel := f.callCtx(ctx)
		defer cancel()
		err := pathErr("delete", name, f.b.Delete(cctx, f.key(name)))
		if errors.Is(err, os.ErrNotExist) {
			err = nil
		}
		t.report("", false, fi.Size(), err)
		return nil
	}
	if name == "/" {
		return &os.PathError{Op: "remove", Path: name, Err: os.ErrPermission}
	}
	dk := f.dirKey(name)
	var markers []member
	lerr := t.list(dk, func(page []member) {
		var objs []member
		for _, m := range page {
			if m.dir {
				markers = append(markers, m)
			} else {
				objs = append(objs, m)
			}
		}
		t.goFn(func() {
			t.deleteKeys(objs, func(m member, err error) { t.report(m.rel, false, m.size, err) })
		})
	})
	t.wg.Wait()
	if lerr != nil {
		t.report("", true, 0, lerr)
		return nil
	}
	t.removeMarkers(markers)
	if t.keeps("") {
		return nil
	}
	t.deleteKeys([]member{{key: dk, dir: true}}, func(m member, err error) { t.report("", true, 0, err) })
	return nil
}

// removeMarkers removes collection markers, deepest first, a level at a
// time, leaving those with a failed member below them.
func (t *tree) removeMarkers(markers []member) {
	byDepth(markers)
	for len(markers) > 0 {
		depth := strings.Count(markers[0].rel, "/")
		n := 0
		for n < len(markers) && strings.Count(markers[n].rel, "/") == depth {
			n++
		}
		var level []member
		for _, m := range markers[:n] {
			if !t.keeps(m.rel) {
				level = append(level, m)
			}
		}
		for chunk := range chunks(level, deleteBatch) {
			t.goFn(func() {
				t.deleteKeys(chunk, func(m member, err error) { t.report(m.rel, true, 0, err) })
			})
		}
		t.wg.Wait()
		markers = markers[n:]
	}
}

func chunks(ms []member, n int) func(func([]member) bool) {
	return func(yield func([]member) bool) {
		for len(ms) > 0 {
			k := min(n, len(ms))
			if !yield(ms[:k]) {
				return
			}
			ms = ms[k:]
		}
	}
}

// copyObject copies one object server-side.
func (t *tree) copyObject(dst, src string) error {
	ctx, cancel := t.f.callCtx(t.ctx)
	defer cancel()
	return t.f.b.Copy(ctx, dst, src, nil)
}

// copyMember copies a member: an object server-side, a collection marker
// by writing a new one (some stores, versitygw's posix backend among
// them, cannot copy a directory object).
func (t *tree) copyMember(dst string, m member) error {
	if !m.dir {
		return t.copyObject(dst, m.key)
	}
	ctx, cancel := t.f.callCtx(t.ctx)
	defer cancel()
	return t.f.b.WriteAll(ctx, dst, nil, &blob.WriterOptions{ContentType: "application/x-directory"})
}

// CopyTree copies src to dst (which must not exist) with server-side
// copies, Parallel at a time; with deep false a collection is copied
// without its members. Each resource is reported to visit; a member that
// fails is reported and the rest copied. A lone file's failure is the
// returned error.
func (f *Fs) CopyTree(ctx context.Context, src, dst string, deep bool, visit Visit) error {
	src, dst = path.Clean("/"+src), path.Clean("/"+dst)
	fi, err := f.Stat(src)
	if err != nil {
		return err
	}
	t := f.newTree(ctx, visit)
	if !fi.IsDir() {
		if err := t.copyObject(f.key(dst), f.key(src)); err != nil {
			return pathErr("copy", src, err)
		}
		t.report("", false, fi.Size(), nil)
		return nil
	}
	if err := f.Mkdir(dst, 0o755); err != nil {
		return err
	}
	t.report("", true, 0, nil)
	if !deep {
		return nil
	}
	sk, dk := f.dirKey(src), f.dirKey(dst)
	if strings.HasPrefix(dk, sk) {
		return &os.PathError{Op: "copy", Path: dst, Err: os.ErrInvalid}
	}
	t.copyMembers(sk, dk, nil, func(int64) {})
	return nil
}

// copyMembers copies every member below sk to the same place below dk,
// Parallel at a time, and reports each. A member that have (see
// resumable) shows already copied is reported without being copied;
// copied is told the size of each object actually copied.
func (t *tree) copyMembers(sk, dk string, have *present, copied func(int64)) {
	lerr := t.list(sk, func(page []member) {
		for _, m := range page {
			if have.holds(t, dk, m) {
				t.report(m.rel, m.dir, m.size, nil)
				continue
			}
			t.goFn(func() {
				err := t.copyMember(dk+strings.TrimPrefix(m.key, sk), m)
				if err == nil && !m.dir {
					copied(m.size)
				}
				t.report(m.rel, m.dir, m.size, pathErr("copy", m.rel, err))
			})
		}
	})
	t.wg.Wait()
	if lerr != nil {
		t.report("", true, 0, lerr)
	}
}

// MoveTree moves src to dst (which must not exist, but for a file, which
// is replaced): each object is copied server-side, and deleted from src
// only once its copy is confirmed, in batches. Collection markers go
// last, deepest first, and stay where a member below failed. S3 has no
// rename: the move is not atomic, and a crash in the middle leaves the
// tree split between src and dst, nothing lost.
func (f *Fs) MoveTree(ctx context.Context, src, dst string, visit Visit) error {
	src, dst = path.Clean("/"+src), path.Clean("/"+dst)
	if src == "/" || dst == "/" {
		return &os.PathError{Op: "rename", Path: src, Err: os.ErrPermission}
	}
	fi, err := f.Stat(src)
	if err != nil {
		return err
	}
	t := f.newTree(ctx, visit)
	if !fi.IsDir() {
		if dfi, err := f.Stat(dst); err == nil && dfi.IsDir() {
			return &os.PathError{Op: "rename", Path: dst, Err: os.ErrExist}
		}
		if err := t.copyObject(f.key(dst), f.key(src)); err != nil {
			return pathErr("rename", src, err)
		}
		var derr error
		t.deleteKeys([]member{{key: f.key(src)}}, func(_ member, err error) { derr = err })
		t.report("", false, fi.Size(), derr)
		return nil
	}
	if _, err := f.Stat(dst); err == nil {
		return &os.PathError{Op: "rename", Path: dst, Err: os.ErrExist}
	}
	sk, dk := f.dirKey(src), f.dirKey(dst)
	if strings.HasPrefix(dk, sk) {
		return &os.PathError{Op: "rename", Path: dst, Err: os.ErrInvalid}
	}
	if err := f.Mkdir(dst, 0o755); err != nil {
		return err
	}
	t.moveMembers(sk, dk, nil)
	return nil
}

// moveMembers moves every member below sk to the same place below dk,
// then removes the collection sk: each object is copied server-side (or
// not, when have shows its copy there already) and deleted from sk once
// its copy is confirmed, in batches. Collection markers go last, deepest
// first, and stay where a member below failed.
func (t *tree) moveMembers(sk, dk string, have *present) {
	var markers []member
	var mu sync.Mutex
	var copied []member
	flushed := time.Now()
	// Deleted in the slot of the copy that filled the batch: a source is
	// deleted only after its copy is confirmed.
	flush := func(batch []member) {
		t.deleteKeys(batch, func(m member, err error) { t.report(m.rel, false, m.size, err) })
	}
	done := func(m member) {
		mu.Lock()
		copied = append(copied, m)
		var batch []member
		// Full batches, or what is there every flushEvery, so that
		// progress shows while a large tree is copied.
		if len(copied) >= deleteBatch || time.Since(flushed) >= flushEvery {
			batch, copied, flushed = copied, nil, time.Now()
		}
		mu.Unlock()
		if batch != nil {
			flush(batch)
		}
	}
	lerr := t.list(sk, func(page []member) {
		for _, m := range page {
			if m.dir {
				markers = append(markers, m)
			}
			there := have.holds(t, dk, m)
			t.goFn(func() {
				if !there {
					if err := t.copyMember(dk+strings.TrimPrefix(m.key, sk), m); err != nil {
						t.report(m.rel, m.dir, m.size, pathErr("copy", m.rel, err))
						return
					}
				}
				if !m.dir { // a marker is removed after its members
					done(m)
				}
			})
		}
	})
	t.wg.Wait()
	if len(copied) > 0 {
		flush(copied)
	}
	if lerr != nil {
		t.report("", true, 0, lerr)
		return
	}
	t.removeMarkers(markers)
	if t.keeps("") {
		return
	}
	t.deleteKeys([]member{{key: sk, dir: true}}, func(m member, err error) { t.report("", true, 0, err) })
}
