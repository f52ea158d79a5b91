package processing

import (
	"context"
	"sync"
	"testing"
)

func TestProgressHeader(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name                     string
		res, totalRes, n, totalN int64
		cur                      string
		want                     string
	}{
		{"known totals", 1200, 100000, 1228800, 102400000, "/tree/d03/file-0042.txt",
			`1200/100000 "/tree/d03/file-0042.txt" 1228800/102400000 (bytes)`},
		{"unknown totals", 1200, 0, 1228800, 0, "/x", `1200/ "/x" 1228800/ (bytes)`},
		{"one total known", 3, 20, 8020, 0, "/x", `3/20 "/x" 8020/ (bytes)`},
		{"quotes and backslashes", 1, 0, 0, 0, `/a "b"\c`, `1/ "/a \"b\"\\c" 0/ (bytes)`},
		{"control characters", 1, 0, 0, 0, "/a\r\nb\x7f\tc", `1/ "/a%0D%0Ab%7F` + "\t" + `c" 0/ (bytes)`},
		{"utf-8 kept", 1, 0, 0, 0, "/ü", `1/ "/ü" 0/ (bytes)`},
		{"empty path", 0, 0, 512, 1024, "", `0/ 512/1024 (bytes)`},
	} {
		p := new(Progress)
		p.SetTotal(tt.totalRes, tt.totalN)
		for range tt.res {
			p.AddResource(tt.cur)
		}
		p.AddBytes(tt.n)
		if got := p.Header(); got != tt.want {
			t.Errorf("%s: Header() = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestProgressCounts(t *testing.T) {
	t.Parallel()
	p := new(Progress)
	if v := p.interimValue(); v != "" {
		t.Errorf("interimValue with nothing recorded = %q, want empty", v)
	}
	p.AddBytes(10)
	p.AddBytes(-5) // numerators never decrease
	p.AddBytes(0)
	p.AddResource("/a")
	p.AddResource("/b")
	p.SetTotal(-1, 40)
	res, totalRes, n, totalN, cur := p.Snapshot()
	if res != 2 || totalRes != 0 || n != 10 || totalN != 40 || cur != "/b" {
		t.Errorf("Snapshot = %d %d %d %d %q", res, totalRes, n, totalN, cur)
	}
	if v := p.interimValue(); v != `2/ "/b" 10/40 (bytes)` {
		t.Errorf("interimValue = %q", v)
	}
}

func TestProgressNil(t *testing.T) {
	t.Parallel()
	var p *Progress
	p.AddResource("/a")
	p.AddBytes(1)
	p.SetTotal(1, 1)
	if res, tr, n, tn, cur := p.Snapshot(); res+tr+n+tn != 0 || cur != "" {
		t.Error("nil Snapshot not zero")
	}
	if p.Header() != "" || p.interimValue() != "" {
		t.Error("nil Header not empty")
	}
	if FromContext(context.Background()) != nil {
		t.Error("FromContext without Progress is not nil")
	}
	FromContext(context.Background()).AddResource("/ignored") // the documented nil-safe call chain
}

func TestProgressContext(t *testing.T) {
	t.Parallel()
	p := new(Progress)
	if got := FromContext(WithProgress(context.Background(), p)); got != p {
		t.Errorf("FromContext = %p, want %p", got, p)
	}
}

// TestProgressConcurrent lets the race detector check the locking.
func TestProgressConcurrent(t *testing.T) {
	t.Parallel()
	p := new(Progress)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				p.AddResource("/x")
				p.AddBytes(2)
				_ = p.Header()
			}
		})
	}
	wg.Wait()
	if res, _, n, _, _ := p.Snapshot(); res != 4000 || n != 8000 {
		t.Errorf("Snapshot = %d resources %d bytes, want 4000 8000", res, n)
	}
}
