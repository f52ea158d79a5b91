package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/urfave/cli/v2/altsrc"

	"davd/dav"
	"davd/processing"
)

// env names the environment variable of a flag: --processing-after is
// DAVD_PROCESSING_AFTER.
func env(name string) []string {
	return []string{"DAVD_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))}
}

func serveFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "config", Usage: "YAML file with flag values (keys are flag names)", EnvVars: env("config")},
		altsrc.NewStringFlag(&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8080", Usage: "address to listen on", EnvVars: env("addr")}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "storage", Value: defaultStorage, Usage: "storage: file:///abs/dir, a directory path, mem://, or s3://BUCKET[/PREFIX]?endpoint=URL&region=R&use_path_style=true&parallel=16 (credentials from AWS_* variables); ?latency=5ms slows every storage call", EnvVars: env("storage")}),
		altsrc.NewBoolFlag(&cli.BoolFlag{Name: "create", Usage: "create the storage directory if it is missing (only the default " + defaultStorage + " is created without it)", EnvVars: env("create")}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "state", Usage: "where dead properties and locks live: sqlite:///abs/state.db, postgres://user:password@host/db (shared by several instances) or memory: (default: DIR/.davd/state.db, memory for mem://, $XDG_STATE_HOME/davd/BUCKET-HASH.db for s3://)", EnvVars: env("state")}),
		altsrc.NewBoolFlag(&cli.BoolFlag{Name: "read-only", Usage: "refuse every change", EnvVars: env("read-only")}),
		altsrc.NewBoolFlag(&cli.BoolFlag{Name: "inline-active-content", Usage: "serve stored HTML, SVG, XML and JavaScript inline instead of as downloads (they stay sandboxed by CSP and nosniff)", EnvVars: env("inline-active-content")}),
		altsrc.NewBoolFlag(&cli.BoolFlag{Name: "no-ui", Usage: "serve browsers the plain listing instead of the file manager", EnvVars: env("no-ui")}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "prefix", Usage: "URL path to serve under, e.g. /dav", EnvVars: env("prefix")}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "processing", Value: "auto", Usage: "who gets 102 Processing: off, auto (all but known-broken clients) or always", EnvVars: env("processing")}),
		altsrc.NewDurationFlag(&cli.DurationFlag{Name: "processing-after", Value: 20 * time.Second, Usage: "send the first 102 after an operation has run this long", EnvVars: env("processing-after")}),
		altsrc.NewDurationFlag(&cli.DurationFlag{Name: "processing-interval", Value: 20 * time.Second, Usage: "time between 102s", EnvVars: env("processing-interval")}),
		altsrc.NewIntFlag(&cli.IntFlag{Name: "processing-max", Value: 5, Usage: "most 102s per response (0 = unlimited)", EnvVars: env("processing-max")}),
		altsrc.NewStringSliceFlag(&cli.StringSliceFlag{Name: "processing-deny", Value: cli.NewStringSlice(processing.DefaultDeny()...), Usage: "User-Agent regular expressions that get no 102 in auto mode", EnvVars: env("processing-deny")}),
		altsrc.NewDurationFlag(&cli.DurationFlag{Name: "shutdown-timeout", Value: 5 * time.Minute, Usage: "on SIGTERM, how long running requests may finish", EnvVars: env("shutdown-timeout")}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "on-disconnect", Value: "finish", Usage: "when a COPY, MOVE or DELETE loses its client: finish (and log the result) or stop at the next member", EnvVars: env("on-disconnect")}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "admin-addr", Usage: "address for /operations, /metrics and /healthz; a bare port (9090 or :9090) listens on 127.0.0.1 only, a non-loopback host needs --admin-token-file (default: off)", EnvVars: env("admin-addr")}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "admin-token-file", Usage: "file holding the bearer token (16 characters or more) that every admin request but /healthz must send as Authorization: Bearer TOKEN; reloaded on SIGHUP", EnvVars: env("admin-token-file")}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "realm", Value: defaultRealm, Usage: "realm of the HTTP Basic challenge (users come from the --config file and --htpasswd)", EnvVars: env("realm")}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "htpasswd", Usage: "Apache htpasswd file of users (bcrypt entries, htpasswd -B), each served the whole storage with every permission; besides the --config file's users; reloaded on SIGHUP", EnvVars: env("htpasswd")}),
		altsrc.NewBoolFlag(&cli.BoolFlag{Name: "allow-anonymous", Usage: "serve a non-loopback --addr without users: anyone who can connect gets full access", EnvVars: env("allow-anonymous")}),
		altsrc.NewIntFlag(&cli.IntFlag{Name: "max-auth-failures", Value: 10, Usage: "failed sign-ins from one address (IPv6: one /64) before it gets 429 for the rest of --auth-failure-window (0 = never)", EnvVars: env("max-auth-failures")}),
		altsrc.NewDurationFlag(&cli.DurationFlag{Name: "auth-failure-window", Value: 5 * time.Minute, Usage: "window, from an address's first failed sign-in, in which --max-auth-failures are counted", EnvVars: env("auth-failure-window")}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "max-lock-owner", Value: "4KiB", Usage: "largest DAV:owner element a LOCK may store; beyond it 413 (0 = no limit)", EnvVars: env("max-lock-owner")}),
		altsrc.NewIntFlag(&cli.IntFlag{Name: "max-locks-per-resource", Value: 16, Usage: "most live locks on one resource; beyond it LOCK gets 507 (0 = no limit)", EnvVars: env("max-locks-per-resource")}),
		altsrc.NewIntFlag(&cli.IntFlag{Name: "max-locks-per-user", Value: 1000, Usage: "most live locks one user holds, all anonymous clients counting as one; beyond it LOCK gets 507 (0 = no limit)", EnvVars: env("max-locks-per-user")}),
		altsrc.NewDurationFlag(&cli.DurationFlag{Name: "max-lock-timeout", Value: 7 * 24 * time.Hour, Usage: "longest lock granted: Infinite and longer requests get this, and the response says so (0 = no limit)", EnvVars: env("max-lock-timeout")}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "max-property-size", Value: "64KiB", Usage: "largest dead property element PROPPATCH may store; beyond it 413 (0 = no limit)", EnvVars: env("max-property-size")}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "max-dead-bytes", Value: "1MiB", Usage: "most bytes of dead properties per resource; a PROPPATCH past it gets 507 (0 = no limit)", EnvVars: env("max-dead-bytes")}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "log-format", Value: "text", Usage: "text or json", EnvVars: env("log-format")}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error", EnvVars: env("log-level")}),
		// Hidden, and on the command line only (no environment variable,
		// no config key): it exists for make bench, not for deployments.
		&cli.BoolFlag{Name: "no-journal", Hidden: true, Usage: "journal nothing (operations interrupted by a crash are then left half done); for measuring the journal's cost"},
	}, exposeFlags()...)
}

// config is everything serve needs, validated.
type config struct {
	addr            string
	storage         string
	create          bool // create the storage directory if missing
	state           string
	readOnly        bool
	prefix          string
	inlineActive    bool // --inline-active-content
	noUI            bool // --no-ui
	noJournal       bool // --no-journal (hidden): dav.Journal.Off
	processing      processing.Config
	shutdownTimeout time.Duration
	onDisconnect    dav.OnDisconnect
	adminAddr       string      // loopback for a bare port (adminListenAddr)
	adminToken      *adminToken // nil without --admin-token-file
	logger          *slog.Logger
	expose          exposeConfig

	// users and anonymous come from the config file; with neither, the
	// server is open to whoever can connect (loopback only, unless
	// allowAnonymous).
	users             []userConfig
	anonymous         *userConfig
	realm             string
	allowAnonymous    bool
	sources           userSources // where users come from, read again on SIGHUP
	maxAuthFailures   int
	authFailureWindow time.Duration
}

// credentialsOptional reports whether some requests are served without
// credentials: there are no users, or there is an anonymous entry.
func (cfg config) credentialsOptional() bool {
	return len(cfg.users) == 0 || cfg.anonymous != nil
}

// configFrom reads and checks the flags, so that a bad value stops davd
// with one clear line before it listens.
func configFrom(c *cli.Context, logOut io.Writer) (config, error) {
	cfg := config{
		addr:            c.String("addr"),
		storage:         c.String("storage"),
		state:           c.String("state"),
		readOnly:        c.Bool("read-only"),
		prefix:          c.String("prefix"),
		inlineActive:    c.Bool("inline-active-content"),
		noUI:            c.Bool("no-ui"),
		noJournal:       c.Bool("no-journal"),
		shutdownTimeout: c.Duration("shutdown-timeout"),
		adminAddr:       adminListenAddr(c.String("admin-addr")),

		realm:             c.String("realm"),
		allowAnonymous:    c.Bool("allow-anonymous"),
		maxAuthFailures:   c.Int("max-auth-failures"),
		authFailureWindow: c.Duration("auth-failure-window"),
	}
	// The DIR argument is in --storage already (see serveArgs).
	cfg.create = storageCreated(c, cfg.storage)
	if err := checkAddr("addr", cfg.addr); err != nil {
		return cfg, err
	}
	if err := checkAddr("admin-addr", cfg.adminAddr); err != nil {
		return cfg, err
	}

	if _, err := dav.NormalizePrefix(cfg.prefix); err != nil {
		return cfg, fmt.Errorf("--prefix: %w", err)
	}
	onDisconnect, err := dav.ParseOnDisconnect(c.String("on-disconnect"))
	if err != nil {
		return cfg, fmt.Errorf("--on-disconnect: %w", err)
	}
	cfg.onDisconnect = onDisconnect
	mode, err := processing.ParseMode(c.String("processing"))
	if err != nil {
		return cfg, fmt.Errorf("--processing: %w", err)
	}
	deny, err := processing.CompileDeny(c.StringSlice("processing-deny"))
	if err != nil {
		return cfg, fmt.Errorf("--processing-deny: %w", err)
	}
	cfg.processing = processing.Config{
		Mode:     mode,
		After:    c.Duration("processing-after"),
		Interval: c.Duration("processing-interval"),
		Max:      c.Int("processing-max"),
		Deny:     deny,
	}
	for _, d := range []struct {
		name string
		val  time.Duration
	}{
		{"processing-after", cfg.processing.After},
		{"processing-interval", cfg.processing.Interval},
		{"shutdown-timeout", cfg.shutdownTimeout},
		{"auth-failure-window", cfg.authFailureWindow},
	} {
		if d.val < 0 {
			return cfg, fmt.Errorf("--%s must not be negative (got %s)", d.name, d.val)
		}
	}
	if mode != processing.ModeOff && cfg.processing.Interval == 0 {
		return cfg, errors.New("--processing-interval must be positive unless --processing is off")
	}
	if cfg.maxAuthFailures < 0 {
		return cfg, fmt.Errorf("--max-auth-failures must be 0 (never throttle) or more (got %d)", cfg.maxAuthFailures)
	}
	if cfg.maxAuthFailures > 0 && cfg.authFailureWindow == 0 {
		return cfg, errors.New("--auth-failure-window must be positive unless --max-auth-failures is 0")
	}
	if cfg.realm == "" || strings.ContainsAny(cfg.realm, "\"\\") || strings.ContainsFunc(cfg.realm, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return cfg, fmt.Errorf("--realm %q must be non-empty, without quotes, backslashes or control characters", cfg.realm)
	}
	if cfg.users, cfg.anonymous, cfg.sources, err = readUsers(c); err != nil {
		return cfg, err
	}
	if err := checkExposure(cfg.addr, cfg.users, cfg.allowAnonymous); err != nil {
		return cfg, err
	}
	tokenWarning := ""
	if cfg.adminToken, tokenWarning, err = openAdminToken(c.String("admin-token-file")); err != nil {
		return cfg, err
	}
	if cfg.adminToken != nil && cfg.adminAddr == "" {
		return cfg, errNoAdminListener
	}
	if err := checkAdminExposure(cfg.adminAddr, cfg.adminToken != nil); err != nil {
		return cfg, err
	}
	if cfg.processing.Max < 0 {
		return cfg, fmt.Errorf("--processing-max must be 0 (unlimited) or more (got %d)", cfg.processing.Max)
	}

	// processing.Config.WriteTimeout stays 0: the deadlines wrapper
	// (deadline.go) moves the write deadline for every write, 102s too.
	if cfg.expose, err = exposeFrom(c); err != nil {
		return cfg, err
	}
	if err := stateLimits(c, &cfg.expose.limits); err != nil {
		return cfg, err
	}

	if cfg.credentialsOptional() && slices.Contains(cfg.expose.corsOrigins, "*") {
		return cfg, errors.New("--cors-origin *: requests without credentials are served, so any web site could read and change the files " +
			"through its visitors' browsers: list the origins that may (--cors-origin https://app.example.com), or configure users")
	}

	if cfg.logger, err = newLogger(logOut, c.String("log-format"), c.String("log-level")); err != nil {
		return cfg, err
	}
	if tokenWarning != "" {
		cfg.logger.Warn(tokenWarning)
	}
	return cfg, nil
}

// stateLimits reads the flags that bound what clients can make the server
// store, and so keep in memory: lock owners, lock counts and timeouts, and
// dead properties.
func stateLimits(c *cli.Context, l *dav.Limits) error {
	var err error
	var owner, propSize int64
	if owner, err = parseSize(c.String("max-lock-owner")); err != nil {
		return fmt.Errorf("--max-lock-owner: %w", err)
	}
	if propSize, err = parseSize(c.String("max-property-size")); err != nil {
		return fmt.Errorf("--max-property-size: %w", err)
	}
	if l.MaxDeadBytes, err = parseSize(c.String("max-dead-bytes")); err != nil {
		return fmt.Errorf("--max-dead-bytes: %w", err)
	}
	if owner > math.MaxInt32 || propSize > math.MaxInt32 {
		return errors.New("--max-lock-owner and --max-property-size must be below 2GiB")
	}
	l.MaxLockOwner, l.MaxPropertySize = int(owner), int(propSize)
	l.MaxLocksPerResource, l.MaxLocksPerUser = c.Int("max-locks-per-resource"), c.Int("max-locks-per-user")
	for _, n := range []struct {
		name string
		val  int
	}{{"max-locks-per-resource", l.MaxLocksPerResource}, {"max-locks-per-user", l.MaxLocksPerUser}} {
		if n.val < 0 {
			return fmt.Errorf("--%s must be 0 (no limit) or more (got %d)", n.name, n.val)
		}
	}
	if l.MaxLockTimeout = c.Duration("max-lock-timeout"); l.MaxLockTimeout < 0 {
		return fmt.Errorf("--max-lock-timeout must not be negative (got %s)", l.MaxLockTimeout)
	}
	return nil
}
