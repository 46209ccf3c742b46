package chainlink

import (
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxLimiterKeys bounds the keys (accounts, addresses) a limiter set
// tracks; past it, keys whose bucket is full again are forgotten, and if
// none is, new keys are refused until some are.
const maxLimiterKeys = 1 << 16

// limiters is a token bucket per key.
type limiters struct {
	mu    sync.Mutex
	every time.Duration // < 0: no limit
	burst int
	m     map[string]*rate.Limiter
}

func newLimiters(every time.Duration, burst int) *limiters {
	return &limiters{every: every, burst: burst, m: map[string]*rate.Limiter{}}
}

// allow takes a token of key's bucket.
func (l *limiters) allow(key string, now time.Time) bool {
	if l.every < 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.m[key]
	if lim == nil {
		if len(l.m) >= maxLimiterKeys {
			for k, x := range l.m {
				if x.TokensAt(now) >= float64(l.burst) {
					delete(l.m, k)
				}
			}
			if len(l.m) >= maxLimiterKeys {
				return false
			}
		}
		lim = rate.NewLimiter(rate.Every(l.every), l.burst)
		l.m[key] = lim
	}
	return lim.AllowN(now, 1)
}

// clientIP is the address the request came from: the connection's peer,
// never a header a client can set.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
