package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"unicode"
)

// minAdminToken is the shortest token --admin-token-file may hold: 16
// random characters are beyond guessing over the network.
const minAdminToken = 16

// adminToken is the bearer token of the admin listener, read from
// --admin-token-file and read again on SIGHUP. A nil *adminToken is no
// token: get returns "". The token it holds is never empty.
type adminToken struct {
	file string
	cur  atomic.Pointer[string]
}

// openAdminToken reads file; "" means no token. warning is not empty when
// the file is open to its group or others (as ssh says of keys): davd still
// starts, since the file may be meant to be shared with a monitoring
// group.
func openAdminToken(file string) (t *adminToken, warning string, err error) {
	if file == "" {
		return nil, "", nil
	}
	t = &adminToken{file: file}
	if warning, err = t.reload(); err != nil {
		return nil, "", err
	}
	return t, warning, nil
}

// get returns the token.
func (t *adminToken) get() string {
	if t == nil {
		return ""
	}
	return *t.cur.Load()
}

// reload reads the file again; on error the previous token stays.
func (t *adminToken) reload() (warning string, err error) {
	tok, warning, err := readAdminToken(t.file)
	if err != nil {
		return "", err
	}
	t.cur.Store(&tok)
	return warning, nil
}

// readAdminToken returns the token file holds, trimmed; see openAdminToken.
func readAdminToken(file string) (token, warning string, err error) {
	fi, err := os.Stat(file)
	if err != nil {
		return "", "", fmt.Errorf("--admin-token-file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", "", fmt.Errorf("--admin-token-file %s is not a regular file", file)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", "", fmt.Errorf("--admin-token-file: %w", err)
	}
	token = strings.TrimSpace(string(b))
	const hint = "(e.g. openssl rand -hex 32 > FILE)"
	switch {
	case token == "":
		return "", "", fmt.Errorf("--admin-token-file %s is empty: put one token of %d characters or more in it %s", file, minAdminToken, hint)
	case strings.ContainsFunc(token, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		return "", "", fmt.Errorf("--admin-token-file %s must hold one token, without spaces or line breaks inside it", file)
	case len(token) < minAdminToken:
		return "", "", fmt.Errorf("--admin-token-file %s: the token has %d characters, want %d or more %s", file, len(token), minAdminToken, hint)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		warning = fmt.Sprintf("--admin-token-file %s is open to other users (mode %04o): chmod 600 it", file, fi.Mode().Perm())
	}
	return token, warning, nil
}

// errNoAdminListener refuses a token for a listener that is not there:
// probably a mistake in the configuration.
var errNoAdminListener = errors.New("--admin-token-file needs --admin-addr: there is no admin listener to protect")
