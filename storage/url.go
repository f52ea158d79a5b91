package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/afero"

	"davd/storage/s3fs"
)

// ErrUnavailable wraps the failures of a storage that lives on another
// server (an object store) which cannot be reached or cannot serve now:
// the request may succeed later. Clients get 503 for it.
var ErrUnavailable = s3fs.ErrUnavailable

// Backend is an opened storage: the afero.Fs every request goes through,
// and, for directory storage, where it lives on disk.
type Backend struct {
	// Fs is the storage itself.
	Fs afero.Fs
	// Dir is the absolute directory of file:// storage; empty for memory.
	Dir string
	// Description says what was opened, for the startup log.
	Description string
	// Remote names storage on another server (s3://BUCKET/PREFIX at its
	// endpoint), stably across runs and without credentials; empty for
	// local storage.
	Remote string

	closer io.Closer
	// base is Fs before the latency and read-only wrappers, which Sub
	// applies again to the sub-tree it opens.
	base     afero.Fs
	latency  time.Duration
	readOnly bool
	probing  atomic.Bool // a Probe waits on the storage
}

// FileSystem returns the WebDAV view of the backend.
func (b *Backend) FileSystem() *FileSystem {
	return &FileSystem{fs: b.Fs, quotaDir: b.Dir}
}

// Close releases what the backend holds open.
func (b *Backend) Close() error {
	if b.closer == nil {
		return nil
	}
	return b.closer.Close()
}

// Options say how Open treats the storage it opens.
type Options struct {
	// ReadOnly refuses every change at the storage level.
	ReadOnly bool
	// Create makes a missing directory, parents included. Without it a
	// missing directory is an error wrapping fs.ErrNotExist: a misspelt
	// path must not become a new, empty share.
	Create bool
}

// Open opens the storage named by raw:
//
//	file:///abs/dir   a directory, confined with os.Root
//	file:/abs/dir     the same (a URI with one slash)
//	/abs/dir, ./rel   the same, as a plain path
//	mem://, mem:      an empty in-memory tree
//	s3://BUCKET[/PREFIX]?endpoint=URL&region=R&use_path_style=true
//	                  a bucket of an S3-compatible store (see s3fs.ParseURL);
//	                  credentials come from AWS_* variables or the shared AWS
//	                  configuration, never from the URL. The bucket is
//	                  checked here: missing, unreachable or refusing the
//	                  credentials, it is an error.
//
// The query may carry latency=DURATION (e.g. ?latency=5ms), which delays
// every storage call; it exists to make slow operations reproducible.
//
// Spellings that are more likely a mistake than a directory are refused
// unless they name an existing directory: a path containing ":" (a
// misspelt URL such as file:relative or s3:bucket) and a path starting
// with "~" (a home directory no shell expanded).
func Open(raw string, o Options) (*Backend, error) {
	if raw == "" {
		return nil, errors.New("storage: empty storage URL")
	}
	dir, query, scheme, err := splitStorageURL(raw)
	if err != nil {
		return nil, err
	}
	if scheme == "s3" {
		return openS3(raw, o.ReadOnly)
	}
	var latency time.Duration
	for key, vals := range query {
		switch key {
		case "latency":
			latency, err = time.ParseDuration(vals[len(vals)-1])
			if err != nil || latency < 0 {
				return nil, fmt.Errorf("storage: latency=%q is not a non-negative duration such as 5ms", vals[len(vals)-1])
			}
		default:
			return nil, fmt.Errorf("storage: unknown option %q in %q (known: latency)", key, raw)
		}
	}

	b := &Backend{}
	switch scheme {
	case "file":
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, fmt.Errorf("storage: %w", err)
		}
		// A read-only server creates nothing, not even its storage.
		if err := checkDir(abs, o.Create && !o.ReadOnly); err != nil {
			return nil, err
		}
		rfs, err := NewRootFs(abs)
		if err != nil {
			return nil, fmt.Errorf("storage: %w", err)
		}
		b.Fs, b.Dir, b.closer, b.Description = rfs, abs, rfs, "directory "+abs
	case "mem":
		b.Fs, b.Description = NewMemFs(), "in-memory tree"
	default:
		return nil, fmt.Errorf("storage: unknown scheme %q in %q (use file:///dir, a directory path, mem:// or s3://bucket)", scheme, raw)
	}
	b.wrap(latency, o.ReadOnly)
	return b, nil
}

// checkDir makes sure abs is a directory, creating it when create is true.
func checkDir(abs string, create bool) error {
	fi, err := os.Stat(abs)
	switch {
	case err == nil && !fi.IsDir():
		return fmt.Errorf("storage: %s is not a directory", abs)
	case err == nil:
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("storage: directory %s: %w", abs, err)
	case !create:
		return missingDirError(abs)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return fmt.Errorf("storage: create %s: %w", abs, err)
	}
	return nil
}

// openS3 opens a bucket. Latency is applied by s3fs itself, per request,
// so that its tree operations stay visible to FileSystem (a LatencyFs
// wrapper would hide them).
func openS3(raw string, readOnly bool) (*Backend, error) {
	cfg, err := s3fs.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	fs, err := s3fs.Open(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	b := &Backend{Fs: fs, closer: fs, Description: fs.Description(), Remote: cfg.Remote()}
	if cfg.Latency > 0 {
		b.Description += fmt.Sprintf(", %s latency per request", cfg.Latency)
	}
	b.wrap(0, readOnly)
	return b, nil
}

// wrap sets Fs to base behind the latency and read-only wrappers.
func (b *Backend) wrap(latency time.Duration, readOnly bool) {
	b.base, b.latency, b.readOnly = b.Fs, latency, readOnly
	if latency > 0 {
		b.Fs = LatencyFs{Fs: b.Fs, Delay: latency}
		b.Description += fmt.Sprintf(", %s latency per call", latency)
	}
	if readOnly {
		b.Fs = afero.NewReadOnlyFs(b.Fs)
		b.Description += ", read-only"
	}
}

// schemeRE matches the scheme of a URL (RFC 3986, section 3.1).
var schemeRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*):`)

// splitStorageURL accepts a URL or a bare path; a bare path means file://.
func splitStorageURL(raw string) (dir string, query url.Values, scheme string, err error) {
	m := schemeRE.FindStringSubmatch(raw)
	known := m != nil && (strings.EqualFold(m[1], "file") || strings.EqualFold(m[1], "mem"))
	if !known && !strings.Contains(raw, "://") {
		p, q, _ := strings.Cut(raw, "?")
		if (strings.Contains(p, ":") || strings.HasPrefix(p, "~")) && !isDir(p) {
			return "", nil, "", badPath(raw, p)
		}
		query, err = url.ParseQuery(q)
		if err != nil {
			return "", nil, "", fmt.Errorf("storage: bad options in %q: %w", raw, err)
		}
		return p, query, "file", nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", nil, "", fmt.Errorf("storage: bad URL %q: %w", raw, err)
	}
	query, err = url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", nil, "", fmt.Errorf("storage: bad options in %q: %w", raw, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "file":
		if u.Opaque != "" {
			return "", nil, "", fmt.Errorf("storage: file URL %q is not absolute: use file:///absolute/dir, or the plain path %s", raw, u.Opaque)
		}
		if u.Host != "" && u.Host != "localhost" {
			return "", nil, "", fmt.Errorf("storage: file URL %q names host %q; use file:///absolute/dir", raw, u.Host)
		}
		if u.Path == "" {
			return "", nil, "", fmt.Errorf("storage: file URL %q has no directory", raw)
		}
		return u.Path, query, "file", nil
	case "s3":
		return "", nil, "s3", nil
	case "mem":
		if u.Host != "" || u.Opaque != "" || (u.Path != "" && u.Path != "/") {
			return "", nil, "", fmt.Errorf("storage: mem URL %q takes no host or path: use mem://", raw)
		}
		return "", query, "mem", nil
	}
	return "", nil, u.Scheme, nil
}

// missingDirError is a storage directory that does not exist and was not
// to be created; it matches fs.ErrNotExist.
type missingDirError string

func (e missingDirError) Error() string        { return "storage: directory " + string(e) + " does not exist" }
func (e missingDirError) Is(target error) bool { return target == fs.ErrNotExist }

// isDir reports whether p names an existing directory.
func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// badPath explains why the path p (of raw) is refused.
func badPath(raw, p string) error {
	if strings.HasPrefix(p, "~") {
		return fmt.Errorf("storage: %q starts with ~, which only a shell expands to a home directory (and not inside quotes, = or a config file): write the absolute path", raw)
	}
	return fmt.Errorf("storage: %q is neither a storage URL (file:///abs/dir, file:/abs/dir, mem://) nor an existing directory; a directory whose name holds \":\" must exist", raw)
}
