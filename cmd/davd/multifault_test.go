package main

// Faults of a deployment of several instances on PostgreSQL: an instance
// killed with SIGKILL mid-session, and the database restarted under load.

import (
	"davd/storage"
	"fmt"
	"math/rand/v2"
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

// TestMultiStartDuringCopy starts a second instance while the first one
// copies a tree whose files all have a property. The starting instance
// recovers the operations a crash interrupted; it must leave alone those
// another instance is still running: every file of the finished copy has
// its property, and the source keeps its own.
func TestMultiStartDuringCopy(t *testing.T) {
	t.Parallel()
	// Every storage call of the first instance takes 10ms: the COPY of
	// 36 files lasts seconds.
	c := startInstances(t, 1, "", 0)
	names := crashTree(t, c.nodes[0].base, false)
	slow := spawnDavd(t, "file://"+c.dir+"?latency=10ms", "--state", c.state)
	copied := make(chan int, 1)
	go func() {
		st, _, _ := sendReq("COPY", slow.base+"/src", map[string]string{"Destination": slow.base + "/dst"}, "")
		copied <- st
	}()
	time.Sleep(500 * time.Millisecond) // the COPY is under way
	late := spawnDavd(t, c.dir, "--state", c.state)
	select {
	case st := <-copied:
		if st != http.StatusCreated {
			t.Fatalf("COPY = %d", st)
		}
		t.Log("the second instance was up before the COPY ended")
	case <-time.After(30 * time.Second):
		t.Fatal("the COPY did not end")
	}
	for _, name := range names {
		want := "/src-" + strings.TrimPrefix(name, "/src")
		if got, _ := origin(t, late.base, name); got != want {
			t.Errorf("%s: property %q, want %q", name, got, want)
		}
		dst := "/dst" + strings.TrimPrefix(name, "/src")
		if got, _ := origin(t, late.base, dst); got != want {
			t.Errorf("copy %s: property %q, want %q", dst, got, want)
		}
	}
}

// TestMultiCrashMidOperation is TestCrashKeepsStateInStep on PostgreSQL
// state with a second instance running throughout: one instance (on slow
// storage) is killed at a random point of a DELETE, COPY or MOVE of a tree whose
// files all carry a property; another instance is started on the same
// state, which recovers the interrupted operation, and the checks of the
// crash test hold through it and through the instance that never
// stopped.
func TestMultiCrashMidOperation(t *testing.T) {
	t.Parallel()
	for _, op := range []string{"DELETE", "COPY", "MOVE"} {
		t.Run(op, func(t *testing.T) {
			t.Parallel()
			outcomes := map[string]int{}
			for trial := range 3 {
				// The victim's storage calls take 2ms each: the
				// operation lasts a few hundred milliseconds, and the
				// kill falls anywhere in it.
				c := startInstances(t, 1, "", 0)
				survivor := c.nodes[0]
				victim := spawnDavd(t, "file://"+c.dir+"?latency=2ms", "--state", c.state)
				names := crashTree(t, survivor.base, op != "DELETE")
				st, hdr, body := sendReq("LOCK", survivor.base+lockedMember, map[string]string{"Depth": "0"}, raceLockXML)
				if st != http.StatusOK {
					t.Fatalf("LOCK = %d %s", st, body)
				}
				h := map[string]string{"If": "<" + victim.base + lockedMember + "> (" + hdr.Get("Lock-Token") + ")", "Overwrite": "T"}
				if op != "DELETE" {
					h["Destination"] = victim.base + "/dst"
				}
				finished := make(chan int, 1)
				go func() {
					st, _, _ := sendReq(op, victim.base+"/src", h, "")
					finished <- st
				}()
				time.Sleep(time.Duration(rand.IntN(400)) * time.Millisecond)
				victim.kill()
				<-finished
				restartAt := time.Now()
				restarted := spawnDavd(t, c.dir, "--state", c.state)
				// The new instance removes what the killed one left
				// under reserved names in the background, at the
				// lowest CPU and I/O priority, which a busy machine can
				// starve: wait a while for it. Leftovers older than the
				// restart are the crash's, which that sweep (tested by
				// the crash tests) removes in time; anything newer is
				// reported by the checks below.
				leftovers := func() []string {
					var left []string
					filepath.WalkDir(c.dir, func(p string, e os.DirEntry, err error) error {
						if err == nil && strings.HasPrefix(e.Name(), ".davd-tmp-") {
							left = append(left, p)
						}
						return nil
					})
					return left
				}
				if !waitFor(10*time.Second, func() bool { return len(leftovers()) == 0 }) {
					for _, p := range leftovers() {
						if fi, err := os.Lstat(p); err == nil && storage.ChangeTime(fi).Before(restartAt) {
							t.Logf("trial %d: the sweep has not yet removed %s, left by the crash", trial, p)
							os.RemoveAll(p)
						}
					}
				}
				outcomes[checkCrashState(t, restarted.base, c.dir, op, names, trial)]++
				// The instance that never stopped sees the same.
				for _, name := range names[:6] {
					a, _ := origin(t, restarted.base, name)
					b, _ := origin(t, survivor.base, name)
					if a != b {
						t.Errorf("trial %d: %s: property %q on the restarted instance, %q on the other", trial, name, a, b)
					}
				}
			}
			t.Logf("%s: tree after the crash: %v", op, outcomes)
		})
	}
}
