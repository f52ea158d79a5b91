package auth

import (
	"net/netip"
	"sync"
	"time"
)

// maxClients bounds the failure records kept; beyond it expired records
// are swept, then arbitrary ones dropped.
const maxClients = 1 << 16

// throttle counts failed sign-ins per client in fixed windows that start
// at a client's first failure.
type throttle struct {
	max    int
	window time.Duration

	mu      sync.Mutex
	clients map[string]*failures
}

type failures struct {
	count int
	start time.Time
}

func newThrottle(max int, window time.Duration) *throttle {
	return &throttle{max: max, window: window, clients: map[string]*failures{}}
}

// blocked reports whether client has used up its failures, and how long
// until its window ends.
func (t *throttle) blocked(client string, now time.Time) (time.Duration, bool) {
	if t.max == 0 {
		return 0, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.clients[client]
	if f == nil {
		return 0, false
	}
	end := f.start.Add(t.window)
	if !now.Before(end) {
		delete(t.clients, client)
		return 0, false
	}
	return end.Sub(now), f.count >= t.max
}

// fail records a failed sign-in of client.
func (t *throttle) fail(client string, now time.Time) {
	if t.max == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.clients[client]
	if f == nil || !now.Before(f.start.Add(t.window)) {
		if len(t.clients) >= maxClients {
			t.sweep(now)
		}
		f = &failures{start: now}
		t.clients[client] = f
	}
	f.count++
}

func (t *throttle) sweep(now time.Time) {
	for k, f := range t.clients {
		if !now.Before(f.start.Add(t.window)) {
			delete(t.clients, k)
		}
	}
	for k := range t.clients {
		if len(t.clients) < maxClients {
			break
		}
		delete(t.clients, k)
	}
}

// clientKey is what failures are counted against: the client's IP
// address, or for IPv6 its /64, which one machine usually has whole.
func clientKey(remoteAddr string) string {
	var ip netip.Addr
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		ip = ap.Addr()
	} else if a, err := netip.ParseAddr(remoteAddr); err == nil {
		ip = a // already resolved by dav.ClientAddr: no port
	} else {
		return remoteAddr
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
