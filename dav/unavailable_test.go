package dav

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"davd/processing"
	"davd/storage"
	"davd/storage/state"
	"davd/storage/state/pgtest"
)

// TestStateUnavailable runs a handler on a real PostgreSQL server, stops
// the server and starts it again: while it is down, writes, LOCK and
// PROPPATCH answer 503 with Retry-After within the store's timeout, and
// GET of content keeps working; once it is back, the same handler works
// again (database/sql reconnects) and what was stored before is intact.
func TestStateUnavailable(t *testing.T) {
	t.Parallel()
	pg := pgtest.New(t)
	st, err := state.Open(context.Background(), pg.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	_, rfs := tempRoot(t)
	h, err := NewHandler(storage.NewFileSystem(rfs), st, Config{Processing: processing.Config{Mode: processing.ModeOff}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	patch := `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:color xmlns:x="urn:x">blue</x:color></D:prop></D:set></D:propertyupdate>`
	lock := lockinfoOwner("exclusive", 3)
	propfind := `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><x:color xmlns:x="urn:x"/></D:prop></D:propfind>`
	runSteps(t, srv.URL, []step{
		{name: "put", method: "PUT", path: "/f", body: "hello", status: 201},
		{name: "proppatch", method: "PROPPATCH", path: "/f", body: patch, status: 207, contains: "200 OK"},
	})

	pg.Stop(t)
	down := time.Now()
	runSteps(t, srv.URL, []step{
		{name: "get while down", method: "GET", path: "/f", status: 200, contains: "hello"},
		{name: "put while down", method: "PUT", path: "/g", body: "x", status: 503, contains: "unavailable", header: [2]string{"Retry-After", "5"}},
		{name: "lock while down", method: "LOCK", path: "/f", hdr: map[string]string{"Depth": "0"}, body: lock, status: 503, header: [2]string{"Retry-After", "5"}},
		{name: "proppatch while down", method: "PROPPATCH", path: "/f", body: patch, status: 503, header: [2]string{"Retry-After", "5"}},
		{name: "delete while down", method: "DELETE", path: "/f", status: 503, header: [2]string{"Retry-After", "5"}},
	})
	if d := time.Since(down); d > 10*time.Second {
		t.Errorf("requests while the database was down took %v in all, want them to fail fast", d)
	}

	pg.Start(t)
	runSteps(t, srv.URL, []step{
		{name: "put after restart", method: "PUT", path: "/g", body: "x", status: 201},
		{name: "propfind after restart", method: "PROPFIND", path: "/f", hdr: map[string]string{"Depth": "0"}, body: propfind, status: 207, contains: "blue"},
		{name: "lock after restart", method: "LOCK", path: "/f", hdr: map[string]string{"Depth": "0"}, body: lock, status: 200},
		{name: "delete still there", method: "GET", path: "/f", status: 200, contains: "hello"},
	})
}
