// Package auth authenticates WebDAV requests with HTTP Basic credentials
// checked against bcrypt hashes, throttles clients that keep failing, and
// hands each request to the handler of the user it authenticated as.
//
// It sits in front of dav.Handler: cmd/davd builds one handler per user
// (each with its own root and permissions) and gives them to New.
package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"davd/dav"
)

// maxAuthorization bounds the Authorization header we look at: Basic
// credentials for a name and a 72-byte bcrypt password fit many times.
const maxAuthorization = 4096

// Account is a user who may sign in.
type Account struct {
	// Name is the user name, compared exactly.
	Name string
	// Hash is the bcrypt hash of the password.
	Hash []byte
	// Handler serves the user's requests; it finds the user's name in
	// the request context with dav.UserFrom.
	Handler http.Handler
}

// Config configures an Authenticator.
type Config struct {
	// Realm is sent in the WWW-Authenticate challenge.
	Realm string
	// Accounts are the users who may sign in.
	Accounts []Account
	// Anonymous serves requests that carry no credentials; nil answers
	// them 401. Requests with wrong credentials get 401 either way.
	Anonymous http.Handler
	// MaxFailures is how many failed sign-ins a client may make within
	// FailureWindow before it gets 429 until the window ends; 0 turns
	// throttling off.
	MaxFailures int
	// FailureWindow is the throttling window.
	FailureWindow time.Duration
	// Logger receives failed sign-ins and throttling; nil discards them.
	Logger *slog.Logger
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// (see dav.ClientAddr): behind a proxy, failures are then counted per
	// client instead of against the proxy, which would lock everyone out.
	TrustedProxies []netip.Prefix
}

// Authenticator is an http.Handler that authenticates each request and
// passes it to the handler of its user.
type Authenticator struct {
	realm     string
	challenge string
	accounts  []account
	anonymous http.Handler
	dummy     []byte // hash compared for unknown names, so they cost the same
	throttle  *throttle
	cache     *cache
	log       *slog.Logger
	proxies   []netip.Prefix
}

type account struct {
	Account
	nameSum [sha256.Size]byte
}

// New checks cfg and returns its Authenticator.
func New(cfg Config) (*Authenticator, error) {
	if cfg.Realm == "" {
		return nil, errors.New("auth: empty realm")
	}
	if strings.ContainsAny(cfg.Realm, "\"\\") || strings.ContainsFunc(cfg.Realm, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return nil, fmt.Errorf("auth: realm %q must not contain quotes, backslashes or control characters", cfg.Realm)
	}
	if cfg.MaxFailures < 0 || (cfg.MaxFailures > 0 && cfg.FailureWindow <= 0) {
		return nil, errors.New("auth: throttling needs MaxFailures >= 0 and, when positive, a positive FailureWindow")
	}
	a := &Authenticator{
		realm:     cfg.Realm,
		challenge: Challenge(cfg.Realm),
		anonymous: cfg.Anonymous,
		throttle:  newThrottle(cfg.MaxFailures, cfg.FailureWindow),
		cache:     newCache(),
		log:       cfg.Logger,
		proxies:   cfg.TrustedProxies,
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	seen := map[string]bool{}
	// The dummy hash costs what the dearest real one does, so that an
	// unknown name takes as long as a known one.
	cost := bcrypt.MinCost
	for _, acc := range cfg.Accounts {
		if err := CheckName(acc.Name); err != nil {
			return nil, err
		}
		if seen[acc.Name] {
			return nil, fmt.Errorf("auth: user %q is configured twice", acc.Name)
		}
		seen[acc.Name] = true
		c, err := CheckHash(acc.Hash)
		if err != nil {
			return nil, fmt.Errorf("auth: user %q: %w", acc.Name, err)
		}
		cost = max(cost, c)
		if acc.Handler == nil {
			return nil, fmt.Errorf("auth: user %q has no handler", acc.Name)
		}
		a.accounts = append(a.accounts, account{acc, sha256.Sum256([]byte(acc.Name))})
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("no such user"), cost)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	a.dummy = dummy
	return a, nil
}

// Challenge is the WWW-Authenticate value of a 401 for realm.
func Challenge(realm string) string {
	return `Basic realm="` + realm + `", charset="UTF-8"`
}

// CheckName refuses user names Basic authentication cannot carry.
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("auth: empty user name")
	case strings.Contains(name, ":"):
		return fmt.Errorf("auth: user name %q contains a colon, which Basic authentication cannot carry", name)
	case strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return fmt.Errorf("auth: user name %q contains control characters", name)
	}
	return nil
}

// CheckHash reports whether hash is a bcrypt hash and returns its cost. A
// plaintext password is refused: the configuration must never hold one.
func CheckHash(hash []byte) (int, error) {
	cost, err := bcrypt.Cost(hash)
	if err != nil || !strings.HasPrefix(string(hash), "$2") {
		return 0, errors.New("password is not a bcrypt hash (make one with davd hash-password)")
	}
	return cost, nil
}

// HashPassword returns the bcrypt hash of password at cost (0 for the
// default).
func HashPassword(password []byte, cost int) ([]byte, error) {
	if len(password) == 0 {
		return nil, errors.New("empty password")
	}
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	h, err := bcrypt.GenerateFromPassword(password, cost)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	return h, nil
}

// ServeHTTP authenticates r and serves it with its user's handler.
func (a *Authenticator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	addr := dav.ClientAddr(r, a.proxies)
	client := clientKey(addr)
	now := time.Now()
	if wait, blocked := a.throttle.blocked(client, now); blocked {
		// Checked before the credentials: a throttled client learns
		// nothing, right password or not, and costs no bcrypt.
		secs := int((wait + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", fmt.Sprint(secs))
		a.refuse(w, http.StatusTooManyRequests, fmt.Sprintf("too many failed sign-ins from this address; retry in %d s", secs))
		return
	}
	hdr := r.Header.Values("Authorization")
	if len(hdr) == 0 {
		if a.anonymous != nil {
			a.anonymous.ServeHTTP(w, r)
			return
		}
		a.challengeWith(w, "credentials required")
		return
	}
	acc, why := a.authenticate(hdr)
	if acc == nil {
		a.throttle.fail(client, now)
		a.log.Warn("authentication failed", "client", addr, "method", r.Method, "path", r.URL.Path, "reason", why)
		a.challengeWith(w, "wrong credentials")
		return
	}
	acc.Handler.ServeHTTP(w, r.WithContext(dav.WithUser(r.Context(), acc.Name)))
}

// authenticate returns the account the Authorization header proves, or nil
// and why not (for the log, never for the client).
func (a *Authenticator) authenticate(hdr []string) (*account, string) {
	switch {
	case len(hdr) > 1:
		return nil, "several Authorization headers"
	case len(hdr[0]) > maxAuthorization:
		return nil, "Authorization header too long"
	}
	scheme, cred, _ := strings.Cut(strings.TrimSpace(hdr[0]), " ")
	if !strings.EqualFold(scheme, "Basic") {
		return nil, fmt.Sprintf("scheme %.20q is not Basic", scheme)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return nil, "Basic credentials are not base64"
	}
	name, password, ok := strings.Cut(string(raw), ":")
	if !ok {
		return nil, "Basic credentials without a colon"
	}
	key := a.cache.key(name, password)
	if i, ok := a.cache.get(key); ok {
		return &a.accounts[i], ""
	}
	i := a.find(name)
	hash := a.dummy
	if i >= 0 {
		hash = a.accounts[i].Hash
	}
	// bcrypt runs whether or not the name exists, so the time taken does
	// not tell which names do.
	if err := bcrypt.CompareHashAndPassword(hash, []byte(password)); err != nil || i < 0 {
		return nil, fmt.Sprintf("wrong name or password for %.64q", name)
	}
	a.cache.put(key, i)
	return &a.accounts[i], ""
}

// find returns the index of the account named name, or -1, comparing with
// every account in constant time.
func (a *Authenticator) find(name string) int {
	sum := sha256.Sum256([]byte(name))
	found := -1
	for i := range a.accounts {
		eq := subtle.ConstantTimeCompare(sum[:], a.accounts[i].nameSum[:])
		found = subtle.ConstantTimeSelect(eq, i, found)
	}
	return found
}

func (a *Authenticator) challengeWith(w http.ResponseWriter, reason string) {
	w.Header().Set("WWW-Authenticate", a.challenge)
	a.refuse(w, http.StatusUnauthorized, reason)
}

func (a *Authenticator) refuse(w http.ResponseWriter, status int, reason string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintf(w, "%d %s: %s\n", status, http.StatusText(status), reason)
}

// cache remembers credentials bcrypt has accepted, so that the clients
// which send them with every request (all WebDAV clients) do not pay
// bcrypt's deliberate slowness each time. Keys are an HMAC under a key
// made at start, so the cache holds nothing a password can be derived
// from without the process's memory.
type cache struct {
	secret [32]byte
	mu     sync.Mutex
	m      map[[sha256.Size]byte]cached
}

type cached struct {
	account int
	expires time.Time
}

const (
	cacheTTL  = 5 * time.Minute
	cacheSize = 1024
)

func newCache() *cache {
	c := &cache{m: map[[sha256.Size]byte]cached{}}
	rand.Read(c.secret[:])
	return c
}

func (c *cache) key(name, password string) [sha256.Size]byte {
	m := hmac.New(sha256.New, c.secret[:])
	fmt.Fprintf(m, "%d:%s:%s", len(name), name, password)
	var k [sha256.Size]byte
	m.Sum(k[:0])
	return k
}

func (c *cache) get(k [sha256.Size]byte) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || time.Now().After(e.expires) {
		delete(c.m, k)
		return 0, false
	}
	return e.account, true
}

func (c *cache) put(k [sha256.Size]byte, account int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= cacheSize {
		clear(c.m)
	}
	c.m[k] = cached{account, time.Now().Add(cacheTTL)}
}
