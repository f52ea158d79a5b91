package s3fs

import (
	"context"
	"errors"
	"os"
	"path"
	"strings"
)

// A COPY or MOVE interrupted by a crash is finished at the next start:
// the destination then holds part of the result. ResumeCopyTree and
// ResumeMoveTree list it once and copy only what is missing or differs
// in size, with no request per object to find out.

// present is what a destination prefix held when an operation resumed:
// the size of each key, relative to the prefix (a collection marker ends
// in "/"). It is read and changed only by the goroutine listing the
// source.
type present struct {
	sizes map[string]int64
}

// resumable lists the keys below dk once.
func (t *tree) resumable(dk string) (*present, error) {
	p := &present{sizes: map[string]int64{}}
	err := t.list(dk, func(page []member) {
		for _, m := range page {
			k := m.rel
			if m.dir {
				k += "/"
			}
			p.sizes[k] = m.size
		}
	})
	return p, err
}

// holds reports whether the copy of m is below dk already: a key of the
// same kind and size. A file of the destination where m has a collection
// on its way (a stale object that would hide the collection) is deleted
// on the way. A nil present holds nothing.
func (p *present) holds(t *tree, dk string, m member) bool {
	if p == nil {
		return false
	}
	dirs := strings.Split(m.rel, "/")
	if !m.dir {
		dirs = dirs[:len(dirs)-1]
	}
	for i := range dirs {
		d := strings.Join(dirs[:i+1], "/")
		if _, ok := p.sizes[d]; ok {
			delete(p.sizes, d)
			t.deleteKeys([]member{{key: dk + d}}, func(member, error) {})
		}
	}
	k := m.rel
	if m.dir {
		k += "/"
	}
	size, ok := p.sizes[k]
	return ok && size == m.size
}

// resumeTarget prepares dst, which may exist, to receive a copy of a
// collection: a file there is deleted, a missing collection made.
func (f *Fs) resumeTarget(op, dst string) error {
	fi, err := f.Stat(dst)
	switch {
	case err == nil && fi.IsDir():
		return nil
	case err == nil:
		ctx, cancel := f.call()
		defer cancel()
		if err := pathErr(op, dst, f.b.Delete(ctx, f.key(dst))); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	case !errors.Is(err, os.ErrNotExist):
		return err
	}
	return f.Mkdir(dst, 0o755)
}

// resumeFile copies file src (described by fi) to dst unless an object
// of the same size is there, and reports whether it copied. A collection
// at dst is an error.
func (t *tree) resumeFile(op, src, dst string, fi os.FileInfo) (bool, error) {
	dfi, err := t.f.Stat(dst)
	switch {
	case err == nil && dfi.IsDir():
		return false, &os.PathError{Op: op, Path: dst, Err: os.ErrExist}
	case err == nil && dfi.Size() == fi.Size():
		return false, nil
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return false, err
	}
	if err := t.copyObject(t.f.key(dst), t.f.key(src)); err != nil {
		return false, pathErr(op, src, err)
	}
	return true, nil
}

// ResumeCopyTree copies src to dst, members included, as CopyTree does,
// but dst may exist and hold part of the copy: the keys below dst are
// listed once, and an object there of the same size as its source is
// kept and reported as copied; the others are copied over what is there.
// A file where src has a collection is deleted; a collection where src
// has a lone file is an error. copied is told the size of each object
// actually copied.
func (f *Fs) ResumeCopyTree(ctx context.Context, src, dst string, visit Visit, copied func(n int64)) error {
	src, dst = path.Clean("/"+src), path.Clean("/"+dst)
	fi, err := f.Stat(src)
	if err != nil {
		return err
	}
	t := f.newTree(ctx, visit)
	if !fi.IsDir() {
		did, err := t.resumeFile("copy", src, dst, fi)
		if err != nil {
			return err
		}
		if did {
			copied(fi.Size())
		}
		t.report("", false, fi.Size(), nil)
		return nil
	}
	sk, dk := f.dirKey(src), f.dirKey(dst)
	if strings.HasPrefix(dk, sk) || strings.HasPrefix(sk, dk) {
		return &os.PathError{Op: "copy", Path: dst, Err: os.ErrInvalid}
	}
	if err := f.resumeTarget("copy", dst); err != nil {
		return err
	}
	have, err := t.resumable(dk)
	if err != nil {
		return err
	}
	t.report("", true, 0, nil)
	t.copyMembers(sk, dk, have, copied)
	return nil
}

// ResumeMoveTree moves src to dst as MoveTree does, but dst may exist
// and hold part of the result: the keys below dst are listed once, and
// an object there of the same size as its source is not copied again;
// its source is deleted all the same. Every other source object is
// copied over what is at dst and deleted once its copy is confirmed. A
// file where src has a collection is deleted; a collection where src has
// a lone file is an error.
func (f *Fs) ResumeMoveTree(ctx context.Context, src, dst string, visit Visit) error {
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
		if _, err := t.resumeFile("rename", src, dst, fi); err != nil {
			return err
		}
		var derr error
		t.deleteKeys([]member{{key: f.key(src)}}, func(_ member, err error) { derr = err })
		t.report("", false, fi.Size(), derr)
		return nil
	}
	sk, dk := f.dirKey(src), f.dirKey(dst)
	if strings.HasPrefix(dk, sk) || strings.HasPrefix(sk, dk) {
		return &os.PathError{Op: "rename", Path: dst, Err: os.ErrInvalid}
	}
	if err := f.resumeTarget("rename", dst); err != nil {
		return err
	}
	have, err := t.resumable(dk)
	if err != nil {
		return err
	}
	t.moveMembers(sk, dk, have)
	return nil
}
