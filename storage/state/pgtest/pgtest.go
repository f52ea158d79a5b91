// Package pgtest starts real PostgreSQL servers for tests (through
// package pgserver): the Debian server binaries, a cluster initialised
// once per test binary into a temporary directory and copied for each
// server, listening on 127.0.0.1 on a free port, with fsync off.
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
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"davd/storage/state/pgserver"
)

// Server is one running PostgreSQL server.
type Server struct {
	s *pgserver.Server
}

var (
	setupOnce sync.Once
	setupErr  error
	inst      *pgserver.Installation

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
		shared.s.Stop("fast")
	}
	if inst != nil {
		inst.Remove()
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

// newServer starts a server, setting up the installation on first use.
func newServer() (*Server, error) {
	setupOnce.Do(func() { inst, setupErr = pgserver.Setup("") })
	if setupErr != nil {
		return nil, setupErr
	}
	s, err := inst.NewServer()
	if err != nil {
		return nil, err
	}
	return &Server{s: s}, nil
}

// New starts a server of the test's own, stopped when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s, err := newServer()
	if err != nil {
		unavailable(t, err)
	}
	t.Cleanup(func() {
		s.s.Stop("immediate")
		s.s.Remove()
	})
	return s
}

// Stop stops the server (as a crash would, in immediate mode); Start
// starts it again on the same port.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if err := s.s.Stop("immediate"); err != nil {
		t.Fatal(err)
	}
}

// Start starts a stopped server again on its port.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	if err := s.s.Start(); err != nil {
		t.Fatal(err)
	}
}

// Port is the server's TCP port on 127.0.0.1.
func (s *Server) Port() int { return s.s.Port() }

// URL returns the URL of database db on the server, with the superuser's
// password.
func (s *Server) URL(db string) string { return s.s.URL(db) }

// URLAs returns the URL of database db for user with password.
func (s *Server) URLAs(user, password, db string) string { return s.s.URLAs(user, password, db) }

// Database creates a new, empty database on s and returns its URL.
func (s *Server) Database(t testing.TB) string {
	t.Helper()
	db, err := s.s.Admin()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return createDatabase(t, s, db)
}

func createDatabase(t testing.TB, s *Server, db *sql.DB) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%s", counter.Add(1), sanitize(t.Name()))
	u, err := s.s.CreateDatabase(context.Background(), db, name)
	if err != nil {
		t.Fatal(err)
	}
	return u
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
			admin, sharedErr = shared.s.Admin()
			if sharedErr == nil {
				admin.SetMaxOpenConns(4)
			}
		}
	})
	if sharedErr != nil {
		unavailable(t, sharedErr)
	}
	return createDatabase(t, shared, admin)
}
