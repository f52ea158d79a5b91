// Package auth authenticates WebDAV requests with HTTP Basic credentials
// checked against bcrypt hashes, throttles clients that keep failing, and
// hands each request to the handler of the user it authenticated as.
//
// It sits in front of dav.Handler: cmd/davd builds one handler per user
// (each with its own root and permissions) and gives them to New.
package auth

import (
	"context"
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
	"runtime"
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
	// MaxConcurrentChecks bounds the bcrypt checks running at once,
	// server-wide, so that a flood of guesses from many addresses cannot
	// take every CPU; requests beyond it wait their turn, or until their
	// context ends. 0 means twice GOMAXPROCS.
	MaxConcurrentChecks int
}

// Authenticator is an http.Handler that authenticates each request and
// passes it to the handler of its user.
type Authenticator struct {
	realm     string
	challenge string
	accounts  []account
	anonymous http.Handler
	throttle  *throttle
	cache     *cache
	flights   flights
	checks    chan struct{} // a place per bcrypt check that may run at once
	log       *slog.Logger
	proxies   []netip.Prefix

	// pads[c-minCost] is a dummy hash of cost c, for each cost from the
	// cheapest to the dearest configured (see verify).
	pads             [][]byte
	minCost, maxCost int
	// compare is bcrypt.CompareHashAndPassword; tests count its calls.
	compare func(hash, password []byte) error
}

type account struct {
	Account
	nameSum [sha256.Size]byte
	cost    int
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
	if cfg.MaxConcurrentChecks < 0 {
		return nil, fmt.Errorf("auth: MaxConcurrentChecks must be 0 (the default) or more, not %d", cfg.MaxConcurrentChecks)
	}
	if cfg.MaxConcurrentChecks == 0 {
		cfg.MaxConcurrentChecks = 2 * runtime.GOMAXPROCS(0)
	}
	a := &Authenticator{
		realm:     cfg.Realm,
		challenge: Challenge(cfg.Realm),
		anonymous: cfg.Anonymous,
		throttle:  newThrottle(cfg.MaxFailures, cfg.FailureWindow),
		cache:     newCache(),
		flights:   flights{m: map[[sha256.Size]byte]*flight{}},
		checks:    make(chan struct{}, cfg.MaxConcurrentChecks),
		log:       cfg.Logger,
		proxies:   cfg.TrustedProxies,
		compare:   bcrypt.CompareHashAndPassword,
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	seen := map[string]bool{}
	a.minCost, a.maxCost = bcrypt.MaxCost, bcrypt.MinCost
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
		if c < bcrypt.DefaultCost {
			a.log.Warn("cheap password hash: whoever reads the configuration can guess this password quickly; make a new hash with davd hash-password",
				"user", acc.Name, "cost", c, "default", bcrypt.DefaultCost)
		}
		a.minCost, a.maxCost = min(a.minCost, c), max(a.maxCost, c)
		if acc.Handler == nil {
			return nil, fmt.Errorf("auth: user %q has no handler", acc.Name)
		}
		a.accounts = append(a.accounts, account{acc, sha256.Sum256([]byte(acc.Name)), c})
	}
	a.minCost = min(a.minCost, a.maxCost)
	for c := a.minCost; c <= a.maxCost; c++ {
		pad, err := bcrypt.GenerateFromPassword([]byte("no such user"), c)
		if err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
		a.pads = append(a.pads, pad)
	}
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
	if wait, blocked := a.throttle.blocked(client, time.Now()); blocked {
		// Checked before the credentials: a throttled client learns
		// nothing, right password or not, and costs no bcrypt.
		a.tooMany(w, wait)
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
	v := a.authenticate(r.Context(), client, hdr)
	switch v.outcome {
	case accepted:
		v.acc.Handler.ServeHTTP(w, r.WithContext(dav.WithUser(r.Context(), v.acc.Name)))
	case refused:
		a.log.Warn("authentication failed", "client", addr, "method", r.Method, "path", r.URL.Path, "reason", v.why)
		a.challengeWith(w, "wrong credentials")
	case throttled:
		a.tooMany(w, v.wait)
	case abandoned:
		a.refuse(w, http.StatusServiceUnavailable, "the request ended before its credentials were checked")
	}
}

// outcome is what became of a request's credentials.
type outcome int

const (
	accepted  outcome = iota // they name an account and its password
	refused                  // they do not (or are malformed)
	throttled                // the client has no attempt left in its window
	abandoned                // the request's context ended while waiting to check them
)

// verdict is the outcome of authenticate, with the account when accepted,
// the wait when throttled, and why when refused (for the log, never for
// the client).
type verdict struct {
	outcome outcome
	acc     *account
	wait    time.Duration
	why     string
}

// authenticate checks the Authorization header of a request from client.
// Credentials accepted recently are answered from the cache; others cost
// one of the client's attempts (see throttle) and a place among the
// concurrent checks. Requests carrying the same credentials while they
// are being checked wait for that check instead of making their own, so
// that a client opening many connections at once spends one attempt.
func (a *Authenticator) authenticate(ctx context.Context, client string, hdr []string) verdict {
	name, password, why := parseBasic(hdr)
	if why != "" {
		// Nothing to check, but a failed sign-in all the same.
		if _, wait, ok := a.throttle.reserve(client, time.Now()); !ok {
			return verdict{outcome: throttled, wait: wait}
		}
		return verdict{outcome: refused, why: why}
	}
	key := a.cache.key(name, password)
	for {
		if i, ok := a.cache.get(key); ok {
			return verdict{outcome: accepted, acc: &a.accounts[i]}
		}
		f, lead := a.flights.join(key)
		if lead {
			v := a.check(ctx, client, name, password, key)
			a.flights.finish(key, f, v.outcome == refused)
			return v
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			return verdict{outcome: abandoned}
		}
		if f.refused {
			return verdict{outcome: refused, why: wrongFor(name)}
		}
		// Accepted (the cache has it now), or never checked because its
		// client was throttled or went away: look again.
	}
}

// check reserves one of client's attempts, waits for a place among the
// concurrent checks, and checks the password. The attempt is given back
// when the password is right or was never checked.
func (a *Authenticator) check(ctx context.Context, client, name, password string, key [sha256.Size]byte) verdict {
	res, wait, ok := a.throttle.reserve(client, time.Now())
	if !ok {
		return verdict{outcome: throttled, wait: wait}
	}
	select {
	case a.checks <- struct{}{}:
	case <-ctx.Done():
		a.throttle.release(res)
		return verdict{outcome: abandoned}
	}
	i, ok := a.verify(name, password)
	<-a.checks
	if !ok {
		return verdict{outcome: refused, why: wrongFor(name)}
	}
	a.throttle.release(res)
	a.cache.put(key, i)
	return verdict{outcome: accepted, acc: &a.accounts[i]}
}

func wrongFor(name string) string {
	return fmt.Sprintf("wrong name or password for %.64q", name)
}

// parseBasic returns the name and password of a Basic Authorization
// header, or why it has none.
func parseBasic(hdr []string) (name, password, why string) {
	switch {
	case len(hdr) > 1:
		return "", "", "several Authorization headers"
	case len(hdr[0]) > maxAuthorization:
		return "", "", "Authorization header too long"
	}
	scheme, cred, _ := strings.Cut(strings.TrimSpace(hdr[0]), " ")
	if !strings.EqualFold(scheme, "Basic") {
		return "", "", fmt.Sprintf("scheme %.20q is not Basic", scheme)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return "", "", "Basic credentials are not base64"
	}
	name, password, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", "Basic credentials without a colon"
	}
	return name, password, ""
}

// verify returns the index of the account name and password prove, and
// whether they do. Whatever the name, it runs bcrypt work worth one hash
// of the dearest configured cost (bcrypt's work doubles with each step of
// cost): an unknown name is compared with a dummy of that cost, and an
// account whose hash is cheaper is followed by dummies of its own cost
// and of each dearer one but the dearest (2^c + 2^c + 2^(c+1) + … +
// 2^(max-1) = 2^max). So the time a failure takes does not tell which
// names exist, even when some hashes are cheaper than others.
func (a *Authenticator) verify(name, password string) (int, bool) {
	i := a.find(name)
	hash, cost := a.pads[len(a.pads)-1], a.maxCost
	if i >= 0 {
		hash, cost = a.accounts[i].Hash, a.accounts[i].cost
	}
	err := a.compare(hash, []byte(password))
	for c := cost; c < a.maxCost; c++ {
		a.compare(a.pads[c-a.minCost], []byte(password))
	}
	return i, err == nil && i >= 0
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

func (a *Authenticator) tooMany(w http.ResponseWriter, wait time.Duration) {
	secs := int((wait + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", fmt.Sprint(secs))
	a.refuse(w, http.StatusTooManyRequests, fmt.Sprintf("too many failed sign-ins from this address; retry in %d s", secs))
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

// flights are the credentials being checked, by cache key, so that the
// same credentials sent on many connections at once are checked once.
type flights struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]*flight
}

// flight is one check in progress; refused is set before done is closed.
type flight struct {
	done    chan struct{}
	refused bool // the password was checked and is wrong
}

// join returns the flight of key, and whether the caller is to lead it
// (check the credentials and call finish).
func (fs *flights) join(key [sha256.Size]byte) (*flight, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.m[key]; ok {
		return f, false
	}
	f := &flight{done: make(chan struct{})}
	fs.m[key] = f
	return f, true
}

// finish ends the flight f of key.
func (fs *flights) finish(key [sha256.Size]byte, f *flight, refused bool) {
	fs.mu.Lock()
	delete(fs.m, key)
	fs.mu.Unlock()
	f.refused = refused
	close(f.done)
}
