// Package pgserver runs throwaway PostgreSQL servers for tests and
// benchmarks: the Debian server binaries (/usr/lib/postgresql/N/bin), a
// cluster initialised once per Installation into a temporary directory
// and copied for each server, listening on 127.0.0.1 on a free port,
// with fsync off. Nothing it starts is meant to keep data.
//
// Package pgtest wraps it for tests; cmd/davbench uses it directly.
package pgserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

// Password is the superuser's, for connections over TCP (which need it:
// the cluster authenticates them with scram-sha-256).
const Password = "davd-test-pw"

// Installation is the server binaries and a template cluster in a
// directory of its own, which Remove deletes with every server's files.
type Installation struct {
	binDir   string
	baseDir  string // holds the template cluster and every server
	template string
	asUser   *user.User // run the servers as this user (nil: as ourselves)
	counter  atomic.Int64
}

// Server is one PostgreSQL server of an Installation.
type Server struct {
	in   *Installation
	dir  string // data directory, owned by the server's user
	port int
	log  string
}

// Setup finds the newest installed server binaries and initialises the
// template cluster in a new temporary directory under parent ("" for
// the system's). Running as root, the servers run as the user postgres
// (initdb refuses root).
func Setup(parent string) (*Installation, error) {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		return nil, errors.New("no /usr/lib/postgresql/*/bin/initdb (install the Debian postgresql package)")
	}
	sort.Slice(bins, func(i, j int) bool { return version(bins[i]) < version(bins[j]) })
	in := &Installation{binDir: filepath.Dir(bins[len(bins)-1])}
	var err error
	if in.baseDir, err = os.MkdirTemp(parent, "davd-pgtest-"); err != nil {
		return nil, err
	}
	fail := func(err error) (*Installation, error) {
		os.RemoveAll(in.baseDir)
		return nil, err
	}
	if os.Geteuid() == 0 {
		if in.asUser, err = user.Lookup("postgres"); err != nil {
			return fail(fmt.Errorf("running as root needs the postgres user: %w", err))
		}
		if err := in.chown(in.baseDir); err != nil {
			return fail(err)
		}
	}
	pw := filepath.Join(in.baseDir, "pwfile")
	if err := os.WriteFile(pw, []byte(Password+"\n"), 0o600); err != nil {
		return fail(err)
	}
	if err := in.chown(pw); err != nil {
		return fail(err)
	}
	in.template = filepath.Join(in.baseDir, "template")
	out, err := in.command(filepath.Join(in.binDir, "initdb"), "-D", in.template, "--username=postgres", "--pwfile="+pw,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync").CombinedOutput()
	if err != nil {
		return fail(fmt.Errorf("initdb: %v: %s", err, out))
	}
	return in, nil
}

// Remove deletes the installation's directory, servers included; stop
// them first.
func (in *Installation) Remove() error { return os.RemoveAll(in.baseDir) }

// version returns the major version in a path /usr/lib/postgresql/N/bin/x.
func version(p string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
	return n
}

// chown gives p to the servers' user when there is one.
func (in *Installation) chown(p string) error {
	if in.asUser == nil {
		return nil
	}
	uid, _ := strconv.Atoi(in.asUser.Uid)
	gid, _ := strconv.Atoi(in.asUser.Gid)
	return os.Chown(p, uid, gid)
}

// command returns a command run as the servers' user.
func (in *Installation) command(name string, args ...string) *exec.Cmd {
	if in.asUser != nil {
		return exec.Command("runuser", append([]string{"-u", in.asUser.Username, "--", name}, args...)...)
	}
	return exec.Command(name, args...)
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// NewServer copies the template cluster and starts a server on it.
func (in *Installation) NewServer() (*Server, error) {
	dir := filepath.Join(in.baseDir, fmt.Sprintf("s%d", in.counter.Add(1)))
	if out, err := exec.Command("cp", "-a", in.template, dir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("copy the cluster: %v: %s", err, out)
	}
	s := &Server{in: in, dir: dir, log: dir + ".log"}
	f, err := os.Create(s.log)
	if err != nil {
		return nil, err
	}
	f.Close()
	if err := in.chown(s.log); err != nil {
		return nil, err
	}
	var lastErr error
	for range 3 { // the port may be taken between freePort and the start
		if s.port, err = freePort(); err != nil {
			return nil, err
		}
		if lastErr = s.Start(); lastErr == nil {
			return s, nil
		}
	}
	return nil, lastErr
}

// Start starts the server on its port and waits until it accepts
// connections.
func (s *Server) Start() error {
	opts := fmt.Sprintf("-k %s -p %d -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=300",
		s.dir, s.port)
	out, err := s.in.command(filepath.Join(s.in.binDir, "pg_ctl"), "-D", s.dir, "-l", s.log, "-w", "-t", "30", "-o", opts, "start").CombinedOutput()
	if err != nil {
		logText, _ := os.ReadFile(s.log)
		return fmt.Errorf("pg_ctl start: %v: %s\n%s", err, out, logText)
	}
	return nil
}

// Stop stops the server in mode: "fast" (a clean shutdown) or
// "immediate" (as a crash would).
func (s *Server) Stop(mode string) error {
	out, err := s.in.command(filepath.Join(s.in.binDir, "pg_ctl"), "-D", s.dir, "-w", "-t", "30", "-m", mode, "stop").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %v: %s", err, out)
	}
	return nil
}

// Remove deletes the server's files; stop it first.
func (s *Server) Remove() error {
	return errors.Join(os.RemoveAll(s.dir), os.Remove(s.log))
}

// Port is the server's TCP port on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// URL returns the URL of database db on the server, with the superuser's
// password.
func (s *Server) URL(db string) string {
	return s.URLAs("postgres", Password, db)
}

// URLAs returns the URL of database db for user with password.
func (s *Server) URLAs(user, password, db string) string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", user, password, s.port, db)
}

// CreateDatabase creates database name (a plain identifier) through
// admin, a connection to the server, and returns its URL.
func (s *Server) CreateDatabase(ctx context.Context, admin *sql.DB, name string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
		return "", fmt.Errorf("CREATE DATABASE %s: %w", name, err)
	}
	return s.URL(name), nil
}

// Admin opens a connection pool to the server's postgres database.
func (s *Server) Admin() (*sql.DB, error) {
	return sql.Open("pgx", s.URL("postgres"))
}
