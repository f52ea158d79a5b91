package main

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/urfave/cli/v2/altsrc"
	"golang.org/x/net/netutil"

	"davd/dav"
	"davd/processing"
)

// exposeFlags are the settings for serving beyond loopback: TLS, proxies,
// CORS, limits and timeouts.
func exposeFlags() []cli.Flag {
	return []cli.Flag{
		altsrc.NewStringFlag(&cli.StringFlag{Name: "tls-cert", Usage: "PEM certificate (chain) file; with --tls-key serves HTTPS and HTTP/2, reloaded on SIGHUP", EnvVars: env("tls-cert")}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "tls-key", Usage: "PEM private key file for --tls-cert", EnvVars: env("tls-key")}),
		altsrc.NewStringSliceFlag(&cli.StringSliceFlag{Name: "trusted-proxy", Usage: "CIDR or address of a reverse proxy whose X-Forwarded-For/-Proto/-Host are believed (repeatable)", EnvVars: env("trusted-proxy")}),
		altsrc.NewStringSliceFlag(&cli.StringSliceFlag{Name: "allowed-host", Usage: "host name (dav.example.com, or *.example.com) served to requests without credentials besides loopback names and IP addresses (repeatable)", EnvVars: env("allowed-host")}),
		altsrc.NewStringSliceFlag(&cli.StringSliceFlag{Name: "cors-origin", Usage: "origin (https://app.example.com, or *) allowed to use the server from a browser (repeatable)", EnvVars: env("cors-origin")}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "max-upload", Value: "0", Usage: "largest PUT body, e.g. 4GiB or 500MB (0 = no limit)", EnvVars: env("max-upload")}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "max-xml-body", Value: "1MiB", Usage: "largest XML request body (PROPFIND, PROPPATCH, LOCK)", EnvVars: env("max-xml-body")}),
		altsrc.NewIntFlag(&cli.IntFlag{Name: "max-propfind-entries", Usage: "most resources a Depth: infinity PROPFIND may list; beyond it 403 (0 = no limit)", EnvVars: env("max-propfind-entries")}),
		altsrc.NewIntFlag(&cli.IntFlag{Name: "max-conns", Usage: "most simultaneous connections; more wait to be accepted (0 = no limit)", EnvVars: env("max-conns")}),
		altsrc.NewDurationFlag(&cli.DurationFlag{Name: "read-header-timeout", Value: 10 * time.Second, Usage: "time a client has to send the request line and headers", EnvVars: env("read-header-timeout")}),
		altsrc.NewDurationFlag(&cli.DurationFlag{Name: "read-timeout", Value: time.Minute, Usage: "longest wait for the next bytes of a request body (0 = none); a slow upload that keeps sending is never cut", EnvVars: env("read-timeout")}),
		altsrc.NewDurationFlag(&cli.DurationFlag{Name: "write-timeout", Value: time.Minute, Usage: "longest a client may leave one write of the response (or a 102) unaccepted (0 = none)", EnvVars: env("write-timeout")}),
		altsrc.NewDurationFlag(&cli.DurationFlag{Name: "idle-timeout", Value: 2 * time.Minute, Usage: "how long an idle keep-alive connection stays open", EnvVars: env("idle-timeout")}),
	}
}

// exposeConfig is the validated form of exposeFlags.
type exposeConfig struct {
	cert              *certHolder // nil: plain HTTP
	trustedProxies    []netip.Prefix
	allowedHosts      []string
	corsOrigins       []string
	limits            dav.Limits
	maxConns          int
	readHeaderTimeout time.Duration
	readTimeout       time.Duration
	writeTimeout      time.Duration
	idleTimeout       time.Duration
}

// exposeFrom reads and checks exposeFlags; the certificate is loaded here
// so that a bad one stops davd before it listens.
func exposeFrom(c *cli.Context) (exposeConfig, error) {
	ec := exposeConfig{
		corsOrigins:       c.StringSlice("cors-origin"),
		maxConns:          c.Int("max-conns"),
		readHeaderTimeout: c.Duration("read-header-timeout"),
		readTimeout:       c.Duration("read-timeout"),
		writeTimeout:      c.Duration("write-timeout"),
		idleTimeout:       c.Duration("idle-timeout"),
	}
	for _, d := range []struct {
		name string
		val  time.Duration
	}{
		{"read-header-timeout", ec.readHeaderTimeout},
		{"read-timeout", ec.readTimeout},
		{"write-timeout", ec.writeTimeout},
		{"idle-timeout", ec.idleTimeout},
	} {
		if d.val < 0 {
			return ec, fmt.Errorf("--%s must not be negative (got %s)", d.name, d.val)
		}
	}
	if ec.maxConns < 0 {
		return ec, fmt.Errorf("--max-conns must be 0 (no limit) or more (got %d)", ec.maxConns)
	}
	if n := c.Int("max-propfind-entries"); n < 0 {
		return ec, fmt.Errorf("--max-propfind-entries must be 0 (no limit) or more (got %d)", n)
	}
	ec.limits.MaxPropfindEntries = c.Int("max-propfind-entries")
	var err error
	if ec.limits.MaxUpload, err = parseSize(c.String("max-upload")); err != nil {
		return ec, fmt.Errorf("--max-upload: %w", err)
	}
	if ec.limits.MaxXMLBody, err = parseSize(c.String("max-xml-body")); err != nil {
		return ec, fmt.Errorf("--max-xml-body: %w", err)
	}
	if ec.limits.MaxXMLBody == 0 {
		return ec, fmt.Errorf("--max-xml-body must be positive")
	}
	for _, s := range c.StringSlice("trusted-proxy") {
		p, err := parsePrefix(s)
		if err != nil {
			return ec, fmt.Errorf("--trusted-proxy: %w", err)
		}
		ec.trustedProxies = append(ec.trustedProxies, p)
	}
	if ec.allowedHosts, err = parseAllowedHosts(c.StringSlice("allowed-host")); err != nil {
		return ec, fmt.Errorf("--allowed-host: %w", err)
	}
	if _, err := dav.NewCORS(ec.corsOrigins, http.NotFoundHandler()); err != nil {
		return ec, fmt.Errorf("--cors-origin: %w", err)
	}
	certFile, keyFile := c.String("tls-cert"), c.String("tls-key")
	if (certFile == "") != (keyFile == "") {
		return ec, fmt.Errorf("--tls-cert and --tls-key go together")
	}
	if certFile != "" {
		if ec.cert, err = loadCert(certFile, keyFile); err != nil {
			return ec, err
		}
	}
	return ec, nil
}

// parsePrefix accepts a CIDR ("10.0.0.0/8") or a single address.
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, fmt.Errorf("%q is not a CIDR like 10.0.0.0/8", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// wrap puts the per-request deadlines and CORS around h. CORS must be
// outside any authentication, because browsers send preflights without
// credentials.
func (ec exposeConfig) wrap(h http.Handler) (http.Handler, error) {
	h, err := dav.NewCORS(ec.corsOrigins, h)
	if err != nil {
		return nil, fmt.Errorf("--cors-origin: %w", err)
	}
	if ec.readTimeout > 0 || ec.writeTimeout > 0 {
		h = processing.WithDeadlines(h, ec.readTimeout, ec.writeTimeout)
	}
	return refuseAmbiguous(h), nil
}

// configure sets srv's timeouts and TLS. Server.ReadTimeout and
// WriteTimeout stay 0: they would bound whole bodies (see deadlines).
func (ec exposeConfig) configure(srv *http.Server) {
	srv.ReadHeaderTimeout = ec.readHeaderTimeout
	srv.IdleTimeout = ec.idleTimeout
	if ec.cert != nil {
		srv.TLSConfig = ec.cert.tlsConfig()
	} else {
		srv.ConnContext = withFramedConn // see framing.go
	}
}

// listener applies --max-conns to ln and, for plain HTTP, follows the
// framing of the requests (framing.go).
func (ec exposeConfig) listener(ln net.Listener) net.Listener {
	if ec.maxConns > 0 {
		ln = netutil.LimitListener(ln, ec.maxConns)
	}
	if ec.cert == nil {
		ln = framingListener{ln}
	}
	return ln
}

// scheme is the URL scheme the server answers on.
func (ec exposeConfig) scheme() string {
	if ec.cert != nil {
		return "https"
	}
	return "http"
}

// serve runs srv on ln, over TLS when configured, until srv is shut down.
func (ec exposeConfig) serve(srv *http.Server, ln net.Listener) error {
	if ec.cert == nil {
		return srv.Serve(ln)
	}
	return srv.ServeTLS(ln, "", "")
}
