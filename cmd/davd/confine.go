package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"davd/storage"
)

// servedDir is a directory the server serves, and to whom.
type servedDir struct {
	who string // "--storage", or "root of user \"alice\""
	dir string
}

// checkSecrets refuses a configuration in which a served directory
// reaches one of the server's own: a root that is, or is inside, a state
// directory (a user root given as a symbolic link to STORAGE/.davd: its
// state.db could be downloaded and overwritten), or a state directory
// inside a served tree other than through a reserved .davd segment,
// which clients cannot name (--state inside the served tree). Paths are
// compared with symbolic links resolved: os.Root lets a link lead
// anywhere inside the storage, .davd included.
func checkSecrets(served []servedDir, secrets []string) error {
	for _, s := range served {
		if s.dir == "" { // memory
			continue
		}
		d := resolve(s.dir)
		for _, secret := range secrets {
			x := resolve(secret)
			if rel, ok := below(d, x); ok && !storage.IsReserved(filepath.ToSlash(rel)) {
				return fmt.Errorf("the state directory %s is inside %s %s (after symbolic links), where clients could download it: "+
					"keep the state in %s or outside every served tree", secret, s.who, s.dir, filepath.Join(s.dir, storage.ReservedName))
			}
			if rel, ok := below(x, d); ok {
				return fmt.Errorf("%s %s is the server's state directory %s or inside it (after symbolic links): "+
					"clients could read and change the state; choose another root", s.who, s.dir, secret+tail(rel))
			}
		}
	}
	return nil
}

// tail shows where inside a secret directory a root lies.
func tail(rel string) string {
	if rel == "." {
		return ""
	}
	return " (" + rel + ")"
}

// resolve is p with symbolic links resolved, or p cleaned when it cannot
// be resolved (it does not exist).
func resolve(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return filepath.Clean(p)
}

// below reports whether p is dir or inside it, with p relative to dir.
func below(dir, p string) (string, bool) {
	rel, err := filepath.Rel(dir, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return rel, true
}
