package s3fs

import (
	"context"
	"errors"
	"hash/fnv"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/spf13/afero"
	"gocloud.dev/blob"
)

// Fs is a bucket (or a prefix of one) as an afero.Fs. Names are
// slash-separated paths from the top of the tree ("/a/b"); the object of
// file /a/b is PREFIX+"a/b", the marker of collection /a/b is
// PREFIX+"a/b/". It is safe for concurrent use.
type Fs struct {
	cfg    Config
	b      *blob.Bucket
	client *s3.Client
	sub    bool // made by Sub: the bucket belongs to the parent
}

var _ afero.Fs = (*Fs)(nil)

// opTimeout bounds one metadata request (HEAD, list page, copy, delete).
const opTimeout = 2 * time.Minute

// Name identifies the backend.
func (f *Fs) Name() string { return "s3fs" }

// Close releases the bucket.
func (f *Fs) Close() error {
	if f.sub {
		return nil
	}
	return f.b.Close()
}

// Description says what f serves, without credentials.
func (f *Fs) Description() string { return f.cfg.Describe() }

// call returns the context of one request, after the configured latency.
func (f *Fs) call() (context.Context, context.CancelFunc) {
	if f.cfg.Latency > 0 {
		time.Sleep(f.cfg.Latency)
	}
	return context.WithTimeout(context.Background(), opTimeout)
}

// key is the object key of file name; dirKey the marker key (and member
// prefix) of collection name, "" or ending in "/".
func (f *Fs) key(name string) string {
	return f.cfg.Prefix + strings.TrimPrefix(path.Clean("/"+name), "/")
}

func (f *Fs) dirKey(name string) string {
	k := f.key(name)
	if k == "" || strings.HasSuffix(k, "/") {
		return k
	}
	return k + "/"
}

// info describes a file or a collection.
type info struct {
	name string
	size int64
	mod  time.Time
	dir  bool
}

func (i *info) Name() string       { return i.name }
func (i *info) Size() int64        { return i.size }
func (i *info) ModTime() time.Time { return i.mod }
func (i *info) IsDir() bool        { return i.dir }
func (i *info) Sys() any           { return nil }
func (i *info) Mode() os.FileMode {
	if i.dir {
		return os.ModeDir | 0o755
	}
	return 0o644
}

// modTime is an object's modification time as davd shows it: S3 keeps
// whole seconds, so the nanoseconds carry a hash of the object's ETag. Two
// versions stored within one second then still differ in the entity tag
// davd derives from the time, and Last-Modified (whole seconds) is the
// object's.
func modTime(t time.Time, etag string) time.Time {
	if etag == "" {
		return t
	}
	h := fnv.New64a()
	h.Write([]byte(etag))
	return t.Truncate(time.Second).Add(time.Duration(h.Sum64() % uint64(time.Second)))
}

// Stat describes name: a file when its object exists, else a collection
// when some key starts with its marker prefix.
func (f *Fs) Stat(name string) (os.FileInfo, error) {
	name = path.Clean("/" + name)
	base := path.Base(name)
	ctx, cancel := f.call()
	defer cancel()
	if name == "/" {
		// Always there, but asked all the same: a health probe (Stat of
		// the root) must find out when the store is down.
		if _, _, err := f.b.ListPage(ctx, blob.FirstPageToken, 1, &blob.ListOptions{Prefix: f.cfg.Prefix}); err != nil {
			return nil, pathErr("stat", name, err)
		}
		return &info{name: "/", dir: true}, nil
	}
	a, err := f.b.Attributes(ctx, f.key(name))
	if err == nil {
		return &info{name: base, size: a.Size, mod: modTime(a.ModTime, a.ETag)}, nil
	}
	if err := pathErr("stat", name, err); !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	objs, _, err := f.b.ListPage(ctx, blob.FirstPageToken, 1, &blob.ListOptions{Prefix: f.dirKey(name)})
	if err != nil {
		return nil, pathErr("stat", name, err)
	}
	if len(objs) == 0 {
		return nil, &os.PathError{Op: "stat", Path: name, Err: os.ErrNotExist}
	}
	return &info{name: base, dir: true, mod: objs[0].ModTime}, nil
}

// Mkdir writes the marker of collection name, which must not exist as a
// file or a collection. The parent is not checked (storage.FileSystem
// does).
func (f *Fs) Mkdir(name string, perm os.FileMode) error {
	name = path.Clean("/" + name)
	if name == "/" {
		return &os.PathError{Op: "mkdir", Path: name, Err: os.ErrExist}
	}
	if _, err := f.Stat(name); err == nil {
		return &os.PathError{Op: "mkdir", Path: name, Err: os.ErrExist}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	ctx, cancel := f.call()
	defer cancel()
	return pathErr("mkdir", name, f.b.WriteAll(ctx, f.dirKey(name), nil, &blob.WriterOptions{ContentType: "application/x-directory"}))
}

// MkdirAll makes name and its missing ancestors.
func (f *Fs) MkdirAll(name string, perm os.FileMode) error {
	name = path.Clean("/" + name)
	if name == "/" {
		return nil
	}
	fi, err := f.Stat(name)
	switch {
	case err == nil && fi.IsDir():
		return nil
	case err == nil:
		return &os.PathError{Op: "mkdir", Path: name, Err: syscall.ENOTDIR}
	case !errors.Is(err, os.ErrNotExist):
		return err
	}
	if err := f.MkdirAll(path.Dir(name), perm); err != nil {
		return err
	}
	return f.Mkdir(name, perm)
}

// Create creates or truncates a file, committed when closed.
func (f *Fs) Create(name string) (afero.File, error) {
	return f.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
}

// Open opens a file or a collection for reading.
func (f *Fs) Open(name string) (afero.File, error) { return f.OpenFile(name, os.O_RDONLY, 0) }

// OpenFile opens name for reading, or, with O_CREATE, a new version of
// it for writing, which replaces the old one when the file is closed (an
// object is written whole). Writing into the middle of an object, or
// appending, is not possible.
func (f *Fs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	name = path.Clean("/" + name)
	if flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		fi, err := f.Stat(name)
		if err != nil {
			return nil, err
		}
		if fi.IsDir() {
			return &dirFile{f: f, name: name, fi: fi}, nil
		}
		return &readFile{f: f, name: name, fi: fi}, nil
	}
	if flag&os.O_APPEND != 0 || flag&os.O_CREATE == 0 {
		return nil, &os.PathError{Op: "open", Path: name, Err: errors.ErrUnsupported}
	}
	w, err := f.create(name, flag&os.O_EXCL != 0)
	if err != nil {
		return nil, err
	}
	w.commitOnClose = true
	return w, nil
}

// CreateStaged opens a new version of file name whose content takes
// effect only when its Commit method is called; Close without Commit
// aborts the upload and leaves the old object as it was.
func (f *Fs) CreateStaged(name string, perm os.FileMode) (afero.File, error) {
	return f.create(path.Clean("/"+name), false)
}

func (f *Fs) create(name string, excl bool) (*writeFile, error) {
	if name == "/" {
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EISDIR}
	}
	fi, err := f.Stat(name)
	switch {
	case err == nil && fi.IsDir():
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EISDIR}
	case err == nil && excl:
		return nil, &os.PathError{Op: "open", Path: name, Err: os.ErrExist}
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return nil, err
	}
	if f.cfg.Latency > 0 {
		time.Sleep(f.cfg.Latency)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w, err := f.b.NewWriter(ctx, f.key(name), &blob.WriterOptions{
		// Bounded memory: one part in the making, one in flight.
		BufferSize:     uploadPart,
		MaxConcurrency: 2,
		// The type comes from the name when served; no sniffing.
		ContentType: "application/octet-stream",
		IfNotExist:  excl,
		BeforeWrite: f.boundUpload,
	})
	if err != nil {
		cancel()
		return nil, pathErr("open", name, err)
	}
	return &writeFile{f: f, name: name, w: w, cancel: cancel}, nil
}

// uploadPart is the size of the parts of a multipart upload: S3's
// minimum, which keeps the memory of an upload small.
const uploadPart = 5 << 20

// boundUpload replaces the transfer manager the blob writer made with one
// whose multipart threshold is one part. The transfer manager reads the
// start of a body with io.ReadAll up to that threshold before deciding
// between one PutObject and a multipart upload, and keeps what it read
// until the first parts are sent: with its default of 16 MiB that is a
// 16 MiB slice grown by doubling (about 32 MiB allocated) on top of its
// pool of Concurrency+1 parts, which put a 256 MiB PUT at 80 MiB of peak
// RSS. With the threshold at uploadPart, an upload holds at most about
// four parts (20 MiB) whatever its size, and bodies under one part still
// go in a single PutObject.
func (f *Fs) boundUpload(as func(any) bool) error {
	var tm *transfermanager.Client
	if !as(&tm) || tm == nil {
		return nil // another driver: nothing to bound
	}
	*tm = *transfermanager.New(f.client, func(o *transfermanager.Options) {
		o.PartSizeBytes = uploadPart
		o.MultipartUploadThreshold = uploadPart
		o.Concurrency = 2
		// An abandoned upload is aborted by cancelling its context: the
		// AbortMultipartUpload needs a fresh one, or the parts already
		// sent stay in the bucket (unseen, but stored and billed).
		o.FailTimeout = probeTimeout
		// As the bucket's own setting: no checksums third-party
		// stores reject (see Open).
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})
	return nil
}

// Remove removes a file, or an empty collection.
func (f *Fs) Remove(name string) error {
	name = path.Clean("/" + name)
	fi, err := f.Stat(name)
	if err != nil {
		return err
	}
	ctx, cancel := f.call()
	defer cancel()
	if !fi.IsDir() {
		return pathErr("remove", name, f.b.Delete(ctx, f.key(name)))
	}
	if name == "/" {
		return &os.PathError{Op: "remove", Path: name, Err: os.ErrPermission}
	}
	dk := f.dirKey(name)
	objs, _, err := f.b.ListPage(ctx, blob.FirstPageToken, 2, &blob.ListOptions{Prefix: dk})
	if err != nil {
		return pathErr("remove", name, err)
	}
	for _, o := range objs {
		if o.Key != dk {
			return &os.PathError{Op: "remove", Path: name, Err: syscall.ENOTEMPTY}
		}
	}
	err = f.b.Delete(ctx, dk)
	if err := pathErr("remove", name, err); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// RemoveAll removes name and everything below it; a missing name is no
// error.
func (f *Fs) RemoveAll(name string) error {
	name = path.Clean("/" + name)
	var first error
	err := f.RemoveTree(context.Background(), name, func(rel string, isDir bool, size int64, err error) {
		if err != nil && first == nil {
			first = err
		}
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return first
}

// Rename moves oldname to newname, replacing a file there: a server-side
// copy of each object, then its deletion. It is not atomic.
func (f *Fs) Rename(oldname, newname string) error {
	var first error
	err := f.MoveTree(context.Background(), oldname, newname, func(rel string, isDir bool, size int64, err error) {
		if err != nil && first == nil {
			first = err
		}
	})
	if err != nil {
		return err
	}
	return first
}

// Chmod does nothing: objects have no permissions.
func (f *Fs) Chmod(name string, mode os.FileMode) error { return nil }

// Chown does nothing: objects have no owners.
func (f *Fs) Chown(name string, uid, gid int) error { return nil }

// Chtimes is not possible: S3 sets an object's time when it is written.
func (f *Fs) Chtimes(name string, atime, mtime time.Time) error {
	return &os.PathError{Op: "chtimes", Path: name, Err: errors.ErrUnsupported}
}

// listInfo describes a listed object or common prefix below dirKey, and
// reports false for the collection's own marker and unusable names.
func listInfo(o *blob.ListObject, dirKey string) (os.FileInfo, bool) {
	rel := strings.TrimPrefix(o.Key, dirKey)
	if o.IsDir || strings.HasSuffix(rel, "/") {
		rel = strings.TrimSuffix(rel, "/")
		if rel == "" || strings.Contains(rel, "/") {
			return nil, false
		}
		return &info{name: rel, dir: true, mod: o.ModTime}, true
	}
	if rel == "" || rel == "." || rel == ".." {
		return nil, false
	}
	var obj types.Object
	etag := ""
	if o.As(&obj) && obj.ETag != nil {
		etag = *obj.ETag
	}
	return &info{name: rel, size: o.Size, mod: modTime(o.ModTime, etag)}, true
}

// Sub is the tree below dir (slash-separated, relative, cleaned) as an
// Fs of its own, sharing f's connection. Closing it closes nothing.
func (f *Fs) Sub(dir string) *Fs {
	cfg := f.cfg
	cfg.Prefix = f.dirKey(dir)
	return &Fs{cfg: cfg, b: f.b, client: f.client, sub: true}
}
