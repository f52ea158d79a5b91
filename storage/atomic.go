package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
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
// from body: StageWrite, then Commit.
//
// expect, when not negative, is the length the client announced: content
// of another length is refused.
func (f *FileSystem) WriteAtomic(ctx context.Context, name string, body io.Reader, perm os.FileMode, expect int64) (WriteResult, error) {
	s, err := f.StageWrite(ctx, name, body, perm, expect)
	if err != nil {
		return WriteResult{}, err
	}
	defer s.Abort()
	return s.Commit(ctx)
}

// StagedWrite is new content that has arrived completely and reached the
// disk in a file no client can see (an unnamed O_TMPFILE file on directory
// storage on Linux, else a hidden temporary name beside the target; see
// createUpload), waiting to replace its target. A
// caller that must check something at the last moment (the WebDAV locks
// of a PUT, re-checked once the upload has arrived) does so between
// StageWrite and Commit. Exactly one of Commit and Abort takes effect;
// Abort after Commit does nothing, so it can be deferred.
type StagedWrite struct {
	f    *FileSystem
	name string
	up   upload // open until committed or abandoned
	done bool
	size int64
}

// StageWrite reads body to its end into a file no client can see and
// syncs it. Until Commit, and whenever anything fails, the old
// content stays untouched and readers see the old resource; a failed
// stage leaves nothing behind.
func (f *FileSystem) StageWrite(ctx context.Context, name string, body io.Reader, perm os.FileMode, expect int64) (*StagedWrite, error) {
	name, err := clean("write", name)
	if err != nil {
		return nil, err
	}
	if name == "/" {
		return nil, &os.PathError{Op: "write", Path: name, Err: ErrIsCollection}
	}
	fi, created, err := f.target(name)
	if err != nil {
		return nil, err
	} else if fi != nil {
		perm = fi.Mode().Perm() // a replaced file keeps its permissions
	}
	up, err := f.createUpload(name, perm, !created)
	if err != nil {
		return nil, err
	}
	file := up.File
	staged := false
	defer func() {
		if !staged {
			file.Close()
			up.abandon()
		}
	}()
	src := &bodyReader{r: body}
	size, err := copyBody(file, src)
	if src.err != nil {
		return nil, fmt.Errorf("write %s: %w: %w", name, ErrIncompleteBody, src.err)
	}
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", name, err)
	}
	if expect >= 0 && size != expect {
		return nil, fmt.Errorf("write %s: got %d bytes, announced %d: %w", name, size, expect, ErrSizeMismatch)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("write %s: %w", name, err)
	}
	// Sync before rename: after a crash the name must not point at a file
	// whose blocks never reached the disk.
	if err := file.Sync(); err != nil {
		return nil, fmt.Errorf("write %s: sync: %w", name, err)
	}
	staged = true
	return &StagedWrite{f: f, name: name, up: up, size: size}, nil
}

// target describes what a write of name would replace: nil when nothing
// is there. It fails when name is a collection or its parent is missing.
func (f *FileSystem) target(name string) (os.FileInfo, bool, error) {
	fi, err := f.fs.Stat(name)
	switch {
	case err == nil && fi.IsDir():
		return nil, false, &os.PathError{Op: "write", Path: name, Err: ErrIsCollection}
	case err == nil:
	case errors.Is(err, os.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		fi = nil
	default:
		return nil, false, err
	}
	if err := f.checkParent("write", name); err != nil {
		return nil, false, err
	}
	return fi, fi == nil, nil
}

// Commit puts the staged content in place of its target in one rename.
// The target is looked at again first: it may have become a collection, or
// lost its parent, while the content arrived.
func (s *StagedWrite) Commit(ctx context.Context) (WriteResult, error) {
	if s.done {
		return WriteResult{}, fmt.Errorf("write %s: %w", s.name, os.ErrClosed)
	}
	var res WriteResult
	var err error
	if _, res.Created, err = s.f.target(s.name); err != nil {
		s.Abort()
		return res, err
	}
	// Named while still open: an unnamed file is named through its
	// descriptor.
	if err := s.up.commit(); err != nil {
		s.Abort()
		return res, fmt.Errorf("write %s: %w", s.name, err)
	}
	s.done = true
	if err := s.up.File.Close(); err != nil {
		return res, fmt.Errorf("write %s: close: %w", s.name, err)
	}
	res.Size = s.size
	res.Info, err = s.f.fs.Stat(s.name)
	return res, err
}

// Abort removes the staged content, unless it was committed.
func (s *StagedWrite) Abort() {
	if !s.done {
		s.done = true
		s.up.File.Close()
		s.up.abandon()
	}
}

// CreateExclusive creates name as an empty file only if nothing exists
// there; created is false, with no error, when something does. It never
// truncates or replaces a resource (a LOCK of an unmapped URL racing a PUT
// must not wipe what the PUT stored). A dangling symbolic link is not a
// resource (clients get 404 for it): it is replaced by the new file, as a
// link, its target untouched.
func (f *FileSystem) CreateExclusive(ctx context.Context, name string, perm os.FileMode) (created bool, err error) {
	name, err = clean("create", name)
	if err != nil {
		return false, err
	}
	switch fi, _, err := f.target(name); {
	case errors.Is(err, ErrIsCollection):
		return false, nil
	case err != nil:
		return false, err
	case fi != nil:
		return false, nil
	}
	file, err := f.fs.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if errors.Is(err, os.ErrExist) {
		if _, serr := f.fs.Stat(name); !errors.Is(serr, os.ErrNotExist) {
			return false, nil // created meanwhile
		}
		// A dangling link: the rename of an empty upload replaces it.
		_, err := f.WriteAtomic(ctx, name, strings.NewReader(""), perm, 0)
		return err == nil, err
	}
	if err != nil {
		return false, err
	}
	if err := file.Sync(); err != nil {
		file.Close()
		return true, err
	}
	return true, file.Close()
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
				startWriteback(fd, flushed, n-flushed)
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
