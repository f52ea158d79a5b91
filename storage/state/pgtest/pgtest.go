// Package pgtest starts real PostgreSQL servers for tests: the Debian
// server binaries (/usr/lib/postgresql/N/bin), a cluster initialised once
// per test binary into a temporary directory and copied for each server,
// listening on 127.0.0.1 on a free port, with fsync off.
//
// Tests get a database of their own on one server shared by the test
// binary (Database), or a server of their own that they may stop and
// start (New). A package that uses Database must call Run from TestMain,
// which stops the shared server and removes its files at the end.
//
// Without PostgreSQL installed, tests that ask for it are skipped, except
// when the environment has CI=true: then they fail.
package pgtest

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
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

// password is the superuser's, for connections over TCP (which need it:
// the cluster authenticates them with scram-sha-256).
const password = "davd-test-pw"

// Server is one running PostgreSQL server.
type Server struct {
	dir  string // data directory, owned by the server's user
	port int
	log  string
}

var (
	setupOnce sync.Once
	setupErr  error
	binDir    string
	baseDir   string // holds the template cluster and every server
	template  string
	asUser    *user.User // run the server as this user (nil: as ourselves)

	sharedOnce sync.Once
	shared     *Server
	sharedErr  error
	admin      *sql.DB

	counter atomic.Int64
)

// Run runs the tests of m and then stops the shared server, if one was
// started, and removes every server's files. Call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }
func Run(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		if admin != nil {
			admin.Close()
		}
		shared.stop("fast")
	}
	if baseDir != "" {
		os.RemoveAll(baseDir)
	}
	return code
}

// unavailable skips the test, or fails it under CI=true.
func unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("PostgreSQL is needed under CI: %v", err)
	}
	t.Skipf("PostgreSQL not available: %v", err)
}

// setup finds the binaries and initialises the template cluster.
func setup() error {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		return errors.New("no /usr/lib/postgresql/*/bin/initdb (install the Debian postgresql package)")
	}
	sort.Slice(bins, func(i, j int) bool { return version(bins[i]) < version(bins[j]) })
	binDir = filepath.Dir(bins[len(bins)-1])
	var err error
	if baseDir, err = os.MkdirTemp("", "davd-pgtest-"); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		// initdb refuses to run as root.
		if asUser, err = user.Lookup("postgres"); err != nil {
			return fmt.Errorf("running as root needs the postgres user: %w", err)
		}
		if err := chown(baseDir); err != nil {
			return err
		}
	}
	pw := filepath.Join(baseDir, "pwfile")
	if err := os.WriteFile(pw, []byte(password+"\n"), 0o600); err != nil {
		return err
	}
	if err := chown(pw); err != nil {
		return err
	}
	template = filepath.Join(baseDir, "template")
	out, err := command(filepath.Join(binDir, "initdb"), "-D", template, "--username=postgres", "--pwfile="+pw,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync").CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb: %v: %s", err, out)
	}
	return nil
}

// version returns the major version in a path /usr/lib/postgresql/N/bin/x.
func version(p string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
	return n
}

// chown gives p to the server's user when there is one.
func chown(p string) error {
	if asUser == nil {
		return nil
	}
	uid, _ := strconv.Atoi(asUser.Uid)
	gid, _ := strconv.Atoi(asUser.Gid)
	return os.Chown(p, uid, gid)
}

// command returns a command run as the server's user.
func command(name string, args ...string) *exec.Cmd {
	if asUser != nil {
		return exec.Command("runuser", append([]string{"-u", asUser.Username, "--", name}, args...)...)
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

// newServer copies the template cluster and starts a server on it.
func newServer() (*Server, error) {
	setupOnce.Do(func() { setupErr = setup() })
	if setupErr != nil {
		return nil, setupErr
	}
	dir := filepath.Join(baseDir, fmt.Sprintf("s%d", counter.Add(1)))
	if out, err := exec.Command("cp", "-a", template, dir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("copy the cluster: %v: %s", err, out)
	}
	s := &Server{dir: dir, log: dir + ".log"}
	f, err := os.Create(s.log)
	if err != nil {
		return nil, err
	}
	f.Close()
	if err := chown(s.log); err != nil {
		return nil, err
	}
	var lastErr error
	for range 3 { // the port may be taken between freePort and the start
		if s.port, err = freePort(); err != nil {
			return nil, err
		}
		if lastErr = s.start(); lastErr == nil {
			return s, nil
		}
	}
	return nil, lastErr
}

// start starts the server on its port and waits until it accepts
// connections.
func (s *Server) start() error {
	opts := fmt.Sprintf("-k %s -p %d -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=300",
		s.dir, s.port)
	out, err := command(filepath.Join(binDir, "pg_ctl"), "-D", s.dir, "-l", s.log, "-w", "-t", "30", "-o", opts, "start").CombinedOutput()
	if err != nil {
		logText, _ := os.ReadFile(s.log)
		return fmt.Errorf("pg_ctl start: %v: %s\n%s", err, out, logText)
	}
	return nil
}

// stop stops the server in mode ("fast" or "immediate").
func (s *Server) stop(mode string) error {
	out, err := command(filepath.Join(binDir, "pg_ctl"), "-D", s.dir, "-w", "-t", "30", "-m", mode, "stop").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %v: %s", err, out)
	}
	return nil
}

// New starts a server of the test's own, stopped when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s, err := newServer()
	if err != nil {
		unavailable(t, err)
	}
	t.Cleanup(func() {
		s.stop("immediate")
		os.RemoveAll(s.dir)
		os.Remove(s.log)
	})
	return s
}

// Stop stops the server (as a crash would, in immediate mode); Start
// starts it again on the same port.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if err := s.stop("immediate"); err != nil {
		t.Fatal(err)
	}
}

// Start starts a stopped server again on its port.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
}

// Port is the server's TCP port on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// URL returns the URL of database db on the server, with the superuser's
// password.
func (s *Server) URL(db string) string {
	return s.URLAs("postgres", password, db)
}

// URLAs returns the URL of database db for user with password.
func (s *Server) URLAs(user, password, db string) string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", user, password, s.port, db)
}

// Database creates a new, empty database on s and returns its URL.
func (s *Server) Database(t testing.TB) string {
	t.Helper()
	db, err := sql.Open("pgx", s.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return createDatabase(t, s, db)
}

func createDatabase(t testing.TB, s *Server, db *sql.DB) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%s", counter.Add(1), sanitize(t.Name()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
		t.Fatalf("CREATE DATABASE %s: %v", name, err)
	}
	return s.URL(name)
}

// sanitize keeps a database name short and plain.
func sanitize(name string) string {
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, name)
	if len(name) > 40 {
		name = name[:40]
	}
	return strings.ToLower(name)
}

// Database returns the URL of a new, empty database on the server shared
// by the test binary, starting it on first use. Tests stay parallel: each
// has its own database.
func Database(t testing.TB) string {
	t.Helper()
	sharedOnce.Do(func() {
		shared, sharedErr = newServer()
		if sharedErr == nil {
			admin, sharedErr = sql.Open("pgx", shared.URL("postgres"))
			admin.SetMaxOpenConns(4)
		}
	})
	if sharedErr != nil {
		unavailable(t, sharedErr)
	}
	return createDatabase(t, shared, admin)
}
