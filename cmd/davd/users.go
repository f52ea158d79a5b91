package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"davd/dav"
	"davd/dav/auth"
	"davd/storage"
	"davd/storage/state"
)

// userConfig is one user, or the anonymous entry, as the config file
// describes it, validated.
type userConfig struct {
	name  string // "" for anonymous
	hash  []byte
	root  string // "" (the storage), a sub-directory, or a storage URL
	perms dav.Permissions
}

// words is a YAML value that may be a scalar ("read, create") or a list.
type words []string

// UnmarshalYAML accepts a scalar or a sequence of scalars.
func (w *words) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*w = words{n.Value}
		return nil
	}
	var list []string
	if err := n.Decode(&list); err != nil {
		return err
	}
	*w = list
	return nil
}

// ruleEntry is a rule as the config file writes it: a literal path (a
// name, brackets and all) or a path.Match pattern, never both.
type ruleEntry struct {
	Path        string `yaml:"path"`
	Pattern     string `yaml:"pattern"`
	Permissions words  `yaml:"permissions"`
}

// check turns the entry into a rule. A path holding * or ? is refused as
// ambiguous: configs written before pattern: existed put patterns under
// path:, and taking "/*/private" literally would silently lift the rule.
// Brackets, common in real names ("/Team [HR]"), are taken literally.
func (r ruleEntry) check() (dav.Rule, error) {
	what := r.Path
	if r.Pattern != "" {
		what = r.Pattern
	}
	switch {
	case r.Path != "" && r.Pattern != "":
		return dav.Rule{}, fmt.Errorf("rule %q has both path and pattern: give one", r.Path)
	case r.Path == "" && r.Pattern == "":
		return dav.Rule{}, errors.New("a rule needs a path (a name) or a pattern")
	case strings.ContainsAny(r.Path, "*?"):
		return dav.Rule{}, fmt.Errorf("rule path %q holds * or ?, which path: takes literally: "+
			"write pattern: for a pattern (in a pattern, a backslash makes * or ? literal)", r.Path)
	}
	p, err := dav.ParsePerm(r.Permissions...)
	if err != nil {
		return dav.Rule{}, fmt.Errorf("rule %q: %w", what, err)
	}
	return dav.Rule{Path: r.Path, Pattern: r.Pattern, Perm: p}, nil
}

type userEntry struct {
	Name        string      `yaml:"name"`
	Password    string      `yaml:"password"`
	Root        string      `yaml:"root"`
	Permissions words       `yaml:"permissions"`
	Rules       []ruleEntry `yaml:"rules"`
}

// configFile is the part of the --config file that flags cannot hold;
// every other key must name a flag.
type configFile struct {
	Users     []userEntry    `yaml:"users"`
	Anonymous *userEntry     `yaml:"anonymous"`
	Flags     map[string]any `yaml:",inline"`
}

// defaultRealm is the realm of the Basic challenge when neither --realm
// nor the config file names one.
const defaultRealm = "davd"

// userSources are the files users are read from: at start, and again on
// every SIGHUP (see reload.go). Everything but the files' contents is
// fixed at start.
type userSources struct {
	config   string          // --config, "" for none
	htpasswd string          // --htpasswd, "" for none
	known    map[string]bool // visible flag names: the other keys the config file may hold
	// realm is --realm when it does not come from the config file (the
	// command line or the environment set another); "" when the realm
	// follows the file's realm key, or the default without one.
	realm string
	// flags are the config file's flag keys as read at start: a reload
	// names those that changed, which take effect only at a restart.
	flags map[string]any
}

// userSet is what the user sources hold, validated.
type userSet struct {
	users     []userConfig
	anonymous *userConfig
	realm     string         // the realm the sources give ("" for the default)
	flags     map[string]any // the config file's flag keys
}

// authenticated reports whether the set names users or an anonymous entry; a
// set with neither serves everyone without authentication.
func (s userSet) authenticated() bool { return s.users != nil || s.anonymous != nil }

// readUsers reads the users and the anonymous entry from the YAML file
// named by --config and from the --htpasswd file, and returns the sources
// for reloading them.
func readUsers(c *cli.Context) (users []userConfig, anonymous *userConfig, src userSources, err error) {
	src = userSources{config: c.String("config"), htpasswd: c.String("htpasswd"), known: map[string]bool{}}
	for _, n := range flagNames(c.Command.Flags) {
		src.known[n] = true
	}
	set, err := src.read()
	if err != nil {
		return nil, nil, src, err
	}
	src.flags = set.flags
	// The realm follows the file unless the command line or the
	// environment gave another (they take precedence over the file).
	if flag := c.String("realm"); flag != set.realm && !(set.realm == "" && flag == defaultRealm) {
		src.realm = flag
	}
	return set.users, set.anonymous, src, nil
}

// realmOf is the realm a reloaded set is served under.
func (s userSources) realmOf(set userSet) string {
	switch {
	case s.realm != "":
		return s.realm
	case set.realm != "":
		return set.realm
	}
	return defaultRealm
}

// read reads and checks the sources. Users from both files are served
// side by side; a name in both is refused.
func (s userSources) read() (userSet, error) {
	var set userSet
	if s.config != "" {
		var err error
		if set, err = readConfigUsers(s.config, s.known); err != nil {
			return set, err
		}
	}
	if s.htpasswd != "" {
		entries, err := readHtpasswd(s.htpasswd)
		if err != nil {
			return set, err
		}
		for _, e := range entries {
			if slices.ContainsFunc(set.users, func(u userConfig) bool { return u.name == e.user.name }) {
				return set, fmt.Errorf("user %q is both in the config file %s and in --htpasswd %s (line %d): keep one",
					e.user.name, s.config, s.htpasswd, e.line)
			}
			set.users = append(set.users, e.user)
		}
	}
	return set, nil
}

// readConfigUsers reads the users, the anonymous entry and the realm from
// the YAML config file. Keys are checked strictly: a misspelt key could
// otherwise leave a user with more rights, or the server without users.
func readConfigUsers(file string, known map[string]bool) (set userSet, err error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return set, fmt.Errorf("config file: %w", err)
	}
	if err := checkConfigKeys(data, slices.Sorted(maps.Keys(known))); err != nil {
		return set, fmt.Errorf("config file %s:%w", file, err)
	}
	var cf configFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cf); err != nil && !errors.Is(err, io.EOF) { // io.EOF: an empty file
		return set, fmt.Errorf("config file %s: %s", file, oneLine(err))
	}
	var unknown []string
	for k := range cf.Flags {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return set, fmt.Errorf("config file %s: unknown key %q (keys are flag names, users and anonymous)", file, unknown[0])
	}
	set.flags = cf.Flags
	if r, ok := cf.Flags["realm"]; ok {
		if set.realm, ok = r.(string); !ok {
			return set, fmt.Errorf("config file %s: realm must be a string", file)
		}
	}
	seen := map[string]bool{}
	for i, e := range cf.Users {
		u, err := e.check(false)
		if err != nil {
			return set, fmt.Errorf("config file %s: users[%d]: %w", file, i, err)
		}
		if seen[u.name] {
			return set, fmt.Errorf("config file %s: user %q is configured twice", file, u.name)
		}
		seen[u.name] = true
		set.users = append(set.users, u)
	}
	if cf.Anonymous != nil {
		u, err := cf.Anonymous.check(true)
		if err != nil {
			return set, fmt.Errorf("config file %s: anonymous: %w", file, err)
		}
		set.anonymous = &u
	}
	return set, nil
}

// check validates an entry of the config file.
func (e userEntry) check(anonymous bool) (userConfig, error) {
	u := userConfig{name: e.Name, root: e.Root}
	if anonymous {
		if e.Name != "" || e.Password != "" {
			return u, errors.New("the anonymous entry takes no name or password")
		}
		if e.Permissions == nil {
			return u, errors.New("the anonymous entry must state its permissions (for instance read)")
		}
	} else {
		if err := auth.CheckName(e.Name); err != nil {
			return u, err
		}
		if _, err := auth.CheckHash([]byte(e.Password)); err != nil {
			return u, fmt.Errorf("user %q: %w", e.Name, err)
		}
		u.hash = []byte(e.Password)
	}
	who := "anonymous"
	if !anonymous {
		who = fmt.Sprintf("user %q", e.Name)
	}
	u.perms.Default = dav.PermAll
	if e.Permissions != nil {
		p, err := dav.ParsePerm(e.Permissions...)
		if err != nil {
			return u, fmt.Errorf("%s: permissions: %w", who, err)
		}
		u.perms.Default = p
	}
	for _, e := range e.Rules {
		r, err := e.check()
		if err != nil {
			return u, fmt.Errorf("%s: %w", who, err)
		}
		u.perms.Rules = append(u.perms.Rules, r)
	}
	if err := u.perms.Check(); err != nil {
		return u, fmt.Errorf("%s: %w", who, err)
	}
	if !strings.Contains(e.Root, "://") {
		clean, err := storage.CleanSubDir(e.Root)
		if err != nil {
			return u, fmt.Errorf("%s: root: %w", who, err)
		}
		u.root = clean
	}
	return u, nil
}

// checkExposure refuses to serve a non-loopback address to anyone at all
// unless that was asked for: an unauthenticated WebDAV server on a network
// is an open file share.
func checkExposure(addr string, users []userConfig, allowAnonymous bool) error {
	if len(users) > 0 || allowAnonymous {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	if loopbackListen(host) {
		return nil
	}
	return fmt.Errorf("--addr %s is reachable from other machines and no users are configured: "+
		"add users to the --config file (see davd.example.yaml), listen on 127.0.0.1, or pass --allow-anonymous", addr)
}

// checkAdminExposure refuses a non-loopback --admin-addr without a
// token: its /operations shows the paths and user names of operations,
// and its /metrics what the server does.
func checkAdminExposure(addr string, hasToken bool) error {
	if addr == "" || hasToken {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--admin-addr: %w", err)
	}
	if loopbackListen(host) {
		return nil
	}
	return fmt.Errorf("--admin-addr %s is reachable from other machines: require a bearer token with --admin-token-file FILE, "+
		"or listen on loopback (a bare port such as 9090 does)", addr)
}

// loopbackListen reports whether listening on host (of a host:port) is
// reachable from this machine only: "localhost" or a loopback address.
// The empty host is every interface.
func loopbackListen(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// roots opens the trees users are rooted at, once each, and closes them.
type roots struct {
	main     *storage.Backend
	mainSt   state.Store
	readOnly bool
	opened   map[string]root
	closers  []func() error

	tr tracking // for the operations resumed in each root's state

	served  []servedDir // every user's root, for checkSecrets
	secrets []string    // the state directories of storage URL roots
}

type root struct {
	backend *storage.Backend
	st      state.Store
}

// open returns the backend and the state store of a user's root. A
// sub-directory of the storage shares the storage's store through a
// prefixed view, so a file has the same properties and locks whoever
// reaches it; a storage URL of its own keeps its state beside it.
func (rs *roots) open(ctx context.Context, spec string) (root, error) {
	if r, ok := rs.opened[spec]; ok {
		return r, nil
	}
	var r root
	switch {
	case spec == "":
		r = root{rs.main, rs.mainSt}
	case strings.Contains(spec, "://"):
		b, err := storage.Open(spec, storage.Options{ReadOnly: rs.readOnly, Create: true})
		if err != nil {
			return r, err
		}
		// A directory inside the storage, or seen before under another
		// spelling, must share its state: two stores over one tree would
		// each miss the other's locks.
		if rel, ok := inside(rs.main.Dir, b.Dir); ok {
			b.Close()
			return rs.open(ctx, rel)
		}
		if prev, ok := rs.opened["dir:"+b.Dir]; ok && b.Dir != "" {
			b.Close()
			rs.opened[spec] = prev
			return prev, nil
		}
		rs.closers = append(rs.closers, b.Close)
		st, err := openState(ctx, defaultState(b), rs.readOnly)
		if err != nil {
			return r, fmt.Errorf("state of %s: %w", spec, err)
		}
		rs.closers = append(rs.closers, st.Close)
		if err := recoverState(ctx, b, st, rs.readOnly, rs.tr, nil); err != nil {
			return r, fmt.Errorf("state of %s: %w", spec, err)
		}
		if b.Dir != "" {
			rs.secrets = append(rs.secrets, filepath.Join(b.Dir, storage.ReservedName))
		}
		r = root{b, st}
		if b.Dir != "" {
			rs.opened["dir:"+b.Dir] = r
		}
	default:
		b, err := rs.main.Sub(spec)
		if err != nil {
			return r, err
		}
		rs.closers = append(rs.closers, b.Close)
		st, err := state.WithPrefix(rs.mainSt, path.Join("/", spec))
		if err != nil {
			return r, err
		}
		r = root{b, st}
	}
	rs.opened[spec] = r
	return r, nil
}

// inside reports whether dir is main or below it, and its path relative
// to main as a sub-directory spec.
func inside(main, dir string) (string, bool) {
	if main == "" || dir == "" {
		return "", false
	}
	rel, err := filepath.Rel(main, dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	if rel == "." {
		return "", true
	}
	return filepath.ToSlash(rel), true
}

func (rs *roots) close() {
	for _, c := range slices.Backward(rs.closers) {
		c()
	}
}

// usersHandler builds the handler of a server with users or an anonymous
// entry: one dav.Handler per user, each over its own root with its own
// permissions, behind HTTP Basic authentication.
func usersHandler(ctx context.Context, cfg config, rs *roots, tr tracking) (http.Handler, error) {
	build := func(u userConfig) (http.Handler, error) {
		challenge := ""
		if u.name == "" && len(cfg.users) > 0 {
			// Someone refused anonymously may have an account.
			challenge = auth.Challenge(cfg.realm)
		}
		r, err := rs.open(ctx, u.root)
		if err != nil {
			return nil, fmt.Errorf("root of %s: %w", u.describe(), err)
		}
		rs.served = append(rs.served, servedDir{"root of " + u.describe(), r.backend.Dir})
		perms := u.perms
		return dav.NewHandler(r.backend.FileSystem(), r.st, tr.apply(dav.Config{
			Prefix:         cfg.prefix,
			ReadOnly:       cfg.readOnly,
			Processing:     cfg.processing,
			Logger:         cfg.logger,
			Permissions:    &perms,
			Challenge:      challenge,
			Limits:         cfg.expose.limits,
			TrustedProxies: cfg.expose.trustedProxies,

			InlineActiveContent: cfg.inlineActive,
		}))
	}
	ac := auth.Config{
		Realm:          cfg.realm,
		MaxFailures:    cfg.maxAuthFailures,
		FailureWindow:  cfg.authFailureWindow,
		Logger:         cfg.logger,
		TrustedProxies: cfg.expose.trustedProxies,
	}
	for _, u := range cfg.users {
		h, err := build(u)
		if err != nil {
			return nil, err
		}
		ac.Accounts = append(ac.Accounts, auth.Account{Name: u.name, Hash: u.hash, Handler: h})
	}
	if cfg.anonymous != nil {
		h, err := build(*cfg.anonymous)
		if err != nil {
			return nil, err
		}
		ac.Anonymous = h
	}
	return auth.New(ac)
}

func (u userConfig) describe() string {
	if u.name == "" {
		return "anonymous"
	}
	return fmt.Sprintf("user %q", u.name)
}
