package rest

import (
	"context"
	"math"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"floe/p2p"
)

// Offence points, as p2p counts them per peer (p2p/offences.go), here per
// IP address: a malformed request 1, data failing verification 0.5, a
// refusal for want of slots 0.05; halved every minute.
const (
	offenceInvalid   = 1.0
	offenceBadData   = 0.5
	offenceRefused   = 0.05
	offenceHalfLife  = time.Minute
	clientsPruneAt   = 4096
	clientsIdleAfter = 10 * time.Minute
)

// clients holds the per-IP state: connections, requests in flight, body
// memory, token buckets per route and offence points.
type clients struct {
	cfg    *Config
	mu     sync.Mutex
	m      map[netip.Addr]*client
	mem    int64 // body and answer bytes held by every client
	flight int   // requests in flight, every client
	// changed is closed (and replaced) whenever memory is released, to
	// wake requests waiting for some.
	changed chan struct{}
}

type client struct {
	conns, flight int
	mem           int64
	buckets       [numRoutes]*rate.Limiter
	points        float64
	pointsAt      time.Time
	gatedUntil    time.Time
	last          time.Time
}

func newClients(cfg *Config) *clients {
	return &clients{cfg: cfg, m: map[netip.Addr]*client{}, changed: make(chan struct{})}
}

// get returns ip's state (c.mu held).
func (cs *clients) get(ip netip.Addr, now time.Time) *client {
	c := cs.m[ip]
	if c == nil {
		if len(cs.m) >= clientsPruneAt {
			for k, v := range cs.m {
				if v.conns == 0 && v.flight == 0 && v.mem == 0 && now.Sub(v.last) > clientsIdleAfter && now.After(v.gatedUntil) {
					delete(cs.m, k)
				}
			}
		}
		c = &client{}
		cs.m[ip] = c
	}
	c.last = now
	return c
}

// admit takes a token of route for ip and a slot in flight; done releases
// the slot. why says what refused it: "gated", "rate", "busy".
func (cs *clients) admit(ip netip.Addr, r routeKind, now time.Time) (done func(), why string, retry time.Duration) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c := cs.get(ip, now)
	if now.Before(c.gatedUntil) {
		return nil, "gated", c.gatedUntil.Sub(now)
	}
	if c.buckets[r] == nil {
		c.buckets[r] = rate.NewLimiter(rate.Limit(cs.cfg.RateLimit.Rate), cs.cfg.RateLimit.Burst)
	}
	if !c.buckets[r].AllowN(now, 1) {
		return nil, "rate", time.Second
	}
	if c.flight >= cs.cfg.MaxInFlightPerIP || cs.flight >= cs.cfg.MaxInFlight {
		cs.addPoints(c, offenceRefused, now)
		return nil, "busy", time.Second
	}
	c.flight++
	cs.flight++
	return func() {
		cs.mu.Lock()
		c.flight--
		cs.flight--
		cs.mu.Unlock()
	}, "", 0
}

// offend adds points to ip; past GateAfter it is refused for GatePeriod.
// It reports whether ip was gated now.
func (cs *clients) offend(ip netip.Addr, points float64) bool {
	if points <= 0 || cs.cfg.GateAfter <= 0 || (cs.cfg.Trusted != nil && cs.cfg.Trusted(ip)) {
		return false
	}
	now := time.Now()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c := cs.get(ip, now)
	cs.addPoints(c, points, now)
	if c.points >= cs.cfg.GateAfter {
		c.points = 0
		c.gatedUntil = now.Add(cs.cfg.GatePeriod)
		return true
	}
	return false
}

func (cs *clients) addPoints(c *client, p float64, now time.Time) {
	if !c.pointsAt.IsZero() {
		c.points *= math.Exp2(-now.Sub(c.pointsAt).Seconds() / offenceHalfLife.Seconds())
	}
	c.points += p
	c.pointsAt = now
}

// points returns ip's current offence points (tests).
func (cs *clients) points(ip netip.Addr) float64 {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c := cs.m[ip]
	if c == nil {
		return 0
	}
	return c.points * math.Exp2(-time.Since(c.pointsAt).Seconds()/offenceHalfLife.Seconds())
}

// reserve waits (up to ctx) until n bytes fit in ip's and the server's
// memory budget, and takes them. A single request larger than a budget is
// let through alone (the route's body limit bounds it).
func (cs *clients) reserve(ctx context.Context, ip netip.Addr, n int64) (release func(), err error) {
	if n <= 0 {
		return func() {}, nil
	}
	for {
		cs.mu.Lock()
		c := cs.get(ip, time.Now())
		fitsIP := c.mem == 0 || c.mem+n <= cs.cfg.MemoryPerIP
		fitsAll := cs.mem == 0 || cs.mem+n <= cs.cfg.Memory
		if fitsIP && fitsAll {
			c.mem += n
			cs.mem += n
			cs.mu.Unlock()
			var once sync.Once
			return func() {
				once.Do(func() {
					cs.mu.Lock()
					c.mem -= n
					cs.mem -= n
					close(cs.changed)
					cs.changed = make(chan struct{})
					cs.mu.Unlock()
				})
			}, nil
		}
		ch := cs.changed
		cs.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ch:
		}
	}
}

// usage returns the bytes and requests held (tests and metrics).
func (cs *clients) usage() (mem int64, flight int) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.mem, cs.flight
}

// limitListener caps the connections per IP address: one past the cap is
// closed at once.
type limitListener struct {
	net.Listener
	cs      *clients
	refused func()
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := addrIP(c.RemoteAddr())
		l.cs.mu.Lock()
		st := l.cs.get(ip, time.Now())
		if st.conns >= l.cs.cfg.MaxConnsPerIP || time.Now().Before(st.gatedUntil) {
			l.cs.mu.Unlock()
			l.refused()
			_ = c.Close()
			continue
		}
		st.conns++
		l.cs.mu.Unlock()
		return &countedConn{Conn: c, release: func() {
			l.cs.mu.Lock()
			st.conns--
			l.cs.mu.Unlock()
		}}, nil
	}
}

type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

func addrIP(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(ta.IP); ok {
			return ip.Unmap()
		}
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// allowance is how long a body of n bytes may take: Idle plus n at the
// slowest rate a peer may sustain (the stream protocols' rule).
func allowance(t p2p.Timeouts, n int64) time.Duration {
	return t.Idle + time.Duration(float64(n)/float64(t.MinRate)*float64(time.Second))
}
