package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sync"
	"syscall"

	"github.com/spf13/afero"
)

// ErrIsCollection is returned when file content is written to a collection.
var ErrIsCollection = errors.New("resource is a collection")

// ErrNoParent is returned when a resource's parent collection is missing or
// is not a collection.
var ErrNoParent = errors.New("parent collection does not exist")

// ErrIncompleteBody is returned when the content could not be read to its
// end (the client went away, or sent less than it announced). Nothing was
// changed.
var ErrIncompleteBody = errors.New("content ended before it was complete")

// ErrSizeMismatch is returned when the content's length differs from the
// length announced for it. Nothing was changed.
var ErrSizeMismatch = errors.New("content length differs from the announced length")

// WriteResult tells what an atomic write did.
type WriteResult struct {
	// Created is true when the resource did not exist before.
	Created bool
	// Size is the number of bytes stored.
	Size int64
	// Info describes the resource as stored.
	Info os.FileInfo
}

// WriteAtomic replaces the content of the file name with everything read
// from body. The bytes go to a file no client can see (an unnamed
// O_TMPFILE file on directory storage on Linux, else a hidden temporary
// file beside the target), which is synced and given the target's name
// only once body has been read to its end. Until then, and whenever
// anything fails, the old content stays untouched and the new file is
// discarded, so readers see either the old resource or the new one, never
// a part of it; a server killed half way leaves no file behind (or, for
// a temporary name, one SweepReserved removes).
//
// expect, when not negative, is the length the client announced: content
// of another length is refused.
func (f *FileSystem) WriteAtomic(ctx context.Context, name string, body io.Reader, perm os.FileMode, expect int64) (WriteResult, error) {
	name, err := clean("write", name)
	if err != nil {
		return WriteResult{}, err
	}
	if name == "/" {
		return WriteResult{}, &os.PathError{Op: "write", Path: name, Err: ErrIsCollection}
	}
	var res WriteResult
	switch fi, err := f.fs.Stat(name); {
	case err == nil && fi.IsDir():
		return res, &os.PathError{Op: "write", Path: name, Err: ErrIsCollection}
	case err == nil:
		perm = fi.Mode().Perm() // a replaced file keeps its permissions
	case errors.Is(err, os.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		res.Created = true
	default:
		return res, err
	}
	dir := path.Dir(name)
	if pfi, err := f.fs.Stat(dir); err != nil || !pfi.IsDir() {
		return res, &os.PathError{Op: "write", Path: name, Err: ErrNoParent}
	}

	up, err := f.createUpload(name, perm, !res.Created)
	if err != nil {
		return res, err
	}
	file := up.File
	committed := false
	defer func() {
		if !committed {
			file.Close()
			up.abandon()
		}
	}()
	src := &bodyReader{r: body}
	res.Size, err = copyBody(file, src)
	if src.err != nil {
		return res, fmt.Errorf("write %s: %w: %w", name, ErrIncompleteBody, src.err)
	}
	if err != nil {
		return res, fmt.Errorf("write %s: %w", name, err)
	}
	if expect >= 0 && res.Size != expect {
		return res, fmt.Errorf("write %s: got %d bytes, announced %d: %w", name, res.Size, expect, ErrSizeMismatch)
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("write %s: %w", name, err)
	}
	// Sync before naming it: after a crash the name must not point at a
	// file whose blocks never reached the disk.
	if err := file.Sync(); err != nil {
		return res, fmt.Errorf("write %s: sync: %w", name, err)
	}
	// Named while still open: an unnamed file is named through its
	// descriptor.
	if err := up.commit(); err != nil {
		return res, fmt.Errorf("write %s: %w", name, err)
	}
	committed = true
	if err := file.Close(); err != nil {
		return res, fmt.Errorf("write %s: close: %w", name, err)
	}
	res.Info, err = f.fs.Stat(name)
	return res, err
}

// bodyReader remembers a read failure, so that it is not mistaken for a
// failure of the storage being written.
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

func randomSuffix() string {
	var b [12]byte
	rand.Read(b[:]) // never fails (crypto/rand documents it)
	return hex.EncodeToString(b[:])
}

// uploadBuffer is the size of the reads of an upload: large enough that a
// big PUT costs few system calls.
const uploadBuffer = 1 << 20

// writebackEvery is how much of an upload is written before the kernel is
// asked to start writing it back. The Sync before the rename then finds
// little left to do: the disk works while the body still arrives.
const writebackEvery = 16 << 20

// syncFileRangeWrite is SYNC_FILE_RANGE_WRITE: start writeback, do not wait.
const syncFileRangeWrite = 2

var uploadBuffers = sync.Pool{New: func() any { b := make([]byte, uploadBuffer); return &b }}

// copyBody copies an upload into file. For an *os.File it reads in large
// pooled buffers and starts writeback as it goes; other backends get
// io.Copy.
func copyBody(file afero.File, src io.Reader) (int64, error) {
	osf, ok := file.(*os.File)
	if !ok {
		return io.Copy(file, src)
	}
	bp := uploadBuffers.Get().(*[]byte)
	defer uploadBuffers.Put(bp)
	buf := *bp
	fd := int(osf.Fd())
	var n, flushed int64
	for {
		r, rerr := src.Read(buf)
		if r > 0 {
			w, werr := osf.Write(buf[:r])
			n += int64(w)
			if werr != nil {
				return n, werr
			}
			if n-flushed >= writebackEvery {
				// Advisory: an error only means the Sync does all the work.
				_ = syscall.SyncFileRange(fd, flushed, n-flushed, syncFileRangeWrite)
				flushed = n
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}
