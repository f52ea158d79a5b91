package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"

	"davd/dav"
	"davd/dav/auth"
)

// htpasswdEntry is a user of an htpasswd file and the line it is on.
type htpasswdEntry struct {
	line int
	user userConfig
}

// readHtpasswd reads an Apache htpasswd file: one name:hash a line, blank
// lines and lines starting with # ignored. Only bcrypt hashes ($2y$,
// $2a$, $2b$: what htpasswd -B writes) are accepted; any other kind (MD5
// $apr1$, {SHA}, crypt, plain text) is refused with its line number and
// kind, never with the hash itself. Every user is rooted at the storage
// with every permission. A file without users is refused: it would
// otherwise serve everyone without authentication.
func readHtpasswd(file string) ([]htpasswdEntry, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--htpasswd: %w", err)
	}
	var entries []htpasswdEntry
	lines := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 64*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, hash, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("--htpasswd %s: line %d is not name:hash", file, n)
		}
		if err := auth.CheckName(name); err != nil {
			return nil, fmt.Errorf("--htpasswd %s: line %d: %w", file, n, err)
		}
		if kind := hashKind(hash); kind != "" {
			return nil, fmt.Errorf("--htpasswd %s: line %d: user %q has %s; only bcrypt is accepted: "+
				"write the entry with htpasswd -B (or davd hash-password)", file, n, name, kind)
		}
		if _, err := auth.CheckHash([]byte(hash)); err != nil {
			return nil, fmt.Errorf("--htpasswd %s: line %d: user %q: malformed bcrypt hash", file, n, name)
		}
		if first, ok := lines[name]; ok {
			return nil, fmt.Errorf("--htpasswd %s: line %d: user %q is already on line %d", file, n, name, first)
		}
		lines[name] = n
		entries = append(entries, htpasswdEntry{line: n, user: userConfig{
			name:  name,
			hash:  []byte(hash),
			perms: dav.Permissions{Default: dav.PermAll},
		}})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--htpasswd %s: %w", file, err)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("--htpasswd %s holds no users (add some with htpasswd -B)", file)
	}
	return entries, nil
}

// hashKind names the kind of an htpasswd hash that is not bcrypt, or
// returns "" for bcrypt.
func hashKind(h string) string {
	switch {
	case strings.HasPrefix(h, "$2y$"), strings.HasPrefix(h, "$2a$"), strings.HasPrefix(h, "$2b$"):
		return ""
	case h == "":
		return "an empty password"
	case strings.HasPrefix(h, "$apr1$"):
		return "an MD5 hash ($apr1$, htpasswd -m)"
	case strings.HasPrefix(h, "{SHA}"):
		return "a SHA-1 hash ({SHA}, htpasswd -s)"
	case strings.HasPrefix(h, "$1$"):
		return "an MD5-crypt hash ($1$)"
	case strings.HasPrefix(h, "$5$"):
		return "a SHA-256-crypt hash ($5$, htpasswd -2)"
	case strings.HasPrefix(h, "$6$"):
		return "a SHA-512-crypt hash ($6$, htpasswd -5)"
	case len(h) == 13 && strings.Trim(h, "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") == "":
		return "a crypt hash (htpasswd -d)"
	}
	return "a plain-text password or an unknown hash kind (htpasswd -p)"
}
