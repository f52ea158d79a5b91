package main

// Faults of a deployment of several instances on PostgreSQL: an instance
// killed with SIGKILL mid-session, and the database restarted under load.

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"davd/storage/state/pgtest"
)

// propXML is a PROPPATCH setting Z:origin to v.
func propXML(v string) string {
	return `<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:origin>` + v + `</Z:origin></D:prop></D:set></D:propertyupdate>`
}

// ledger records what the server acknowledged, to be checked afterwards.
type ledger struct {
	mu      sync.Mutex
	content map[string]string // path → content of the last acknowledged PUT
	props   map[string]string // path → Z:origin of the last acknowledged PROPPATCH
	locks   map[string]string // path → token of an acknowledged LOCK
}

func newLedger() *ledger {
	return &ledger{content: map[string]string{}, props: map[string]string{}, locks: map[string]string{}}
}

func (l *ledger) note(m map[string]string, k, v string) {
	l.mu.Lock()
	m[k] = v
	l.mu.Unlock()
}

// session writes name through base: PUT, PROPPATCH and, when lock is
// set, LOCK, each recorded in led once acknowledged; it stops at the
// first step not acknowledged and returns its status (0: transport
// error), or 0 when every step was.
func session(led *ledger, base, name string, lock bool) (int, http.Header) {
	value := "v-" + name
	st, h, _ := sendReq("PUT", base+name, nil, value)
	if st/100 != 2 {
		return st, h
	}
	led.note(led.content, name, value)
	st, h, body := sendReq("PROPPATCH", base+name, nil, propXML(value))
	if st != http.StatusMultiStatus || !strings.Contains(body, "200 OK") || strings.Contains(body, "HTTP/1.1 5") {
		if st == http.StatusMultiStatus {
			st = 0
		}
		return st, h
	}
	led.note(led.props, name, value)
	if !lock {
		return 0, nil
	}
	st, h, _ = sendReq("LOCK", base+name, map[string]string{"Timeout": "Second-3600"}, raceLockXML)
	if st != http.StatusOK {
		return st, h
	}
	led.note(led.locks, name, h.Get("Lock-Token"))
	return 0, nil
}

// verify checks through base that everything led holds is there: the
// content on disk in dir, the properties, and the locks, still enforced
// and discoverable.
func (l *ledger) verify(t *testing.T, base, dir string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for name, want := range l.content {
		if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(got) != want {
			t.Errorf("acknowledged PUT of %s lost: %q %v", name, got, err)
		}
	}
	for name, want := range l.props {
		if got, _ := origin(t, base, name); got != want {
			t.Errorf("acknowledged PROPPATCH of %s lost: Z:origin %q, want %q", name, got, want)
		}
	}
	for name, token := range l.locks {
		if st, _, _ := sendReq("PUT", base+name, nil, "intruder"); st != http.StatusLocked {
			t.Errorf("acknowledged LOCK of %s lost: PUT without its token = %d", name, st)
		}
		_, _, body := sendReq("PROPFIND", base+name, map[string]string{"Depth": "0"},
			`<D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/></D:prop></D:propfind>`)
		if !strings.Contains(body, strings.Trim(token, "<>")) {
			t.Errorf("lock %s of %s not in its lockdiscovery:\n%s", token, name, body)
		}
	}
	t.Logf("verified %d contents, %d properties, %d locks", len(l.content), len(l.props), len(l.locks))
}

// TestMultiKillOneInstance kills one of two instances behind HAProxy with
// SIGKILL while clients work through the balancer: the other instance
// keeps serving (after HAProxy's health check notices, a fraction of a
// second), and every lock and property acknowledged before, through
// either instance, is intact.
func TestMultiKillOneInstance(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 2, "")
	led := newLedger()
	for i := range 20 {
		if st, _ := session(led, c.front, fmt.Sprintf("/pre%d", i), i%2 == 0); st != 0 {
			t.Fatalf("session %d before the kill: %d", i, st)
		}
	}
	var killed atomic.Bool
	var killedAt atomic.Int64
	var lateFailures atomic.Int64
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 40 {
				st, _ := session(led, c.front, fmt.Sprintf("/w%d-%d", w, i), i%3 == 0)
				if st != 0 && killed.Load() && time.Since(time.Unix(0, killedAt.Load())) > time.Second {
					lateFailures.Add(1)
					t.Errorf("worker %d, session %d, more than 1s after the kill: %d", w, i, st)
				}
				if i == 10 && w == 0 {
					c.nodes[0].kill()
					killedAt.Store(time.Now().UnixNano())
					killed.Store(true)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	if !killed.Load() {
		t.Fatal("the instance was not killed")
	}
	// Everything acknowledged, checked on the survivor directly and
	// through the balancer.
	led.verify(t, c.nodes[1].base, c.dir)
	led.verify(t, c.front, c.dir)
	// A restarted instance sees it all too.
	again := spawnDavd(t, c.dir, "--state", c.state)
	led.verify(t, again.base, c.dir)
}

// TestMultiPostgresRestart stops PostgreSQL (immediate mode, as a crash)
// under load on two instances and starts it again a second later: while
// it is down, writes get 503 with Retry-After and nothing hangs; once it
// is back the instances serve writes again without a restart; every
// write acknowledged — before, during or after — is there afterwards.
func TestMultiPostgresRestart(t *testing.T) {
	t.Parallel()
	srv := pgtest.New(t)
	c := startInstances(t, 2, srv.Database(t), 0)
	led := newLedger()
	var up atomic.Bool
	var unavailable, sinceUp, done atomic.Int64
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			base := c.nodes[w%2].base
			for i := range 3000 {
				began := time.Now()
				st, h := session(led, base, fmt.Sprintf("/w%d-%d", w, i), i%2 == 0)
				if took := time.Since(began); took > 12*time.Second {
					t.Errorf("worker %d, session %d took %s", w, i, took)
				}
				done.Add(1)
				switch {
				case st == 0:
					if up.Load() && sinceUp.Add(1) >= 40 {
						return
					}
				case st == http.StatusServiceUnavailable:
					unavailable.Add(1)
					if h.Get("Retry-After") == "" {
						t.Errorf("503 without Retry-After")
					}
					time.Sleep(20 * time.Millisecond) // no busy loop while down
				default:
					t.Errorf("worker %d, session %d: %d (want success or 503)", w, i, st)
				}
			}
		})
	}
	// Under load: stop the database, and start it a second later.
	waitFor(10*time.Second, func() bool { return done.Load() >= 40 })
	srv.Stop(t)
	time.Sleep(time.Second)
	srv.Start(t)
	up.Store(true)
	wg.Wait()
	if !up.Load() || sinceUp.Load() < 40 {
		t.Fatalf("writes did not succeed again after PostgreSQL came back (%d sessions since)", sinceUp.Load())
	}
	if unavailable.Load() == 0 {
		t.Error("no request saw the database down")
	}
	t.Logf("%d answers 503 while PostgreSQL was down", unavailable.Load())
	led.verify(t, c.nodes[0].base, c.dir)
	led.verify(t, c.nodes[1].base, c.dir)
}
