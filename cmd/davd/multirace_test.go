package main

// The race tests of dav/race_test.go with their racing requests sent to
// two different davd instances sharing one directory and one PostgreSQL
// state, and a lock race through both instances at once: the path locks
// and lock conflicts hold across processes, not only within one.

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const raceLockXML = `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>race</D:owner></D:lockinfo>`

// allAtOnce runs each function in its own goroutine, released at once,
// and waits for all of them.
func allAtOnce(fns ...func()) {
	var start, done sync.WaitGroup
	start.Add(1)
	for _, fn := range fns {
		done.Go(func() {
			start.Wait()
			fn()
		})
	}
	start.Done()
	done.Wait()
}

// pair returns the instances' base URLs in an order that alternates with
// round: the racing requests swap instances each round.
func (c *cluster) pair(round int) (string, string) {
	a, b := c.nodes[0].base, c.nodes[1].base
	if round%2 == 1 {
		return b, a
	}
	return a, b
}

// TestMultiRaceLockNullPut: a PUT of an unmapped URL on one instance and
// a LOCK of it on the other, released together: an acknowledged PUT's
// content stays, and only one of them claims to have created it.
func TestMultiRaceLockNullPut(t *testing.T) {
	t.Parallel()
	c := startInstances(t, 2, "", 0)
	lost, both := 0, 0
	for i := range 100 {
		a, b := c.pair(i)
		name := fmt.Sprintf("/f%d", i)
		body := fmt.Sprintf("content %d", i)
		var put, lock int
		var putBody, lockBody string
		allAtOnce(
			func() { put, _, putBody = sendReq("PUT", a+name, nil, body) },
			func() { lock, _, lockBody = sendReq("LOCK", b+name, nil, raceLockXML) },
		)
		got, err := os.ReadFile(filepath.Join(c.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if put/100 == 2 && string(got) != body {
			lost++
		}
		if put == http.StatusCreated && lock == http.StatusCreated {
			both++
		}
		if put/100 != 2 && put != http.StatusLocked {
			t.Fatalf("round %d: PUT = %d %s", i, put, putBody)
		}
		if lock/100 != 2 {
			t.Fatalf("round %d: LOCK = %d %s", i, lock, lockBody)
		}
	}
	if lost > 0 || both > 0 {
		t.Fatalf("of 100 rounds: %d acknowledged PUTs lost their content, %d times both created the resource", lost, both)
	}
}

// TestMultiRaceLockDelete: a lock granted on one instance while a DELETE
// of the same path runs on the other must last: a PUT without its token
// is refused afterwards, on either instance.
func TestMultiRaceLockDelete(t *testing.T) {
	t.Parallel()
	c := startInstances(t, 2, "", 0)
	vanished, busy := 0, 0
	defer func() {
		if busy > 30 {
			t.Errorf("%d of 60 LOCKs refused as busy: the race was hardly exercised", busy)
		}
	}()
	for i := range 60 {
		a, b := c.pair(i)
		name := fmt.Sprintf("/d%d", i)
		sendReq("MKCOL", a+name, nil, "")
		for j := range 5 {
			sendReq("PUT", fmt.Sprintf("%s%s/m%d", b, name, j), nil, "x")
		}
		var lock int
		var lockBody string
		allAtOnce(
			func() { sendReq("DELETE", a+name, nil, "") },
			func() { lock, _, lockBody = sendReq("LOCK", b+name, nil, raceLockXML) },
		)
		// A LOCK that waited for the DELETE, a journaled operation,
		// longer than a moment is refused with 423 naming it: nothing
		// was granted, so nothing can vanish.
		if lock == http.StatusLocked && strings.Contains(lockBody, "DELETE of") {
			busy++
			continue
		}
		if lock/100 != 2 {
			t.Fatalf("round %d: LOCK = %d %s", i, lock, lockBody)
		}
		for _, base := range []string{a, b} {
			if put, _, _ := sendReq("PUT", base+name, nil, "intruder"); put/100 == 2 {
				vanished++
			}
		}
	}
	if vanished > 0 {
		t.Fatalf("%d PUTs without the token succeeded after a granted lock: the lock vanished", vanished)
	}
}

// TestMultiSlowPutUnderNewLock: a PUT on one instance whose body is still
// arriving when a client locks the file on the other must not commit.
func TestMultiSlowPutUnderNewLock(t *testing.T) {
	t.Parallel()
	c := startInstances(t, 2, "", 0)
	a, b := c.pair(0)
	sendReq("PUT", a+"/f", nil, "original")
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("PUT", a+"/f", pr)
	req.ContentLength = -1
	putDone := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			putDone <- 0
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		putDone <- resp.StatusCode
	}()
	pw.Write([]byte("half of the new "))
	time.Sleep(100 * time.Millisecond) // the PUT is past its first checks
	if lock, _, body := sendReq("LOCK", b+"/f", nil, raceLockXML); lock != http.StatusOK {
		t.Fatalf("LOCK on the other instance = %d %s", lock, body)
	}
	pw.Write([]byte("content"))
	pw.Close()
	if st := <-putDone; st != http.StatusLocked {
		t.Fatalf("the PUT begun before the LOCK on the other instance answered %d once its body arrived, want 423", st)
	}
	if got, _ := os.ReadFile(filepath.Join(c.dir, "f")); string(got) != "original" {
		t.Fatalf("the locked file changed under its holder: %q", got)
	}
}

// TestMultiRaceMovesOntoOneDestination: MOVEs of four sources onto one
// existing destination, two through each instance, released together,
// on storage slowed down so that they overlap. The destination ends as
// one of the sources, and nothing hidden is left behind.
func TestMultiRaceMovesOntoOneDestination(t *testing.T) {
	t.Parallel()
	c := startInstances(t, 2, "", 200*time.Microsecond)
	for i := range 20 {
		d := fmt.Sprintf("/r%d", i)
		base := c.nodes[0].base
		sendReq("MKCOL", base+d, nil, "")
		sendReq("MKCOL", base+d+"/dst", nil, "")
		sendReq("PUT", base+d+"/dst/old", nil, "old")
		var fns []func()
		for j := range 4 {
			src := fmt.Sprintf("%s/src%d", d, j)
			sendReq("MKCOL", base+src, nil, "")
			sendReq("PUT", base+src+"/x", nil, src)
			via := c.nodes[j%2].base
			fns = append(fns, func() {
				sendReq("MOVE", via+src, map[string]string{"Destination": via + d + "/dst"}, "")
			})
		}
		allAtOnce(fns...)
		entries, err := os.ReadDir(filepath.Join(c.dir, d))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".davd-tmp-") {
				t.Fatalf("round %d: hidden entry left behind: %s", i, e.Name())
			}
		}
		got, err := os.ReadFile(filepath.Join(c.dir, d, "dst", "x"))
		if err != nil || !strings.HasPrefix(string(got), d+"/src") {
			t.Fatalf("round %d: destination holds %q (%v), want one of the sources", i, got, err)
		}
		if _, err := os.Stat(filepath.Join(c.dir, d, "dst", "old")); err == nil {
			t.Fatalf("round %d: the old destination's member survived into the new one", i)
		}
	}
}

// TestMultiMixedLoadLocks: clients on both instances lock, write with
// their token, check and unlock, while others write and delete without a
// token. No exclusive lock is granted twice across the instances, and no
// file changes under its holder.
func TestMultiMixedLoadLocks(t *testing.T) {
	t.Parallel()
	c := startInstances(t, 2, "", 200*time.Microsecond)
	const files, clients, rounds = 3, 12, 30
	for f := range files {
		sendReq("PUT", fmt.Sprintf("%s/m%d", c.nodes[0].base, f), nil, "start")
	}
	var holders [files]atomic.Int32
	var doubles, changed, unlocked, failed atomic.Int64
	var wg sync.WaitGroup
	for cl := range clients {
		wg.Go(func() {
			for i := range rounds {
				f := (cl + i) % files
				// Every step of a round goes to an instance of its own
				// choosing: the lock, the write with its token, the
				// check and the unlock cross instances.
				at := func() string { return fmt.Sprintf("%s/m%d", c.nodes[rand.IntN(2)].base, f) }
				switch (cl + i) % 4 {
				case 0:
					sendReq("PUT", at(), nil, fmt.Sprintf("anon %d %d", cl, i))
					continue
				case 1:
					sendReq("DELETE", at(), nil, "")
					sendReq("PUT", at(), nil, "recreated")
					continue
				}
				st, hdr, _ := sendReq("LOCK", at(), map[string]string{"Timeout": "Second-60"}, raceLockXML)
				if st/100 != 2 {
					continue
				}
				if holders[f].Add(1) > 1 {
					doubles.Add(1)
				}
				token := hdr.Get("Lock-Token")
				mine := fmt.Sprintf("holder %d %d", cl, i)
				if put, _, body := sendReq("PUT", at(), map[string]string{"If": "(" + token + ")"}, mine); put/100 != 2 {
					failed.Add(1)
					t.Errorf("PUT with the token = %d %s", put, body)
				}
				time.Sleep(2 * time.Millisecond)
				if _, _, got := sendReq("GET", at(), nil, ""); got != mine {
					changed.Add(1)
				}
				holders[f].Add(-1)
				if u, _, _ := sendReq("UNLOCK", at(), map[string]string{"Lock-Token": token}, ""); u != http.StatusNoContent {
					unlocked.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if doubles.Load() > 0 || changed.Load() > 0 || unlocked.Load() > 0 {
		t.Fatalf("%d double exclusive grants, %d files changed under their holder, %d UNLOCKs of a granted lock failed",
			doubles.Load(), changed.Load(), unlocked.Load())
	}
}

// TestMultiLockRace: each round, four clients (two on each instance)
// LOCK one resource exclusively, and two clients, one on each instance,
// take Depth-infinity locks on a collection and on a member of it, all
// released together: exactly one of the four wins, and exactly one of
// the two. The winners unlock for the next round. 1,000 rounds (400
// under the race detector).
func TestMultiLockRace(t *testing.T) {
	t.Parallel()
	c := startInstances(t, 2, "", 0)
	base0 := c.nodes[0].base
	sendReq("PUT", base0+"/same", nil, "x")
	sendReq("MKCOL", base0+"/p", nil, "")
	sendReq("MKCOL", base0+"/p/c", nil, "")
	const rounds = lockRaceRounds
	deep := map[string]string{"Depth": "infinity", "Timeout": "Second-60"}
	var bad []string
	began := time.Now()
	for i := range rounds {
		a, b := c.pair(i)
		type grant struct {
			status int
			token  string
			url    string
		}
		same := make([]grant, 4)
		tree := make([]grant, 2)
		var fns []func()
		for k := range same {
			url := []string{a, b}[k%2] + "/same"
			fns = append(fns, func() {
				st, h, _ := sendReq("LOCK", url, map[string]string{"Timeout": "Second-60"}, raceLockXML)
				same[k] = grant{st, h.Get("Lock-Token"), url}
			})
		}
		for k, url := range []string{a + "/p", b + "/p/c"} {
			fns = append(fns, func() {
				st, h, _ := sendReq("LOCK", url, deep, raceLockXML)
				tree[k] = grant{st, h.Get("Lock-Token"), url}
			})
		}
		allAtOnce(fns...)
		var unlocks []func()
		for name, gs := range map[string][]grant{"/same": same, "/p and /p/c": tree} {
			won := 0
			var statuses []int
			for _, g := range gs {
				statuses = append(statuses, g.status)
				switch g.status {
				case http.StatusOK:
					won++
					unlocks = append(unlocks, func() {
						if u, _, body := sendReq("UNLOCK", g.url, map[string]string{"Lock-Token": g.token}, ""); u != http.StatusNoContent {
							t.Errorf("round %d: UNLOCK of %s = %d %s", i, g.url, u, body)
						}
					})
				case http.StatusLocked:
				default:
					t.Fatalf("round %d: LOCK of %s = %d", i, g.url, g.status)
				}
			}
			if won != 1 {
				bad = append(bad, fmt.Sprintf("round %d, %s: %d winners %v", i, name, won, statuses))
			}
		}
		allAtOnce(unlocks...)
		if t.Failed() {
			t.FailNow()
		}
	}
	t.Logf("%d rounds of 6 racing LOCKs on 2 instances in %s", rounds, time.Since(began).Round(time.Millisecond))
	if len(bad) > 0 {
		t.Fatalf("%d rounds without exactly one winner:\n%s", len(bad), strings.Join(bad[:min(len(bad), 20)], "\n"))
	}
}
