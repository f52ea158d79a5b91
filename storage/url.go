package storage

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/afero"
)

// Backend is an opened storage: the afero.Fs every request goes through,
// and, for directory storage, where it lives on disk.
type Backend struct {
	// Fs is the storage itself.
	Fs afero.Fs
	// Dir is the absolute directory of file:// storage; empty for memory.
	Dir string
	// Description says what was opened, for the startup log.
	Description string

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

// Open opens the storage named by raw:
//
//	file:///abs/dir   a directory, created if missing (unless readOnly),
//	                  confined with os.Root
//	/abs/dir, ./rel   the same, as a plain path
//	mem://            an empty in-memory tree
//
// The query may carry latency=DURATION (e.g. ?latency=5ms), which delays
// every storage call; it exists to make slow operations reproducible.
// readOnly refuses every change at the storage level.
func Open(raw string, readOnly bool) (*Backend, error) {
	if raw == "" {
		return nil, errors.New("storage: empty storage URL")
	}
	dir, query, scheme, err := splitStorageURL(raw)
	if err != nil {
		return nil, err
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
		if readOnly {
			// A read-only server creates nothing, not even its storage.
			fi, err := os.Stat(abs)
			switch {
			case errors.Is(err, os.ErrNotExist):
				return nil, fmt.Errorf("storage: %s does not exist, and a read-only server creates nothing", abs)
			case err != nil:
				return nil, fmt.Errorf("storage: %w", err)
			case !fi.IsDir():
				return nil, fmt.Errorf("storage: %s is not a directory", abs)
			}
		} else if err := os.MkdirAll(abs, 0o755); err != nil {
			return nil, fmt.Errorf("storage: create %s: %w", abs, err)
		}
		rfs, err := NewRootFs(abs)
		if err != nil {
			return nil, fmt.Errorf("storage: %w", err)
		}
		b.Fs, b.Dir, b.closer, b.Description = rfs, abs, rfs, "directory "+abs
	case "mem":
		b.Fs, b.Description = NewMemFs(), "in-memory tree"
	default:
		return nil, fmt.Errorf("storage: unknown scheme %q in %q (use file:///dir, a directory path, or mem://)", scheme, raw)
	}
	b.wrap(latency, readOnly)
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

// splitStorageURL accepts a URL or a bare path; a bare path means file://.
func splitStorageURL(raw string) (dir string, query url.Values, scheme string, err error) {
	if !strings.Contains(raw, "://") {
		p, q, _ := strings.Cut(raw, "?")
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
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return "", nil, "", fmt.Errorf("storage: file URL %q names host %q; use file:///absolute/dir", raw, u.Host)
		}
		if u.Path == "" {
			return "", nil, "", fmt.Errorf("storage: file URL %q has no directory", raw)
		}
		return u.Path, query, "file", nil
	case "mem":
		if u.Host != "" || (u.Path != "" && u.Path != "/") {
			return "", nil, "", fmt.Errorf("storage: mem URL %q takes no host or path: use mem://", raw)
		}
		return "", query, "mem", nil
	}
	return "", nil, u.Scheme, nil
}
