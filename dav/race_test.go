package dav

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"davd/storage"
)

// These tests release racing requests together and repeat enough rounds
// to show the failures an outside fault run found before the path locks
// (claims.go): a LOCK wiping a PUT, a lock erased by a DELETE, a PUT
// committing under a lock granted after it started, MOVEs onto one
// destination leaving it parked, and double exclusive grants.

const exclusiveLock = `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>race</D:owner></D:lockinfo>`

// together runs each function in its own goroutine, released at once, and
// waits for all of them.
func together(fns ...func()) {
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

// TestRaceLockNullPut: a LOCK of an unmapped URL and a PUT of it, released
// together. Whatever the order, an acknowledged PUT's content stays, and
// only one of them may claim to have created the resource.
func TestRaceLockNullPut(t *testing.T) {
	t.Parallel()
	dir, base := dirServer(t, Config{})
	lost, both := 0, 0
	for i := range 150 {
		name := fmt.Sprintf("/f%d", i)
		body := fmt.Sprintf("content %d", i)
		var put, lock response
		together(
			func() { put = do(t, "PUT", base+name, nil, body) },
			func() { lock = do(t, "LOCK", base+name, nil, exclusiveLock) },
		)
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if put.status/100 == 2 && string(got) != body {
			lost++
		}
		if put.status == http.StatusCreated && lock.status == http.StatusCreated {
			both++
		}
		if put.status/100 != 2 && put.status != http.StatusLocked {
			t.Fatalf("round %d: PUT = %d %s", i, put.status, put.body)
		}
		if lock.status/100 != 2 {
			t.Fatalf("round %d: LOCK = %d %s", i, lock.status, lock.body)
		}
	}
	if lost > 0 || both > 0 {
		t.Fatalf("of 150 rounds: %d acknowledged PUTs lost their content, %d times both created the resource", lost, both)
	}
}

// TestRaceLockDelete: a lock granted while a DELETE of the same path runs
// must last: a PUT without its token is refused afterwards.
func TestRaceLockDelete(t *testing.T) {
	t.Parallel()
	_, base := dirServer(t, Config{})
	vanished, busy := 0, 0
	defer func() {
		if busy > 50 {
			t.Errorf("%d of 100 LOCKs refused as busy: the race was hardly exercised", busy)
		}
	}()
	for i := range 100 {
		name := fmt.Sprintf("/d%d", i)
		do(t, "MKCOL", base+name, nil, "")
		for j := range 5 {
			do(t, "PUT", fmt.Sprintf("%s%s/m%d", base, name, j), nil, "x")
		}
		var lock response
		together(
			func() { do(t, "DELETE", base+name, nil, "") },
			func() { lock = do(t, "LOCK", base+name, nil, exclusiveLock) },
		)
		// A LOCK that waited for the DELETE, a journaled operation,
		// longer than a moment is refused with 423 naming it: nothing
		// was granted, so nothing can vanish.
		if lock.status == http.StatusLocked && strings.Contains(lock.body, "DELETE of") {
			busy++
			continue
		}
		if lock.status/100 != 2 {
			t.Fatalf("round %d: LOCK = %d %s", i, lock.status, lock.body)
		}
		put := do(t, "PUT", base+name, nil, "intruder")
		if put.status/100 == 2 {
			vanished++
		}
	}
	if vanished > 0 {
		t.Fatalf("in %d of 100 rounds a granted lock vanished: a PUT without its token succeeded", vanished)
	}
}

// TestSlowPutUnderNewLock: a PUT whose body is still arriving when
// another client locks the file must not commit once it has arrived.
func TestSlowPutUnderNewLock(t *testing.T) {
	t.Parallel()
	dir, base := dirServer(t, Config{})
	do(t, "PUT", base+"/f", nil, "original")
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("PUT", base+"/f", pr)
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
	time.Sleep(50 * time.Millisecond) // the PUT is past its first checks
	lock := do(t, "LOCK", base+"/f", nil, exclusiveLock)
	if lock.status != http.StatusOK {
		t.Fatalf("LOCK = %d %s", lock.status, lock.body)
	}
	pw.Write([]byte("content"))
	pw.Close()
	if st := <-putDone; st != http.StatusLocked {
		t.Fatalf("the PUT begun before the LOCK answered %d once its body arrived, want 423", st)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "f")); string(got) != "original" {
		t.Fatalf("the locked file changed under its holder: %q", got)
	}
}

// TestRaceMovesOntoOneDestination: MOVEs of three sources onto one
// existing destination, released together. The destination ends as one
// of the sources, and nothing hidden is left behind.
func TestRaceMovesOntoOneDestination(t *testing.T) {
	t.Parallel()
	t.Run("exchange", func(t *testing.T) {
		t.Parallel()
		dir, base := dirServer(t, Config{})
		racingMoves(t, dir, base, 40)
	})
	t.Run("parking", func(t *testing.T) {
		// Storage that cannot exchange names, slowed down so that the
		// requests overlap.
		t.Parallel()
		dir, base := slowDirServer(t, 200*time.Microsecond)
		racingMoves(t, dir, base, 40)
	})
}

// slowDirServer serves a fresh directory through os.Root, every storage
// call delayed by delay: the windows between a request's steps widen as
// they do on slow storage.
func slowDirServer(t *testing.T, delay time.Duration) (dir, base string) {
	t.Helper()
	dir, rfs := tempRoot(t)
	return dir, testServer(t, storage.LatencyFs{Fs: rfs, Delay: delay}, Config{}).URL
}

func racingMoves(t *testing.T, dir, base string, rounds int) {
	for i := range rounds {
		d := fmt.Sprintf("/r%d", i)
		do(t, "MKCOL", base+d, nil, "")
		do(t, "MKCOL", base+d+"/dst", nil, "")
		do(t, "PUT", base+d+"/dst/old", nil, "old")
		var fns []func()
		for j := range 4 {
			src := fmt.Sprintf("%s/src%d", d, j)
			do(t, "MKCOL", base+src, nil, "")
			do(t, "PUT", base+src+"/x", nil, src)
			fns = append(fns, func() {
				do(t, "MOVE", base+src, map[string]string{"Destination": base + d + "/dst"}, "")
			})
		}
		together(fns...)
		entries, err := os.ReadDir(filepath.Join(dir, d))
		if err != nil {
			t.Fatal(err)
		}
		var left []string
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".davd-tmp-") {
				left = append(left, e.Name())
			}
		}
		if len(left) > 0 {
			t.Fatalf("round %d: hidden entries left behind: %v", i, left)
		}
		got, err := os.ReadFile(filepath.Join(dir, d, "dst", "x"))
		if err != nil || !strings.HasPrefix(string(got), d+"/src") {
			t.Fatalf("round %d: destination holds %q (%v), want one of the sources", i, got, err)
		}
		if _, err := os.Stat(filepath.Join(dir, d, "dst", "old")); err == nil {
			t.Fatalf("round %d: the old destination's member survived into the new one", i)
		}
	}
}

// TestMixedLoadLocks: clients lock, write with their token, check and
// unlock, while others write without a token. No exclusive lock is ever
// granted twice, and no file changes under its holder.
func TestMixedLoadLocks(t *testing.T) {
	t.Parallel()
	_, base := slowDirServer(t, 200*time.Microsecond)
	const files, clients, rounds = 3, 12, 40
	for f := range files {
		do(t, "PUT", fmt.Sprintf("%s/m%d", base, f), nil, "start")
	}
	var holders [files]atomic.Int32
	var doubles, changed, unlocked atomic.Int64
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := range rounds {
				f := (c + i) % files
				url := fmt.Sprintf("%s/m%d", base, f)
				switch (c + i) % 4 {
				case 0:
					// A writer without a token: refused while locked.
					do(t, "PUT", url, nil, fmt.Sprintf("anon %d %d", c, i))
					continue
				case 1:
					// So is a DELETE, which must not erase the lock.
					do(t, "DELETE", url, nil, "")
					do(t, "PUT", url, nil, "recreated")
					continue
				}
				lock := do(t, "LOCK", url, map[string]string{"Timeout": "Second-60"}, exclusiveLock)
				if lock.status/100 != 2 {
					continue
				}
				if holders[f].Add(1) > 1 {
					doubles.Add(1)
				}
				token := lock.header.Get("Lock-Token")
				mine := fmt.Sprintf("holder %d %d", c, i)
				if put := do(t, "PUT", url, map[string]string{"If": "(" + token + ")"}, mine); put.status/100 != 2 {
					t.Errorf("PUT with the token = %d %s", put.status, put.body)
				}
				time.Sleep(2 * time.Millisecond)
				if got := do(t, "GET", url, nil, ""); got.body != mine {
					changed.Add(1)
				}
				holders[f].Add(-1)
				if u := do(t, "UNLOCK", url, map[string]string{"Lock-Token": token}, ""); u.status != http.StatusNoContent {
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
