package dav

import (
	"net/http"
	"os"
	"testing"

	"davd/storage/state/pgtest"
)

// TestMain removes the PostgreSQL files tests may have made. The tests'
// client gets a transport of its own: httptest.Server.Close closes the
// idle connections of http.DefaultTransport, which can break a request of
// a parallel test that was just handed one of them ("CloseIdleConnections
// called").
func TestMain(m *testing.M) {
	http.DefaultClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	os.Exit(pgtest.Run(m))
}
