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
// at a client's first failure. A password check about to run reserves one
// of the client's attempts first, and the reservation counts as a failure
// until the check succeeds and releases it: however many requests a client
// sends at once, at most max of its wrong passwords are checked per
// window. A right password gives its attempt back, so that signing in is
// never counted as failing; by then the client has the account anyway.
type throttle struct {
	max    int
	window time.Duration

	mu      sync.Mutex
	clients map[string]*failures
}

// failures is one client's window. count includes reservations still
// being checked.
type failures struct {
	count int
	start time.Time
}

func newThrottle(max int, window time.Duration) *throttle {
	return &throttle{max: max, window: window, clients: map[string]*failures{}}
}

// blocked reports whether client has used up its attempts, and how long
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

// reservation is an attempt reserved by reserve; the zero value, which
// reserve returns when throttling is off, releases nothing.
type reservation struct {
	client string
	f      *failures
}

// reserve takes one of client's attempts, which counts as a failure until
// it is released. When none is left it returns false and how long until
// the window ends.
func (t *throttle) reserve(client string, now time.Time) (reservation, time.Duration, bool) {
	if t.max == 0 {
		return reservation{}, 0, true
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
	if f.count >= t.max {
		return reservation{}, f.start.Add(t.window).Sub(now), false
	}
	f.count++
	return reservation{client, f}, 0, true
}

// release gives back an attempt whose password was right. A client left
// with no failures loses its window, so that its next failure starts a
// new one. An attempt from a window that has since ended (or been swept)
// has nothing to give back.
func (t *throttle) release(r reservation) {
	if r.f == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.clients[r.client] != r.f || r.f.count == 0 {
		return
	}
	r.f.count--
	if r.f.count == 0 {
		delete(t.clients, r.client)
	}
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
