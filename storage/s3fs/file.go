package s3fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"syscall"
	"time"

	"gocloud.dev/blob"
)

// errNotWritable is returned by writes to a file opened for reading and
// by reads of one opened for writing.
var errNotWritable = errors.New("bad file mode")

// readAhead bounds the span of the first ranged read after a seek; each
// further read of the same stream doubles it, up to maxReadAhead. A small
// range costs a small request, a whole file few requests, and what is
// fetched beyond what is read stays below what was read (a 256 MiB GET
// with a 16 MiB cap took 20 requests and 0.8× rclone cat's throughput).
const (
	readAhead    = 256 << 10
	maxReadAhead = 256 << 20
)

// readFile reads an object with ranged GETs: never more than the next
// span from the current offset, so that serving a byte range never
// downloads the whole object.
type readFile struct {
	f    *Fs
	name string
	fi   os.FileInfo

	off  int64
	r    *blob.Reader // open at rOff, up to rEnd, or nil
	rOff int64
	rEnd int64
	span int64
}

func (r *readFile) Name() string               { return r.name }
func (r *readFile) Stat() (os.FileInfo, error) { return r.fi, nil }
func (r *readFile) Sync() error                { return nil }
func (r *readFile) Close() error               { r.drop(); return nil }

func (r *readFile) drop() {
	if r.r != nil {
		r.r.Close()
		r.r = nil
	}
}

// Read reads from the current offset, opening a ranged read when the
// offset is not where the open one stands.
func (r *readFile) Read(p []byte) (int, error) {
	size := r.fi.Size()
	if r.off >= size {
		return 0, io.EOF
	}
	if r.r == nil || r.rOff != r.off || r.rOff >= r.rEnd {
		r.drop()
		if r.span < readAhead {
			r.span = readAhead
		} else if r.span < maxReadAhead {
			r.span *= 2
		}
		n := min(max(r.span, int64(len(p))), size-r.off)
		if r.f.cfg.Latency > 0 {
			time.Sleep(r.f.cfg.Latency)
		}
		rd, err := r.f.b.NewRangeReader(context.Background(), r.f.key(r.name), r.off, n, nil)
		if err != nil {
			return 0, pathErr("read", r.name, err)
		}
		r.r, r.rOff, r.rEnd = rd, r.off, r.off+n
	}
	p = p[:min(int64(len(p)), r.rEnd-r.rOff)]
	n, err := r.r.Read(p)
	r.off += int64(n)
	r.rOff += int64(n)
	if err == io.EOF {
		r.drop()
		if r.off < r.rEnd {
			return n, pathErr("read", r.name, io.ErrUnexpectedEOF)
		}
		err = nil
	}
	if err != nil {
		r.drop()
		return n, pathErr("read", r.name, err)
	}
	return n, nil
}

// ReadAt reads len(p) bytes at off with one ranged read.
func (r *readFile) ReadAt(p []byte, off int64) (int, error) {
	size := r.fi.Size()
	if off >= size {
		return 0, io.EOF
	}
	n := min(int64(len(p)), size-off)
	rd, err := r.f.b.NewRangeReader(context.Background(), r.f.key(r.name), off, n, nil)
	if err != nil {
		return 0, pathErr("read", r.name, err)
	}
	defer rd.Close()
	got, err := io.ReadFull(rd, p[:n])
	if err != nil {
		return got, pathErr("read", r.name, err)
	}
	if n < int64(len(p)) {
		return got, io.EOF
	}
	return got, nil
}

// Seek moves the offset; the next Read opens a range there.
func (r *readFile) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.fi.Size()
	default:
		return r.off, &os.PathError{Op: "seek", Path: r.name, Err: os.ErrInvalid}
	}
	if offset < 0 {
		return r.off, &os.PathError{Op: "seek", Path: r.name, Err: os.ErrInvalid}
	}
	if offset != r.off {
		r.span = 0
	}
	r.off = offset
	return offset, nil
}

func (r *readFile) Write([]byte) (int, error) {
	return 0, &os.PathError{Op: "write", Path: r.name, Err: errNotWritable}
}
func (r *readFile) WriteAt([]byte, int64) (int, error) { return r.Write(nil) }
func (r *readFile) WriteString(string) (int, error)    { return r.Write(nil) }
func (r *readFile) Truncate(int64) error               { _, err := r.Write(nil); return err }
func (r *readFile) Readdir(int) ([]os.FileInfo, error) {
	return nil, &os.PathError{Op: "readdir", Path: r.name, Err: syscall.ENOTDIR}
}
func (r *readFile) Readdirnames(int) ([]string, error) {
	return nil, &os.PathError{Op: "readdir", Path: r.name, Err: syscall.ENOTDIR}
}

// writeFile streams a new version of an object through the blob writer
// (a multipart upload for large content). It replaces the old version
// only when committed; an uncommitted writer is aborted, leaving no
// object and no visible part.
type writeFile struct {
	f      *Fs
	name   string
	w      *blob.Writer
	cancel context.CancelFunc
	size   int64
	err    error
	done   bool
	// commitOnClose makes Close commit (plain afero use); a staged write
	// commits only through Commit.
	commitOnClose bool
}

func (w *writeFile) Name() string { return w.name }
func (w *writeFile) Stat() (os.FileInfo, error) {
	return &info{name: w.name, size: w.size}, nil
}

// Sync does nothing: the content is durable once committed.
func (w *writeFile) Sync() error { return nil }

func (w *writeFile) Write(p []byte) (int, error) {
	if w.done {
		return 0, &os.PathError{Op: "write", Path: w.name, Err: os.ErrClosed}
	}
	n, err := w.w.Write(p)
	w.size += int64(n)
	if err != nil {
		w.err = err
		return n, pathErr("write", w.name, err)
	}
	return n, nil
}

func (w *writeFile) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

// Commit completes the upload: the new content replaces the old in one
// step. It fails, and nothing changes, if any write failed.
func (w *writeFile) Commit() error {
	if w.done {
		return &os.PathError{Op: "commit", Path: w.name, Err: os.ErrClosed}
	}
	w.done = true
	defer w.cancel()
	if w.err != nil {
		w.cancel()
		w.w.Close()
		return pathErr("write", w.name, w.err)
	}
	err := w.w.Close()
	if w.size >= uploadPart {
		// The transfer manager allocates its part buffers afresh for
		// each multipart upload; hand them back now rather than let the
		// next upload's grow the heap on top of them (a second 256 MiB
		// PUT peaked 14 MiB above the first). One collection per
		// multipart upload: about a millisecond against seconds.
		debug.FreeOSMemory()
	}
	return pathErr("write", w.name, err)
}

// Close commits a plain write; it aborts an uncommitted staged one.
func (w *writeFile) Close() error {
	if w.done {
		return nil
	}
	if w.commitOnClose {
		return w.Commit()
	}
	w.done = true
	w.cancel() // before Close: the upload is abandoned, not completed
	w.w.Close()
	return nil
}

func (w *writeFile) Read([]byte) (int, error) {
	return 0, &os.PathError{Op: "read", Path: w.name, Err: errNotWritable}
}
func (w *writeFile) ReadAt([]byte, int64) (int, error) { return w.Read(nil) }
func (w *writeFile) Seek(int64, int) (int64, error) {
	return 0, &os.PathError{Op: "seek", Path: w.name, Err: errors.ErrUnsupported}
}
func (w *writeFile) WriteAt([]byte, int64) (int, error) {
	return 0, &os.PathError{Op: "write", Path: w.name, Err: errors.ErrUnsupported}
}
func (w *writeFile) Truncate(int64) error {
	return &os.PathError{Op: "truncate", Path: w.name, Err: errors.ErrUnsupported}
}
func (w *writeFile) Readdir(int) ([]os.FileInfo, error) {
	return nil, &os.PathError{Op: "readdir", Path: w.name, Err: syscall.ENOTDIR}
}
func (w *writeFile) Readdirnames(int) ([]string, error) {
	return nil, &os.PathError{Op: "readdir", Path: w.name, Err: syscall.ENOTDIR}
}

// dirFile lists a collection a page at a time, with delimiter "/".
type dirFile struct {
	f     *Fs
	name  string
	fi    os.FileInfo
	token []byte
	ended bool
	buf   []os.FileInfo
}

// listPage is the page size of listings: S3's maximum.
const listPage = 1000

func (d *dirFile) Name() string               { return d.name }
func (d *dirFile) Stat() (os.FileInfo, error) { return d.fi, nil }
func (d *dirFile) Sync() error                { return nil }
func (d *dirFile) Close() error               { return nil }

// fill reads the next page into buf.
func (d *dirFile) fill() error {
	if d.token == nil {
		d.token = blob.FirstPageToken
	}
	ctx, cancel := d.f.call()
	defer cancel()
	dk := d.f.dirKey(d.name)
	objs, next, err := d.f.b.ListPage(ctx, d.token, listPage, &blob.ListOptions{Prefix: dk, Delimiter: "/"})
	if err != nil {
		return pathErr("readdir", d.name, err)
	}
	for _, o := range objs {
		if fi, ok := listInfo(o, dk); ok {
			d.buf = append(d.buf, fi)
		}
	}
	d.token, d.ended = next, len(next) == 0
	return nil
}

// Readdir returns up to count entries (all when count <= 0).
func (d *dirFile) Readdir(count int) ([]os.FileInfo, error) {
	for !d.ended && (count <= 0 || len(d.buf) < count) {
		if err := d.fill(); err != nil {
			return nil, err
		}
	}
	if count <= 0 {
		out := d.buf
		d.buf = nil
		return out, nil
	}
	if len(d.buf) == 0 {
		return nil, io.EOF
	}
	n := min(count, len(d.buf))
	out := d.buf[:n:n]
	d.buf = d.buf[n:]
	return out, nil
}

// Readdirnames returns up to n names.
func (d *dirFile) Readdirnames(n int) ([]string, error) {
	infos, err := d.Readdir(n)
	names := make([]string, len(infos))
	for i, fi := range infos {
		names[i] = fi.Name()
	}
	return names, err
}

func (d *dirFile) Read([]byte) (int, error) {
	return 0, &os.PathError{Op: "read", Path: d.name, Err: syscall.EISDIR}
}
func (d *dirFile) ReadAt([]byte, int64) (int, error) { return d.Read(nil) }
func (d *dirFile) Seek(int64, int) (int64, error)    { return 0, nil }
func (d *dirFile) Write([]byte) (int, error) {
	return 0, &os.PathError{Op: "write", Path: d.name, Err: syscall.EISDIR}
}
func (d *dirFile) WriteAt([]byte, int64) (int, error) { return d.Write(nil) }
func (d *dirFile) WriteString(string) (int, error)    { return d.Write(nil) }
func (d *dirFile) Truncate(int64) error {
	return fmt.Errorf("truncate %s: %w", d.name, syscall.EISDIR)
}
