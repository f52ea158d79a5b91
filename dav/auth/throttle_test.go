package auth

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// counting wraps a's compare: it counts the calls and the most running at
// once, and runs each after hold returns.
type counting struct {
	calls, running, peak atomic.Int64
}

func (c *counting) wrap(a *Authenticator, hold func()) {
	compare := a.compare
	a.compare = func(hash, password []byte) error {
		c.calls.Add(1)
		n := c.running.Add(1)
		defer c.running.Add(-1)
		for p := c.peak.Load(); n > p && !c.peak.CompareAndSwap(p, n); p = c.peak.Load() {
		}
		hold()
		return compare(hash, password)
	}
}

// burst sends one request per header at the same moment, each with the
// given X-Forwarded-For (one client for all when from is empty), and
// returns how many got each status.
func burst(t *testing.T, url string, from func(i int) string, auths []string) map[int]int {
	t.Helper()
	var mu sync.Mutex
	count := map[int]int{}
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: len(auths)}, Timeout: time.Minute}
	defer client.CloseIdleConnections()
	for i, auth := range auths {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("Authorization", auth)
			if from != nil {
				req.Header.Set("X-Forwarded-For", from(i))
			}
			ready.Done()
			<-start
			resp, err := client.Do(req)
			status := 0
			if err == nil {
				resp.Body.Close()
				status = resp.StatusCode
			}
			mu.Lock()
			count[status]++
			mu.Unlock()
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	return count
}

func newServer(t *testing.T, cfg Config) (*Authenticator, *httptest.Server) {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(a)
	return a, srv
}

// TestConcurrentGuesses: a hundred different passwords sent by one client
// at once, the right one among them: at most MaxFailures wrong ones are
// checked (401), the others get 429, and once the window's failures are
// spent the right password is refused too. The right one, when it is among
// the first checked, gives its attempt back (a sign-in is not a failure),
// so one more password may be checked after it: the full run saw 6 checks
// once, 5 of them 401.
func TestConcurrentGuesses(t *testing.T) {
	t.Parallel()
	const limit = 5
	a, srv := newServer(t, Config{Realm: "r", MaxFailures: limit, FailureWindow: time.Hour, Accounts: []Account{
		{Name: "alice", Hash: mustHash(t, "pw"), Handler: whoami("a")},
	}})
	var c counting
	c.wrap(a, func() { time.Sleep(10 * time.Millisecond) }) // all requests arrive while the first are checked
	srv.Start()
	defer srv.Close()
	var auths []string
	for i := range 99 {
		auths = append(auths, basic("alice", fmt.Sprint("guess", i)))
	}
	auths = append(auths[:50], append([]string{basic("alice", "pw")}, auths[50:]...)...)
	count := burst(t, srv.URL, nil, auths)
	if count[401] > limit || count[401]+count[429]+count[200] != len(auths) || count[200] > 1 {
		t.Errorf("statuses %v, want at most %d 401, at most one 200, 429 for the rest", count, limit)
	}
	// Spend what is left of the window one wrong password at a time (none
	// is left unless the right one was checked among the first): each is
	// checked, and then the client is refused, the right password too.
	for i := count[401]; i < limit; i++ {
		if status, _, _ := send(t, "GET", srv.URL, basic("alice", fmt.Sprint("after", i))); status != 401 {
			t.Errorf("wrong password %d after the burst: %d, want 401", i+1, status)
		}
	}
	if status, _, _ := send(t, "GET", srv.URL, basic("alice", "pw")); status != 429 {
		t.Errorf("right password after %d failures: %d, want 429", limit, status)
	}
	// Checks only grow: this also judges the burst alone.
	if n := c.calls.Load(); n-int64(count[200]) > limit {
		t.Errorf("%d passwords checked in the window, %d of them right, want at most %d wrong ones (burst statuses %v)", n, count[200], limit, count)
	}
}

// TestRightPasswordGivesAttemptBack: a successful check does not count
// against the client, and a client without failures has no window.
func TestRightPasswordGivesAttemptBack(t *testing.T) {
	t.Parallel()
	th := newThrottle(1, time.Minute)
	t0 := time.Now()
	for i := range 3 {
		r, _, ok := th.reserve("a", t0)
		if !ok {
			t.Fatalf("reservation %d refused after the earlier ones were given back", i)
		}
		th.release(r)
	}
	if len(th.clients) != 0 {
		t.Errorf("%d windows left after only successes", len(th.clients))
	}
	// A reservation from a window that has ended gives nothing back in
	// the next one.
	old, _, _ := th.reserve("a", t0)
	th.reserve("a", t0.Add(time.Minute))
	th.release(old)
	if _, ok := th.blocked("a", t0.Add(time.Minute+time.Second)); !ok {
		t.Error("an old window's reservation was given back in the new one")
	}
}

// TestSameCredentialsCheckedOnce: a client opening many connections at
// once with the same credentials costs one check and one attempt, right
// password or wrong, so that it is not throttled for its parallelism.
func TestSameCredentialsCheckedOnce(t *testing.T) {
	t.Parallel()
	for _, pw := range []string{"pw", "wrong"} {
		a, srv := newServer(t, Config{Realm: "r", MaxFailures: 2, FailureWindow: time.Hour, Accounts: []Account{
			{Name: "alice", Hash: mustHash(t, "pw"), Handler: whoami("a")},
		}})
		// The one check is held until every request has arrived (and a
		// little longer, for the last ones to join it), however slowly a
		// loaded machine delivers them.
		var arrived atomic.Int64
		inner := srv.Config.Handler
		srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			arrived.Add(1)
			inner.ServeHTTP(w, r)
		})
		var c counting
		c.wrap(a, func() {
			for deadline := time.Now().Add(10 * time.Second); arrived.Load() < 20 && time.Now().Before(deadline); {
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(100 * time.Millisecond)
		})
		srv.Start()
		auths := make([]string, 20)
		for i := range auths {
			auths[i] = basic("alice", pw)
		}
		count := burst(t, srv.URL, nil, auths)
		want := 200
		if pw == "wrong" {
			want = 401
		}
		if count[want] != len(auths) || c.calls.Load() != 1 {
			t.Errorf("password %q: statuses %v and %d checks, want %d for all and 1 check", pw, count, c.calls.Load(), want)
		}
		srv.Close()
	}
}

// TestConcurrentChecksCapped: guesses from many clients at once run at
// most MaxConcurrentChecks bcrypt comparisons together, and a request
// whose context ends while it waits for a place is never checked.
func TestConcurrentChecksCapped(t *testing.T) {
	t.Parallel()
	a, srv := newServer(t, Config{Realm: "r", MaxFailures: 3, FailureWindow: time.Hour, MaxConcurrentChecks: 2,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Accounts:       []Account{{Name: "alice", Hash: mustHash(t, "pw"), Handler: whoami("a")}}})
	var c counting
	c.wrap(a, func() { time.Sleep(5 * time.Millisecond) })
	srv.Start()
	defer srv.Close()
	auths := make([]string, 30)
	for i := range auths {
		auths[i] = basic("alice", fmt.Sprint("guess", i))
	}
	count := burst(t, srv.URL, func(i int) string { return fmt.Sprintf("192.0.2.%d", i) }, auths)
	if count[401] != len(auths) || c.peak.Load() > 2 || c.calls.Load() != int64(len(auths)) {
		t.Errorf("statuses %v, %d checks, %d at once; want %d 401s and checks, at most 2 at once",
			count, c.calls.Load(), c.peak.Load(), len(auths))
	}
}

func TestWaitForCheckHonoursContext(t *testing.T) {
	t.Parallel()
	a, srv := newServer(t, Config{Realm: "r", MaxFailures: 3, FailureWindow: time.Hour, MaxConcurrentChecks: 1,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Accounts:       []Account{{Name: "alice", Hash: mustHash(t, "pw"), Handler: whoami("a")}}})
	var c counting
	entered, release := make(chan struct{}, 1), make(chan struct{})
	c.wrap(a, func() {
		entered <- struct{}{}
		<-release
	})
	// The server notices that a client gave up only when it reads the
	// closed connection; the place is freed once it has (the connection's
	// handler has returned), or a loaded machine would let the waiting
	// request through first.
	closed := make(chan struct{}, 4)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed <- struct{}{}
		}
	}
	srv.Start()
	first := make(chan int)
	go func() {
		status, _, _ := send(t, "GET", srv.URL, basic("alice", "guess"))
		first <- status
	}()
	<-entered // the only place is taken
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	req.SetBasicAuth("alice", "other guess")
	req.Header.Set("X-Forwarded-For", "192.0.2.7")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("a request waiting for a check was answered %d while the place was taken", resp.StatusCode)
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Error("the server did not close the connection of the request that gave up")
	}
	close(release)
	if status := <-first; status != 401 {
		t.Errorf("first guess: %d", status)
	}
	srv.Close() // waits for every handler to return
	if n := c.calls.Load(); n != 1 {
		t.Errorf("%d checks; the request that gave up waiting was checked after all", n)
	}
	if _, ok := a.throttle.clients["192.0.2.7"]; ok {
		t.Error("the request that gave up waiting counts as a failure")
	}
}

// TestFailureCostIndependentOfName: whatever the name, a sign-in runs
// bcrypt work worth one hash of the dearest configured cost, however
// cheap the named user's hash is. Work is counted as bcrypt does it, 2^cost
// per comparison, so that the test does not depend on the machine's load.
func TestFailureCostIndependentOfName(t *testing.T) {
	t.Parallel()
	hash := func(pw string, cost int) []byte {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	a, err := New(Config{Realm: "r", Accounts: []Account{
		{Name: "cheap", Hash: hash("pw", 4), Handler: whoami("c")},
		{Name: "middle", Hash: hash("pw", 5), Handler: whoami("m")},
		{Name: "dear", Hash: hash("pw", 7), Handler: whoami("d")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var work atomic.Int64
	a.compare = func(h, pw []byte) error {
		c, err := bcrypt.Cost(h)
		if err != nil {
			t.Errorf("compared with a non-hash: %v", err)
		}
		work.Add(1 << c)
		return bcrypt.CompareHashAndPassword(h, pw)
	}
	for _, name := range []string{"cheap", "middle", "dear", "nobody"} {
		for _, pw := range []string{"wrong", "pw"} {
			work.Store(0)
			i, ok := a.verify(name, pw)
			if want := pw == "pw" && name != "nobody"; ok != want || (ok && a.accounts[i].Name != name) {
				t.Errorf("verify(%q, %q) = %d, %v", name, pw, i, ok)
			}
			if got := work.Load(); got != 1<<7 {
				t.Errorf("verify(%q, %q) did bcrypt work %d, want %d (one cost-7 hash)", name, pw, got, 1<<7)
			}
		}
	}
}
