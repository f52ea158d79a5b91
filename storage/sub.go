package storage

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"davd/storage/s3fs"
)

// CleanSubDir checks a sub-directory name given in configuration ("alice",
// "/home/alice", "teams/a/") and returns it in the form Sub wants:
// slash-separated, relative, cleaned. It refuses names that climb ("..")
// or pass through a reserved name.
func CleanSubDir(dir string) (string, error) {
	if strings.ContainsAny(dir, "\\\x00") {
		return "", fmt.Errorf("storage: sub-directory %q contains a backslash or NUL", dir)
	}
	for seg := range strings.SplitSeq(dir, "/") {
		if seg == ".." {
			return "", fmt.Errorf("storage: sub-directory %q climbs with ..", dir)
		}
	}
	clean := strings.TrimPrefix(path.Clean("/"+dir), "/")
	if IsReserved(clean) {
		return "", fmt.Errorf("storage: sub-directory %q is reserved for the server", dir)
	}
	return clean, nil
}

// Sub opens the sub-directory dir of the backend (as cleaned by
// CleanSubDir; "" is the backend itself) as a backend of its own, creating
// it if missing. For directory storage the new root is opened through the
// parent's os.Root, so neither dir nor a symbolic link on the way can lead
// outside the parent, and nothing reached through the new backend can
// leave dir. Latency and read-only carry over. Closing the returned
// backend does not close b.
func (b *Backend) Sub(dir string) (*Backend, error) {
	clean, err := CleanSubDir(dir)
	if err != nil {
		return nil, err
	}
	if clean == "" {
		return &Backend{Fs: b.Fs, Dir: b.Dir, Description: b.Description, Remote: b.Remote, base: b.base, latency: b.latency, readOnly: b.readOnly}, nil
	}
	sub := &Backend{}
	switch base := b.base.(type) {
	case *RootFs:
		rfs, err := base.Sub(clean, !b.readOnly)
		if err != nil {
			return nil, fmt.Errorf("storage: sub-directory %s: %w", clean, err)
		}
		sub.Fs, sub.Dir, sub.closer = rfs, filepath.Join(b.Dir, filepath.FromSlash(clean)), rfs
		sub.Description = "directory " + sub.Dir
	case *MemFs:
		// Memory has no symbolic links, so a base path confines it.
		if err := base.MkdirAll("/"+clean, 0o755); err != nil {
			return nil, fmt.Errorf("storage: sub-directory %s: %w", clean, err)
		}
		sub.Fs, sub.Description = base.sub("/"+clean), "in-memory tree /"+clean
	case *s3fs.Fs:
		// A longer key prefix confines it: keys have no links.
		if !b.readOnly {
			if err := base.MkdirAll("/"+clean, 0o755); err != nil {
				return nil, fmt.Errorf("storage: sub-directory %s: %w", clean, err)
			}
		}
		s3 := base.Sub(clean)
		sub.Fs, sub.Description, sub.Remote = s3, s3.Description(), b.Remote+"/"+clean
	default:
		return nil, fmt.Errorf("storage: %s has no sub-directories", b.Description)
	}
	sub.wrap(b.latency, b.readOnly)
	return sub, nil
}

// Sub opens the directory name inside r as a RootFs of its own, creating
// it first when create is true. os.Root resolves name, symbolic links
// included, without leaving r.
func (r *RootFs) Sub(name string, create bool) (*RootFs, error) {
	if create {
		if err := r.root.MkdirAll(rel(name), 0o755); err != nil {
			return nil, mapErr(err)
		}
	}
	root, err := r.root.OpenRoot(rel(name))
	if err != nil {
		return nil, mapErr(err)
	}
	fi, err := root.Stat(".")
	if err == nil && !fi.IsDir() {
		err = errors.New("not a directory")
	}
	if err != nil {
		root.Close()
		return nil, err
	}
	return &RootFs{root: root}, nil
}
