package pathlock

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestConflict(t *testing.T) {
	t.Parallel()
	x := func(p string) Claim { return Claim{Path: p} }
	deep := func(p string) Claim { return Claim{Path: p, Deep: true} }
	shared := func(p string) Claim { return Claim{Path: p, Shared: true} }
	cases := []struct {
		a, b Claim
		want bool
	}{
		{x("/a"), x("/a"), true},
		{x("/a"), x("/b"), false},
		{x("/a"), x("/a/b"), false},
		{deep("/a"), x("/a/b"), true},
		{x("/a/b"), deep("/a"), true},
		{deep("/a"), x("/ab"), false},
		{deep("/"), x("/z"), true},
		{shared("/a"), shared("/a"), false},
		{shared("/a"), x("/a"), true},
		{Claim{Path: "/a", Deep: true, Shared: true}, x("/a/b/c"), true},
		{Claim{Path: "/a", Deep: true, Shared: true}, shared("/a/b"), false},
	}
	for _, c := range cases {
		if got := Conflict(c.a, c.b); got != c.want {
			t.Errorf("Conflict(%+v, %+v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// TestExclusion runs many goroutines claiming overlapping paths and checks
// that no two conflicting claims are ever held together.
func TestExclusion(t *testing.T) {
	t.Parallel()
	var m Manager
	paths := []Claim{
		{Path: "/d", Deep: true}, {Path: "/d/a"}, {Path: "/d/b"}, {Path: "/d", Shared: true},
		{Path: "/d/a", Shared: true}, {Path: "/e"}, {Path: "/", Deep: true, Shared: true},
	}
	var mu sync.Mutex
	holding := map[int]Claim{}
	var violations atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				c := paths[(g*7+i)%len(paths)]
				release, err := m.Acquire(context.Background(), c)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, o := range holding {
					if Conflict(c, o) {
						violations.Add(1)
					}
				}
				holding[g] = c
				mu.Unlock()
				time.Sleep(time.Microsecond)
				mu.Lock()
				delete(holding, g)
				mu.Unlock()
				release()
			}
		})
	}
	wg.Wait()
	if v := violations.Load(); v != 0 {
		t.Fatalf("%d conflicting claims were held together", v)
	}
	if n := m.Held(); n != 0 {
		t.Fatalf("%d entries still held", n)
	}
}

// TestFairness: an exclusive claim waiting behind a shared one is not
// overtaken by shared claims that arrive after it.
func TestFairness(t *testing.T) {
	t.Parallel()
	var m Manager
	ctx := context.Background()
	r1, _ := m.Acquire(ctx, Claim{Path: "/d", Shared: true})
	got := make(chan string, 2)
	go func() {
		r, _ := m.Acquire(ctx, Claim{Path: "/d"})
		got <- "exclusive"
		r()
	}()
	waitQueued(t, &m, 1)
	go func() {
		r, _ := m.Acquire(ctx, Claim{Path: "/d", Shared: true})
		got <- "shared"
		r()
	}()
	waitQueued(t, &m, 2)
	r1()
	if first := <-got; first != "exclusive" {
		t.Fatalf("%s was granted first; the exclusive claim arrived earlier", first)
	}
	<-got
}

// TestCancel: a waiter whose context ends gives up holding nothing, and
// does not block those behind it.
func TestCancel(t *testing.T) {
	t.Parallel()
	var m Manager
	r1, _ := m.Acquire(context.Background(), Claim{Path: "/a"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := m.Acquire(ctx, Claim{Path: "/a", Deep: true})
		done <- err
	}()
	waitQueued(t, &m, 1)
	cancel()
	if err := <-done; err == nil {
		t.Fatal("a cancelled Acquire succeeded")
	}
	r1()
	r2, err := m.Acquire(context.Background(), Claim{Path: "/a/b"})
	if err != nil {
		t.Fatal(err)
	}
	r2()
	if m.Held() != 0 {
		t.Fatal("entries left held")
	}
}

func waitQueued(t *testing.T, m *Manager, n int) {
	t.Helper()
	for range 2000 {
		m.mu.Lock()
		q := len(m.queue)
		m.mu.Unlock()
		if q >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("never saw %d waiters", n)
}
