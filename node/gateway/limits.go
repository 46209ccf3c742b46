package gateway

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"
)

// clientKey names the client a request or connection comes from for the
// per-client caps: its IPv4 address, or the /64 of its IPv6 address (one
// host usually has a whole /64).
func clientKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// pool is a set of slots for requests of one kind, at most perIP of them
// for one client.
type pool struct {
	name       string
	max, perIP int

	mu   sync.Mutex
	n    int
	byIP map[string]int
}

func newPool(name string, max, perIP int) *pool {
	return &pool{name: name, max: max, perIP: min(perIP, max), byIP: map[string]int{}}
}

// take takes a slot for client key; full says which cap refused it.
func (p *pool) take(key string) (release func(), full string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.byIP[key] >= p.perIP:
		return nil, "client"
	case p.n >= p.max:
		return nil, "gateway"
	}
	p.n++
	p.byIP[key]++
	return sync.OnceFunc(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.n--
		if p.byIP[key]--; p.byIP[key] <= 0 {
			delete(p.byIP, key)
		}
	}), ""
}

// acquire takes a slot of p for the client of r, or answers 429.
func (g *Gateway) acquire(w http.ResponseWriter, r *http.Request, p *pool) (release func(), ok bool) {
	release, full := p.take(clientKey(r.RemoteAddr))
	if release != nil {
		return release, true
	}
	w.Header().Set("Retry-After", "1")
	msg := fmt.Sprintf("the gateway is serving its maximum of %d %s, please retry", p.max, p.name)
	if full == "client" {
		msg = fmt.Sprintf("this client already has its maximum of %d %s in progress, please retry", p.perIP, p.name)
	}
	writeError(w, &apiError{code: http.StatusTooManyRequests, status: StatusResourceExhausted, reason: "TOO_MANY_REQUESTS",
		message: msg, metadata: map[string]any{"pool": p.name, "max_concurrent": p.max, "max_per_client": p.perIP, "limit": full}})
	return nil, false
}

// bodyReader reads a request body under a deadline per window instead of
// one long timeout: every window of `window` must bring at least `min`
// bytes (or the end of the body), else the read fails with errBodyTooSlow.
// A stalled or trickling client is cut off after one window.
type bodyReader struct {
	r      io.Reader
	rc     *http.ResponseController
	window time.Duration
	min    int64

	got      int64 // in this window
	total    int64
	deadline time.Time
	slow     bool
}

var errBodyTooSlow = errors.New("request body arrived too slowly")

func newBodyReader(w http.ResponseWriter, r io.Reader, window time.Duration, minBytes int64) *bodyReader {
	br := &bodyReader{r: r, rc: http.NewResponseController(w), window: window, min: minBytes}
	br.newWindow()
	return br
}

func (br *bodyReader) newWindow() {
	br.got = 0
	br.deadline = time.Now().Add(br.window)
	_ = br.rc.SetReadDeadline(br.deadline)
}

func (br *bodyReader) Read(p []byte) (int, error) {
	if br.slow {
		return 0, errBodyTooSlow
	}
	n, err := br.r.Read(p)
	br.got += int64(n)
	br.total += int64(n)
	if br.got >= br.min {
		br.newWindow()
	}
	if err != nil && (errors.Is(err, os.ErrDeadlineExceeded) || !time.Now().Before(br.deadline)) && !errors.Is(err, io.EOF) {
		br.slow = true
		return n, fmt.Errorf("%w: fewer than %d bytes in %v (%d bytes so far): %w", errBodyTooSlow, br.min, br.window, br.total, err)
	}
	return n, err
}

// connLimiter caps the connections one client holds open on a listener;
// one more is answered 429 and closed. Requests that have not sent their
// headers, or a body's first window, hold no slot, so this cap is what
// bounds the connections (file descriptors, goroutines, buffers) one
// client can keep waiting.
type connLimiter struct {
	net.Listener
	max int

	mu   sync.Mutex
	byIP map[string]int
}

func limitConns(ln net.Listener, max int) *connLimiter {
	return &connLimiter{Listener: ln, max: max, byIP: map[string]int{}}
}

func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := clientKey(c.RemoteAddr().String())
		l.mu.Lock()
		if l.byIP[key] >= l.max {
			l.mu.Unlock()
			go refuseConn(c, l.max)
			continue
		}
		l.byIP[key]++
		l.mu.Unlock()
		return &limitedConn{Conn: c, release: sync.OnceFunc(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.byIP[key]--; l.byIP[key] <= 0 {
				delete(l.byIP, key)
			}
		})}, nil
	}
}

type limitedConn struct {
	net.Conn
	release func()
}

func (c *limitedConn) Close() error {
	c.release()
	return c.Conn.Close()
}

// refuseConn answers 429 on a connection over the per-client cap, without
// reading its request, and closes it.
func refuseConn(c net.Conn, max int) {
	defer c.Close()
	body := fmt.Sprintf(`{"error":{"code":429,"status":%q,"message":"this client already has its maximum of %d connections open",`+
		`"details":[{"@type":"ErrorInfo","reason":"TOO_MANY_REQUESTS","domain":%q,"metadata":{"max_connections_per_client":%d}}]}}`+"\n",
		StatusResourceExhausted, max, ErrorDomain, max)
	_ = c.SetDeadline(time.Now().Add(time.Second))
	_, _ = io.WriteString(c, "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"+
		"Connection: close\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
}

// inUse is the slots taken now.
func (p *pool) inUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}
