package state

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLockCaps: CreateLock enforces Caps.PerRoot and Caps.PerUser
// atomically: of many concurrent requests exactly the cap succeed, the
// others fail with ErrTooManyLocks; expired and removed locks stop
// counting; the caps are never stored.
func TestLockCaps(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		race := func(n int, mk func(i int) Lock) (ok, refused int) {
			var okN, refusedN atomic.Int64
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					_, err := s.CreateLock(ctx, mk(i))
					switch {
					case err == nil:
						okN.Add(1)
					case errors.Is(err, ErrTooManyLocks):
						refusedN.Add(1)
					default:
						t.Error(err)
					}
				})
			}
			wg.Wait()
			return int(okN.Load()), int(refusedN.Load())
		}

		// Per root: shared locks on one path, from different users.
		perRoot := LockCaps{PerRoot: 4}
		ok, refused := race(20, func(i int) Lock {
			return Lock{Root: "/r", Shared: true, User: fmt.Sprint("u", i), Caps: perRoot}
		})
		if ok != 4 || refused != 16 {
			t.Fatalf("per root: %d created, %d refused; want 4 and 16", ok, refused)
		}
		// Another path is not affected.
		if _, err := s.CreateLock(ctx, Lock{Root: "/other", Shared: true, Caps: perRoot}); err != nil {
			t.Fatal(err)
		}

		// Per user: locks on different paths by one user.
		perUser := LockCaps{PerUser: 3}
		ok, refused = race(12, func(i int) Lock {
			return Lock{Root: fmt.Sprint("/u/", i), User: "alice", Caps: perUser}
		})
		if ok != 3 || refused != 9 {
			t.Fatalf("per user: %d created, %d refused; want 3 and 9", ok, refused)
		}
		if _, err := s.CreateLock(ctx, Lock{Root: "/u/bob", User: "bob", Caps: perUser}); err != nil {
			t.Fatalf("another user is refused: %v", err)
		}

		// Unlocking frees a place; the caps are not in what comes back.
		held, err := s.LocksBelow(ctx, "/u")
		if err != nil {
			t.Fatal(err)
		}
		var token string
		for _, l := range held {
			if l.Caps != (LockCaps{}) {
				t.Errorf("a returned lock carries caps %+v", l.Caps)
			}
			if l.User == "alice" {
				token = l.Token
			}
		}
		if err := s.Unlock(ctx, token); err != nil {
			t.Fatal(err)
		}
		l, err := s.CreateLock(ctx, Lock{Root: "/u/again", User: "alice", Timeout: time.Millisecond, Caps: perUser})
		if err != nil {
			t.Fatalf("after an unlock: %v", err)
		}
		if l.Caps != (LockCaps{}) {
			t.Errorf("CreateLock returned caps %+v", l.Caps)
		}
		// An expired lock no longer counts.
		time.Sleep(5 * time.Millisecond)
		if _, err := s.CreateLock(ctx, Lock{Root: "/u/later", User: "alice", Caps: perUser}); err != nil {
			t.Fatalf("after a lock expired: %v", err)
		}
		if _, err := s.CreateLock(ctx, Lock{Root: "/u/more", User: "alice", Caps: perUser}); !errors.Is(err, ErrTooManyLocks) {
			t.Fatalf("a fourth live lock: %v, want ErrTooManyLocks", err)
		}
	})
}
